"""HiFi-GAN style waveform discriminators: multi-period, multi-scale, and both together.

Each sub-discriminator maps audio (B, T) to a map of real/fake logits plus the feature maps
of every layer (for the feature-matching loss). Leaky ReLU slope 0.1 throughout, as in HiFi-GAN
(Kong et al., 2020). The scale discriminator's wide convolutions are grouped as in HiFi-GAN
(29.6 M parameters in the multi-scale part at width 1; dense ones, as here before 2026-12-05,
made it 231 M); `width` scales all channel counts, so tests can use tiny discriminators.
With `padding="hifigan"` (the default) every convolution pads (k - 1) // 2 zeros on each side
and the pooling between scales two, counted in its means, as HiFi-GAN's; with the same
weights the logits and feature maps are HiFi-GAN's (tests/test_discriminators.py checks them
against a PyTorch transcription). `padding="same"` is Keras' "same" padding (asymmetric where
a stride does not divide the length; the pooling leaves its padding out of the means): what
configs and training runs saved before 2026-12-07 were built with. With
`normalization="hifigan"` (the default) the kernels are parametrised as HiFi-GAN's: weight
norm (`torch.nn.utils.weight_norm`) on every conv, spectral norm (`spectral_norm`, one power
iteration per training call) on the first scale discriminator's (tests/test_discriminators.py
checks both against PyTorch's own); `normalization="none"` keeps plain kernels, what configs
saved before the second half of 2026-12-07 were built with (the same functions of their
weights, other training dynamics).

Shapes: `B` batch, `T` audio samples. Everything is channels-last and `keras.ops` only.
"""

from __future__ import annotations

import functools
import math

import keras
from keras import layers, ops, saving

from keras_waveglow import _checks

_PACKAGE = "keras_waveglow"
_LEAKY_SLOPE = 0.1

# HiFi-GAN's channel progressions (before `width` scaling).
PERIOD_CHANNELS = (32, 128, 512, 1024, 1024)
SCALE_CHANNELS = (128, 128, 256, 512, 1024, 1024, 1024)
# HiFi-GAN's groups of those convs; DENSE_SCALE_GROUPS is what configs saved before
# 2026-12-05 (which have no `groups`) were built with.
SCALE_GROUPS = (1, 4, 16, 16, 16, 16, 1)
DENSE_SCALE_GROUPS = (1,) * len(SCALE_GROUPS)
# How convolutions and pooling pad: HiFi-GAN's, or Keras' "same" (before 2026-12-07).
PADDINGS = ("hifigan", "same")
# How a discriminator's kernels are parametrised: HiFi-GAN's (weight norm, spectral norm on
# the first scale discriminator) or plain kernels (what was built before they existed).
NORMALIZATIONS = ("hifigan", "none")
# One convolution's: `torch.nn.utils.weight_norm`'s, `spectral_norm`'s, or none.
KERNEL_NORMALIZATIONS = ("weight", "spectral", "none")
# F.normalize's floor on the norm in the spectral norm's power iteration (PyTorch's eps).
_SPECTRAL_EPS = 1e-12


def _with_legacy_defaults(config: dict, key: str | None) -> dict:
    """A config saved before `key` (the scale groups) existed was built with dense scale
    convolutions, one saved before `padding` existed with "same" padding, and one saved
    before `normalization` existed with plain kernels."""
    legacy = {"padding": "same", "normalization": "none"}
    if key is not None:
        legacy[key] = list(DENSE_SCALE_GROUPS)
    return {**legacy, **config}


def _checked_choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}.")
    return value


def _checked_padding(padding) -> str:
    return _checked_choice("padding", padding, PADDINGS)


def _unit(x):
    """`x / max(||x||, 1e-12)`: PyTorch's `F.normalize` of a vector."""
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x))), _SPECTRAL_EPS)


def _unit_normal(shape, dtype=None):
    """A random unit vector (the spectral norm's initial u and v, as PyTorch draws them)."""
    return _unit(keras.random.normal(shape, dtype=dtype or "float32"))


class _NormalizedKernel:
    """Weight or spectral normalisation of a Keras convolution's kernel, as PyTorch's.

    `normalization="weight"` (`torch.nn.utils.weight_norm`, dim 0): the kernel variable is
    the direction v, and a trainable `kernel_g` (one per output channel, initialised to the
    norm of v's initial value, so the function starts as the plain conv's) scales it:
    `w = g * v / ||v||`, the norm over everything but the output channels.

    `normalization="spectral"` (`torch.nn.utils.spectral_norm`, one power iteration): the
    kernel is divided by its largest singular value as a (taps * inputs, outputs) matrix M,
    estimated with the unit vectors `spectral_u` (outputs) and `spectral_v` (taps * inputs),
    held as non-trainable weights: in a training call `v = normalize(M u)`,
    `u = normalize(M^T v)` (both then held, and treated as constants by the gradient) and
    `sigma = v^T M u`; otherwise sigma from the held u and v (before any training call,
    from their random start, as PyTorch's `spectral_norm`: such a sigma can be far from the
    singular value, even negative, and the scaled logits overflow float16; call the
    discriminator once with `training=True` before inspecting an untrained one). The held u
    and v move in every training call, also before `discriminator_start_step` (only the
    trainable weights and their optimizer slots are held then). PyTorch flattens the kernel's
    (inputs, taps) in the other order, so its v is this v permuted.

    Both are computed in float32 (g, u and v are held and read in float32; the kernel as the
    conv reads it, rounded to the compute dtype under mixed precision) and give the kernel the
    conv then uses. HiFi-GAN uses weight norm on every discriminator conv but those of its
    first scale discriminator, which use spectral norm.
    """

    def _init_normalization(self, normalization: str) -> None:
        self.normalization = _checked_choice("normalization", normalization, KERNEL_NORMALIZATIONS)

    def build(self, input_shape):
        super().build(input_shape)
        if self.normalization == "weight":
            self.kernel_g = self.add_weight(
                shape=(self.filters,),
                initializer=lambda shape, dtype=None: self._direction_norms(self.kernel),
                name="kernel_g",
                autocast=False,
            )
        elif self.normalization == "spectral":
            rows = math.prod(self.kernel.shape[:-1])
            self.spectral_u = self.add_weight(
                shape=(self.filters,),
                initializer=_unit_normal,
                trainable=False,
                name="spectral_u",
                autocast=False,
            )
            self.spectral_v = self.add_weight(
                shape=(rows,),
                initializer=_unit_normal,
                trainable=False,
                name="spectral_v",
                autocast=False,
            )

    @staticmethod
    def _direction_norms(kernel):
        kernel = ops.cast(kernel, "float32")
        axes = tuple(range(len(kernel.shape) - 1))
        return ops.sqrt(ops.sum(ops.square(kernel), axis=axes))

    def normalized_kernel(self, training=None):
        """The kernel the convolution uses (updating u and v in a training call)."""
        if self.normalization == "none":
            return self.kernel
        kernel = ops.cast(self.kernel, "float32")
        if self.normalization == "weight":
            scale = ops.cast(self.kernel_g, "float32") / self._direction_norms(kernel)
            return ops.cast(kernel * scale, self.compute_dtype)
        matrix = ops.reshape(kernel, (-1, self.filters))
        u, v = (ops.cast(w, "float32") for w in (self.spectral_u, self.spectral_v))
        if training:
            v = _unit(ops.matmul(matrix, u))
            u = _unit(ops.matmul(ops.transpose(matrix), v))
            u, v = ops.stop_gradient(u), ops.stop_gradient(v)
            self.spectral_u.assign(u)
            self.spectral_v.assign(v)
        sigma = ops.sum(v * ops.matmul(matrix, u))
        return ops.cast(kernel / sigma, self.compute_dtype)

    def _convolve(self, inputs, kernel):
        return self.convolution_op(inputs, kernel)

    def call(self, inputs, training=None):
        outputs = self._convolve(inputs, self.normalized_kernel(training))
        if self.use_bias:
            channels_last = self.data_format == "channels_last"
            shape = [1] * len(outputs.shape)
            shape[-1 if channels_last else 1] = self.filters
            outputs = ops.add(outputs, ops.reshape(self.bias, shape))
        return self.activation(outputs) if self.activation is not None else outputs

    # Keras' convolutions save their kernel and bias only: with a normalisation every
    # variable is saved, in the order the layer made them ("none" keeps the convs' files).
    def save_own_variables(self, store):
        if self.normalization == "none":
            return super().save_own_variables(store)
        return layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        if self.normalization == "none":
            return super().load_own_variables(store)
        return layers.Layer.load_own_variables(self, store)

    def get_config(self):
        return {**super().get_config(), "normalization": self.normalization}


def _padded(x, kernel_size: int, padding: str):
    """`x` (B, T, ...) with HiFi-GAN's (k - 1) // 2 zeros on each side of time, for a conv
    built with "valid" padding; as it is for one built with "same"."""
    if padding == "same" or kernel_size < 2:
        return x
    side = (kernel_size - 1) // 2
    return ops.pad(x, [[0, 0], [side, side]] + [[0, 0]] * (len(x.shape) - 2))


def _conv_padding(padding: str) -> str:
    """The Keras conv padding for a discriminator padding (HiFi-GAN's is applied by hand)."""
    return "valid" if padding == "hifigan" else "same"


def _counts(name: str, values, minimum: int) -> list[int] | None:
    """A sequence of ints (each >= `minimum`) as a list, or None; a float is refused by name."""
    if values is None:
        return None
    if isinstance(values, str) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of ints; got {values!r}.")
    return [_checks.count(f"{name}[{i}]", v, minimum) for i, v in enumerate(values)]


def _scaled(channels, width: float) -> list[int]:
    return [max(1, round(c * width)) for c in channels]


@functools.cache
def _accelerated() -> bool:
    """Whether Keras sees a GPU or TPU (then grouped convolutions run as such)."""
    return any(not d.lower().startswith("cpu") for d in keras.distribution.list_devices())


@saving.register_keras_serializable(package=_PACKAGE)
class GroupedConv1D(_NormalizedKernel, layers.Conv1D):
    """`keras.layers.Conv1D` whose groups, on a CPU, run as one dense convolution each, and
    whose kernel may be weight- or spectral-normalised as PyTorch's.

    The same kernel (`(kernel_size, in / groups, filters)`), config and outputs as `Conv1D`
    with `groups`. On CPUs the backends' own grouped convolutions are slow: a 16-group
    256-channel kernel-41 layer's training step took 4.8 s in TensorFlow and 0.50 s in JAX
    against 0.032 s and 0.029 s for a convolution per group
    (`python benchmarks/grouped_conv.py`, `benchmarks/results/grouped_conv_cpu_2026-12-06.jsonl`).
    With a GPU or TPU visible to Keras the backend's grouped convolution is used.

    Args:
        normalization: "weight", "spectral" or "none" (`_NormalizedKernel`). Default "none".
        *args, **kwargs: `keras.layers.Conv1D`'s.

    Example:
        >>> conv = GroupedConv1D(64, 41, strides=2, padding="same", groups=16)
        >>> tuple(conv(keras.random.normal((2, 400, 32))).shape)
        (2, 200, 64)
    """

    def __init__(self, *args, normalization: str = "none", **kwargs):
        super().__init__(*args, **kwargs)
        self._init_normalization(normalization)

    def _convolve(self, inputs, kernel):
        per_group = self.groups > 1 and self.data_format == "channels_last"
        if not per_group or self.padding == "causal" or _accelerated():
            return self.convolution_op(inputs, kernel)
        c_in, c_out = kernel.shape[1], self.filters // self.groups
        return ops.concatenate(
            [
                ops.conv(
                    inputs[..., g * c_in : (g + 1) * c_in],
                    kernel[..., g * c_out : (g + 1) * c_out],
                    strides=list(self.strides),
                    padding=self.padding,
                    dilation_rate=self.dilation_rate,
                    data_format=self.data_format,
                )
                for g in range(self.groups)
            ],
            axis=-1,
        )


@saving.register_keras_serializable(package=_PACKAGE)
class NormalizedConv2D(_NormalizedKernel, layers.Conv2D):
    """`keras.layers.Conv2D` whose kernel may be weight- or spectral-normalised as PyTorch's.

    Args:
        normalization: "weight", "spectral" or "none" (`_NormalizedKernel`). Default "none".
        *args, **kwargs: `keras.layers.Conv2D`'s.

    Example:
        >>> conv = NormalizedConv2D(8, (5, 1), strides=(3, 1), normalization="weight")
        >>> tuple(conv(keras.random.normal((2, 30, 3, 1))).shape)
        (2, 9, 3, 8)
    """

    def __init__(self, *args, normalization: str = "none", **kwargs):
        super().__init__(*args, **kwargs)
        self._init_normalization(normalization)


def _check_audio(audio, who: str) -> None:
    if len(audio.shape) != 2:
        raise ValueError(
            f"{who} expects audio of shape (batch, samples); got {tuple(audio.shape)}."
        )


@saving.register_keras_serializable(package=_PACKAGE)
class PeriodDiscriminator(layers.Layer):
    """Looks at every `period`-th sample: audio (B, T) -> (B, T / p, p, 1) -> 2-D convs.

    The audio is padded at the end to a multiple of `period` (reflect padding, zero padding
    when the audio is too short to reflect), folded into a 2-D map whose columns are the
    `period` phases, and passed through convolutions with kernel (5, 1) and stride (3, 1), so
    each phase is judged on its own. A final (3, 1) conv gives one logit per position.

    Args:
        period: int >= 1, the fold period.
        channels: sequence of int, output channels of the strided convs (the last one has
            stride 1, as in HiFi-GAN). Default `PERIOD_CHANNELS` scaled by `width`.
        width: float, multiplier on the default channels. Default 1.0.
        kernel_size: int, taps along time. Default 5.
        stride: int, stride along time of all but the last conv. Default 3.
        padding: "hifigan" (HiFi-GAN's symmetric zeros) or "same" (Keras'; before
            2026-12-07). Default "hifigan".
        normalization: the convs' kernels: "weight" (HiFi-GAN's weight norm), "spectral" or
            "none" (plain; before the second half of 2026-12-07). Default "weight".

    Call arguments:
        audio: (B, T) float tensor.
        training: bool; a training call updates a spectral norm's singular vectors.

    Returns:
        `(logits, features)`: logits (B, T' * p) float (flattened, as HiFi-GAN's), and the
        list of every conv's
        activation (B, T_i, p, C_i), the logits map last.

    Example:
        >>> d = PeriodDiscriminator(3, width=0.125)
        >>> logits, features = d(keras.random.normal((2, 4000)))
    """

    def __init__(
        self,
        period: int,
        channels=None,
        width: float = 1.0,
        kernel_size: int = 5,
        stride: int = 3,
        padding: str = "hifigan",
        normalization: str = "weight",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.padding = _checked_padding(padding)
        self.normalization = _checked_choice("normalization", normalization, KERNEL_NORMALIZATIONS)
        self.period = _checks.count("period", period, 1)
        self.width = _checks.finite("width", width, positive=True)
        self.channels = _counts("channels", channels, 1)
        self.kernel_size = _checks.count("kernel_size", kernel_size, 1)
        self.stride = _checks.count("stride", stride, 1)
        widths = self.channels if self.channels is not None else _scaled(PERIOD_CHANNELS, width)
        n = len(widths)
        self.convs = [
            NormalizedConv2D(
                c,
                (self.kernel_size, 1),
                strides=(self.stride if i < n - 1 else 1, 1),
                padding=_conv_padding(self.padding),
                normalization=self.normalization,
                name=f"conv_{i}",
                dtype=self.dtype_policy,
            )
            for i, c in enumerate(widths)
        ]
        self.post = NormalizedConv2D(
            1,
            (3, 1),
            padding=_conv_padding(self.padding),
            normalization=self.normalization,
            name="post",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        shape = (None, None, self.period, 1)
        for conv in self.convs:
            if not conv.built:
                conv.build(shape)
            shape = (None, None, self.period, conv.filters)
        if not self.post.built:
            self.post.build(shape)
        self.built = True

    def _fold(self, audio):
        length = audio.shape[1] if audio.shape[1] is not None else ops.shape(audio)[1]
        remainder = (-length) % self.period
        if isinstance(remainder, int) and remainder == 0:
            folded = audio
        elif isinstance(length, int):
            mode = "reflect" if length > remainder else "constant"
            folded = ops.pad(audio, [[0, 0], [0, remainder]], mode=mode)
        else:  # a length TensorFlow learns at run time: the same rule, chosen then
            folded = ops.cond(
                length > remainder,
                lambda: ops.pad(audio, [[0, 0], [0, remainder]], mode="reflect"),
                lambda: ops.pad(audio, [[0, 0], [0, remainder]]),
            )
        return ops.reshape(folded, (ops.shape(audio)[0], -1, self.period, 1))

    def call(self, audio, training=None):
        _check_audio(audio, "PeriodDiscriminator")
        x = self._fold(ops.cast(audio, self.compute_dtype))
        features = []
        for conv in self.convs:
            x = _padded(x, self.kernel_size, self.padding)
            x = ops.leaky_relu(conv(x, training=training), _LEAKY_SLOPE)
            features.append(x)
        x = self.post(_padded(x, 3, self.padding), training=training)
        features.append(x)
        return ops.reshape(x, (ops.shape(x)[0], -1)), features

    def get_config(self):
        return {
            **super().get_config(),
            "period": self.period,
            "channels": self.channels,
            "width": self.width,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "normalization": self.normalization,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**_with_legacy_defaults(config, None))


@saving.register_keras_serializable(package=_PACKAGE)
class ScaleDiscriminator(layers.Layer):
    """Judges the raw waveform with a stack of wide, strided 1-D convolutions.

    HiFi-GAN's layout: kernel 15 stride 1, then kernel 41 with strides (2, 2, 4, 4, 1), a
    kernel-5 conv, and a kernel-3 conv to one logit channel.

    Args:
        channels: sequence of int, output channels of the convs (7 in HiFi-GAN). Default
            `SCALE_CHANNELS` scaled by `width`.
        width: float, multiplier on the default channels. Default 1.0.
        groups: None for HiFi-GAN's `SCALE_GROUPS`, or 7 ints >= 1 (`DENSE_SCALE_GROUPS`
            for dense convolutions). A conv uses the greatest divisor of its group count
            and both its channel counts, so every width builds: at width 1 that is
            HiFi-GAN's count, at width 1/32 (4 to 32 channels) at most 4.
        padding: "hifigan" or "same" (`PeriodDiscriminator`). Default "hifigan".
        normalization: "weight", "spectral" (HiFi-GAN's first scale) or "none"
            (`PeriodDiscriminator`). Default "weight".

    Call arguments:
        audio: (B, T) float tensor.
        training: bool; a training call updates a spectral norm's singular vectors.

    Returns:
        `(logits, features)`: logits (B, T'), and the list of every conv's activation
        (B, T_i, C_i), the logits map last.

    Example:
        >>> d = ScaleDiscriminator(width=0.125)
        >>> logits, features = d(keras.random.normal((2, 4000)))
    """

    _KERNELS = (15, 41, 41, 41, 41, 41, 5)
    _STRIDES = (1, 2, 2, 4, 4, 1, 1)

    def __init__(
        self,
        channels=None,
        width: float = 1.0,
        groups=None,
        padding: str = "hifigan",
        normalization: str = "weight",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.padding = _checked_padding(padding)
        self.normalization = _checked_choice("normalization", normalization, KERNEL_NORMALIZATIONS)
        self.width = _checks.finite("width", width, positive=True)
        self.channels = _counts("channels", channels, 1)
        self.groups = _counts("groups", groups, 1)
        widths = self.channels if self.channels is not None else _scaled(SCALE_CHANNELS, width)
        if len(widths) != len(self._KERNELS):
            raise ValueError(
                f"ScaleDiscriminator needs {len(self._KERNELS)} channel counts; got {widths}."
            )
        wanted = self.groups if self.groups is not None else list(SCALE_GROUPS)
        if len(wanted) != len(self._KERNELS) or min(wanted) < 1:
            raise ValueError(
                f"ScaleDiscriminator needs {len(self._KERNELS)} group counts >= 1; got {groups}."
            )
        inputs = [1, *widths[:-1]]
        self.conv_groups = [
            math.gcd(g, c_in, c_out) for g, c_in, c_out in zip(wanted, inputs, widths, strict=True)
        ]
        self.convs = [
            GroupedConv1D(
                c,
                k,
                strides=s,
                padding=_conv_padding(self.padding),
                groups=g,
                normalization=self.normalization,
                name=f"conv_{i}",
                dtype=self.dtype_policy,
            )
            for i, (c, k, s, g) in enumerate(
                zip(widths, self._KERNELS, self._STRIDES, self.conv_groups, strict=True)
            )
        ]
        self.post = GroupedConv1D(
            1,
            3,
            padding=_conv_padding(self.padding),
            normalization=self.normalization,
            name="post",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        shape = (None, None, 1)
        for conv in self.convs:
            if not conv.built:
                conv.build(shape)
            shape = (None, None, conv.filters)
        if not self.post.built:
            self.post.build(shape)
        self.built = True

    def call(self, audio, training=None):
        _check_audio(audio, "ScaleDiscriminator")
        x = ops.expand_dims(ops.cast(audio, self.compute_dtype), -1)
        features = []
        for conv, kernel_size in zip(self.convs, self._KERNELS, strict=True):
            x = _padded(x, kernel_size, self.padding)
            x = ops.leaky_relu(conv(x, training=training), _LEAKY_SLOPE)
            features.append(x)
        x = self.post(_padded(x, 3, self.padding), training=training)
        features.append(x)
        return ops.reshape(x, (ops.shape(x)[0], -1)), features

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "width": self.width,
            "groups": self.groups,
            "padding": self.padding,
            "normalization": self.normalization,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**_with_legacy_defaults(config, "groups"))


@saving.register_keras_serializable(package=_PACKAGE)
class MultiPeriodDiscriminator(keras.Model):
    """One `PeriodDiscriminator` per period (HiFi-GAN: 2, 3, 5, 7, 11).

    Args:
        periods: sequence of int. Default (2, 3, 5, 7, 11).
        width: float, channel multiplier for every sub-discriminator. Default 1.0.
        padding: "hifigan" or "same" (`PeriodDiscriminator`). Default "hifigan".
        normalization: "hifigan" (weight norm, as HiFi-GAN's) or "none" (plain kernels;
            before the second half of 2026-12-07). Default "hifigan".

    Call arguments:
        audio: (B, T) float tensor.
        training: bool; passed to the sub-discriminators.

    Returns:
        `(logits, features)`: a list of logits, one per period, and a list of feature lists.

    Example:
        >>> mpd = MultiPeriodDiscriminator(periods=(2, 3), width=0.125)
        >>> logits, features = mpd(keras.random.normal((2, 4000)))
    """

    def __init__(
        self,
        periods=(2, 3, 5, 7, 11),
        width: float = 1.0,
        padding: str = "hifigan",
        normalization: str = "hifigan",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.periods = _counts("periods", periods, 1)
        if not self.periods:
            raise ValueError("MultiPeriodDiscriminator needs at least one period.")
        self.width = _checks.finite("width", width, positive=True)
        self.padding = _checked_padding(padding)
        self.normalization = _checked_choice("normalization", normalization, NORMALIZATIONS)
        self.discriminators = [
            PeriodDiscriminator(
                p,
                width=width,
                padding=padding,
                normalization="weight" if normalization == "hifigan" else "none",
                name=f"period_{p}",
                dtype=self.dtype_policy,
            )
            for p in self.periods
        ]
        self.build((None, None))

    def build(self, input_shape=None):
        for d in self.discriminators:
            if not d.built:
                d.build((None, None))
        self.built = True

    def call(self, audio, training=None):
        logits, features = [], []
        for d in self.discriminators:
            logit, feature = d(audio, training=training)
            logits.append(logit)
            features.append(feature)
        return logits, features

    def get_config(self):
        return {
            **super().get_config(),
            "periods": self.periods,
            "width": self.width,
            "padding": self.padding,
            "normalization": self.normalization,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**_with_legacy_defaults(config, None))


@saving.register_keras_serializable(package=_PACKAGE)
class MultiScaleDiscriminator(keras.Model):
    """`ScaleDiscriminator`s on the raw audio and on 2x, 4x, ... average-pooled audio.

    Between scales the audio is smoothed and halved by average pooling (window 4, stride 2):
    as in HiFi-GAN, two zeros on each side, counted in the means (T // 2 + 1 samples out);
    with `padding="same"`, Keras' "same" pooling (T / 2 rounded up, padding left out of the
    means).

    Args:
        n_scales: int >= 1. Default 3.
        width: float, channel multiplier for every sub-discriminator. Default 1.0.
        groups: the sub-discriminators' conv groups (`ScaleDiscriminator`); None for
            HiFi-GAN's. Default None.
        padding: "hifigan" or "same" (`PeriodDiscriminator`). Default "hifigan".
        normalization: "hifigan" (spectral norm on the first scale, weight norm on the
            others, as HiFi-GAN's) or "none" (plain kernels; before the second half of
            2026-12-07). Default "hifigan".

    Call arguments:
        audio: (B, T) float tensor.
        training: bool; passed to the sub-discriminators.

    Returns:
        `(logits, features)`: a list of logits, one per scale, and a list of feature lists.

    Example:
        >>> msd = MultiScaleDiscriminator(n_scales=3, width=0.125)
        >>> logits, features = msd(keras.random.normal((2, 4000)))
    """

    def __init__(
        self,
        n_scales: int = 3,
        width: float = 1.0,
        groups=None,
        padding: str = "hifigan",
        normalization: str = "hifigan",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.n_scales = _checks.count("n_scales", n_scales, 1)
        self.width = _checks.finite("width", width, positive=True)
        self.groups = _counts("groups", groups, 1)
        self.padding = _checked_padding(padding)
        self.normalization = _checked_choice("normalization", normalization, NORMALIZATIONS)
        hifigan = normalization == "hifigan"
        self.discriminators = [
            ScaleDiscriminator(
                width=width,
                groups=groups,
                padding=padding,
                normalization=("spectral" if i == 0 else "weight") if hifigan else "none",
                name=f"scale_{i}",
                dtype=self.dtype_policy,
            )
            for i in range(self.n_scales)
        ]
        self.pools = [
            layers.AveragePooling1D(
                4,
                strides=2,
                padding=_conv_padding(padding),
                name=f"pool_{i}",
                dtype=self.dtype_policy,  # the global policy at load time otherwise
            )
            for i in range(self.n_scales - 1)
        ]
        self.build((None, None))

    def build(self, input_shape=None):
        for d in self.discriminators:
            if not d.built:
                d.build((None, None))
        self.built = True

    def call(self, audio, training=None):
        _check_audio(audio, "MultiScaleDiscriminator")
        logits, features = [], []
        x = audio
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = self._pool(self.pools[i - 1], x)
            logit, feature = d(x, training=training)
            logits.append(logit)
            features.append(feature)
        return logits, features

    def _pool(self, pool, x):
        """Audio (B, T) smoothed and halved by `pool` (with HiFi-GAN's zeros, if so)."""
        x = ops.expand_dims(x, -1)
        if self.padding == "hifigan":  # torch's AvgPool1d(4, 2, padding=2) counts them
            x = ops.pad(x, [[0, 0], [2, 2], [0, 0]])
        return ops.squeeze(pool(x), -1)

    def get_config(self):
        return {
            **super().get_config(),
            "n_scales": self.n_scales,
            "width": self.width,
            "groups": self.groups,
            "padding": self.padding,
            "normalization": self.normalization,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**_with_legacy_defaults(config, "groups"))


@saving.register_keras_serializable(package=_PACKAGE)
class WaveDiscriminator(keras.Model):
    """HiFi-GAN's discriminator pair: multi-period plus multi-scale, outputs concatenated.

    Args:
        periods: sequence of int, periods of the multi-period part; empty for none.
            Default (2, 3, 5, 7, 11).
        n_scales: int, scales of the multi-scale part; 0 for none. Default 3.
        width: float, channel multiplier (1.0 is HiFi-GAN's size; 1/16 is quick on a CPU).
            Default 1.0.
        scale_groups: the multi-scale part's conv groups (`ScaleDiscriminator`): None for
            HiFi-GAN's, `DENSE_SCALE_GROUPS` for dense convolutions. Default None.
        padding: "hifigan" (HiFi-GAN's: its outputs, given its weights) or "same" (Keras';
            what configs saved before 2026-12-07 were built with). Default "hifigan".
        normalization: "hifigan" (HiFi-GAN's weight norm, spectral norm on the first scale
            discriminator) or "none" (plain kernels: what configs saved before the second
            half of 2026-12-07 were built with). Default "hifigan".

    Call arguments:
        audio: (B, T) float tensor.
        training: bool; a training call updates the spectral norm's singular vectors.

    Returns:
        `(logits, features)`: the list of logits of every sub-discriminator (periods first,
        then scales) and the matching list of feature-map lists.

    Example:
        >>> disc = WaveDiscriminator(width=1 / 16)
        >>> logits, features = disc(keras.random.normal((2, 8000)))
        >>> len(logits)
        8
    """

    def __init__(
        self,
        periods=(2, 3, 5, 7, 11),
        n_scales: int = 3,
        width: float = 1.0,
        scale_groups=None,
        padding: str = "hifigan",
        normalization: str = "hifigan",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.padding = _checked_padding(padding)
        self.normalization = _checked_choice("normalization", normalization, NORMALIZATIONS)
        self.periods = _counts("periods", periods, 1)
        self.n_scales = _checks.count("n_scales", n_scales, 0)
        self.width = _checks.finite("width", width, positive=True)
        self.scale_groups = _counts("scale_groups", scale_groups, 1)
        if self.scale_groups is not None and not self.n_scales:
            # Checked only when a scale discriminator was built: stored in the config unused.
            raise ValueError("scale_groups applies to the scale discriminators; n_scales is 0.")
        if not self.periods and self.n_scales < 1:
            raise ValueError("WaveDiscriminator needs at least one period or one scale.")
        self.period_discriminator = (
            MultiPeriodDiscriminator(
                self.periods,
                width=width,
                padding=padding,
                normalization=normalization,
                name="multi_period",
                dtype=self.dtype_policy,
            )
            if self.periods
            else None
        )
        self.scale_discriminator = (
            MultiScaleDiscriminator(
                self.n_scales,
                width=width,
                groups=scale_groups,
                padding=padding,
                normalization=normalization,
                name="multi_scale",
                dtype=self.dtype_policy,
            )
            if self.n_scales
            else None
        )
        self.build((None, None))

    def _parts(self):
        return [d for d in (self.period_discriminator, self.scale_discriminator) if d is not None]

    def build(self, input_shape=None):
        for d in self._parts():
            if not d.built:
                d.build((None, None))
        self.built = True

    def call(self, audio, training=None):
        _check_audio(audio, "WaveDiscriminator")
        logits, features = [], []
        for d in self._parts():
            part_logits, part_features = d(audio, training=training)
            logits.extend(part_logits)
            features.extend(part_features)
        return logits, features

    def get_config(self):
        return {
            **super().get_config(),
            "periods": self.periods,
            "n_scales": self.n_scales,
            "width": self.width,
            "scale_groups": self.scale_groups,
            "padding": self.padding,
            "normalization": self.normalization,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**_with_legacy_defaults(config, "scale_groups"))
