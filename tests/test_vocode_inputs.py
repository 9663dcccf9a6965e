"""vocode's inputs: a folder gives its audio and mel files only, a file list its entries, and a
file named explicitly that is neither fails with its reason."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from keras_waveglow import cli, evaluation, inference
from keras_waveglow.audio import AUDIO_EXTENSIONS, load_audio
from tests import vocode_helpers
from tests.helpers import perturb_weights


@pytest.fixture(autouse=True)
def _no_default_model(monkeypatch):
    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    inference.set_default_model(None)
    yield
    inference.set_default_model(None)


@pytest.fixture
def corpus(tmp_path):
    """A folder laid out as `keras-waveglow prepare` writes one: audio in subfolders, beside
    it a notice, a copyright file, a manifest and two file lists (paths relative to it); plus
    a mel."""
    audio, _ = load_audio(vocode_helpers.SPEECH, 16000)
    root = tmp_path / "corpus"
    (root / "de").mkdir(parents=True)
    (root / "en").mkdir()
    sf.write(root / "de" / "a.wav", audio[:4000], 16000)
    sf.write(root / "de" / "b.flac", audio[4000:9000], 16000)
    np.save(root / "en" / "c.npy", vocode_helpers.speech_mel()[:12])
    (root / "NOTICE.txt").write_text("Recordings of letters, licensed under the GPL.\n")
    (root / "copyright").write_text("Format: https://example.org/copyright-format/1.0/\n")
    (root / "klettres.json").write_text('{"files": 3, "sample_rate": 16000}\n')
    (root / "train.txt").write_text("de/a.wav\nen/c.npy\n")
    (root / "eval.txt").write_text("# held out\nde/b.flac\n")
    return root


def _names(paths, root):
    return sorted(p.relative_to(root).as_posix() for p in paths)


def test_normalize_sets_the_peak_of_the_written_file(corpus, tmp_path, monkeypatch):
    """An audio input's output is cropped to its length: the peak was set before the crop,
    so a file whose loudest sample fell in the cropped tail was written below the peak."""
    model = vocode_helpers.tiny_model()
    vocode = inference.vocode

    def loudest_at_the_end(mels, waveglow, normalize=None, **kwargs):  # a rising ramp
        outputs = [np.linspace(0.0, 0.8, len(mel) * 256, dtype="float32") for mel in mels]
        return [inference._peak_normalize(o, normalize) if normalize else o for o in outputs]

    monkeypatch.setattr(inference, "vocode", loudest_at_the_end)
    out = tmp_path / "out"
    result = inference.vocode_files(
        [corpus / "de" / "a.wav"], out, model, normalize=0.5, progress=False
    )
    monkeypatch.setattr(inference, "vocode", vocode)
    assert result["written"] == [out / "a.wav"]
    audio, _ = sf.read(out / "a.wav")
    assert len(audio) == 4000  # 16 frames of 256 made, cropped to the input's length
    assert abs(np.abs(audio).max() - 0.5) <= 1 / 32768  # PCM_16 rounding


def test_cli_vocode_of_a_prepared_folder_vocodes_its_audio_and_mels_only(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(corpus), "-o", str(out), "--model", model, "--seed", "0"]
    assert cli.main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "wrote 3 file(s)" in err and "0 failed" in err and "FAILED" not in err, err
    assert _names(out.rglob("*.wav"), out) == ["de/a.wav", "de/b.wav", "en/c.wav"]
    assert sf.info(out / "de" / "a.wav").frames == 4000  # copy-synthesis keeps the length
    assert sf.info(out / "en" / "c.wav").frames == 12 * 256


def test_an_output_folder_inside_the_input_folder_is_not_read_back(corpus, capsys):
    out = corpus / "wavs"  # `vocode corpus -o corpus/wavs`, run twice
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(corpus), "-o", str(out), "--model", model, "--no-progress"]
    assert cli.main([*argv, "--seed", "0"]) == 0
    capsys.readouterr()
    assert cli.main([*argv, "--seed", "1", "--overwrite"]) == 0
    err = capsys.readouterr().err
    # The first run's three outputs are left out, said once; the inputs are vocoded again.
    assert "wrote 3 file(s) to" in err, err
    assert f"WARNING {corpus}: left out 3 file(s) under the output folder {out}" in err
    assert _names(out.rglob("*.wav"), out) == ["de/a.wav", "de/b.wav", "en/c.wav"]


def test_an_output_folder_that_is_an_input_folder_is_refused_before_any_work(tmp_path, capsys):
    """`vocode mels -o mels` worked once; every rerun then took the wavs it wrote as inputs
    and failed each file (2N FAILED lines, exit 2), --overwrite or not."""
    mels = tmp_path / "mels"
    mels.mkdir()
    np.save(mels / "a.npy", vocode_helpers.speech_mel()[:12])
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(mels), "-o", str(mels / "."), "--model", model, "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"the output folder {mels} is the input folder {mels}" in err, err
    assert str(mels / "wavs") in err and sorted(p.name for p in mels.iterdir()) == ["a.npy"]
    with pytest.raises(ValueError, match=r"is the input folder .*a rerun would take"):
        inference.vocode_files([tmp_path / "mels"], tmp_path / "x" / ".." / "mels", "no.keras")
    # Named files beside their outputs are not a folder read again: still vocoded.
    result = inference.vocode_files([mels / "a.npy"], mels, vocode_helpers.tiny_model())
    assert result["written"] == [mels / "a.wav"]
    assert inference.vocode_files([mels / "a.npy"], mels, "no.keras")["kept"] == [mels / "a.wav"]


def test_an_input_folder_inside_the_output_folder_is_read(tmp_path, capsys):
    # `vocode runs/x/mels -o runs/x`: the inputs lie under the output folder, not the reverse.
    run = tmp_path / "run"
    (run / "mels").mkdir(parents=True)
    np.save(run / "mels" / "c.npy", vocode_helpers.speech_mel()[:12])
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(run / "mels"), "-o", str(run), "--model", model, "--no-progress"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "wrote 1 file(s)" in err and "left out" not in err, err
    assert sf.info(run / "c.wav").frames == 12 * 256


def test_a_file_list_gives_its_entries_relative_to_its_folder(corpus, tmp_path):
    model = vocode_helpers.tiny_model()
    out = tmp_path / "out"
    result = inference.vocode_files([corpus / "eval.txt"], out, model, progress=False)
    assert result["failed"] == []
    assert _names(result["written"], out) == ["de/b.wav"]

    # A folder and a list of its files: each file once, no failure.
    result = inference.vocode_files(
        [corpus, corpus / "train.txt"], tmp_path / "both", model, progress=False
    )
    assert result["failed"] == []
    assert _names(result["written"], tmp_path / "both") == ["de/a.wav", "de/b.wav", "en/c.wav"]
    # The same file under two relative paths (named, then in its folder's folder): once, to
    # the output of its first mention (it was vocoded twice, to a.wav and de/a.wav).
    result = inference.vocode_files(
        [corpus / "de" / "a.wav", corpus], tmp_path / "twice", model, progress=False
    )
    assert result["failed"] == []
    assert _names(result["written"], tmp_path / "twice") == ["a.wav", "de/b.wav", "en/c.wav"]

    # A listed file outside the list's folder keeps its name; a missing one, a folder and a
    # non-audio file are failures, named with the list; the rest is vocoded.
    elsewhere = tmp_path / "elsewhere.wav"
    audio, _ = load_audio(vocode_helpers.SPEECH, 16000)
    sf.write(elsewhere, audio[:3000], 16000)
    listing = corpus / "mixed.lst"
    listing.write_text(f"{elsewhere}\nde/missing.wav\nen\nNOTICE.txt\nde/a.wav|a text\n")
    out = tmp_path / "mixed"
    result = inference.vocode_files([listing], out, model, progress=False)
    assert _names(result["written"], out) == ["de/a.wav", "elsewhere.wav"]
    messages = sorted(message for _, message in result["failed"])
    assert messages == [
        f"{corpus / 'NOTICE.txt'}: unknown input type '.txt'; expected one of "
        f"{(*inference.MEL_EXTENSIONS, *AUDIO_EXTENSIONS)}.",
        f"{corpus / 'de' / 'missing.wav'}: no such file (listed in {listing}).",
        f"{corpus / 'en'}: a folder, not a file (listed in {listing}).",
    ]


def test_cli_vocode_reads_a_list_from_a_named_pipe(corpus, tmp_path, monkeypatch, capsys):
    # NVIDIA's `-f <(ls mels/*.pt)`: the list is a pipe in /dev/fd, its paths relative to the
    # working directory, and the outputs keep those paths.
    from tests.helpers import named_pipe

    monkeypatch.chdir(corpus)
    pipe = named_pipe(tmp_path, "de/a.wav\nen/c.npy\n")
    model = str(vocode_helpers.tiny_model_file())
    out = tmp_path / "out"
    argv = ["vocode", str(pipe), "-o", str(out), "--model", model, "--no-progress"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "wrote 2 file(s)" in err and "0 failed" in err, err
    assert _names(out.rglob("*.wav"), out) == ["de/a.wav", "en/c.wav"]


def test_a_named_pipe_written_again_is_read_again(corpus, tmp_path, monkeypatch):
    """A pipe's list is kept for one call only (it is read once and looked at twice): the
    next call reads what was written to the pipe since (a notebook's mkfifo, a server)."""
    from tests.helpers import named_pipe

    monkeypatch.chdir(corpus)
    model = vocode_helpers.tiny_model()
    for text, expected in (("de/a.wav\n", ["de/a.wav"]), ("en/c.npy\n", ["en/c.wav"])):
        pipe = named_pipe(tmp_path, text)
        out = tmp_path / f"out_{len(expected[0])}_{expected[0][:2]}"
        result = inference.vocode_files([pipe], out, model, progress=False)
        assert result["failed"] == [] and _names(result["written"], out) == expected


def test_explicit_files_that_are_not_audio_fail_with_their_reason(corpus, tmp_path, capsys):
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2\3")
    (tmp_path / "empty.txt").write_text("")
    inputs = [
        corpus / "NOTICE.txt",
        corpus / "klettres.json",
        corpus / "copyright",
        tmp_path / "blob.bin",
        tmp_path / "empty.txt",
        corpus / "de" / "a.wav",
    ]
    out = tmp_path / "out"
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", *map(str, inputs), "-o", str(out), "--model", model, "--no-progress"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert "wrote 1 file(s)" in err and "5 failed" in err, err
    assert _names(out.rglob("*.wav"), out) == ["a.wav"]
    failed = [line for line in err.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 5, err
    for name in ("NOTICE.txt", "klettres.json", "copyright"):
        line = next(line for line in failed if f"{corpus / name}:" in line)
        assert "neither audio, a mel" in line and "none of its 1 lines names an existing" in line
    assert any(f"{tmp_path / 'blob.bin'}: unknown input type '.bin'" in line for line in failed)
    assert any(f"{tmp_path / 'empty.txt'}: neither" in line and "empty" in line for line in failed)

    # A folder with nothing to vocode in it is still a named failure.
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "README").write_text("no audio here\n")
    argv = ["vocode", str(tmp_path / "texts"), "-o", str(tmp_path / "o2"), "--model", model]
    assert cli.main([*argv, "--no-progress"]) == 2  # nothing to vocode: nothing started
    assert "texts: the folder holds no files to vocode" in capsys.readouterr().err


def test_set_default_model_refuses_what_can_never_vocode_where_it_is_given(tmp_path):
    """A preset without weights, a folder, a weights-only file, an audio or mel file are
    refused by `set_default_model` itself (they failed at the next `vocode(mel)`), and
    `load_vocoder` names a folder as a folder (it said "no such checkpoint file")."""
    with pytest.raises(ValueError, match=r"Preset 'tiny' is an untrained architecture"):
        inference.set_default_model("tiny")
    with pytest.raises(ValueError, match=r"is a folder, not a model"):
        inference.set_default_model(tmp_path)
    with pytest.raises(ValueError, match=r"is a folder, not a model"):
        inference.load_vocoder(str(tmp_path))
    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(b"")
    with pytest.raises(ValueError, match=r"w\.weights\.h5 holds weights only"):
        inference.set_default_model(weights)
    for name in ("speech.wav", "mel.npy"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(ValueError, match=rf"{name} is an audio or mel file, not a model"):
            inference.set_default_model(tmp_path / name)
    assert inference.get_default_model() is None  # nothing was set
    with pytest.raises(FileNotFoundError, match=r"gone\.weights\.h5: no such weights file"):
        inference.set_default_model("tiny", weights=tmp_path / "gone.weights.h5")
    assert inference.get_default_model() is None
    inference.set_default_model("tiny", weights=weights)  # with weights: taken (read later)
    # The spec as vocode and load_vocoder take it back, weights included.
    assert inference.get_default_model() == ("tiny", str(weights))
    inference.set_default_model(("tiny", weights))  # that form is taken too
    assert inference.get_default_model() == ("tiny", str(weights))
    other = tmp_path / "other.weights.h5"
    # Weights given with a call (vocode(mel, weights=...)) win over the default's own.
    assert inference._default_spec(other) == "tiny"
    assert inference._default_spec() == ("tiny", str(weights))
    assert inference._split_spec(("tiny", None), other) == ("tiny", other)
    for call in (
        lambda: inference.set_default_model(("tiny", weights), weights=other),
        lambda: inference.load_vocoder(("tiny", weights), weights=other),
    ):
        with pytest.raises(ValueError, match=r"weights given twice: .*w\.weights\.h5.*other"):
            call()


def test_vocode_returns_the_rate_for_a_default_model_whatever_was_set():
    """`audio, rate = vocode(mel)` holds for any default, an object included (an object set
    as default returned the audio alone, so a batch unpacked into two rows silently)."""
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()[:12]
    inference.set_default_model(model)
    audio, rate = inference.vocode(np.stack([mel, mel]), seed=0)
    assert audio.shape == (2, 12 * 256) and rate == model.sample_rate
    assert isinstance(inference.vocode(mel, model, seed=0), np.ndarray)  # an object given


def test_vocode_refuses_bad_settings_by_name_before_loading_a_model(capsys):
    mel = vocode_helpers.speech_mel()[:12]
    model = vocode_helpers.tiny_model()
    cases = [
        ({"normalize": -1.0}, ValueError, r"normalize must be .* peak in \(0, 1\]"),
        ({"normalize": 5.0}, ValueError, r"normalize must be"),
        ({"sigma": None}, TypeError, r"sigma must be a number; got None"),
        ({"sigma": "0.6"}, TypeError, r"sigma must be a number; got '0.6'"),
        ({"denoiser_strength": True}, TypeError, r"denoiser_strength must be a number"),
        ({"seed": -1}, ValueError, r"seed must be None, an int >= 0 .* got -1"),
        ({"seed": 1.5}, ValueError, r"seed must be None"),
        ({"chunk_frames": 2.5}, TypeError, r"chunk_frames must be an int; got 2.5"),
        ({"overlap_frames": -5, "fade_frames": 0}, ValueError, r"overlap_frames must be >= 0"),
    ]
    for options, error, message in cases:
        with pytest.raises(error, match=message):
            inference.vocode(mel, "no/such/model.keras", **options)  # refused before loading
    with pytest.raises(TypeError, match=r"not the path 'foo\.npy'.*load_mel"):
        inference.vocode("foo.npy", model)
    with pytest.raises(TypeError, match=r"mel must be an array .* got generator"):
        inference.vocode((m for m in [mel]), model)
    # vocode_files and evaluate too: a negative seed was named only after every input loaded,
    # as the internal [-1, 0].
    with pytest.raises(ValueError, match=r"seed must be >= 0; got -1\."):
        inference.vocode_files(["x.npy"], "out", "no/such/model.keras", seed=-1)
    from keras_waveglow import evaluation

    with pytest.raises(ValueError, match=r"seed must be >= 0; got -1\."):
        evaluation.evaluate("no/such/model.keras", ["x.wav"], "report", seed=-1)
    with pytest.raises(SystemExit):  # argparse refuses it (exit 2, usage) before any work
        cli.main(["vocode", "x.npy", "-o", "out", "--seed", "-1"])
    assert "--seed: must be >= 0; got -1" in capsys.readouterr().err
    audio = inference.vocode(mel, model, seed=0, normalize=0.5)
    assert np.max(np.abs(audio)) == pytest.approx(0.5)
    np.testing.assert_array_equal(
        inference.vocode(mel, model, seed=np.int64(3)), inference.vocode(mel, model, seed=3)
    )


def test_a_transposed_mel_is_named_with_its_fix():
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()[:12]
    with pytest.raises(ValueError, match=r"mel has shape \(80, 12\).*pass mel\.T\)"):
        inference.vocode(mel.T, model)
    with pytest.raises(
        ValueError, match=r"mel 0 of the batch .*given: \(1, 80, 12\).*np\.swapaxes\(mel, -1, -2\)"
    ):
        inference.vocode(mel.T[None], model)


def test_a_mel_that_is_not_a_natural_log_mel_warns(recwarn):
    """dB (librosa's power_to_db) or power mels are vocoded, with a warning naming the
    problem; a mel of the library's own definition gives none."""
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()[:12]
    inference.vocode(mel, model, seed=0)
    assert not [w for w in recwarn if "natural-log mel" in str(w.message)]
    assert float(np.min(mel)) >= np.log(1e-5) - 1e-6  # the definition's floor
    with pytest.warns(UserWarning, match=r"outside a natural-log mel.*dB or power mel"):
        inference.vocode(10 * mel / np.log(10), model, seed=0)  # dB: down to -50
    with pytest.warns(UserWarning, match=r"outside a natural-log mel"):
        inference.vocode(np.exp(mel) * 1e6, model, seed=0)  # linear, large
    # A magnitude mel whose log was forgotten lies inside the range: named by its sign.
    assert 0 < float(np.exp(mel).min()) and float(np.exp(mel).max()) < 12
    with pytest.warns(UserWarning, match=r"all above 0 .* linear magnitude or power mel"):
        inference.vocode(np.exp(mel), model, seed=0)
    # The loudest signal there is, full-scale noise, still has bands below 0: no warning.
    from keras_waveglow.audio import mel_spectrogram

    noise = np.random.default_rng(0).uniform(-1, 1, 16000).astype("float32")
    loud = np.asarray(mel_spectrogram(noise, **model.mel_config))
    assert 0 < float(loud.max()) and float(loud.min()) < 0
    recwarn.clear()
    inference.vocode(loud, model, seed=0)
    assert not [w for w in recwarn if "natural-log mel" in str(w.message)]


def test_log10_and_square_mels_warn_by_category(recwarn):
    """A clamped log10 mel (ESPnet / ParallelWaveGAN) lies inside the natural-log range and was
    vocoded silently; so was a square (80, 80) mel, whose orientation cannot be told (a file
    of one is refused by `load_mel`). Both are `MelInputWarning`s, filterable by category."""
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()[:12]  # natural log, floor log(1e-5)
    # Magnitudes with three frames of digital silence, as a TTS output's leading pause.
    magnitude = np.concatenate([np.zeros((3, 80), "float32"), np.exp(mel)])
    for eps in (1e-5, 1e-10):
        log10 = np.log10(np.maximum(magnitude, eps))
        assert np.log(1e-5) - 4 < log10.min() and log10.max() < 12  # inside the range check
        with pytest.warns(inference.MelInputWarning, match=rf"exactly {np.log10(eps):g} .*log10"):
            inference.vocode(log10, model, seed=0)
    recwarn.clear()
    inference.vocode(mel, model, seed=0)  # the definition's own mel: nothing
    assert not [w for w in recwarn if issubclass(w.category, inference.MelInputWarning)]
    square = np.resize(mel, (80, 80)).astype("float32")
    with pytest.warns(inference.MelInputWarning, match=r"\(80, 80\).*taken as \(frames, n_mels\)"):
        audio = inference.vocode(square, model, seed=0)
    assert audio.shape == (80 * 256,)
    with pytest.warns(inference.MelInputWarning, match=r"mel\(s\) \[1\] of the list"):
        inference.vocode([mel, square], model, seed=0)
    assert issubclass(inference.MelInputWarning, UserWarning)


def test_a_linear_mel_file_warns_once_named_in_the_cli(tmp_path, capsys, recwarn):
    """The "all above 0" warning of a linear mel file came three times: twice as raw Python
    warnings (one pointing into the library, one unnamed from the batch) and once printed."""
    mels = tmp_path / "mels"
    mels.mkdir()
    np.save(mels / "linear.npy", np.exp(vocode_helpers.speech_mel()[:12]))
    model = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(mels), "-o", str(tmp_path / "out"), "--model", model, "--no-progress"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("all above 0") == 1 and f"WARNING {mels / 'linear.npy'}: a mel" in err, err
    assert not [w for w in recwarn if "all above 0" in str(w.message)]
    # The library call warns once, at the caller's line.
    result = inference.vocode_files(mels, tmp_path / "api", vocode_helpers.tiny_model())
    assert len(result["warnings"]) == 1
    warned = [w for w in recwarn if "all above 0" in str(w.message)]
    assert len(warned) == 1 and warned[0].filename == __file__, [w.filename for w in warned]


def test_the_denoiser_keeps_every_sample_with_no_padding():
    """n_fft=1 (no reflect padding) cropped everything: `padded[..., 0:-0]`."""
    audio = np.linspace(-0.5, 0.5, 10, dtype="float32")
    out = inference.Denoiser(n_fft=1, hop_length=1, strength=0.0).denoise(audio)
    np.testing.assert_allclose(out, audio, rtol=0, atol=1e-6)
    out = inference.Denoiser(n_fft=2, hop_length=1, strength=0.0).denoise(audio)
    np.testing.assert_allclose(out, audio, rtol=0, atol=1e-6)


def test_save_audio_and_the_mel_name_a_batch_or_channel_layout():
    from keras_waveglow.audio import mel_spectrogram, save_audio

    with pytest.raises(ValueError, match=r"more channels than samples.*each row"):
        save_audio("/nonexistent/b.wav", np.zeros((2, 5000), "float32"), 16000)
    with pytest.raises(ValueError, match=r"reads as \(batch, T\): for \(T, channels\)"):
        mel_spectrogram(np.zeros((4000, 2), "float32"), 22050)


def test_the_denoiser_s_bias_comes_from_zeros_or_from_silence():
    """`denoiser_mode` picks the mel the bias spectrum is measured from: NVIDIA's all-zero
    log-mel (default) or silence; each is the `Denoiser.from_model` of that mode, cached."""
    model = vocode_helpers.new_tiny_model()  # its weights change below: not the shared one
    mel = vocode_helpers.speech_mel()[:12]
    plain = inference.vocode(mel, model, seed=0)
    for mode in ("zeros", "silence"):
        got = inference.vocode(mel, model, seed=0, denoiser_strength=0.5, denoiser_mode=mode)
        want = inference.Denoiser.from_model(model, mode=mode).denoise(plain, strength=0.5)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        assert inference.denoiser_for(model, mode) is inference.denoiser_for(model, mode)
    zeros = np.asarray(inference.denoiser_for(model, "zeros").bias_spectrum)
    silence = np.asarray(inference.denoiser_for(model, "silence").bias_spectrum)
    assert not np.allclose(zeros, silence)
    with pytest.raises(ValueError, match=r"denoiser_mode must be one of .* got 'quiet'"):
        inference.vocode(mel, model, denoiser_strength=0.1, denoiser_mode="quiet")

    # New weights in the same model (loaded, set, fine-tuned): the bias is measured again.
    perturb_weights(model, scale=0.1, seed=1)
    plain = inference.vocode(mel, model, seed=0)
    got = inference.vocode(mel, model, seed=0, denoiser_strength=0.5)
    want = inference.Denoiser.from_model(model).denoise(plain, strength=0.5)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    new_zeros = np.asarray(inference.denoiser_for(model, "zeros").bias_spectrum)
    assert np.abs(new_zeros - zeros).max() > 1e-3


def test_mels_that_are_not_floats_or_hold_nothing_are_refused_by_name():
    """A mask, integer or complex mel was cast and vocoded (a bool mask gave audio peaking
    near 2e4); `load_mel` already refused such files. An empty list failed inside `min()`."""
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()[:12]
    for bad in (mel > -5, mel.astype("int32"), mel.astype("complex64")):
        with pytest.raises(TypeError, match=rf"mel values must be real floats.*{bad.dtype}"):
            inference.vocode(bad, model)
    with pytest.raises(TypeError, match=r"mel 1 of the list values must be real floats.*int8"):
        inference.vocode([mel, mel.astype("int8")], model)
    with pytest.raises(ValueError, match=r"the list of mels is empty"):
        inference.vocode([], model)
    with pytest.raises(TypeError, match=r"batch_size must be an int; got 2\.0"):
        inference.vocode(mel, model, batch_size=2.0)
    with pytest.raises(TypeError, match=r"batch_size must be an int; got 2\.0"):
        inference.vocode_files(["x.npy"], "unused", model, batch_size=2.0)
    with pytest.raises(ValueError, match=r"no inputs given"):
        inference.vocode_files([], "unused", model)
    audio = inference.vocode(mel.astype("float64"), model, seed=0)  # floats of any width
    np.testing.assert_array_equal(audio, inference.vocode(mel, model, seed=0))


def test_vocode_files_takes_one_path_as_one_input_and_names_each_warned_file(
    tmp_path, recwarn, capsys
):
    """A str was iterated character by character ("/" searched the whole filesystem); the
    dB-mel warning came once per batch, unnamed, with the span of several files."""
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()[:12]
    mels = tmp_path / "mels"
    mels.mkdir()
    np.save(mels / "good.npy", mel)
    np.save(mels / "db.npy", 10 * mel / np.log(10))  # a dB mel
    result = inference.vocode_files(str(mels / "good.npy"), tmp_path / "a", model)
    assert result["written"] == [tmp_path / "a" / "good.wav"] and result["failed"] == []
    assert result["warnings"] == []
    result = inference.vocode_files(mels, tmp_path / "b", model, progress=False)
    assert _names(result["written"], tmp_path / "b") == ["db.wav", "good.wav"]
    assert [(p.name, "outside a natural-log mel" in m) for p, m in result["warnings"]] == [
        ("db.npy", True)
    ]
    messages = [str(w.message) for w in recwarn if "natural-log mel" in str(w.message)]
    assert len(messages) == 1 and messages[0].startswith(str(mels / "db.npy"))
    # The command line prints each as a WARNING line, counted, and no raw Python warning.
    model_file = str(vocode_helpers.tiny_model_file())
    argv = ["vocode", str(mels), "-o", str(tmp_path / "c"), "--model", model_file]
    recwarn.clear()
    assert cli.main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"WARNING {mels / 'db.npy'}: mel values span" in err, err
    assert "wrote 2 file(s) (1 with a warning)" in err and "UserWarning" not in err, err
    assert not [w for w in recwarn if "natural-log mel" in str(w.message)]
    # Into a folder under a file: refused before any model loads or file is read.
    with pytest.raises(NotADirectoryError, match=r"good\.npy is a file"):
        inference.vocode_files([mels], mels / "good.npy" / "sub", "no/such.keras")


def test_a_keras_file_that_is_not_an_archive_is_named_as_such(tmp_path):
    for name, content in (("text.keras", b"not a model\n"), ("empty.keras", b"")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=rf"{name}: not a \.keras archive \(not a zip"):
            inference.load_vocoder(str(tmp_path / name))


def test_a_prose_file_with_a_line_too_long_for_a_path_fails_as_prose(tmp_path):
    """A line over 255 bytes made `Path.exists` raise (File name too long) inside the
    prose-or-list check, ending the whole batch."""
    notes = tmp_path / "NOTES"
    notes.write_text("short line\n" + "a" * 300 + "\n")
    result = inference.vocode_files([notes], tmp_path / "out", vocode_helpers.tiny_model())
    assert result["written"] == []
    assert [m for _, m in result["failed"]] == [
        f"{notes}: neither audio, a mel {inference.MEL_EXTENSIONS + tuple(AUDIO_EXTENSIONS)} "
        "nor a file list: none of its 2 lines names an existing audio or mel file."
    ]


def test_a_readme_naming_folders_and_text_files_fails_as_prose_in_one_line(tmp_path):
    """A Markdown table line (`| file | what |`: an empty path before the bar) was read as the
    list's own folder and a line naming a JSON report as a file to vocode, so a README passed
    the prose check and failed line by line."""
    (tmp_path / "report.json").write_text("{}")
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n| file | what |\n|---|---|\nreport.json\nSome prose.\n")
    result = inference.vocode_files([readme], tmp_path / "out", vocode_helpers.tiny_model())
    assert result["written"] == [] and len(result["failed"]) == 1
    assert "none of its 4 lines names an existing audio or mel file" in result["failed"][0][1]
    with pytest.raises(ValueError, match=r"README\.md: read as a file list .* none of its 4 lines"):
        evaluation.evaluate("no-such-model.keras", readme, tmp_path / "report")


def test_audio_beyond_full_scale_is_scaled_as_training_scales_it_not_clipped(tmp_path, caplog):
    """Training scales a float file beyond full scale to a 0.99 peak; vocode clipped it (square
    tops, a mel the model never trained on): the same file now gives the scaled file's output."""
    model = vocode_helpers.tiny_model()
    speech, rate = load_audio(vocode_helpers.SPEECH, model.sample_rate)
    speech = speech[: rate // 2]
    loud = tmp_path / "in" / "loud.wav"
    loud.parent.mkdir()
    sf.write(loud, 1.6 / np.max(np.abs(speech)) * speech, rate, subtype="FLOAT")
    scaled = tmp_path / "in2" / "scaled.wav"
    scaled.parent.mkdir()
    sf.write(scaled, 0.99 / np.max(np.abs(speech)) * speech, rate, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="keras_waveglow"):
        a = inference.vocode_files([loud], tmp_path / "a", model, sigma=0.0, progress=False)
    assert any("loud.wav: samples reach 1.600" in r.getMessage() for r in caplog.records)
    # sigma 0: the output is the mel's alone (a seed would draw each file's noise from its
    # bytes, which differ).
    b = inference.vocode_files([scaled], tmp_path / "b", model, sigma=0.0, progress=False)
    out_a, out_b = (sf.read(r["written"][0])[0] for r in (a, b))
    assert np.std(out_a) > 1e-3
    # The same mel to float32 rounding (the scaling happens in float32 in one, in the file
    # in the other), and the flow's output differs by far less than one 16-bit step.
    assert np.max(np.abs(out_a - out_b)) < 1e-4


def test_a_weightless_preset_from_the_environment_names_the_variable(monkeypatch):
    """`KERAS_WAVEGLOW_MODEL=tiny` said "Preset 'tiny' is an untrained architecture" without
    saying where the name came from (a missing file from it was named so already)."""
    monkeypatch.setattr(inference, "_default_model", None)
    monkeypatch.setenv(inference.MODEL_ENV_VAR, "tiny")
    with pytest.raises(ValueError, match=r"Preset 'tiny' \(set by \$KERAS_WAVEGLOW_MODEL\) is an"):
        inference.load_vocoder()


def test_a_model_path_from_the_environment_that_cannot_be_a_model_names_the_variable(
    monkeypatch, tmp_path
):
    """A folder, an audio or mel file, a weights file from `$KERAS_WAVEGLOW_MODEL`: the error
    says the path came from it; a value padded with spaces is taken stripped."""
    monkeypatch.setattr(inference, "_default_model", None)
    (tmp_path / "mel.npy").write_bytes(b"")
    (tmp_path / "w.weights.h5").write_bytes(b"")
    for path, what in (
        (tmp_path, r" \(set by \$KERAS_WAVEGLOW_MODEL\) is a folder, not a model"),
        (tmp_path / "mel.npy", r" \(set by \$KERAS_WAVEGLOW_MODEL\) is an audio or mel file"),
        (tmp_path / "w.weights.h5", r"^\$KERAS_WAVEGLOW_MODEL: .*w\.weights\.h5 holds weights"),
    ):
        monkeypatch.setenv(inference.MODEL_ENV_VAR, f" {path} ")
        assert inference.get_default_model() == str(path)
        with pytest.raises(ValueError, match=what):
            inference.load_vocoder()


def test_mel_layout_reads_only_the_square_files_of_a_folder(tmp_path):
    """--mel-layout applied to every file: a folder of NVIDIA .pt mels with one square
    frames-first .npy could not be vocoded in one call (each setting failed some files)."""
    torch = pytest.importorskip("torch")
    model = vocode_helpers.tiny_model()
    mel = vocode_helpers.speech_mel()
    mels = tmp_path / "mels"
    mels.mkdir()
    torch.save(torch.from_numpy(mel[:60].T.copy())[None], mels / "tts_out.pt")  # NVIDIA's
    np.save(mels / "short.npy", mel[:80])  # square, frames first
    result = inference.vocode_files([mels], tmp_path / "auto", model, progress=False)
    assert [p.name for p in result["written"]] == ["tts_out.wav"]
    assert "ambiguous orientation" in result["failed"][0][1]
    result = inference.vocode_files(
        [mels], tmp_path / "ff", model, mel_layout="frames_first", progress=False, seed=0
    )
    assert sorted(p.name for p in result["written"]) == ["short.wav", "tts_out.wav"]
    assert result["failed"] == []
    # A square .pt: NVIDIA's layout under "auto", with a warning; the named layout otherwise
    # (it was ignored for a square .pt, which "auto" reads without an error).
    square = tmp_path / "square"
    square.mkdir()
    torch.save(torch.from_numpy(mel[:80].copy())[None], square / "ff.pt")  # frames first
    seen = []
    real = inference.vocode

    def spy(mels, *args, **kwargs):
        seen.append(np.array(mels[0]))
        return real(mels, *args, **kwargs)

    inference.vocode = spy
    try:
        result = inference.vocode_files([square], tmp_path / "sq_auto", model, progress=False)
        assert len(result["warnings"]) == 1 and "taken as NVIDIA's" in result["warnings"][0][1]
        np.testing.assert_array_equal(seen[-1], mel[:80].T)
        result = inference.vocode_files(
            [square], tmp_path / "sq_ff", model, mel_layout="frames_first", progress=False
        )
        assert result["warnings"] == [] and result["failed"] == []
        np.testing.assert_array_equal(seen[-1], mel[:80])
    finally:
        inference.vocode = real
    assert sf.info(tmp_path / "ff" / "short.wav").frames == 80 * 256
