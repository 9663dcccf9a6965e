"""The (mel, audio) pipeline: shapes, determinism, real slices, bad files, both engines, fit."""

import logging
import math
import os
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf

from keras_waveglow import WaveGlow
from keras_waveglow.audio import load_audio, mel_spectrogram
from keras_waveglow.data import AudioPyDataset, make_dataset
from keras_waveglow.data import pipeline as pipeline_lib

DATA = Path(__file__).resolve().parents[1] / "data"
AWB = DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav"
SLT = DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav"


def batches(dataset, count=None):
    """Batches as NumPy pairs, from either engine."""
    if isinstance(dataset, AudioPyDataset):
        indices = range(len(dataset) if count is None else count)
        return [tuple(np.asarray(x) for x in dataset[i]) for i in indices]
    out = []
    for mel, audio in dataset:
        out.append((mel.numpy(), audio.numpy()))
        if count is not None and len(out) == count:
            break
    return out


@pytest.fixture(scope="module")
def speech_5s(tmp_path_factory):
    """A 5-second 16 kHz speech file (the two bundled utterances joined), 16-bit PCM."""
    awb, _ = load_audio(AWB)
    slt, _ = load_audio(SLT)
    audio = np.concatenate([awb, slt])[: 5 * 16000]
    path = tmp_path_factory.mktemp("speech") / "speech_5s.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path, load_audio(path)[0]


def test_shapes_dtypes_and_model_constraints(speech_5s):
    path, _ = speech_5s
    dataset = make_dataset([path, AWB, SLT], "tiny", batch_size=3, segment_length=8000, seed=1)
    assert dataset.cardinality().numpy() == 1
    ((mel, audio),) = batches(dataset)
    assert mel.shape == (3, 1 + 8000 // 256, 80) and audio.shape == (3, 8000)
    assert mel.dtype == np.float32 and audio.dtype == np.float32
    assert mel.shape[1] * 256 >= audio.shape[1]  # WaveGlow's mel-covers-audio constraint
    spec = dataset.element_spec
    assert tuple(spec[0].shape) == (3, 32, 80) and tuple(spec[1].shape) == (3, 8000)
    # The mel is the library's mel of exactly this audio (float64 paths agree to ~1e-6).
    expected = keras.ops.convert_to_numpy(mel_spectrogram(audio, 16000))
    np.testing.assert_allclose(mel, expected, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of n_group=8"):
        make_dataset([path], "tiny", segment_length=8001)
    with pytest.raises(ValueError, match="split must be one of"):
        make_dataset(DATA, "tiny", split="test")


def test_segments_are_real_slices_of_a_5_second_file(speech_5s):
    path, audio = speech_5s
    assert len(audio) == 80000
    dataset = make_dataset([path] * 6, "tiny", batch_size=6, segment_length=16000, seed=3)
    ((_, segments),) = batches(dataset)
    heads = np.lib.stride_tricks.sliding_window_view(audio, 64)
    starts = []
    for segment in segments:
        candidates = np.flatnonzero((heads == segment[:64]).all(axis=1))
        # A bit-exact slice of the file (no augmentation asked): some start matches it all.
        matches = [s for s in candidates if np.array_equal(audio[s : s + 16000], segment)]
        assert len(matches) >= 1
        starts.append(int(matches[0]))
    assert len(set(starts)) > 1  # random offsets, not always the start


def test_same_seed_same_batches_and_epochs_differ():
    def build(seed, **kwargs):
        return make_dataset(
            [AWB, SLT, AWB, SLT], "tiny", batch_size=2, segment_length=4096, seed=seed, **kwargs
        )

    first, second = batches(build(7)), batches(build(7))
    for (m1, a1), (m2, a2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(m1, m2)
    other = batches(build(8))
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(first, other, strict=True))
    dataset = build(7)
    epoch_0, epoch_1 = batches(dataset), batches(dataset)
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(first, epoch_0, strict=True))
    assert not all(np.array_equal(a, b) for (_, a), (_, b) in zip(epoch_0, epoch_1, strict=True))
    cached = batches(build(7, cache=True, num_parallel_calls=1))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(first, cached, strict=True))


def test_short_files_are_zero_padded(tmp_path):
    short = tmp_path / "short.wav"
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 3000).astype("float32")
    sf.write(short, audio, 16000, subtype="FLOAT")
    ((_, segment),) = batches(make_dataset([short], "tiny", batch_size=1, segment_length=4096))
    np.testing.assert_array_equal(segment[0, :3000], audio)
    np.testing.assert_array_equal(segment[0, 3000:], 0.0)


def test_augmentation_is_seeded_and_small():
    kwargs = {"batch_size": 2, "segment_length": 4096, "seed": 5, "shuffle": False}
    plain = batches(make_dataset([AWB, SLT], "tiny", **kwargs))[0][1]
    augmented = batches(make_dataset([AWB, SLT], "tiny", augment=True, **kwargs))[0][1]
    again = batches(make_dataset([AWB, SLT], "tiny", augment=True, **kwargs))[0][1]
    np.testing.assert_array_equal(augmented, again)
    difference = np.abs(augmented - plain)
    assert 0 < difference.max() <= 0.5 / 32768  # dequantisation: at most half an LSB
    strong = {"dequantize": True, "snr_db": (10.0, 20.0), "gain_db": (-6.0, -3.0)}
    louder = batches(make_dataset([AWB, SLT], "tiny", augment=strong, **kwargs))[0][1]
    assert np.abs(louder - plain).max() > 1e-3
    with pytest.raises(ValueError, match="unknown augment options"):
        make_dataset([AWB], "tiny", augment={"reverb": True})


def test_speed_and_equaliser_augmentation_keep_shapes_and_are_seeded():
    kwargs = {"batch_size": 2, "segment_length": 4096, "seed": 5, "shuffle": False}
    plain = batches(make_dataset([AWB, SLT], "tiny", **kwargs))[0][1]
    # speed_prob 0 draws the factor (the stream of draws does not depend on it) but never
    # applies it: every segment is a plain cut of its file.
    never = {"speed": (0.9, 1.3), "speed_prob": 0.0}
    cuts = batches(make_dataset([AWB, SLT], "tiny", augment=never, **kwargs))[0][1]
    for row, path in zip(cuts, (AWB, SLT), strict=True):
        source, _ = load_audio(path)
        windows = np.lib.stride_tricks.sliding_window_view(source, len(row))
        assert np.any(np.all(windows == row, axis=1))
    options = {"speed": (1.2, 1.3), "eq_db": 6.0, "eq_highpass_prob": 1.0}
    first = batches(make_dataset([AWB, SLT], "tiny", augment=options, **kwargs))
    again = batches(make_dataset([AWB, SLT], "tiny", augment=options, **kwargs))
    for (mel_a, audio_a), (mel_b, audio_b) in zip(first, again, strict=True):
        np.testing.assert_array_equal(audio_a, audio_b)
        np.testing.assert_array_equal(mel_a, mel_b)
    audio = first[0][1]
    assert audio.shape == plain.shape and np.isfinite(audio).all()
    assert np.abs(audio - plain).max() > 1e-2
    # The mel is the augmented audio's (the pair stays consistent).
    mel = np.asarray(mel_spectrogram(audio, **WaveGlow.from_preset("tiny").mel_config))
    np.testing.assert_allclose(first[0][0], mel, atol=1e-4)
    with pytest.raises(ValueError, match="speed"):
        make_dataset([AWB], "tiny", augment={"speed": (1.3, 0.9)})
    # A bad equaliser setting fails when the dataset is made, not inside a training step.
    with pytest.raises(ValueError, match="highpass_hz must satisfy"):
        make_dataset([AWB], "tiny", augment={"eq_db": 6.0, "eq_highpass_hz": (300, 9000)})


def test_bad_files_are_skipped_with_a_count(tmp_path, caplog):
    folder = tmp_path / "mixed"
    folder.mkdir()
    good, _ = load_audio(SLT)
    sf.write(folder / "good.wav", good, 16000)
    stereo = np.stack([good, 0.5 * good], axis=1)
    sf.write(folder / "stereo.flac", stereo, 16000)
    sf.write(folder / "rate_22k.wav", good[:20000], 22050)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("not audio\n" * 50)
    wav = SLT.read_bytes()
    (folder / "corrupt.wav").write_bytes(wav[:4] + b"\xff" * 40 + wav[44:2000])
    sf.write(folder / "tiny.wav", good[:100], 16000)  # shorter than one hop (256)
    nan = good.copy()
    nan[500] = np.nan
    sf.write(folder / "nan.wav", nan, 16000, subtype="FLOAT")
    with caplog.at_level(logging.INFO):
        dataset = make_dataset(folder, "tiny", batch_size=2, segment_length=4096, seed=0)
        out = batches(dataset)
    source = dataset.source
    # Header check drops empty/text/corrupt/tiny; NaN is found when decoding, then skipped.
    assert sorted(Path(p).name for p in source.skipped) == [
        "corrupt.wav",
        "empty.wav",
        "nan.wav",
        "text.wav",
        "tiny.wav",
    ]
    assert "shorter than one hop" in source.skipped[str(folder / "tiny.wav")]
    assert "NaN/inf" in source.skipped[str(folder / "nan.wav")]
    # The report names each file once: its reason does not repeat the path.
    assert not any(str(folder) in reason for reason in source.skipped.values()), source.skipped
    assert "5 file(s) skipped" in caplog.text and "5 file(s) skipped" in source.report()
    assert "22050 Hz -> 16000 Hz" in caplog.text  # wrong rate: resampled and reported
    assert len(out) == 2  # 4 files pass the header check: 2 batches of 2
    for mel, audio in out:
        assert np.all(np.isfinite(audio)) and np.all(np.isfinite(mel))
        assert audio.shape == (2, 4096)
    with pytest.raises(ValueError, match=r"no usable audio.*empty\.wav: empty file"):
        make_dataset([folder / "empty.wav", folder / "text.wav"], "tiny")


def test_unusable_short_and_silent_files_are_each_named_once_per_process(tmp_path, caplog):
    """`train` builds the same files' dataset twice (training data, audio-sample preview): a
    skipped, a shorter-than-a-segment and an all-zero file are each named in one warning."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    good, _ = load_audio(SLT)
    sf.write(folder / "good.wav", good, 16000)
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "short.wav", good[:1600], 16000)  # 0.1 s: one hop and more, < a segment
    sf.write(folder / "zeros.wav", np.zeros(8000, np.float32), 16000)
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.data.pipeline"):
        for _ in range(2):
            batches(make_dataset(folder, "tiny", batch_size=3, segment_length=4096, seed=0))
    warnings_ = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("empty.wav" in m for m in warnings_) == 1, warnings_
    assert any(m.startswith("1 of 4 files skipped by the header check") for m in warnings_)
    short = [m for m in warnings_ if "shorter than one training segment" in m]
    assert len(short) == 1 and "short.wav (0.10 s)" in short[0] and "4096 samples" in short[0]
    silent = [m for m in warnings_ if "every sample is 0" in m]
    assert len(silent) == 1 and "zeros.wav" in silent[0], warnings_


def test_start_batch_equals_repeat_skip_without_loading_the_skipped(monkeypatch):
    """Resuming at batch k: the same batches as `.repeat().skip(k)` (across epoch ends), and
    only the batches yielded are loaded."""
    kwargs = {"batch_size": 2, "segment_length": 4096, "seed": 3, "augment": True}
    files = [AWB, SLT, SLT, AWB, AWB, SLT]  # 3 batches per epoch
    reference = batches(make_dataset(files, "tiny", **kwargs).repeat().skip(7), 4)
    loaded = []
    real_batch_audio = pipeline_lib.ExampleSource.batch_audio

    def counting(self, epoch, batch_index):
        loaded.append((epoch, batch_index))
        return real_batch_audio(self, epoch, batch_index)

    monkeypatch.setattr(pipeline_lib.ExampleSource, "batch_audio", counting)
    resumed = make_dataset(files, "tiny", start_batch=7, num_parallel_calls=1, prefetch=1, **kwargs)
    got = batches(resumed, 4)
    for (mel, audio), (mel_ref, audio_ref) in zip(got, reference, strict=True):
        np.testing.assert_array_equal(audio, audio_ref)
        np.testing.assert_array_equal(mel, mel_ref)
    # Batches 7..10 are epochs 2 (indices 1, 2) and 3 (indices 0, 1); prefetch reads ahead
    # by at most a couple of batches, never the seven skipped ones.
    assert loaded[:4] == [(2, 1), (2, 2), (3, 0), (3, 1)] and len(loaded) <= 6
    # A second iterator of the same dataset starts at batch 7 too, however far the first
    # one's prefetcher read (Keras under a tf.distribute strategy takes a first batch from
    # an iterator it then drops): the batches follow from positions, not from a count of
    # epochs begun.
    again = batches(resumed, 2)
    for (mel, audio), (mel_ref, audio_ref) in zip(again, reference[:2], strict=True):
        np.testing.assert_array_equal(audio, audio_ref)
        np.testing.assert_array_equal(mel, mel_ref)
    with pytest.raises(ValueError, match="start_batch=-1"):
        make_dataset(files, "tiny", start_batch=-1, **kwargs)
    with pytest.raises(ValueError, match=r"start_batch=2 needs training mode"):
        make_dataset(files, "tiny", start_batch=2, whole_utterances=True)


@pytest.mark.parametrize("threads", [None, 2])
def test_pydataset_start_batch_is_the_tf_data_sequence(threads):
    """The PyDataset engine resumes like tf.data: item i is batch 7 + i of the endless
    sequence (across epoch ends), whatever `fit` does with `on_epoch_end` (called after
    every `steps_per_epoch`), with or without threads building ahead."""
    kwargs = {"batch_size": 2, "segment_length": 4096, "seed": 3, "augment": True}
    files = [AWB, SLT, SLT, AWB, AWB, SLT]  # 3 batches per epoch
    reference = batches(make_dataset(files, "tiny", engine="tf.data", **kwargs).repeat(), 11)
    resumed = make_dataset(
        files, "tiny", engine="pydataset", start_batch=7, num_parallel_calls=threads, **kwargs
    )
    assert isinstance(resumed, AudioPyDataset) and resumed.num_batches is None
    for item in range(4):
        mel, audio = resumed[item]
        resumed.on_epoch_end()  # as fit(steps_per_epoch=1) would: no effect when endless
        np.testing.assert_array_equal(audio, reference[7 + item][1])
        np.testing.assert_allclose(mel, reference[7 + item][0], atol=1e-5)  # ops vs tf.signal
    # Through `fit`'s own iterator (steps_per_epoch smaller than an epoch): batches 0, 1, ...
    adapter = keras.src.trainers.data_adapters.get_data_adapter(
        make_dataset(files, "tiny", engine="pydataset", start_batch=0, **kwargs)
    )
    iterator = adapter.get_numpy_iterator()
    for step in range(5):
        np.testing.assert_array_equal(next(iterator)[1], reference[step][1])


def test_worker_rows_are_slices_of_the_global_batch():
    kwargs = {"batch_size": 4, "segment_length": 4096, "seed": 5, "augment": True}
    files = [AWB, SLT, SLT, AWB, AWB, SLT, AWB, SLT]
    whole = batches(make_dataset(files, "tiny", **kwargs))
    halves = [
        batches(make_dataset(files, "tiny", rows=rows, **kwargs)) for rows in ((0, 2), (2, 4))
    ]
    assert len(whole) == len(halves[0]) == len(halves[1]) == 2
    for (mel, audio), (mel_0, audio_0), (mel_1, audio_1) in zip(whole, *halves, strict=True):
        np.testing.assert_array_equal(np.concatenate([audio_0, audio_1]), audio)
        # The same audio gives the same mel, row by row (a per-row computation).
        np.testing.assert_allclose(np.concatenate([mel_0, mel_1]), mel, atol=1e-6)
    py_rows = make_dataset(files, "tiny", engine="pydataset", rows=(2, 4), **kwargs)
    np.testing.assert_array_equal(py_rows[1][1], halves[1][1][1])
    with pytest.raises(ValueError, match="0 <= start < stop <= 4"):
        make_dataset(files, "tiny", rows=(2, 5), **kwargs)
    with pytest.raises(ValueError, match="training mode"):
        make_dataset(files, "tiny", rows=(0, 1), whole_utterances=True)


def test_pydataset_gives_the_same_batches_as_tf_data():
    kwargs = {"batch_size": 2, "segment_length": 4096, "seed": 11, "augment": True}
    files = [AWB, SLT, SLT, AWB]
    tf_batches = batches(make_dataset(files, "tiny", engine="tf.data", **kwargs))
    py_dataset = make_dataset(files, "tiny", engine="pydataset", **kwargs)
    assert isinstance(py_dataset, keras.utils.PyDataset) and len(py_dataset) == 2
    py_batches = batches(py_dataset)
    for (tf_mel, tf_audio), (py_mel, py_audio) in zip(tf_batches, py_batches, strict=True):
        np.testing.assert_array_equal(tf_audio, py_audio)  # identical audio, bit for bit
        # Mel: tf.signal vs keras.ops, both float64 inside; measured <= 1e-6 apart.
        np.testing.assert_allclose(tf_mel, py_mel, atol=1e-5)
    py_dataset.on_epoch_end()
    second_epoch = batches(py_dataset)
    assert not np.array_equal(second_epoch[0][1], py_batches[0][1])


def test_fit_over_the_finite_pydataset_starts_at_epoch_0_as_tf_data_does():
    """Keras sends `on_epoch_end` before the first epoch (and TensorFlow reads batches ahead
    for their spec): the epochs `fit(epochs=2)` trains on are still 0 and 1, then 2 in the
    next `fit` call (the first epoch used to be epoch 1: other segments than tf.data's)."""
    from keras_waveglow import WaveGlow

    dataset = make_dataset(
        [AWB, SLT], "tiny", engine="pydataset", batch_size=1, segment_length=4096
    )
    seen = []
    build = dataset._build
    dataset._build = lambda epoch, index: (seen.append(epoch), build(epoch, index))[1]
    model = WaveGlow.from_preset("tiny", seed=0)
    model.compile(keras.optimizers.Adam(1e-4))
    model.fit(dataset, epochs=2, shuffle=False, verbose=0)
    assert sorted(set(seen)) == [0, 1] and seen[-2:] == [1, 1], seen
    seen.clear()
    model.fit(dataset, epochs=1, shuffle=False, verbose=0)
    assert seen[-2:] == [2, 2], seen


def test_without_tensorflow_the_pydataset_engine_is_used(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails
    assert not pipeline_lib.tensorflow_available()
    dataset = make_dataset([AWB, SLT], "tiny", batch_size=2, segment_length=4096)
    assert isinstance(dataset, AudioPyDataset)
    mel, audio = dataset[0]
    assert mel.shape == (2, 17, 80) and audio.shape == (2, 4096)


def test_whole_utterance_mode(tmp_path):
    lengths = {AWB: len(load_audio(AWB)[0]), SLT: len(load_audio(SLT)[0])}
    single = batches(make_dataset(DATA, "tiny", split="all", whole_utterances=True, batch_size=1))
    assert len(single) == 2
    for (mel, audio), path in zip(single, [AWB, SLT], strict=True):
        padded = math.ceil(lengths[path] / 256) * 256
        assert audio.shape == (1, padded) and mel.shape == (1, 1 + padded // 256, 80)
        np.testing.assert_array_equal(audio[0, : lengths[path]], load_audio(path)[0])
    ((mel, audio),) = batches(
        make_dataset(DATA, "tiny", split="all", whole_utterances=True, batch_size=2)
    )
    longest = math.ceil(max(lengths.values()) / 256) * 256
    assert audio.shape == (2, longest) and mel.shape == (2, 1 + longest // 256, 80)
    np.testing.assert_array_equal(audio[1, lengths[SLT] :], 0.0)
    py = make_dataset(
        DATA, "tiny", split="all", whole_utterances=True, batch_size=1, engine="pydataset"
    )
    np.testing.assert_array_equal(py[0][1], single[0][1])


@pytest.mark.parametrize("engine", ["tf.data", "pydataset"])
def test_whole_utterances_yield_each_usable_file_once(tmp_path, engine):
    # A file that fails to decode (NaN inside, not seen by the header check) must not hand its
    # slot to the next file, which would then count twice in held-out figures.
    if engine == "tf.data" and keras.backend.backend() != "tensorflow":
        pytest.importorskip("tensorflow")
    good, _ = load_audio(SLT)
    files = []
    for i, length in enumerate([4096, 5120, 6144, 7168]):
        files.append(tmp_path / f"u{i}.wav")
        sf.write(files[-1], good[:length], 16000, subtype="FLOAT")
    nan = good[:3000].copy()
    nan[100] = np.nan
    sf.write(tmp_path / "u1b_nan.wav", nan, 16000, subtype="FLOAT")
    files.insert(2, tmp_path / "u1b_nan.wav")
    dataset = make_dataset(files, "tiny", split="eval", batch_size=1, engine=engine)
    lengths = [audio.shape[1] for _, audio in batches(dataset)]
    assert lengths == [4096, 5120, 6144, 7168]
    assert list(dataset.source.skipped) == [str(tmp_path / "u1b_nan.wav")]
    with pytest.raises(pipeline_lib.NoUsableAudioError, match=r"u1b_nan\.wav: .*NaN"):
        make_dataset([tmp_path / "u1b_nan.wav"], "tiny", split="eval", engine=engine)


def test_training_on_files_that_all_fail_to_decode_is_a_clear_error(tmp_path):
    # Every file passes the header check and fails when decoded: `train` says so as a
    # ValueError naming the files (tf.data would hand back a TensorFlow UnknownError).
    from keras_waveglow.training import train

    good, _ = load_audio(SLT)
    for i in range(2):
        bad = good[:9000].copy()
        bad[10] = np.nan
        sf.write(tmp_path / f"nan{i}.wav", bad, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"every one of the 2 audio files failed .*nan0\.wav"):
        train(
            tmp_path,
            tmp_path / "run",
            preset="tiny",
            steps=1,
            batch_size=1,
            segment_length=4096,
            split="all",
            save_every=1,
        )
    # The error left `train` only once tf.data's map threads were idle (an iterator destroyed
    # with calls waiting for the GIL waited for ever: an occasional hang at exit).
    assert pipeline_lib._TF_CALLS["running"] == 0
    assert pipeline_lib.settle_tf_calls(quiet=0.01, timeout=1.0)


def test_settle_tf_calls_waits_for_calls_under_way_and_a_quiet_spell():
    import threading
    import time

    calls = pipeline_lib._TF_CALLS
    with pipeline_lib._TF_CALLS_LOCK:
        calls["running"] += 1  # a call under way
    try:
        started = time.monotonic()
        assert not pipeline_lib.settle_tf_calls(quiet=0.01, timeout=0.2)
        assert time.monotonic() - started >= 0.2

        def finish():
            time.sleep(0.1)
            with pipeline_lib._TF_CALLS_LOCK:
                calls["running"] -= 1
                calls["ended"] = time.monotonic()

        ender = threading.Thread(target=finish)
        ender.start()
        started = time.monotonic()
        assert pipeline_lib.settle_tf_calls(quiet=0.05, timeout=5.0)
        assert time.monotonic() - started >= 0.15  # the call's end, then the quiet spell
        ender.join()
    finally:
        if calls["running"]:
            calls["running"] -= 1


def test_bad_arguments_are_refused_when_the_dataset_is_made():
    with pytest.raises(ValueError, match="seed must be >= 0; got -1"):
        make_dataset([AWB], "tiny", seed=-1)
    with pytest.raises(TypeError, match=r"seed must be an int; got 1\.5"):  # was int(1.5)
        make_dataset([AWB], "tiny", seed=1.5)
    # Thread and buffer counts by their own names, on both engines (the PyDataset engine
    # named its internal `prefetch_threads`); -1 is tf.data.AUTOTUNE, as the docs say.
    for engine in ("tf.data", "pydataset"):
        for name, value, error, message in [
            ("num_parallel_calls", 2.0, TypeError, "num_parallel_calls must be an int; got 2.0"),
            ("num_parallel_calls", 0, ValueError, r"num_parallel_calls must be None, -1 .* >= 1"),
            ("prefetch", -2, ValueError, r"prefetch must be None, -1 \(tf.data.AUTOTUNE\) or >= 0"),
        ]:
            with pytest.raises(error, match=message):
                make_dataset([AWB], "tiny", engine=engine, start_batch=0, **{name: value})
    endless = make_dataset([AWB], "tiny", engine="pydataset", start_batch=0, num_parallel_calls=-1)
    assert endless.prefetch_threads == (os.cpu_count() or 1)
    for name, value in [("gain_db", -3.0), ("speed", 1.1), ("eq_highpass_hz", 100)]:
        with pytest.raises(ValueError, match=rf"augment {name} must be a \(low, high\) pair"):
            make_dataset([AWB], "tiny", augment={name: value, "eq_db": 3.0})


def test_corpus_splits_and_file_lists(tmp_path):
    from keras_waveglow.data import arctic

    root = tmp_path / "corpus"
    awb, _ = load_audio(AWB)
    for speaker in ("slt", "bdl"):
        (root / f"cmu_us_{speaker}_arctic" / "wav").mkdir(parents=True)
        for i in range(1, 5):
            path = root / f"cmu_us_{speaker}_arctic" / "wav" / f"arctic_a{i:04d}.wav"
            sf.write(path, awb[i * 1000 : i * 1000 + 9000], 16000)
    train = pipeline_lib.resolve_files(root, "train", n_eval=1, n_dev=1)
    assert [p.name for p in train] == ["arctic_a0001.wav", "arctic_a0002.wav"] * 2
    evaluation = make_dataset(root, "tiny", split="eval", n_eval=1, n_dev=1, batch_size=1)
    assert len(batches(evaluation)) == 2  # one eval utterance per speaker, whole
    splits = arctic.split_corpus(arctic.load_corpus(root), n_eval=1, n_dev=1)
    lists = arctic.write_file_lists(splits, tmp_path / "lists")
    from_list = make_dataset(lists["train"], "tiny", batch_size=2, segment_length=4096)
    from_root = make_dataset(root, "tiny", n_eval=1, n_dev=1, batch_size=2, segment_length=4096)
    for (_, a), (_, b) in zip(batches(from_list), batches(from_root), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_corpus_folder_with_other_recordings_says_what_it_leaves_out(tmp_path, caplog):
    root = tmp_path / "mixed"
    (root / "cmu_us_slt_arctic" / "wav").mkdir(parents=True)
    (root / "my_speaker").mkdir()
    shutil.copy(SLT, root / "cmu_us_slt_arctic" / "wav" / SLT.name)
    shutil.copy(AWB, root / "my_speaker" / "take1.wav")
    assert pipeline_lib.resolve_files(root, "all") == [
        root / "cmu_us_slt_arctic" / "wav" / SLT.name
    ]
    assert "read as a CMU ARCTIC corpus (speakers slt); 1 other audio file(s)" in caplog.text
    assert "take1.wav" in caplog.text and "file list (.txt)" in caplog.text
    caplog.clear()
    pipeline_lib.resolve_files(DATA, "all")  # the bundled corpus alone: no notice
    assert "other audio file" not in caplog.text


def test_bundled_sample_trains_on_the_default_split(caplog):
    """One utterance per speaker: all of it trains; an empty split names `--split all`."""
    train = pipeline_lib.resolve_files(DATA, "train")
    assert train == [AWB, SLT]
    assert "speaker awb has 1 utterance(s), too few for ParallelWaveGAN's split" in caplog.text
    for split in ("dev", "eval"):
        with pytest.raises(ValueError, match=f"the '{split}' split is empty.*`--split all`"):
            pipeline_lib.resolve_files(DATA, split)


def _fit_once(engine):
    model = WaveGlow.from_preset("tiny")
    dataset = make_dataset(
        [AWB, SLT], model, batch_size=2, segment_length=2048, augment=True, engine=engine
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    history = model.fit(dataset, epochs=2, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 2 and all(np.isfinite(losses))


def test_fit_runs_on_pipeline_batches():
    # The natural engine per backend: tf.data on TensorFlow, the PyDataset on JAX (the JAX-only
    # machine's path). The other pairing is the slow test below.
    _fit_once("tf.data" if keras.backend.backend() == "tensorflow" else "pydataset")


@pytest.mark.slow
def test_fit_runs_on_the_other_engine():
    _fit_once("pydataset" if keras.backend.backend() == "tensorflow" else "tf.data")


def test_float_files_beyond_full_scale_are_scaled_not_clipped_and_named_once(tmp_path, caplog):
    """A float file peaking at 3.0 (raw Vorbis decodes beyond 1.0): its training audio is the
    file scaled to a 0.99 peak, as `prepare` writes it (clipping square-topped the waves),
    with one warning per process however often the file is read."""
    rate = 16000
    tone = 3.0 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    sf.write(tmp_path / "loud.wav", tone, rate, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="keras_waveglow"):
        for _ in range(3):
            source = make_dataset(tmp_path, "tiny", batch_size=1, segment_length=4096).source
            audio = source.decode(0)
    np.testing.assert_allclose(audio, tone * (0.99 / np.max(np.abs(tone))), rtol=0, atol=1e-6)
    loud = [r.getMessage() for r in caplog.records if "beyond full scale" in r.getMessage()]
    assert len(loud) == 1 and "loud.wav: samples reach 3.000" in loud[0], loud
    assert "clipped" not in caplog.text.replace("not clipped", "")


def test_files_recorded_below_the_models_rate_are_named_once(tmp_path, caplog):
    """An 8 kHz file for a 16 kHz model is upsampled (nothing above 4 kHz in it): one warning
    names it (NVIDIA's loader refuses such files; it was an INFO line per read)."""
    good, _ = load_audio(SLT)
    sf.write(tmp_path / "narrow.wav", good[::2], 8000)
    sf.write(tmp_path / "wide.wav", good, 16000)
    with caplog.at_level(logging.WARNING, logger="keras_waveglow"):
        for _ in range(2):
            batches(make_dataset(tmp_path, "tiny", batch_size=2, segment_length=4096, seed=0))
    named = [
        r.getMessage() for r in caplog.records if "below the model's 16000 Hz" in r.getMessage()
    ]
    assert len(named) == 1 and "narrow.wav (8000 Hz)" in named[0] and "wide.wav" not in named[0]


def test_a_prepared_folder_reads_its_split_list(tmp_path):
    """A folder `keras-waveglow prepare` wrote holds train.txt and eval.txt: split "train"
    reads train.txt (it read every file, the held-out speakers' too), "all" every file."""
    import soundfile as sf

    for speaker in ("train_spk", "eval_spk"):
        (tmp_path / speaker).mkdir()
        sf.write(tmp_path / speaker / "a.wav", np.zeros(4000, "float32"), 16000)
    (tmp_path / "train.txt").write_text("train_spk/a.wav\n")
    (tmp_path / "eval.txt").write_text("eval_spk/a.wav\n")
    train = pipeline_lib.resolve_files(tmp_path, "train")
    assert [p.relative_to(tmp_path).as_posix() for p in train] == ["train_spk/a.wav"]
    everything = pipeline_lib.resolve_files(tmp_path, "all")
    assert [p.relative_to(tmp_path).as_posix() for p in everything] == [
        "eval_spk/a.wav",
        "train_spk/a.wav",
    ]
    (tmp_path / "train.txt").unlink()  # a plain folder: read whole, as before
    assert len(pipeline_lib.resolve_files(tmp_path, "train")) == 2


def test_a_prepared_folder_refuses_a_split_it_has_no_list_for(tmp_path):
    """Split "dev" of a prepared folder (train.txt and eval.txt, no dev.txt) read every file,
    the held-out speakers' too: refused, naming the lists there."""
    import soundfile as sf

    for speaker in ("train_spk", "eval_spk"):
        (tmp_path / speaker).mkdir()
        sf.write(tmp_path / speaker / "a.wav", np.zeros(4000, "float32"), 16000)
    (tmp_path / "train.txt").write_text("train_spk/a.wav\n")
    (tmp_path / "eval.txt").write_text("eval_spk/a.wav\n")
    with pytest.raises(ValueError, match=r"eval.txt, train.txt\) has no dev.txt.*'eval' or 'tr"):
        pipeline_lib.resolve_files(tmp_path, "dev")
    (tmp_path / "dev.txt").write_text("train_spk/a.wav\n")  # a list of its own: read
    assert [p.name for p in pipeline_lib.resolve_files(tmp_path, "dev")] == ["a.wav"]


def test_a_folder_of_prepared_folders_needs_split_all_and_hidden_folders_are_not_read(tmp_path):
    """A parent of prepared folders read whole trained on their held-out speakers without a
    word: refused unless split "all". Work folders (.name) are never read."""
    import soundfile as sf

    prepared = tmp_path / "klettres"
    for speaker in ("fr", "de"):
        (prepared / speaker).mkdir(parents=True)
        sf.write(prepared / speaker / "a.wav", np.zeros(4000, "float32"), 16000)
    (prepared / "train.txt").write_text("fr/a.wav\n")
    (prepared / "eval.txt").write_text("de/a.wav\n")
    hidden = tmp_path / ".klettres.tmp1" / "extracted"  # a killed `prepare` left it
    hidden.mkdir(parents=True)
    sf.write(hidden / "b.wav", np.zeros(4000, "float32"), 16000)
    with pytest.raises(ValueError, match=r"holds 1 prepared folder.*klettres/train.txt"):
        pipeline_lib.resolve_files(tmp_path, "train")
    everything = pipeline_lib.resolve_files(tmp_path, "all")
    assert [p.relative_to(tmp_path).as_posix() for p in everything] == [
        "klettres/de/a.wav",
        "klettres/fr/a.wav",
    ]
    assert [p.name for p in pipeline_lib.resolve_files(prepared, "train")] == ["a.wav"]


def test_a_speaker_folder_or_a_folder_above_a_corpus_needs_split_all(tmp_path):
    """Only the folder holding ARCTIC speaker folders is split: a speaker folder, or a folder
    above the corpus, read whole put the held-out utterances in "train" without a word."""
    import soundfile as sf

    corpus = tmp_path / "above" / "arctic"
    wavs = corpus / "cmu_us_slt_arctic" / "wav"
    wavs.mkdir(parents=True)
    for i in range(1, 7):
        sf.write(wavs / f"arctic_a{i:04d}.wav", np.zeros(4000, "float32"), 16000)
    held_out = {p.name for p in pipeline_lib.resolve_files(corpus, "eval", n_eval=2, n_dev=1)}
    assert len(held_out) == 2
    for folder in (tmp_path / "above", corpus / "cmu_us_slt_arctic", wavs):
        for split in ("train", "eval"):
            with pytest.raises(ValueError, match=r"holds CMU ARCTIC speaker folder.*split 'all'"):
                pipeline_lib.resolve_files(folder, split, n_eval=2, n_dev=1)
        assert len(pipeline_lib.resolve_files(folder, "all")) == 6
    train = {p.name for p in pipeline_lib.resolve_files(corpus, "train", n_eval=2, n_dev=1)}
    assert len(train) == 3 and not train & held_out


def test_whole_utterances_read_a_file_listed_twice_once_and_decode_once_with_cache(
    tmp_path, monkeypatch, caplog
):
    """A file listed twice was yielded twice (counted twice in held-out figures); with
    `cache=True` the check's decode at construction was thrown away (every file decoded
    twice). The segment_length warning named `_paths.py`, not the caller."""
    for i in range(2):
        sf.write(tmp_path / f"f{i}.wav", np.full(4000, 0.1 * (i + 1), "float32"), 16000)
    listed = tmp_path / "list.txt"
    listed.write_text("f0.wav\nf1.wav\n./f0.wav\n")
    decoded = []
    real = pipeline_lib.audio_lib.load_audio

    def counted(path, *args, **kwargs):
        decoded.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline_lib.audio_lib, "load_audio", counted)
    with caplog.at_level(logging.WARNING, logger="keras_waveglow._paths"):
        ds = make_dataset(
            listed, "tiny", whole_utterances=True, batch_size=1, cache=True, engine="pydataset"
        )
    assert "1 file(s) given more than once are read once" in caplog.text
    for _ in range(2):
        audio = [np.asarray(ds[i][1]) for i in range(len(ds))]
        ds.on_epoch_end()
    assert len(audio) == 2  # f0, f1; not f0 again
    np.testing.assert_allclose([a.max() for a in audio], [0.1, 0.2], atol=1e-3)  # PCM_16
    assert decoded == ["f0.wav", "f1.wav"]
    with pytest.warns(UserWarning, match="segment_length=2048 is ignored") as record:
        make_dataset(listed, "tiny", whole_utterances=True, segment_length=2048, engine="pydataset")
    assert record[0].filename == __file__


def test_a_folder_in_a_list_of_files_is_named_as_a_folder(tmp_path):
    """make_dataset([folder_a, folder_b]) said "no such file" of folders that exist."""
    with pytest.raises(ValueError, match=r"awb_arctic/wav: a folder: pass it alone"):
        make_dataset([AWB.parent, SLT.parent], "tiny", batch_size=1, segment_length=2048)
