"""Losses: the flow's negative log-likelihood, the log-mel MAE, the multi-resolution STFT
distance, and least-squares GAN terms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from keras import backend, ops

from keras_waveglow import _checks
from keras_waveglow.audio import _check_float_audio, stft_window

# (n_fft, hop, window) of Parallel WaveGAN's multi-resolution STFT loss (arXiv 1910.11480):
# shared by the training term below and the evaluation metric.
MR_STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
# Parallel WaveGAN clamps the STFT power |STFT|^2 at 1e-7 before the square root; the
# training term and the evaluation's `mr_stft` share it. Runs record it (`stft_floor`).
STFT_POWER_FLOOR = 1e-7
STFT_FLOOR_DEFINITION = "power 1e-7"
# What reports and runs recorded before 2026-12-05 used (|STFT| itself floored at 1e-7).
OLD_STFT_FLOOR_DEFINITION = "magnitude 1e-7"


def waveglow_nll(z, log_det, sigma: float = 1.0):
    """WaveGlow's negative log-likelihood per audio sample (NVIDIA's `WaveGlowLoss` value).

    `(sum(z^2) / (2 sigma^2) - sum(log_det)) / (B * T)`, which leaves out the constant
    `0.5 * log(2 pi sigma^2)` per sample, exactly as NVIDIA's loss does, so numbers compare.

    Args:
        z: (B, T // n_group, n_group) latent from `WaveGlow.forward`.
        log_det: (B,) log|det Jacobian| from `WaveGlow.forward`.
        sigma: float, standard deviation of the Gaussian prior. Default 1.0.

    Returns:
        A float32 scalar.

    Raises:
        ValueError: `sigma` not > 0, `z` not of rank 3, or `log_det` not of shape (B,) with
            z's batch size B (e.g. the two swapped); a dimension unknown while tracing matches
            any.

    Example:
        >>> z, log_det = model.forward(audio, mel)
        >>> loss = waveglow_nll(z, log_det, sigma=1.0)
    """
    if not sigma > 0:  # also NaN; a Python float here (the prior's scale is a setting)
        raise ValueError(f"sigma must be > 0; got {sigma}.")
    _check_latent(z, log_det)
    z = ops.cast(z, "float32")
    log_det = ops.cast(log_det, "float32")
    n_samples = ops.cast(ops.size(z), "float32")
    return (ops.sum(ops.square(z)) / (2.0 * sigma * sigma) - ops.sum(log_det)) / n_samples


def _static_shape(x) -> tuple:
    shape = getattr(x, "shape", None)
    return tuple(np.shape(x)) if shape is None else tuple(shape)


def _check_latent(z, log_det) -> None:
    """Refuses a z that is not (B, steps, n_group) or a log_det that is not (B,): the sums
    would broadcast or mix batches silently. Static shapes only (free under jit); a
    dimension unknown while tracing (None) matches any."""
    z_shape, det_shape = _static_shape(z), _static_shape(log_det)
    ranks_fit = len(z_shape) == 3 and len(det_shape) == 1
    known = None not in (z_shape[:1] + det_shape[:1])
    if not ranks_fit or (known and z_shape[0] != det_shape[0]):
        raise ValueError(
            "waveglow_nll needs z of shape (B, T // n_group, n_group) and log_det of shape "
            f"(B,), as WaveGlow.forward returns them; got z {z_shape} and log_det {det_shape}."
        )


def nll_to_log_likelihood(loss, sigma: float = 1.0) -> dict:
    """Converts a `waveglow_nll` value to the log-likelihood per sample, in nats and bits.

    Args:
        loss: float or scalar tensor from `waveglow_nll` with the same sigma.
        sigma: float, the prior's standard deviation used for `loss`.

    Returns:
        `{"nats_per_sample": ..., "bits_per_sample": ...}` as Python floats: the mean
        log-likelihood `-loss - 0.5 * log(2 pi sigma^2)` and that divided by log(2).

    Raises:
        TypeError: `sigma` is not a number.
        ValueError: `sigma` is not a finite number > 0 (as `waveglow_nll` refuses; a
            negative sigma would give the likelihood of |sigma|).

    Example:
        >>> nll_to_log_likelihood(-3.0, sigma=1.0)["nats_per_sample"]  # 3 - 0.9189...
        2.081...
    """
    sigma = _checks.finite("sigma", sigma, positive=True)
    nats = -float(loss) - 0.5 * math.log(2.0 * math.pi * sigma * sigma)
    return {"nats_per_sample": nats, "bits_per_sample": nats / math.log(2.0)}


# --------------------------------------------------------------------------------------------
# Training terms beside the likelihood: MAE on log-mels and least-squares GAN losses
# --------------------------------------------------------------------------------------------


def _float32_list(tensors):
    return [ops.cast(t, "float32") for t in tensors]


def _check_list(value, name: str) -> None:
    """Refuses a single tensor where a list of them (one per sub-discriminator) is expected:
    iterating it would take its rows for sub-discriminators, and its truth value is
    ambiguous."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise TypeError(
            f"{name} must be a list of logit tensors, one per sub-discriminator (the first "
            f"output of a discriminator); got {type(value).__name__}"
            + (f" of shape {tuple(value.shape)}." if hasattr(value, "shape") else ".")
        )


def _is_list(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _same_shape(a, b) -> bool:
    """Shapes that can match: the same rank and equal sizes where both are known (TensorFlow
    traces with unknown ones)."""
    return len(a) == len(b) and all(
        x is None or y is None or x == y for x, y in zip(a, b, strict=True)
    )


def _structure(value) -> str:
    """What `value` is, for an error: a type, a shape, or a list of what its items are."""
    if hasattr(value, "shape"):
        return f"{type(value).__name__} of shape {tuple(value.shape)}"
    if _is_list(value):
        inner = sorted({_structure(item).split(" of shape")[0] for item in value})
        return f"a {type(value).__name__} of {len(value)} items ({', '.join(inner) or 'none'})"
    return type(value).__name__


def discriminator_loss(real_logits, fake_logits):
    """Least-squares GAN loss of the discriminators: real -> 1, fake -> 0.

    `sum_k mean((1 - D_k(real))^2) + mean(D_k(fake)^2)` over the sub-discriminators k.

    Args:
        real_logits: list of logit tensors on real audio, one per sub-discriminator.
        fake_logits: the matching list on generated audio.

    Returns:
        `(total, real_parts, fake_parts)`: the float32 scalar sum and the per-discriminator
        float32 scalars, for logging.

    Raises:
        TypeError: either argument is not a list (e.g. one tensor).
        ValueError: the lists differ in length or are empty.

    Example:
        >>> total, real_parts, fake_parts = discriminator_loss(d(real)[0], d(fake)[0])
    """
    _check_list(real_logits, "real_logits")
    _check_list(fake_logits, "fake_logits")
    if len(real_logits) != len(fake_logits):
        raise ValueError(
            f"real and fake logits differ in number: {len(real_logits)} vs {len(fake_logits)}."
        )
    if not real_logits:
        raise ValueError("discriminator_loss got no logits.")
    real_parts = [ops.mean(ops.square(1.0 - r)) for r in _float32_list(real_logits)]
    fake_parts = [ops.mean(ops.square(f)) for f in _float32_list(fake_logits)]
    total = ops.sum(ops.stack(real_parts)) + ops.sum(ops.stack(fake_parts))
    return total, real_parts, fake_parts


def generator_adversarial_loss(fake_logits):
    """Least-squares GAN loss of the generator: fake -> 1.

    Args:
        fake_logits: list of logit tensors on generated audio, one per sub-discriminator.

    Returns:
        `(total, parts)`: the float32 scalar `sum_k mean((1 - D_k(fake))^2)` and its parts.

    Raises:
        TypeError: `fake_logits` is not a list (e.g. one tensor).
        ValueError: the list is empty.

    Example:
        >>> adv, parts = generator_adversarial_loss(d(fake)[0])
    """
    _check_list(fake_logits, "fake_logits")
    if not fake_logits:
        raise ValueError("generator_adversarial_loss got no logits.")
    parts = [ops.mean(ops.square(1.0 - f)) for f in _float32_list(fake_logits)]
    return ops.sum(ops.stack(parts)), parts


def feature_matching_loss(real_features, fake_features):
    """L1 distance between the discriminators' feature maps of real and generated audio.

    `sum_k sum_l mean(|F_kl(real) - F_kl(fake)|)` (HiFi-GAN's feature-matching term before
    its weight). Gradients are meant for the generator: pass `stop_gradient` real features.

    Args:
        real_features: list (per sub-discriminator) of lists of feature maps on real audio.
        fake_features: the matching nested list on generated audio.

    Returns:
        A float32 scalar.

    Raises:
        TypeError: either argument not a list of lists of tensors (one level of nesting
            missing: iterating a tensor would take its rows for feature maps).
        ValueError: the two nestings differ in length or a pair of maps in shape (named by
            sub-discriminator k and layer l), or there are no feature maps.

    Example:
        >>> fm = feature_matching_loss(d(real)[1], d(fake)[1])
    """
    for name, value in (("real_features", real_features), ("fake_features", fake_features)):
        if not _is_list(value) or not all(_is_list(maps) for maps in value):
            raise TypeError(
                f"{name} must be a list (one per sub-discriminator) of lists of feature maps "
                "(the second output of a discriminator); got " + _structure(value) + "."
            )
    if len(real_features) != len(fake_features):
        raise ValueError(
            f"real_features has {len(real_features)} sub-discriminators and fake_features "
            f"{len(fake_features)}."
        )
    terms = []
    for k, (real_maps, fake_maps) in enumerate(zip(real_features, fake_features, strict=True)):
        if len(real_maps) != len(fake_maps):
            raise ValueError(
                f"sub-discriminator {k}: {len(real_maps)} real feature maps and "
                f"{len(fake_maps)} fake ones."
            )
        for layer, (real_map, fake_map) in enumerate(zip(real_maps, fake_maps, strict=True)):
            if not _same_shape(real_map.shape, fake_map.shape):
                raise ValueError(
                    f"sub-discriminator {k}, layer {layer}: real feature map of shape "
                    f"{tuple(real_map.shape)}, fake one of shape {tuple(fake_map.shape)}."
                )
            diff = ops.cast(real_map, "float32") - ops.cast(fake_map, "float32")
            terms.append(ops.mean(ops.abs(diff)))
    if not terms:
        raise ValueError("feature_matching_loss got no feature maps.")
    return ops.sum(ops.stack(terms))


def mel_mae_loss(real_audio, fake_audio, mel_config: dict, precision: str = "float32"):
    """Mean absolute error between the log-mels of real and generated audio.

    Both log-mels come from `keras_waveglow.audio.mel_spectrogram` with `mel_config` (use
    `WaveGlow.mel_config`): the one mel definition of the project.

    Args:
        real_audio: (B, T) float tensor.
        fake_audio: (B, T) float tensor (e.g. `WaveGlow.inverse` cropped to T).
        mel_config: dict of `mel_spectrogram` keyword arguments, all seven of them
            (`sample_rate`, `n_fft`, `hop_length`, `win_length`, `n_mels`, `fmin`, `fmax`), as
            `WaveGlow.mel_config` has them.
        precision: STFT precision, "float32" (default: fast on GPUs, and a loss needs no
            librosa-exact values) or "float64". Same definition either way.

    Returns:
        A float32 scalar, `mean(|logmel(real) - logmel(fake)|)`.

    Raises:
        TypeError: `mel_config` is not a dict.
        ValueError: `mel_config` lacks a setting (named: `mel_spectrogram`'s defaults are
            NVIDIA's 22 kHz ones, not necessarily the model's), or the audio shapes differ.

    Example:
        >>> mae = mel_mae_loss(audio, model.inverse(mel)[:, :16000], model.mel_config)
    """
    from keras_waveglow.audio import mel_spectrogram

    _check_mel_config(mel_config)
    _check_same_shape(real_audio, fake_audio, "real and generated audio")
    real_mel = mel_spectrogram(ops.cast(real_audio, "float32"), **mel_config, precision=precision)
    fake_mel = mel_spectrogram(ops.cast(fake_audio, "float32"), **mel_config, precision=precision)
    return ops.mean(ops.abs(real_mel - fake_mel))


MEL_CONFIG_KEYS = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")


def _check_mel_config(mel_config) -> None:
    """Refuses a mel config that is not a complete dict: a missing key would silently take
    `mel_spectrogram`'s default, i.e. another mel than the model's."""
    if not isinstance(mel_config, Mapping):
        raise TypeError(
            "mel_config must be a dict of mel_spectrogram keyword arguments (e.g. "
            f"model.mel_config); got {type(mel_config).__name__} {mel_config!r}."
        )
    missing = [key for key in MEL_CONFIG_KEYS if key not in mel_config]
    if missing:
        raise ValueError(
            f"mel_config lacks {missing}: pass the model's whole mel_config (all of "
            f"{list(MEL_CONFIG_KEYS)}); a missing setting would fall back to mel_spectrogram's "
            "default, which need not be the model's."
        )


def _check_same_shape(a, b, what: str) -> None:
    """Refuses two audio tensors of different shapes (broadcasting would hide a bug), or
    integer ones (raw PCM, 32768 times too loud: the float32 cast would hide it).

    A dimension unknown while tracing (None: e.g. a batch from a Python data source through
    tf.data, whose frame count is not fixed) matches any: only known sizes can differ.
    """
    for x in (a, b):
        _check_float_audio(backend.standardize_dtype(x.dtype))
    sa, sb = tuple(a.shape), tuple(b.shape)
    if len(sa) != len(sb) or any(x != y for x, y in zip(sa, sb, strict=True) if None not in (x, y)):
        raise ValueError(f"{what} shapes differ: {sa} vs {sb}.")


def waveform_mae_loss(real_audio, fake_audio):
    """Mean absolute error between two waveforms, in float32.

    Args:
        real_audio: (B, T) float tensor.
        fake_audio: (B, T) float tensor.

    Returns:
        A float32 scalar.

    Example:
        >>> loss = waveform_mae_loss(audio, generated)
    """
    _check_same_shape(real_audio, fake_audio, "real and generated audio")
    return ops.mean(ops.abs(ops.cast(real_audio, "float32") - ops.cast(fake_audio, "float32")))


def even_power_fraction(sample, mirror):
    """The share of power in the even part of a pair of samples drawn with latents z and -z.

    `even = (sample + mirror) / 2` is what a vocoder's output keeps whatever the sign of its
    noise, `odd = (sample - mirror) / 2` what the noise decides; the result is
    `sum(even^2) / (sum(even^2) + sum(odd^2))` over the whole batch, in [0, 1]. A mel does not
    change when the waveform's sign does, so the speech it stands for has no preferred sign
    (for a Gaussian, the even part is the mean: zero); a vocoder whose output is mostly even
    is a mel-determined waveform with noise on top, where the group-rate comb lives (README,
    "The bundled vocoder"). Penalised by `WaveGlowGAN(even_weight=...)`.

    Args:
        sample: (B, T) float tensor, audio from latent z.
        mirror: (B, T) float tensor, audio from -z, same mel.

    Returns:
        A float32 scalar in [0, 1] (0 when both are silent).

    Example:
        >>> x = np.ones((1, 4), "float32")
        >>> float(even_power_fraction(x, -x)), float(even_power_fraction(x, x))
        (0.0, 1.0)
    """
    _check_same_shape(sample, mirror, "sample and mirror")
    sample = ops.cast(sample, "float32")
    mirror = ops.cast(mirror, "float32")
    even = ops.sum(ops.square(sample + mirror))
    odd = ops.sum(ops.square(sample - mirror))
    return even / ops.maximum(even + odd, 1e-12)


def multi_resolution_stft_loss(real_audio, fake_audio, resolutions=MR_STFT_RESOLUTIONS):
    """Spectral convergence plus log-magnitude L1, averaged over STFT resolutions, in float32.

    Per resolution: `||S_r - S_f||_F / ||S_r||_F + mean|log S_r - log S_f|`, with magnitudes
    `S = sqrt(max(|STFT|^2, 1e-7))` (Hann window, centred reflect-padded frames, as
    `librosa.stft(..., pad_mode="reflect")`), the power floor, the norms and the mean over the
    whole batch as Parallel WaveGAN has them; the result is the mean over resolutions. (Before
    2026-12-05 the magnitude was floored at 1e-7, so bins far below audibility weighed in the
    log term; `train` refuses to resume such a run with the new definition.) Unlike the log-mel MAE
    it resolves single harmonics (2048-point frames: 10.8 Hz bins at 22.05 kHz), so it
    penalises noise between them. For one example it is the evaluation's `mr_stft` metric
    except in the edge frames (that metric pads with zeros).

    Spectral convergence per example would divide by the norm of each example's own spectrum:
    on a segment of dequantised digital silence (RMS 1e-5) it reaches about 70, against 0.6 to
    1 on speech, and a run with it on klettres had likelihood spikes from its fourth hundred
    steps on (`benchmarks/stft_silence_audit.py`, README); over the batch, loud examples set
    the scale.

    Args:
        real_audio: (B, T) float tensor.
        fake_audio: (B, T) float tensor.
        resolutions: (n_fft, hop, window) triples. Default `MR_STFT_RESOLUTIONS`.

    Returns:
        A float32 scalar (0 for identical audio).

    Example:
        >>> loss = multi_resolution_stft_loss(audio, model.inverse(mel)[:, :16000])
    """
    _check_same_shape(real_audio, fake_audio, "real and generated audio")
    if not resolutions:
        raise ValueError("multi_resolution_stft_loss needs at least one resolution.")
    length = real_audio.shape[-1]
    for resolution in resolutions:
        if len(resolution) != 3:
            raise ValueError(f"an STFT resolution is (n_fft, hop, window); got {resolution}.")
        n_fft, hop, window = resolution
        if not 0 < window <= n_fft or hop <= 0:
            raise ValueError(f"bad STFT resolution (n_fft, hop, window) = {(n_fft, hop, window)}.")
        if length is not None and length <= n_fft // 2:
            raise ValueError(
                f"audio of {length} samples is too short for an STFT of {n_fft} points "
                f"(reflect padding needs more than {n_fft // 2})."
            )

    def magnitude(audio, n_fft, hop, window):
        # librosa's periodic window as an array (window="hann" is symmetric for odd lengths
        # on the TensorFlow backend: `stft_window`).
        real, imag = ops.stft(
            ops.cast(audio, "float32"),
            sequence_length=n_fft,
            sequence_stride=hop,
            fft_length=n_fft,
            window=ops.convert_to_tensor(stft_window(window, n_fft), "float32"),
            center=True,
        )
        # The floor sits inside the square root, so its gradient stays finite at silence.
        return ops.sqrt(ops.maximum(real * real + imag * imag, STFT_POWER_FLOOR))

    total = ops.zeros((), "float32")
    for n_fft, hop, window in resolutions:
        ref = magnitude(real_audio, n_fft, hop, window)
        gen = magnitude(fake_audio, n_fft, hop, window)
        # Where gen == ref the norm is 0 and so is its gradient, as torch.norm's (the square
        # root alone has an infinite derivative there, and NaN followed).
        squared = ops.sum(ops.square(ref - gen))
        nonzero = squared > 0
        difference = ops.where(nonzero, ops.sqrt(ops.where(nonzero, squared, 1.0)), 0.0)
        convergence = difference / ops.sqrt(ops.sum(ops.square(ref)))
        log_l1 = ops.mean(ops.abs(ops.log(ref) - ops.log(gen)))
        total = total + convergence + log_l1
    return total / len(resolutions)


def check_group_mean_window(window, name: str = "window") -> int | None:
    """`window` as an int, if it is None or an odd int >= 1.

    Raises:
        TypeError: not an int (a float, 3.0 too, a bool, a str).
        ValueError: even or < 1.
    """
    if window is None:
        return None
    window = _checks.count(name, window)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"{name} must be None or an odd int >= 1; got {window!r}.")
    return window


def remove_group_mean(audio, n_group: int, window: int | None = None):
    """`audio` minus its `n_group`-periodic mean: at every sample, the mean of the samples at
    the same place in the other groups of `n_group` samples (all of the segment's groups, or
    the `window` groups centred on its own).

    A WaveGlow squeezes audio into such groups; a pattern repeated in every group is periodic
    with `n_group` samples, a comb of lines at every multiple of `sample_rate / n_group`.
    Applied to both sides of the terms on sampled audio (`WaveGlowGAN(remove_group_mean=True)`)
    it makes them blind to that comb, which the log-mel MAE otherwise builds (README, "The
    bundled vocoder"); on speech, whose periods do not lock to the groups, it changes little.
    With the whole segment's mean (`window=None`), a comb whose amplitude follows the mel
    within the segment is only partly removed (training journal, 2026-12-04: from random
    weights the comb still forms); a sliding `window` of a few groups follows such an
    amplitude. It is then a comb filter whose notches at the multiples of
    `sample_rate / n_group` are about `sample_rate / (n_group * window)` wide, so the terms
    also stop seeing the speech in those bands, equally on both sides. Near the segment's ends
    the window holds the groups that exist (it is cut, not padded). Measured from random
    weights (journal, 2026-12-04), neither form keeps the comb from forming: it is the even
    part of the output, which the MAE builds without rewarding the lines
    (`even_power_fraction` is what keeps it away).

    Args:
        audio: (B, T) float tensor, T a multiple of `n_group`.
        n_group: int, samples per group.
        window: None for the mean over all of the segment's groups, or an odd int >= 1: the
            number of groups in the centred sliding mean (1 removes everything).

    Returns:
        (B, T) tensor of the same dtype.

    Raises:
        ValueError: `audio` not of shape (B, T) with a static T that is a multiple of
            `n_group`, or an `n_group` / `window` out of range.
        TypeError: an `n_group` or `window` that is not an int.

    Example:
        >>> x = np.tile(np.arange(4.0, dtype="float32"), (1, 3))  # (1, 12): one group repeated
        >>> float(ops.max(ops.abs(remove_group_mean(x, 4))))
        0.0
        >>> ramp = x * np.repeat(np.arange(1.0, 4.0, dtype="float32"), 4)  # amplitude 1, 2, 3
        >>> float(ops.max(ops.abs(remove_group_mean(ramp, 4, window=3)[:, 4:8])))
        0.0
    """
    n_group = _checks.count("n_group", n_group, 1)
    if len(audio.shape) != 2:  # (T,) came back as (1, T); (B, T, 1) was read as T = 1
        raise ValueError(
            f"remove_group_mean needs audio of shape (B, T); got {tuple(audio.shape)}."
        )
    length = audio.shape[-1]
    if length is None or length % n_group:
        raise ValueError(
            f"remove_group_mean needs a static length that is a multiple of n_group={n_group}; "
            f"got {length}."
        )
    window = check_group_mean_window(window, "remove_group_mean's window")
    n_groups = length // n_group
    groups = ops.reshape(audio, (-1, n_groups, n_group))
    if window is None:
        return ops.reshape(groups - ops.mean(groups, axis=1, keepdims=True), (-1, length))
    # Sliding sums from a cumulative sum along the groups: sum over [lo, hi) = c[hi] - c[lo].
    half = window // 2
    index = np.arange(n_groups)
    lo = np.maximum(index - half, 0)
    hi = np.minimum(index + half + 1, n_groups)
    padded = ops.pad(groups, ((0, 0), (1, 0), (0, 0)))
    cumulative = ops.cumsum(padded, axis=1)
    sums = ops.take(cumulative, hi, axis=1) - ops.take(cumulative, lo, axis=1)
    counts = ops.cast(
        ops.convert_to_tensor((hi - lo).astype("float32")[None, :, None]), groups.dtype
    )
    return ops.reshape(groups - sums / counts, (-1, length))
