"""Arguments of the library's functions that passed silently or failed obscurely (API audit 3,
findings 4, 5, 10, 12 and 13): each is refused by name, when the function is called."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_waveglow import WaveGlow, convert, losses
from keras_waveglow import audio as audio_lib
from keras_waveglow.data import make_dataset
from keras_waveglow.inference import Denoiser
from keras_waveglow.presets import get_preset

DATA = Path(__file__).resolve().parents[1] / "data"
AWB = DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav"
# engine="pydataset": nothing here needs TensorFlow, and every refusal comes before either
# engine is built.
PY = {"engine": "pydataset"}

# ------------------------------------------------------------------------------------------------
# Finding 4: peak, snr_db, target_db
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("peak", [0.0, -1.0, 5.0, math.nan, math.inf])
def test_peak_normalize_refuses_a_peak_outside_full_scale(peak):
    # 0 gave silence, -1 flipped the polarity, 5 went beyond full scale, NaN gave NaN audio.
    audio = np.array([0.1, -0.2, 0.05], "float32")
    with pytest.raises(ValueError, match=r"peak must be in \(0, 1\] \(full scale is 1\); got"):
        audio_lib.peak_normalize(audio, peak)


def test_peak_normalize_takes_full_scale_and_refuses_a_string():
    audio = np.array([0.1, -0.2, 0.05], "float32")
    assert float(np.abs(audio_lib.peak_normalize(audio, 1.0)).max()) == pytest.approx(1.0)
    half = audio_lib.peak_normalize(audio, np.float32(0.5))
    assert float(np.abs(half).max()) == pytest.approx(0.5)
    with pytest.raises(TypeError, match=r"peak must be a number; got '0\.9'"):
        audio_lib.peak_normalize(audio, "0.9")


@pytest.mark.parametrize("target_db", [math.nan, math.inf, -math.inf])
def test_rms_normalize_refuses_a_level_that_is_not_finite(target_db):
    with pytest.raises(ValueError, match=r"target_db must be a finite level in dBFS"):
        audio_lib.rms_normalize(np.array([0.1, -0.2], "float32"), target_db)


@pytest.mark.parametrize("peak", [0.0, -1.0, 5.0, math.nan])
def test_make_dataset_refuses_a_peak_outside_full_scale(peak):
    # peak=0 trained on pure silence, -1 on flipped audio, 5 on audio beyond full scale.
    with pytest.raises(ValueError, match=r"peak must be in \(0, 1\]"):
        make_dataset([AWB], "tiny", batch_size=1, segment_length=8000, peak=peak, **PY)


@pytest.mark.parametrize(
    "snr_db", [-100, -1.0, math.nan, -math.inf, (-10.0, 10.0), (0.0, math.nan)]
)
def test_make_dataset_refuses_more_noise_than_speech(snr_db):
    # -100 dB (noise 10^5 times the speech's RMS) was taken without a word.
    with pytest.raises(ValueError, match=r"augment snr_db must be finite and >= 0 dB; got"):
        make_dataset([AWB], "tiny", batch_size=1, augment={"snr_db": snr_db}, **PY)


@pytest.mark.parametrize(
    "option, value",
    [
        ("speed", (1.0, math.inf)),
        ("gain_db", (-6.0, math.inf)),
        ("eq_db", math.nan),
        ("eq_highpass_hz", (50.0, math.inf)),
    ],
)
def test_make_dataset_refuses_non_finite_augment_ranges(option, value):
    # (1, inf) passed "0 < low <= high" and failed at the first batch inside tf.data.
    with pytest.raises(ValueError, match=rf"augment {option} must be finite"):
        make_dataset([AWB], "tiny", batch_size=1, augment={option: value}, **PY)


def test_make_dataset_snr_db_pairs_and_types():
    with pytest.raises(ValueError, match=r"augment snr_db \(low, high\) must have low <= high"):
        make_dataset([AWB], "tiny", batch_size=1, augment={"snr_db": (20.0, 10.0)}, **PY)
    with pytest.raises(ValueError, match=r"augment snr_db must be a number or a \(low, high\)"):
        make_dataset([AWB], "tiny", batch_size=1, augment={"snr_db": (5, 10, 20)}, **PY)
    with pytest.raises(TypeError, match=r"augment snr_db must be a number; got '20'"):
        make_dataset([AWB], "tiny", batch_size=1, augment={"snr_db": "20"}, **PY)
    for fine in (0, 20.0, (10, 20), [5.0, 5.0]):  # accepted (no batch is built)
        make_dataset([AWB], "tiny", batch_size=1, augment={"snr_db": fine}, **PY)


# ------------------------------------------------------------------------------------------------
# Finding 12: make_dataset's other arguments
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment_length", [8000.0, True, "8000"])
def test_make_dataset_refuses_a_segment_length_that_is_not_an_int(segment_length):
    # 8000.0 failed at the first batch, inside tf.data ("Dimension value must be integer").
    with pytest.raises(TypeError, match=rf"segment_length must be an int; got {segment_length!r}"):
        make_dataset([AWB], "tiny", batch_size=1, segment_length=segment_length, **PY)


@pytest.mark.parametrize("segment_length", [8, 256, 512])
def test_make_dataset_refuses_a_segment_too_short_for_the_mel(segment_length):
    # Accepted, and the first batch failed (wrapped in tf.data's "in user code" trace).
    expected = (
        r"segment_length must be at least n_fft // 2 \+ 1 = 513 samples \(the mel pads each "
        rf"segment by reflection.*got {segment_length}\."
    )
    with pytest.raises(ValueError, match=expected):
        make_dataset([AWB], "tiny", batch_size=1, segment_length=segment_length, **PY)
    make_dataset([AWB], "tiny", batch_size=1, segment_length=520, **PY)  # the shortest is fine


@pytest.mark.parametrize("batch_size", [2.5, 2.0, "2", True])
def test_make_dataset_refuses_a_batch_size_that_is_not_an_int(batch_size):
    # 2.5 became 2 silently; "2" failed with "'<' not supported".
    with pytest.raises(TypeError, match=rf"batch_size must be an int; got {batch_size!r}"):
        make_dataset([AWB], "tiny", batch_size=batch_size, segment_length=8000, **PY)


@pytest.mark.parametrize("augment", ["yes", 1, [("dequantize", True)]])
def test_make_dataset_refuses_an_augment_that_is_neither_bool_nor_dict(augment):
    # "yes" failed with "dictionary update sequence element #0 has length 1".
    expected = (
        rf"augment must be False, True or a dict of options \(dequantize, .*\); got "
        rf"{type(augment).__name__} "
    )
    with pytest.raises(TypeError, match=expected):
        make_dataset([AWB], "tiny", batch_size=1, augment=augment, **PY)


@pytest.mark.parametrize("trim_db", [-10.0, 0.0, math.inf, math.nan])
def test_make_dataset_refuses_a_trim_level_that_is_not_above_zero(trim_db):
    # -10 trimmed every file to nothing: NoUsableAudioError, trim_db unnamed.
    with pytest.raises(ValueError, match=r"trim_db must be > 0 \(dB below each file's peak"):
        make_dataset([AWB], "tiny", batch_size=1, trim_db=trim_db, **PY)


def test_make_dataset_config_dict_needs_n_group_for_segments():
    # Without n_group, 1 was assumed: segment_length=8001 passed for an 8-group model.
    config = {k: v for k, v in get_preset("tiny").items() if k != "n_group"}
    with pytest.raises(ValueError, match=r"config has no n_group: training segments must be"):
        make_dataset([AWB], config, batch_size=1, segment_length=8001, **PY)
    # Whole utterances need no n_group: a model's mel_config is a valid config there.
    mel_config = WaveGlow.from_preset("tiny").mel_config
    assert "n_group" not in mel_config
    dataset = make_dataset([AWB], mel_config, split="eval", batch_size=1, **PY)
    assert len(dataset) == 1
    with pytest.raises(TypeError, match=r"config must be a WaveGlow, a preset name or a config"):
        make_dataset([AWB], 42, batch_size=1, **PY)


def test_make_dataset_warns_that_whole_utterances_ignore_segment_length():
    with pytest.warns(UserWarning, match=r"segment_length=8000 is ignored: whole-utterance mode"):
        dataset = make_dataset(
            [AWB], "tiny", batch_size=1, segment_length=8000, whole_utterances=True, **PY
        )
    assert dataset.source.segment_length is None
    # The default (and None) say nothing: evaluation sets are built that way.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_dataset([AWB], "tiny", split="eval", batch_size=1, **PY)
        make_dataset([AWB], "tiny", batch_size=1, segment_length=None, whole_utterances=True, **PY)
    assert not [w for w in caught if "segment_length" in str(w.message)]


# ------------------------------------------------------------------------------------------------
# Finding 5 and 13 (convert): truncated checkpoints, partial state dicts, override messages
# ------------------------------------------------------------------------------------------------


def _torch_config() -> dict:
    """test_convert's small NVIDIA config (early outputs, dilated layers, n_mel != n_group)."""
    pytest.importorskip("torch")
    from tests.test_convert import TORCH_CONFIG

    return TORCH_CONFIG


@pytest.fixture(scope="module")
def torch_state():
    """A small NVIDIA WaveGlow's state dict (torch tensors), as `torch.save` writes it."""
    pytest.importorskip("torch")  # the optional `torch` extra
    from tests import torch_waveglow

    model = torch_waveglow.WaveGlow(**_torch_config(), weight_norm=False)
    return torch_waveglow.randomize(model, scale=0.1).eval().state_dict()


def test_a_checkpoint_missing_its_last_flows_1x1_conv_is_refused(torch_state, tmp_path):
    # It loaded as a 3-flow model with only a warning about WN.3's weights.
    import torch

    state = {k: v for k, v in torch_state.items() if not k.startswith("convinv.3.")}
    expected = (
        r"no_convinv3\.pt: the checkpoint has 3 invertible 1x1 conv\(s\) \(convinv\.<k>\) but "
        r"4 coupling network\(s\) \(WN\.<k>\).*truncated"
    )
    torch.save(state, tmp_path / "no_convinv3.pt")
    with pytest.raises(ValueError, match=expected):
        convert.from_nvidia(tmp_path / "no_convinv3.pt")
    arrays = {k: v.numpy() for k, v in state.items()}
    with pytest.raises(ValueError, match=r"3 invertible 1x1 conv\(s\).* but 4 coupling"):
        convert.infer_config(arrays)
    # The other way round (the last coupling lost) is refused the same way.
    state = {k: v for k, v in torch_state.items() if not k.startswith("WN.3.")}
    with pytest.raises(ValueError, match=r"4 invertible 1x1 conv\(s\).* but 3 coupling"):
        convert.infer_config({k: v.numpy() for k, v in state.items()})
    assert convert.infer_config({k: v.numpy() for k, v in torch_state.items()}) == _torch_config()


@pytest.mark.parametrize("key", ["upsample.weight", "convinv.1.conv.weight"])
def test_load_nvidia_weights_names_a_missing_weight(torch_state, key):
    # A KeyError ('upsample.weight') where the docstring promised a ValueError.
    state = {k: v for k, v in torch_state.items() if k != key}
    model = WaveGlow(**_torch_config())
    with pytest.raises(ValueError, match=rf"partial\.pt: missing weights {re.escape(key)}\."):
        convert.load_nvidia_weights(model, state, "partial.pt")
    with pytest.raises(ValueError, match=r"<state_dict>: missing weights upsample\.weight"):
        convert.load_nvidia_weights(WaveGlow(**_torch_config()), {})


def test_from_nvidia_override_message_shows_the_type(torch_state, tmp_path):
    # "n_flows=4 given, but the checkpoint's weights have n_flows=4".
    import torch

    torch.save(torch_state, tmp_path / "sd.pt")
    expected = r"sd\.pt: n_flows='4' given, but the checkpoint's weights have n_flows=4\."
    with pytest.raises(ValueError, match=expected):
        convert.from_nvidia(tmp_path / "sd.pt", n_flows="4")


# ------------------------------------------------------------------------------------------------
# Finding 10 and 13 (losses)
# ------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
Z = RNG.standard_normal((2, 10, 8)).astype("float32")
LOG_DET = np.zeros(2, "float32")
AUDIO = (0.1 * RNG.standard_normal((2, 4096))).astype("float32")


@pytest.mark.parametrize(
    "z, log_det, shapes",
    [
        (Z, np.zeros(3, "float32"), r"z \(2, 10, 8\) and log_det \(3,\)"),
        (Z, np.float32(0.0), r"z \(2, 10, 8\) and log_det \(\)"),
        (Z, np.zeros((2, 1), "float32"), r"z \(2, 10, 8\) and log_det \(2, 1\)"),
        (LOG_DET, Z, r"z \(2,\) and log_det \(2, 10, 8\)"),  # swapped
        (Z[:, :, 0], LOG_DET, r"z \(2, 10\) and log_det \(2,\)"),
    ],
)
def test_waveglow_nll_refuses_a_log_det_that_does_not_match_z(z, log_det, shapes):
    # Each gave a number.
    with pytest.raises(ValueError, match=r"waveglow_nll needs z of shape .*; got " + shapes):
        losses.waveglow_nll(z, log_det)


def test_waveglow_nll_checks_only_known_dimensions():
    expected = (Z.astype("float64") ** 2).sum() / 2 / Z.size
    assert float(losses.waveglow_nll(Z, LOG_DET)) == pytest.approx(expected, rel=1e-6)
    # Symbolic inputs with an unknown batch (as while tracing) pass the check.
    unknown = losses.waveglow_nll(keras.KerasTensor((None, 10, 8)), keras.KerasTensor((None,)))
    assert tuple(unknown.shape) == ()
    losses.waveglow_nll(keras.KerasTensor((2, 10, 8)), keras.KerasTensor((None,)))
    with pytest.raises(ValueError, match=r"got z \(None, 10, 8\) and log_det \(None, 1\)"):
        losses.waveglow_nll(keras.KerasTensor((None, 10, 8)), keras.KerasTensor((None, 1)))


@pytest.mark.parametrize("sigma", [0.0, -1.0, math.nan, math.inf])
def test_nll_to_log_likelihood_refuses_a_sigma_that_is_not_positive(sigma):
    # 0 gave "math domain error"; -1 gave the likelihood of sigma=1.
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0; got"):
        losses.nll_to_log_likelihood(1.0, sigma)
    with pytest.raises(TypeError, match=r"sigma must be a number; got '1'"):
        losses.nll_to_log_likelihood(1.0, "1")


def test_gan_losses_refuse_a_tensor_where_a_list_is_expected():
    # "The truth value of an array with more than one element is ambiguous".
    with pytest.raises(TypeError, match=r"real_logits must be a list of logit tensors, one per"):
        losses.discriminator_loss(AUDIO, AUDIO)
    with pytest.raises(TypeError, match=r"fake_logits must be a list .* of shape \(2, 4096\)"):
        losses.discriminator_loss([AUDIO], AUDIO)
    with pytest.raises(TypeError, match=r"fake_logits must be a list of logit tensors"):
        losses.generator_adversarial_loss(AUDIO)
    total, _, _ = losses.discriminator_loss((AUDIO,), [AUDIO])  # a tuple is a list here
    assert np.isfinite(float(total))


def test_mel_mae_loss_refuses_a_partial_mel_config():
    # {"sample_rate": 16000} used mel_spectrogram's defaults for everything else.
    expected = r"mel_config lacks \['n_fft', 'hop_length', 'win_length', 'n_mels', 'fmin', 'fmax'\]"
    with pytest.raises(ValueError, match=expected):
        losses.mel_mae_loss(AUDIO, AUDIO, {"sample_rate": 16000})
    with pytest.raises(TypeError, match=r"mel_config must be a dict .*; got str 'tiny'"):
        losses.mel_mae_loss(AUDIO, AUDIO, "tiny")


def test_remove_group_mean_refuses_audio_that_is_not_batch_by_time():
    # (T,) came back as (1, T); (B, T, 1) was read as T = 1.
    with pytest.raises(ValueError, match=r"needs audio of shape \(B, T\); got \(4096,\)"):
        losses.remove_group_mean(AUDIO[0], 8)
    with pytest.raises(ValueError, match=r"needs audio of shape \(B, T\); got \(2, 4096, 1\)"):
        losses.remove_group_mean(AUDIO[..., None], 8)


# ------------------------------------------------------------------------------------------------
# Finding 13 (Denoiser)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["n_fft", "hop_length", "win_length"])
def test_denoiser_refuses_zero_sizes_by_name(name):
    # hop_length=0 and win_length=0 became the defaults; n_fft=0 was accepted.
    with pytest.raises(ValueError, match=rf"{name} must be >= 1; got 0"):
        Denoiser(**{name: 0})
    with pytest.raises(TypeError, match=rf"{name} must be an int; got 256\.5"):
        Denoiser(**{name: 256.5})


@pytest.mark.parametrize("strength", [-1.0, math.nan, math.inf])
def test_denoiser_refuses_a_strength_that_is_negative_or_not_finite(strength):
    # -1 amplified the hum (x1.8), NaN gave NaN audio.
    expected = r"strength must be a finite number >= 0 \(0: no change\); got"
    with pytest.raises(ValueError, match=expected):
        Denoiser(strength=strength)
    denoiser = Denoiser(n_fft=64, bias_spectrum=np.ones(33, "float32"))
    with pytest.raises(ValueError, match=expected):
        denoiser.denoise(np.zeros(256, "float32"), strength=strength)
    with pytest.raises(ValueError, match=expected):
        denoiser(np.zeros(256, "float32"), strength=strength)


def test_denoiser_from_model_refuses_too_few_frames():
    # n_frames=0 failed in MirrorPad ("paddings must be less than the dimension size").
    model = WaveGlow.from_preset("tiny")  # hop 256, n_fft 1024: at least 3 frames
    with pytest.raises(ValueError, match=r"n_frames must be >= 1; got 0"):
        Denoiser.from_model(model, n_frames=0)
    with pytest.raises(ValueError, match=r"n_frames must be >= 3: the bias audio \(2 frames"):
        Denoiser.from_model(model, n_frames=2)
    with pytest.raises(TypeError, match=r"n_frames must be an int; got 64\.0"):
        Denoiser.from_model(model, n_frames=64.0)


# ------------------------------------------------------------------------------------------------
# The shared checks (keras_waveglow/_checks.py) and the last arguments that passed unchecked
# ------------------------------------------------------------------------------------------------


def test_shared_checks_accept_numpy_scalars_and_refuse_the_rest_by_name():
    from keras_waveglow import _checks

    assert _checks.count("n", np.int64(3), 1) == 3 and type(_checks.count("n", np.int16(3))) is int
    for value in (2.0, 2.5, "2", None, True, np.bool_(True), np.array([2])):
        with pytest.raises(TypeError, match=r"^n must be an int; got "):
            _checks.count("n", value)
    with pytest.raises(ValueError, match=r"^n must be >= 1; got 0\.$"):
        _checks.count("n", 0, 1)
    assert _checks.flag("f", 1) is True and _checks.flag("f", np.bool_(False)) is False
    assert _checks.flag("f", np.array(True)) is True  # a 0-d bool array, as np.array(1)
    if keras.backend.backend() == "tensorflow":  # TF's float/bool tensors: AttributeError
        import tensorflow as tf

        for value in (tf.constant(1.5), tf.constant(True)):
            with pytest.raises(TypeError, match=r"^n must be an int; got "):
                _checks.count("n", value)
        with pytest.raises(TypeError, match=r"^f must be True or False; got "):
            _checks.flag("f", tf.constant(0.5))
    for value in (2, "no", 0.0, None):
        with pytest.raises(TypeError, match=r"^f must be True or False; got "):
            _checks.flag("f", value)
    assert _checks.number("x", np.float32(0.5)) == 0.5 and _checks.number("x", np.array(2)) == 2.0
    # A 0-d str, bool or complex array and NumPy's complex scalars too (float() read them).
    for value in ("0.5", None, False, 1j, np.ones(2), np.array("0.5"), np.array(True)):
        with pytest.raises(TypeError, match=r"^x must be a number; got "):
            _checks.number("x", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float(np.complex64) warned and dropped the imaginary part
        with pytest.raises(TypeError, match=r"^x must be a number; got np\.complex64"):
            _checks.number("x", np.complex64(1 + 2j))
    assert _checks.finite("w", 0) == 0.0 and _checks.finite("w", 1e-9, positive=True) == 1e-9
    for value, positive, bound in ((math.nan, False, ">="), (-1, False, ">="), (0, True, ">")):
        with pytest.raises(ValueError, match=rf"^w must be a finite number {bound} 0 \(n\); got"):
            _checks.finite("w", value, positive=positive, note=" (n)")
    with pytest.raises(ValueError, match=r"w must be a finite number >= 0; got inf"):
        _checks.finite("w", math.inf)
    # Python ints past 2**64, Fraction and Decimal are numbers (they were "not a number");
    # one too large for a float is not finite.
    from decimal import Decimal
    from fractions import Fraction

    assert _checks.number("x", 2**70) == 2.0**70 and _checks.number("x", Fraction(1, 2)) == 0.5
    assert _checks.number("x", Decimal("0.25")) == 0.25
    with pytest.raises(ValueError, match=r"^w must be a finite number >= 0; got inf"):
        _checks.finite("w", 10**400)
    # A backend's 0-d bool tensor is a flag (an int tensor was, a bool one was refused).
    assert _checks.flag("f", keras.ops.convert_to_tensor(True)) is True
    assert _checks.flag("f", keras.ops.convert_to_tensor(False)) is False


def test_flags_of_the_public_api_refuse_what_bool_would_take():
    """bool("no") is True: from_preset(load_weights="no") loaded the trained weights, and
    allow_unverified="no" would have accepted an unverified download; vocode's
    return_sample_rate="no" returned a tuple and progress="no" drew a bar."""
    from keras_waveglow import hub, vocode

    with pytest.raises(TypeError, match="load_weights must be True or False; got 'no'"):
        WaveGlow.from_preset("tiny", load_weights="no")
    with pytest.raises(TypeError, match="allow_unverified must be True or False; got 'no'"):
        WaveGlow.from_preset("tiny", allow_unverified="no")
    with pytest.raises(TypeError, match="allow_unverified must be True or False; got 'false'"):
        hub.preset_weights_file("nvidia_universal", allow_unverified="false")
    mel = np.full((4, 80), -5.0, "float32")
    model = WaveGlow.from_preset("tiny", seed=0)
    for name in ("return_sample_rate", "progress"):
        with pytest.raises(TypeError, match=f"{name} must be True or False; got 'no'"):
            vocode(mel, model=model, **{name: "no"})
    # NumPy's bool is a flag for normalize too (it was "must be a number").
    audio = vocode(mel, model=model, normalize=np.bool_(True), seed=0)
    assert np.max(np.abs(audio)) == pytest.approx(0.9, abs=1e-3)
    # An empty model name was the current folder ("'.' is a folder, not a model").
    from keras_waveglow import set_default_model

    for call in (lambda: set_default_model(""), lambda: vocode(mel, model="")):
        with pytest.raises(ValueError, match="model is an empty string ''"):
            call()


@pytest.mark.parametrize("snr_db", [math.nan, math.inf, -math.inf])
def test_add_noise_refuses_an_snr_that_is_not_finite(snr_db):
    # NaN made every sample NaN; +inf added nothing and -inf infinite noise, silently.
    with pytest.raises(ValueError, match=r"snr_db must be a finite number of dB; got"):
        audio_lib.add_noise(AUDIO[0], snr_db, seed=0)
    with pytest.raises(TypeError, match=r"snr_db must be a number; got '20'"):
        audio_lib.add_noise(AUDIO[0], "20", seed=0)
    noisy = audio_lib.add_noise(AUDIO[0], -10.0, seed=0)  # any finite SNR: not a training option
    assert noisy.shape == AUDIO[0].shape and np.all(np.isfinite(noisy))


def test_feature_matching_loss_refuses_one_level_of_nesting_missing():
    # A list of maps where a list of lists was expected iterated each map's rows and returned 0.
    maps = [[AUDIO[:, :100], AUDIO[:, :50]], [AUDIO[:, :30]]]
    flat = [AUDIO[:, :100]]
    with pytest.raises(TypeError, match=r"real_features must be a list .* of lists of feature"):
        losses.feature_matching_loss(flat, flat)
    with pytest.raises(TypeError, match=r"fake_features must be a list .*; got ndarray of shape"):
        losses.feature_matching_loss(maps, AUDIO)
    with pytest.raises(ValueError, match=r"real_features has 2 sub-discriminators and fake_"):
        losses.feature_matching_loss(maps, maps[:1])
    with pytest.raises(ValueError, match=r"sub-discriminator 0: 2 real feature maps and 1 fake"):
        losses.feature_matching_loss(maps, [maps[0][:1], maps[1]])
    other = [[AUDIO[:, :100], AUDIO[:, :51]], [AUDIO[:, :30]]]
    with pytest.raises(ValueError, match=r"sub-discriminator 0, layer 1: real feature map of "):
        losses.feature_matching_loss(maps, other)
    shifted = [[m + 0.5 for m in group] for group in maps]
    np.testing.assert_allclose(float(losses.feature_matching_loss(maps, shifted)), 1.5, rtol=1e-6)


def test_make_dataset_refuses_start_batch_and_rows_that_are_not_ints():
    # start_batch=2.5 failed inside tf.data; rows=(0, 1.5) was truncated to (0, 1).
    with pytest.raises(TypeError, match=r"start_batch must be an int; got 2\.5"):
        make_dataset([AWB], "tiny", segment_length=4096, start_batch=2.5, **PY)
    with pytest.raises(TypeError, match=r"each of rows must be an int; got 1\.5"):
        make_dataset([AWB], "tiny", segment_length=4096, batch_size=2, rows=(0, 1.5), **PY)
    with pytest.raises(ValueError, match=r"rows must be None or a \(start, stop\) pair of ints"):
        make_dataset([AWB], "tiny", segment_length=4096, batch_size=2, rows=(0, 1, 2), **PY)
