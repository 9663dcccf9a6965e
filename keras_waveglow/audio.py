"""The one mel front end (NVIDIA Tacotron 2's definition), shared by data, losses and vocode.

Definition: reflect-pad `n_fft // 2` on both sides, periodic Hann window of `win_length`
(centred in `n_fft`), STFT magnitude, librosa's Slaney-scale, Slaney-normalised mel filterbank,
natural log of `max(x, 1e-5)`. The filterbank is a NumPy constant built once with librosa; the
STFT runs through `keras.ops` in models and losses (`mel_spectrogram`) and through `tf.signal`
inside tf.data (`tf_mel_spectrogram`, usable under any Keras backend).
"""

from __future__ import annotations

import functools

import numpy as np
from keras import ops

LOG_FLOOR = 1e-5


@functools.lru_cache(maxsize=32)
def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None
) -> np.ndarray:
    """librosa's Slaney mel filterbank, transposed to (n_fft // 2 + 1, n_mels), float32.

    Args:
        sample_rate: int, audio sample rate in Hz.
        n_fft: int, FFT size.
        n_mels: int, mel bands.
        fmin: float, lowest frequency in Hz.
        fmax: float or None, highest frequency in Hz (None: sample_rate / 2).

    Returns:
        A read-only float32 array of shape (n_fft // 2 + 1, n_mels).

    Example:
        >>> mel_filterbank(16000, 1024, 80, 0.0, 8000.0).shape
        (513, 80)
    """
    import librosa

    basis = librosa.filters.mel(
        sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=False, norm="slaney"
    )
    basis = np.ascontiguousarray(basis.T, dtype=np.float32)
    basis.setflags(write=False)
    return basis


def _check_mel_args(audio_shape, n_fft: int, hop_length: int, win_length: int) -> None:
    if len(audio_shape) not in (1, 2):
        raise ValueError(f"audio must have shape (T,) or (B, T); got {tuple(audio_shape)}.")
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft}).")
    if hop_length <= 0:
        raise ValueError(f"hop_length must be positive, got {hop_length}.")
    length = audio_shape[-1]
    if length is not None and length <= n_fft // 2:
        raise ValueError(
            f"audio too short for reflect padding: {length} samples <= n_fft // 2 = {n_fft // 2}."
        )


def mel_spectrogram(
    audio,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
):
    """Log-mel spectrogram, NVIDIA Tacotron 2's definition, with `keras.ops`.

    Args:
        audio: (T,) or (B, T) float audio in [-1, 1].
        sample_rate: int, sample rate in Hz.
        n_fft: int, FFT size. Default 1024.
        hop_length: int, samples between frames. Default 256.
        win_length: int, Hann window length (<= n_fft). Default 1024.
        n_mels: int, mel bands. Default 80.
        fmin: float, lowest mel frequency. Default 0.0.
        fmax: float or None, highest mel frequency (None: Nyquist). Default 8000.0.

    Returns:
        float32 tensor (frames, n_mels) or (B, frames, n_mels), frames = 1 + T // hop_length.

    Example:
        >>> mel = mel_spectrogram(np.zeros(16000, "float32"), 16000)
        >>> tuple(mel.shape)
        (63, 80)
    """
    audio = ops.convert_to_tensor(audio, "float32")
    _check_mel_args(audio.shape, n_fft, hop_length, win_length)
    real, imag = ops.stft(
        audio,
        sequence_length=win_length,
        sequence_stride=hop_length,
        fft_length=n_fft,
        window="hann",
        center=True,
    )
    magnitude = ops.sqrt(real * real + imag * imag)
    basis = mel_filterbank(sample_rate, n_fft, n_mels, float(fmin), fmax)
    mel = ops.matmul(magnitude, ops.convert_to_tensor(basis))
    return ops.log(ops.maximum(mel, LOG_FLOOR))


def tf_mel_spectrogram(
    audio,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
):
    """The same log-mel as `mel_spectrogram`, with `tf.signal`, for use inside tf.data.

    Works whatever the Keras backend is (tf.data always runs on TensorFlow). Arguments and
    return value as `mel_spectrogram`, as `tf.Tensor`s.
    """
    import tensorflow as tf

    audio = tf.convert_to_tensor(audio, tf.float32)
    _check_mel_args(audio.shape, n_fft, hop_length, win_length)
    pad = n_fft // 2
    paddings = [[0, 0]] * (audio.shape.rank - 1) + [[pad, pad]]
    padded = tf.pad(audio, paddings, mode="REFLECT")
    left = (n_fft - win_length) // 2

    def window_fn(frame_length, dtype):
        window = tf.signal.hann_window(win_length, periodic=True, dtype=dtype)
        return tf.pad(window, [[left, frame_length - win_length - left]])

    stft = tf.signal.stft(
        padded, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft, window_fn=window_fn
    )
    basis = tf.constant(mel_filterbank(sample_rate, n_fft, n_mels, float(fmin), fmax))
    mel = tf.matmul(tf.abs(stft), basis)
    return tf.math.log(tf.maximum(mel, LOG_FLOOR))


def mel_function(model_or_config):
    """Returns `audio -> log-mel` (keras.ops path) with the settings of a model or preset.

    Args:
        model_or_config: a `WaveGlow`, a preset name, or a dict with mel settings (a preset
            config or `WaveGlow.mel_config`).

    Returns:
        A function `f(audio)` equal to `mel_spectrogram(audio, **settings)`.

    Example:
        >>> mel = mel_function("arctic_16k")(audio)
    """
    settings = mel_settings(model_or_config)
    return functools.partial(mel_spectrogram, **settings)


def mel_settings(model_or_config) -> dict:
    """The `mel_spectrogram` keyword arguments of a model, preset name or config dict."""
    from keras_waveglow.presets import get_preset

    if isinstance(model_or_config, str):
        model_or_config = get_preset(model_or_config)
    if hasattr(model_or_config, "mel_config"):
        return dict(model_or_config.mel_config)
    config = dict(model_or_config)
    if "n_mel_channels" in config:
        config["n_mels"] = config["n_mel_channels"]
    keys = ("sample_rate", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax")
    missing = [k for k in keys if k not in config]
    if missing:
        raise ValueError(f"mel settings incomplete: missing {missing}.")
    return {k: config[k] for k in keys}
