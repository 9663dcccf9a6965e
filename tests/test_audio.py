"""The mel front end (parity with librosa, both paths, both backends), audio I/O, processing."""

import doctest
import logging
import os
import re
import stat
import sys
from pathlib import Path

import keras
import librosa
import numpy as np
import pytest
import soundfile as sf
from keras import ops

from keras_waveglow import audio as audio_lib
from keras_waveglow.audio import (
    AudioFileError,
    load_audio,
    load_mel,
    mel_function,
    mel_spectrogram,
    save_audio,
    tf_mel_spectrogram,
)

DATA = Path(__file__).resolve().parents[1] / "data"
BUNDLED = [
    DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav",
    DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav",
]
LSB = 1.0 / 32768


def librosa_log_mel(audio, sample_rate, **kwargs):
    """The acceptance reference: librosa's Slaney mel of the STFT magnitude, log(max(x, 1e-5))."""
    mel = librosa.feature.melspectrogram(
        y=audio,
        sr=sample_rate,
        n_fft=kwargs.get("n_fft", 1024),
        hop_length=kwargs.get("hop_length", 256),
        win_length=kwargs.get("win_length", 1024),
        n_mels=kwargs.get("n_mels", 80),
        fmin=kwargs.get("fmin", 0.0),
        fmax=kwargs.get("fmax", 8000.0),
        center=True,
        pad_mode="reflect",
        power=1,
        norm="slaney",
        htk=False,
    )
    return np.log(np.maximum(mel, 1e-5)).T


# ------------------------------------------------------------------------------------------------
# Mel parity
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate", [16000, 22050])
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.parent.parent.name)
def test_mel_parity_with_librosa_on_real_speech(path, sample_rate):
    audio, rate = load_audio(path, sample_rate)
    assert rate == sample_rate
    reference = librosa_log_mel(audio, sample_rate)
    ops_mel = ops.convert_to_numpy(mel_spectrogram(audio, sample_rate))
    tf_mel = np.asarray(tf_mel_spectrogram(audio, sample_rate))
    assert ops_mel.shape == reference.shape == (1 + len(audio) // 256, 80)
    assert ops_mel.dtype == tf_mel.dtype == np.float32
    # Acceptance: <= 1e-4 in log units. Measured with the float64 default: ~5e-7 on both paths
    # and both backends (float32 rounding of the output), so 1e-4 holds with a wide margin.
    assert np.abs(ops_mel - reference).max() <= 1e-4
    assert np.abs(tf_mel - reference).max() <= 1e-4
    # Acceptance: the keras.ops and tf.signal paths agree to 1e-5 (measured: <= 1e-6).
    assert np.abs(ops_mel - tf_mel).max() <= 1e-5


def test_float32_precision_is_the_documented_fast_approximation():
    audio, _ = load_audio(BUNDLED[1], 22050)
    reference = librosa_log_mel(audio, 22050)
    fast = ops.convert_to_numpy(mel_spectrogram(audio, 22050, precision="float32"))
    exact = ops.convert_to_numpy(mel_spectrogram(audio, 22050))
    fast_error = np.abs(fast - reference).max()
    # Documented: a float32 FFT is off by up to ~6e-4 in near-silent bands of this file
    # (measured 3.7e-4 on TF, 6.1e-4 on JAX); 2e-3 bounds it on both, and float64 is far closer.
    assert fast_error <= 2e-3
    assert np.abs(exact - reference).max() < fast_error
    fast_tf = np.asarray(tf_mel_spectrogram(audio, 22050, precision="float32"))
    assert np.abs(fast_tf - reference).max() <= 2e-3
    with pytest.raises(ValueError, match="precision"):
        mel_spectrogram(audio, 22050, precision="float16")


def test_mel_shapes_batching_and_custom_settings():
    rng = np.random.default_rng(0)
    batch = rng.uniform(-0.5, 0.5, size=(3, 5000)).astype("float32")
    mel = ops.convert_to_numpy(mel_spectrogram(batch, 16000))
    assert mel.shape == (3, 1 + 5000 // 256, 80)
    single = ops.convert_to_numpy(mel_spectrogram(batch[1], 16000))
    # Batched and single calls run the same ops on the same numbers: only float noise differs.
    np.testing.assert_allclose(mel[1], single, atol=1e-6)
    settings = {"n_fft": 512, "hop_length": 128, "win_length": 400, "n_mels": 40, "fmax": None}
    custom = ops.convert_to_numpy(mel_spectrogram(batch[0], 22050, **settings))
    reference = librosa_log_mel(batch[0], 22050, **settings)
    assert custom.shape == reference.shape == (1 + 5000 // 128, 40)
    # win_length < n_fft (window centred in the frame) and fmax=None (Nyquist) follow librosa.
    assert np.abs(custom - reference).max() <= 1e-4
    tf_custom = np.asarray(tf_mel_spectrogram(batch[0], 22050, **settings))
    assert np.abs(custom - tf_custom).max() <= 1e-5


@pytest.mark.parametrize(
    ("n_fft", "win_length"), [(1024, 1023), (1024, 1021), (1023, 1023), (1023, 1021)]
)
def test_odd_window_lengths_match_librosa_on_both_paths(n_fft, win_length):
    # librosa's window is periodic for odd lengths too; tf.signal.hann_window(periodic=True)
    # (and Keras' TF ops.stft(window="hann")) is symmetric there, which put both mels on the
    # TensorFlow backend and the tf.data one on any backend 0.03 (log units) off librosa on
    # this file. An odd n_fft - win_length also tests the centring (1 zero left, 2 right).
    audio, _ = load_audio(BUNDLED[1], 22050)
    settings = {"n_fft": n_fft, "win_length": win_length}
    reference = librosa_log_mel(audio, 22050, **settings)
    ops_mel = ops.convert_to_numpy(mel_spectrogram(audio, 22050, **settings))
    tf_mel = np.asarray(tf_mel_spectrogram(audio, 22050, **settings))
    assert ops_mel.shape == tf_mel.shape == reference.shape == (1 + len(audio) // 256, 80)
    # Measured <= 9.6e-7 on both paths and backends: float32 rounding of the output (log values
    # up to ~11 have a float32 spacing of 9.5e-7). 1e-5 keeps a 10x margin and is 3000x below
    # the symmetric window's error.
    assert np.abs(ops_mel - reference).max() <= 1e-5
    assert np.abs(tf_mel - reference).max() <= 1e-5
    assert np.abs(ops_mel - tf_mel).max() <= 1e-5


@pytest.mark.parametrize("n_fft", [1023, 1024])
@pytest.mark.parametrize("win_length", [400, 1021, 1023])
def test_stft_window_is_librosas_padded_periodic_hann(n_fft, win_length):
    expected = librosa.util.pad_center(
        librosa.filters.get_window("hann", win_length, fftbins=True), size=n_fft
    )
    window = audio_lib.stft_window(win_length, n_fft)
    assert window.shape == (n_fft,) and window.dtype == np.float64
    # Both are float64 cosines of the same angles computed in a different order: ~1e-16 apart.
    np.testing.assert_allclose(window, expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="win_length"):
        audio_lib.stft_window(0, n_fft)


@pytest.mark.parametrize("dtype", ["int16", "int32"])
@pytest.mark.parametrize("mel", [mel_spectrogram, tf_mel_spectrogram], ids=["ops", "tf"])
def test_both_mel_paths_refuse_integer_pcm(mel, dtype):
    # Raw PCM is 32768 times too loud (int16): the tf.data path used to cast it silently.
    pcm = (np.sin(np.arange(4000) / 10) * 16000).astype(dtype)
    with pytest.raises(TypeError, match=rf"floating point in \[-1, 1\]; got {dtype}"):
        mel(pcm, 16000)


def test_mel_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(T,\) or \(B, T\)"):
        mel_spectrogram(np.zeros((1, 2, 3000), "float32"), 16000)
    with pytest.raises(ValueError, match="too short"):
        mel_spectrogram(np.zeros(300, "float32"), 16000)
    with pytest.raises(ValueError, match="win_length"):
        tf_mel_spectrogram(np.zeros(3000, "float32"), 16000, win_length=2048)
    with pytest.raises(TypeError, match=r"floating point in \[-1, 1\]; got int16"):
        mel_spectrogram(np.zeros(3000, "int16"), 16000)
    for mel in (mel_spectrogram, tf_mel_spectrogram):
        with pytest.raises(ValueError, match="win_length must be positive"):
            mel(np.zeros(3000, "float32"), 16000, win_length=0)


@pytest.mark.parametrize("mel", [mel_spectrogram, tf_mel_spectrogram], ids=["ops", "tf"])
def test_both_mel_paths_name_a_bad_sample_rate(mel):
    # 0 used to reach librosa's filterbank as a ZeroDivisionError naming nothing.
    audio = np.zeros(4000, "float32")
    for rate in (0, -1, "16k", float("nan"), None, True):
        with pytest.raises(ValueError, match=r"sample_rate must be a positive number of Hz"):
            mel(audio, rate)
    assert tuple(mel(audio, 16000.0).shape) == (16, 80)  # a float rate is still a rate
    # A 0-d array or tensor is read out (the cached filterbank needs a hashable rate).
    expected = ops.convert_to_numpy(mel(audio, 16000))
    for rate in (np.array(16000), ops.convert_to_tensor(16000)):
        np.testing.assert_array_equal(ops.convert_to_numpy(mel(audio, rate)), expected)


def test_mel_is_differentiable_and_jit_compiles():
    audio = np.random.default_rng(1).uniform(-0.3, 0.3, (2, 4096)).astype("float32")
    # Digital silence in the second row: JAX's sqrt has an infinite derivative at 0, so an
    # unfloored |STFT| gave NaN gradients there where TensorFlow gave 0.
    audio[1, 1000:] = 0.0
    expected = ops.convert_to_numpy(mel_spectrogram(audio, 16000))
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        value = jax.jit(lambda x: mel_spectrogram(x, 16000))(audio)
        grad = jax.jit(jax.grad(lambda x: mel_spectrogram(x, 16000).sum()))(audio)
    else:
        import tensorflow as tf

        value = tf.function(lambda x: mel_spectrogram(x, 16000), jit_compile=True)(audio)
        x = tf.constant(audio)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(mel_spectrogram(x, 16000))
        grad = tape.gradient(total, x)
    # jit must not change the numbers beyond float32 rounding of the output.
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, atol=1e-5)
    grad = ops.convert_to_numpy(grad)
    assert grad.shape == audio.shape and grad.dtype == np.float32
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0
    # The float64 value's gradient is the float32 path's gradient (JAX) or float64's (TF):
    # either way it matches a central finite difference of the mel sum.
    eps = 1e-2
    index = (0, 2048)
    plus, minus = audio.copy(), audio.copy()
    plus[index] += eps
    minus[index] -= eps
    numeric = (
        ops.convert_to_numpy(mel_spectrogram(plus, 16000)).astype(np.float64).sum()
        - ops.convert_to_numpy(mel_spectrogram(minus, 16000)).astype(np.float64).sum()
    ) / (2 * eps)
    np.testing.assert_allclose(grad[index], numeric, rtol=2e-2)


def test_mel_function_follows_presets_and_models():
    from keras_waveglow import WaveGlow
    from keras_waveglow.audio import mel_settings

    audio = np.random.default_rng(2).uniform(-0.3, 0.3, 8000).astype("float32")
    nvidia = mel_function("nvidia_22k")(audio)
    direct = mel_spectrogram(audio, 22050)
    np.testing.assert_array_equal(ops.convert_to_numpy(nvidia), ops.convert_to_numpy(direct))
    model = WaveGlow.from_preset("tiny", hop_length=128)
    assert mel_settings(model) == {**mel_settings("tiny"), "hop_length": 128}
    assert mel_function(model).keywords == model.mel_config
    with pytest.raises(ValueError, match="missing"):
        mel_settings({"sample_rate": 16000})


# ------------------------------------------------------------------------------------------------
# Audio I/O
# ------------------------------------------------------------------------------------------------


def test_load_audio_reads_pcm_exactly():
    audio, rate = load_audio(BUNDLED[0])
    raw, raw_rate = sf.read(BUNDLED[0], dtype="int16")
    assert rate == raw_rate == 16000
    assert audio.dtype == np.float32 and audio.ndim == 1
    np.testing.assert_array_equal(audio, raw.astype(np.float32) / 32768)


def test_load_audio_mixes_stereo_and_reports_resampling(tmp_path, caplog):
    rate = 22050
    t = np.arange(rate) / rate
    left, right = 0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / "stereo_22k.wav"
    sf.write(path, np.stack([left, right], axis=1), rate, subtype="FLOAT")
    mixed, same_rate = load_audio(path)
    assert same_rate == rate
    np.testing.assert_allclose(mixed, 0.3 * np.sin(2 * np.pi * 440 * t), atol=1e-6)
    both, _ = load_audio(path, mono=False)
    assert both.shape == (rate, 2)
    with caplog.at_level(logging.INFO, logger="keras_waveglow.audio"):
        resampled, new_rate = load_audio(path, 16000)
    assert new_rate == 16000 and len(resampled) == 16000
    assert "22050 Hz -> 16000 Hz" in caplog.text and str(path) in caplog.text
    # soxr HQ keeps a 440 Hz tone intact away from the edges (filter transients).
    expected = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    np.testing.assert_allclose(resampled[500:-500], expected[500:-500], atol=1e-3)
    assert "cancel" not in caplog.text  # correlated channels: no warning


def test_load_audio_warns_when_channels_cancel_in_the_mono_mix(tmp_path, caplog):
    """A polarity-inverted channel mixed to (near) silence without a word."""
    rate = 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    rng = np.random.default_rng(0)
    cases = {  # name: (channels, warned)
        "inverted": (np.stack([tone, -tone], axis=1), True),
        "inverted_but_for_a_little": (np.stack([tone, -0.99 * tone], axis=1), True),
        "unrelated": (rng.uniform(-0.5, 0.5, (rate, 2)), False),  # loses 3 dB: expected
        "one_silent": (np.stack([tone, 0 * tone], axis=1), False),
    }
    for name, (channels, warned) in cases.items():
        path = tmp_path / f"{name}.wav"
        sf.write(path, channels, rate, subtype="FLOAT")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="keras_waveglow.audio"):
            load_audio(path)
        assert (f"{path}: its 2 channels cancel" in caplog.text) == warned, (name, caplog.text)


@pytest.mark.parametrize("extension", ["flac", "ogg"])
def test_load_audio_reads_flac_and_ogg(tmp_path, extension):
    reference, _ = load_audio(BUNDLED[1])
    path = tmp_path / f"speech.{extension}"
    sf.write(path, reference, 16000)
    audio, rate = load_audio(path)
    assert rate == 16000 and audio.dtype == np.float32
    if extension == "flac":
        np.testing.assert_array_equal(audio, reference)  # lossless
    else:
        # Vorbis is lossy: the waveform stays strongly correlated with the original.
        n = min(len(audio), len(reference))
        assert abs(len(audio) - len(reference)) < 2048
        assert np.corrcoef(audio[:n], reference[:n])[0, 1] > 0.95


def _bad_files(tmp_path):
    wav_bytes = BUNDLED[0].read_bytes()
    files = {
        "empty": (tmp_path / "empty.wav", b"", "empty file"),
        "corrupt header": (
            tmp_path / "corrupt.wav",
            wav_bytes[:4] + b"\xff" * 40 + wav_bytes[44:1000],
            "corrupt or truncated WAV header",
        ),
        "not audio": (tmp_path / "notes.wav", b"these are notes, not audio\n" * 20, "not an audio"),
    }
    for path, content, _ in files.values():
        path.write_bytes(content)
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        path = tmp_path / f"{name}.wav"
        samples = np.zeros(4000, "float32")
        samples[100] = value
        sf.write(path, samples, 16000, subtype="FLOAT")
        files[name] = (path, None, "NaN/inf samples")
    header_only = tmp_path / "no_samples.wav"
    sf.write(header_only, np.zeros(0, "float32"), 16000)
    files["no samples"] = (header_only, None, "no audio samples")
    return files


def test_load_audio_bad_files_raise_clear_errors(tmp_path):
    for path, _, message in _bad_files(tmp_path).values():
        with pytest.raises(AudioFileError, match=message) as error:
            load_audio(path)
        assert str(path) in str(error.value)
    with pytest.raises(FileNotFoundError, match=r"missing\.wav"):
        load_audio(tmp_path / "missing.wav")
    # A named pipe exists: it was called missing ("no such audio file").
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    with pytest.raises(AudioFileError, match=r"fifo\.wav: not a regular file \(a pipe"):
        load_audio(fifo)
    with pytest.raises(AudioFileError, match=r"fifo\.wav: not a regular file"):
        load_mel(fifo)
    # Too few samples to give one at the rate asked: an empty array came back.
    one = tmp_path / "one.wav"
    sf.write(one, np.array([0.5], "float32"), 48000)
    with pytest.raises(AudioFileError, match=r"one\.wav: 1 sample\(s\) at 48000 Hz give none"):
        load_audio(one, 16000)


def test_load_audio_clips_loud_float_files(tmp_path, caplog):
    path = tmp_path / "loud.wav"
    sf.write(path, np.array([0.5, 1.5, -2.0, 0.25], "float32"), 16000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.audio"):
        audio, _ = load_audio(path)
    np.testing.assert_array_equal(audio, [0.5, 1.0, -1.0, 0.25])
    assert "clipped" in caplog.text
    # In range as written, beyond it after resampling (ringing at a square wave's edges):
    # clipped silently before, a quarter of the samples.
    square = tmp_path / "square.wav"
    sf.write(square, np.where(np.arange(4410) % 100 < 50, 0.999, -0.999), 44100)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.audio"):
        audio, _ = load_audio(square, 22050)
    assert np.max(np.abs(audio)) <= 1.0
    assert "resampled to 22050 Hz, the samples reach 1.1" in caplog.text
    unclipped, _ = load_audio(square, 22050, clip=False)
    assert np.max(np.abs(unclipped)) > 1.1


def test_load_audio_warns_about_a_cut_file_and_reads_what_is_there(tmp_path, caplog):
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 19200).astype("float32")
    whole = tmp_path / "whole.wav"
    sf.write(whole, audio, 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * 1478])  # header + 1,478 samples
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.audio"):
        read, _ = load_audio(cut)
        assert read.shape == (1478,)
        np.testing.assert_array_equal(read, load_audio(whole)[0][:1478])
    assert (
        "cut.wav: truncated: its header announces 38400 bytes of samples, the file holds 2956 "
        "(1478 frames read)" in caplog.text
    )
    assert "whole.wav" not in caplog.text


def test_load_audio_checks_the_rate_argument_by_name_before_the_file(tmp_path):
    # A bad rate is refused first, even for a missing file ("16k" said "invalid literal for
    # int()", 0 and -1 soxr's "Sample rate should be over 0", naming neither file nor argument).
    for path in (tmp_path / "missing.wav", BUNDLED[0]):
        for rate in ("16k", 0, -1, 22050.5, True):
            with pytest.raises(ValueError, match=r"sample_rate must be a positive whole number"):
                load_audio(path, rate)
    assert load_audio(BUNDLED[0], np.int64(16000))[1] == 16000  # NumPy ints are rates too
    assert load_audio(BUNDLED[0], 16000.0)[1] == 16000
    assert load_audio(BUNDLED[0], np.array(16000))[1] == 16000  # 0-d arrays, as int() took
    # A folder is a folder, not a missing file.
    with pytest.raises(IsADirectoryError, match=re.escape(f"{tmp_path}: is a folder, not a file")):
        load_audio(tmp_path)


def test_load_audio_warns_about_a_file_rate_no_audio_uses(tmp_path, caplog):
    # A 1 Hz header made 2,000 samples into 44.1 M once resampled to 22.05 kHz, silently.
    samples = np.random.default_rng(6).uniform(-0.5, 0.5, 100).astype("float32")
    one_hz, fast = tmp_path / "one_hz.wav", tmp_path / "fast.wav"
    sf.write(one_hz, samples, 1, subtype="FLOAT")
    sf.write(fast, np.tile(samples, 20), 1_000_000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.audio"):
        audio, rate = load_audio(one_hz)
        assert (len(audio), rate) == (100, 1)  # read, not refused
        assert "one_hz.wav: its header declares 1 Hz, outside 1000-768000 Hz" in caplog.text
        assert "100 samples (100 s) at 1 Hz" in caplog.text
        caplog.clear()
        audio, rate = load_audio(one_hz, 2000)
        assert (len(audio), rate) == (200_000, 2000)
        assert "one_hz.wav" in caplog.text and "200000 samples (100 s) at 2000 Hz" in caplog.text
        caplog.clear()
        load_audio(fast, 16000)
        assert "fast.wav: its header declares 1000000 Hz" in caplog.text
        assert "32 samples (0.002 s) at 16000 Hz" in caplog.text
        caplog.clear()
        load_audio(BUNDLED[0], 8000)  # ordinary rates, resampled or not: no warning
        assert caplog.text == ""


def test_save_audio_round_trips_and_never_overwrites_silently(tmp_path):
    audio = np.random.default_rng(3).uniform(-0.9, 0.9, 4000).astype("float32")
    pcm = save_audio(tmp_path / "pcm.wav", audio, 16000)
    loaded, rate = load_audio(pcm)
    assert rate == 16000 and sf.info(pcm).subtype == "PCM_16"
    # 16-bit rounding: at most half a step (plus float slack).
    assert np.abs(loaded - audio).max() <= 0.5 * LSB + 1e-7
    float_path = save_audio(tmp_path / "float.wav", audio, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(float_path)[0], audio)

    before = pcm.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_audio(pcm, np.zeros(100), 16000)
    assert pcm.read_bytes() == before
    save_audio(pcm, np.zeros(100), 16000, overwrite=True)
    assert len(load_audio(pcm)[0]) == 100
    with pytest.raises(ValueError, match="NaN"):
        save_audio(tmp_path / "nan.wav", np.array([0.0, np.nan]), 16000)
    assert not (tmp_path / "nan.wav").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.wav", "pcm.wav"]  # no temp files


def test_save_audio_never_replaces_a_file_written_while_it_wrote(tmp_path, monkeypatch):
    """Another process's file appearing between the check and the publication (two vocode
    runs into one folder) is not replaced without overwrite: the hard link refuses it."""
    target = tmp_path / "x.wav"
    real_write = sf.write

    def write_then_race(file, *args, **kwargs):
        real_write(file, *args, **kwargs)
        target.write_bytes(b"the other run's file")

    monkeypatch.setattr(sf, "write", write_then_race)  # save_audio imports soundfile inside
    with pytest.raises(FileExistsError, match=r"x\.wav exists; pass overwrite=True"):
        save_audio(target, np.zeros(100, "float32"), 16000)
    assert target.read_bytes() == b"the other run's file"
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]  # no temporary left


def test_save_audio_picks_the_subtype_from_the_extension(tmp_path):
    speech, _ = load_audio(BUNDLED[1])  # 16-bit PCM, so on the grid PCM_16 writes exactly
    ogg = save_audio(tmp_path / "speech.ogg", speech, 16000)
    info = sf.info(ogg)
    assert (info.format, info.subtype, info.samplerate) == ("OGG", "VORBIS", 16000)
    decoded, rate = load_audio(ogg)
    assert rate == 16000 and len(decoded) == len(speech)  # Ogg keeps the exact sample count
    # Vorbis is lossy: measured correlation 0.9987 with the original at the default quality;
    # 0.95 (as for files written by soundfile itself, above) only fails on a broken encode.
    assert np.corrcoef(decoded, speech)[0, 1] > 0.95
    flac = save_audio(tmp_path / "speech.FLAC", speech, 16000)
    assert (sf.info(flac).format, sf.info(flac).subtype) == ("FLAC", "PCM_16")
    np.testing.assert_array_equal(load_audio(flac)[0], speech)  # lossless
    opus = save_audio(tmp_path / "speech_opus.ogg", speech, 16000, subtype="opus")
    assert sf.info(opus).subtype == "OPUS"


def test_save_audio_refuses_bad_formats_before_writing_anything(tmp_path):
    audio = np.zeros(1600, "float32")
    cases = [
        ("a.flac", "FLOAT", "FLAC format cannot hold subtype 'FLOAT'; choose one of PCM_16"),
        ("a.ogg", "PCM_16", "OGG format cannot hold subtype 'PCM_16'; choose one of OPUS"),
        ("a.wav", "PCM_12", "WAV format cannot hold subtype 'PCM_12'"),
        ("a.wav2", None, "extension '.wav2'; use .wav, .flac or .ogg"),
        ("new_folder/a.mp3", None, "extension '.mp3'"),
    ]
    for name, subtype, message in cases:
        path = tmp_path / name
        with pytest.raises(ValueError, match=message) as error:
            save_audio(path, audio, 16000, subtype=subtype)
        assert str(path) in str(error.value)
    # A rate that is not a positive whole number: 22050.7 was written as 22050, True as 1 Hz.
    for rate in (22050.7, True, float("nan"), 0, -5, "16000"):
        with pytest.raises(ValueError, match=r"a\.wav: sample_rate must be a positive whole"):
            save_audio(tmp_path / "a.wav", audio, rate)
    # Refused up front: no output, no temporary, no folder.
    assert list(tmp_path.iterdir()) == []
    # An existing file is left as it was by a refused overwrite.
    kept = save_audio(tmp_path / "kept.flac", audio, 16000)
    before = kept.read_bytes()
    with pytest.raises(ValueError, match="FLOAT"):
        save_audio(kept, np.ones(1600), 16000, subtype="FLOAT", overwrite=True)
    assert kept.read_bytes() == before
    # A pair the format allows but libsndfile refuses at this rate: the file is named, not the
    # temporary, and the temporary is gone.
    with pytest.raises(ValueError, match="Opus only supports sample rates") as error:
        save_audio(tmp_path / "b.ogg", audio, 22050, subtype="OPUS")
    assert str(tmp_path / "b.ogg") in str(error.value) and ".tmp" not in str(error.value)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.flac"]


def test_save_audio_refuses_integer_pcm_and_names_a_file_or_folder_in_the_way(tmp_path):
    # int16 PCM was cast to float 1000.0 and clipped to a full-scale square wave.
    for dtype in ("int16", "int32", "uint8", "bool"):
        with pytest.raises(TypeError, match=rf"int_{dtype}\.wav: .*got {dtype}.*/ 32768"):
            save_audio(tmp_path / f"int_{dtype}.wav", np.ones(100, dtype), 16000)
    assert list(tmp_path.iterdir()) == []
    # A parent that is a file said "[Errno 17] File exists: 'notes.txt'".
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(NotADirectoryError, match=r"notes\.txt is a file, not a folder"):
        save_audio(tmp_path / "notes.txt" / "sub" / "a.wav", np.zeros(100), 16000)
    # A folder in the way failed at the rename, naming the temporary ('.out.xxx.tmp' -> 'out').
    (tmp_path / "out").mkdir()
    for overwrite in (False, True):
        with pytest.raises(IsADirectoryError, match=r"out is a folder; refusing to replace"):
            save_audio(tmp_path / "out", np.zeros(100), 16000, overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "out"]  # no temporary
    assert (tmp_path / "notes.txt").read_text() == "kept" and (tmp_path / "out").is_dir()
    # No samples: soundfile wrote a 44-byte wav that load_audio refuses to read back.
    for empty in (np.zeros(0, "float32"), np.zeros((0, 2), "float32")):
        with pytest.raises(ValueError, match=r"empty\.wav: the audio has no samples"):
            save_audio(tmp_path / "empty.wav", empty, 16000)
    assert not (tmp_path / "empty.wav").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_written_files_get_the_permissions_of_a_new_file(tmp_path, umask):
    # Written through a mkstemp temporary (created 0600) and renamed: the output must still
    # get what open() would give it, 0666 less the umask.
    from keras_waveglow.evaluation import _write_text_atomic

    previous = os.umask(umask)
    try:
        wav = save_audio(tmp_path / "a.wav", np.zeros(100), 16000)
        _write_text_atomic(tmp_path / "report.json", "{}")
    finally:
        os.umask(previous)
    for path in (wav, tmp_path / "report.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_outputs_reach_the_disk_before_they_replace_anything(tmp_path, monkeypatch):
    # A rename can reach the journal before the data: the temporary file must be synced before
    # it replaces the target (else a machine crash can leave an empty checkpoint), the folder
    # after. Recorded for a saved wav and for a training-side atomic write (checkpoints).
    from keras_waveglow.training import _write_json_atomically

    events = []
    real_fsync, real_replace, real_link = os.fsync, os.replace, os.link

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    def link(src, dst):  # how a file that must not replace anything is put in place
        events.append(("replace", str(src), str(dst)))
        real_link(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "link", link)
    wav = save_audio(tmp_path / "a.wav", np.zeros(100), 16000)
    _write_json_atomically(tmp_path / "state.json", {"step": 3})
    replaces = [i for i, event in enumerate(events) if event[0] == "replace"]
    assert [events[i][2] for i in replaces] == [str(wav), str(tmp_path / "state.json")]
    for i in replaces:
        source = events[i][1]
        assert events[i - 1] == ("fsync", source), events  # the data, just before the rename
        assert events[i + 1] == ("fsync", str(tmp_path)), events  # the folder, just after
    assert load_audio(wav)[0].shape == (100,)


# ------------------------------------------------------------------------------------------------
# Mels made elsewhere
# ------------------------------------------------------------------------------------------------


def test_load_mel_npy_in_both_orientations(tmp_path):
    mel = np.random.default_rng(4).normal(size=(123, 80)).astype("float32")
    np.save(tmp_path / "frames_first.npy", mel)
    np.save(tmp_path / "mels_first.npy", mel.T.astype("float64"))
    np.testing.assert_array_equal(load_mel(tmp_path / "frames_first.npy"), mel)
    loaded = load_mel(tmp_path / "mels_first.npy")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, mel)


def test_a_square_mel_takes_its_layout_from_the_caller_or_nvidia_s_pt(tmp_path):
    """80 frames of 80 bands (0.93 s at 22.05 kHz) could not be read at all, even from a .pt
    file, whose layout is NVIDIA's (n_mels, frames)."""
    torch = pytest.importorskip("torch")  # the torch extra; installed in the dev environment
    mel = np.random.default_rng(5).normal(size=(80, 80)).astype("float32")  # (frames, mels)
    torch.save(torch.from_numpy(mel.T.copy())[None], tmp_path / "nvidia.pt")
    np.testing.assert_array_equal(load_mel(tmp_path / "nvidia.pt"), mel)
    np.save(tmp_path / "square.npy", mel)
    with pytest.raises(AudioFileError, match=r"square\.npy: ambiguous.*layout='frames_first'"):
        load_mel(tmp_path / "square.npy")
    np.testing.assert_array_equal(load_mel(tmp_path / "square.npy", layout="frames_first"), mel)
    np.testing.assert_array_equal(load_mel(tmp_path / "square.npy", layout="mels_first"), mel.T)
    np.testing.assert_array_equal(load_mel(tmp_path / "nvidia.pt", layout="frames_first"), mel.T)
    # A square 2-D tensor, as waveglow's mel2samp saves (n_mels, frames): NVIDIA's layout too;
    # one saved frames-first needs its layout named.
    torch.save(torch.from_numpy(mel.T.copy()), tmp_path / "mel2samp.pt")
    np.testing.assert_array_equal(load_mel(tmp_path / "mel2samp.pt"), mel)
    torch.save(torch.from_numpy(mel), tmp_path / "plain.pt")
    np.testing.assert_array_equal(load_mel(tmp_path / "plain.pt", layout="frames_first"), mel)
    # A named layout is checked against n_mels; an unknown one is refused.
    np.save(tmp_path / "long.npy", mel[:, :64].T.copy())  # (64 frames, 80 bands)
    np.testing.assert_array_equal(
        load_mel(tmp_path / "long.npy", layout="frames_first"), mel[:, :64].T
    )
    with pytest.raises(AudioFileError, match=r"long\.npy: layout='mels_first' puts.*\(64, 80\)"):
        load_mel(tmp_path / "long.npy", layout="mels_first")
    with pytest.raises(ValueError, match="layout must be one of"):
        load_mel(tmp_path / "square.npy", layout="mels-first")


def test_load_mel_errors_name_the_file(tmp_path):
    cases = {
        "ambiguous.npy": (np.zeros((80, 80), "float32"), "ambiguous orientation"),
        "wrong_bands.npy": (np.zeros((100, 64), "float32"), "neither axis"),
        "rank3.npy": (np.zeros((2, 80, 10), "float32"), "must be 2-D"),
        "nan.npy": (np.full((10, 80), np.nan, "float32"), "NaN/inf"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array)
        with pytest.raises(AudioFileError, match=message) as error:
            load_mel(tmp_path / name)
        assert name in str(error.value)
    (tmp_path / "mel.txt").write_text("1 2 3")
    with pytest.raises(AudioFileError, match="unknown mel file type"):
        load_mel(tmp_path / "mel.txt")
    (tmp_path / "broken.npy").write_bytes(b"not numpy")
    with pytest.raises(AudioFileError, match=r"broken\.npy: not a \.npy file"):
        load_mel(tmp_path / "broken.npy")
    np.save(tmp_path / "objects.npy", np.array([{"mel": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(AudioFileError, match=r"objects\.npy: holds Python objects"):
        load_mel(tmp_path / "objects.npy")
    # The shape check uses n_mels: 64 bands read fine when asked for.
    assert load_mel(tmp_path / "wrong_bands.npy", n_mels=64).shape == (100, 64)


def _open_files() -> list[str]:
    """The files this process holds open (Linux); descriptors closed meanwhile left out."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return names


def test_load_mel_says_what_a_file_named_npy_really_is(tmp_path):
    # Any non-NPY bytes were reported as "holds Python objects" (np.load's pickle refusal), an
    # .npz archive as "must be 2-D ... got shape (1,)", a structured array as "got shape (5,)".
    text = tmp_path / "text.npy"
    text.write_text("1 2 3\n")
    with pytest.raises(AudioFileError, match=r"text\.npy: not a \.npy file \(no NumPy header"):
        load_mel(text)
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as f:
        np.savez(f, mel=np.zeros((10, 80), "float32"), f0=np.zeros(10))
    with pytest.raises(AudioFileError, match=r"archive\.npy: an \.npz archive \(keys: mel, f0\)"):
        load_mel(archive)
    if os.path.isdir("/proc/self/fd"):
        assert str(archive) not in _open_files()  # the archive was closed
    structured = tmp_path / "structured.npy"
    np.save(structured, np.zeros(5, dtype=[("a", "f4"), ("b", "i4")]))
    with pytest.raises(AudioFileError, match=r"structured\.npy: a structured array \(fields: a, b"):
        load_mel(structured)
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty\.npy: empty file \(0 bytes\)"):
        load_mel(tmp_path / "empty.npy")


def test_load_mel_checks_n_mels_and_names_a_folder(tmp_path):
    np.save(tmp_path / "mel.npy", np.zeros((40, 80), "float32"))
    # "80" read as "neither axis has n_mels=80 entries: (40, 80)".
    for bad in ("80", 80.0, True):
        with pytest.raises(TypeError, match=r"n_mels must be an int"):
            load_mel(tmp_path / "mel.npy", n_mels=bad)
    with pytest.raises(ValueError, match=r"n_mels must be >= 1; got 0"):
        load_mel(tmp_path / "mel.npy", n_mels=0)
    assert load_mel(tmp_path / "mel.npy", n_mels=np.int64(80)).shape == (40, 80)
    # A folder said "no such mel file".
    with pytest.raises(IsADirectoryError, match=re.escape(f"{tmp_path}: is a folder, not a file")):
        load_mel(tmp_path)


def test_load_mel_reads_tacotron2_torch_tensors(tmp_path):
    torch = pytest.importorskip("torch")  # the torch extra; installed in the dev environment
    mel = np.random.default_rng(5).normal(size=(80, 57)).astype("float32")
    torch.save(torch.from_numpy(mel), tmp_path / "mel.pt")
    torch.save(torch.from_numpy(mel)[None], tmp_path / "mel_batch.pt")
    np.testing.assert_array_equal(load_mel(tmp_path / "mel.pt"), mel.T)
    np.testing.assert_array_equal(load_mel(tmp_path / "mel_batch.pt"), mel.T)
    torch.save({"mel": torch.from_numpy(mel)}, tmp_path / "dict.pt")
    with pytest.raises(AudioFileError, match="not a torch tensor"):
        load_mel(tmp_path / "dict.pt")
    # Refused by dtype as from .npy (the float32 cast hid it; complex lost its imaginary part).
    for dtype in (torch.int64, torch.bool, torch.complex64):
        torch.save(torch.ones(57, 80, dtype=dtype), tmp_path / "other.pt")
        with pytest.raises(
            AudioFileError, match=rf"other\.pt: mel values must be floats; got {dtype}"
        ):
            load_mel(tmp_path / "other.pt")
    torch.save(torch.from_numpy(mel).half(), tmp_path / "half.pt")  # float16: taken
    np.testing.assert_array_equal(load_mel(tmp_path / "half.pt"), mel.T.astype("float16"))


def test_load_mel_without_torch_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "mel.pt").write_bytes(b"anything")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match=r"keras-waveglow\[torch\]"):
        load_mel(tmp_path / "mel.pt")


# ------------------------------------------------------------------------------------------------
# Pre-processing and augmentation
# ------------------------------------------------------------------------------------------------


SELF_CONTAINED_EXAMPLES = [
    "mel_filterbank",
    "stft_window",
    "mel_spectrogram",
    "tf_mel_spectrogram",
    "peak_normalize",
    "rms_normalize",
    "trim_silence",
    "dequantize",
    "add_noise",
    "random_gain",
    "random_eq",
    "change_speed",
    "rescale_beyond_full_scale",
]


@pytest.mark.parametrize("name", SELF_CONTAINED_EXAMPLES)
def test_docstring_examples_print_what_they_show(name):
    # The examples that need no file: each shown output must be what the line prints.
    function = getattr(audio_lib, name)
    runner = doctest.DocTestRunner()
    examples = doctest.DocTestFinder().find(function, name, globs=dict(vars(audio_lib)))
    for example in examples:
        runner.run(example)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0 and results.failed == 0, name


def test_peak_and_rms_normalisation():
    audio = np.array([0.1, -0.4, 0.2], "float32")
    np.testing.assert_allclose(audio_lib.peak_normalize(audio), [0.225, -0.9, 0.45], rtol=1e-6)
    assert np.abs(audio_lib.peak_normalize(audio, peak=0.5)).max() == pytest.approx(0.5)
    np.testing.assert_array_equal(audio_lib.peak_normalize(np.zeros(4)), np.zeros(4))
    speech, _ = load_audio(BUNDLED[0])
    for target in (-30.0, -20.0):
        scaled = audio_lib.rms_normalize(speech, target)
        level = 20 * np.log10(np.sqrt(np.mean(scaled.astype(np.float64) ** 2)))
        assert level == pytest.approx(target, abs=1e-3)
    np.testing.assert_array_equal(audio_lib.rms_normalize(np.zeros(4), -20.0), np.zeros(4))


def test_trim_silence_removes_quiet_edges_at_the_chosen_level():
    rate = 16000
    tone = 0.5 * np.sin(2 * np.pi * 300 * np.arange(rate) / rate)
    quiet = 1e-3 * np.sin(2 * np.pi * 300 * np.arange(rate // 2) / rate)  # -54 dB below the tone
    audio = np.concatenate([np.zeros(rate), quiet, tone, np.zeros(rate)]).astype("float32")
    trimmed = audio_lib.trim_silence(audio, top_db=40.0)
    # 40 dB: the quiet part is silence; the kept span is the tone plus at most ~2 frames.
    assert rate <= len(trimmed) <= rate + 2 * 1024
    kept_quiet = audio_lib.trim_silence(audio, top_db=70.0)
    assert rate + rate // 2 <= len(kept_quiet) <= rate + rate // 2 + 2 * 1024


def test_dequantisation_noise_is_uniform_half_lsb_and_seeded():
    audio = np.zeros(200_000, "float32")
    noisy = audio_lib.dequantize(audio, seed=7)
    assert np.abs(noisy).max() <= 0.5 * LSB
    # Uniform on [-LSB/2, LSB/2]: std LSB / sqrt(12); 200k draws estimate it to ~0.2%.
    assert np.std(noisy) == pytest.approx(LSB / np.sqrt(12), rel=0.01)
    np.testing.assert_array_equal(noisy, audio_lib.dequantize(audio, seed=7))
    assert not np.array_equal(noisy, audio_lib.dequantize(audio, seed=8))


def test_additive_noise_hits_the_requested_snr_and_gain_stays_in_range():
    speech, _ = load_audio(BUNDLED[1])
    for snr in (5.0, 20.0):
        noisy = audio_lib.add_noise(speech, snr, seed=0)
        noise = noisy.astype(np.float64) - speech
        measured = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise**2))
        # ~50k Gaussian draws: the noise power estimate is within ~1% (0.05 dB).
        assert measured == pytest.approx(snr, abs=0.1)
    np.testing.assert_array_equal(
        audio_lib.add_noise(speech, 10.0, seed=1), audio_lib.add_noise(speech, 10.0, seed=1)
    )
    gains = [float(audio_lib.random_gain(np.ones(1), -6.0, 3.0, seed=s)[0]) for s in range(50)]
    assert min(gains) >= 10 ** (-6 / 20) - 1e-6 and max(gains) <= 10 ** (3 / 20) + 1e-6
    assert len(set(gains)) == 50
    with pytest.raises(ValueError, match="min_db"):
        audio_lib.random_gain(np.ones(1), 3.0, -3.0)


def _spectrum_at(audio: np.ndarray, rate: int, hz: float) -> float:
    """Amplitude of the `hz` component of a whole number of periods (exact DFT bin)."""
    return float(np.abs(np.fft.rfft(audio))[round(hz * len(audio) / rate)] / (len(audio) / 2))


def test_speed_change_scales_pitch_and_length():
    rate = 16000
    tone = np.sin(2 * np.pi * 200 * np.arange(rate) / rate).astype("float32")
    for factor in (0.8, 1.25):
        faster = audio_lib.change_speed(tone, factor, rate)
        assert len(faster) == round(rate / factor)
        spectrum = np.abs(np.fft.rfft(faster * np.hanning(len(faster))))
        peak_hz = np.argmax(spectrum) * rate / len(faster)
        assert peak_hz == pytest.approx(200 * factor, abs=rate / len(faster))  # one bin
        middle = faster[len(faster) // 4 : -len(faster) // 4]  # away from the edge effects
        assert np.abs(middle).max() == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(audio_lib.change_speed(tone, 1.0), tone)
    with pytest.raises(ValueError, match="positive"):
        audio_lib.change_speed(tone, 0.0)


def test_random_equaliser_high_pass_and_curve_bounds():
    rate = 16000
    t = np.arange(rate) / rate
    low_high = (np.sin(2 * np.pi * 100 * t) + np.sin(2 * np.pi * 1000 * t)).astype("float32")
    # Curve off, high-pass at 300 Hz always: Butterworth magnitude 1 / sqrt(1 + (fc / f)^4);
    # the reflection padding disturbs the edges only (0.5 % here).
    filtered = audio_lib.random_eq(
        low_high, rate, max_db=0.0, highpass_hz=(300, 300), highpass_prob=1.0, seed=0
    )
    for hz in (100, 1000):
        expected = 1 / np.sqrt(1 + (300 / hz) ** 4)
        assert _spectrum_at(filtered, rate, hz) == pytest.approx(expected, rel=0.01)
    # Curve on, no high-pass: every gain within +-max_db, and the draws differ by seed.
    tone = np.sin(2 * np.pi * 1000 * t).astype("float32")
    gains = []
    for seed in range(20):
        out = audio_lib.random_eq(tone, rate, max_db=6.0, highpass_prob=0.0, seed=seed)
        gains.append(20 * np.log10(_spectrum_at(out, rate, 1000)))
    assert max(np.abs(gains)) <= 6.0 + 0.05 and np.std(gains) > 1.0
    np.testing.assert_array_equal(
        audio_lib.random_eq(tone, rate, seed=3), audio_lib.random_eq(tone, rate, seed=3)
    )
    with pytest.raises(ValueError, match="highpass_hz"):
        audio_lib.random_eq(tone, rate, highpass_hz=(300, 9000))
    with pytest.raises(ValueError, match="max_db"):
        audio_lib.random_eq(tone, rate, max_db=-1.0)


def test_reason_without_path_drops_the_name_a_report_already_gives(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = Path("corpus") / "a.wav"
    absolute = tmp_path / relative
    cases = [
        (AudioFileError(f"{relative}: empty file (0 bytes)"), "empty file (0 bytes)"),
        (AudioFileError(f"{absolute}: not an audio file"), "not an audio file"),  # resolved
        (
            RuntimeError(f"Error opening '{relative}': Format not recognised."),
            "Error opening the file: Format not recognised.",
        ),
        (ValueError("other.wav: kept"), "other.wav: kept"),  # another file's name stays
        (OSError(), "OSError"),  # an empty message names the error's type
    ]
    for error, expected in cases:
        assert audio_lib.reason_without_path(error, relative) == expected


def test_load_speech_scales_a_file_beyond_full_scale_and_leaves_others_alone(tmp_path, caplog):
    """What training, evaluate and vocode read: peaks above 1 scaled to RESCALED_PEAK (not
    clipped, so the waveform keeps its shape), files within full scale returned unchanged."""
    from keras_waveglow.audio import RESCALED_PEAK, load_speech

    tone = np.sin(2 * np.pi * 220 * np.arange(8000) / 16000).astype(np.float32)
    sf.write(tmp_path / "loud.wav", 2.5 * tone, 16000, subtype="FLOAT")
    sf.write(tmp_path / "fine.wav", 0.5 * tone, 16000, subtype="FLOAT")
    with caplog.at_level("WARNING", logger="keras_waveglow"):
        loud, rate = load_speech(tmp_path / "loud.wav")
    assert rate == 16000 and np.max(np.abs(loud)) == pytest.approx(RESCALED_PEAK, rel=1e-6)
    np.testing.assert_allclose(loud, RESCALED_PEAK * tone / np.max(np.abs(tone)), atol=1e-6)
    assert "loud.wav: samples reach 2.500, beyond full scale" in caplog.text
    caplog.clear()
    fine, _ = load_speech(tmp_path / "fine.wav")
    np.testing.assert_array_equal(fine, 0.5 * tone)
    assert caplog.text == ""


def test_load_speech_names_a_file_recorded_below_twice_the_mel_s_top(tmp_path, caplog):
    """An 8 kHz file vocoded or scored at 22.05 kHz (fmax 8 kHz) has nothing above 4 kHz:
    named; a 16 kHz file (nothing missing below 8 kHz) is not, unless the mel reaches 11 kHz."""
    from keras_waveglow.audio import load_speech

    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(8000) / 8000).astype(np.float32)
    sf.write(tmp_path / "narrow.wav", tone, 8000)
    sf.write(tmp_path / "wide.wav", np.repeat(tone, 2), 16000)
    mel_config = {"sample_rate": 22050, "fmax": 8000.0}
    with caplog.at_level("WARNING", logger="keras_waveglow"):
        audio, rate = load_speech(tmp_path / "narrow.wav", mel_config)
        load_speech(tmp_path / "wide.wav", mel_config)
        load_speech(tmp_path / "narrow.wav")  # no mel settings: the file's rate, no warning
        load_speech(tmp_path / "wide.wav", {"sample_rate": 22050, "fmax": None})  # to 11025 Hz
    assert rate == 22050 and len(audio) == round(8000 * 22050 / 8000)
    named = [r.getMessage() for r in caplog.records]
    assert named == [
        f"{tmp_path / 'narrow.wav'}: recorded at 8000 Hz: nothing above 4000 Hz, below the "
        "mel's top (8000 Hz); its top bands are empty.",
        f"{tmp_path / 'wide.wav'}: recorded at 16000 Hz: nothing above 8000 Hz, below the "
        "mel's top (11025 Hz); its top bands are empty.",
    ]
