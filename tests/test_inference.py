"""vocode (shapes, noise, buckets, chunking, default model, model specs), Denoiser, CLI vocode."""

from __future__ import annotations

import gc
import io
import os
import weakref

import h5py
import keras
import librosa
import numpy as np
import pytest
import scipy.signal
import soundfile as sf
from keras import ops

from keras_waveglow import WaveGlow, cli, inference
from keras_waveglow.audio import load_audio
from keras_waveglow.inference import (
    Denoiser,
    bucket_frames,
    load_vocoder,
    receptive_field_frames,
    runner_for,
    set_default_model,
    vocode,
)
from tests import vocode_helpers
from tests.helpers import assert_config_round_trip, perturb_weights

SPEECH = vocode_helpers.SPEECH
HOP = 256


@pytest.fixture
def model():
    """The tiny preset with perturbed weights, shared (with its compiled functions) by tests."""
    return vocode_helpers.tiny_model()


@pytest.fixture
def speech_mel():
    """(194, 80) log-mel of a bundled ARCTIC utterance."""
    return vocode_helpers.speech_mel()


@pytest.fixture
def model_file():
    """`model` saved as .keras (one file per session, so `load_vocoder` caches it)."""
    return vocode_helpers.tiny_model_file()


@pytest.fixture(autouse=True)
def _no_default_model(monkeypatch):
    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    set_default_model(None)
    yield
    set_default_model(None)


def _padded_inverse(model, mel, seed, sigma):
    """The reference: the model's inverse on the mel padded to its bucket (with at least its
    right receptive field of silence), with NumPy noise."""
    frames = mel.shape[0]
    bucket = bucket_frames(frames + receptive_field_frames(model)[1])
    padded = np.full((1, bucket, 80), np.log(1e-5), "float32")
    padded[0, :frames] = mel
    z = np.zeros((1, bucket * HOP // 8, 8), "float32")
    z[0, : frames * HOP // 8] = np.random.default_rng(seed).standard_normal(
        (frames * HOP // 8, 8), dtype=np.float32
    ) * np.float32(sigma)
    audio = ops.convert_to_numpy(model.inverse(padded, z=z))[0]
    return audio[: frames * HOP]


# --------------------------------------------------------------------------------------------
# vocode
# --------------------------------------------------------------------------------------------


def test_vocode_is_the_inverse_with_seeded_numpy_noise(model, speech_mel):
    mel = speech_mel[:27]
    audio = vocode(mel, model, sigma=0.6, seed=7)
    expected = _padded_inverse(model, mel, seed=7, sigma=0.6)
    assert audio.dtype == np.float32 and audio.shape == (27 * HOP,)
    # Same graph, same inputs: only float32 reassociation differs (compiled vs eager).
    np.testing.assert_allclose(audio, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    # The noise comes from NumPy, so a seed means the same audio on TensorFlow and JAX.
    np.testing.assert_array_equal(audio, vocode(mel, model, sigma=0.6, seed=7))
    assert np.abs(audio - vocode(mel, model, sigma=0.6, seed=8)).max() > 1e-3


def test_vocode_shapes_batches_and_lists(model, speech_mel):
    batch = np.stack([speech_mel[:20], speech_mel[20:40]])
    audio = vocode(batch, model, sigma=0.0)
    assert audio.shape == (2, 20 * HOP) and audio.dtype == np.float32
    # A batch gives what each mel gives alone (padding rows and frames change nothing).
    alone = vocode(speech_mel[20:40], model, sigma=0.0)
    np.testing.assert_allclose(audio[1], alone, rtol=0, atol=1e-5 * np.abs(alone).max())
    ragged = vocode([speech_mel[:20], speech_mel[:25]], model, sigma=0.0)
    assert [a.shape for a in ragged] == [(20 * HOP,), (25 * HOP,)]
    tensor = vocode(ops.convert_to_tensor(speech_mel[:20]), model, sigma=0.0)
    np.testing.assert_allclose(tensor, audio[0], rtol=0, atol=1e-5 * np.abs(alone).max())


def test_vocode_compiles_once_per_bucket(speech_mel):
    # A model of its own: other tests may already have compiled the shared model's buckets.
    model = WaveGlow.from_preset("tiny")
    runner = runner_for(model)
    vocode(speech_mel[:20], model, sigma=0.0)  # bucket 32, batch 1 (compiled at most once)
    before = runner.trace_count
    vocode(speech_mel[:27], model, sigma=0.0)
    vocode(speech_mel[:31], model, sigma=0.0)  # + 1 frame of silence (right receptive field)
    assert runner.trace_count == before, "a length inside the same bucket was traced again"
    vocode(speech_mel[:40], model, sigma=0.0)  # bucket 64
    assert runner.trace_count == before + 1
    assert [bucket_frames(n) for n in (1, 32, 33, 64, 65, 500)] == [32, 32, 64, 64, 128, 512]


def test_receptive_field_is_what_chunking_assumes(model, speech_mel):
    run = runner_for(model).predict_on_batch  # the compiled model.inverse(mel, z=z)
    mel = np.array(speech_mel[None, :64])
    z = np.zeros((1, 64 * HOP // 8, 8), "float32")
    base = run([mel, z])[0]
    mel[0, 20] += 1.0
    changed = run([mel, z])[0]
    left, right = receptive_field_frames(model)
    moved = np.nonzero(np.abs(changed - base) > 1e-6)[0]
    # Frame 20 reaches the samples of frames 20..23 through the upsampler, then WN spreads them
    # by less than one frame each way in the tiny preset: (left, right) = (3 + 1, 1).
    assert (left, right) == (4, 1)
    assert moved.min() >= (20 - right) * HOP
    assert moved.max() < (20 + left + right) * HOP
    assert moved.min() < 21 * HOP and moved.max() >= 23 * HOP  # the upsampler's 4 frames


@pytest.mark.parametrize("mode, expected", [("nearest", (2, 2)), ("linear", (3, 3))])
def test_receptive_field_of_frame_rate_conditioning(mode, expected):
    """squeezewave_tiny: 4 flows x 2 undilated layers reach 8 steps of 64 samples (2 frames)
    each way, plus the interpolation's frame each way when linear."""
    model = WaveGlow.from_preset("squeezewave_tiny", mel_upsampling=mode, seed=0)
    perturb_weights(model, scale=0.05)
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((1, 16, 80)).astype("float32")
    z = (0.6 * rng.standard_normal((1, 16 * 4, 64))).astype("float32")
    base = ops.convert_to_numpy(model.inverse(mel, z=z))[0]
    mel[0, 8] += 1.0
    changed = ops.convert_to_numpy(model.inverse(mel, z=z))[0]
    left, right = receptive_field_frames(model)
    assert (left, right) == expected
    moved = np.nonzero(np.abs(changed - base) > 1e-6)[0]
    assert moved.min() >= (8 - right) * HOP
    assert moved.max() < (8 + left + 1) * HOP
    assert moved.min() < 8 * HOP and moved.max() >= 9 * HOP  # it does reach past its frame


@pytest.mark.parametrize("sigma", [0.0, 0.6])
def test_chunked_equals_whole(model, speech_mel, sigma, monkeypatch):
    whole = vocode(speech_mel, model, sigma=sigma, seed=3, chunk_frames=1024)
    runner = runner_for(model)
    shapes = []
    original = runner.predict_on_batch

    def spy(inputs):
        shapes.append(inputs[0].shape)
        return original(inputs)

    monkeypatch.setattr(runner, "predict_on_batch", spy)
    chunked = vocode(
        speech_mel, model, sigma=sigma, seed=3, chunk_frames=48, fade_frames=4, batch_size=2
    )
    # Bounded memory: 194 frames in windows of 48 + 2 * 7 context frames, two at a time.
    assert {s[1:] for s in shapes} == {(62, 80)} and max(s[0] for s in shapes) <= 2
    assert np.std(whole) > 0.1  # the perturbed model makes real signal, not silence
    keep = np.ones(len(whole), bool)
    for boundary in (48, 96, 144):  # the fades: 4 frames around each core boundary
        keep[(boundary - 2) * HOP : (boundary + 2) * HOP] = False
    error = np.abs(chunked - whole)[keep].max() / np.abs(whole).max()
    # The default overlap covers the receptive field, so only float32 rounding differs.
    assert error < 1e-3
    assert np.abs(chunked - whole).max() / np.abs(whole).max() < 1e-3  # fades included


def test_the_last_frames_do_not_depend_on_the_bucket_or_the_chunking(model, speech_mel):
    # 64 frames fill their bucket: padded to 128 with silence, as the last chunk of a chunked
    # run is, so the end is made alike (unpadded, as before, this assertion fails).
    mel = speech_mel[:64]
    whole = vocode(mel, model, sigma=0.6, seed=5)
    chunked = vocode(mel, model, sigma=0.6, seed=5, chunk_frames=16, fade_frames=4)
    # As test_chunked_equals_whole: float32 rounding (and the fades) only.
    assert np.abs(chunked - whole).max() / np.abs(whole).max() < 1e-3
    # The tail is the inverse of the mel followed by silence, whatever the bucket.
    expected = _padded_inverse(model, mel, seed=5, sigma=0.6)
    np.testing.assert_allclose(whole, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    for frames in (63, 64, 65):  # a longer mel's first frames: the same audio
        longer = vocode(speech_mel[:frames], model, sigma=0.0)
        end = min(frames, 62) * HOP  # away from each one's own end (right field: 1 frame)
        reference = vocode(speech_mel[:62], model, sigma=0.0)
        np.testing.assert_allclose(
            longer[: end - HOP], reference[: end - HOP], rtol=0, atol=1e-5 * np.abs(reference).max()
        )


def test_normalize_option(model, speech_mel):
    audio = vocode(speech_mel[:20], model, sigma=0.0, normalize=True)
    assert np.abs(audio).max() == pytest.approx(0.9, rel=1e-6)
    audio = vocode(speech_mel[:20], model, sigma=0.0, normalize=0.5)
    assert np.abs(audio).max() == pytest.approx(0.5, rel=1e-6)


def test_bad_mels_are_refused_clearly(model, speech_mel):
    with pytest.raises(ValueError, match=r"expects \(frames, 80\).*transposed"):
        vocode(speech_mel[:90].T, model)
    with pytest.raises(ValueError, match=r"expects \(frames, 80\)"):
        vocode(np.zeros((10, 64), "float32"), model)
    with pytest.raises(ValueError, match="NaN"):
        vocode(np.full((10, 80), np.nan, "float32"), model)
    with pytest.raises(ValueError, match="shape"):
        vocode(np.zeros((80,), "float32"), model)
    with pytest.raises(ValueError, match="sigma"):
        vocode(speech_mel[:10], model, sigma=-1.0)
    with pytest.raises(ValueError, match="half the fade"):
        vocode(speech_mel, model, chunk_frames=32, overlap_frames=1, fade_frames=8)
    # NaN compares False with everything: it must not pass for "no noise" or "no denoising".
    with pytest.raises(ValueError, match="sigma must be a finite number"):
        vocode(speech_mel[:10], model, sigma=float("nan"))
    for strength in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="denoiser_strength"):
            vocode(speech_mel[:10], model, denoiser_strength=strength)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        vocode(speech_mel[:10], model, batch_size=0)
    with pytest.raises(ValueError, match=r"mel batch is empty \(shape \(0, 20, 80\)\)"):
        vocode(np.zeros((0, 20, 80), "float32"), model)


def test_fade_longer_than_chunk_is_refused_before_any_model_work(model, speech_mel, monkeypatch):
    from keras_waveglow import presets

    # No model anywhere: a check after loading one would raise RuntimeError instead.
    monkeypatch.setattr(presets, "DEFAULT_PRESET", None)
    with pytest.raises(ValueError, match=r"fade_frames \(16\) must not exceed chunk_frames \(8\)"):
        vocode(speech_mel, chunk_frames=8, fade_frames=16)
    with pytest.raises(ValueError, match=r"fade_frames \(3\) must not exceed chunk_frames \(2\)"):
        vocode(speech_mel, model, chunk_frames=2, fade_frames=3)
    # A fade as long as the chunk is the longest whose weights still sum to one.
    whole = vocode(speech_mel[:60], model, sigma=0.6, seed=1, chunk_frames=1024)
    chunked = vocode(speech_mel[:60], model, sigma=0.6, seed=1, chunk_frames=8, fade_frames=8)
    assert np.abs(chunked - whole).max() / np.abs(whole).max() < 1e-3


def test_the_denoiser_compiles_once_per_bucket_and_equals_the_unbucketed(
    model, speech_mel, monkeypatch
):
    """vocode's denoiser ran once per output length (a compilation each: 0.3 s a length on
    JAX); the outputs of one bucket now share a shape and equal `denoise` of each alone."""
    denoise = inference.Denoiser.denoise
    shapes = []

    def spy(self, audio, strength=None):
        shapes.append(np.shape(audio))
        return denoise(self, audio, strength)

    denoiser = inference.denoiser_for(model)
    for frames in (1, 20, 23, 27):
        raw = vocode(speech_mel[:frames], model, sigma=0.0)
        with monkeypatch.context() as patch:
            patch.setattr(inference.Denoiser, "denoise", spy)
            got = vocode(speech_mel[:frames], model, sigma=0.0, denoiser_strength=0.1)
        padded = np.pad(raw, (0, max(0, model.n_fft // 2 + 1 - len(raw))))
        want = denoise(denoiser, padded, 0.1)[: len(raw)]
        # The same frames read the same samples: float32 rounding of the FFTs only.
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert len(shapes) == 4 and len(set(shapes[1:])) == 1, shapes


def test_denoiser_on_a_one_frame_mel(model, speech_mel):
    # One frame is 256 samples, fewer than the denoiser's STFT needs (n_fft // 2 + 1 = 513):
    # the output is padded with silence for it and cropped back.
    plain = vocode(speech_mel[:1], model, sigma=0.0)
    denoised = vocode(speech_mel[:1], model, sigma=0.0, denoiser_strength=0.1)
    assert plain.shape == denoised.shape == (HOP,)
    assert np.all(np.isfinite(denoised)) and not np.array_equal(plain, denoised)


# --------------------------------------------------------------------------------------------
# Which model: default model, paths, presets, NVIDIA checkpoints
# --------------------------------------------------------------------------------------------


def test_no_model_error_says_how_to_get_one(monkeypatch):
    from keras_waveglow import presets

    monkeypatch.setattr(presets, "DEFAULT_PRESET", None)  # an installation without bundled weights
    with pytest.raises(RuntimeError) as info:
        vocode(np.zeros((10, 80), "float32"))
    message = str(info.value)
    hints = ("set_default_model", "KERAS_WAVEGLOW_MODEL", "train", "from_nvidia", "from_preset")
    for hint in (*hints, "nvidia_ljspeech", "nvidia_universal"):
        assert hint in message


def test_default_model_from_setter_and_environment(model, speech_mel, model_file, monkeypatch):
    path = model_file
    expected = vocode(speech_mel[:20], model, sigma=0.0)

    monkeypatch.setenv(inference.MODEL_ENV_VAR, str(path))
    audio, sample_rate = vocode(speech_mel[:20], sigma=0.0)  # a path gives the rate too
    assert sample_rate == 16000
    np.testing.assert_allclose(audio, expected, rtol=0, atol=1e-5 * np.abs(expected).max())

    monkeypatch.delenv(inference.MODEL_ENV_VAR)
    set_default_model(model)  # an object set as default: vocode(mel) still gives the rate
    audio, sample_rate = vocode(speech_mel[:20], sigma=0.0)
    assert isinstance(audio, np.ndarray) and sample_rate == 16000
    np.testing.assert_array_equal(audio, expected)
    batch = vocode(np.stack([speech_mel[:20]] * 2), sigma=0.0)
    assert isinstance(batch, tuple) and batch[0].shape == (2, expected.shape[0])

    set_default_model(path)
    audio, sample_rate = vocode(speech_mel[:20], sigma=0.0)
    np.testing.assert_allclose(audio, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_misspelled_model_names_are_refused_where_given_with_the_closest_preset(
    tmp_path, monkeypatch
):
    with pytest.raises(
        FileNotFoundError, match=r"'squeezwave_128s'.*Did you mean 'squeezewave_128s'\?"
    ):
        set_default_model("squeezwave_128s")  # at once, not at the next vocode(mel)
    assert inference.get_default_model() is None
    with pytest.raises(FileNotFoundError, match=r"Did you mean 'nvidia_22k'\?"):
        load_vocoder("nvidia-22k")
    monkeypatch.setenv(inference.MODEL_ENV_VAR, "Tiny")
    with pytest.raises(
        FileNotFoundError, match=r"'Tiny' \(set by \$KERAS_WAVEGLOW_MODEL\).*'tiny'"
    ):
        load_vocoder(None)
    with pytest.raises(FileNotFoundError) as error:  # nothing close: no guess, the list
        load_vocoder(str(tmp_path / "missing.keras"))
    assert "Did you mean" not in str(error.value) and "squeezewave_128s_klettres" in str(
        error.value
    )


def test_mels_from_torch_and_nested_lists(model, speech_mel):
    torch = pytest.importorskip("torch")
    expected = vocode(speech_mel[:20], model, sigma=0.0)
    tensor = torch.from_numpy(np.array(speech_mel[:20])).requires_grad_(True)
    np.testing.assert_array_equal(vocode(tensor, model, sigma=0.0), expected)
    with pytest.raises(ValueError, match=r"item 0 has shape \(80,\); .*np\.asarray\(mel\)"):
        vocode(speech_mel[:20].tolist(), model)


def test_preset_with_weights_of_more_flows_is_refused(tmp_path):
    """load_weights skips arrays the model lacks: a 6-flow file loaded silently into "tiny"."""
    weights = tmp_path / "six.weights.h5"
    WaveGlow.from_preset("tiny", n_flows=6, seed=0).save_weights(weights)
    with pytest.raises(
        ValueError, match=r"six\.weights\.h5: its weights do not fit .*shapes only in the file"
    ):
        load_vocoder("tiny", weights=weights)


def test_model_specifications(model, tmp_path, monkeypatch):
    weights = tmp_path / "tiny.weights.h5"
    model.save_weights(weights)
    loaded = load_vocoder("tiny", weights=weights)
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    assert load_vocoder(("tiny", weights)) is loaded  # cached
    with pytest.raises(ValueError, match="weights="):
        load_vocoder("tiny")
    with pytest.raises(ValueError, match="preset it belongs to"):
        load_vocoder(weights)
    with pytest.raises(FileNotFoundError, match=r"nowhere\.keras"):
        load_vocoder(tmp_path / "nowhere.keras")
    # Weights belong with a preset name; a model that carries its own never ignores them.
    with pytest.raises(ValueError, match=r"tiny\.weights\.h5.*a WaveGlow object"):
        load_vocoder(model, weights=weights)
    with pytest.raises(ValueError, match="a WaveGlow object"):
        set_default_model(model, weights=weights)  # refused where it is given
    # Clearing the default takes no weights (they were dropped, the bundled ones used).
    with pytest.raises(ValueError, match=r"takes no weights.*set_default_model\(<preset>"):
        set_default_model(None, weights=weights)
    assert inference.get_default_model() is None
    keras_file = tmp_path / "tiny.keras"
    model.save(keras_file)
    with pytest.raises(ValueError, match=r"the \.keras file .*tiny\.keras"):
        load_vocoder(keras_file, weights=weights)
    # The cache follows the file: one rewritten in place with its old mtime (cp -p, rsync
    # -t, a coarse clock) is loaded anew (the first model came back).
    first = load_vocoder(keras_file)
    times = keras_file.stat()
    other = WaveGlow.from_preset("tiny", seed=1)
    other.save(keras_file)
    os.utime(keras_file, ns=(times.st_atime_ns, times.st_mtime_ns))
    again = load_vocoder(keras_file)
    assert again is not first
    np.testing.assert_array_equal(
        ops.convert_to_numpy(again.weights[0]), ops.convert_to_numpy(other.weights[0])
    )

    # A .keras file of a class Keras cannot rebuild here: named, as a ValueError (the CLI's
    # exit 2), not Keras' TypeError.
    class NotRegistered(keras.layers.Layer):
        def call(self, x):
            return x

    foreign = tmp_path / "foreign.keras"
    keras.Sequential([keras.Input((3,)), NotRegistered()]).save(foreign)
    with pytest.raises(ValueError, match=r"foreign\.keras: Keras cannot rebuild the model"):
        load_vocoder(foreign)

    # Any other file is an NVIDIA checkpoint, imported lazily with convert.from_nvidia.
    from keras_waveglow import convert

    seen = []
    monkeypatch.setattr(convert, "from_nvidia", lambda path: seen.append(path) or model)
    checkpoint = tmp_path / "waveglow_256channels.pt"
    checkpoint.write_bytes(b"not read by the stub")
    assert load_vocoder(checkpoint) is model and seen == [checkpoint]


# --------------------------------------------------------------------------------------------
# Denoiser
# --------------------------------------------------------------------------------------------


def _tones(*frequencies, sample_rate=16000, seconds=1.0):
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    return sum(0.3 * np.sin(2 * np.pi * f * t) for f in frequencies).astype("float32")


def _band_db(audio, frequency, sample_rate=16000):
    spectrum = np.abs(librosa.stft(audio, n_fft=1024, hop_length=256))[:, 4:-4]
    return 20 * np.log10(spectrum[round(frequency / sample_rate * 1024)].mean())


def _reference_denoise(audio, bias, strength, n_fft=1024, hop=256):
    """The algorithm in librosa/NumPy: |STFT| - strength * bias, clamped at 0, phase kept."""
    stft = librosa.stft(audio, n_fft=n_fft, hop_length=hop, center=True, pad_mode="reflect")
    magnitude = np.abs(stft)
    cleaned = np.maximum(magnitude - strength * bias[:, None], 0.0)
    return librosa.istft(cleaned * np.exp(1j * np.angle(stft)), hop_length=hop, length=len(audio))


def test_denoiser_standalone_removes_the_given_spectrum():
    mixture = _tones(1000, 3000)
    tone = librosa.stft(_tones(1000), n_fft=1024, hop_length=256, pad_mode="reflect")
    bias = np.abs(tone).mean(axis=1)
    denoiser = Denoiser(n_fft=1024, bias_spectrum=bias)
    # Strength 0 is an STFT round trip: identity up to float32 rounding.
    identity = denoiser.denoise(mixture, strength=0.0)
    np.testing.assert_allclose(identity, mixture, rtol=0, atol=1e-5)
    cleaned = denoiser.denoise(mixture, strength=1.0)
    assert _band_db(cleaned, 1000) - _band_db(mixture, 1000) < -30.0  # the biased tone goes
    assert abs(_band_db(cleaned, 3000) - _band_db(mixture, 3000)) < 0.1  # the other stays
    # Against an independent librosa implementation (float32 vs float64 FFTs: 1e-4). The layer
    # reflect-pads n_fft // 2 more (TensorFlow's inverse STFT is wrong at the very edges), which
    # only changes the first and last n_fft samples; with the same padding all of it matches.
    reference = _reference_denoise(mixture, bias, strength=0.5)
    actual = denoiser.denoise(np.stack([mixture, mixture]), strength=0.5)
    assert actual.shape == (2, len(mixture))
    np.testing.assert_allclose(actual[1, 1024:-1024], reference[1024:-1024], rtol=0, atol=1e-4)
    padded = _reference_denoise(np.pad(mixture, 512, mode="reflect"), bias, strength=0.5)
    np.testing.assert_allclose(actual[0], padded[512:-512], rtol=0, atol=1e-4)


def test_denoiser_from_model_measures_the_zero_mel_output(model, speech_mel):
    denoiser = Denoiser.from_model(model, strength=0.1)
    # The model's output for an all-zero log-mel of 64 frames at sigma 0, as NVIDIA's infer
    # makes it (no silence after it, unlike vocode).
    bias_audio = ops.convert_to_numpy(
        model.inverse(np.zeros((1, 64, 80), "float32"), z=np.zeros((1, 64 * HOP // 8, 8)))
    )
    stft = librosa.stft(bias_audio[0], n_fft=1024, hop_length=256, pad_mode="reflect")
    expected = np.abs(stft).mean(axis=1)
    actual = ops.convert_to_numpy(denoiser.bias_spectrum)
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-4 * expected.max())
    # The model's own bias, denoised at strength 1, loses most of its energy.
    cleaned = denoiser.denoise(bias_audio[0], strength=1.0)
    assert np.sum(cleaned**2) < 0.1 * np.sum(bias_audio**2)
    # vocode(..., denoiser_strength) applies the same denoiser to its output.
    raw = vocode(speech_mel[:64], model, sigma=0.0)
    denoised = vocode(speech_mel[:64], model, sigma=0.0, denoiser_strength=0.1)
    expected = denoiser.denoise(raw, strength=0.1)
    np.testing.assert_allclose(denoised, expected, rtol=0, atol=1e-5)
    assert np.abs(denoised - raw).max() > 1e-3
    assert_config_round_trip(denoiser)
    with pytest.raises(ValueError, match="bias_spectrum must have shape"):
        Denoiser(n_fft=512, bias_spectrum=np.zeros(513))
    with pytest.raises(ValueError, match="too short"):
        denoiser.denoise(np.zeros(100, "float32"))


def test_denoiser_takes_nvidia_s_bias_frame_on_request(model):
    """frames="first" with 88 frames: NVIDIA's bias, the magnitude of the first frame of the
    zero mel's audio, framed as its STFT does (reflect-padded by n_fft / 2, periodic Hann)."""
    nvidia = Denoiser.from_model(model, frames="first", n_frames=88)
    bias_audio = ops.convert_to_numpy(
        model.inverse(np.zeros((1, 88, 80), "float32"), z=np.zeros((1, 88 * HOP // 8, 8)))
    )[0].astype(np.float64)
    first = np.pad(bias_audio, 512, mode="reflect")[:1024] * scipy.signal.get_window("hann", 1024)
    expected = np.abs(np.fft.rfft(first))
    actual = ops.convert_to_numpy(nvidia.bias_spectrum)
    np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-4 * expected.max())
    averaged = ops.convert_to_numpy(Denoiser.from_model(model, n_frames=88).bias_spectrum)
    assert np.abs(averaged - actual).max() > 1e-3 * expected.max()  # not the average
    with pytest.raises(ValueError, match="frames must be 'mean' or 'first'; got 'last'"):
        Denoiser.from_model(model, frames="last")


def _nvidia_denoise(audio, bias, strength, n_fft=1024, hop=256):
    """NVIDIA's denoiser (waveglow's denoiser.py on tacotron2's STFT) in float64 NumPy: frames
    of the audio reflect-padded by n_fft / 2, periodic Hann, magnitude minus strength * bias
    clamped at 0 with the phase kept, overlap-added back, divided by the window's summed
    square where it is not tiny, n_fft / 2 cropped from each end: hop * (T // hop) samples."""
    window = scipy.signal.get_window("hann", n_fft)
    padded = np.pad(np.asarray(audio, np.float64), n_fft // 2, mode="reflect")
    starts = range(0, len(padded) - n_fft + 1, hop)
    spectra = np.stack([np.fft.rfft(padded[s : s + n_fft] * window) for s in starts])
    magnitude = np.abs(spectra)
    cleaned = np.maximum(magnitude - strength * np.asarray(bias, np.float64), 0.0)
    frames = np.fft.irfft(cleaned * np.exp(1j * np.angle(spectra)), n_fft) * window
    out = np.zeros(n_fft + hop * (len(frames) - 1))
    norm = np.zeros_like(out)
    for i, frame in enumerate(frames):
        out[i * hop : i * hop + n_fft] += frame
        norm[i * hop : i * hop + n_fft] += window**2
    nonzero = norm > np.finfo(np.float64).tiny
    out[nonzero] /= norm[nonzero]
    return out[n_fft // 2 : -(n_fft // 2)]


@pytest.mark.parametrize("length", [256 * 40, 256 * 40 + 77])
def test_denoiser_output_is_nvidia_s_away_from_the_ends(length):
    """The same audio and bias spectrum through `Denoiser` and NVIDIA's denoiser: equal to
    float32 rounding but in the first and last hop (an extra reflect pad, for TensorFlow's
    inverse STFT); NVIDIA's drops the last T % hop samples, this one keeps them."""
    audio, _ = load_audio(vocode_helpers.SPEECH, 22050)
    audio = audio[:length]
    bias = 0.5 * np.abs(librosa.stft(audio, n_fft=1024, hop_length=256)).mean(axis=1)
    denoiser = Denoiser(bias_spectrum=bias)
    for strength in (0.0, 0.3):
        want = _nvidia_denoise(audio, bias, strength)
        got = denoiser.denoise(audio, strength=strength)
        assert len(want) == 256 * (length // 256) and len(got) == length
        interior = slice(256, len(want) - 256)
        # float32 STFT, masking and inverse against float64: 1e-5 of the peak (2.9e-7 here at
        # strengths 0 and 0.3 when written).
        np.testing.assert_allclose(
            got[interior], want[interior], atol=1e-5 * np.abs(want).max(), rtol=0
        )
        assert np.abs(got[interior] - audio[interior]).max() > 1e-3 or strength == 0


def test_vocoded_models_and_denoisers_are_freed_once_dropped(speech_mel):
    """The compiled wrappers are cached on their model (or denoiser), not in module-level
    dictionaries whose runners kept every model vocoded once alive for good."""
    refs = []
    for seed in range(2):
        model = WaveGlow.from_preset("tiny", seed=seed)
        vocode(speech_mel[:20], model, sigma=0.0, denoiser_strength=0.1)
        runner, denoiser = runner_for(model), inference.denoiser_for(model)
        traced = runner.trace_count
        vocode(speech_mel[:20], model, sigma=0.0, denoiser_strength=0.1)
        # Still cached while the model lives: the same wrappers, nothing traced again.
        assert runner_for(model) is runner and inference.denoiser_for(model) is denoiser
        assert runner.trace_count == traced
        refs += [weakref.ref(model), weakref.ref(runner), weakref.ref(denoiser)]
        del model, runner, denoiser
        gc.collect()
    standalone = Denoiser(n_fft=1024, bias_spectrum=np.ones(513, "float32"))
    standalone.denoise(np.zeros(2048, "float32"))  # compiles through its own cached wrapper
    refs.append(weakref.ref(standalone))
    del standalone
    gc.collect()
    assert [ref() is None for ref in refs] == [True] * 7


def test_cached_wrappers_stay_out_of_saved_models(speech_mel, tmp_path):
    model = WaveGlow.from_preset("tiny", seed=0)
    model.save_weights(tmp_path / "before.weights.h5")
    vocode(speech_mel[:20], model, sigma=0.0, denoiser_strength=0.1)
    model.save_weights(tmp_path / "after.weights.h5")
    with (
        h5py.File(tmp_path / "before.weights.h5") as b,
        h5py.File(tmp_path / "after.weights.h5") as a,
    ):
        names = [[], []]
        b.visit(names[0].append)
        a.visit(names[1].append)
    assert names[0] == names[1]
    model.save(tmp_path / "after.keras")
    reloaded = keras.saving.load_model(tmp_path / "after.keras")
    assert [w.path for w in reloaded.weights] == [w.path for w in model.weights]


# --------------------------------------------------------------------------------------------
# keras-waveglow vocode
# --------------------------------------------------------------------------------------------


def test_cli_vocode_directory_with_a_corrupt_file(model_file, speech_mel, tmp_path, capsys):
    mels = tmp_path / "mels"
    mels.mkdir()
    np.save(mels / "a.npy", speech_mel[:20])
    np.save(mels / "b.npy", speech_mel[:27])
    try:  # .pt (Tacotron 2's (n_mels, frames) tensors) needs the torch extra
        import torch

        torch.save(torch.from_numpy(np.array(speech_mel[:31].T)), mels / "c.pt")
    except ImportError:
        np.save(mels / "c.npy", speech_mel[:31])
    (mels / "broken.npy").write_bytes(b"\x93NUMPY garbage, not an array")
    out = tmp_path / "out"
    argv = ["vocode", str(mels), "-o", str(out), "--model", str(model_file), "--seed", "0"]
    code = cli.main([*argv, "--no-progress"])
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.wav", "b.wav", "c.wav"]
    err = capsys.readouterr().err
    assert "broken.npy" in err and "wrote 3 file(s)" in err and "1 failed" in err
    for name, frames in (("a", 20), ("b", 27), ("c", 31)):
        audio, rate = sf.read(out / f"{name}.wav")
        assert rate == 16000 and audio.shape == (frames * HOP,) and np.std(audio) > 1e-3

    # Existing outputs are kept unless --overwrite: a rerun does what is left (exit 0 when
    # that is nothing; it was exit 2, as if refused, and a partial rerun's kept files failed).
    before = (out / "a.wav").read_bytes()
    (mels / "broken.npy").unlink()
    np.save(mels / "a.npy", speech_mel[40:60])
    assert cli.main([*argv, "--no-progress"]) == 0  # every output there: nothing to do
    err = capsys.readouterr().err
    assert "wrote 0 file(s) to" in err and "kept 3 existing (--overwrite replaces" in err, err
    assert "FAILED" not in err
    assert (out / "a.wav").read_bytes() == before
    (out / "b.wav").unlink()  # an interrupted batch: the rest is done, exit 0
    assert cli.main([*argv, "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "wrote 1 file(s)" in err and "kept 2 existing" in err and "FAILED" not in err
    assert (out / "a.wav").read_bytes() == before and (out / "b.wav").exists()
    (out / "c.wav").unlink()
    (out / "c.wav").mkdir()  # a folder where an output goes is no output to keep
    assert cli.main([*argv, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"FAILED {mels / 'c'}" in err and f"its output {out / 'c.wav'} is a folder" in err
    (out / "c.wav").rmdir()
    assert cli.main([*argv, "--no-progress", "--overwrite"]) == 0
    assert (out / "a.wav").read_bytes() != before

    # Settings are checked before the model is loaded; an output folder that is a file is named.
    assert cli.main([*argv, "--no-progress", "--batch-size", "0"]) == 2
    assert "batch_size must be >= 1" in capsys.readouterr().err
    assert cli.main([*argv[:3], str(mels / "a.npy"), *argv[4:], "--no-progress"]) == 2
    assert "a.npy: the output folder is an existing file" in capsys.readouterr().err

    # An empty folder is a failed input (named; exit 2: nothing started), not a silent
    # "wrote 0 file(s)"; the model is not loaded for it (a missing one is not mentioned).
    (tmp_path / "empty").mkdir()
    argv = ["vocode", str(tmp_path / "empty"), "-o", str(tmp_path / "out2")]
    assert cli.main([*argv, "--model", str(tmp_path / "none.keras"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "empty: the folder holds no files" in err and "none.keras" not in err


def test_vocode_files_never_replaces_its_own_input(model, tmp_path):
    audio, _ = load_audio(SPEECH, 16000)
    source = tmp_path / "utt.wav"
    sf.write(source, audio[:8000], 16000)
    before = source.read_bytes()
    result = inference.vocode_files([source], tmp_path, model, overwrite=True, progress=False)
    assert result["written"] == []
    assert [str(message) for _, message in result["failed"]] == [
        f"{source}: its output would replace the input itself."
    ]
    assert source.read_bytes() == before


def test_vocode_files_never_replaces_another_input(model, tmp_path):
    """x.npy's output x.wav beside the recording x.wav (both named, output folder = their
    folder): the recording is kept even with overwrite, and the refusal names it. (The folder
    itself as input and output is refused before any work.)"""
    audio, _ = load_audio(SPEECH, 16000)
    recording = tmp_path / "x.wav"
    sf.write(recording, audio[:8000], 16000)
    np.save(tmp_path / "x.npy", np.full((10, model.n_mel_channels), -5.0, "float32"))
    before = recording.read_bytes()
    with pytest.raises(ValueError, match="is the input folder"):
        inference.vocode_files([tmp_path], tmp_path, model, overwrite=True, progress=False)
    named = [tmp_path / "x.npy", recording]
    result = inference.vocode_files(named, tmp_path, model, overwrite=True, progress=False)
    assert result["written"] == [] and recording.read_bytes() == before
    messages = sorted(str(message) for _, message in result["failed"])
    assert messages == [
        f"{tmp_path / 'x.npy'}: its output {recording} would replace the input {recording}; "
        "give an output folder apart from the inputs.",
        f"{recording}: its output would replace the input itself.",
    ]


def test_item_seeds_give_each_mel_its_own_noise(model, speech_mel):
    """`item_seeds`: mel k's audio is that of mel k vocoded alone with its seed, whatever the
    list's order; with `seed` or a seed per another count of mels, refused by name."""
    first, second = speech_mel[:20], speech_mel[30:57]
    alone = [vocode(m, model, seed=s) for m, s in ((first, [7, 1]), (second, 3))]
    together = vocode([second, first], model, item_seeds=[3, [7, 1]])
    # Batched with each other rather than alone: float sums in another order (measured up to
    # 1e-5 on JAX, of a peak near 2.5; 1e-4 bounds it, 1e-3 of what other seeds change).
    np.testing.assert_allclose(together[0], alone[1], rtol=0, atol=1e-4)
    np.testing.assert_allclose(together[1], alone[0], rtol=0, atol=1e-4)
    assert np.abs(vocode(first, model, seed=3) - alone[0]).max() > 0.1  # seeds matter
    # A NumPy array of seeds is a sequence of seeds too (np.arange(n) was a TypeError).
    from_array = vocode([second, first], model, item_seeds=np.array([3, 5]))
    from_list = vocode([second, first], model, item_seeds=[3, 5])
    for a, b in zip(from_array, from_list, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"give seed .* or item_seeds, not both"):
        vocode(first, model, seed=0, item_seeds=[0])
    with pytest.raises(ValueError, match="item_seeds has 1 seeds for 2 mels"):
        vocode([first, second], model, item_seeds=[0])
    with pytest.raises(ValueError, match=r"item_seeds\[1\] must be None, an int >= 0"):
        vocode([first, second], model, item_seeds=[0, -2])


def test_vocode_files_seeds_each_file_by_its_bytes(model, speech_mel, tmp_path):
    """With a seed, a file's audio is the same whatever the other inputs, the batch size, or
    a rerun that fills in a missing output (the noise of batch k depended on k before)."""
    mels = tmp_path / "mels"
    mels.mkdir()
    for name, start in (("a", 0), ("b", 5), ("c", 9)):
        np.save(mels / f"{name}.npy", speech_mel[start : start + 20])
    full = inference.vocode_files([mels], tmp_path / "o1", model, seed=0, batch_size=1,
                                  progress=False)  # fmt: skip
    assert len(full["written"]) == 3
    heard = {p.name: p.read_bytes() for p in (tmp_path / "o1").iterdir()}
    (tmp_path / "o1" / "b.wav").unlink()
    again = inference.vocode_files([mels], tmp_path / "o1", model, seed=0, batch_size=1,
                                   progress=False)  # fmt: skip
    assert [p.name for p in again["written"]] == ["b.wav"]
    assert (tmp_path / "o1" / "b.wav").read_bytes() == heard["b.wav"]
    inference.vocode_files([mels / "c.npy", mels / "a.npy"], tmp_path / "o2", model, seed=0,
                           batch_size=8, progress=False)  # fmt: skip
    for name in ("a.wav", "c.wav"):  # batched together: float sums in another order (~1e-7)
        got, _ = sf.read(tmp_path / "o2" / name)
        want, _ = sf.read(io.BytesIO(heard[name]))
        np.testing.assert_allclose(got, want, rtol=0, atol=1.5 / 32768)  # a 16-bit step
    other = inference.vocode_files([mels / "a.npy"], tmp_path / "o3", model, seed=1,
                                   progress=False)  # fmt: skip
    assert other["written"] and (tmp_path / "o3" / "a.wav").read_bytes() != heard["a.wav"]


def test_cli_vocode_copy_synthesis_of_audio(model_file, tmp_path, capsys):
    audio, _ = load_audio(SPEECH, 16000)
    source = tmp_path / "utt.wav"
    sf.write(source, audio[:8000], 16000)  # 0.5 s
    out = tmp_path / "out"
    code = cli.main(
        ["vocode", str(source), "-o", str(out), "--model", str(model_file), "--no-progress"]
    )
    assert code == 0, capsys.readouterr().err
    result, rate = sf.read(out / "utt.wav")
    assert rate == 16000 and result.shape == (8000,)  # cropped to the input's length
    assert cli.main(["vocode", str(tmp_path / "missing.npy"), "-o", str(out), "--model",
                     str(model_file), "--no-progress"]) == 2  # fmt: skip
    assert "missing.npy" in capsys.readouterr().err


def test_vocode_an_nvidia_checkpoint_matches_pytorch(tmp_path):
    """A checkpoint path goes through convert.from_nvidia; the audio equals PyTorch's infer."""
    torch = pytest.importorskip("torch")  # the optional torch extra (`make install` has it)
    from tests import torch_waveglow

    torch.manual_seed(0)
    reference = torch_waveglow.WaveGlow(
        n_mel_channels=10, n_flows=4, n_group=8, n_early_every=2, n_early_size=2,
        wn_layers=2, wn_channels=16, hop_length=16, weight_norm=True,
    )  # fmt: skip
    reference = torch_waveglow.randomize(reference, scale=0.1, seed=0).eval()
    path = tmp_path / "waveglow_tiny.pt"
    torch.save(reference.state_dict(), path)
    mel = np.random.default_rng(1).standard_normal((32, 10)).astype("float32")  # a full bucket

    audio, sample_rate = vocode(mel, path, sigma=0.6, seed=5)
    assert sample_rate == 22050  # NVIDIA's front end, the importer's default

    # vocode runs the mel followed by silence (its bucket: 64 frames), so its end is made as a
    # longer mel's would be; NVIDIA's infer on that, cropped, is the reference.
    padded = np.full((64, 10), np.log(1e-5), "float32")
    padded[:32] = mel
    z = np.zeros((64 * 16 // 8, 8), "float32")
    z[: 32 * 16 // 8] = np.random.default_rng(5).standard_normal((64, 8), dtype=np.float32) * 0.6
    with torch.no_grad():
        expected = reference.infer(torch.from_numpy(padded.T[None]), z=torch.from_numpy(z.T[None]))
    expected = expected[0].numpy()[: 32 * 16]
    # The import's parity bound (inverse within 1e-4 relative to the signal's peak).
    np.testing.assert_allclose(audio, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


def test_a_training_checkpoint_vocodes_as_its_exported_generator(speech_mel, tmp_path, capsys):
    """`weights=` takes a run's `last.weights.h5` (both networks, both optimizers) as
    `--init-from` reads it: its generator, the moving average when the run kept one (--ema), as
    `export-weights` exports by default; the hint for the file given as --model names the run's
    preset and its command works."""
    from keras_waveglow.training import LAST_WEIGHTS, export_generator_weights, train

    run = tmp_path / "run"
    data = SPEECH.parents[2]  # the bundled data folder
    train(data, run, preset="tiny", steps=2, batch_size=2, segment_length=2048, ema=0.5,
          save_every=2, sample_every=0, split="all", verbose=0)  # fmt: skip
    checkpoint = run / LAST_WEIGHTS
    exported = export_generator_weights(checkpoint, tmp_path / "average.weights.h5")
    trained = export_generator_weights(checkpoint, tmp_path / "trained.weights.h5", average=False)
    # average=False (--trained) on a weights file cannot choose: said, and exported as it is.
    with pytest.warns(UserWarning, match=r"average\.weights\.h5: a WaveGlow weights file holds"):
        again = export_generator_weights(exported, tmp_path / "again.weights.h5", average=False)

    def arrays(model):
        return [ops.convert_to_numpy(w) for w in model.weights]

    from_checkpoint = WaveGlow.from_preset("tiny", weights=checkpoint)
    from_export = WaveGlow.from_preset("tiny", weights=exported)
    for a, b in zip(arrays(from_checkpoint), arrays(from_export), strict=True):
        np.testing.assert_array_equal(a, b)
    from_again = WaveGlow.from_preset("tiny", weights=again)
    for a, b in zip(arrays(from_again), arrays(from_export), strict=True):
        np.testing.assert_array_equal(a, b)
    other = WaveGlow.from_preset("tiny", weights=trained)
    pairs = zip(arrays(other), arrays(from_export), strict=True)
    assert max(np.abs(a - b).max() for a, b in pairs) > 0  # the average, not the trained ones
    # The trained weights need no recipe: a damaged run_config.json beside the checkpoint
    # blocked them; the average, which needs it, is still refused by name.
    import shutil

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    shutil.copy(checkpoint, damaged / LAST_WEIGHTS)
    (damaged / "run_config.json").write_text('{"recipe": ')
    again_trained = export_generator_weights(
        damaged / LAST_WEIGHTS, tmp_path / "trained_again.weights.h5", average=False
    )
    assert again_trained.read_bytes() == trained.read_bytes()
    with pytest.raises(ValueError, match=r"run_config\.json: not a valid run configuration"):
        export_generator_weights(damaged / LAST_WEIGHTS, tmp_path / "avg_again.weights.h5")
    mel = speech_mel[:20]
    expected = vocode(mel, ("tiny", exported), sigma=0.6, seed=3, return_sample_rate=False)
    got = vocode(mel, "tiny", weights=checkpoint, sigma=0.6, seed=3, return_sample_rate=False)
    np.testing.assert_array_equal(got, expected)

    # The CLI: the checkpoint as --model is refused with a command that works.
    np.save(tmp_path / "utt.npy", mel)
    argv = ["vocode", str(tmp_path / "utt.npy"), "--seed", "0", "--no-progress"]
    assert cli.main([*argv, "-o", str(tmp_path / "x"), "--model", str(checkpoint)]) == 2
    err = capsys.readouterr().err
    hint = f"(CLI: --model tiny --weights {checkpoint})"
    assert "holds weights only" in err and "'tiny', says" in err and hint in err, err
    assert cli.main([*argv, "-o", str(tmp_path / "a"), *hint[6:-1].split()]) == 0
    assert cli.main([*argv, "-o", str(tmp_path / "b"), "--model", "tiny", "--weights",
                     str(exported)]) == 0  # fmt: skip
    a, _ = sf.read(tmp_path / "a" / "utt.wav")
    b, _ = sf.read(tmp_path / "b" / "utt.wav")
    np.testing.assert_array_equal(a, b)
