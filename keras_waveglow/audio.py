"""The one mel front end (NVIDIA Tacotron 2's definition), shared by data, losses and vocode.

Definition: reflect-pad `n_fft // 2` on both sides, periodic Hann window of `win_length`
(centred in `n_fft`, odd lengths included; see `stft_window`), STFT magnitude, librosa's
Slaney-scale, Slaney-normalised mel filterbank, natural log of `max(x, 1e-5)`. The filterbank
and the window are NumPy constants built once; the STFT runs through `keras.ops` in models and
losses (`mel_spectrogram`) and through `tf.signal` inside tf.data (`tf_mel_spectrogram`, usable
under any Keras backend). Both compute in float64 by default, which matches librosa to under
1e-6 in log units on real speech, even and odd window lengths alike (see `mel_spectrogram`).

Also here: audio and mel file I/O (`load_audio`, `save_audio`, `load_mel`), pre-processing
(`peak_normalize`, `rms_normalize`, `trim_silence`) and seeded NumPy augmentations
(`dequantize`, `add_noise`, `random_gain`, `random_eq`, `change_speed`) used by
`keras_waveglow.data`.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import numbers
import os
import re
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from keras import backend, ops

from keras_waveglow import _checks
from keras_waveglow._paths import file_in_the_way

LOG_FLOOR = 1e-5


def _process_umask() -> int:
    """The umask, read without changing it where Linux shows it (other threads may be
    creating files); elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def durable_replace(
    tmp: str | os.PathLike, path: str | os.PathLike, overwrite: bool = True
) -> None:
    """`os.replace(tmp, path)` that also survives a power cut or a crash of the machine.

    The temporary file's data reach the disk (`fsync`) before the rename, and the folder's
    entry after it: without the first, a crash soon after the rename can leave `path` empty or
    truncated on ext4/XFS (the rename reached the journal, the data did not), which is the
    half-written file the rename was there to prevent. Where a folder cannot be opened for
    syncing (not POSIX), that last step is skipped. With `overwrite=False` the file is put in
    place by a hard link, which fails with `FileExistsError` when `path` exists, even one
    another process wrote since the caller looked (a rename would replace it); `tmp` is then
    left for the caller to remove. Where hard links are not supported, it falls back to a
    check and a rename.
    """
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    exists = FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    if overwrite:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise exists from None
        except OSError:  # no hard links here (some network or FAT file systems)
            if os.path.exists(path):
                raise exists from None
            os.replace(tmp, path)
        else:
            os.remove(tmp)
    sync_folder(os.path.dirname(os.path.abspath(path)))


def sync_folder(folder: str | os.PathLike) -> None:
    """`fsync` of a folder, so renames into it survive a crash; skipped where a folder cannot
    be opened for syncing (not POSIX)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_from_temporary(
    tmp: str | os.PathLike, path: str | os.PathLike, overwrite: bool = True
) -> None:
    """Renames a finished temporary file onto `path`, with the permissions of a new file.

    `tempfile.mkstemp` creates its file readable by its owner only (0600); a plain `os.replace`
    would pass that on to the output. This gives it what `open()` would have: 0666 less the
    process umask. The rename is a `durable_replace` (`overwrite` as there).
    """
    os.chmod(tmp, 0o666 & ~_process_umask())
    durable_replace(tmp, path, overwrite)


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


@functools.lru_cache(maxsize=32)
def stft_window(win_length: int, n_fft: int) -> np.ndarray:
    """librosa's STFT window: a periodic Hann window of `win_length`, zero-padded to `n_fft`.

    The window is `0.5 - 0.5 * cos(2 * pi * n / win_length)` for `n = 0 .. win_length - 1`
    (periodic, i.e. "fftbins" in SciPy's terms, for even and odd lengths alike), centred in the
    frame the way `librosa.util.pad_center` does it: `(n_fft - win_length) // 2` zeros on the
    left, the rest on the right. It is built here and passed to the STFTs as an array because
    `tf.signal.hann_window(periodic=True)`, which Keras' TensorFlow `ops.stft(window="hann")`
    uses too, returns a symmetric window for odd lengths (periodic only applies to even ones),
    which moved odd-`win_length` mels far beyond float rounding from librosa.

    Args:
        win_length: int, the window length (1 <= win_length <= n_fft).
        n_fft: int, the FFT size (frame length) the window is padded to.

    Returns:
        A read-only float64 array of shape (n_fft,).

    Raises:
        ValueError: `win_length` is not in [1, n_fft].

    Example:
        >>> stft_window(4, 6).round(3).tolist()
        [0.0, 0.0, 0.5, 1.0, 0.5, 0.0]
    """
    if not 0 < win_length <= n_fft:
        raise ValueError(f"win_length must be in [1, n_fft={n_fft}]; got {win_length}.")
    n = np.arange(win_length, dtype=np.float64)
    left = (n_fft - win_length) // 2
    window = np.zeros(n_fft, dtype=np.float64)
    window[left : left + win_length] = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / win_length)
    window.setflags(write=False)
    return window


def _check_float_audio(dtype: str) -> None:
    """Refuses integer audio: raw int16 PCM is 32768 times too loud (librosa refuses it too)."""
    if not dtype.startswith(("float", "bfloat")):
        raise TypeError(
            f"audio must be floating point in [-1, 1]; got {dtype} (scale PCM first, e.g. "
            "x / 32768, or read the file with keras_waveglow.audio.load_audio)."
        )


def _check_sample_rate(sample_rate, whole: bool = False):
    """Refuses a sample rate that is not a finite positive number (a whole one if `whole`),
    by name, before librosa or soxr fail on it with a message that names neither.

    Returns:
        The rate as a Python number (a 0-d NumPy, TensorFlow or JAX scalar is read out: the
        cached filterbank needs a hashable key).
    """
    if not isinstance(sample_rate, bool | str | bytes) and hasattr(sample_rate, "dtype"):
        if np.ndim(sample_rate) == 0:  # a NumPy, TensorFlow or JAX scalar, as int() took
            sample_rate = np.asarray(sample_rate).item()
    if (
        isinstance(sample_rate, bool)
        or not isinstance(sample_rate, numbers.Real)
        or not (math.isfinite(sample_rate) and sample_rate > 0)
        or (whole and not float(sample_rate).is_integer())
    ):
        kind = "a positive whole number" if whole else "a positive number"
        raise ValueError(f"sample_rate must be {kind} of Hz; got {sample_rate!r}.")
    return sample_rate


def _check_regular_file(path: Path, kind: str) -> None:
    """Refuses a folder, a missing path, and a pipe or device (read as "no such file" before)."""
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, not a file.")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such {kind} file.")
    if not path.is_file():
        raise AudioFileError(f"{path}: not a regular file (a pipe or a device?); give a file.")


def _check_mel_args(audio_shape, n_fft: int, hop_length: int, win_length: int) -> None:
    if len(audio_shape) not in (1, 2):
        raise ValueError(f"audio must have shape (T,) or (B, T); got {tuple(audio_shape)}.")
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft}).")
    if win_length <= 0:
        raise ValueError(f"win_length must be positive; got {win_length}.")
    if hop_length <= 0:
        raise ValueError(f"hop_length must be positive; got {hop_length}.")
    length = audio_shape[-1]
    if length is not None and length <= n_fft // 2:
        layout = ""
        if len(audio_shape) == 2 and audio_shape[0] is not None and audio_shape[0] > length:
            layout = (
                f" Shape {tuple(audio_shape)} reads as (batch, T): for (T, channels) audio as "
                "soundfile returns it, pass one channel or the mean over axis 1."
            )
        raise ValueError(
            f"audio too short for reflect padding: {length} samples <= n_fft // 2 = {n_fft // 2}."
            + layout
        )


PRECISIONS = ("float64", "float32")


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")


def mel_spectrogram(
    audio,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
    precision: str = "float64",
):
    """Log-mel spectrogram, NVIDIA Tacotron 2's definition, with `keras.ops`.

    Precision: the STFT, filterbank product and log run in `precision` and the result is cast to
    float32. A float32 FFT is off by up to about 6e-4 (log units) from librosa in near-silent mel
    bands of real speech (the FFT's rounding error is relative to the whole frame's energy, and
    the log magnifies it where a band is quiet). With "float64" (the default; under JAX the value is
    computed inside `jax.enable_x64(True)`, which works under `jit` too, and the gradient comes
    from the float32 path because JAX's backward pass runs outside that context) the measured
    max abs difference to librosa on the bundled ARCTIC utterances is below 1e-6 at 16 kHz and
    22.05 kHz on TensorFlow and JAX. Pass `precision="float32"` for speed inside training
    losses on accelerators where float64 is slow; everything else (data, evaluation, vocode)
    should keep the default.

    Args:
        audio: (T,) or (B, T) float audio in [-1, 1].
        sample_rate: int, sample rate in Hz.
        n_fft: int, FFT size. Default 1024.
        hop_length: int, samples between frames. Default 256.
        win_length: int, periodic Hann window length (<= n_fft, even or odd), centred in the
            frame as librosa does (`stft_window`). Default 1024.
        n_mels: int, mel bands. Default 80.
        fmin: float, lowest mel frequency. Default 0.0.
        fmax: float or None, highest mel frequency (None: Nyquist). Default 8000.0.
        precision: str, "float64" (default, librosa parity) or "float32" (fast).

    Returns:
        float32 tensor (frames, n_mels) or (B, frames, n_mels), frames = 1 + (T + 2 *
        (n_fft // 2) - n_fft) // hop_length as in librosa (1 + T // hop_length for even
        n_fft).

    Raises:
        TypeError: the audio is not floating point (e.g. raw int16 PCM).
        ValueError: a `sample_rate` that is not a positive number, a bad shape, audio too short
            for the reflect padding, a window longer than `n_fft` or not positive, a hop that
            is not positive, or an unknown precision.

    Example:
        >>> mel = mel_spectrogram(np.zeros(16000, "float32"), 16000)
        >>> tuple(mel.shape)
        (63, 80)
    """
    _check_precision(precision)
    sample_rate = _check_sample_rate(sample_rate)
    audio = ops.convert_to_tensor(audio)
    _check_float_audio(backend.standardize_dtype(audio.dtype))
    _check_mel_args(audio.shape, n_fft, hop_length, win_length)
    basis = mel_filterbank(sample_rate, n_fft, n_mels, float(fmin), fmax)
    args = (audio, basis, n_fft, hop_length, win_length)

    if precision == "float32":
        return _ops_log_mel(*args, "float32")
    if backend.backend() != "jax":
        return _ops_log_mel(*args, "float64")
    return _jax_float64_log_mel(n_fft, hop_length, win_length)(audio, basis)


@functools.lru_cache(maxsize=16)
def _jax_float64_log_mel(n_fft: int, hop_length: int, win_length: int):
    """The float64 log-mel under JAX, as one jitted function (eager calls compile once).

    JAX computes float64 only inside `enable_x64`, but its backward pass runs later, outside the
    context: the value comes from float64 and the gradient from the float32 path.
    """
    import jax

    def log_mel(audio, basis):
        with jax.enable_x64(True):
            value = _ops_log_mel(audio, basis, n_fft, hop_length, win_length, "float64")
        trainable = _ops_log_mel(audio, basis, n_fft, hop_length, win_length, "float32")
        return ops.stop_gradient(value) + (trainable - ops.stop_gradient(trainable))

    return jax.jit(log_mel)


_POWER_FLOOR = 1e-20  # |STFT|^2 floor of the keras.ops mel (see `_ops_log_mel`)


def _ops_log_mel(audio, basis, n_fft, hop_length, win_length, dtype):
    # The window goes in as an array padded to n_fft: window="hann" is symmetric for odd
    # lengths on the TensorFlow backend (see `stft_window`).
    window = ops.convert_to_tensor(stft_window(win_length, n_fft), dtype)
    real, imag = ops.stft(
        ops.cast(audio, dtype),
        sequence_length=n_fft,
        sequence_stride=hop_length,
        fft_length=n_fft,
        window=window,
        center=True,
    )
    # The floor inside the square root keeps its gradient finite where a frame is digital
    # silence (JAX's sqrt has an infinite one at 0, and NaN follows; TensorFlow's gives 0). A
    # magnitude of 1e-10 is five orders below the log floor: the values are librosa's.
    magnitude = ops.sqrt(ops.maximum(real * real + imag * imag, ops.cast(_POWER_FLOOR, dtype)))
    mel = ops.matmul(magnitude, ops.convert_to_tensor(basis, dtype))
    return ops.cast(ops.log(ops.maximum(mel, ops.cast(LOG_FLOOR, dtype))), "float32")


def tf_mel_spectrogram(
    audio,
    sample_rate: int,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
    precision: str = "float64",
):
    """The same log-mel as `mel_spectrogram`, with `tf.signal`, for use inside tf.data.

    Works whatever the Keras backend is (tf.data always runs on TensorFlow). Arguments and
    return value as `mel_spectrogram`, as `tf.Tensor`s. With the default float64 precision it
    agrees with `mel_spectrogram` to about 1e-6 on TensorFlow and JAX (measured on the bundled
    ARCTIC utterances at 16 kHz and 22.05 kHz; the tests hold it to 1e-5), odd `win_length`
    and `n_fft` included.

    Raises:
        TypeError: the audio is not floating point (e.g. raw int16 PCM), as `mel_spectrogram`.
        ValueError: as `mel_spectrogram`.

    Example:
        >>> tuple(tf_mel_spectrogram(np.zeros(16000, "float32"), 16000).shape)
        (63, 80)
    """
    import tensorflow as tf

    _check_precision(precision)
    sample_rate = _check_sample_rate(sample_rate)
    dtype = tf.float64 if precision == "float64" else tf.float32
    audio = tf.convert_to_tensor(audio)
    _check_float_audio(audio.dtype.name)
    audio = tf.cast(audio, dtype)
    _check_mel_args(audio.shape, n_fft, hop_length, win_length)
    pad = n_fft // 2
    paddings = [[0, 0]] * (audio.shape.rank - 1) + [[pad, pad]]
    padded = tf.pad(audio, paddings, mode="REFLECT")
    # Not tf.signal.hann_window: its periodic=True gives a symmetric window for odd lengths.
    window = tf.constant(stft_window(win_length, n_fft), dtype)

    def window_fn(frame_length, dtype):
        return window

    stft = tf.signal.stft(
        padded, frame_length=n_fft, frame_step=hop_length, fft_length=n_fft, window_fn=window_fn
    )
    basis = tf.constant(mel_filterbank(sample_rate, n_fft, n_mels, float(fmin), fmax), dtype)
    mel = tf.matmul(tf.abs(stft), basis)
    return tf.cast(tf.math.log(tf.maximum(mel, tf.constant(LOG_FLOOR, dtype))), tf.float32)


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


# ------------------------------------------------------------------------------------------------
# Audio and mel I/O
# ------------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
# What `save_audio` writes: soundfile format and default subtype per extension (no extension:
# WAV). Ogg holds only compressed audio (Vorbis, Opus), so it cannot take the PCM_16 default.
_WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", "": "WAV"}
_DEFAULT_SUBTYPES = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS"}
# Magic numbers of the containers `load_audio` reads: a file that starts with one of these but
# does not decode has a corrupt header; anything else is not an audio file at all.
_MAGIC = {b"RIFF": "WAV", b"RIFX": "WAV", b"RF64": "WAV", b"fLaC": "FLAC", b"OggS": "OGG"}
# A file whose header declares a rate outside [low, high] Hz is read with a warning: below
# 1 kHz no audio format is in real use (a 1 Hz header turns 2,000 samples into 2,000 s, or
# 44 M samples once resampled to 22.05 kHz); 768 kHz is the highest rate audio hardware uses.
PLAUSIBLE_FILE_RATES = (1000, 768_000)


# A decoded file whose peak exceeds full scale is scaled to this peak instead of being clipped
# (`keras-waveglow prepare`, the training data).
RESCALED_PEAK = 0.99
# What is logged of such a file (its path, its peak, RESCALED_PEAK).
BEYOND_FULL_SCALE = (
    "%s: samples reach %.3f, beyond full scale; scaled to a peak of %.2f (as `keras-waveglow "
    "prepare` and training do), not clipped."
)


class AudioFileError(ValueError):
    """A file that cannot be used as audio or mel input; the message names the file."""


def _read_magic(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def unreadable_audio_error(path: str | os.PathLike, error: Exception) -> AudioFileError:
    """The `AudioFileError` for a file soundfile cannot open: corrupt header or not audio."""
    path = Path(path)
    detail = str(error).replace(f"'{path}'", "the file")
    kind = _MAGIC.get(_read_magic(path))
    if kind is not None:
        return AudioFileError(f"{path}: corrupt or truncated {kind} header ({detail}).")
    return AudioFileError(f"{path}: not an audio file (expected wav, flac or ogg; {detail}).")


def reason_without_path(error: BaseException, path: str | os.PathLike) -> str:
    """The error's message without the file's name, for reports that name the file themselves.

    A leading `<path>: ` (as given or resolved) is dropped and a quoted `'<path>'` inside the
    message (soundfile's wording) becomes "the file"; an empty message gives the error's type.
    """
    message = str(error)
    path = Path(path)
    for name in dict.fromkeys((str(path), str(path.resolve()))):
        if message.startswith(f"{name}: "):
            message = message[len(name) + 2 :]
        message = message.replace(f"'{name}'", "the file")
    return message.strip() or type(error).__name__


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
    clip: bool = True,
) -> tuple[np.ndarray, int]:
    """Reads a wav/flac/ogg file as float32 in [-1, 1], mixed to mono and resampled.

    Integer PCM is scaled by soundfile to [-1, 1). Several channels are averaged when `mono`.
    When `sample_rate` is given and differs from the file's rate, the audio is resampled with
    soxr (high quality) and the change is logged at INFO level on the `keras_waveglow.audio`
    logger ("<file>: resampled 22050 Hz -> 16000 Hz"); the file's own rate is available from
    `soundfile.info(path).samplerate`. Float files with samples beyond [-1, 1] are clipped with a
    warning (with `clip=False` they are returned as they are, for the caller to rescale); a
    WAV file holding fewer samples than its header announces (a cut download or copy) is read
    as far as it goes, with a warning naming both sizes. A file whose header declares a rate
    below 1,000 Hz or above 768,000 Hz (`PLAUSIBLE_FILE_RATES`; most likely a wrong or corrupt
    header) is read too, with a warning naming its rate and the length it gives.

    Args:
        path: str or path-like, the audio file.
        sample_rate: int or None, the rate wanted (a positive whole number of Hz); None keeps
            the file's rate.
        mono: bool, average the channels to one (with a warning when they cancel: 20 dB
            below uncorrelated channels' mix, e.g. one polarity-inverted). Default True. When
            False, multi-channel audio is returned as (T, channels).
        clip: bool, clip float samples beyond [-1, 1] (with a warning). Default True.

    Returns:
        `(audio, rate)`: float32 array (T,) (or (T, channels) when `mono=False` and the file has
        several channels) and the rate of the returned audio in Hz (equal to `sample_rate`
        when given).

    Raises:
        ValueError: `sample_rate` is not None or a positive whole number (checked before the
            file is opened).
        FileNotFoundError: the file does not exist.
        IsADirectoryError: the path is a folder.
        AudioFileError: the file is empty, has a corrupt header, is not an audio file, holds no
            samples (or too few to give one at `sample_rate`), holds NaN/inf samples, or is
            not a regular file (a pipe). The message names the file.

    Example:
        >>> audio, rate = load_audio("data/cmu_us_slt_arctic/wav/arctic_a0009.wav", 22050)
        >>> rate, audio.dtype
        (22050, dtype('float32'))
    """
    import soundfile as sf

    if sample_rate is not None:
        _check_sample_rate(sample_rate, whole=True)
        sample_rate = int(sample_rate)
    path = Path(path)
    _check_regular_file(path, "audio")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: empty file (0 bytes), not audio.")
    try:
        with sf.SoundFile(str(path)) as handle:
            audio = handle.read(dtype="float32", always_2d=True)
            rate = handle.samplerate
            # libsndfile sizes a cut WAV by the bytes present and notes the header's claim
            # in its diagnostics: "data : 38400 (should be 2956)".
            cut = re.search(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", handle.extra_info, re.M)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise unreadable_audio_error(path, error) from error
    if audio.shape[0] == 0:
        raise AudioFileError(f"{path}: the file holds no audio samples.")
    # 0xFFFFFFFF is the size a streaming writer leaves when it cannot seek back: not a cut.
    if cut and int(cut.group(2)) < int(cut.group(1)) < 0xFFFFFFFF:
        logger.warning(
            "%s: truncated: its header announces %s bytes of samples, the file holds %s "
            "(%d frames read); using what is there.",
            path,
            cut.group(1),
            cut.group(2),
            audio.shape[0],
        )
    bad = ~np.isfinite(audio)
    if bad.any():
        raise AudioFileError(f"{path}: {int(bad.sum())} NaN/inf samples; the audio is unusable.")
    low, high = PLAUSIBLE_FILE_RATES
    if not low <= rate <= high:
        frames = audio.shape[0]
        if sample_rate is not None and sample_rate != rate:
            frames = round(frames * sample_rate / rate)
        logger.warning(
            "%s: its header declares %d Hz, outside %d-%d Hz (a wrong or corrupt header?); "
            "read at that rate it gives %d samples (%.4g s) at %d Hz.",
            path,
            rate,
            low,
            high,
            frames,
            audio.shape[0] / rate,
            rate if sample_rate is None else sample_rate,
        )
    if mono and audio.shape[1] > 1:
        channels = audio.shape[1]
        channel_power = float(np.mean(np.square(audio, dtype=np.float64)))
        audio = audio.mean(axis=1, dtype=np.float64).astype(np.float32)
        mixed_power = float(np.mean(np.square(audio, dtype=np.float64)))
        # Averaging loses 10 log10(channels) dB of power for uncorrelated channels and none
        # for identical ones; 20 dB beyond that, the channels cancel (one polarity-inverted).
        if channel_power > 0 and mixed_power < channel_power / channels * 1e-2:
            logger.warning(
                "%s: its %d channels cancel when averaged to mono (%.1f dB quieter than the "
                "channels: one polarity-inverted?); read it with mono=False and pick a channel.",
                path,
                channels,
                10 * np.log10(channel_power / max(mixed_power, 1e-30)),
            )
    elif audio.shape[1] == 1:
        audio = audio[:, 0]
    peak = float(np.max(np.abs(audio)))
    if clip and peak > 1.0:
        logger.warning("%s: float samples reach %.3f beyond [-1, 1]; clipped.", path, peak)
        audio = np.clip(audio, -1.0, 1.0)
    if sample_rate is not None and sample_rate != rate:
        import soxr

        logger.info("%s: resampled %d Hz -> %d Hz.", path, rate, sample_rate)
        samples = audio.shape[0]
        audio = soxr.resample(audio, rate, sample_rate, quality="HQ").astype(np.float32)
        if audio.shape[0] == 0:
            raise AudioFileError(
                f"{path}: {samples} sample(s) at {rate} Hz give none at {sample_rate} Hz."
            )
        overshoot = float(np.max(np.abs(audio)))
        if clip and overshoot > 1.0:  # the resampler's ringing at sharp edges
            logger.warning(
                "%s: resampled to %d Hz, the samples reach %.3f beyond [-1, 1] (%d of %d); "
                "clipped (read it with clip=False to rescale instead).",
                path,
                sample_rate,
                overshoot,
                int(np.sum(np.abs(audio) > 1.0)),
                audio.size,
            )
            audio = np.clip(audio, -1.0, 1.0)
        rate = sample_rate
    return np.ascontiguousarray(audio, dtype=np.float32), int(rate)


def rescale_beyond_full_scale(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Audio whose peak exceeds full scale scaled to a peak of `RESCALED_PEAK`, not clipped.

    Args:
        audio: float array, as `load_audio(..., clip=False)` returns it.

    Returns:
        `(audio, peak)`: the audio (scaled when `peak > 1`, else as given) and its peak before.

    Example:
        >>> scaled, peak = rescale_beyond_full_scale(np.array([0.5, -2.0], np.float32))
        >>> float(peak), scaled.tolist()
        (2.0, [0.2475000023841858, -0.9900000095367432])
    """
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:
        audio = audio * np.float32(RESCALED_PEAK / peak)
    return audio, peak


def load_speech(path: str | os.PathLike, mel_config: dict | None = None) -> tuple[np.ndarray, int]:
    """A recording as training, `evaluate` and `vocode` all read it: `load_audio`, except that a
    file beyond full scale (a float WAV or FLAC, a Vorbis file decoding past 1.0) is scaled to a
    peak of `RESCALED_PEAK` with a warning instead of clipped (square tops are a buzz: the
    model would be asked for, or scored against, audio it never trained on), and a file
    recorded at a rate whose half is below the mel's top (`fmax`, else half the mel's rate) is
    named in a warning (the mel's top bands are empty: the model is asked for, or scored on, a
    band the recording never had).

    Args:
        path: str or path-like, the audio file.
        mel_config: dict or None, the mel settings the audio is for (a model's `mel_config`):
            the audio is resampled to its "sample_rate". None keeps the file's rate, with no
            rate warning.

    Returns:
        `(audio, rate)` as `load_audio` returns them (mono).

    Raises:
        As `load_audio`.

    Example:
        >>> path = "data/cmu_us_slt_arctic/wav/arctic_a0009.wav"
        >>> audio, rate = load_speech(path, model.mel_config)  # at the model's rate
    """
    import soundfile as sf

    sample_rate = None if mel_config is None else mel_config["sample_rate"]
    audio, rate = load_audio(path, sample_rate, clip=False)
    if mel_config is not None:
        fmax = mel_config.get("fmax") or sample_rate / 2
        with contextlib.suppress(RuntimeError, ValueError, OSError):  # load_audio read it
            source_rate = sf.info(str(path)).samplerate
            if source_rate / 2 < fmax:
                logger.warning(
                    "%s: recorded at %d Hz: nothing above %g Hz, below the mel's top (%g Hz); "
                    "its top bands are empty.",
                    path,
                    source_rate,
                    source_rate / 2,
                    fmax,
                )
    audio, peak = rescale_beyond_full_scale(audio)
    if peak > 1.0:
        logger.warning(BEYOND_FULL_SCALE, path, peak, RESCALED_PEAK)
    return audio, rate


def _write_format(path: Path, subtype: str | None) -> tuple[str, str]:
    """The soundfile (format, subtype) pair `save_audio` writes `path` with, checked up front."""
    import soundfile as sf

    suffix = path.suffix.lower()
    file_format = _WRITE_FORMATS.get(suffix)
    if file_format is None:
        raise ValueError(
            f"{path}: cannot write audio with extension {path.suffix!r}; use .wav, .flac or .ogg."
        )
    subtype = _DEFAULT_SUBTYPES[file_format] if subtype is None else str(subtype).upper()
    if not sf.check_format(file_format, subtype):
        allowed = ", ".join(sorted(sf.available_subtypes(file_format)))
        raise ValueError(
            f"{path}: the {file_format} format cannot hold subtype {subtype!r}; "
            f"choose one of {allowed}."
        )
    return file_format, subtype


def save_audio(
    path: str | os.PathLike,
    audio,
    sample_rate: int,
    subtype: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Writes audio atomically (a temporary file, then a rename), never replacing silently.

    The format and subtype are checked before anything is written: a refused pair leaves no file
    (and no temporary) behind.

    Args:
        path: str or path-like, the output file; the format follows the extension
            (.wav, .flac or .ogg, any case; no extension: wav).
        audio: array-like (T,) or (T, channels), float in [-1, 1].
        sample_rate: int, sample rate in Hz (a positive whole number).
        subtype: str or None, soundfile subtype. None (default) picks "PCM_16" for wav and
            flac and "VORBIS" (lossy) for ogg. With a PCM subtype, samples beyond [-1, 1] are
            clipped with a warning; "FLOAT" gives a 32-bit float wav.
        overwrite: bool, replace an existing file. Default False.

    Returns:
        The `Path` written.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False.
        IsADirectoryError: `path` is an existing folder.
        NotADirectoryError: a parent of `path` is an existing file.
        TypeError: the audio is not floating point (e.g. int16 PCM: divide it by 32768 first).
        ValueError: a sample rate that is not a positive whole number, an unknown extension,
            a subtype the format cannot hold (e.g. "FLOAT" in flac, "PCM_16" in ogg), audio of
            the wrong rank, without samples or holding NaN/inf, or soundfile refusing the write
            (e.g. Opus at a rate it does not support). The message names the file.

    Example:
        >>> save_audio("out.wav", np.zeros(16000, "float32"), 16000, overwrite=True)
        PosixPath('out.wav')
    """
    import soundfile as sf

    path = Path(path)
    try:
        sample_rate = int(_check_sample_rate(sample_rate, whole=True))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    file_format, subtype = _write_format(path, subtype)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder; refusing to replace a folder with a file: choose another path."
        )
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    if (blocker := file_in_the_way(path.parent)) is not None:
        raise NotADirectoryError(f"{path}: {blocker} is a file, not a folder.")
    audio = np.asarray(audio)
    if not audio.dtype.name.startswith(("float", "bfloat")):
        raise TypeError(
            f"{path}: audio must be floating point in [-1, 1]; got {audio.dtype} (convert it "
            "first, e.g. int16 PCM / 32768)."
        )
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2):
        raise ValueError(f"{path}: audio must be (T,) or (T, channels); got {audio.shape}.")
    if audio.shape[0] == 0:
        raise ValueError(
            f"{path}: the audio has no samples; refusing to write a file that `load_audio` "
            "(and every audio reader here) refuses."
        )
    if audio.ndim == 2 and audio.shape[1] > audio.shape[0]:
        raise ValueError(
            f"{path}: audio of shape {audio.shape} has more channels than samples; expected "
            "(T,) or (T, channels): write each row of a (batch, T) array as its own file, "
            "or pass audio.T for (channels, T)."
        )
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{path}: audio holds NaN/inf samples; refusing to write it.")
    if subtype.startswith("PCM") and audio.size and np.max(np.abs(audio)) > 1.0:
        logger.warning("%s: samples beyond [-1, 1] clipped for %s.", path, subtype)
        audio = np.clip(audio, -1.0, 1.0)
    if subtype == "PCM_16":
        # Round to the grid `load_audio` reads back (x * 32768): libsndfile's own conversion
        # scales by 32767, which would shift every sample by up to one step on a round trip.
        audio = np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        try:
            sf.write(tmp, audio, int(sample_rate), subtype=subtype, format=file_format)
        except sf.LibsndfileError as error:
            detail = str(error).replace(f"'{tmp}'", "the file").rstrip(".")
            raise ValueError(
                f"{path}: soundfile cannot write {file_format}/{subtype} audio at "
                f"{int(sample_rate)} Hz ({detail})."
            ) from error
        replace_from_temporary(tmp, path, overwrite)  # never onto a file written meanwhile
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _read_npy(path: Path) -> np.ndarray:
    """The array of a .npy file, read without unpickling; says what the file is if not .npy."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if not magic:
        raise AudioFileError(f"{path}: empty file (0 bytes), not a .npy array.")
    if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):  # a zip archive: what np.savez writes
        try:
            with zipfile.ZipFile(path) as archive:
                keys = [name.removesuffix(".npy") for name in archive.namelist()]
        except (zipfile.BadZipFile, OSError) as error:
            raise AudioFileError(
                f"{path}: a damaged zip (.npz?) archive, not a .npy file ({error})."
            ) from error
        shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} in all)" if len(keys) > 10 else "")
        raise AudioFileError(
            f"{path}: an .npz archive (keys: {shown or 'none'}), not a .npy file; load it with "
            "numpy.load and pass the mel array, or save the mel alone with numpy.save."
        )
    if magic != b"\x93NUMPY":
        raise AudioFileError(f"{path}: not a .npy file (no NumPy header: text or another format?).")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        if "allow_pickle" in str(error):  # an object array: reading it would run pickle
            raise AudioFileError(
                f"{path}: holds Python objects, not a numeric mel array (not loaded: "
                "reading it would unpickle code)."
            ) from error
        raise AudioFileError(f"{path}: not a readable .npy array ({error}).") from error


MEL_LAYOUTS = ("auto", "frames_first", "mels_first")


def load_mel(path: str | os.PathLike, n_mels: int = 80, layout: str = "auto") -> np.ndarray:
    """Reads a mel spectrogram made elsewhere as (frames, n_mels) float32.

    `.npy` files may hold (frames, n_mels) or (n_mels, frames); NVIDIA Tacotron 2 `.pt` files hold
    a torch tensor (n_mels, frames) or (1, n_mels, frames), read with
    `torch.load(weights_only=True)` (install the `torch` extra). The orientation is detected from
    `n_mels`. A mel with as many frames as bands (80 frames: 0.93 s at 22.05 kHz) cannot tell
    its orientation: a `.pt` file is then taken in NVIDIA's layout (Tacotron 2 saves (1,
    n_mels, frames), waveglow's mel2samp (n_mels, frames)), and a `.npy` file is refused
    unless `layout` says which it is.

    Args:
        path: str or path-like, a `.npy` or `.pt` file.
        n_mels: int, the number of mel bands expected. Default 80.
        layout: "auto" (told from `n_mels`, as above), "frames_first" (frames, n_mels) or
            "mels_first" (n_mels, frames): the file's axes, checked against `n_mels`.
            Default "auto".

    Returns:
        float32 array (frames, n_mels).

    Raises:
        TypeError: `n_mels` is not an int.
        ValueError: `n_mels` is not positive.
        FileNotFoundError: the file does not exist.
        IsADirectoryError: the path is a folder.
        AudioFileError: not a regular file (a pipe), unknown extension, unreadable file, a
            `.npy` name on another format (text, an `.npz` archive: its keys are listed),
            Python objects or a structured array, wrong rank, NaN/inf values, neither axis of
            size `n_mels`, both in a `.npy` file with `layout="auto"` (ambiguous
            orientation), or not the axis `layout` names.
        ImportError: a `.pt` file without torch installed.

    Example:
        >>> load_mel("mel.npy", n_mels=80).shape
        (245, 80)
    """
    n_mels = _checks.count("n_mels", n_mels, 1)
    if not isinstance(layout, str) or layout not in MEL_LAYOUTS:
        raise ValueError(f"layout must be one of {MEL_LAYOUTS}; got {layout!r}.")
    path = Path(path)
    _check_regular_file(path, "mel")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        mel = _read_npy(path)
    elif suffix == ".pt":
        try:
            import torch
        except ImportError as error:
            raise ImportError(
                f"Reading {path} needs PyTorch: pip install 'keras-waveglow[torch]'."
            ) from error
        try:
            tensor = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many kinds (pickle, zip, runtime) for bad files
            raise AudioFileError(f"{path}: cannot read a torch tensor ({error}).") from error
        if not isinstance(tensor, torch.Tensor):
            raise AudioFileError(f"{path}: holds a {type(tensor).__name__}, not a torch tensor.")
        if not tensor.is_floating_point():  # checked before the cast hides it (as for .npy)
            raise AudioFileError(f"{path}: mel values must be floats; got {tensor.dtype}.")
        mel = tensor.detach().to(torch.float32).numpy()
    else:
        raise AudioFileError(f"{path}: unknown mel file type {suffix!r}; expected .npy or .pt.")
    mel = np.asarray(mel)
    if mel.dtype.names:
        raise AudioFileError(
            f"{path}: a structured array (fields: {', '.join(mel.dtype.names)}), not a plain "
            f"numeric mel array; got shape {mel.shape}."
        )
    if mel.ndim == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.ndim != 2:
        raise AudioFileError(f"{path}: a mel must be 2-D (frames, n_mels); got shape {mel.shape}.")
    if not np.issubdtype(mel.dtype, np.floating):
        raise AudioFileError(f"{path}: mel values must be floats; got {mel.dtype}.")
    rows_are_mels, cols_are_mels = mel.shape[0] == n_mels, mel.shape[1] == n_mels
    if layout != "auto":
        axis = 0 if layout == "mels_first" else 1
        if mel.shape[axis] != n_mels:
            raise AudioFileError(
                f"{path}: layout={layout!r} puts the n_mels={n_mels} bands on axis {axis}, "
                f"but the mel has shape {mel.shape}."
            )
        rows_are_mels = layout == "mels_first"
    elif rows_are_mels and cols_are_mels:
        if suffix != ".pt":
            raise AudioFileError(
                f"{path}: ambiguous orientation, both axes have n_mels={n_mels} entries "
                f"{mel.shape}; say which it is: layout='frames_first' (frames, n_mels) or "
                "'mels_first' (n_mels, frames), `--mel-layout` in `keras-waveglow vocode`."
            )
        cols_are_mels = False  # NVIDIA's tools save (n_mels, frames) or (1, n_mels, frames)
    if not (rows_are_mels or cols_are_mels):
        raise AudioFileError(f"{path}: neither axis has n_mels={n_mels} entries: {mel.shape}.")
    if rows_are_mels:
        mel = mel.T
    if not np.all(np.isfinite(mel)):
        raise AudioFileError(f"{path}: the mel holds NaN/inf values.")
    return np.ascontiguousarray(mel, dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# Pre-processing
# ------------------------------------------------------------------------------------------------


def check_peak(peak, name: str = "peak") -> float:
    """`peak` as a float, if it is a finite number in (0, 1]; else TypeError / ValueError.

    0 would scale every file to silence, a negative peak flips the polarity and one above 1
    pushes the audio beyond full scale (NaN makes every sample NaN).
    """
    value = _checks.number(name, peak)
    if not 0.0 < value <= 1.0:  # NaN fails too
        raise ValueError(
            f"{name} must be in (0, 1] (full scale is 1); got {peak!r} (0 is silence, a "
            "negative peak flips the polarity, one above 1 is beyond full scale)."
        )
    return value


def peak_normalize(audio, peak: float = 0.9) -> np.ndarray:
    """Scales audio so that its largest absolute sample is `peak` (silence is left as is).

    Args:
        audio: array-like float audio.
        peak: float in (0, 1], the target peak (full scale is 1). Default 0.9.

    Returns:
        float32 array of the same shape.

    Raises:
        TypeError: `peak` is not a number.
        ValueError: `peak` is not in (0, 1] (0, negative, above full scale, or NaN).

    Example:
        >>> round(float(np.abs(peak_normalize(np.array([0.1, -0.2]))).max()), 6)
        0.9
    """
    peak = check_peak(peak)
    audio = np.asarray(audio, dtype=np.float32)
    current = float(np.max(np.abs(audio))) if audio.size else 0.0
    if current == 0.0:
        return audio.copy()
    return (audio * (peak / current)).astype(np.float32)


def rms_normalize(audio, target_db: float = -23.0) -> np.ndarray:
    """Scales audio to an RMS level of `target_db` dB full scale (silence is left as is).

    The result may exceed [-1, 1] for loud targets; follow with `peak_normalize` or a clip if
    that matters.

    Args:
        audio: array-like float audio.
        target_db: float, the RMS level in dBFS (0 dB: RMS of 1). Default -23.0.

    Returns:
        float32 array of the same shape.

    Raises:
        TypeError: `target_db` is not a number.
        ValueError: `target_db` is not finite (NaN would make every sample NaN, +-inf
            infinite or silent).

    Example:
        >>> x = rms_normalize(np.random.default_rng(0).normal(size=1000), -20.0)
        >>> round(float(20 * np.log10(np.sqrt(np.mean(x ** 2)))), 3)
        -20.0
    """
    target = _checks.number("target_db", target_db)
    if not math.isfinite(target):
        raise ValueError(f"target_db must be a finite level in dBFS; got {target_db!r}.")
    audio = np.asarray(audio, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms == 0.0:
        return audio.copy()
    return (audio * (10.0 ** (target / 20.0) / rms)).astype(np.float32)


def trim_silence(
    audio, top_db: float = 40.0, frame_length: int = 1024, hop_length: int = 256
) -> np.ndarray:
    """Removes leading and trailing silence with `librosa.effects.trim`.

    Args:
        audio: array-like (T,) float audio.
        top_db: float, frames more than `top_db` dB below the loudest frame count as silence.
            Default 40.0.
        frame_length: int, analysis frame length. Default 1024.
        hop_length: int, analysis hop. Default 256.

    Returns:
        float32 array (T',), T' <= T.

    Example:
        >>> x = np.concatenate([np.zeros(8000), np.ones(4000) * 0.5, np.zeros(8000)])
        >>> 4000 <= len(trim_silence(x)) < 6000
        True
    """
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    trimmed, _ = librosa.effects.trim(
        audio, top_db=top_db, frame_length=frame_length, hop_length=hop_length
    )
    return np.ascontiguousarray(trimmed, dtype=np.float32)


# ------------------------------------------------------------------------------------------------
# Augmentations (NumPy, seeded; used by the data pipeline before the mel is computed)
# ------------------------------------------------------------------------------------------------


def _generator(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def dequantize(audio, seed=None, bits: int = 16) -> np.ndarray:
    """Adds uniform noise of +-0.5 least significant bit (of `bits`-bit PCM) to audio.

    Dequantisation turns the discrete 16-bit values into a continuous density, which keeps a flow
    from collapsing onto the quantisation grid and stabilises its likelihood training.

    Args:
        audio: array-like float audio in [-1, 1].
        seed: int, `np.random.Generator` or None.
        bits: int, PCM bit depth whose LSB sets the noise width (1 / 2**(bits - 1)). Default 16.

    Returns:
        float32 array of the same shape.

    Example:
        >>> y = dequantize(np.zeros(4), seed=0)
        >>> bool(np.all(np.abs(y) <= 0.5 / 32768))
        True
    """
    audio = np.asarray(audio, dtype=np.float32)
    lsb = 1.0 / 2 ** (bits - 1)
    noise = _generator(seed).uniform(-0.5 * lsb, 0.5 * lsb, size=audio.shape)
    return (audio + noise).astype(np.float32)


def add_noise(audio, snr_db: float, seed=None) -> np.ndarray:
    """Adds white Gaussian noise at a signal-to-noise ratio of `snr_db` dB.

    Args:
        audio: array-like float audio.
        snr_db: float, the SNR in dB (the noise power is the audio power / 10**(snr_db / 10)).
        seed: int, `np.random.Generator` or None.

    Returns:
        float32 array of the same shape (silence stays silent).

    Raises:
        TypeError: `snr_db` not a number.
        ValueError: `snr_db` NaN or infinite (NaN made every sample NaN; +inf is no noise,
            -inf infinite noise).

    Example:
        >>> y = add_noise(np.sin(np.arange(16000) / 10), snr_db=20.0, seed=0)
    """
    snr_db = _checks.number("snr_db", snr_db)
    if not math.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number of dB; got {snr_db}.")
    audio = np.asarray(audio, dtype=np.float32)
    power = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
    if power == 0.0:
        return audio.copy()
    noise_std = np.sqrt(power / 10.0 ** (snr_db / 10.0))
    noise = _generator(seed).normal(0.0, noise_std, size=audio.shape)
    return (audio + noise).astype(np.float32)


def random_gain(audio, min_db: float = -6.0, max_db: float = 0.0, seed=None) -> np.ndarray:
    """Multiplies audio by a gain drawn uniformly in dB from [min_db, max_db].

    Args:
        audio: array-like float audio.
        min_db: float, the lowest gain in dB. Default -6.0.
        max_db: float, the highest gain in dB. Default 0.0.
        seed: int, `np.random.Generator` or None.

    Returns:
        float32 array of the same shape.

    Example:
        >>> y = random_gain(np.ones(3), -6.0, -6.0, seed=0)
        >>> round(float(y[0]), 4)
        0.5012
    """
    if min_db > max_db:
        raise ValueError(f"min_db ({min_db}) must not exceed max_db ({max_db}).")
    audio = np.asarray(audio, dtype=np.float32)
    gain_db = _generator(seed).uniform(min_db, max_db)
    return (audio * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def random_eq(
    audio,
    sample_rate: int,
    max_db: float = 6.0,
    highpass_hz: tuple[float, float] = (50.0, 400.0),
    highpass_prob: float = 0.5,
    points: int = 4,
    seed=None,
) -> np.ndarray:
    """Filters audio by a random equaliser, as if recorded through another microphone and room.

    The gain curve, in dB, is piecewise linear in log frequency through `points` values drawn
    uniformly from [-max_db, max_db] at log-spaced frequencies from 100 Hz to Nyquist (flat
    beyond the ends); with probability `highpass_prob` it is multiplied by the magnitude of a
    second-order Butterworth high-pass, 1 / sqrt(1 + (fc / f)**4), with fc drawn log-uniformly
    from `highpass_hz`. The filter is zero-phase, applied to the spectrum of the audio padded
    by reflection (so the segment's ends do not wrap into each other). A training segment
    and its mel both come from the filtered audio, so the vocoder learns to follow the mel's
    spectral balance, and low bands the mel says are empty, instead of its training voices'.

    Args:
        audio: array-like float audio, (T,).
        sample_rate: int, the audio's sample rate.
        max_db: float, the largest boost or cut of the curve in dB (0: no curve). Default 6.0.
        highpass_hz: (low, high) range of the high-pass cutoff in Hz. Default (50, 400).
        highpass_prob: float, probability of the high-pass. Default 0.5.
        points: int, control points of the curve (at least 2). Default 4.
        seed: int, `np.random.Generator` or None.

    Returns:
        float32 array of the same shape.

    Example:
        >>> y = random_eq(np.random.default_rng(0).normal(size=8192), 22050, seed=0)
        >>> y.shape
        (8192,)
    """
    if max_db < 0 or not 0.0 <= highpass_prob <= 1.0 or points < 2:
        raise ValueError(
            f"random_eq needs max_db >= 0, 0 <= highpass_prob <= 1 and points >= 2; got "
            f"{max_db}, {highpass_prob}, {points}."
        )
    low, high = (float(v) for v in highpass_hz)
    if not 0.0 < low <= high < sample_rate / 2:
        raise ValueError(
            f"highpass_hz must satisfy 0 < low <= high < {sample_rate / 2}; got {highpass_hz}."
        )
    audio = np.asarray(audio, dtype=np.float32)
    rng = _generator(seed)
    gains_db = rng.uniform(-max_db, max_db, size=points)
    cutoff = (
        np.exp(rng.uniform(np.log(low), np.log(high))) if rng.random() < highpass_prob else None
    )
    pad = min(len(audio) - 1, 1024)
    padded = np.pad(audio, pad, mode="reflect") if pad > 0 else audio
    n_fft = len(padded)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    anchors = np.log(np.geomspace(100.0, sample_rate / 2, points))
    curve_db = np.interp(np.log(np.maximum(freqs, 1.0)), anchors, gains_db)
    response = 10.0 ** (curve_db / 20.0)
    if cutoff is not None:
        with np.errstate(divide="ignore"):
            response = response / np.sqrt(1.0 + (cutoff / np.maximum(freqs, 1e-9)) ** 4)
    filtered = np.fft.irfft(np.fft.rfft(padded.astype(np.float64)) * response, n=n_fft)
    return filtered[pad : pad + len(audio)].astype(np.float32)


def change_speed(audio, factor: float, sample_rate: int = 16000) -> np.ndarray:
    """Plays audio `factor` times faster: pitch and formants times `factor`, length / `factor`.

    Speed perturbation (as in ASR training): the samples are read as if recorded at
    `factor * sample_rate` and resampled (soxr, high quality) back to `sample_rate`, so a
    factor of 1.25 turns a 200 Hz voice into a 250 Hz one. Content that would land above
    Nyquist is filtered out by the resampler.

    Args:
        audio: array-like float audio, (T,).
        factor: float > 0, the speed (and pitch) factor.
        sample_rate: int, only sets the resampler's rates (the result does not depend on it
            beyond rounding). Default 16000.

    Returns:
        float32 array of about T / factor samples.

    Example:
        >>> len(change_speed(np.zeros(1000), 1.25))
        800
    """
    import soxr

    if not factor > 0:
        raise ValueError(f"the speed factor must be positive; got {factor}.")
    audio = np.asarray(audio, dtype=np.float32)
    if factor == 1.0:
        return audio.copy()
    return soxr.resample(audio, factor * sample_rate, sample_rate, quality="HQ").astype(np.float32)
