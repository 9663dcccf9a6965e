"""The WaveGlow flow: audio <-> Gaussian noise, conditioned on a mel spectrogram.

WaveGlow (Prenger et al., 2018) squeezes audio into groups of `n_group` samples and pushes them
through `n_flows` steps of [ActNorm] -> invertible 1x1 convolution -> affine coupling. Every few
steps `n_early_size` channels leave the flow early; those building blocks are in
`keras_waveglow.layers` (and importable from here too). Everything is channels-last and
written with `keras.ops` only, so it runs on TensorFlow and JAX alike.

Shapes carried in names: `B` batch, `T` audio samples, `T_g = T // n_group` grouped time steps,
`F` mel frames. Log-determinants are always float32, also under mixed precision.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import os
from pathlib import Path

import keras
import numpy as np
from keras import ops, random, saving

from keras_waveglow import _checks
from keras_waveglow.audio import _check_float_audio, _check_sample_rate
from keras_waveglow.layers import (  # noqa: F401  (the layers, also importable from here)
    _LOG_DET_DTYPE,
    _MEL_UPSAMPLING,
    _PACKAGE,
    WN,
    ActNorm,
    AffineCoupling,
    Conv1D,
    Invertible1x1Conv,
    MelUpsampler,
    SeparableConv1D,
    _dim,
    _log_scale_bound,
    _require,
    set_conv_implementation,
    upsample_frames,
)
from keras_waveglow.presets import get_preset


def _as_array(value, what: str, expected: str):
    """A list or tuple as one NumPy array; refuses one that is not an array by name (e.g.
    `model([mel, audio])`) and None; anything else is returned as it is."""
    if value is None:  # e.g. forward(audio, None): an AttributeError on `.shape` otherwise
        raise ValueError(f"{what} must be an array of shape {expected}; got None.")
    if not isinstance(value, list | tuple):
        return value
    try:
        return np.asarray(value)
    except (ValueError, TypeError, NotImplementedError) as error:
        raise ValueError(
            f"{what} must be one array of shape {expected}; got a {type(value).__name__} that "
            f"does not make one ({error})."
        ) from None


def _model_arguments(method: str, x, y, args: tuple, kwargs: dict) -> dict:
    """The arguments of a call `keras.Model.<method>(x, y, *args, **kwargs)` by name,
    positional ones included; just `kwargs` where they do not bind (Keras then says why)."""
    try:
        signature = inspect.signature(getattr(keras.Model, method))
        return dict(signature.bind(None, x, y, *args, **kwargs).arguments)
    except (TypeError, ValueError):
        return dict(kwargs)


class _KeepWeightsOnJax(keras.callbacks.Callback):
    """Keeps a model's weights through an error raised while Keras traces a step, on JAX.

    Keras 3.15.1's JAX trainer takes every variable's value out (sets it to None) before the
    first step of an epoch and puts the values back from its state only after a step has run:
    an error raised while the step is traced (an input the model refuses, from a dataset)
    left the model without weights in memory. At each batch where the variables still hold
    their values (`_jax_state_synced`), this records them as that state, by reference (no
    copy), so the trainer's `finally: jax_state_sync()` puts them back.
    """

    def _remember(self, batch=None, logs=None):
        model = self.model
        if getattr(model, "_jax_state_synced", False) is not True:
            return
        optimizer = getattr(model, "optimizer", None)
        model._jax_state = {
            "trainable_variables": [v.value for v in model.trainable_variables],
            "non_trainable_variables": [v.value for v in model.non_trainable_variables],
            "optimizer_variables": [v.value for v in optimizer.variables] if optimizer else [],
            "metrics_variables": [v.value for v in model.metrics_variables],
        }

    on_train_batch_begin = on_test_batch_begin = on_predict_batch_begin = _remember


@contextlib.contextmanager
def _restoring_jax_state(model):
    """On JAX, puts the state `_KeepWeightsOnJax` recorded (or the trainer's latest) back into
    the variables when the call fails: Keras 3.15.1's `evaluate` and `predict` do not (its
    `fit` does, in a `finally`)."""
    try:
        yield
    except BaseException:
        if keras.backend.backend() == "jax" and hasattr(model, "jax_state_sync"):
            model.jax_state_sync()
        raise


def _keeping_weights(method: str, positional: tuple, args: tuple, kwargs: dict):
    """`(args, kwargs)` for `keras.Model.<method>(*positional, *args, **kwargs)` with, on
    JAX, `_KeepWeightsOnJax` among the callbacks; unchanged elsewhere, or where the call does
    not bind (Keras then says why) or its callbacks are a `CallbackList`."""
    if keras.backend.backend() != "jax":
        return args, kwargs
    try:
        bound = inspect.signature(getattr(keras.Model, method)).bind(
            None, *positional, *args, **kwargs
        )
    except TypeError:
        return args, kwargs
    callbacks = bound.arguments.get("callbacks")
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return args, kwargs
    bound.arguments["callbacks"] = [*(callbacks or []), _KeepWeightsOnJax()]
    return bound.args[1 + len(positional) :], bound.kwargs


def _is_array(value) -> bool:
    """A NumPy array or a backend tensor (not a dataset, generator or `PyDataset`)."""
    return isinstance(value, np.ndarray) or ops.is_tensor(value)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def _sigma_tensor(sigma):
    """A backend tensor sigma (values unchecked: it may be traced) as float32, shaped as
    `_check_sigma` shapes an array: a scalar as it is, one per example (B,) as (B, 1, 1). A
    bool tensor is refused (TensorFlow multiplied the noise by it as a logical AND)."""
    dtype = keras.backend.standardize_dtype(sigma.dtype)
    if dtype == "bool" or not dtype.startswith(("float", "bfloat", "int", "uint")):
        raise TypeError(f"sigma must be a number or a tensor of numbers; got a {dtype} tensor.")
    sigma = ops.cast(sigma, "float32")  # TensorFlow refused int and float16 in the product
    shape = tuple(sigma.shape)
    if len(shape) == 1:
        return ops.reshape(sigma, (-1, 1, 1))
    if len(shape) == 0 or (len(shape) == 3 and shape[1:] == (1, 1)):
        return sigma
    raise _sigma_shape_error(shape)


def _sigma_shape_error(shape) -> ValueError:
    return ValueError(
        "sigma must be a number or one per example, shape (batch,) or (batch, 1, 1); got "
        f"shape {shape}."
    )


def _check_sigma(sigma):
    """`inverse`'s sigma: a finite number >= 0 as a float, or one per example (shape (B,) or
    (B, 1, 1)) as a float32 (B, 1, 1) array; refused by name otherwise. A (B,) array is not
    left to broadcast: against z's (B, T // n_group, n_group) it would scale the n_group
    channels, and silently so where B == n_group."""
    if np.ndim(sigma) == 0 or isinstance(sigma, str | bytes):
        return _checks.finite("sigma", sigma)
    values = np.asarray(sigma)
    if values.dtype.kind not in ("i", "u", "f"):
        raise TypeError(f"sigma must be a number or an array of numbers; got {values.dtype}.")
    if values.ndim == 1:
        values = values.reshape(-1, 1, 1)
    if values.ndim != 3 or values.shape[1:] != (1, 1):
        raise _sigma_shape_error(np.shape(sigma))
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            f"sigma must be finite and >= 0 everywhere; got min {values.min()}, max {values.max()}."
        )
    return values.astype("float32")


@saving.register_keras_serializable(package=_PACKAGE)
class WaveGlow(keras.Model):
    """WaveGlow: a normalising flow from audio to Gaussian noise, conditioned on a mel.

    The mel (B, F, n_mel) is upsampled by a transposed conv (kernel `4 * hop_length`, stride
    `hop_length`) to one vector per sample; audio (B, T) is squeezed into (B, T / n_group,
    n_group) and the conditioning likewise into (B, T / n_group, n_group * n_mel). Each of the
    `n_flows` steps is [ActNorm] -> `Invertible1x1Conv` -> `AffineCoupling`; every
    `n_early_every` steps `n_early_size` channels are emitted early. The defaults are NVIDIA's
    published model.

    SqueezeWave (Zhai et al., 2020) is the same flow with other options: groups of 128 or 256
    samples (`n_group`), conditioning on the mel itself at the frame rate
    (`mel_upsampling="nearest"`, no learned upsampler), depthwise-separable WN convs
    (`wn_separable`), no dilation (`wn_dilation_base=1`) and no skip connections
    (`wn_skip_connections=False`); see the "squeezewave_*" presets.

    Args:
        n_mel_channels: int >= 1, mel bands. Default 80.
        n_flows: int >= 1, flow steps. Default 12.
        n_group: int, even and >= 2, audio samples per group (flow channels). Default 8.
        n_early_every: int >= 1, emit early outputs every this many flows. Default 4.
        n_early_size: int >= 0, channels emitted each time; every flow must keep an even
            number >= 2 of channels. Default 2.
        wn_layers: int >= 1, layers per coupling network. Default 8.
        wn_channels: int >= 1, residual channels per coupling network. Default 256.
        wn_kernel_size: int, odd, dilated conv kernel size. Default 3.
        hop_length: int >= 1, audio samples per mel frame; a multiple of `n_group`.
            Default 256.
        use_actnorm: bool, ActNorm before each 1x1 conv. Default False.
        lu_decomposed: bool, LU-parametrised 1x1 convs. Default False.
        weight_norm: bool, weight-normalised WN convs. Default False.
        remat: bool, rematerialise each WN layer's activations in training (`WN`'s
            `remat`; same results, one more forward pass of compute). Default False.
        sample_rate, n_fft, win_length, fmin, fmax: the mel front end this model expects
            (see `keras_waveglow.mel_spectrogram`): a positive whole `sample_rate`,
            `1 <= win_length <= n_fft`, `0 <= fmin < fmax <= sample_rate / 2` (fmax None:
            sample_rate / 2). Defaults: 22050, 1024, 1024, 0.0, 8000.0.
        train_sigma: float, finite and > 0, sigma of the Gaussian prior in the training
            loss. Default 1.0.
        seed: int >= 0 or None, seed for the random rotations and the noise. Default None.
        mel_upsampling: "learned" (transposed conv, kernel `4 * hop_length`), or "nearest" /
            "linear": the mel itself at the frame rate, upsampled by `hop_length // n_group`
            inside each WN after its conditioning conv. Default "learned".
        wn_separable: bool, depthwise-separable dilated WN convs. Default False.
        wn_dilation_base: int >= 1, WN layer i dilates by `wn_dilation_base**i`. Default 2.
        wn_skip_connections: bool, WaveGlow's WN skip sum (False: SqueezeWave's residual-only
            WN). Default True.
        wn_linear_path: bool, with `wn_skip_connections=False`: whether each WN's end conv
            also reads its start conv's output (SqueezeWave's code; `log_s` then grows with
            the input without bound) or only its gated layers' outputs (`WN`'s
            `linear_path`). Default True.
        coupling_log_scale_bound: float > 0 or None, soft clamp of every coupling's `log_s`
            to (-c, c) (`AffineCoupling`'s `log_scale_bound`). Default None (WaveGlow's
            unbounded coupling; NVIDIA's weights need it).

    Call arguments:
        mel: (B, F, n_mel) tensor. In inference `model(mel)` is `model.inverse(mel)` at
            sigma 0.6 (so `predict` vocodes); with `training=True` it returns the upsampled
            conditioning that `compute_loss` continues from, which lets plain
            `compile()`/`fit()` on (mel, audio) pairs train the flow's likelihood (with
            optional per-example `sample_weight`, see `compute_loss`).

    Raises:
        ValueError: an argument out of its range (the message names it), a mel front end
            `mel_spectrogram` would refuse, or a flow shape whose channels do not fit
            (`n_group`, `n_early_every`, `n_early_size`).
        TypeError: an argument of the wrong type (a float or str for an integer, a str for
            a number, a non-bool flag such as `use_actnorm="no"`); the message names it.

    Example:
        >>> model = WaveGlow.from_preset("tiny")
        >>> mel = keras.random.normal((1, 10, 80))
        >>> audio = model.inverse(mel, sigma=0.6, seed=0)  # (1, 2560)
        >>> z, log_det = model.forward(audio, mel)
    """

    def __init__(
        self,
        n_mel_channels: int = 80,
        n_flows: int = 12,
        n_group: int = 8,
        n_early_every: int = 4,
        n_early_size: int = 2,
        wn_layers: int = 8,
        wn_channels: int = 256,
        wn_kernel_size: int = 3,
        hop_length: int = 256,
        use_actnorm: bool = False,
        lu_decomposed: bool = False,
        weight_norm: bool = False,
        remat: bool = False,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        win_length: int = 1024,
        fmin: float = 0.0,
        fmax: float | None = 8000.0,
        train_sigma: float = 1.0,
        seed: int | None = None,
        mel_upsampling: str = "learned",
        wn_separable: bool = False,
        wn_dilation_base: int = 2,
        wn_skip_connections: bool = True,
        wn_linear_path: bool = True,
        coupling_log_scale_bound: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Integers are checked as integers (n_group="8" or n_flows=2.7 are refused by name,
        # not failed on or truncated), flags as bools (bool("no") is True).
        n_mel_channels = _checks.count("n_mel_channels", n_mel_channels, 1)
        n_flows = _checks.count("n_flows", n_flows, 1)
        n_group = _checks.count("n_group", n_group)
        n_early_every = _checks.count("n_early_every", n_early_every, 1)
        n_early_size = _checks.count("n_early_size", n_early_size, 0)
        wn_layers = _checks.count("wn_layers", wn_layers, 1)
        wn_channels = _checks.count("wn_channels", wn_channels, 1)
        wn_kernel_size = _checks.count("wn_kernel_size", wn_kernel_size, 1)
        wn_dilation_base = _checks.count("wn_dilation_base", wn_dilation_base, 1)
        hop_length = _checks.count("hop_length", hop_length, 1)
        if wn_kernel_size % 2 != 1:
            raise ValueError(f"wn_kernel_size must be odd; got {wn_kernel_size}.")
        if n_group % 2 or n_group < 2:
            raise ValueError(f"n_group must be even and >= 2; got {n_group}.")
        if hop_length % n_group:
            raise ValueError(
                f"hop_length ({hop_length}) must be a multiple of n_group ({n_group})."
            )
        if mel_upsampling not in _MEL_UPSAMPLING:
            raise ValueError(
                f"mel_upsampling must be one of {_MEL_UPSAMPLING}; got {mel_upsampling!r}."
            )
        self._check_mel_front_end(sample_rate, n_fft, win_length, fmin, fmax)
        if seed is not None:
            try:
                seed = _checks.count("seed", seed, 0)
            except (TypeError, ValueError) as error:  # the message says None is fine too
                message = str(error).replace("seed must be", "seed must be None or")
                raise type(error)(message) from None
        self.n_mel_channels = n_mel_channels
        self.n_flows = n_flows
        self.n_group = n_group
        self.n_early_every = n_early_every
        self.n_early_size = n_early_size
        self.wn_layers = wn_layers
        self.wn_channels = wn_channels
        self.wn_kernel_size = wn_kernel_size
        self.hop_length = hop_length
        self.use_actnorm = _checks.flag("use_actnorm", use_actnorm)
        self.lu_decomposed = _checks.flag("lu_decomposed", lu_decomposed)
        self.weight_norm = _checks.flag("weight_norm", weight_norm)
        self.remat = _checks.flag("remat", remat)
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.win_length = int(win_length)
        self.fmin = float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        # The weighted loss divides by 2 * train_sigma**2 itself: 0, NaN or a negative sigma
        # would train to non-finite weights (or silently as +sigma) instead of being refused.
        self.train_sigma = _checks.finite("train_sigma", train_sigma, positive=True)
        self.seed = seed
        self.mel_upsampling = mel_upsampling
        self.wn_separable = _checks.flag("wn_separable", wn_separable)
        self.wn_dilation_base = wn_dilation_base
        self.wn_skip_connections = _checks.flag("wn_skip_connections", wn_skip_connections)
        self.wn_linear_path = _checks.flag("wn_linear_path", wn_linear_path)
        self.coupling_log_scale_bound = _log_scale_bound(
            "coupling_log_scale_bound", coupling_log_scale_bound
        )
        self.seed_generator = random.SeedGenerator(seed, name="noise_seed")

        self.upsample = None  # frame-rate conditioning: each WN upsamples its own
        if mel_upsampling == "learned":
            self.upsample = MelUpsampler(
                n_mel_channels, hop_length, name="upsample", dtype=self.dtype_policy
            )
        self.flow_channels = []  # channels entering each flow step
        remaining = n_group
        for k in range(n_flows):
            if self._emits_early(k):
                remaining -= n_early_size
            if remaining < 2 or remaining % 2:
                raise ValueError(
                    f"flow {k} would have {remaining} channels: n_group={n_group}, "
                    f"n_early_every={n_early_every}, n_early_size={n_early_size} do not fit."
                )
            self.flow_channels.append(remaining)
        self.n_remaining_channels = remaining
        rng = np.random.default_rng(seed)
        self.actnorms = (
            [ActNorm(name=f"actnorm_{k}", dtype=self.dtype_policy) for k in range(n_flows)]
            if use_actnorm
            else []
        )
        self.convinvs = [
            Invertible1x1Conv(
                lu_decomposed,
                seed=None if seed is None else int(rng.integers(2**31)),
                name=f"convinv_{k}",
                dtype=self.dtype_policy,
            )
            for k in range(n_flows)
        ]
        self.couplings = [
            AffineCoupling(
                wn_layers,
                wn_channels,
                wn_kernel_size,
                weight_norm=weight_norm,
                n_channels=self.flow_channels[k],
                remat=remat,
                wn_options=self._wn_options(),
                log_scale_bound=self.coupling_log_scale_bound,
                name=f"coupling_{k}",
                dtype=self.dtype_policy,
            )
            for k in range(n_flows)
        ]
        self.build((None, None, n_mel_channels))

    @staticmethod
    def _check_mel_front_end(sample_rate, n_fft, win_length, fmin, fmax) -> None:
        """Refuses mel settings `mel_spectrogram` would refuse or that make no mel (fmin at
        or above fmax), now rather than when the first mel is made, after the model may have
        been saved."""
        _check_sample_rate(sample_rate, whole=True)
        n_fft = _checks.count("n_fft", n_fft, 1)
        win_length = _checks.count("win_length", win_length, 1)
        if win_length > n_fft:
            raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft}).")
        nyquist = float(sample_rate) / 2
        for name, value in (("fmin", fmin), ("fmax", fmax)):
            if (value is not None or name == "fmin") and (
                isinstance(value, bool) or not isinstance(value, numbers.Real)
            ):
                none = " or None" if name == "fmax" else ""
                raise TypeError(f"{name} must be a number of Hz{none}; got {value!r}.")
        # fmax above the Nyquist frequency stays allowed, as `mel_spectrogram` allows it (the
        # bands above it are empty, and librosa warns): models were built and saved so (an
        # 8 kHz model with the default fmax of 8000).
        if fmax is not None and not (0 < fmax and math.isfinite(fmax)):
            raise ValueError(f"fmax must be a finite number of Hz > 0 or None; got {fmax}.")
        top = nyquist if fmax is None else fmax
        if not 0 <= fmin < top:
            raise ValueError(
                f"fmin must be in [0, fmax) = [0, {top:g}) Hz (fmax None: sample_rate / 2); "
                f"got {fmin}."
            )

    def _emits_early(self, k: int) -> bool:
        return k > 0 and k % self.n_early_every == 0

    def _wn_options(self) -> dict:
        """WN arguments beyond WaveGlow's; empty for the NVIDIA-shaped flow."""
        options = {}
        if self.mel_upsampling != "learned":
            options["cond_upsampling"] = self.mel_upsampling
            options["cond_factor"] = self.hop_length // self.n_group
        if self.wn_separable:
            options["separable"] = True
        if self.wn_dilation_base != 2:
            options["dilation_base"] = self.wn_dilation_base
        if not self.wn_skip_connections:
            options["skip_connections"] = False
            if not self.wn_linear_path:
                options["linear_path"] = False
        return options

    def build(self, input_shape=None):
        cond_shape = (None, None, self.n_mel_channels)
        if self.upsample is not None:
            self.upsample.build((None, None, self.n_mel_channels))
            cond_shape = (None, None, self.n_group * self.n_mel_channels)
        for k in range(self.n_flows):
            shape = (None, None, self.flow_channels[k])
            if self.use_actnorm:
                self.actnorms[k].build(shape)
            self.convinvs[k].build(shape)
            self.couplings[k].build(shape, cond_shape)
        self.built = True

    @classmethod
    def from_preset(
        cls,
        name: str,
        load_weights: bool = True,
        allow_unverified: bool = False,
        weights: str | os.PathLike | None = None,
        **overrides,
    ) -> WaveGlow:
        """Builds a model from a preset, with its trained weights when the preset has them.

        Presets with weights (`keras_waveglow.presets.WEIGHTS`) load them through
        `keras_waveglow.hub`: bundled files directly; NVIDIA's published checkpoints
        ("nvidia_universal", "nvidia_ljspeech") are downloaded, verified and converted on first
        use, then read from the cache (`$KERAS_WAVEGLOW_HOME`, default `~/.keras/keras_waveglow`)
        without network or PyTorch. Other presets ("nvidia_22k", "arctic_16k", "small",
        "squeezewave_128l", "squeezewave_128s", "tiny", ...) are architectures: the model is
        freshly initialised.

        Args:
            name: preset name, see `keras_waveglow.presets.PRESETS`.
            load_weights: bool, load the preset's weights if it has any; False gives the freshly
                initialised architecture. Default True.
            allow_unverified: bool, accept a downloaded checkpoint whose sha256 is not recorded
                ("nvidia_ljspeech": NVIDIA publishes none) or differs from the recorded one; its
                digest is logged. Once accepted, its conversion is cached and later calls need
                no flag. Default False.
            weights: str or path-like or None, a `.weights.h5` file to load instead of the
                preset's own weights (e.g. a fine-tuned, averaged or exported one, from
                `keras-waveglow export-weights` or `average`, or a training checkpoint of
                `keras-waveglow train`, read as `--init-from` reads it: its generator, the
                moving average when its run kept one, as `export-weights` decides); nothing is
                downloaded. Default None (the preset's weights, if any).
            **overrides: constructor arguments that replace the preset's. With the preset's
                own weights only settings of the run (`seed`, `remat`, `train_sigma`, `name`,
                `dtype`, `trainable`) or values equal to the preset's: anything else would
                load the weights into another network or mel, and is refused before any
                download. With `weights=`, any that keep the file's shapes.

        Returns:
            A `WaveGlow`.

        Raises:
            ValueError: unknown preset, overrides that change what the preset's own weights
                compute, overrides that a `weights` file does not fit (weights of other
                shapes, or more or fewer of them: `check_weights_file`), or `weights` with
                `load_weights=False`.
            FileNotFoundError: `weights` does not exist.
            keras_waveglow.hub.WeightsUnavailableError: the weights cannot be downloaded (the
                message names the URL, its sha256 and where to put a manual download).
            keras_waveglow.hub.WeightsVerificationError: the download failed its checks.

        Example:
            >>> model = WaveGlow.from_preset("arctic_16k", use_actnorm=True)
            >>> nvidia = WaveGlow.from_preset("nvidia_universal")  # downloads once
            >>> ljspeech = WaveGlow.from_preset("nvidia_ljspeech", allow_unverified=True)
            >>> tuned = WaveGlow.from_preset("squeezewave_128s", weights="tuned.weights.h5")
        """
        # bool("no") is True: the trained weights loaded, or an unverified download accepted.
        load_weights = _checks.flag("load_weights", load_weights)
        allow_unverified = _checks.flag("allow_unverified", allow_unverified)
        config = {**get_preset(name), **overrides}
        # A misspelt override is named now, not after a download or a large model's build.
        known = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
        unknown = sorted(set(overrides) - known - {"name", "dtype", "trainable"})
        if unknown:
            raise ValueError(
                f"Preset {name!r}: unknown {cls.__name__} argument(s) {unknown}; "
                f"known: {', '.join(sorted(known))}."
            )
        if weights is None and load_weights:
            from keras_waveglow import hub  # lazy: hub converts through convert.py (needs flow)

            if hub.weights_source(name) is not None:
                cls._check_overrides_keep_the_weights(name, overrides)
        if weights is not None:
            if not load_weights:
                raise ValueError("weights= loads a file; it contradicts load_weights=False.")
            path = Path(weights)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such weights file.")
        else:
            if not load_weights:
                return cls(**config)
            from keras_waveglow import hub  # lazy: hub converts through convert.py (needs flow)

            if hub.weights_source(name) is None:
                return cls(**config)
            # The weights first: a failed download should not wait on a large model's build.
            path = hub.preset_weights_file(name, allow_unverified=allow_unverified)
        model = cls(**config)
        try:
            if weights is not None and path.name.endswith(".weights.h5"):
                # A WaveGlow's weights or a training checkpoint (both networks, both
                # optimizers): `--init-from`'s reading, checked with `check_weights_file`.
                from keras_waveglow.training import load_initial_weights  # lazy: needs flow

                load_initial_weights(model, path)
            else:
                # Keras' load_weights skips entries of the file the model lacks: a model with
                # fewer flows (or WN layers) would load a truncated network without a word.
                check_weights_file(model, path)
                model.load_weights(path)
        except ValueError as error:
            detail = f" with overrides {overrides}" if overrides else ""
            detail += "" if str(path) in str(error) else f" ({path})"
            remedy = ""
            if weights is None and hub.weights_kind(name) == "downloadable":
                remedy = (  # e.g. converted by an older keras-waveglow
                    f" It is a cached conversion: `keras-waveglow download {name} --refresh` "
                    f"(hub.remove_cached({name!r})) converts the checkpoint anew."
                )
            raise ValueError(
                f"Preset {name!r}: cannot load its weights{detail}: {error}{remedy}"
            ) from error
        return model

    # What a preset's own weights may be loaded with: settings of the run, not of the network
    # or its mel (a hop length, a sample rate or a WN option that keeps the weights' shapes
    # loads them into another function: NaN audio, or audio at the wrong rate).
    _RUN_SETTINGS = frozenset({"seed", "remat", "train_sigma", "name", "dtype", "trainable"})

    @classmethod
    def _check_overrides_keep_the_weights(cls, name: str, overrides: dict) -> None:
        """Refuses, before any download, overrides that change what a preset's own weights
        compute (a value equal to the preset's is no change)."""
        # The value the weights were built with: the preset's, else the constructor's default.
        defaults = {
            key: parameter.default
            for key, parameter in inspect.signature(cls.__init__).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        built_with = {**defaults, **get_preset(name)}
        changed = sorted(
            key
            for key, value in overrides.items()
            if key not in cls._RUN_SETTINGS and (key not in built_with or built_with[key] != value)
        )
        if changed:
            raise ValueError(
                f"Preset {name!r} loads weights trained with its own settings; {changed} would "
                "change what they compute (with these weights only "
                f"{', '.join(sorted(cls._RUN_SETTINGS))} may be set). Use "
                f"load_weights=False for the architecture with these settings, or weights= for "
                "a file trained with them."
            )

    @property
    def mel_config(self) -> dict:
        """The mel front end this model expects, as `mel_spectrogram` keyword arguments."""
        return {
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "win_length": self.win_length,
            "n_mels": self.n_mel_channels,
            "fmin": self.fmin,
            "fmax": self.fmax,
        }

    # ----------------------------------------------------------------------------------------
    # Input checks: on static shapes (free under jit); on TensorFlow, dimensions unknown at
    # trace time are checked at run time (`_require`)
    # ----------------------------------------------------------------------------------------

    def _unknown_rank(self, what: str, expected: str) -> ValueError:
        return ValueError(
            f"{what} must have {expected}; got a tensor of unknown rank (TensorFlow traced it "
            "so after calls with inputs of other ranks, or from a dataset without a static "
            "rank)."
        )

    def _check_mel(self, mel):
        """Checks a mel's shape, (B, F, n_mel); returns the mel to compute with.

        A list becomes a NumPy array; on TensorFlow, where the channel axis is unknown at
        trace time, the mel returned waits for the run-time check.

        Raises:
            ValueError: not of rank 3, a batch of 0, or not `n_mel_channels` channels on the
                last axis.
            tf.errors.InvalidArgumentError: the same, found at run time (TensorFlow, a
                channel axis unknown at trace time).
        """
        layout = f"(batch, frames, {self.n_mel_channels})"
        mel = _as_array(mel, "mel", layout)
        expected = f"rank 3 {layout}"
        try:
            rank = len(mel.shape)
        except ValueError:  # a TensorShape of unknown rank
            raise self._unknown_rank("mel", expected) from None
        if rank != 3:
            raise ValueError(f"mel must have {expected}; got shape {tuple(mel.shape)}.")
        shape = tuple(_dim(mel, i) for i in range(3))
        if isinstance(shape[0], int) and shape[0] == 0:
            # JAX failed in a reshape ("integer modulo by zero"), TensorFlow gave empty outputs.
            raise ValueError(f"mel holds no examples: shape {tuple(mel.shape)} (batch 0).")
        return _require(
            mel,
            shape[2] == self.n_mel_channels,
            "mel must have {} channels on its last axis (batch, frames, n_mels); got shape {}.",
            self.n_mel_channels,
            shape,
        )

    def _check_audio(self, audio, mel):
        """Checks audio (B, T) and its mel (B, F, n_mel); returns `(audio, mel)` to compute
        with.

        Lists become NumPy arrays; on TensorFlow, where a dimension is unknown at trace time,
        the tensors returned wait for the run-time checks.

        Raises:
            TypeError: integer audio (PCM not scaled to [-1, 1]).
            ValueError: the audio not of rank 2, its length not a multiple of `n_group` or
                more than F * hop_length samples, batch sizes that differ, or a bad mel
                (`_check_mel`).
            tf.errors.InvalidArgumentError: the same shape checks, found at run time
                (TensorFlow, dimensions unknown at trace time).
        """
        audio = _as_array(audio, "audio", "(batch, samples)")
        try:
            rank = len(audio.shape)
        except ValueError:  # a TensorShape of unknown rank
            raise self._unknown_rank("audio", "rank 2 (batch, samples)") from None
        if rank != 2:
            raise ValueError(f"audio must have rank 2 (batch, samples); got {tuple(audio.shape)}.")
        _check_float_audio(keras.backend.standardize_dtype(audio.dtype))
        mel = self._check_mel(mel)
        batch, length = _dim(audio, 0), _dim(audio, 1)
        mel_batch, frames = _dim(mel, 0), _dim(mel, 1)
        audio = _require(
            audio,
            length % self.n_group == 0,
            "audio length must be a multiple of n_group={}; got {} samples.",
            self.n_group,
            length,
        )
        audio = _require(
            audio,
            frames * self.hop_length >= length,
            "mel too short for the audio: {} frames x hop {} = {} samples < {} audio samples.",
            frames,
            self.hop_length,
            frames * self.hop_length,
            length,
        )
        audio = _require(
            audio,
            batch == mel_batch,
            "audio and mel batch sizes differ: {} vs {}.",
            batch,
            mel_batch,
        )
        return audio, mel

    def _check_arrays(self, x, y=None, sample_weight=None, needs_audio=False) -> None:
        """Runs the input checks on arrays given to `fit`/`evaluate`/`predict`, eagerly.

        Only NumPy arrays and backend tensors are checked (their shapes and dtypes, nothing is
        copied); datasets, generators and `PyDataset`s are left to the checks in the traced
        step.
        """
        if not _is_array(x):
            return
        if needs_audio and y is None:
            raise ValueError("WaveGlow.fit and evaluate take (mel, audio) pairs; got no audio.")
        if not _is_array(y):
            self._check_mel(x)
            return
        self._check_audio(y, x)
        if _is_array(sample_weight):
            self._per_example_weight(sample_weight, y)

    def _check_fit_arrays(self, method: str, x, y, args: tuple, kwargs: dict) -> None:
        """`_check_arrays` on what `keras.Model.<method>(x, y, *args, **kwargs)` trains or
        scores on: `x`, `y`, `sample_weight` and (`fit`) `validation_data`, each given by
        keyword or by position."""
        named = _model_arguments(method, x, y, args, kwargs)
        self._check_arrays(x, y, named.get("sample_weight"), needs_audio=True)
        validation = named.get("validation_data")
        if isinstance(validation, list | tuple) and len(validation) in (2, 3):
            self._check_arrays(*validation, needs_audio=True)

    # ----------------------------------------------------------------------------------------
    # Conditioning
    # ----------------------------------------------------------------------------------------

    def upsample_mel(self, mel):
        """Transposed-conv upsampling: (B, F, n_mel) -> (B, (F + 3) * hop, n_mel); with
        frame-rate conditioning the mel itself (each WN upsamples its conditioning)."""
        if self.upsample is None:
            return ops.cast(mel, self.compute_dtype)
        return self.upsample(ops.cast(mel, self.compute_dtype))

    def _group_condition(self, upsampled, length):
        """Crops the upsampled mel to `length` samples and squeezes it into groups.

        The grouped channel index is `g * n_mel + m` (group position major); NVIDIA's is
        `m * n_group + g`, which `keras_waveglow.convert` accounts for when importing. A
        frame-rate conditioning passes through: each WN crops its upsampled conditioning.
        """
        if self.upsample is None:
            return upsampled
        cond = upsampled[:, :length]
        return ops.reshape(cond, (ops.shape(cond)[0], -1, self.n_group * self.n_mel_channels))

    # ----------------------------------------------------------------------------------------
    # Forward (audio -> z) and inverse (z -> audio), side by side
    # ----------------------------------------------------------------------------------------

    def forward(self, audio, mel):
        """Maps audio to latent noise.

        Args:
            audio: (B, T) float tensor, T a multiple of `n_group` and at most F * hop_length.
            mel: (B, F, n_mel) tensor.

        Returns:
            `(z, log_det)`: z of shape (B, T // n_group, n_group) with the early outputs first
            along the last axis (NVIDIA's order), and the float32 total log|det Jacobian| of
            audio -> z per example, shape (B,).

        Raises:
            TypeError: integer audio (scale PCM to [-1, 1] first).
            ValueError: shapes that do not fit: ranks, mel channels, a length not a multiple
                of `n_group`, a mel too short for the audio, batch sizes that differ.
            tf.errors.InvalidArgumentError: the same shape checks at run time, in a
                TensorFlow function traced with dimensions unknown at trace time.
        """
        audio, mel = self._check_audio(audio, mel)
        return self._forward_from_upsampled(audio, self.upsample_mel(mel))

    def _forward_from_upsampled(self, audio, upsampled):
        length = audio.shape[1] if audio.shape[1] is not None else ops.shape(audio)[1]
        cond = self._group_condition(upsampled, length)
        x = ops.reshape(
            ops.cast(audio, self.compute_dtype), (ops.shape(audio)[0], -1, self.n_group)
        )
        steps = ops.cast(ops.shape(x)[1], _LOG_DET_DTYPE)
        log_det = ops.zeros((ops.shape(x)[0],), _LOG_DET_DTYPE)
        early = []
        for k in range(self.n_flows):
            if self._emits_early(k):
                early.append(x[..., : self.n_early_size])
                x = x[..., self.n_early_size :]
            if self.use_actnorm:
                x, step_log_det = self.actnorms[k](x)
                log_det = log_det + steps * step_log_det
            x, step_log_det = self.convinvs[k](x)
            log_det = log_det + steps * step_log_det
            x, coupling_log_det = self.couplings[k](x, cond)
            log_det = log_det + coupling_log_det
        z = ops.concatenate([*early, x], axis=-1)
        return z, log_det

    def _latent_length(self, z, mel):
        """Checks a given z against the mel; returns `(z, length)`: z to compute with and the
        audio length (samples) it stands for. On TensorFlow, where a dimension is unknown at
        trace time, the checks run with the graph (a z too long for the mel was vocoded, a
        correct z of unknown channels refused)."""
        layout = f"(batch, samples // n_group, {self.n_group})"
        try:
            rank = len(z.shape)
        except ValueError:  # a TensorShape of unknown rank
            raise self._unknown_rank("z", f"rank 3 {layout}") from None
        if rank != 3:
            raise ValueError(f"z must have shape {layout}; got {tuple(z.shape)}.")
        shape = tuple(_dim(z, i) for i in range(3))
        batch, steps = shape[:2]
        mel_batch, frames = _dim(mel, 0), _dim(mel, 1)
        z = _require(
            z, shape[2] == self.n_group, "z must have shape " + layout + "; got {}.", shape
        )
        z = _require(
            z,
            steps * self.n_group <= frames * self.hop_length,
            "z too long for the mel: {} steps x n_group {} = {} samples > {} frames x hop {} = "
            "{} samples.",
            steps,
            self.n_group,
            steps * self.n_group,
            frames,
            self.hop_length,
            frames * self.hop_length,
        )
        z = _require(
            z, batch == mel_batch, "z and mel batch sizes differ: {} vs {}.", batch, mel_batch
        )
        return z, steps * self.n_group

    def inverse(self, mel, sigma: float = 0.6, seed=None, z=None):
        """Maps latent noise back to audio: vocoding.

        Args:
            mel: (B, F, n_mel) tensor (a nested list is taken as an array). NVIDIA's
                channels-first (B, n_mel, F) layout is refused by its shape, except for a mel
                of exactly n_mel frames, which cannot be told apart: transpose such mels
                first.
            sigma: float >= 0 (finite), standard deviation of the sampled z, or a NumPy
                array of one per example, shape (B,) or (B, 1, 1); ignored when `z` is given.
                A backend tensor is shaped the same way, its values not checked (it may be
                traced). Default 0.6.
            seed: int, `keras.random.SeedGenerator` or None (the model's own generator).
            z: optional (B, T // n_group, n_group) latent with T <= F * hop_length, e.g. what
                `forward` returns for T audio samples; sampled with T = F * hop_length when None.

        Returns:
            (B, T) float32 audio.

        Raises:
            ValueError: a mel not of shape (B, F, n_mel); a `sigma` (number or NumPy array)
                with a negative, NaN or infinite value, or an array not of one value per
                example; a z of the wrong shape or longer than F * hop_length samples.
            TypeError: a `sigma` that is not a real number or array of them (None, a str, a
                bool, a complex number).
        """
        sigma = _sigma_tensor(sigma) if ops.is_tensor(sigma) else _check_sigma(sigma)
        mel = self._check_mel(mel)
        upsampled = self.upsample_mel(mel)
        # A given z sets the length and the conditioning is cropped to it, as in `forward`;
        # otherwise F * hop (the transposed conv's tail, kernel - stride, matches no audio).
        if z is None:
            length = ops.shape(mel)[1] * self.hop_length
        else:
            z = _as_array(z, "z", f"(batch, samples // n_group, {self.n_group})")
            z, length = self._latent_length(z, mel)
        # A frame-rate conditioning passes through whole: each WN crops it to z's length.
        cond = self._group_condition(upsampled, length)
        steps = length // self.n_group
        if z is None:
            seed = self.seed_generator if seed is None else seed
            shape = (ops.shape(cond)[0], steps, self.n_group)
            batch = shape[0]
            rows = tuple(getattr(sigma, "shape", ()))[:1]  # (B, 1, 1): an array or a tensor
            if rows and isinstance(rows[0], int) and isinstance(batch, int):
                if rows[0] not in (1, batch):
                    raise ValueError(
                        f"sigma has {rows[0]} values (one per example) for a batch of {batch} mels."
                    )
            z = random.normal(shape, seed=seed) * sigma
        z = ops.cast(z, self.compute_dtype)
        n_early = sum(self.n_early_size for k in range(self.n_flows) if self._emits_early(k))
        early, x = z[..., :n_early], z[..., n_early:]
        for k in reversed(range(self.n_flows)):
            x = self.couplings[k].inverse(x, cond)
            x = self.convinvs[k].inverse(x)
            if self.use_actnorm:
                x = self.actnorms[k].inverse(x)
            if self._emits_early(k):
                x = ops.concatenate([early[..., -self.n_early_size :], x], axis=-1)
                early = early[..., : -self.n_early_size]
        return ops.cast(ops.reshape(x, (ops.shape(x)[0], -1)), "float32")

    # ----------------------------------------------------------------------------------------
    # Keras integration: model(mel) vocodes; fit() on (mel, audio) trains the likelihood
    # ----------------------------------------------------------------------------------------

    def call(self, mel, training=None):
        """`model(mel)`: `inverse(mel)` with the model's own noise (the conditioning alone while
        training). Keras' `evaluate` (and validation in `fit`) calls it too and throws the
        audio away (the loss is `compute_loss`'s): it still draws noise, so `inverse(mel)`
        without a seed gives other audio after an `evaluate`; pass `seed=` where it matters."""
        mel = self._check_mel(mel)
        if training:
            return self.upsample_mel(mel)
        return self.inverse(mel)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The training loss of `fit`/`evaluate`: WaveGlow's NLL per audio sample.

        Without weights, `waveglow_nll` over the batch. With `sample_weight`, Keras' default
        reduction ("sum_over_batch_size") of the per-example NLL: `sum_b w_b * nll_b / B`,
        where `nll_b` is example b's `waveglow_nll`. All-ones weights give the unweighted
        loss; zero-weighted examples add nothing to the loss or its gradient.

        Args:
            x: (B, F, n_mel) mel.
            y: (B, T) audio.
            y_pred: the upsampled conditioning of `call(mel, training=True)`, or None.
            sample_weight: None, or one weight per example, shape (B,) or (B, 1).
            training: bool, whether `y_pred` may be reused (it is recomputed otherwise).

        Returns:
            A float32 scalar.

        Raises:
            ValueError: no audio targets, mismatched shapes, or `sample_weight` not of shape
                (B,) or (B, 1).
            TypeError: integer audio.
            tf.errors.InvalidArgumentError: mismatched shapes found at run time (TensorFlow,
                dimensions unknown at trace time, e.g. after steps with other shapes).
        """
        from keras_waveglow.losses import waveglow_nll

        if y is None:
            raise ValueError("WaveGlow.fit and evaluate take (mel, audio) pairs; got no audio.")
        y, x = self._check_audio(y, x)
        weight = None if sample_weight is None else self._per_example_weight(sample_weight, y)
        if not training or y_pred is None or len(y_pred.shape) != 3:
            y_pred = self.upsample_mel(x)
        z, log_det = self._forward_from_upsampled(y, y_pred)
        if weight is None:
            loss = waveglow_nll(z, log_det, sigma=self.train_sigma)
        else:
            z = ops.cast(z, "float32")
            samples = ops.cast(ops.shape(z)[1] * ops.shape(z)[2], "float32")
            squares = ops.sum(ops.square(z), axis=(1, 2)) / (2.0 * self.train_sigma**2)
            per_example = (squares - ops.cast(log_det, "float32")) / samples
            batch = ops.cast(ops.shape(z)[0], "float32")
            loss = ops.sum(weight * per_example) / batch
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, with array inputs checked before Keras traces the step.

        NumPy arrays and backend tensors (`x`, `y`, `sample_weight` and `validation_data=(mel,
        audio[, weights])`, by keyword or by position) get `compute_loss`'s input checks
        here, eagerly, so that a refusal comes before any work. Datasets and generators are
        checked in the step: on JAX, where Keras 3.15.1's trainer takes every variable's
        value out before it traces the step and an error there left the model without
        weights in memory, the values are put back (`_KeepWeightsOnJax`).

        Raises:
            ValueError: arrays refused by `compute_loss`'s checks (no audio, shapes that do
                not fit, sample weights not one per example).
            TypeError: integer audio.
        """
        self._check_fit_arrays("fit", x, y, args, kwargs)
        args, kwargs = _keeping_weights("fit", (x, y), args, kwargs)
        from keras_waveglow.training import _no_empty_average  # training imports this module

        with _restoring_jax_state(self), _no_empty_average(self):
            return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with array inputs checked first (see `fit` for why).

        Raises:
            ValueError: arrays refused by `compute_loss`'s checks.
            TypeError: integer audio.
        """
        self._check_fit_arrays("evaluate", x, y, args, kwargs)
        args, kwargs = _keeping_weights("evaluate", (x, y), args, kwargs)
        with _restoring_jax_state(self):
            return super().evaluate(x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, with an array mel checked first (see `fit` for why).

        Raises:
            ValueError: a mel array not of shape (B, F, n_mel).
        """
        self._check_arrays(x)
        args, kwargs = _keeping_weights("predict", (x,), args, kwargs)
        with _restoring_jax_state(self):
            return super().predict(x, *args, **kwargs)

    @staticmethod
    def _per_example_weight(sample_weight, audio):
        """`sample_weight` as a float32 (B,) tensor; refuses weights that are not per example."""
        weight = ops.convert_to_tensor(sample_weight)
        shape = tuple(weight.shape)
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] not in (1, None)):
            raise ValueError(
                "sample_weight must hold one weight per example, shape (batch,) or (batch, 1); "
                f"got shape {shape} for audio of shape {tuple(audio.shape)} (the flow's "
                "likelihood has no per-sample weighting)."
            )
        if shape[0] is not None and audio.shape[0] is not None and shape[0] != audio.shape[0]:
            raise ValueError(
                f"sample_weight has {shape[0]} weights for a batch of {audio.shape[0]} examples."
            )
        return ops.reshape(ops.cast(weight, "float32"), (-1,))

    def get_config(self):
        return {
            **super().get_config(),
            "n_mel_channels": self.n_mel_channels,
            "n_flows": self.n_flows,
            "n_group": self.n_group,
            "n_early_every": self.n_early_every,
            "n_early_size": self.n_early_size,
            "wn_layers": self.wn_layers,
            "wn_channels": self.wn_channels,
            "wn_kernel_size": self.wn_kernel_size,
            "hop_length": self.hop_length,
            "use_actnorm": self.use_actnorm,
            "lu_decomposed": self.lu_decomposed,
            "weight_norm": self.weight_norm,
            "remat": self.remat,
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "win_length": self.win_length,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "train_sigma": self.train_sigma,
            "seed": self.seed,
            "mel_upsampling": self.mel_upsampling,
            "wn_separable": self.wn_separable,
            "wn_dilation_base": self.wn_dilation_base,
            "wn_skip_connections": self.wn_skip_connections,
            "wn_linear_path": self.wn_linear_path,
            "coupling_log_scale_bound": self.coupling_log_scale_bound,
        }


def fold_weight_norm(model: WaveGlow) -> WaveGlow:
    """A `weight_norm=False` twin of a weight-normalised model, for inference.

    Every `g * v / ||v||` (plain and depthwise-separable convs alike) becomes one plain kernel,
    computed once, so inference no longer renormalises on every call; all other weights are
    copied. The twin computes the same function up to float32 rounding.

    Args:
        model: a `WaveGlow`, with or without weight norm.

    Returns:
        A new `WaveGlow` with `weight_norm=False` and the folded weights.

    Example:
        >>> trained = WaveGlow.from_preset("tiny", weight_norm=True)
        >>> fast = fold_weight_norm(trained)
    """
    folded = WaveGlow.from_config({**model.get_config(), "weight_norm": False})
    pairs = [
        (source, target)
        for k in range(model.n_flows)
        for source, target in zip(
            model.couplings[k].wn.conv_layers(), folded.couplings[k].wn.conv_layers(), strict=True
        )
    ]
    for source, target in pairs:
        target.set_weights(source.folded_weights())
    others = [model.upsample] if model.upsample is not None else []
    others += [*model.actnorms, *model.convinvs]
    folded_others = [folded.upsample] if folded.upsample is not None else []
    folded_others += [*folded.actnorms, *folded.convinvs]
    for source, target in zip(others, folded_others, strict=True):
        target.set_weights(source.get_weights())
    return folded


def _weights_file_entries(handle) -> dict[str, tuple]:
    """Every array of an open h5 weights file (or group): its path -> its shape."""
    import h5py

    found = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            found[name] = tuple(item.shape)

    handle.visititems(visit)
    return found


def open_weights_file(path, source=None):
    """Opens a `.weights.h5` file for reading (`h5py.File`), with errors that name it.

    Args:
        path: the file.
        source: the name to show in errors (e.g. the file a temporary copy came from).
            Default: `path`.

    Returns:
        An open `h5py.File` (use it in a `with` block).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an HDF5 file, or one HDF5 cannot open (truncated by a cut copy or
            download, damaged).
    """
    import h5py

    shown = os.fspath(path if source is None else source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{shown}: no such .weights.h5 file.")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{shown}: not a .weights.h5 (HDF5) file.")
    try:
        return h5py.File(path, "r")
    except OSError as error:  # e.g. "truncated file: eof = 100000, ..., stored_eof = ..."
        raise ValueError(
            f"{shown}: an HDF5 file that cannot be read ({error}); truncated or damaged: copy "
            "or export it again."
        ) from error


def check_weights_file(model: keras.Model, path, source=None) -> None:
    """Checks that a `.weights.h5` file holds exactly as many arrays as `model`, of its shapes.

    Keras' `load_weights` skips entries of the file that the model lacks, so weights of a
    larger model (more flows or WN layers) would load into a smaller one as a truncated
    network. This compares the file's arrays with the model's variables (as many, and the same
    shapes, counted with multiplicity) before anything is loaded; `load_weights` itself then
    matches them by name and refuses a misplaced one. Nothing is written: the model's side is
    read off its variables (a check by saving the model would cost a write of its size).

    Args:
        model: a built Keras model, e.g. a `WaveGlow`.
        path: str or path-like, a `.weights.h5` file (Keras' layout, as `save_weights` writes;
            a compiled model's optimizer state in it is not counted).
        source: str or path-like or None, the file to name in errors when `path` was made
            from it (e.g. a generator's weights extracted from a training checkpoint); None
            names `path`.

    Raises:
        ValueError: the file is not HDF5, or its arrays differ from the model's in number or
            shapes: the message names the file, both counts, and the first shapes found in
            only one of them.

    Example:
        >>> model = WaveGlow.from_preset("tiny", load_weights=False)
        >>> check_weights_file(model, "tiny.weights.h5")
        >>> model.load_weights("tiny.weights.h5")
    """
    import collections

    source = path if source is None else source
    with open_weights_file(path, source) as handle:
        entries = _weights_file_entries(handle)
    # A compiled model's `save_weights` adds its optimizer's state under "optimizer/"; Keras'
    # `load_weights` reads it only into a model compiled with such an optimizer: not weights.
    found = collections.Counter(v for k, v in entries.items() if not k.startswith("optimizer/"))
    expected = collections.Counter(tuple(int(d) for d in w.shape) for w in model.weights)
    if found == expected:
        return

    def listed(counter) -> str:
        items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        return ", ".join(f"{shape} x{count}" for shape, count in items[:3])

    problems = [f"the file holds {sum(found.values())} arrays, the model {sum(expected.values())}"]
    if found - expected:
        problems.append(f"shapes only in the file: {listed(found - expected)}")
    if expected - found:
        problems.append(f"shapes only in the model: {listed(expected - found)}")
    raise ValueError(
        f"{os.fspath(source)}: its weights do not fit this {type(model).__name__} "
        f"(another configuration, e.g. other n_flows or wn_layers?): {'; '.join(problems)}."
    )
