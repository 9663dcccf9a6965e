"""Inference: mel -> audio with `vocode`, the default model, chunking, and the `Denoiser`.

`vocode` turns one mel, a batch, or a list of mels of different lengths into audio. Each mel is
cut into jobs of a few fixed shapes (shape buckets), so the backend compiles the flow's inverse
once per bucket instead of once per length:

* a mel of up to `chunk_frames + 2 * overlap_frames` frames, less the model's right receptive
  field, is one job, padded with silence (log-mel `log(1e-5)`) up to the next power of two (at
  least 32 frames) that leaves at least that receptive field of silence after it;
* a longer mel is cut into windows of exactly that many frames whose cores are `chunk_frames`
  long; neighbouring outputs are cross-faded over `fade_frames` around each core boundary.

The latent noise is drawn once per utterance with NumPy (`np.random.default_rng(seed)`) and
sliced for the windows, so a seeded call gives the same audio on TensorFlow and JAX, and chunked
output equals whole-utterance output: the flow's receptive field is finite (the upsampler looks
3 frames back, each coupling's WN `(2**wn_layers - 1) * (wn_kernel_size - 1) / 2` grouped steps
either way), and the default overlap covers it. Every job ends in at least that receptive field
of silence, so the last frames are made alike whatever the length, its bucket or the chunking:
as `WaveGlow.inverse` makes them for the mel followed by silence (not for the mel alone, whose
end `inverse` pads with zeros, a loud log-mel).

Compilation goes through Keras itself: a small `keras.Model` wraps `WaveGlow.inverse(mel, z=z)`
and runs with `predict_on_batch`, which Keras jit-compiles with the active backend
(`tf.function` or `jax.jit`).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops, saving

from keras_waveglow import _checks
from keras_waveglow._paths import keeps_pipe_lists
from keras_waveglow.audio import LOG_FLOOR
from keras_waveglow.flow import WaveGlow

_PACKAGE = "keras_waveglow"
MODEL_ENV_VAR = "KERAS_WAVEGLOW_MODEL"
DEFAULT_PEAK = 0.9
_MIN_BUCKET_FRAMES = 32
_MAX_CACHED_MODELS = 2
_SILENCE = float(np.log(LOG_FLOOR))  # log-mel of silence, used to pad mels to a bucket

_default_model: WaveGlow | str | None = None
_default_weights: str | None = None
_loaded_models: dict = {}  # (kind, path, mtime, weights) -> WaveGlow
_CACHE_ATTRIBUTE = "_keras_waveglow_cache"  # see `_object_cache`

_NO_MODEL_MESSAGE = (
    "vocode() needs a model and none is set. Either pass model=... (a WaveGlow, a .keras file, "
    "a preset name, or an NVIDIA checkpoint), call keras_waveglow.set_default_model(...), or set "
    f"the environment variable {MODEL_ENV_VAR} to a model path or preset name. Presets with "
    "trained weights: {presets} (e.g. WaveGlow.from_preset('nvidia_universal'); see "
    "`keras-waveglow presets`). Or train one (`keras-waveglow train`), or import an NVIDIA "
    "checkpoint file with keras_waveglow.from_nvidia(path)."
)


# --------------------------------------------------------------------------------------------
# Models: the default model and model specifications
# --------------------------------------------------------------------------------------------


def set_default_model(model: WaveGlow | str | os.PathLike | None, weights=None) -> None:
    """Sets the model that `vocode(mel)` uses when no model is passed.

    Args:
        model: a `WaveGlow`, a path (`.keras` file or NVIDIA checkpoint), a preset name (then
            `weights` is required), or None to clear the default (then the environment variable
            `KERAS_WAVEGLOW_MODEL` applies again).
        weights: str or path-like, a `.weights.h5` file for a preset name. Default None.

    Raises:
        TypeError: a model of another type.
        FileNotFoundError: a string that is neither an existing file nor a preset (the message
            names the closest preset), or `weights` that is no file. Paths are kept absolute:
            a later `os.chdir` does not change the default.
        ValueError: `weights` with anything but a preset name (None included), a preset
            without weights and none given, or a path that cannot be a model (a folder, a
            `.weights.h5` file without its preset, an audio or mel file).

    Example:
        >>> keras_waveglow.set_default_model("my_waveglow.keras")
        >>> audio, sample_rate = keras_waveglow.vocode(mel)
    """
    global _default_model, _default_weights
    model, weights = _split_spec(model, weights)  # the (preset, weights) form vocode takes
    if model is not None and not isinstance(model, WaveGlow | str | os.PathLike):
        raise TypeError(
            f"set_default_model expects a WaveGlow, a path or a preset name; got {type(model)}."
        )
    from keras_waveglow.presets import PRESETS

    if isinstance(model, str | os.PathLike) and not os.fspath(model).strip():
        raise ValueError(
            f"model is an empty string {os.fspath(model)!r}: give a preset name or a path."
        )
    if weights is not None:  # refused here, not at every later vocode(mel)
        if model is None:  # clearing the default: weights would be dropped without a word
            raise ValueError(
                "set_default_model(None) clears the default model and takes no weights; name "
                "their preset: set_default_model(<preset>, weights="
                f"{os.fspath(weights)!r})."
            )
        if isinstance(model, WaveGlow):
            _refuse_weights("a WaveGlow object", weights)
        if model is not None and os.fspath(model) not in PRESETS:
            _refuse_weights(f"the model file {os.fspath(model)}", weights)
        if not Path(weights).is_file():  # found missing here, not at the next vocode(mel)
            raise FileNotFoundError(f"{os.fspath(weights)}: no such weights file.")
        weights = os.path.abspath(weights)  # a later os.chdir does not move the default
    if isinstance(model, str | os.PathLike):  # refused here, not at the next vocode(mel)
        spec = os.fspath(model)
        if spec in PRESETS and not Path(spec).exists():
            _check_preset_spec(spec, weights)
        elif not Path(spec).exists():
            raise FileNotFoundError(_not_found_message(spec))
        else:
            _check_model_path(Path(spec))
            model = os.path.abspath(spec)
    _default_model = os.fspath(model) if isinstance(model, os.PathLike) else model
    _default_weights = None if weights is None else os.fspath(weights)


def _default_spec(weights=None):
    """What `model=None` stands for: `get_default_model()`, else the bundled preset (None
    when the package ships none). Weights given with the call win over the default's own."""
    model = get_default_model()
    if model is None:
        from keras_waveglow.presets import DEFAULT_PRESET

        return DEFAULT_PRESET
    if isinstance(model, tuple) and weights is not None:
        return model[0]
    return model


def _split_spec(model, weights) -> tuple:
    """`(model, weights)` of a `(preset, weights)` tuple, refusing other weights beside it."""
    if not (isinstance(model, tuple) and len(model) == 2):
        return model, weights
    if model[1] is None:
        return model[0], weights
    if weights is not None and os.fspath(weights) != os.fspath(model[1]):
        raise ValueError(
            f"weights given twice: {os.fspath(model[1])!r} in the (preset, weights) model "
            f"and weights={os.fspath(weights)!r}; give one."
        )
    return model


def _check_preset_spec(spec: str, weights, from_env: bool = False) -> None:
    """Refuses a preset that has no weights when none are given."""
    from keras_waveglow.presets import WEIGHTS

    if weights is None and spec not in WEIGHTS:
        where = f" (set by ${MODEL_ENV_VAR})" if from_env else ""
        raise ValueError(
            f"Preset {spec!r}{where} is an untrained architecture: pass "
            "weights=<file.weights.h5> "
            "(CLI: --weights) or a .keras model file to vocode with it, or use a preset "
            f"with weights: {sorted(WEIGHTS)}."
        )


def _check_model_path(path: Path, from_env: bool = False) -> None:
    """Refuses an existing path that cannot be a model file (before anything is read)."""
    from keras_waveglow.audio import AUDIO_EXTENSIONS

    where = f" (set by ${MODEL_ENV_VAR})" if from_env else ""
    if path.is_dir():
        raise ValueError(
            f"{path}{where} is a folder, not a model: pass a .keras file, an NVIDIA checkpoint "
            "or a preset name (to vocode the files in a folder: keras-waveglow vocode FOLDER)."
        )
    if path.name.endswith(".weights.h5"):
        raise ValueError((f"${MODEL_ENV_VAR}: " if from_env else "") + _weights_only_message(path))
    if path.suffix.lower() in (*AUDIO_EXTENSIONS, ".npy"):  # a .pt may be a checkpoint
        raise ValueError(
            f"{path}{where} is an audio or mel file, not a model: vocode it with "
            "keras_waveglow.vocode_files([path], out_dir) (CLI: keras-waveglow vocode), or "
            "read a mel with keras_waveglow.load_mel."
        )


def _not_found_message(spec: str, from_env: bool = False) -> str:
    """Why a model spec is neither a file nor a preset, with the closest preset's name."""
    from keras_waveglow.presets import PRESETS, did_you_mean

    where = f" (set by ${MODEL_ENV_VAR})" if from_env else ""
    return (
        f"Model {spec!r}{where} not found: not a file, and not a preset.{did_you_mean(spec)} "
        f"Expected a .keras file, an NVIDIA checkpoint or a preset: {', '.join(sorted(PRESETS))}."
    )


def get_default_model() -> WaveGlow | str | tuple[str, str] | None:
    """The default model spec: `set_default_model`'s (a `(preset, weights)` tuple when it was
    given weights, as `vocode` and `load_vocoder` take it), else `$KERAS_WAVEGLOW_MODEL`
    (stripped), else None (then `vocode` uses the bundled vocoder: `default_model()` returns
    the model itself)."""
    if _default_model is not None:
        if _default_weights is not None:
            return (_default_model, _default_weights)
        return _default_model
    return os.environ.get(MODEL_ENV_VAR, "").strip() or None


def _no_model_error() -> RuntimeError:
    from keras_waveglow.presets import WEIGHTS

    return RuntimeError(_NO_MODEL_MESSAGE.format(presets=", ".join(sorted(WEIGHTS)) or "none"))


def default_model() -> WaveGlow:
    """The model `vocode(mel)` uses when no model is passed.

    In order: the model given to `set_default_model`, else `$KERAS_WAVEGLOW_MODEL` (a path or a
    preset name), else the package's bundled preset (`presets.DEFAULT_PRESET`, when the package
    ships one). Callers read its `sample_rate` and `mel_config` to make matching mels.

    Returns:
        A `WaveGlow` (loaded once, then cached).

    Raises:
        RuntimeError: nothing is configured and no bundled model exists; the message lists the
            presets with weights.
        FileNotFoundError: `$KERAS_WAVEGLOW_MODEL` names neither a file nor a preset.
        ValueError: `$KERAS_WAVEGLOW_MODEL` names a preset without weights, or a path that
            cannot be a model (see `set_default_model`).

    Example:
        >>> model = keras_waveglow.default_model()
        >>> mel = keras_waveglow.mel_spectrogram(audio, **model.mel_config)
    """
    return load_vocoder(None)


def load_vocoder(model: WaveGlow | str | os.PathLike | None = None, weights=None) -> WaveGlow:
    """Resolves a model specification to a `WaveGlow` (loaded files are cached).

    Args:
        model: a `WaveGlow` (returned as is); a `.keras` file; a preset name: one with trained
            weights (`presets.WEIGHTS`, loaded through `WaveGlow.from_preset`) or any preset
            together with `weights`; a `(preset, weights)` tuple; an NVIDIA checkpoint (`.pt`,
            `.pth`, `.ckpt` or any other file), imported with
            `keras_waveglow.convert.from_nvidia`; or None for the default model (see
            `default_model`).
        weights: str or path-like, a `.weights.h5` file for a preset name. Default None.

    Returns:
        A `WaveGlow`.

    Raises:
        RuntimeError: model is None and no default model is set (the message says how to get one).
        FileNotFoundError: a path that does not exist.
        ValueError: a weightless preset without `weights`, `weights` with anything but a preset
            name, or a file that holds no WaveGlow.

    Example:
        >>> model = load_vocoder("arctic_16k", weights="arctic.weights.h5")
    """
    from_env = (
        model is None and _default_model is None and bool(os.environ.get(MODEL_ENV_VAR, "").strip())
    )
    if model is None:
        model = _default_spec(weights)
        if model is None:
            raise _no_model_error()
    if isinstance(model, WaveGlow):
        _refuse_weights("a WaveGlow object", weights)
        return model
    model, weights = _split_spec(model, weights)
    if not isinstance(model, str | os.PathLike):
        raise TypeError(
            f"model must be a WaveGlow, a path or a preset name; got {type(model).__name__}."
        )
    from keras_waveglow.presets import PRESETS, WEIGHTS

    spec = os.fspath(model)
    if not spec.strip():  # Path("") is ".", the current folder: "is a folder, not a model"
        raise ValueError(f"model is an empty string {spec!r}: give a preset name or a path.")
    if spec in PRESETS and not Path(spec).exists():
        if weights is None and spec in WEIGHTS:
            return _cached(("preset", spec), None, lambda: WaveGlow.from_preset(spec))
        _check_preset_spec(spec, weights, from_env)
        return _cached(("preset", spec), weights, lambda: _preset_with_weights(spec, weights))
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(_not_found_message(spec, from_env))
    if path.name.endswith(".keras") and path.is_file():
        _refuse_weights(f"the .keras file {path}", weights)
        return _cached(("keras", path), None, lambda: _load_keras(path))
    _check_model_path(path, from_env)
    _refuse_weights(f"the NVIDIA checkpoint {path}", weights)
    return _cached(("nvidia", path), None, lambda: _load_nvidia(path))


def _weights_only_message(path: Path) -> str:
    """The error for a `.weights.h5` file given as the model: pass it with its preset, named
    when the file is a training checkpoint or snapshot whose run recorded it (`run_config.json`
    beside it, or beside `snaps/`)."""
    import shlex

    from keras_waveglow.training import RECIPE_FILE, _read_recipe

    preset = None
    for run in (path.parent, path.parent.parent) if path.parent.name == "snaps" else (path.parent,):
        try:
            preset = (_read_recipe(run) or {}).get("preset")
        except ValueError:  # an unreadable run_config.json: no name, the generic example
            preset = None
        if preset is not None:
            break
    if isinstance(preset, str):
        which = f" ({preset!r}, says {run / RECIPE_FILE}):"
    else:  # not recorded: the one trained preset the file most often belongs to, as a form
        which, preset = " (`keras-waveglow presets` lists them), e.g.", "squeezewave_128s"
    return (
        f"{path} holds weights only: pass the preset it belongs to with it{which} "
        f"model={preset!r}, weights='{path}' (CLI: --model {shlex.quote(preset)} "
        f"--weights {shlex.quote(str(path))})."
    )


def _refuse_weights(what: str, weights) -> None:
    """`weights` belongs with a preset name: anything else holds its own (never ignore it)."""
    if weights is not None:
        raise ValueError(
            f"weights={os.fspath(weights)!r} was given with {what}, which carries its own "
            "weights; pass weights only with a preset name (e.g. model='squeezewave_128s', "
            "weights=...), or load them into the model yourself (model.load_weights)."
        )


def _cached(key, weights, load):
    def stamp_of(path: Path) -> tuple[int, int, int]:
        # ctime too: a file rewritten in place keeps an mtime `cp -p`, `rsync -t` or a
        # coarse clock leaves (or `os.utime` sets) equal; its change time still moves.
        stat = path.stat()
        return stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size

    stamp = None
    if key[0] != "preset":
        stamp = stamp_of(key[1])
    elif weights is not None:
        stamp = stamp_of(Path(weights)) if Path(weights).exists() else None
    full_key = (key[0], os.fspath(key[1]), stamp, None if weights is None else os.fspath(weights))
    if full_key in _loaded_models:
        _loaded_models[full_key] = _loaded_models.pop(full_key)  # most recently used last
    else:
        while len(_loaded_models) >= _MAX_CACHED_MODELS:  # models can be large
            _loaded_models.pop(next(iter(_loaded_models)))
        _loaded_models[full_key] = load()
    return _loaded_models[full_key]


def _preset_with_weights(name: str, weights) -> WaveGlow:
    # from_preset checks the file against the model (load_weights skips arrays it lacks).
    return WaveGlow.from_preset(name, weights=weights)


def _load_keras(path: Path) -> WaveGlow:
    from keras_waveglow._paths import check_keras_archive

    check_keras_archive(path)  # Keras would say "File not found"
    try:
        model = keras.saving.load_model(path)
    except TypeError as error:  # a class Keras cannot rebuild (another library's model)
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"{path}: Keras cannot rebuild the model it holds ({first}); vocode needs a "
            "keras_waveglow.WaveGlow saved with model.save."
        ) from error
    if not isinstance(model, WaveGlow):
        raise ValueError(f"{path} holds a {type(model).__name__}, not a keras_waveglow.WaveGlow.")
    return model


def _load_nvidia(path: Path) -> WaveGlow:
    try:
        from keras_waveglow.convert import from_nvidia
    except ImportError as error:
        raise ImportError(
            f"{path} looks like an NVIDIA checkpoint; importing it needs "
            "keras_waveglow.convert and PyTorch (pip install 'keras-waveglow[torch]')."
        ) from error
    return from_nvidia(path)


# --------------------------------------------------------------------------------------------
# The compiled inverse
# --------------------------------------------------------------------------------------------


@saving.register_keras_serializable(package=_PACKAGE)
class InverseRunner(keras.Model):
    """Wraps `WaveGlow.inverse(mel, z=z)` as a model, so Keras compiles it per input shape.

    `predict_on_batch([mel, z])` runs through Keras' predict function, which the active
    backend jit-compiles (`tf.function` on TensorFlow, `jax.jit` on JAX) and caches per input
    shape; `trace_count` counts how often the inverse was traced.

    Args:
        waveglow: the `WaveGlow` to run.

    Call arguments:
        inputs: `[mel, z]`, mel (B, F, n_mel) and z (B, F * hop_length // n_group, n_group).

    Returns:
        (B, F * hop_length) float32 audio.
    """

    def __init__(self, waveglow: WaveGlow, **kwargs):
        super().__init__(**kwargs)
        self.waveglow = waveglow
        self.trace_count = 0

    def call(self, inputs):
        self.trace_count += 1  # Python runs here once per trace, not per compiled call
        mel, z = inputs
        return self.waveglow.inverse(mel, z=z)

    def get_config(self):
        return {
            **super().get_config(),
            "waveglow": saving.serialize_keras_object(self.waveglow),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["waveglow"] = saving.deserialize_keras_object(config["waveglow"])
        return cls(**config)


class _ObjectCache:
    """What this module caches for one model or denoiser (its compiled wrappers).

    Kept on the object itself rather than in a module-level dictionary: a wrapper holds its
    model strongly (Keras compiles the wrapper's variables, which are the model's), so a
    dictionary keyed by the model would keep every model alive for good. On the object, the
    model, its cache and its wrappers form a cycle that Python's collector frees once the
    caller drops the model. A plain object, neither a Keras layer nor a list or dict, so Keras
    neither tracks it as a sublayer nor writes it into saved models or weights files.
    """

    __slots__ = ("denoise_runner", "denoisers", "inverse_runner")

    def __init__(self):
        self.denoisers = {}  # mode -> (weights fingerprint, Denoiser)
        self.denoise_runner = None
        self.inverse_runner = None


def _object_cache(owner) -> _ObjectCache:
    """The `_ObjectCache` stored on `owner` (created on first use)."""
    cache = vars(owner).get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = _ObjectCache()
        # object.__setattr__: past Keras' (and torch's) attribute tracking.
        object.__setattr__(owner, _CACHE_ATTRIBUTE, cache)
    return cache


def runner_for(model: WaveGlow) -> InverseRunner:
    """The (cached) `InverseRunner` of a model; one per model, so compiled shapes are reused.

    The runner is cached on the model itself: it lives as long as the model does, and no
    longer (a model the caller drops is freed with its runner and compiled functions).
    """
    cache = _object_cache(model)
    if cache.inverse_runner is None:
        cache.inverse_runner = InverseRunner(model, name="inverse_runner")
    return cache.inverse_runner


def receptive_field_frames(model: WaveGlow) -> tuple[int, int]:
    """How many mel frames before and after a sample can change it, `(left, right)`.

    The transposed-conv upsampler (kernel `4 * hop`, stride `hop`) makes the samples of frame
    `f` depend on frames `f - 3 .. f` (frame-rate conditioning: on frame `f` alone when
    "nearest", on `f - 1 .. f + 1` when "linear"); each of the `n_flows` couplings adds its
    WN's reach of `(wn_kernel_size - 1) / 2 * sum_i wn_dilation_base**i` grouped steps on both
    sides (`(2**wn_layers - 1) * (wn_kernel_size - 1) / 2` for WaveGlow).

    Args:
        model: a `WaveGlow`.

    Returns:
        `(left, right)` in frames.
    """
    dilations = sum(model.wn_dilation_base**i for i in range(model.wn_layers))
    steps = model.n_flows * dilations * (model.wn_kernel_size - 1) // 2
    wn_frames = math.ceil(steps * model.n_group / model.hop_length)
    left, right = {"learned": (3, 0), "nearest": (0, 0), "linear": (1, 1)}[model.mel_upsampling]
    return wn_frames + left, wn_frames + right


def bucket_frames(frames: int, cap: int | None = None) -> int:
    """The padded length of a mel: the next power of two >= `frames` (at least 32), <= cap."""
    bucket = _MIN_BUCKET_FRAMES
    while bucket < frames:
        bucket *= 2
    return bucket if cap is None else max(min(bucket, cap), frames)


# --------------------------------------------------------------------------------------------
# vocode
# --------------------------------------------------------------------------------------------


class MelInputWarning(UserWarning):
    """A mel given to `vocode` that may not be what the model takes: values no natural-log mel
    of this definition holds (dB, power, linear or log10 mels), or a square (n_mels, n_mels)
    mel whose orientation cannot be told. Filter it by category:
    `warnings.filterwarnings("ignore", category=MelInputWarning)`."""


@contextlib.contextmanager
def own_mels():
    """Silences `MelInputWarning` around `vocode` calls on mels the library made itself
    (`mel_spectrogram`: (frames, n_mels) whatever their length; `evaluate`, the demo)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MelInputWarning)
        yield


class _NotFloatMel(TypeError):
    """A mel array of booleans, integers or complex values."""


def _mel_array(mel, which: str = "mel") -> np.ndarray:
    """float32 NumPy copy of an array, tensor of any backend, or torch tensor (even one that
    requires grad, which NumPy cannot read as is). Booleans, integers and complex values are
    refused (as `load_mel` refuses them from a file): no log-mel holds them."""
    if type(mel).__module__.startswith("torch") and hasattr(mel, "detach"):
        mel = mel.detach().cpu()
        if mel.is_floating_point():
            mel = mel.float()
        mel = mel.numpy()
    array = np.asarray(ops.convert_to_numpy(mel))
    if array.dtype.kind in "biuc":
        raise _NotFloatMel(
            f"{which} values must be real floats (a natural-log mel); got {array.dtype}. A "
            "mask, integer or complex array is not a log-mel: make mels with "
            "keras_waveglow.mel_spectrogram(audio, **model.mel_config)."
        )
    return np.asarray(array, "float32")


def _as_mel_list(mel, n_mels: int) -> tuple[list[np.ndarray], str]:
    """Normalises the input to a list of (frames, n_mels) arrays and remembers its form."""
    mel_shape = None  # a batch's, for messages
    if isinstance(mel, list | tuple):
        if not mel:
            raise ValueError("the list of mels is empty: nothing to vocode.")
        items, form = [_mel_array(m, f"mel {i} of the list") for i, m in enumerate(mel)], "list"
        bad = [i for i, m in enumerate(items) if m.ndim != 2]
        if bad:
            hint = (
                f"; for one mel given as nested lists, pass np.asarray(mel) (frames, {n_mels})"
                if items[bad[0]].ndim == 1
                else ""
            )
            raise ValueError(
                f"a list of mels must hold (frames, {n_mels}) arrays; item {bad[0]} has shape "
                f"{items[bad[0]].shape}{hint}."
            )
    else:
        try:
            array = _mel_array(mel)
        except _NotFloatMel:
            raise
        except TypeError as error:
            raise TypeError(
                f"mel must be an array or tensor (frames, {n_mels}), a batch of them or a list; "
                f"got {type(mel).__name__} ({error})."
            ) from error
        except ValueError as error:
            raise TypeError(
                f"mel must be an array or tensor (frames, {n_mels}), a batch of them or a list; "
                f"got {type(mel).__name__} ({error})."
            ) from error
        mel_shape = array.shape
        if array.ndim == 2:
            items, form = [array], "single"
        elif array.ndim == 3:
            if array.shape[0] == 0:
                raise ValueError(f"mel batch is empty (shape {array.shape}).")
            items, form = list(array), "batch"
        else:
            raise ValueError(
                f"mel must have shape (frames, {n_mels}) or (batch, frames, {n_mels}); "
                f"got {array.shape}."
            )
    for i, item in enumerate(items):
        if item.shape[-1] != n_mels:
            hint = ""
            if item.shape[0] == n_mels:
                swap = "mel.T" if form == "single" else "np.swapaxes(mel, -1, -2)"
                if form == "list":
                    swap = "[m.T for m in mels]"
                hint = f" (it looks transposed: (n_mels, frames); pass {swap})"
            which = "mel" if form == "single" else f"mel {i} of the {form}"
            given = f" (given: {mel_shape})" if form == "batch" else ""
            raise ValueError(
                f"{which} has shape {item.shape}{given}; the model expects (frames, "
                f"{n_mels}){hint}."
            )
        if item.shape[0] < 1:
            raise ValueError(f"mel {i} has no frames.")
        if not np.all(np.isfinite(item)):
            raise ValueError(f"mel {i} holds NaN or inf values.")
    return items, form


def _plan_jobs(frames: int, chunk: int, context: int, tail: int = 0) -> list[tuple[int, int, int]]:
    """Windows `(start, length, core_start)` covering a mel of `frames` frames.

    A mel that fits one window with `tail` frames to spare is one job, padded with silence to
    its bucket but never by fewer than `tail` frames (the model's right receptive field): its
    last frames then hear silence after them whatever the length, as the last window of a
    chunked mel does (it reaches `context` frames past the end).
    """
    window = chunk + 2 * context
    if frames + tail <= window:
        return [(0, bucket_frames(frames + tail, window), 0)]
    jobs = []
    for core_start in range(0, frames, chunk):
        jobs.append((max(core_start - context, 0), window, core_start))
    return jobs


def _ramp(t: np.ndarray, start: int, end: int) -> np.ndarray:
    if end <= start:
        return (t >= start).astype("float32")
    return np.clip((t - start + 0.5) / (end - start), 0.0, 1.0).astype("float32")


def vocode(
    mel,
    model: WaveGlow | str | os.PathLike | None = None,
    sigma: float = 0.6,
    denoiser_strength: float = 0.0,
    seed: int | None = None,
    batch_size: int = 8,
    normalize: bool | float | None = None,
    *,
    weights=None,
    chunk_frames: int = 512,
    overlap_frames: int | None = None,
    fade_frames: int = 4,
    return_sample_rate: bool | None = None,
    progress: bool = False,
    denoiser_mode: str = "zeros",
    item_seeds: Sequence | None = None,
):
    """Turns mel spectrograms into audio with WaveGlow.

    Args:
        mel: NumPy array or tensor (frames, n_mels) or (batch, frames, n_mels), or a list of
            (frames, n_mels) arrays of different lengths. Log-mels as made by
            `keras_waveglow.mel_spectrogram` with the model's `mel_config`.
        model: a `WaveGlow`, a `.keras` path, a preset name (with `weights=` unless the preset
            has its own), a `(preset, weights)` tuple, an NVIDIA checkpoint path, or None for
            the default model (`default_model`).
        sigma: float, standard deviation of the latent noise. Default 0.6 (0 is deterministic).
        denoiser_strength: float, strength of NVIDIA-style bias removal (`Denoiser`); 0 turns
            it off. Default 0.0 (NVIDIA's examples use 0.01 to 0.1, with "zeros"; the bias
            here is averaged over 64 frames where NVIDIA's is its first of 88, so its strengths
            do not carry over exactly: `Denoiser.from_model(model, frames="first",
            n_frames=88)` is NVIDIA's).
        seed: int, sequence of ints or None, seed of the latent noise (`np.random.default_rng`);
            the same seed gives the same audio on
            TensorFlow and JAX. Default None (fresh noise).
        batch_size: int, windows run together on the device. Default 8.
        normalize: None/False (off), True (peak 0.9) or a peak in (0, 1]: peak-normalise each
            output.
        weights: `.weights.h5` file for a preset-name `model`. Default None.
        chunk_frames: int, core length of the windows long mels are cut into. Default 512.
        overlap_frames: int or None, context frames on each side of a window; None covers the
            model's receptive field (`receptive_field_frames`) plus half the fade, which makes
            chunked output equal to whole-utterance output.
        fade_frames: int, cross-fade length around each chunk boundary, at most
            `chunk_frames`. Default 4.
        return_sample_rate: bool or None. None (default) returns only `audio` when `model` is
            a `WaveGlow` object, else `(audio, sample_rate)`: a path, a preset, or None (the
            default model, whatever `set_default_model` was given), so `audio, rate =
            vocode(mel)` holds wherever it is written.
        progress: bool, show a tqdm progress bar over batches. Default False.
        denoiser_mode: "zeros" (NVIDIA's: the bias is the model's output for an all-zero
            log-mel) or "silence" (for the log-mel of silence, log(1e-5)). Default "zeros".
            For a model that renders the all-zero log-mel as loud audio, as the bundled one
            does, "zeros" subtracts a bias far above speech; "silence" removes the hiss it
            makes where there is nothing to say.
        item_seeds: None, or one seed per mel (of a list or a batch; one for a single mel),
            each as `seed` takes it: each mel's noise is drawn from its own generator, so it
            does not depend on the other mels or their order. Not with `seed`. Default None.

    Returns:
        float32 NumPy audio: (frames * hop_length,) for one mel, (batch, frames * hop_length)
        for a batch, a list of 1-D arrays for a list; as `(audio, sample_rate)` per
        `return_sample_rate`.

    Raises:
        TypeError: a path given as `mel`, mel values that are not real floats (booleans,
            integers, complex), or a setting of the wrong type (a string, a bool for a number,
            a float for a frame count or batch size).
        ValueError: an empty list, a mel of the wrong shape, with NaN/inf, or bad arguments (e.g.
            `fade_frames > chunk_frames`, `normalize` outside (0, 1]; settings are checked
            before any model is loaded); a model that cannot be loaded (see `load_vocoder`).

    Warns:
        MelInputWarning: (a `UserWarning`) mel values no log-mel of this definition holds
            (below log(1e-5) - 4 or above 12: a dB, power or other front end's mel; all above
            0: a linear mel; many at exactly -5 or -10 and none below: a clamped log10 mel), or
            a square (n_mels, n_mels) mel, taken as (frames, n_mels).

    Example:
        >>> model = keras_waveglow.WaveGlow.from_preset("tiny")
        >>> audio = keras_waveglow.vocode(np.zeros((20, 80), "float32"), model, seed=0)
        >>> audio.shape
        (5120,)
    """
    sigma = _checks.number("sigma", sigma)
    denoiser_strength = _checks.number("denoiser_strength", denoiser_strength)
    _check_settings(sigma, denoiser_strength, batch_size, chunk_frames, fade_frames)
    normalize = _check_normalize(normalize)
    _check_denoiser_mode(denoiser_mode)
    if overlap_frames is not None:
        overlap_frames = _checks.count("overlap_frames", overlap_frames, minimum=0)
    if item_seeds is not None and seed is not None:
        raise ValueError("give seed (one generator for all mels) or item_seeds, not both.")
    rng = _generator("seed", seed)
    generators = None
    if item_seeds is not None:
        if isinstance(item_seeds, np.ndarray) and item_seeds.ndim >= 1:  # np.arange(n) too
            item_seeds = list(item_seeds)
        if isinstance(item_seeds, str | bytes) or not isinstance(item_seeds, Sequence):
            raise TypeError(f"item_seeds must be a sequence of seeds; got {item_seeds!r}.")
        generators = [_generator(f"item_seeds[{i}]", s) for i, s in enumerate(item_seeds)]
    if isinstance(mel, str | bytes | os.PathLike):
        raise TypeError(
            f"vocode takes mel arrays, not the path {os.fspath(mel)!r}: read a mel file with "
            "keras_waveglow.load_mel(path), or vocode files with keras_waveglow.vocode_files."
        )
    progress = _checks.flag("progress", progress)  # bool("no") is True
    if return_sample_rate is not None:
        return_sample_rate = _checks.flag("return_sample_rate", return_sample_rate)
    waveglow = load_vocoder(model, weights)
    if return_sample_rate is None:
        return_sample_rate = not isinstance(model, WaveGlow)
    items, form = _as_mel_list(mel, waveglow.n_mel_channels)
    _warn_if_not_log_mel(items)
    square = [i for i, item in enumerate(items) if item.shape[0] == waveglow.n_mel_channels]
    if square:
        import warnings

        n = waveglow.n_mel_channels
        which = "the mel" if form == "single" else f"mel(s) {square} of the {form}"
        warnings.warn(
            f"{which} has shape ({n}, {n}): as many frames as bands, so its layout cannot be "
            "told; taken as (frames, n_mels), as `mel_spectrogram` and `load_mel` give it. If "
            "it is (n_mels, frames), NVIDIA's layout, pass its transpose.",
            MelInputWarning,
            stacklevel=2,
        )
    hop, group = waveglow.hop_length, waveglow.n_group
    left, right = receptive_field_frames(waveglow)
    if overlap_frames is None:
        overlap_frames = max(left, right) + (fade_frames + 1) // 2 + 1
    elif overlap_frames < (fade_frames + 1) // 2:
        raise ValueError(
            f"overlap_frames ({overlap_frames}) must cover half the fade "
            f"({(fade_frames + 1) // 2} of fade_frames={fade_frames})."
        )
    fade = fade_frames * hop

    if generators is not None and len(generators) != len(items):
        raise ValueError(f"item_seeds has {len(generators)} seeds for {len(items)} mels.")
    noise = []
    for index, item in enumerate(items):  # one draw per utterance, in order: chunking does not
        steps = item.shape[0] * hop // group  # change the noise
        generator = rng if generators is None else generators[index]
        z = generator.standard_normal((steps, group), dtype=np.float32) * np.float32(sigma)
        noise.append(z if sigma > 0 else np.zeros((steps, group), "float32"))

    jobs = []  # (item, window start, window length, core start)
    for index, item in enumerate(items):
        plan = _plan_jobs(item.shape[0], chunk_frames, overlap_frames, tail=right)
        for start, length, core in plan:
            jobs.append((index, start, length, core))
    outputs = [np.zeros(item.shape[0] * hop, "float32") for item in items]
    cores = {}
    for index, _, _, core in jobs:
        cores.setdefault(index, []).append(core * hop)

    runner = runner_for(waveglow)
    by_length: dict[int, list] = {}
    for job in jobs:
        by_length.setdefault(job[2], []).append(job)
    batches = [
        group_jobs[i : i + batch_size]
        for _, group_jobs in sorted(by_length.items())
        for i in range(0, len(group_jobs), batch_size)
    ]
    iterator = batches
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(batches, desc="vocode", unit="batch")
    for batch in iterator:
        length = batch[0][2]
        # The batch axis is bucketed too (powers of two up to batch_size).
        rows = min(1 << (len(batch) - 1).bit_length(), batch_size)
        mel_batch = np.full((rows, length, waveglow.n_mel_channels), _SILENCE, "float32")
        z_batch = np.zeros((rows, length * hop // group, group), "float32")
        for row, (index, start, _, _) in enumerate(batch):
            piece = items[index][start : start + length]
            mel_batch[row, : len(piece)] = piece
            z_piece = noise[index][start * hop // group : (start + length) * hop // group]
            z_batch[row, : len(z_piece)] = z_piece
        audio = np.asarray(runner.predict_on_batch([mel_batch, z_batch]), "float32")
        for row, (index, start, _, core) in enumerate(batch):
            _accumulate(outputs[index], audio[row], start * hop, core * hop, cores[index], fade)

    results = []
    denoiser = denoiser_for(waveglow, denoiser_mode) if denoiser_strength > 0 else None
    for out in outputs:
        if denoiser is not None:
            out = _denoise_bucketed(denoiser, out, denoiser_strength, hop)
        if normalize:
            out = _peak_normalize(out, normalize)
        results.append(out)

    if form == "single":
        audio = results[0]
    elif form == "batch":
        audio = np.stack(results)
    else:
        audio = results
    return (audio, waveglow.sample_rate) if return_sample_rate else audio


def _denoise_bucketed(denoiser: Denoiser, audio: np.ndarray, strength: float, hop: int):
    """`denoiser.denoise(audio)`, compiled once per length bucket (not once per length).

    The audio is extended past its end by what the denoiser's own padding puts there (its
    reflect pad of n_fft // 2, then the STFT's centring reflect of n_fft // 2 more), which is
    all that the frames reaching its last sample read, then padded with silence to a bucket:
    the result up to the audio's length is the unbucketed one. An output shorter than the
    STFT needs (n_fft // 2 + 1 samples) is first padded with silence, as before.
    """
    length, n_fft = len(audio), denoiser.n_fft
    padded = np.pad(audio, (0, max(0, n_fft // 2 + 1 - length)))
    reach = np.pad(np.pad(padded, (0, n_fft // 2), "reflect"), (0, n_fft // 2), "reflect")
    bucket = hop * bucket_frames(-(-len(reach) // hop))
    extended = np.pad(reach, (0, bucket - len(reach)))
    return denoiser.denoise(extended, strength=strength)[:length]


def _check_settings(
    sigma: float,
    denoiser_strength: float,
    batch_size: int,
    chunk_frames: int = 512,
    fade_frames: int = 4,
) -> None:
    """Refuses settings that would fail late or be ignored (NaN compares False to anything).

    A cross-fade longer than a chunk would make the fades of a window's two core boundaries
    overlap, so the windows' weights would no longer sum to one (wrong amplitude).
    """
    _checks.finite("sigma", sigma)
    _checks.finite("denoiser_strength", denoiser_strength, note=" (0: off)")
    _checks.count("batch_size", batch_size, minimum=1)  # ints, NumPy and JAX integer scalars
    chunk_frames = _checks.count("chunk_frames", chunk_frames, minimum=1)
    fade_frames = _checks.count("fade_frames", fade_frames, minimum=0)
    if chunk_frames < 1 or fade_frames < 0:
        raise ValueError(
            f"chunk_frames must be >= 1 and fade_frames >= 0; got {chunk_frames}, {fade_frames}."
        )
    if fade_frames > chunk_frames:
        raise ValueError(
            f"fade_frames ({fade_frames}) must not exceed chunk_frames ({chunk_frames}): the "
            "cross-fades around a chunk's two boundaries would overlap and change the "
            "amplitude. Use a shorter fade or longer chunks."
        )


def _check_normalize(normalize) -> float | None:
    """`vocode`'s normalize as a peak, or None (off)."""
    if isinstance(normalize, np.bool_):
        normalize = bool(normalize)
    if normalize is None or normalize is False:
        return None
    if normalize is True:
        return DEFAULT_PEAK
    peak = _checks.number("normalize", normalize)
    if not 0.0 < peak <= 1.0:
        raise ValueError(
            f"normalize must be None/False (off), True (peak {DEFAULT_PEAK}) or a peak in "
            f"(0, 1]; got {normalize!r} (a negative peak flips the polarity, one above 1 clips)."
        )
    return peak


# What a log-mel of this definition can hold: log(1e-5) at silence and, for full-scale audio,
# a few nats above 0 (e^12 would be a magnitude far beyond full-scale audio); the margins take
# a text front end's predictions, which overshoot a little.
_PLAUSIBLE_LOG_MEL = (_SILENCE - 4.0, 12.0)
_LOG10_FLOORS = (-5.0, -10.0)  # log10(1e-5), log10(1e-10): other front ends' clamps


def _log_mel_problem(items: list[np.ndarray]) -> str | None:
    """Why the mels' values cannot be natural-log mels of this definition, or None."""
    low = min(float(item.min()) for item in items)
    high = max(float(item.max()) for item in items)
    if low < _PLAUSIBLE_LOG_MEL[0] or high > _PLAUSIBLE_LOG_MEL[1]:
        return (
            f"mel values span [{low:.3g}, {high:.3g}], outside a natural-log mel's range "
            f"(from log(1e-5) = {_SILENCE:.2f} at silence to a few nats above 0; taken from "
            f"{_PLAUSIBLE_LOG_MEL[0]:.1f} to {_PLAUSIBLE_LOG_MEL[1]:.0f}): a dB or power mel, or "
            "another front end's? Make mels with keras_waveglow.mel_spectrogram(audio, "
            "**model.mel_config); the audio will not sound right."
        )
    for floor in _LOG10_FLOORS:
        # Many values at exactly a log10 floor (and none below): ESPnet / ParallelWaveGAN-style
        # log10(max(x, eps)) mels, which lie inside the natural-log range (an unclamped log10
        # mel is not told apart).
        if abs(low - floor) < 1e-4:
            at_floor = sum(int(np.sum(np.abs(item - floor) < 1e-4)) for item in items)
            if at_floor >= 0.01 * sum(item.size for item in items):
                return (
                    f"{at_floor} mel values sit at exactly {floor:g} = log10({10.0**floor:g}) "
                    "and none below: a log10 mel (ESPnet / ParallelWaveGAN style)? This model "
                    "takes natural-log mels (multiply a log10 mel by ln(10) = 2.3026, its floor "
                    f"then at {floor * np.log(10):.2f}; silence here is log(1e-5) = "
                    f"{_SILENCE:.2f}); the audio will not sound right."
                )
    if any(float(item.min()) > 0.0 for item in items):
        # Every band of every frame louder than magnitude 1: no speech does that (full-scale
        # white noise sits near 0, silence at -11.5); a magnitude mel whose log was forgotten.
        return (
            "a mel whose values are all above 0 (a natural-log mel of speech has quiet bands "
            "below 0 and silence at log(1e-5) = -11.5): a linear magnitude or power mel, not its "
            "log? Make mels with keras_waveglow.mel_spectrogram(audio, **model.mel_config); "
            "the audio will not sound right."
        )
    return None


def _warn_if_not_log_mel(items: list[np.ndarray]) -> None:
    """Warns once when the mels' values cannot be natural-log mels of this definition."""
    import warnings

    problem = _log_mel_problem(items)
    if problem is not None:
        warnings.warn(problem, MelInputWarning, stacklevel=3)


def _accumulate(out, window_audio, window_start, core_start, cores, fade) -> None:
    """Adds one window's audio into `out`, weighted by its cross-fade weights."""
    total = len(out)
    position = cores.index(core_start)
    lo_ramp = None if position == 0 else (core_start - fade // 2, core_start - fade // 2 + fade)
    next_core = cores[position + 1] if position + 1 < len(cores) else None
    hi_ramp = None if next_core is None else (next_core - fade // 2, next_core - fade // 2 + fade)
    first = 0 if lo_ramp is None else max(lo_ramp[0], 0)
    last = total if hi_ramp is None else min(hi_ramp[1], total)
    t = np.arange(first, last)
    weight = np.ones(len(t), "float32")
    if lo_ramp is not None:
        weight *= _ramp(t, *lo_ramp)
    if hi_ramp is not None:
        weight *= 1.0 - _ramp(t, *hi_ramp)
    out[first:last] += weight * window_audio[first - window_start : last - window_start]


def _peak_normalize(audio: np.ndarray, peak: float) -> np.ndarray:
    from keras_waveglow.audio import peak_normalize

    return peak_normalize(audio, peak)


# --------------------------------------------------------------------------------------------
# Denoiser
# --------------------------------------------------------------------------------------------


@saving.register_keras_serializable(package=_PACKAGE)
class Denoiser(layers.Layer):
    """NVIDIA-style removal of a vocoder's bias: subtracts a fixed magnitude spectrum.

    Every STFT frame of the input loses `strength * bias_spectrum` from its magnitude (clamped
    at 0); the phase is kept and the audio rebuilt with the inverse STFT (`keras.ops.stft` /
    `keras.ops.istft`, Hann window, hop `n_fft // 4` by default as NVIDIA's). `from_model`
    measures the bias as NVIDIA does: the magnitude spectrum of the model's output for an
    all-zero log-mel at sigma 0, here averaged over frames (NVIDIA keeps the first frame of an
    88-frame output, half of it reflect padding; the average is a steadier estimate of a
    stationary hum, and 64 frames are a shape bucket that `vocode` has usually compiled
    already). The two differ frequency by frequency, so a strength does not mean the same
    in both: on the bundled model at 0.1 the average took 30% of arctic_a0009's energy,
    NVIDIA's first frame 18% (`python benchmarks/denoiser_bias.py`,
    `benchmarks/results/denoiser_bias_bundled_v5_2026-12-07.jsonl`);
    `from_model(..., frames="first", n_frames=88)` takes NVIDIA's, so its strengths carry
    over. Any spectrum can be given instead, so the layer
    works standalone on any audio. Away from the ends the output equals NVIDIA's denoiser's
    to float32 rounding; its first and last hop differ slightly (an extra reflect pad, for
    TensorFlow's inverse STFT), and it keeps every input sample where NVIDIA's drops the
    `T % hop_length` last ones.

    Args:
        n_fft: int >= 1, FFT size. Default 1024.
        hop_length: int >= 1 or None, STFT hop; None is `n_fft // 4`. Default None.
        win_length: int in [1, n_fft] or None, Hann window length; None is `n_fft`. Default
            None.
        strength: float, finite and >= 0, default strength for `call` (0: no change; a
            negative strength would add the bias instead). Default 0.1.
        bias_spectrum: optional array (n_fft // 2 + 1,), the magnitude to subtract.

    Call arguments:
        audio: (T,) or (B, T) float audio.
        strength: float or None, overrides the layer's strength.

    Returns:
        Denoised audio with the input's shape, float32.

    Raises:
        TypeError: `n_fft`, `hop_length` or `win_length` not an int, or `strength` not a
            number.
        ValueError: any of them out of range (named), or a `bias_spectrum` of another shape.

    Example:
        >>> denoiser = Denoiser.from_model(model)
        >>> clean = denoiser(audio, strength=0.05)
    """

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int | None = None,
        win_length: int | None = None,
        strength: float = 0.1,
        bias_spectrum=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # 0 was taken for "the default" (hop, window) or accepted (n_fft): refused by name now.
        self.n_fft = _checks.count("n_fft", n_fft, minimum=1)
        if hop_length is None:
            self.hop_length = self.n_fft // 4
            if self.hop_length < 1:
                raise ValueError(
                    f"n_fft={self.n_fft} leaves no default hop_length (n_fft // 4 = 0); pass "
                    "hop_length or a larger n_fft."
                )
        else:
            self.hop_length = _checks.count("hop_length", hop_length, minimum=1)
        self.win_length = (
            self.n_fft if win_length is None else _checks.count("win_length", win_length, minimum=1)
        )
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must not exceed n_fft.")
        self.strength = _check_strength(strength)
        self._initial_bias = None
        if bias_spectrum is not None:
            bias = np.asarray(bias_spectrum, "float32")
            if bias.shape != (self.n_fft // 2 + 1,):
                raise ValueError(
                    f"bias_spectrum must have shape ({self.n_fft // 2 + 1},) for n_fft="
                    f"{self.n_fft}; got {bias.shape}."
                )
            self._initial_bias = bias
        self.build()

    def build(self, input_shape=None):
        if getattr(self, "bias_spectrum", None) is not None:
            return
        initial = self._initial_bias
        initializer = "zeros" if initial is None else keras.initializers.Constant(initial)
        self.bias_spectrum = self.add_weight(
            (self.n_fft // 2 + 1,), initializer, trainable=False, name="bias_spectrum"
        )
        self.built = True

    def _stft(self, audio):
        return ops.stft(
            audio,
            sequence_length=self.win_length,
            sequence_stride=self.hop_length,
            fft_length=self.n_fft,
            window="hann",
            center=True,
        )

    def magnitude(self, audio):
        """STFT magnitude (..., frames, n_fft // 2 + 1) with this layer's settings."""
        real, imag = self._stft(ops.convert_to_tensor(audio, "float32"))
        return ops.sqrt(real * real + imag * imag)

    @classmethod
    def from_model(
        cls,
        model: WaveGlow,
        strength: float = 0.1,
        mode: str = "zeros",
        n_frames: int = 64,
        n_fft: int | None = None,
        frames: str = "mean",
        **kwargs,
    ) -> Denoiser:
        """Measures a WaveGlow's bias spectrum and returns a `Denoiser` that removes it.

        Args:
            model: a `WaveGlow`.
            strength: float, default strength. Default 0.1.
            mode: "zeros" (NVIDIA's all-zero log-mel) or "silence" (log-mel log(1e-5)).
            n_frames: int, frames of the bias mel, enough that their audio (`n_frames *
                hop_length` samples) is longer than `n_fft // 2` (the STFT's reflect
                padding). Default 64 (NVIDIA: 88).
            n_fft: int or None, FFT size; None uses the model's `n_fft`.
            frames: "mean" (the bias audio's STFT magnitude averaged over its frames) or
                "first" (its first frame, NVIDIA's choice; with `n_frames=88` NVIDIA's bias
                exactly). Default "mean".
            **kwargs: other `Denoiser` arguments (hop_length, win_length, name).

        Returns:
            A `Denoiser`.

        Raises:
            TypeError: `n_frames` is not an int (or a `Denoiser` argument of the wrong type).
            ValueError: a bad `mode` or `frames`, too few `n_frames`, or a bad `Denoiser`
                argument.

        Example:
            >>> nvidia_like = Denoiser.from_model(model, frames="first", n_frames=88)
        """
        if mode not in ("zeros", "silence"):
            raise ValueError(f"mode must be 'zeros' or 'silence'; got {mode!r}.")
        if frames not in ("mean", "first"):
            raise ValueError(f"frames must be 'mean' or 'first'; got {frames!r}.")
        n_frames = _checks.count("n_frames", n_frames, minimum=1)
        n_fft = model.n_fft if n_fft is None else n_fft
        # Build (and check) the layer before running the model on the bias mel.
        denoiser = cls(n_fft=n_fft, strength=strength, **kwargs)
        half = denoiser.n_fft // 2
        if n_frames * model.hop_length <= half:
            fewest = half // model.hop_length + 1
            raise ValueError(
                f"n_frames must be >= {fewest}: the bias audio ({n_frames} frames x hop "
                f"{model.hop_length} = {n_frames * model.hop_length} samples) must be longer "
                f"than n_fft // 2 = {half} for the STFT's reflect padding; got {n_frames}."
            )
        value = 0.0 if mode == "zeros" else _SILENCE
        mel = np.full((1, n_frames, model.n_mel_channels), value, "float32")
        steps = n_frames * model.hop_length // model.n_group
        z = np.zeros((1, steps, model.n_group), "float32")
        bias_audio = runner_for(model).predict_on_batch([mel, z])[0]  # compiled, not eager
        magnitude = denoiser.magnitude(bias_audio)
        bias = magnitude[0] if frames == "first" else ops.mean(magnitude, axis=0)
        denoiser.bias_spectrum.assign(bias)
        return denoiser

    def denoise(self, audio, strength: float | None = None) -> np.ndarray:
        """`call` compiled (through a cached `keras.Model` wrapper), on NumPy in and out.

        Much faster than the eager `call` under JAX; compiled once per audio shape.

        Args:
            audio: (T,) or (B, T) float audio.
            strength: float (finite, >= 0) or None, overrides the layer's strength.

        Returns:
            float32 NumPy audio of the input's shape.

        Raises:
            TypeError: `strength` is not a number.
            ValueError: audio of another rank or too short, or a negative or non-finite
                `strength`.
        """
        audio = np.asarray(ops.convert_to_numpy(audio), "float32")
        if audio.ndim not in (1, 2):
            raise ValueError(f"audio must have shape (T,) or (B, T); got {audio.shape}.")
        if audio.shape[-1] <= self.n_fft // 2:
            raise ValueError(
                f"audio too short to denoise: {audio.shape[-1]} samples <= n_fft // 2 = "
                f"{self.n_fft // 2}."
            )
        batch = audio[None] if audio.ndim == 1 else audio
        strength = self.strength if strength is None else _check_strength(strength)
        cache = _object_cache(self)  # freed with the denoiser, as `runner_for`'s
        if cache.denoise_runner is None:
            cache.denoise_runner = _DenoiseRunner(self, name="denoise_runner")
        runner = cache.denoise_runner
        strengths = np.full((batch.shape[0],), strength, "float32")
        cleaned = np.asarray(runner.predict_on_batch([batch, strengths]), "float32")
        return cleaned[0] if audio.ndim == 1 else cleaned

    def call(self, audio, strength=None):
        if strength is None:
            strength = self.strength
        if isinstance(strength, int | float):  # a tensor (one per row) is not checked
            strength = _check_strength(strength)
        audio = ops.convert_to_tensor(audio, "float32")
        if len(audio.shape) not in (1, 2):
            raise ValueError(f"audio must have shape (T,) or (B, T); got {tuple(audio.shape)}.")
        length = audio.shape[-1]
        if length is not None and length <= self.n_fft // 2:
            raise ValueError(
                f"audio too short to denoise: {length} samples <= n_fft // 2 = {self.n_fft // 2}."
            )
        # An extra reflect pad, cropped at the end: TensorFlow's inverse STFT is wrong in the
        # first and last ~n_fft // 4 samples (seen with Keras 3.15 / TF 2.21), JAX's is not.
        pad = self.n_fft // 2
        paddings = [[0, 0]] * (len(audio.shape) - 1) + [[pad, pad]]
        real, imag = self._stft(ops.pad(audio, paddings, mode="reflect"))
        magnitude = ops.sqrt(real * real + imag * imag)
        cleaned = ops.maximum(magnitude - strength * self.bias_spectrum, 0.0)
        # Scaling real and imaginary parts by the same factor keeps the phase.
        gain = ops.where(magnitude > 0, cleaned / ops.maximum(magnitude, 1e-12), 0.0)
        padded = ops.istft(
            (real * gain, imag * gain),
            sequence_length=self.win_length,
            sequence_stride=self.hop_length,
            fft_length=self.n_fft,
            length=ops.shape(audio)[-1] + 2 * pad,
            window="hann",
            center=True,
        )
        return padded[..., pad : pad + ops.shape(audio)[-1]]  # pad may be 0 (n_fft 1)

    def get_config(self):
        return {
            **super().get_config(),
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "win_length": self.win_length,
            "strength": self.strength,
        }


def _check_strength(strength) -> float:
    """A denoiser strength as a float: finite and >= 0 (a negative one adds the bias
    spectrum, amplifying the hum; NaN makes every sample NaN)."""
    return _checks.finite("strength", strength, note=" (0: no change)")


@saving.register_keras_serializable(package=_PACKAGE)
class _DenoiseRunner(keras.Model):
    """Runs `Denoiser.call` through Keras' compiled predict function; strength per row."""

    def __init__(self, denoiser: Denoiser, **kwargs):
        super().__init__(**kwargs)
        self.denoiser = denoiser

    def call(self, inputs):
        audio, strength = inputs
        return self.denoiser(audio, strength=ops.reshape(strength, (-1, 1, 1)))

    def get_config(self):
        return {**super().get_config(), "denoiser": saving.serialize_keras_object(self.denoiser)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["denoiser"] = saving.deserialize_keras_object(config["denoiser"])
        return cls(**config)


DENOISER_MODES = ("zeros", "silence")


def _check_denoiser_mode(mode: object) -> None:
    """Refuses a `denoiser_mode` outside `DENOISER_MODES`, by name."""
    if not isinstance(mode, str) or mode not in DENOISER_MODES:
        raise ValueError(f"denoiser_mode must be one of {DENOISER_MODES}; got {mode!r}.")


def denoiser_for(model: WaveGlow, mode: str = "zeros") -> Denoiser:
    """The (cached) `Denoiser.from_model(model, mode=mode)`, kept on the model as
    `runner_for`'s runner, and measured again when the model's weights have changed since
    (loaded, set or trained: told by the sum of each variable), as NVIDIA's `synthesize`
    measures it at every call."""
    _check_denoiser_mode(mode)
    cache = _object_cache(model)
    fingerprint = _weights_fingerprint(model)
    cached = cache.denoisers.get(mode)
    if cached is None or cached[0] != fingerprint:
        denoiser = Denoiser.from_model(model, mode=mode, name=f"denoiser_{mode}")
        cache.denoisers[mode] = cached = (fingerprint, denoiser)
    return cached[1]


def _weights_fingerprint(model: WaveGlow) -> tuple[float, ...]:
    """The sum of each of the model's variables (a change of weights changes it), reduced where
    the weights are: only one number per variable is copied to the host."""
    sums = [ops.sum(ops.cast(v, "float32")) for v in model.weights]
    return tuple(ops.convert_to_numpy(ops.stack(sums)).tolist())


# --------------------------------------------------------------------------------------------
# Many files: what `keras-waveglow vocode` runs
# --------------------------------------------------------------------------------------------

MEL_EXTENSIONS = (".npy", ".pt")


def _expand_inputs(
    inputs: Sequence, out_dir: Path, failures: list, left_out: list | None = None
) -> list[tuple[Path, Path]]:
    """(input file, output wav) pairs, each input file once.

    A folder that holds the output folder leaves out the files under it (an earlier run's
    outputs, which would be copy-synthesised into a folder nested one level deeper each run);
    how many is said in `left_out` (folder, message) and as a `UserWarning`.

    A folder gives the audio and mel files under it (recursively; other files, e.g. the
    NOTICE.txt, file lists and manifest `keras-waveglow prepare` writes, are left out, as
    `evaluate` leaves them); a file list (a text file of paths, `data.arctic.is_file_list`, as
    `train` and `evaluate` read them) gives the files it names; a file named in the arguments
    or in a list must be audio or a mel, else it fails with the reason. An output keeps the
    input's path relative to its folder or its list's folder (else its name), with `.wav`; a
    named pipe's list (`<(ls mels/*.pt)`) is read once, relative to the working directory.
    """
    import warnings

    from keras_waveglow.audio import AUDIO_EXTENSIONS
    from keras_waveglow.data.arctic import _may_be_audio, is_file_list, list_folder, read_file_list

    known = MEL_EXTENSIONS + tuple(AUDIO_EXTENSIONS)
    outputs = out_dir.resolve()
    pairs, taken, done = [], {}, set()  # done: the (device, inode) of each input paired
    for entry in inputs:
        entry = Path(entry)
        listed_in = None
        if entry.is_dir():
            found = sorted(
                p
                for p in entry.rglob("*")
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known
            )
            folder = entry.resolve()
            inside = []
            if outputs != folder and outputs.is_relative_to(folder):  # outputs nested in it
                inside = [
                    p
                    for p in found
                    if p.suffix.lower() == ".wav" and p.resolve().is_relative_to(outputs)
                ]
            if inside:
                found = [p for p in found if p not in inside]
                message = (
                    f"{entry}: left out {len(inside)} file(s) under the output folder {out_dir} "
                    "(outputs of a run, not inputs); give an output folder outside the inputs."
                )
                if left_out is not None:
                    left_out.append((entry, message))
                warnings.warn(message, stacklevel=3)
            candidates = [(p, p.relative_to(entry)) for p in found]
            if not candidates:
                why = f"the folder holds no files to vocode (audio or mels: {known})"
                failures.append((entry, f"{entry}: {why}."))
        elif entry.suffix.lower() not in known and is_file_list(entry):
            try:
                listed = read_file_list(entry)
            except (OSError, ValueError) as error:  # e.g. not UTF-8 past its first 4 KiB
                failures.append((entry, f"{entry}: cannot read it as a file list: {error}"))
                continue
            # Prose (a NOTICE.txt, a README naming a folder or a JSON file), not a list:
            # no line names an existing file that is not text (audio or a mel).
            if not any(_may_be_audio(p) for p in listed):
                why = f"none of its {len(listed)} lines names an existing audio or mel file"
                why = f"neither audio, a mel {known} nor a file list: {why if listed else 'empty'}"
                failures.append((entry, f"{entry}: {why}."))
                continue
            listed_in = entry
            candidates = [(p, _output_path(p, list_folder(entry))) for p in listed]
        elif entry.exists():
            candidates = [(entry, Path(entry.name))]
        else:
            failures.append((entry, f"{entry}: no such file or directory."))
            continue
        for path, relative in candidates:
            if listed_in is not None and not path.is_file():
                what = "a folder, not a file" if path.is_dir() else "no such file"
                failures.append((path, f"{path}: {what} (listed in {listed_in})."))
                continue
            if path.suffix.lower() not in known:
                failures.append(
                    (path, f"{path}: unknown input type {path.suffix!r}; expected one of {known}.")
                )
                continue
            target = out_dir / relative.with_suffix(".wav")
            if target.exists() and os.path.samefile(target, path):
                failures.append((path, f"{path}: its output would replace the input itself."))
                continue
            if target in taken:
                if not os.path.samefile(taken[target], path):
                    failures.append(
                        (path, f"{path}: its output {target} is also made from {taken[target]}.")
                    )
                continue  # the same file again (e.g. in a folder and a list of it): once
            identity = _identity(path)
            if identity is not None:
                if identity in done:
                    continue  # reached again under another relative path: its first output
                done.add(identity)
            taken[target] = path
            pairs.append((path, target))
    # An output that would land on another input (x.npy's x.wav beside the recording x.wav,
    # output folder = input folder): refused whatever `overwrite` says, the input named.
    inputs_by_identity = {_identity(p): p for p in _input_files(inputs, pairs, failures)}
    inputs_by_identity.pop(None, None)
    kept = []
    for path, target in pairs:
        other = inputs_by_identity.get(_identity(target)) if target.exists() else None
        if other is not None:
            failures.append(
                (
                    path,
                    f"{path}: its output {target} would replace the input {other}; give an "
                    "output folder apart from the inputs.",
                )
            )
        else:
            kept.append((path, target))
    return kept


def _identity(path: Path) -> tuple[int, int] | None:
    """The file's (device, inode), None when it cannot be read (gone since it was listed)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _input_files(inputs: Sequence, pairs: list, failures: list) -> list[Path]:
    """Every existing input file: those paired, and those refused (a file whose own output
    would replace it is still an input another output must not replace)."""
    files = [path for path, _ in pairs]
    files += [Path(path) for path, _ in failures if Path(path).is_file()]
    files += [Path(entry) for entry in inputs if Path(entry).is_file()]
    return files


def _output_path(path: Path, folder: Path) -> Path:
    """`path` relative to `folder` when it lies inside it, else its name alone."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return Path(path.name)
    return Path(relative)


def _generator(name: str, seed) -> np.random.Generator:
    """`np.random.default_rng(seed)`, a bad seed refused by `name`."""
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be None, an int >= 0 or a sequence of them; got {seed!r} ({error})."
        ) from error


@keeps_pipe_lists  # a list from a pipe, read once for the whole call
def vocode_files(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    model: WaveGlow | str | os.PathLike | None = None,
    *,
    weights=None,
    sigma: float = 0.6,
    denoiser_strength: float = 0.0,
    seed: int | None = None,
    batch_size: int = 8,
    normalize: bool | float | None = None,
    overwrite: bool = False,
    progress: bool = True,
    denoiser_mode: str = "zeros",
    mel_layout: str = "auto",
) -> dict:
    """Vocodes mel files and copy-synthesises audio files into `out_dir`, in batches.

    Inputs are `.npy`/`.pt` mels (`keras_waveglow.audio.load_mel`), audio files (wav, flac,
    ogg: audio -> the model's mel -> audio, cropped to the input's length), directories
    (searched recursively for such files, others left out; the output keeps the relative path,
    with `.wav`) or file lists (text files, one path per line, as `train` and `evaluate` read
    them: `keras_waveglow.data.arctic.read_file_list`; the output keeps the path relative to the
    list's folder). Files are sorted by length and vocoded `batch_size` at a time. A bad input
    is reported and skipped (a file given by name, or listed, that is neither audio nor a mel
    is one); the rest is still produced. A file reached twice (a folder and a list of it, or
    under two relative paths) is vocoded once, to the output of its first mention. Existing
    outputs are kept (reported, not vocoded again) unless `overwrite`: a rerun of an
    interrupted batch does what is left.

    Args:
        inputs: files, directories and file lists (one path alone is taken as a list of it).
        out_dir: str or path-like, the output directory (created when missing).
        model, weights, sigma, denoiser_strength, batch_size, normalize, denoiser_mode: as
            `vocode`.
        seed: int or None; with a seed each file's noise is seeded by it and the sha256 of
            the file's bytes (`evaluation.file_seed`, as `evaluate` seeds): a file's audio does
            not depend on the other inputs, their order, the batch size or a rerun that skips
            the outputs already written. None: fresh noise.
        overwrite: bool, replace existing outputs. Default False.
        progress: bool, show a tqdm progress bar over files. Default True.
        mel_layout: "auto", "frames_first" or "mels_first": how to read a mel file with as
            many frames as bands, whose layout cannot be told; every other file's layout is
            told from n_mels. Default "auto": a square `.npy` fails, naming the option, and a
            square `.pt` is taken in NVIDIA's layout, with a warning.

    Returns:
        `{"written": [Path, ...], "kept": [Path, ...], "failed": [(Path, message), ...],
        "warnings": [(Path, message), ...], "left_out": [(Path, message), ...],
        "sample_rate": int}`: "kept" lists the existing outputs left as they were (their
        inputs not vocoded; not failures). "warnings" names each mel file whose values
        cannot be a natural-log mel (a dB, power or log10 mel); it is vocoded and written all
        the same, and the same message is raised once as a `MelInputWarning`. "left_out" names each
        input folder that holds the output folder, with how many files under the output
        folder were not taken as inputs (outputs of a run; also a `UserWarning`).
        "sample_rate" is None when no input was left to vocode: the model is then not
        loaded (nor downloaded), and every input is in "failed" or "kept".

    Raises:
        ValueError: no inputs, bad settings (sigma, denoiser_strength, batch_size, a
            negative seed, mel_layout), or an input folder that is the output folder (a rerun
            would take the outputs as inputs), checked before any model is loaded; per-file
            problems are reported in "failed" instead.
        NotADirectoryError: `out_dir` is an existing file or lies under one (checked before
            the model loads).
        PermissionError: `out_dir` (or where it would be made) is not writable (as early).

    Example:
        >>> result = vocode_files(["mels/"], "wavs/", model="waveglow.keras")
        >>> len(result["failed"])
        0
    """
    import warnings

    from keras_waveglow._paths import check_output_folder
    from keras_waveglow.audio import (
        AUDIO_EXTENSIONS,
        AudioFileError,
        load_mel,
        load_speech,
        mel_spectrogram,
        save_audio,
    )
    from keras_waveglow.data.arctic import file_sha256
    from keras_waveglow.evaluation import file_seed

    _check_settings(sigma, denoiser_strength, batch_size)
    peak = _check_normalize(normalize)
    _check_denoiser_mode(denoiser_mode)
    from keras_waveglow.audio import MEL_LAYOUTS

    if not isinstance(mel_layout, str) or mel_layout not in MEL_LAYOUTS:
        raise ValueError(f"mel_layout must be one of {MEL_LAYOUTS}; got {mel_layout!r}.")
    if seed is not None:  # before the model and the inputs load, named as given
        seed = _checks.count("seed", seed, 0)
    if isinstance(inputs, str | bytes | os.PathLike):  # one path, not its characters
        inputs = [os.fsdecode(inputs)]
    inputs = list(inputs)
    if not inputs:
        raise ValueError("no inputs given: name mel or audio files, folders or file lists.")
    out_dir = Path(out_dir)
    # An output folder that is a file, or lies under one, would fail at every write.
    check_output_folder(out_dir, "the output folder")
    for entry in inputs:  # outputs beside the inputs: a rerun would read them as inputs
        if Path(entry).is_dir() and Path(entry).resolve() == out_dir.resolve():
            raise ValueError(
                f"the output folder {out_dir} is the input folder {entry}: a rerun would take "
                "the wavs written there as inputs. Give an output folder apart from the "
                f"inputs (one inside it, such as {Path(entry) / 'wavs'}, is left out of them)."
            )
    failures: list[tuple[Path, str]] = []
    left_out: list[tuple[Path, str]] = []
    warned: list[tuple[Path, str]] = []
    pairs, kept = [], []
    for path, target in _expand_inputs(inputs, out_dir, failures, left_out):
        if target.is_dir():  # replaced by neither a rerun nor --overwrite: save_audio refuses
            failures.append((path, f"{path}: its output {target} is a folder."))
        elif target.exists() and not overwrite:
            kept.append(target)
        else:
            pairs.append((path, target))
    if not pairs:  # nothing to vocode: the model is not loaded (nor downloaded)
        return {
            "written": [],
            "kept": kept,
            "failed": failures,
            "warnings": warned,
            "left_out": left_out,
            "sample_rate": None,
        }
    waveglow = load_vocoder(model, weights)
    loaded = []  # (mel, output path, samples to keep or None, input path)
    for path, target in pairs:
        try:
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                audio, _ = load_speech(path, waveglow.mel_config)
                if audio.shape[0] <= waveglow.n_fft // 2:
                    raise ValueError(f"{path}: too short ({audio.shape[0]} samples) for a mel.")
                mel = ops.convert_to_numpy(mel_spectrogram(audio, **waveglow.mel_config))
                keep = audio.shape[0]
            else:
                n_mels = waveglow.n_mel_channels
                try:  # the layout told from n_mels; mel_layout only where it cannot be
                    mel = load_mel(path, n_mels=n_mels)
                except AudioFileError as error:
                    if mel_layout == "auto" or "ambiguous orientation" not in str(error):
                        raise
                    mel = load_mel(path, n_mels=n_mels, layout=mel_layout)
                else:
                    if mel.shape[0] == n_mels and mel_layout != "auto":  # a square .pt
                        mel = load_mel(path, n_mels=n_mels, layout=mel_layout)
                    elif mel.shape[0] == n_mels:
                        warned.append(
                            (
                                path,
                                f"{path}: ({n_mels}, {n_mels}): its layout cannot be told; "
                                "taken as NVIDIA's (n_mels, frames), as its tools save .pt "
                                "mels (--mel-layout / mel_layout says otherwise).",
                            )
                        )
                        warnings.warn(warned[-1][1], MelInputWarning, stacklevel=3)
                keep = None
                _as_mel_list(mel, waveglow.n_mel_channels)
                problem = _log_mel_problem([np.asarray(mel)])
                if problem is not None:  # named here, not once for a batch of files
                    warned.append((path, f"{path}: {problem}"))
                    # The caller's line: past this function and `keeps_pipe_lists`' wrapper.
                    warnings.warn(warned[-1][1], MelInputWarning, stacklevel=3)
        except (OSError, ValueError, _NotFloatMel, ImportError, RuntimeError) as error:
            message = str(error)
            failures.append((path, message if str(path) in message else f"{path}: {message}"))
            continue
        # Seeded by its bytes: its audio does not depend on the other inputs or a rerun.
        seeds = None if seed is None else file_seed(seed, file_sha256(path))
        loaded.append((np.asarray(mel, "float32"), target, keep, path, seeds))

    loaded.sort(key=lambda entry: entry[0].shape[0])
    written = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(loaded), desc="vocode", unit="file")
    for first in range(0, len(loaded), batch_size):
        group = loaded[first : first + batch_size]
        with warnings.catch_warnings():  # each file was checked (and named) above
            warnings.simplefilter("ignore", MelInputWarning)
            audios = vocode(
                [entry[0] for entry in group],
                waveglow,
                sigma=sigma,
                denoiser_strength=denoiser_strength,
                item_seeds=None if seed is None else [entry[4] for entry in group],
                batch_size=batch_size,
                return_sample_rate=False,
                denoiser_mode=denoiser_mode,
            )
        for (_, target, keep, path, _), audio in zip(group, audios, strict=True):
            audio = audio[:keep]  # an audio input's length; its peak is the written file's
            if peak is not None:
                audio = _peak_normalize(audio, peak)
            try:
                save_audio(target, audio, waveglow.sample_rate, overwrite=overwrite)
                written.append(target)
            except (OSError, ValueError) as error:
                failures.append((path, f"{path}: cannot write {target}: {error}"))
        if bar is not None:
            bar.update(len(group))
    if bar is not None:
        bar.close()
    return {
        "written": written,
        "kept": kept,
        "failed": failures,
        "warnings": warned,
        "left_out": left_out,
        "sample_rate": waveglow.sample_rate,
    }


__all__ = [
    "Denoiser",
    "InverseRunner",
    "MelInputWarning",
    "bucket_frames",
    "default_model",
    "get_default_model",
    "load_vocoder",
    "receptive_field_frames",
    "set_default_model",
    "vocode",
    "vocode_files",
]
