"""NVIDIA's WaveGlow checkpoints in, shippable models out.

`from_nvidia(path)` reads a PyTorch WaveGlow checkpoint and returns a `keras_waveglow.WaveGlow`
that computes the same function. Three layouts are understood:

- NVIDIA/waveglow `train.py` checkpoints: a dict whose `"model"` is the whole pickled module
  (classes `glow.WaveGlow`, `glow.WN`, `glow.Invertible1x1Conv`), with weight norm still
  attached (`weight_g`/`weight_v`) or removed (`weight`), and either one `cond_layer` per
  coupling (current code) or one `cond_layers.<i>` per WN layer (older checkpoints).
- DeepLearningExamples / torch.hub checkpoints: `{"state_dict": ..., "config": ...}`, keys with
  or without the `module.` prefix of `DistributedDataParallel`, per-layer cond layers.
- Plain state_dict files (`torch.save(model.state_dict())`).

Nothing in the file is executed. Pickles are read with a restricted unpickler that resolves only
the tensor-rebuild functions (each reference a fresh wrapper, so a pickle cannot set attributes
on torch's own), storage classes, `Parameter`, `OrderedDict`/`set`/`frozenset`, and a short
list of module class names (the three `glow` classes and torch's `Conv1d`, `ConvTranspose1d`,
`ModuleList`, `ParameterList`, `Sequential`, `WeightNorm`), which are mapped to inert stand-ins
that only hold the pickled attributes; any other global (`os.system`, `builtins.eval`, ...) is
refused with `UnsafeCheckpointError`. TorchScript archives are refused as well.

Weight norm is folded: `weight = g * v / ||v||` (norm per output channel) is computed in
float64 and loaded into a plain `weight_norm=False` model, the fastest for inference. Pass
`weight_norm=True` to keep `g` and `v` as separate variables instead (for fine-tuning as NVIDIA
trained); both give the same outputs.

Layout changes (PyTorch channels-first -> Keras channels-last): Conv1d weights (out, in, k)
become kernels (k, in, out); ConvTranspose1d (in, out, k) becomes Keras' (k, out, in); the 1x1
convs' (c, c, 1) become the (out, in) matrix `W`; and the conditioning convs' input channels are
permuted from NVIDIA's grouped order `m * n_group + g` to this package's `g * n_mel + m`.

Not supported: the very first WaveGlow release (`glow_old.py`, `waveglow_old.pt`) alternated
which half of the channels each coupling transforms. Its pickled classes (`glow_old.*`) and its
state dicts (separate `res_layers` / `skip_layers`) are refused as such; one that NVIDIA's
`convert_model.py` rewrote to the per-layer-cond names would load but not compute the same
function.

Exports: `export_keras` (`.keras`), `export_savedmodel` (TF SavedModel with `vocode` and
`vocode_from_noise` serving signatures), `export_tflite` (float16 TFLite), `export_onnx`
(via Keras' exporter and tf2onnx). Every writer refuses to overwrite an existing output unless
`overwrite=True`, and writes to a temporary sibling first, then renames.
"""

from __future__ import annotations

import importlib
import numbers
import os
import pickle
import re
import shutil
import tempfile
import types
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from keras_waveglow._paths import prepare_output as _prepare_output
from keras_waveglow._paths import temporary_siblings
from keras_waveglow.audio import durable_replace
from keras_waveglow.flow import WaveGlow
from keras_waveglow.presets import get_preset

# Quoted for zsh; pip takes an installed package's extras from its own metadata (the package
# is installed from its checkout, not from PyPI).
_TORCH_HINT = "pip install 'keras-waveglow[torch]'"
_ONNX_HINT = "pip install 'keras-waveglow[onnx]'"


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint's pickle references a global outside the allowlist; nothing was run.

    Also a `ValueError` (a file that cannot be used), so callers that refuse bad input files
    refuse it with the rest.
    """


# --------------------------------------------------------------------------------------------
# The restricted unpickler
# --------------------------------------------------------------------------------------------


class _ModuleState:
    """An inert stand-in for a pickled `torch.nn.Module`: it only keeps the pickled attributes.

    `pickle` creates it with `object.__new__` and hands it the module's `__dict__` (its
    `_parameters`, `_buffers`, `_modules` and plain attributes such as `stride`).
    """

    torch_class = "?"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        if not isinstance(state, dict):
            raise UnsafeCheckpointError(f"unexpected state for {self.torch_class}: {type(state)}")
        self.__dict__.update(state)

    def __repr__(self):
        return f"<pickled {self.torch_class}>"


_GLOW_MODULES = ("glow", "waveglow.glow")
_GLOW_CLASSES = ("WaveGlow", "WN", "Invertible1x1Conv")
_TORCH_MODULE_CLASSES = {
    ("torch.nn.modules.conv", "Conv1d"),
    ("torch.nn.modules.conv", "ConvTranspose1d"),
    ("torch.nn.modules.container", "ModuleList"),
    ("torch.nn.modules.container", "ParameterList"),
    ("torch.nn.modules.container", "Sequential"),
    ("torch.nn.utils.weight_norm", "WeightNorm"),  # the hook object weight_norm attaches
}
_REAL_GLOBALS = {
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch.nn.parameter", "Parameter"),  # how PyTorch 0.4 pickled parameters
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}
_stand_ins: dict[str, type] = {}


def _stand_in(qualified: str) -> type:
    if qualified not in _stand_ins:
        name = qualified.rsplit(".", 1)[-1]
        _stand_ins[qualified] = type(name, (_ModuleState,), {"torch_class": qualified})
    return _stand_ins[qualified]


def _no_backend():
    """Stands in for `torch.nn.backends.thnn._get_thnn_function_backend` (PyTorch 0.4 pickles)."""
    return None


def _resolve_global(module: str, name: str) -> Any:
    """The allowlist: what a pickle may reference, and what it gets instead.

    Storage classes (`torch.FloatStorage`, ...) never get here: `torch.load` maps them to
    dtype tags itself before asking the pickle module.
    """
    if module == "__builtin__":  # protocol-2 pickles spell builtins this way
        module = "builtins"
    if (module, name) in _REAL_GLOBALS:
        real = getattr(importlib.import_module(module), name)
        if isinstance(real, types.FunctionType):
            # A fresh wrapper each time: a pickle may BUILD (set attributes on) what it gets,
            # which must not reach torch's own function (every later torch.load calls it).
            def call(*args, **kwargs):
                return real(*args, **kwargs)

            return call
        return real
    if module in _GLOW_MODULES and name in _GLOW_CLASSES:
        return _stand_in(f"{module}.{name}")
    if (module, name) in _TORCH_MODULE_CLASSES:
        return _stand_in(f"{module}.{name}")
    if (module, name) == ("torch.nn.backends.thnn", "_get_thnn_function_backend"):
        return _no_backend
    if module.rsplit(".", 1)[-1] == "glow_old" and name in _GLOW_CLASSES:
        raise _GlowOldError(
            f"a model of NVIDIA's first WaveGlow release ({module}.{name}, waveglow_old.pt), "
            + _GLOW_OLD_WHY
        )
    raise UnsafeCheckpointError(
        f"refused to load {module}.{name}: only tensors and WaveGlow module classes may be "
        "unpickled, and this global could run code from the file."
    )


_GLOW_OLD_WHY = (
    "which this package does not implement: its couplings alternate which half of the "
    "channels they transform. Use a checkpoint of glow.py (e.g. "
    "waveglow_256channels_universal_v5.pt, preset nvidia_universal)."
)


class _GlowOldError(ValueError):
    """A pickle of `glow_old.py`'s classes: read safely, but not a model this package runs."""


class _NoSuchCheckpoint(FileNotFoundError, ValueError):
    """No file at a checkpoint's path (a ValueError too, as it was before it was this)."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return _resolve_global(module, name)


def _restricted_load(file, **kwargs):
    return _RestrictedUnpickler(file, **kwargs).load()


# What `torch.load(pickle_module=...)` needs: `Unpickler`, `load` and a `__name__`.
restricted_pickle = types.ModuleType("keras_waveglow_restricted_pickle")
restricted_pickle.Unpickler = _RestrictedUnpickler
restricted_pickle.load = _restricted_load
restricted_pickle.UnpicklingError = pickle.UnpicklingError


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"Reading PyTorch checkpoints needs torch, an optional dependency: {_TORCH_HINT}"
        ) from error
    return torch


def load_torch_checkpoint(path: str | os.PathLike) -> Any:
    """Reads a PyTorch checkpoint without executing code from it.

    Args:
        path: a file written by `torch.save` (zip or legacy format).

    Returns:
        The unpickled object: dicts, lists, numbers, strings, CPU `torch.Tensor`s, and inert
        stand-ins (with the pickled attributes) for the allowlisted module classes.

    Raises:
        UnsafeCheckpointError: the pickle references any other global.
        FileNotFoundError: no file at `path` (also a ValueError).
        ValueError: a folder, a TorchScript archive, HDF5 (Keras weights misnamed), or not a
            PyTorch checkpoint.
        ImportError: torch is not installed.

    Example:
        >>> checkpoint = load_torch_checkpoint("waveglow_256channels.pt")
        >>> sorted(checkpoint)
        ['iteration', 'learning_rate', 'model', 'optimizer']
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: a folder, not a checkpoint file.")
    if not path.is_file():
        raise _NoSuchCheckpoint(f"{path}: no such checkpoint file.")
    keras_file = (
        "a Keras file, not an NVIDIA checkpoint: load it with keras_waveglow.load_vocoder "
        "(a .keras model) or WaveGlow.from_preset(name, weights=path) (a .weights.h5 file)"
    )
    with open(path, "rb") as handle:
        if handle.read(8) == b"\x89HDF\r\n\x1a\n":  # Keras weights
            if path.name.endswith(".weights.h5"):
                raise ValueError(f"{path}: {keras_file}.")
            raise ValueError(
                f"{path}: an HDF5 file not named *.weights.h5 or *.keras; Keras reads "
                "weights only from a file named *.weights.h5 (rename it)."
            )
    if path.suffix == ".keras" and zipfile.is_zipfile(path):
        raise ValueError(f"{path}: {keras_file}.")
    torch = _import_torch()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(n.endswith("constants.pkl") for n in archive.namelist()):
                raise ValueError(
                    f"{path}: a TorchScript archive; export the model's state_dict with "
                    "torch.save(model.state_dict(), ...) and load that instead."
                )
    try:
        with warnings.catch_warnings():
            # Legacy-format pickles name module classes; torch would compare their source
            # with the stand-ins' and warn. There is nothing to compare: no code runs.
            warnings.filterwarnings("ignore", message="Couldn't retrieve source code")
            return torch.load(
                path, map_location="cpu", pickle_module=restricted_pickle, weights_only=False
            )
    except UnsafeCheckpointError as error:
        raise UnsafeCheckpointError(f"{path}: {error}") from None
    except _GlowOldError as error:
        raise ValueError(f"{path}: {error}") from None
    except (
        pickle.UnpicklingError,
        EOFError,
        RuntimeError,
        KeyError,
        ValueError,
        TypeError,  # a damaged pickle's BUILD or REDUCE arguments
        AttributeError,
        IndexError,
        OSError,  # torch's zip reader on a cut file: "[Errno 22] Invalid argument"
    ) as error:
        raise ValueError(
            f"{path}: not a readable PyTorch checkpoint (truncated or damaged? "
            f"{type(error).__name__}: {error})."
        ) from error


# --------------------------------------------------------------------------------------------
# From a checkpoint object to a flat state dict and config hints
# --------------------------------------------------------------------------------------------


def _flatten_module(
    stand_in: _ModuleState, prefix: str, out: dict, _above: tuple[int, ...] = ()
) -> None:
    attrs = stand_in.__dict__
    for group in ("_parameters", "_buffers"):
        for name, tensor in (attrs.get(group) or {}).items():
            if tensor is not None:
                out[prefix + name] = tensor
    above = (*_above, id(stand_in))
    for name, child in (attrs.get("_modules") or {}).items():
        if isinstance(child, _ModuleState):
            if id(child) in above:  # a pickle can make a module its own descendant
                raise ValueError(f"module {prefix}{name} contains itself: not a saved model.")
            _flatten_module(child, f"{prefix}{name}.", out, above)


def _hints_from_module(root: _ModuleState) -> dict:
    hints = {}
    for key in ("n_flows", "n_group", "n_early_every", "n_early_size"):
        if isinstance(root.__dict__.get(key), int):
            hints[key] = root.__dict__[key]
    upsample = (root.__dict__.get("_modules") or {}).get("upsample")
    if isinstance(upsample, _ModuleState):
        stride = upsample.__dict__.get("stride")
        if isinstance(stride, tuple | list) and stride:
            hints["hop_length"] = int(stride[0])
    return hints


def _hints_from_config(config: Mapping) -> dict:
    keys = ("n_flows", "n_group", "n_early_every", "n_early_size")
    return {k: int(config[k]) for k in keys if isinstance(config.get(k), int)}


def _is_tensor(value) -> bool:
    return hasattr(value, "detach") and hasattr(value, "shape")


def _extract_state(obj: Any, path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Finds the WaveGlow weights in a loaded checkpoint; returns (state, config hints)."""
    hints: dict = {}
    if isinstance(obj, Mapping) and isinstance(obj.get("config"), Mapping):
        hints.update(_hints_from_config(obj["config"]))
    if isinstance(obj, Mapping) and "model" in obj:
        obj = obj["model"]
    elif isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if isinstance(obj, _ModuleState):
        if obj.torch_class.rsplit(".", 1)[-1] != "WaveGlow":
            raise ValueError(f"{path}: the pickled model is a {obj.torch_class}, not a WaveGlow.")
        hints.update(_hints_from_module(obj))
        flat: dict = {}
        try:
            _flatten_module(obj, "", flat)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        obj = flat
    if not isinstance(obj, Mapping) or not any(_is_tensor(v) for v in obj.values()):
        keys = sorted(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(
            f"{path}: no WaveGlow weights found (expected a state_dict, or a dict with "
            f"'model' or 'state_dict'); got {keys}."
        )
    state = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise ValueError(f"{path}: a weight named {key!r}, not a string: not a state dict.")
        if _is_tensor(value):
            key = key[len("module.") :] if key.startswith("module.") else key
            state[key] = value.detach().cpu().float().numpy()
    return state, hints


# --------------------------------------------------------------------------------------------
# Config inference and weight conversion
# --------------------------------------------------------------------------------------------


def _count(state: Mapping, pattern: str, path: Path) -> int:
    regex = re.compile(pattern)
    indices = {int(m.group(1)) for key in state if (m := regex.fullmatch(key))}
    if indices != set(range(len(indices))):
        raise ValueError(f"{path}: layers missing, {pattern} has indices {sorted(indices)}.")
    return len(indices)


# Where a Conv1d's kernel (or weight norm's v) is saved: plain, `weight_norm`, and its
# successor `parametrizations.weight_norm`.
_KERNEL_SUFFIXES = ("weight", "weight_v", "parametrizations.weight.original1")


def _missing_conv(prefix: str, path: Path) -> ValueError:
    return ValueError(
        f"{path}: missing weights {prefix}weight (or {prefix}weight_g/_v, or "
        f"{prefix}parametrizations.weight.original0/1)."
    )


def _kernel(state: Mapping, key: str, path: Path) -> np.ndarray:
    """A Conv1d weight (out, in, kernel), or its weight-norm g or v, refusing another rank."""
    value = _weight(state, key, path)
    if value.ndim != 3:
        raise ValueError(
            f"{path}: {key} has shape {tuple(value.shape)}; a Conv1d weight has 3 dimensions "
            "(out, in, kernel): a damaged checkpoint, or not a WaveGlow."
        )
    return value


def _conv_shape(state: Mapping, prefix: str, path: Path) -> tuple:
    for suffix in _KERNEL_SUFFIXES:
        if prefix + suffix in state:
            return _kernel(state, prefix + suffix, path).shape
    raise _missing_conv(prefix, path)


def infer_config(state: Mapping[str, np.ndarray], hints: Mapping | None = None) -> dict:
    """Reads the WaveGlow shape off a (channels-first) NVIDIA state dict.

    Args:
        state: parameter name -> array, without any `module.` prefix.
        hints: values stored beside the weights (the pickled module's attributes, the
            DeepLearningExamples config, the upsampler stride as `hop_length`); used where the
            weights do not determine a value, and checked against them otherwise.

    Returns:
        `WaveGlow` constructor arguments: n_mel_channels, n_flows, n_group, n_early_every,
        n_early_size, wn_layers, wn_channels, wn_kernel_size, hop_length.

    Raises:
        ValueError: not a WaveGlow state dict, flows missing (a gap in the `convinv.<k>` or
            `WN.<k>` indices, or fewer of one than of the other: a truncated checkpoint), an
            unsupported upsampler, or hints that contradict the weights.

    Example:
        >>> infer_config(state)["n_flows"]
        12
    """
    hints = dict(hints or {})
    path = Path(hints.pop("path", "<state_dict>"))
    # glow_old.py's WN kept residual and skip convs apart (glow.py merged them).
    old = sorted(k for k in state if re.match(r"WN\.\d+\.(res|skip)_layers\.", k))
    if old:
        raise ValueError(
            f"{path}: weights of NVIDIA's first WaveGlow release (glow_old.py: {old[0]!r}), "
            + _GLOW_OLD_WHY
        )
    n_flows = _count(state, r"convinv\.(\d+)\.conv\.weight", path)
    if n_flows == 0 or "upsample.weight" not in state:
        raise ValueError(
            f"{path}: not a WaveGlow state dict (no 'upsample.weight' / 'convinv.0.conv.weight'); "
            f"first keys: {sorted(state)[:6]}."
        )
    # Each flow is a 1x1 conv and a coupling (WN): a checkpoint with a coupling more than
    # convs (the last flow's conv lost) would otherwise load as a model with a flow fewer.
    n_couplings = _count(state, r"WN\.(\d+)\..+", path)
    if n_couplings != n_flows:
        raise ValueError(
            f"{path}: the checkpoint has {n_flows} invertible 1x1 conv(s) (convinv.<k>) but "
            f"{n_couplings} coupling network(s) (WN.<k>); every flow has one of each, so the "
            "checkpoint is truncated or damaged."
        )
    channels = [state[f"convinv.{k}.conv.weight"].shape[0] for k in range(n_flows)]
    drops = [(k, channels[k - 1] - channels[k]) for k in range(1, n_flows)]
    drops = [(k, d) for k, d in drops if d]
    if drops:
        n_early_every, n_early_size = drops[0]
    else:  # nothing leaves early: any period >= n_flows is the same model
        n_early_every = max(hints.get("n_early_every", n_flows), n_flows)
        n_early_size = hints.get("n_early_size", 2)
    upsample = _kernel(state, "upsample.weight", path)  # (in, out, kernel)
    kernel = upsample.shape[2]
    hop_length = hints.get("hop_length", kernel // 4)
    if kernel != 4 * hop_length:
        raise ValueError(
            f"{path}: upsampler kernel {kernel} with stride {hop_length}; only kernel = "
            "4 x stride (NVIDIA's 1024/256) is supported."
        )
    suffixes = "|".join(re.escape(suffix) for suffix in _KERNEL_SUFFIXES)
    wn_layers = _count(state, rf"WN\.0\.in_layers\.(\d+)\.(?:{suffixes})", path)
    config = {
        "n_mel_channels": int(upsample.shape[0]),
        "n_flows": n_flows,
        "n_group": int(channels[0]),
        "n_early_every": int(n_early_every),
        "n_early_size": int(n_early_size),
        "wn_layers": wn_layers,
        "wn_channels": int(_conv_shape(state, "WN.0.start.", path)[0]),
        "wn_kernel_size": int(_conv_shape(state, "WN.0.in_layers.0.", path)[2]),
        "hop_length": int(hop_length),
    }
    for key in ("n_flows", "n_group", "n_early_every", "n_early_size"):
        if drops or key not in ("n_early_every", "n_early_size"):
            if key in hints and hints[key] != config[key]:
                raise ValueError(
                    f"{path}: the checkpoint says {key}={hints[key]} but its weights imply "
                    f"{config[key]}."
                )
    return config


def _torch_conv(state: Mapping, prefix: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(v, g) of a Conv1d, channels-first; g = ||v|| per output channel when no weight norm.

    Weight norm as `torch.nn.utils.weight_norm` saves it (`weight_g`, `weight_v`) or as its
    successor, `torch.nn.utils.parametrizations.weight_norm` (`parametrizations.weight.original0`
    is g, `original1` is v)."""
    new_style = prefix + "parametrizations.weight.original"
    if new_style + "1" in state:
        if new_style + "0" not in state:
            raise ValueError(f"{path}: {new_style}1 without {new_style}0.")
        v, g = (_kernel(state, new_style + i, path) for i in "10")
        return v, g.reshape(-1)
    if prefix + "weight_v" in state:
        if prefix + "weight_g" not in state:
            raise ValueError(f"{path}: {prefix}weight_v without {prefix}weight_g.")
        v, g = (_kernel(state, prefix + name, path) for name in ("weight_v", "weight_g"))
        return v, g.reshape(-1)
    if prefix + "weight" not in state:
        raise _missing_conv(prefix, path)
    weight = _kernel(state, prefix + "weight", path)
    return weight, np.sqrt(np.sum(np.square(weight, dtype=np.float64), axis=(1, 2)))


def _weight(state: Mapping, key: str, path: Path) -> np.ndarray:
    if key not in state:
        raise ValueError(f"{path}: missing weights {key}.")
    return state[key]


def _bias(state: Mapping, prefix: str, path: Path) -> np.ndarray:
    if prefix + "bias" not in state:
        raise ValueError(f"{path}: missing weights {prefix}bias.")
    return state[prefix + "bias"]


def _conv_parts(state: Mapping, prefix: str, path: Path) -> tuple[np.ndarray, ...]:
    """(v, g, bias) of a channels-first Conv1d."""
    return (*_torch_conv(state, prefix, path), _bias(state, prefix, path))


def _assign(variable, value: np.ndarray, key: str, path: Path) -> None:
    if tuple(variable.shape) != tuple(value.shape):
        raise ValueError(
            f"{path}: {key} converts to shape {tuple(value.shape)}, but the model expects "
            f"{tuple(variable.shape)}."
        )
    variable.assign(value.astype(variable.dtype))


def _load_conv(layer, parts, key: str, path: Path, in_order=None) -> None:
    """Loads a channels-first conv's (v, g, bias) into a `keras_waveglow.layers.Conv1D`."""
    v, g, bias = parts
    # The weight-norm fold runs in float64, so it adds no rounding of its own.
    v, g, bias = (np.asarray(a, np.float64) for a in (v, g, bias))
    kernel_v = np.transpose(v, (2, 1, 0))  # (out, in, k) -> (k, in, out)
    if in_order is not None:
        kernel_v = kernel_v[:, in_order, :]
    if layer.weight_norm:
        _assign(layer.kernel_v, kernel_v, key + "weight_v", path)
        _assign(layer.kernel_g, g, key + "weight_g", path)
    else:
        norm = np.sqrt(np.sum(np.square(kernel_v), axis=(0, 1), keepdims=True))
        _assign(layer.kernel, kernel_v * (g / np.maximum(norm, 1e-300)), key + "weight", path)
    _assign(layer.bias, bias, key + "bias", path)


def _grouped_order(n_mel: int, n_group: int) -> np.ndarray:
    """Our conditioning channel `g * n_mel + m` is NVIDIA's `m * n_group + g`."""
    g, m = np.meshgrid(np.arange(n_group), np.arange(n_mel), indexing="ij")
    return (m * n_group + g).reshape(-1)


# The `WaveGlow` options that NVIDIA's glow.py has no counterpart of, at the values that are
# NVIDIA's architecture (`wn_linear_path` is not here: it only acts without skip connections).
_NVIDIA_ARCHITECTURE = {
    "use_actnorm": False,
    "lu_decomposed": False,
    "coupling_log_scale_bound": None,
    "mel_upsampling": "learned",
    "wn_separable": False,
    "wn_dilation_base": 2,
    "wn_skip_connections": True,
}


def _refuse_other_architecture(settings: Mapping, path, where: str) -> None:
    """Raises ValueError for the first option in `settings` that is not NVIDIA's value."""
    for key, nvidia in _NVIDIA_ARCHITECTURE.items():
        if key in settings and settings[key] != nvidia:
            raise ValueError(
                f"{path}: {key}={settings[key]!r} {where}, but NVIDIA's WaveGlow has no "
                f"{key}={settings[key]!r}: its architecture is {key}={nvidia!r}, the only "
                "one its weights fit."
            )


def _as_arrays(state: Mapping) -> dict:
    """A state dict as NumPy arrays (torch tensors too, as `torch.load` returns them), without
    DistributedDataParallel's `module.` prefix."""
    arrays = {}
    for key, value in state.items():
        key = key[len("module.") :] if key.startswith("module.") else key
        if hasattr(value, "detach"):  # a torch tensor, possibly one that requires grad
            value = value.detach().cpu().float().numpy()
        arrays[key] = np.asarray(value)
    return arrays


class _ReadKeys(dict):
    """A state dict that records which of its keys were read (`load_nvidia_weights` names the
    ones it never read, as torch's strict `load_state_dict` would)."""

    def __init__(self, state: Mapping):
        super().__init__(state)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        return self[key] if key in self else default


def load_nvidia_weights(model: WaveGlow, state: Mapping[str, np.ndarray], path="<state_dict>"):
    """Copies a channels-first NVIDIA state dict into a built `WaveGlow` (in place).

    Args:
        model: a `WaveGlow` whose shape matches the checkpoint (see `infer_config`).
        state: parameter name -> array or torch tensor (a `module.` prefix is dropped);
            weight-normed convs as `weight_g`/`weight_v`, plain ones as `weight`;
            conditioning as one `cond_layer` or per-layer `cond_layers.<i>`.
        path: where the weights came from, for error messages.

    Returns:
        The model.

    Raises:
        ValueError: the model is not NVIDIA's architecture (e.g. ActNorm, frame-rate mel
            conditioning, separable or other-dilation WN convs, no skip connections; the
            message names the option and NVIDIA's value), a weight the model needs is missing
            from `state` (named, with `path`), or a weight's shape differs.

    Warns:
        UserWarning: the state dict holds weights the model has no place for (e.g. a flow
            more than the model's, or another network's keys), named: torch's strict
            `load_state_dict` refuses them; here the model is loaded and they are left out.

    Example:
        >>> model = load_nvidia_weights(WaveGlow(**infer_config(state)), state)
    """
    path = Path(path)
    _refuse_other_architecture(
        {key: getattr(model, key) for key in _NVIDIA_ARCHITECTURE}, path, "in the model"
    )
    state = _ReadKeys(_as_arrays(state))
    order = _grouped_order(model.n_mel_channels, model.n_group)
    upsample = _kernel(state, "upsample.weight", path)  # (in, out, k) -> Keras (k, out, in)
    _assign(model.upsample.kernel, np.transpose(upsample, (2, 1, 0)), "upsample.weight", path)
    _assign(model.upsample.bias, _bias(state, "upsample.", path), "upsample.bias", path)
    for k in range(model.n_flows):
        key = f"convinv.{k}.conv.weight"
        weight = _kernel(state, key, path)
        if weight.shape[2] != 1:
            raise ValueError(f"{path}: {key} has shape {weight.shape}; a 1x1 conv's kernel is 1.")
        _assign(model.convinvs[k].weight, weight[:, :, 0], key, path)
        wn = model.couplings[k].wn
        prefix = f"WN.{k}."
        for name in ("start", "end"):
            layer_prefix = f"{prefix}{name}."
            _load_conv(
                getattr(wn, name), _conv_parts(state, layer_prefix, path), layer_prefix, path
            )
        if any(key.startswith(prefix + "cond_layers.") for key in state):
            # Per-layer conditioning convs stacked along their outputs are the single conv.
            parts = [
                _conv_parts(state, f"{prefix}cond_layers.{i}.", path)
                for i in range(model.wn_layers)
            ]
            cond = tuple(np.concatenate(items, axis=0) for items in zip(*parts, strict=True))
        else:
            cond = _conv_parts(state, prefix + "cond_layer.", path)
        _load_conv(wn.cond_layer, cond, prefix + "cond_layer.", path, in_order=order)
        for i in range(model.wn_layers):
            for name, layer in (
                ("in_layers", wn.in_layers[i]),
                ("res_skip_layers", wn.res_skip_layers[i]),
            ):
                layer_prefix = f"{prefix}{name}.{i}."
                _load_conv(layer, _conv_parts(state, layer_prefix, path), layer_prefix, path)
    unused = sorted(set(state) - state.read)
    if unused:
        shown = ", ".join(unused[:5]) + (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
        warnings.warn(
            f"{path}: {len(unused)} weight(s) of the checkpoint have no place in the model and "
            f"were left out: {shown}.",
            stacklevel=2,
        )
    return model


_INFERRED = (
    "n_mel_channels",
    "n_flows",
    "n_group",
    "n_early_every",
    "n_early_size",
    "wn_layers",
    "wn_channels",
    "wn_kernel_size",
    "hop_length",
)


def from_nvidia(path: str | os.PathLike, **overrides) -> WaveGlow:
    """Imports an NVIDIA WaveGlow checkpoint as a Keras `WaveGlow` with the same behaviour.

    The flow's shape is read off the weights; the mel front end (which the weights cannot
    tell) defaults to NVIDIA's: 22050 Hz, n_fft 1024, window 1024, fmin 0, fmax 8000.
    Weight norm is folded into plain kernels unless `weight_norm=True` is passed.

    Args:
        path: NVIDIA/waveglow `train.py` checkpoint, DeepLearningExamples / torch.hub
            checkpoint, or a plain state_dict file.
        **overrides: `WaveGlow` arguments, e.g. `sample_rate=16000`, `weight_norm=True`,
            `seed=0`. Values the weights determine (n_flows, n_group, ...) may be given only
            if they agree; architecture options NVIDIA's WaveGlow lacks (`use_actnorm`,
            `lu_decomposed`, `coupling_log_scale_bound`, `mel_upsampling`, `wn_separable`,
            `wn_dilation_base`, `wn_skip_connections`) only at NVIDIA's values.

    Returns:
        A `WaveGlow` (float32 variables under the default dtype policy).

    Raises:
        UnsafeCheckpointError: the file's pickle references code outside the allowlist.
        FileNotFoundError: no file at `path` (also a ValueError).
        ValueError: the file is not a WaveGlow checkpoint, or an override contradicts it or
            NVIDIA's architecture (the message names the option).
        ImportError: torch is missing (`pip install 'keras-waveglow[torch]'`).

    Example:
        >>> model = keras_waveglow.from_nvidia("waveglow_256channels_universal_v5.pt")
        >>> audio = model.inverse(mel, sigma=0.6)
    """
    path = Path(path)
    state, hints = _extract_state(load_torch_checkpoint(path), path)
    config = infer_config(state, {**hints, "path": path})
    early = ("n_early_every", "n_early_size")
    if config["n_early_every"] >= config["n_flows"] and any(k in overrides for k in early):
        # Nothing leaves the flows early: the weights cannot tell these two, and any pair that
        # keeps every channel to the end is the same model.
        every, size = ({**config, **overrides}[k] for k in early)
        integers = all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (every, size)
        )
        if integers and size and every < config["n_flows"]:
            given = ", ".join(f"{k}={overrides[k]}" for k in early if k in overrides)
            raise ValueError(
                f"{path}: {given} given, but no channels leave the checkpoint's flows early "
                f"(with n_early_every={every}, n_early_size={size}, {size} would leave every "
                f"{every} flows)."
            )
        config.update({k: overrides[k] for k in early if k in overrides})
    for key in _INFERRED:
        if key in overrides and overrides[key] != config[key]:
            raise ValueError(
                f"{path}: {key}={overrides[key]!r} given, but the checkpoint's weights have "
                f"{key}={config[key]!r}."
            )
    _refuse_other_architecture(overrides, path, "given")
    try:
        model = WaveGlow(**{**get_preset("nvidia_22k"), **config, **overrides})
    except ValueError as error:  # e.g. an n_group glow.py allows and this package does not
        raise ValueError(
            f"{path}: the checkpoint's WaveGlow ({config}) cannot be built here: {error}"
        ) from error
    return load_nvidia_weights(model, state, path)


# --------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------


def _commit(tmp: Path, path: Path, overwrite: bool) -> None:
    """Moves a finished temporary output into place: atomically for a file; a folder that is
    replaced is first moved aside into the temporary folder (removed with it), and put back
    if the new one cannot take its place. Without `overwrite`, an output that appeared while
    the export ran (another export to the same name) is refused, not replaced."""
    if tmp.is_file():
        durable_replace(tmp, path, overwrite=overwrite)
        return
    if not overwrite and (path.exists() or path.is_symlink()):
        raise FileExistsError(
            f"{path}: appeared while the export ran (another export to it?); pass "
            "overwrite=True (--overwrite) to replace it."
        )
    if not path.is_dir():
        os.replace(tmp, path)
        return
    aside = tmp.parent / "previous"
    os.replace(path, aside)
    try:
        os.replace(tmp, path)
    except OSError:
        os.replace(aside, path)
        raise


def _write_atomically(
    path: Path, write: Callable[[Path], None], overwrite: bool, suffix: str = ""
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    stale = [p.name for p in temporary_siblings(path)]
    if stale:  # an export killed before its cleanup (SIGKILL, a machine stop), or one running
        warnings.warn(
            f"{path.parent}: {len(stale)} temporary folder(s) of another export to "
            f"{path.name} ({', '.join(stale)}): left by one that was killed, or in use by "
            "one running now; delete them once none is running.",
            stacklevel=3,
        )
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        tmp = tmp_dir / f"out{suffix}"
        write(tmp)
        _commit(tmp, path, overwrite)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return path


def export_keras(model: WaveGlow, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Saves the model as a `.keras` archive (reload with `keras_waveglow.load_vocoder(path)`,
    or `keras.saving.load_model` once the classes are registered: after `import keras` then
    `import keras_waveglow`, or after any use of a `keras_waveglow` name).

    Args:
        model: the model.
        path: output file, ending in `.keras`.
        overwrite: replace an existing file. Default False.

    Returns:
        The path written.

    Example:
        >>> export_keras(model, "waveglow.keras")
    """
    path = _prepare_output(path, overwrite, suffix=".keras")
    return _write_atomically(path, model.save, overwrite, suffix=".keras")


def _require_tensorflow(what: str) -> None:
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"{what} traces the model with TensorFlow: run with KERAS_BACKEND=tensorflow "
            f"(the current backend is {keras.backend.backend()!r})."
        )


def _mel_spec(model: WaveGlow):
    return keras.InputSpec(shape=(None, None, model.n_mel_channels), dtype="float32")


def _noise_spec(model: WaveGlow):
    return keras.InputSpec(shape=(None, None, model.n_group), dtype="float32")


def _noise_for_mel(model: WaveGlow, mel, z):
    """z cropped to the mel's samples (F * hop_length // n_group steps).

    The Keras model refuses a longer z when the shapes are known; a traced graph (SavedModel,
    TFLite, ONNX) sees them only at run time, where a longer z would be conditioned on the
    upsampler's tail past the last frame. Cropping gives it the Keras model's audio for the z
    it can use.
    """
    steps = keras.ops.shape(mel)[1] * model.hop_length // model.n_group
    return z[:, :steps]


def _checked_inputs(model: WaveGlow, mel, z=None):
    """Run-time checks in a TensorFlow graph: at least one frame; z no longer than the mel
    and with the mel's batch size.

    A SavedModel raises `InvalidArgumentError` with these messages; TFLite's converter and
    tf2onnx drop assertions, so there a longer z is cropped (`_noise_for_mel`), an empty mel
    fails in the runtime, and mel and z must have the same batch size (not checked).
    """
    import tensorflow as tf

    frames = tf.shape(mel)[1]
    checks = [tf.debugging.assert_positive(frames, message="the mel has no frames")]
    if z is not None:
        samples = frames * model.hop_length
        checks.append(
            tf.debugging.assert_equal(
                tf.shape(z)[0],
                tf.shape(mel)[0],
                message="mel and z batch sizes differ: [z batch] vs [mel batch] =",
            )
        )
        checks.append(
            tf.debugging.assert_less_equal(
                tf.shape(z)[1] * model.n_group,
                samples,
                message=(
                    f"z too long for the mel: give at most frames * hop_length // n_group "
                    f"(hop_length {model.hop_length}, n_group {model.n_group}) steps; "
                    "[z steps * n_group, frames * hop_length] ="
                ),
            )
        )
    with tf.control_dependencies(checks):
        mel = tf.identity(mel)
        z = None if z is None else tf.identity(z)
    return mel, z


def _export_archive(model: WaveGlow, sigma: float, with_sampling: bool = True):
    def vocode(mel):
        mel, _ = _checked_inputs(model, mel)
        return model.inverse(mel, sigma=sigma)

    def vocode_from_noise(mel, z):
        mel, z = _checked_inputs(model, mel, z)
        return model.inverse(mel, z=_noise_for_mel(model, mel, z))

    archive = keras.export.ExportArchive()
    archive.track(model)
    if with_sampling:
        archive.add_endpoint(name="vocode", fn=vocode, input_signature=[_mel_spec(model)])
    archive.add_endpoint(
        name="vocode_from_noise",
        fn=vocode_from_noise,
        input_signature=[_mel_spec(model), _noise_spec(model)],
    )
    return archive


def export_savedmodel(
    model: WaveGlow, path: str | os.PathLike, sigma: float = 0.6, overwrite: bool = False
) -> Path:
    """Exports a TensorFlow SavedModel for TF Serving and `tf.saved_model.load`.

    Two serving signatures: `vocode(mel)` with mel (batch, frames, n_mels) float32 returns
    audio (batch, frames * hop_length), sampling z at `sigma` (the default signature); and
    `vocode_from_noise(mel, z)` with z (batch, frames * hop_length // n_group, n_group), for
    deterministic output; a shorter z gives the first `steps * n_group` samples, as the Keras
    model's `inverse`. A mel without frames, a z longer than the mel, or a z whose batch size
    is not the mel's raises `InvalidArgumentError` naming the problem. TensorFlow backend only.
    `vocode` draws z from the model's seed generator, whose state is saved with it: each fresh
    load replays the same sequence of noise (two replicas answer the same requests alike);
    give your own z to `vocode_from_noise` where that matters.

    Args:
        model: the model.
        path: output directory.
        sigma: noise scale baked into `vocode`. Default 0.6.
        overwrite: replace an existing directory. Default False.

    Returns:
        The path written.

    Example:
        >>> export_savedmodel(model, "waveglow_savedmodel")
        >>> vocode = tf.saved_model.load("waveglow_savedmodel").signatures["vocode"]
        >>> audio = vocode(mel=mel)["output_0"]
    """
    _require_tensorflow("SavedModel export")
    path = _prepare_output(path, overwrite, folder=True)
    archive = _export_archive(model, float(sigma))
    return _write_atomically(
        path, lambda tmp: archive.write_out(str(tmp), verbose=False), overwrite
    )


def export_tflite(
    model: WaveGlow, path: str | os.PathLike, float16: bool = True, overwrite: bool = False
) -> Path:
    """Exports a TFLite flatbuffer with one signature, `vocode_from_noise(mel, z)`.

    TFLite has no stateful random numbers, so the caller draws `z = sigma * N(0, 1)` of shape
    (batch, frames * hop_length // n_group, n_group), the mel's batch size (not checked:
    other batch sizes give the wrong number of outputs). With `float16=True` the weights are
    stored in float16 (half the size; computation stays float32 on CPU). Frames may vary:
    the signature runner resizes its inputs. TFLite drops run-time assertions: a z longer
    than the mel is cropped to it, and a mel without frames fails in the runtime ("Invalid
    tensor size"). TensorFlow backend only.

    Args:
        model: the model.
        path: output file (`.tflite`).
        float16: float16 weight quantisation. Default True.
        overwrite: replace an existing file. Default False.

    Returns:
        The path written.

    Example:
        >>> export_tflite(model, "waveglow.tflite")
        >>> runner = tf.lite.Interpreter("waveglow.tflite").get_signature_runner()
        >>> audio = runner(mel=mel, z=z)["output_0"]
    """
    _require_tensorflow("TFLite export")
    import tensorflow as tf

    _require_float32(model, "TFLite", " float16=True still stores float16 weights.")
    path = _prepare_output(path, overwrite)
    with tempfile.TemporaryDirectory() as tmp:
        saved = os.path.join(tmp, "savedmodel")
        _export_archive(model, 0.0, with_sampling=False).write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved, signature_keys=["vocode_from_noise"]
        )
        if float16:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        flatbuffer = converter.convert()
    return _write_atomically(path, lambda tmp: Path(tmp).write_bytes(flatbuffer), overwrite)


def _require_float32(model: WaveGlow, export: str, hint: str = "") -> None:
    """Refuses a model that does not compute in float32 (a mixed-precision run's), saying how
    to make the float32 copy to export."""
    if model.compute_dtype != "float32":
        raise ValueError(
            f"{export} export needs a model that computes in float32; this one computes in "
            f"{model.compute_dtype} (dtype policy {model.dtype_policy.name!r}). Export a float32 "
            "copy (WaveGlow.from_config({**model.get_config(), 'dtype': 'float32'}), then "
            f"set_weights of this model's weights).{hint}"
        )


def export_onnx(model: WaveGlow, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Exports `vocode_from_noise(mel, z) -> audio` as ONNX via Keras' exporter (tf2onnx).

    The graph's inputs are named `mel` (batch, frames, n_mels) and `z` (batch,
    frames * hop_length // n_group, n_group), both float32 with dynamic batch and frames;
    draw `z = sigma * N(0, 1)` yourself, of that length (a longer z is cropped to it, a
    shorter one gives the first `steps * n_group` samples), for at least one frame (an empty
    mel fails in the runtime), with the mel's batch size (not checked in the graph: other
    batch sizes give the wrong number of outputs or an error). TensorFlow backend only.

    Args:
        model: the model.
        path: output file (`.onnx`).
        overwrite: replace an existing file. Default False.

    Returns:
        The path written.

    Example:
        >>> export_onnx(model, "waveglow.onnx")
        >>> session = onnxruntime.InferenceSession("waveglow.onnx")
        >>> (audio,) = session.run(None, {"mel": mel, "z": z})
    """
    _require_tensorflow("ONNX export")
    # tf2onnx writes a mixed_bfloat16 graph whose MatMuls mix float16 and bfloat16, which
    # neither onnx's checker nor onnxruntime loads.
    _require_float32(model, "ONNX")
    try:
        import onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise ImportError(f"ONNX export needs tf2onnx and onnx: {_ONNX_HINT}") from error
    import tensorflow as tf

    path = _prepare_output(path, overwrite)
    wrapper = VocodeFromNoise(model, name="vocode_from_noise")
    # Named TensorSpecs give the ONNX graph the inputs "mel" and "z".
    signature = [
        [
            tf.TensorSpec((None, None, model.n_mel_channels), tf.float32, name="mel"),
            tf.TensorSpec((None, None, model.n_group), tf.float32, name="z"),
        ]
    ]
    return _write_atomically(
        path,
        lambda tmp: wrapper.export(
            str(tmp), format="onnx", input_signature=signature, verbose=False
        ),
        overwrite,
        suffix=".onnx",
    )


@keras.saving.register_keras_serializable(package="keras_waveglow")
class VocodeFromNoise(keras.Model):
    """`[mel, z] -> waveglow.inverse(mel, z=z)`: the deterministic vocoder as a Keras model.

    Keras' exporters trace a model's `call`; this wrapper gives them the (mel, z) signature.
    Where both lengths are known, a z longer than the mel is refused (as `WaveGlow.inverse`);
    traced with unknown lengths (for export) it is cropped to the mel's samples at run time.

    Args:
        waveglow: a `WaveGlow`.

    Call arguments:
        inputs: `[mel (B, F, n_mel), z (B, F * hop // n_group, n_group)]`.

    Returns:
        (B, F * hop_length) float32 audio.

    Example:
        >>> audio = VocodeFromNoise(model)([mel, z])
    """

    def __init__(self, waveglow: WaveGlow, **kwargs):
        super().__init__(**kwargs)
        self.waveglow = waveglow
        self.built = True

    def call(self, inputs):
        mel, z = inputs
        if z.shape[1] is None or mel.shape[1] is None:  # traced for export: crop at run time
            z = _noise_for_mel(self.waveglow, mel, z)
        return self.waveglow.inverse(mel, z=z)

    def get_config(self):
        return {
            **super().get_config(),
            "waveglow": keras.saving.serialize_keras_object(self.waveglow),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["waveglow"] = keras.saving.deserialize_keras_object(config["waveglow"])
        return cls(**config)


__all__ = [
    "UnsafeCheckpointError",
    "VocodeFromNoise",
    "export_keras",
    "export_onnx",
    "export_savedmodel",
    "export_tflite",
    "from_nvidia",
    "infer_config",
    "load_nvidia_weights",
    "load_torch_checkpoint",
]
