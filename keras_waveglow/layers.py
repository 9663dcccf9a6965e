"""The WaveGlow flow's building blocks: the layers `flow.WaveGlow` is made of.

Each step of the flow is [`ActNorm`] -> `Invertible1x1Conv` -> `AffineCoupling`, whose
shift and log-scale come from a `WN` (WaveNet-like) network of `Conv1D` (or, for the
SqueezeWave presets, `SeparableConv1D`) layers, conditioned on the mel that `MelUpsampler`
brings to the audio's time steps. Each layer's `call` is its forward pass and its `inverse`
sits beside it; log-determinants are float32, also under mixed precision. Everything is
channels-last and written with `keras.ops` only, so it runs on TensorFlow and JAX alike.

Shapes carried in names: `B` batch, `T_g` grouped time steps, `F` mel frames.
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np
import scipy.linalg
from keras import initializers, layers, ops, saving

from keras_waveglow import _checks

_PACKAGE = "keras_waveglow"
_LOG_DET_DTYPE = "float32"
_CONV_IMPLEMENTATIONS = ("conv", "matmul")
_conv_implementation = "matmul"
_FRAME_UPSAMPLING = ("nearest", "linear")
_MEL_UPSAMPLING = ("learned", *_FRAME_UPSAMPLING)


def set_conv_implementation(name: str) -> None:
    """Chooses how dilated convolutions (kernel size > 1) are computed; same results either way.

    "matmul" (default) gathers the `kernel_size` dilated taps side by side and does one matmul
    with the kernel reshaped to `(kernel_size * channels_in, filters)`; the gathered taps are
    rematerialised for the gradient, so training keeps only the input. "conv" calls
    `keras.ops.conv` (cuDNN / XLA's convolution). On an H200 with JAX (nvidia_22k, bf16) the
    matmul form is 1.3x faster in inference and 1.7x in training with 17% less peak training
    memory (`benchmarks/suite.py`, README); on CPU the two are within noise. Takes effect for
    functions traced after the call.

    Args:
        name: "conv" or "matmul".

    Example:
        >>> from keras_waveglow.layers import set_conv_implementation
        >>> set_conv_implementation("matmul")
        >>> set_conv_implementation("conv")
    """
    global _conv_implementation
    if name not in _CONV_IMPLEMENTATIONS:
        raise ValueError(
            f"conv implementation must be one of {_CONV_IMPLEMENTATIONS}; got {name!r}."
        )
    _conv_implementation = name


def _dim(x, axis: int):
    """`x`'s size along `axis`: an int where known at trace time, else a scalar tensor (only
    TensorFlow traces with unknown dimensions)."""
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def _require(x, ok, message: str, *values):
    """Returns `x` once `ok`, a check of input shapes, holds; refuses it with `message`.

    `ok` is a Python bool where every dimension it reads is known at trace time, always so
    on JAX: False raises `ValueError(message.format(*values))`. On TensorFlow a dimension
    can be unknown at trace time (Keras traces `fit`/`evaluate`/`predict` with relaxed
    shapes after calls with other shapes; tf.data with `None` dimensions), and `ok` is then
    a boolean tensor: the check becomes a run-time assertion with the same message, raising
    `tf.errors.InvalidArgumentError`, and the returned `x` waits for it, so no computation on
    the bad input fails first with an error of its own. XLA (`jit_compile`) drops
    assertions: there the check does not run.
    """
    if isinstance(ok, bool | np.bool_):
        if not ok:
            raise ValueError(message.format(*values))
        return x
    if keras.backend.backend() != "tensorflow":
        return x  # not reached: only TensorFlow traces with unknown dimensions
    import tensorflow as tf

    check = tf.debugging.Assert(ok, [tf.strings.format(message, values)])
    with tf.control_dependencies([check]):
        return tf.identity(x)


def _dilated_taps_matmul(x, kernel, dilation):
    """'same'-padded dilated conv as one matmul over the taps gathered side by side.

    The gathered taps (`kernel_size` times the input) are rematerialised for the gradient
    rather than kept, so training holds only `x`, as the convolution would.
    """

    def taps_matmul(x, kernel):
        taps = _gathered_taps(x, kernel.shape[0], dilation)
        return ops.matmul(taps, ops.reshape(kernel, (-1, kernel.shape[-1])))

    return keras.remat(taps_matmul)(x, kernel)


def _gathered_taps(x, taps, dilation):
    """(B, T, C) -> (B, T, taps * C): x shifted by (j - taps // 2) * dilation for each tap j."""
    pad = dilation * (taps // 2)
    length = ops.shape(x)[1]
    padded = ops.pad(x, [[0, 0], [pad, pad], [0, 0]])
    shifted = [padded[:, j * dilation : j * dilation + length] for j in range(taps)]
    return ops.concatenate(shifted, axis=-1)


def _depthwise_taps(x, kernel, dilation):
    """'same'-padded dilated depthwise conv: sum over taps j of x shifted by (j - taps // 2) * d
    times `kernel[j]` (one weight per channel), so it costs `taps` multiply-adds per value."""
    taps = kernel.shape[0]
    pad = dilation * (taps // 2)
    length = ops.shape(x)[1]
    padded = ops.pad(x, [[0, 0], [pad, pad], [0, 0]])
    total = None
    for j in range(taps):
        term = padded[:, j * dilation : j * dilation + length] * kernel[j]
        total = term if total is None else total + term
    return total


def upsample_frames(x, factor: int, mode: str):
    """(B, F, C) -> (B, F * factor, C): frame-rate features at `factor` times the rate.

    "nearest" repeats each frame; "linear" places output `p` of frame `f` at frame position
    `f + (p + 0.5) / factor - 0.5` (half-step alignment, as PyTorch's `align_corners=False`)
    and interpolates between the two nearest frames, repeating the edge frames at the ends.
    Both are affine maps whose weights sum to 1, so they commute with a 1x1 convolution: `WN`
    runs its conditioning conv at the frame rate and upsamples the result.

    Args:
        x: (B, F, C) tensor.
        factor: int >= 1.
        mode: "nearest" or "linear".

    Returns:
        (B, F * factor, C) tensor.

    Example:
        >>> tuple(upsample_frames(keras.ops.ones((1, 3, 2)), 2, "linear").shape)
        (1, 6, 2)
    """
    if mode not in _FRAME_UPSAMPLING:
        raise ValueError(f"upsampling mode must be one of {_FRAME_UPSAMPLING}; got {mode!r}.")
    if factor == 1:
        return x
    if mode == "nearest":
        return ops.repeat(x, factor, axis=1)
    previous = ops.concatenate([x[:, :1], x[:, :-1]], axis=1)
    following = ops.concatenate([x[:, 1:], x[:, -1:]], axis=1)
    phases = []
    for p in range(factor):
        offset = (p + 0.5) / factor - 0.5
        neighbour = previous if offset < 0 else following
        phases.append(x * (1.0 - abs(offset)) + neighbour * abs(offset))
    return ops.reshape(ops.stack(phases, axis=2), (ops.shape(x)[0], -1, x.shape[-1]))


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


@saving.register_keras_serializable(package=_PACKAGE)
class Conv1D(layers.Layer):
    """A 1-D convolution with "same" padding, dilation and optional weight normalisation.

    Kernel size 1 runs as a matmul. With `weight_norm=True` the kernel is `g * v / ||v||`, the
    norm taken per output channel (as `torch.nn.utils.weight_norm` does for Conv1d), which lets
    NVIDIA checkpoints that still carry `weight_g`/`weight_v` load exactly.

    Args:
        filters: int >= 1, output channels.
        kernel_size: int >= 1, taps. Default 1.
        dilation_rate: int >= 1, dilation. Default 1.
        weight_norm: bool, weight-normalised kernel. Default False.
        kernel_initializer: initializer for the kernel (or `v`). Default "glorot_uniform".
        bias_initializer: initializer for the bias. Default "zeros".

    Call arguments:
        x: (B, T, channels_in) tensor.

    Returns:
        (B, T, filters) tensor.

    Raises:
        TypeError: `filters`, `kernel_size` or `dilation_rate` not an integer.
        ValueError: `filters`, `kernel_size` or `dilation_rate` < 1 or not whole (the message
            names it).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 1,
        dilation_rate: int = 1,
        weight_norm: bool = False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _checks.count("Conv1D filters", filters, 1)
        self.kernel_size = _checks.count("Conv1D kernel_size", kernel_size, 1)
        self.dilation_rate = _checks.count("Conv1D dilation_rate", dilation_rate, 1)
        self.weight_norm = _checks.flag("weight_norm", weight_norm)  # bool("no") is True
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        shape = (self.kernel_size, int(input_shape[-1]), self.filters)
        if self.weight_norm:
            self.kernel_v = self.add_weight(shape, self.kernel_initializer, name="kernel_v")
            self.kernel_g = self.add_weight((self.filters,), "ones", name="kernel_g")
        else:
            self.kernel = self.add_weight(shape, self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias")
        if self.weight_norm:
            # g = ||v|| makes the effective kernel start equal to v's initial value.
            norm = ops.sqrt(ops.sum(ops.square(self.kernel_v), axis=(0, 1)))
            self.kernel_g.assign(norm)

    def effective_kernel(self):
        """The kernel actually applied, (kernel_size, channels_in, filters)."""
        if not self.weight_norm:
            return self.kernel
        norm = ops.sqrt(ops.sum(ops.square(self.kernel_v), axis=(0, 1), keepdims=True))
        return self.kernel_v * (self.kernel_g / norm)

    def folded_weights(self) -> list:
        """This layer's weights in the layout of a `weight_norm=False` twin, as NumPy arrays."""
        return [ops.convert_to_numpy(w) for w in (self.effective_kernel(), self.bias)]

    def call(self, x):
        kernel = ops.cast(self.effective_kernel(), x.dtype)
        if self.kernel_size == 1:
            y = ops.matmul(x, kernel[0])
        elif _conv_implementation == "matmul" and self.kernel_size % 2 == 1:
            y = _dilated_taps_matmul(x, kernel, self.dilation_rate)
        else:
            y = ops.conv(x, kernel, strides=1, padding="same", dilation_rate=self.dilation_rate)
        return y + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "weight_norm": self.weight_norm,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


@saving.register_keras_serializable(package=_PACKAGE)
class SeparableConv1D(layers.Layer):
    """A depthwise-separable 1-D convolution: dilated depthwise taps, then a 1x1 pointwise conv.

    Costs `kernel_size * channels_in + channels_in * filters` multiply-adds per time step
    instead of `kernel_size * channels_in * filters` (SqueezeWave's WN). The depthwise conv
    has no bias of its own: it would only shift the pointwise bias. With `weight_norm=True`
    both kernels are `g * v / ||v||`, the depthwise norm taken over the taps of each channel
    and the pointwise norm per output channel; `fold_weight_norm` turns a trained model into
    the plain kernels for inference.

    Args:
        filters: int >= 1, output channels.
        kernel_size: int >= 1, odd number of depthwise taps. Default 3.
        dilation_rate: int >= 1, dilation of the depthwise taps. Default 1.
        weight_norm: bool, weight-normalised kernels. Default False.
        kernel_initializer: initializer for both kernels (or their `v`). Default
            "glorot_uniform".
        bias_initializer: initializer for the bias. Default "zeros".

    Call arguments:
        x: (B, T, channels_in) tensor.

    Returns:
        (B, T, filters) tensor.

    Raises:
        TypeError: `filters`, `kernel_size` or `dilation_rate` not an integer.
        ValueError: `filters`, `kernel_size` or `dilation_rate` < 1 or not whole, or an even
            `kernel_size` (the message names it).

    Example:
        >>> layer = SeparableConv1D(8, kernel_size=3, dilation_rate=2)
        >>> tuple(layer(keras.ops.ones((1, 10, 4))).shape)
        (1, 10, 8)
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        dilation_rate: int = 1,
        weight_norm: bool = False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _checks.count("SeparableConv1D filters", filters, 1)
        self.kernel_size = _checks.count("SeparableConv1D kernel_size", kernel_size, 1)
        self.dilation_rate = _checks.count("SeparableConv1D dilation_rate", dilation_rate, 1)
        if self.kernel_size % 2 != 1:
            raise ValueError(f"SeparableConv1D kernel_size must be odd; got {kernel_size}.")
        self.weight_norm = _checks.flag("weight_norm", weight_norm)  # bool("no") is True
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _add_kernel(self, name, shape, norm_axis):
        if not self.weight_norm:
            setattr(self, name, self.add_weight(shape, self.kernel_initializer, name=name))
            return
        v = self.add_weight(shape, self.kernel_initializer, name=f"{name}_v")
        g = self.add_weight((shape[-1],), "ones", name=f"{name}_g")
        g.assign(ops.sqrt(ops.sum(ops.square(v), axis=norm_axis)))  # starts equal to v
        setattr(self, f"{name}_v", v)
        setattr(self, f"{name}_g", g)

    def build(self, input_shape):
        channels_in = int(input_shape[-1])
        self._add_kernel("depthwise_kernel", (self.kernel_size, channels_in), 0)
        self._add_kernel("pointwise_kernel", (channels_in, self.filters), 0)
        self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias")

    def effective_kernels(self):
        """The kernels actually applied: depthwise (kernel_size, in), pointwise (in, filters)."""
        if not self.weight_norm:
            return self.depthwise_kernel, self.pointwise_kernel
        kernels = []
        for name in ("depthwise_kernel", "pointwise_kernel"):
            v, g = getattr(self, f"{name}_v"), getattr(self, f"{name}_g")
            kernels.append(v * (g / ops.sqrt(ops.sum(ops.square(v), axis=0, keepdims=True))))
        return tuple(kernels)

    def folded_weights(self) -> list:
        """This layer's weights in the layout of a `weight_norm=False` twin, as NumPy arrays."""
        return [ops.convert_to_numpy(w) for w in (*self.effective_kernels(), self.bias)]

    def call(self, x):
        depthwise, pointwise = (ops.cast(k, x.dtype) for k in self.effective_kernels())
        y = _depthwise_taps(x, depthwise, self.dilation_rate)
        return ops.matmul(y, pointwise) + ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "weight_norm": self.weight_norm,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


@saving.register_keras_serializable(package=_PACKAGE)
class MelUpsampler(layers.Layer):
    """Upsamples a mel to one vector per audio sample: a strided transposed convolution.

    Frame `f` adds `mel[f] @ kernel[k]` at sample `f * hop_length + k` for `k < kernel_size`
    (`kernel_size = 4 * hop_length` in WaveGlow), so (B, F, n_mel) becomes
    (B, (F - 1) * hop + kernel_size, n_mel). Computed as one matmul and an overlap-add of
    `kernel_size / hop_length` shifted copies, not as a convolution over a zero-stuffed input,
    which XLA ran 7-13x slower on CPU (`benchmarks/bench_upsample.py`). Weights have
    `keras.layers.Conv1DTranspose`'s layout: `kernel` (kernel_size, filters, channels_in) and
    `bias` (filters,).

    Args:
        filters: int >= 1, output channels.
        hop_length: int >= 1, stride in samples.
        kernel_size: int >= 1 or None, a multiple of hop_length. Default None
            (4 * hop_length).

    Call arguments:
        mel: (B, F, channels_in) tensor.

    Returns:
        (B, (F - 1) * hop_length + kernel_size, filters) tensor.

    Raises:
        TypeError: `filters`, `hop_length` or `kernel_size` not an integer.
        ValueError: one of them < 1 or not whole, or `kernel_size` not a multiple of
            `hop_length` (the message names it).
    """

    def __init__(self, filters: int, hop_length: int, kernel_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = _checks.count("MelUpsampler filters", filters, 1)
        self.hop_length = _checks.count("MelUpsampler hop_length", hop_length, 1)
        if kernel_size is None:
            self.kernel_size = 4 * self.hop_length
        else:
            self.kernel_size = _checks.count("MelUpsampler kernel_size", kernel_size, 1)
        if self.kernel_size % self.hop_length:
            raise ValueError(
                f"kernel_size ({self.kernel_size}) must be a multiple of hop_length "
                f"({self.hop_length})."
            )
        self.n_overlap = self.kernel_size // self.hop_length

    def build(self, input_shape):
        channels_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            (self.kernel_size, self.filters, channels_in), "glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight((self.filters,), "zeros", name="bias")

    def call(self, mel):
        batch, frames = ops.shape(mel)[0], ops.shape(mel)[1]
        kernel = ops.cast(self.kernel, mel.dtype)
        # (in, kernel_size * filters): one matmul gives every frame's whole contribution.
        weight = ops.reshape(ops.transpose(kernel, (2, 0, 1)), (kernel.shape[2], -1))
        pieces = ops.reshape(
            ops.matmul(mel, weight), (batch, frames, self.n_overlap, self.hop_length * self.filters)
        )
        total = None
        for j in range(self.n_overlap):  # piece j lands j frames later
            shifted = ops.pad(pieces[:, :, j], [[0, 0], [j, self.n_overlap - 1 - j], [0, 0]])
            total = shifted if total is None else total + shifted
        out = ops.reshape(total, (batch, -1, self.filters))
        return out + ops.cast(self.bias, out.dtype)

    def compute_output_shape(self, input_shape):
        frames = input_shape[1]
        length = None if frames is None else (frames - 1) * self.hop_length + self.kernel_size
        return (input_shape[0], length, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "hop_length": self.hop_length,
            "kernel_size": self.kernel_size,
        }


def _check_input(layer, what: str, shape, channels: int | None = None) -> None:
    """Refuses a tensor that is not (batch, time, channels), or has other channels than the
    layer was built for, with its name and shape (the backends' own errors name neither)."""
    shape = tuple(shape)
    if len(shape) != 3:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r}: {what} must be (batch, time, channels); "
            f"got shape {shape}."
        )
    if channels is not None and shape[-1] is not None and int(shape[-1]) != channels:
        raise ValueError(
            f"{type(layer).__name__} {layer.name!r}: {what} must have {channels} channels (as "
            f"it was built); got shape {shape}."
        )


@saving.register_keras_serializable(package=_PACKAGE)
class ActNorm(layers.Layer):
    """Glow's activation normalisation: a per-channel affine map with data-dependent init.

    `y = (x + bias) * exp(log_scale)`. The first forward call with samples sets the initial
    bias and log-scale so that that batch leaves with zero mean and unit variance per channel:
    it should be representative audio (a silent first batch gives a scale of 1 / epsilon for
    good; a `model.evaluate` before `fit` counts, so the held-out data sets it up). The
    initial values live in non-trainable variables (updated statelessly under JAX jit, too)
    and the trainable parameters are offsets from them starting at zero; all are float32
    under a mixed dtype policy too. Under a TensorFlow `tf.distribute` strategy each
    replica would set itself up from its own part of the batch, and the replicas would differ:
    call `forward` once on a representative batch before `fit` there (no preset uses ActNorm).

    Args:
        epsilon: float > 0, added to the first batch's standard deviation before its log.
            Default 1e-6.

    Call arguments:
        x: (B, T_g, channels) tensor.

    Returns:
        `(y, log_det_per_step)`: y like x, and the float32 scalar `sum(log|scale|)`; the
        log-determinant for a sequence is `T_g` times that.

    Raises:
        TypeError: `epsilon` not a number.
        ValueError: `epsilon` not finite and > 0.
    """

    def __init__(self, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = _checks.finite("ActNorm epsilon", epsilon, positive=True)

    def build(self, input_shape):
        _check_input(self, "x", input_shape)
        channels = (int(input_shape[-1]),)
        # autocast=False: under a mixed policy the parameters stay float32 inside `call` (the
        # log-determinant is theirs, `inverse` reads them so too), and the first batch's
        # statistics are not written back rounded to the compute dtype on every later call.
        weight = functools.partial(self.add_weight, autocast=False)
        self.bias = weight(channels, "zeros", name="bias")
        self.log_scale = weight(channels, "zeros", name="log_scale")
        self.initial_bias = weight(channels, "zeros", name="initial_bias", trainable=False)
        self.initial_log_scale = weight(
            channels, "zeros", name="initial_log_scale", trainable=False
        )
        self.initialized = weight((), "zeros", name="initialized", trainable=False)

    def _parameters(self):
        bias = self.initial_bias + self.bias
        log_scale = self.initial_log_scale + self.log_scale
        return bias, log_scale

    def call(self, x):
        _check_input(self, "x", x.shape, self.bias.shape[0])
        x32 = ops.cast(x, "float32")
        mean = ops.mean(x32, axis=(0, 1))
        std = ops.std(x32, axis=(0, 1))
        done = self.initialized.value > 0.5
        # An empty first batch (no samples) has no statistics: the set-up waits for data.
        has_data = ops.shape(x)[0] * ops.shape(x)[1] > 0
        start = ops.logical_and(ops.logical_not(done), has_data)
        self.initial_bias.assign(
            ops.where(start, ops.stop_gradient(-mean), self.initial_bias.value)
        )
        self.initial_log_scale.assign(
            ops.where(
                start,
                ops.stop_gradient(-ops.log(std + self.epsilon)),
                self.initial_log_scale.value,
            )
        )
        self.initialized.assign(ops.where(ops.logical_or(done, has_data), 1.0, 0.0))
        bias, log_scale = self._parameters()
        y = (x + ops.cast(bias, x.dtype)) * ops.cast(ops.exp(log_scale), x.dtype)
        return y, ops.sum(ops.cast(log_scale, _LOG_DET_DTYPE))

    def inverse(self, y):
        _check_input(self, "y", y.shape, self.bias.shape[0])
        bias, log_scale = self._parameters()
        return y * ops.cast(ops.exp(-log_scale), y.dtype) - ops.cast(bias, y.dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _random_rotation(channels: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix with determinant +1."""
    q, _ = np.linalg.qr(rng.standard_normal((channels, channels)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q.astype("float32")


@saving.register_keras_serializable(package=_PACKAGE)
class Invertible1x1Conv(layers.Layer):
    """Mixes the channels of each group with an invertible matrix `W` (out, in).

    `y_t = W x_t` at every time step, so the log-determinant per step is `log|det W|`, computed
    in float32 from W's QR factors (finite for either sign of det; XLA compiles it).
    Initialised as a random rotation (det +1), as in WaveGlow. The inverse is recomputed from
    the current weights on every call, never cached, so it cannot go stale after an update.

    With `lu_decomposed=True`, `W = P (L + I) (U + diag(sign * exp(log_s)))` (Glow): the
    log-determinant is `sum(log_s)` and the inverse takes two triangular solves. The factors
    are read without autocasting, so under a mixed dtype policy `W` and the log-determinant
    are still computed in float32.

    Args:
        lu_decomposed: bool, use the LU parametrisation. Default False.
        seed: int or None, seed for the random rotation. Default None.

    Call arguments:
        x: (B, T_g, channels) tensor.

    Returns:
        `(y, log_det_per_step)`: y like x, and a float32 scalar.
    """

    def __init__(self, lu_decomposed: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.lu_decomposed = _checks.flag("lu_decomposed", lu_decomposed)
        self.seed = None if seed is None else _checks.count("seed", seed, 0)  # at build, NumPy's

    def build(self, input_shape):
        _check_input(self, "x", input_shape)
        channels = self.channels = int(input_shape[-1])
        seed = self.seed
        if seed is None:  # draw from NumPy's global state, which keras.utils.set_random_seed sets
            seed = np.random.randint(2**31)  # noqa: NPY002
        rotation = _random_rotation(channels, np.random.default_rng(seed))
        const = initializers.Constant
        if not self.lu_decomposed:
            # autocast=False: W and its log-determinant stay float32 under a mixed policy, in
            # `call` as in `inverse` (the product with x is taken in x's dtype).
            self.weight = self.add_weight(
                (channels, channels), const(rotation), name="weight", autocast=False
            )
            return
        permutation, lower, upper = scipy.linalg.lu(rotation)
        diag = np.diag(upper)
        # autocast=False: under a mixed policy the factors stay float32 inside `call` too, so
        # W and its log-determinant are computed in float32 (autocast would round them to the
        # compute dtype, and mix them with the float32 masks below).
        factor = functools.partial(self.add_weight, autocast=False)
        self.permutation = factor(
            (channels, channels), const(permutation), name="permutation", trainable=False
        )
        self.sign_s = factor((channels,), const(np.sign(diag)), name="sign_s", trainable=False)
        self.lower = factor((channels, channels), const(np.tril(lower, -1)), name="lower")
        self.upper = factor((channels, channels), const(np.triu(upper, 1)), name="upper")
        self.log_s = factor((channels,), const(np.log(np.abs(diag))), name="log_s")
        self._lower_mask = np.tril(np.ones((channels, channels), "float32"), -1)
        self._eye = np.eye(channels, dtype="float32")

    def _lu_factors(self):
        """The float32 factors `L + I` and `U + diag(sign * exp(log_s))`, whatever the policy."""
        lower, upper, sign_s, log_s = (
            ops.cast(v, "float32") for v in (self.lower, self.upper, self.sign_s, self.log_s)
        )
        lower = lower * self._lower_mask + self._eye
        upper = upper * self._lower_mask.T + ops.diag(sign_s * ops.exp(log_s))
        return lower, upper

    def matrix(self):
        """The float32 matrix `W` (out, in)."""
        if not self.lu_decomposed:
            return ops.cast(self.weight, "float32")
        lower, upper = self._lu_factors()
        return ops.matmul(ops.cast(self.permutation, "float32"), ops.matmul(lower, upper))

    def inverse_matrix(self):
        """`W^-1` in float32, from the current weights."""
        if not self.lu_decomposed:
            return ops.inv(self.matrix())
        lower, upper = self._lu_factors()
        # W^-1 = U^-1 L^-1 P^T: two triangular solves instead of a general inverse.
        eye = ops.convert_to_tensor(self._eye)
        lower_inv = ops.solve_triangular(lower, eye, lower=True)
        permutation = ops.cast(self.permutation, "float32")
        return ops.matmul(
            ops.solve_triangular(upper, lower_inv, lower=False), ops.transpose(permutation)
        )

    def log_det_per_step(self):
        """`log|det W|`, a float32 scalar.

        Without the LU factors, the sum of `log|R_ii|` of `W = QR` (Q orthogonal): what
        `slogdet` gives, but XLA compiles it on every backend; TensorFlow's slogdet has no XLA
        kernel, and Keras compiles `fit` with XLA on a TensorFlow machine with a GPU.
        """
        if self.lu_decomposed:
            return ops.sum(ops.cast(self.log_s, _LOG_DET_DTYPE))
        _, r = ops.qr(ops.cast(self.matrix(), _LOG_DET_DTYPE))
        return ops.sum(ops.log(ops.abs(ops.diagonal(r))))

    def call(self, x):
        _check_input(self, "x", x.shape, self.channels)
        y = ops.matmul(x, ops.cast(ops.transpose(self.matrix()), x.dtype))
        return y, self.log_det_per_step()

    def inverse(self, y, inverse_matrix=None):
        """Undoes `call`; `inverse_matrix` may be passed in when already computed."""
        _check_input(self, "y", y.shape, self.channels)
        if inverse_matrix is None:
            inverse_matrix = self.inverse_matrix()
        return ops.matmul(y, ops.cast(ops.transpose(inverse_matrix), y.dtype))

    def get_config(self):
        return {**super().get_config(), "lu_decomposed": self.lu_decomposed, "seed": self.seed}


@saving.register_keras_serializable(package=_PACKAGE)
class WN(layers.Layer):
    """The non-causal WaveNet-like network inside each affine coupling.

    start 1x1 conv -> `n_layers` gated dilated convolutions (dilation `dilation_base**i`)
    conditioned on the mel, each with a residual and a skip 1x1 conv (the last layer has a skip
    only) -> end 1x1 conv. The end conv is zero-initialised, so every coupling starts as the
    identity, which keeps early training stable. The mel conditioning of all layers is one
    matmul per call.

    SqueezeWave's lighter variant: depthwise-separable dilated convs (`separable`), one 1x1
    conv per layer that only updates the residual stream, which the end conv reads
    (`skip_connections=False`), and a conditioning at the mel frame rate: the conditioning
    conv runs on the frames and its output is upsampled by `cond_factor` (`cond_upsampling`)
    and cropped to the length of `x`.

    Args:
        n_out_channels: int, channels of the output (log_s and b together).
        n_layers: int, dilated layers. Default 8.
        n_channels: int, residual channels. Default 256.
        kernel_size: int, odd kernel size of the dilated convs. Default 3.
        weight_norm: bool, weight-normalised convs (as trained by NVIDIA). Default False.
        remat: bool, recompute each layer's activations for the gradient instead of keeping
            them (`keras.remat`); same results. Meant for long segments: at 12 x 16000 on an
            H200 it did not lower XLA's peak (README, Speed). Default False.
        separable: bool, depthwise-separable dilated convs (`SeparableConv1D`). Default False.
        dilation_base: int >= 1, layer i dilates by `dilation_base**i` (1: no dilation, as
            SqueezeWave). Default 2.
        skip_connections: bool, WaveGlow's skip sum; False: residual stream only. Default True.
        linear_path: bool, without skip connections: the end conv reads the whole residual
            stream, the start conv's output included (True, SqueezeWave's code), or only the
            sum of the gated layers' outputs (False). Through the linear path `log_s` grows
            with `|x_a|` without bound, so a loud input can feed back through the flows until
            `exp(log_s)` overflows; without it `log_s` is bounded by the weights whatever the
            input, as with WaveGlow's skip sum. Same MACs. Default True.
        cond_upsampling: "none" (cond already has one vector per step), "nearest" or "linear"
            (cond at the frame rate, upsampled by `cond_factor`). Default "none".
        cond_factor: int, grouped steps per conditioning frame. Default 1.

    Call arguments:
        x: (B, T_g, n_half) first half of the grouped audio.
        cond: (B, T_g, n_group * n_mel) upsampled, grouped mel; with `cond_upsampling` the
            (B, F, n_mel) mel, F * cond_factor >= T_g.

    Returns:
        (B, T_g, n_out_channels) tensor.
    """

    def __init__(
        self,
        n_out_channels: int,
        n_layers: int = 8,
        n_channels: int = 256,
        kernel_size: int = 3,
        weight_norm: bool = False,
        remat: bool = False,
        separable: bool = False,
        dilation_base: int = 2,
        skip_connections: bool = True,
        linear_path: bool = True,
        cond_upsampling: str = "none",
        cond_factor: int = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        n_out_channels = _checks.count("WN n_out_channels", n_out_channels, 1)
        n_layers = _checks.count("WN n_layers", n_layers, 1)
        n_channels = _checks.count("WN n_channels", n_channels, 1)
        kernel_size = _checks.count("WN kernel_size", kernel_size, 1)
        dilation_base = _checks.count("WN dilation_base", dilation_base, 1)
        cond_factor = _checks.count("WN cond_factor", cond_factor, 1)
        if kernel_size % 2 != 1:
            raise ValueError(f"WN kernel_size must be odd; got {kernel_size}.")
        if cond_upsampling not in ("none", *_FRAME_UPSAMPLING):
            raise ValueError(
                "WN cond_upsampling must be 'none', 'nearest' or 'linear'; "
                f"got {cond_upsampling!r}."
            )
        self.n_out_channels = n_out_channels
        self.n_layers = n_layers
        self.n_channels = n_channels
        self.kernel_size = kernel_size
        self.weight_norm = _checks.flag("WN weight_norm", weight_norm)
        self.remat = _checks.flag("WN remat", remat)
        self.separable = _checks.flag("WN separable", separable)
        self.dilation_base = dilation_base
        self.skip_connections = _checks.flag("WN skip_connections", skip_connections)
        self.linear_path = _checks.flag("WN linear_path", linear_path)
        self.cond_upsampling = cond_upsampling
        self.cond_factor = cond_factor
        wn = {"weight_norm": weight_norm, "dtype": self.dtype_policy}
        self.start = Conv1D(n_channels, name="start", **wn)
        self.cond_layer = Conv1D(2 * n_channels * n_layers, name="cond", **wn)
        dilated_conv = SeparableConv1D if separable else Conv1D
        self.in_layers = [
            dilated_conv(
                2 * n_channels, kernel_size, dilation_rate=dilation_base**i, name=f"in_{i}", **wn
            )
            for i in range(n_layers)
        ]
        self.res_skip_layers = [
            Conv1D(
                2 * n_channels if skip_connections and i < n_layers - 1 else n_channels,
                name=f"res_skip_{i}",
                **wn,
            )
            for i in range(n_layers)
        ]
        self.end = Conv1D(
            n_out_channels,
            kernel_initializer="zeros",
            bias_initializer="zeros",
            name="end",
            dtype=self.dtype_policy,
        )

    def build(self, x_shape, cond_shape=None):
        # Named after call(x, cond): Keras then builds the layer on its first call.
        x_shape = tuple(x_shape)
        self.start.build(x_shape)
        if cond_shape is not None:
            self.cond_layer.build(tuple(cond_shape))
        hidden = (*x_shape[:-1], self.n_channels)
        for in_layer, res_skip in zip(self.in_layers, self.res_skip_layers, strict=True):
            in_layer.build(hidden)
            res_skip.build(hidden)
        self.end.build(hidden)
        self.built = True

    def conv_layers(self) -> list:
        """Every convolution, in a fixed order (for copying weights between twins)."""
        return [self.start, self.cond_layer, *self.in_layers, *self.res_skip_layers, self.end]

    def _layer(self, i, h, cond):
        """Layer i: gated dilated conv -> (next residual input, skip contribution); without
        skip connections only the next residual input."""
        n = self.n_channels
        pre = self.in_layers[i](h) + cond[..., 2 * n * i : 2 * n * (i + 1)]
        acts = ops.tanh(pre[..., :n]) * ops.sigmoid(pre[..., n:])
        res = self.res_skip_layers[i](acts)
        if not self.skip_connections:
            return h + res
        if i == self.n_layers - 1:
            return h, res
        return h + res[..., :n], res[..., n:]

    def call(self, x, cond):
        h = h_start = self.start(x)
        cond = self.cond_layer(cond)
        if self.cond_upsampling != "none":
            cond = upsample_frames(cond, self.cond_factor, self.cond_upsampling)
            cond = cond[:, : ops.shape(x)[1]]
        skip = None
        for i in range(self.n_layers):
            layer = functools.partial(self._layer, i)
            out = (keras.remat(layer) if self.remat else layer)(h, cond)
            if not self.skip_connections:
                h = out
                continue
            h, res = out
            skip = res if skip is None else skip + res
        if skip is None and not self.linear_path:
            skip = h - h_start  # the layers' outputs only
        return self.end(h if skip is None else skip)

    def get_config(self):
        return {
            **super().get_config(),
            "n_out_channels": self.n_out_channels,
            "n_layers": self.n_layers,
            "n_channels": self.n_channels,
            "kernel_size": self.kernel_size,
            "weight_norm": self.weight_norm,
            "remat": self.remat,
            "separable": self.separable,
            "dilation_base": self.dilation_base,
            "skip_connections": self.skip_connections,
            "linear_path": self.linear_path,
            "cond_upsampling": self.cond_upsampling,
            "cond_factor": self.cond_factor,
        }


@saving.register_keras_serializable(package=_PACKAGE)
class AffineCoupling(layers.Layer):
    """Affine coupling: the second half of the channels is scaled and shifted by the first.

    `(b, log_s) = WN(x_a, mel)`; forward `y_b = exp(log_s) * x_b + b`, inverse
    `x_b = (y_b - b) * exp(-log_s)`; `x_a` passes through unchanged. The log-determinant is
    `sum(log_s)` over time and channels.

    With `log_scale_bound=c` the WN's raw output `r` becomes `log_s = c * tanh(r / c)`: a soft
    clamp to (-c, c), about the identity for `|r| << c` (1.3% below it at `|r| = c / 5`). The
    layer stays exactly invertible with the same log-determinant formula, and no input can be
    amplified by more than `exp(c)` per coupling; WaveGlow's coupling (None) is unbounded.

    Args:
        wn_layers, wn_channels, wn_kernel_size, weight_norm, remat: the `WN` configuration.
        n_channels: int, even number of channels of `x`.
        wn_options: dict or None, further `WN` arguments (`separable`, `dilation_base`,
            `skip_connections`, `cond_upsampling`, `cond_factor`). Default None (WaveGlow's).
        log_scale_bound: float > 0 or None, the soft clamp `c` on `log_s`. Default None.

    Call arguments:
        x: (B, T_g, channels) tensor, channels even.
        cond: the conditioning `WN` expects (see its `cond_upsampling`).

    Returns:
        `(y, log_det)`: y like x, and the float32 log-determinant per example, shape (B,).
    """

    def __init__(
        self,
        wn_layers: int = 8,
        wn_channels: int = 256,
        wn_kernel_size: int = 3,
        weight_norm: bool = False,
        n_channels: int | None = None,
        remat: bool = False,
        wn_options: dict | None = None,
        log_scale_bound: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.wn_options = dict(wn_options or {})
        self.log_scale_bound = _log_scale_bound("log_scale_bound", log_scale_bound)
        self.wn_layers = _checks.count("wn_layers", wn_layers, 1)
        self.wn_channels = _checks.count("wn_channels", wn_channels, 1)
        self.wn_kernel_size = _checks.count("wn_kernel_size", wn_kernel_size, 1)
        self.weight_norm = _checks.flag("weight_norm", weight_norm)
        self.remat = _checks.flag("remat", remat)
        if n_channels is None or _checks.count("n_channels", n_channels, 2) % 2:
            raise ValueError(f"AffineCoupling needs an even n_channels; got {n_channels}.")
        self.n_channels = int(n_channels)  # checked above; a plain int, for JSON
        self.n_half = self.n_channels // 2
        self.wn = WN(
            2 * self.n_half,
            wn_layers,
            wn_channels,
            wn_kernel_size,
            weight_norm=weight_norm,
            remat=remat,
            name="wn",
            dtype=self.dtype_policy,
            **self.wn_options,
        )

    def build(self, x_shape, cond_shape=None):
        # Named after call(x, cond): Keras then builds the layer on its first call.
        _check_input(self, "x", x_shape, self.n_channels)
        if cond_shape is not None:
            _check_input(self, "cond", cond_shape)
            self._cond_channels = None if cond_shape[-1] is None else int(cond_shape[-1])
        self.wn.build((*tuple(x_shape)[:-1], self.n_half), cond_shape)
        self.built = True

    def _check_cond(self, what: str, x_shape, cond) -> None:
        """cond as built, with x's batch where both are known: a rank-2 cond was broadcast
        over the batch (every example the same conditioning), other channels gave the
        backends' errors, which name neither. (Its time axis may differ: a frame-rate
        conditioning is cropped or repeated by the WN.)"""
        _check_input(self, "cond", cond.shape, getattr(self, "_cond_channels", None))
        a, b = x_shape[0], cond.shape[0]
        if a is not None and b is not None and int(a) != int(b):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: cond must have the batch of {what} "
                f"({a}); got shape {tuple(cond.shape)}."
            )

    def _scale_shift(self, x_a, cond):
        out = self.wn(x_a, cond)
        log_s, b = out[..., self.n_half :], out[..., : self.n_half]  # NVIDIA's order
        if self.log_scale_bound is not None:
            log_s = self.log_scale_bound * ops.tanh(log_s / self.log_scale_bound)
        return log_s, b

    def call(self, x, cond):
        _check_input(self, "x", x.shape, self.n_channels)
        self._check_cond("x", x.shape, cond)
        x_a, x_b = x[..., : self.n_half], x[..., self.n_half :]
        log_s, b = self._scale_shift(x_a, cond)
        y_b = ops.exp(log_s) * x_b + b
        log_det = ops.sum(ops.cast(log_s, _LOG_DET_DTYPE), axis=(1, 2))
        return ops.concatenate([x_a, y_b], axis=-1), log_det

    def inverse(self, y, cond):
        _check_input(self, "y", y.shape, self.n_channels)
        self._check_cond("y", y.shape, cond)
        y_a, y_b = y[..., : self.n_half], y[..., self.n_half :]
        log_s, b = self._scale_shift(y_a, cond)
        x_b = (y_b - b) * ops.exp(-log_s)
        return ops.concatenate([y_a, x_b], axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "wn_layers": self.wn_layers,
            "wn_channels": self.wn_channels,
            "wn_kernel_size": self.wn_kernel_size,
            "weight_norm": self.weight_norm,
            "n_channels": self.n_channels,
            "remat": self.remat,
            "wn_options": self.wn_options,
            "log_scale_bound": self.log_scale_bound,
        }


def _log_scale_bound(name: str, value) -> float | None:
    """A soft clamp on log_s: None (no clamp) or a finite float > 0 (inf gave inf * tanh(0),
    NaN everywhere); refused by name otherwise (a str or a bool too)."""
    if value is None:
        return None
    bound = _checks.number(name, value)
    if not (math.isfinite(bound) and bound > 0):
        raise ValueError(f"{name} must be > 0 and finite, or None for no clamp; got {value}.")
    return bound
