"""Discriminators: shapes, the period fold, outputs vs. a NumPy reference, serialization."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_waveglow.discriminators import (
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    PeriodDiscriminator,
    ScaleDiscriminator,
    WaveDiscriminator,
)
from tests.helpers import (
    assert_config_round_trip,
    assert_model_saving_round_trip,
    assert_serialization_round_trip,
)


def _audio(batch=2, length=1000, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (batch, length)).astype("float32")


def test_period_fold_reflect_pads_and_groups_phases():
    d = PeriodDiscriminator(3, channels=[2, 2], kernel_size=5, stride=3)
    audio = np.arange(2 * 10, dtype="float32").reshape(2, 10)
    folded = ops.convert_to_numpy(d._fold(audio))
    # 10 samples, period 3: reflect-pad 2 samples (x[8], x[7]), then rows of 3 phases.
    expected = np.concatenate([audio, audio[:, [8, 7]]], axis=1).reshape(2, 4, 3, 1)
    np.testing.assert_array_equal(folded, expected)


@pytest.mark.parametrize("length", [10, 9, 2, 1])
def test_period_fold_pads_alike_eagerly_and_compiled(length):
    """Compiled (on TensorFlow with the length unknown until run time, as tf.data batches of
    varying length are traced), the fold pads as NumPy does: reflect, or zeros when the audio
    is too short to reflect."""
    d = PeriodDiscriminator(3, channels=[2, 2], kernel_size=5, stride=3)
    audio = np.arange(2 * length, dtype="float32").reshape(2, length) + 1
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = [tf.TensorSpec((None, None), "float32")]
        compiled = tf.function(d._fold, input_signature=spec)
    else:
        import jax

        compiled = jax.jit(d._fold)
    remainder = -length % 3
    mode = "reflect" if length > remainder else "constant"
    expected = np.pad(audio, [(0, 0), (0, remainder)], mode=mode).reshape(2, -1, 3, 1)
    np.testing.assert_array_equal(ops.convert_to_numpy(compiled(audio)), expected)
    np.testing.assert_array_equal(ops.convert_to_numpy(d._fold(audio)), expected)


def _time_padding(length: int, k: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros before and after along time: HiFi-GAN's (k - 1) // 2 each side, or Keras' "same"
    (the total a stride needs, its odd one after)."""
    if padding == "hifigan":
        return (k - 1) // 2, (k - 1) // 2
    steps = -(-length // stride)
    total = max((steps - 1) * stride + k - length, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("padding", ["hifigan", "same"])
def test_period_discriminator_matches_numpy_convolutions(padding):
    d = PeriodDiscriminator(2, channels=[3, 4], kernel_size=5, stride=3, padding=padding)
    audio = _audio(1, 40)
    logits, features = d(audio)
    assert [tuple(f.shape) for f in features] == [(1, 7, 2, 3), (1, 7, 2, 4), (1, 7, 2, 1)]

    def conv_time(x, kernel, bias, stride):  # kernel (k, 1) along time
        k = kernel.shape[0]
        x = np.pad(x, (_time_padding(x.shape[0], k, stride, padding), (0, 0), (0, 0)))
        steps = (x.shape[0] - k) // stride + 1
        out = np.stack(
            [
                np.einsum("kpc,kcd->pd", x[t * stride : t * stride + k], kernel[:, 0])
                for t in range(steps)
            ]
        )
        return out + bias

    x = audio[0].reshape(20, 2, 1)
    for i, conv in enumerate(d.convs):
        kernel, bias = (ops.convert_to_numpy(w) for w in (conv.normalized_kernel(), conv.bias))
        x = conv_time(x, kernel, bias, 3 if i < len(d.convs) - 1 else 1)
        x = np.where(x > 0, x, 0.1 * x)
    kernel, bias = (ops.convert_to_numpy(w) for w in (d.post.normalized_kernel(), d.post.bias))
    x = conv_time(x, kernel, bias, 1)
    # float32 sums of <= 5 * 4 products of O(1) numbers: 1e-5 absolute is generous.
    np.testing.assert_allclose(ops.convert_to_numpy(logits)[0], x.reshape(-1), atol=1e-5)


def test_wave_discriminator_outputs_every_sub_discriminator():
    disc = WaveDiscriminator(periods=(2, 3, 5, 7, 11), n_scales=3, width=1 / 32)
    logits, features = disc(_audio(2, 1200))
    assert len(logits) == len(features) == 8
    # period discriminators: 5 strided convs + post; scale discriminators: 7 convs + post.
    assert [len(f) for f in features] == [6] * 5 + [8] * 3
    for period, logit in zip((2, 3, 5, 7, 11), logits[:5], strict=True):
        rows = -(-1200 // period)
        for _ in range(4):
            rows = -(-rows // 3)
        assert tuple(logit.shape) == (2, rows * period)
    # Scales see 1200, 600, 300 samples; total stride 64 -> ceil(T / 64) logits.
    assert [tuple(x.shape) for x in logits[5:]] == [(2, 19), (2, 10), (2, 5)]


@pytest.mark.parametrize("length", [256, 255])
def test_multi_scale_pools_between_scales(length):
    audio = _audio(1, length)
    # HiFi-GAN's AvgPool1d(4, 2, padding=2): output t averages [2t-2, 2t+2) of the audio with
    # two zeros each side, the zeros counted; T // 2 + 1 samples.
    msd = MultiScaleDiscriminator(n_scales=2, width=1 / 32)
    pooled = ops.convert_to_numpy(msd._pool(msd.pools[0], audio))[0]
    padded = np.pad(audio[0], 2)
    expected = np.array([padded[2 * t : 2 * t + 4].mean() for t in range(length // 2 + 1)])
    np.testing.assert_allclose(pooled, expected, atol=1e-6)
    # Keras' "same" (configs before 2026-12-07): output t averages the samples of
    # [2t-1, 2t+3) there are, ceil(T / 2) of them.
    msd = MultiScaleDiscriminator(n_scales=2, width=1 / 32, padding="same")
    pooled = ops.convert_to_numpy(msd._pool(msd.pools[0], audio))[0]
    expected = [audio[0, max(0, 2 * t - 1) : 2 * t + 3].mean() for t in range(-(-length // 2))]
    np.testing.assert_allclose(pooled, np.array(expected), atol=1e-6)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="period must be >= 1"):
        PeriodDiscriminator(0)
    with pytest.raises(ValueError, match="at least one period or one scale"):
        WaveDiscriminator(periods=(), n_scales=0)
    for width in (0, -1, float("nan"), float("inf")):  # silently 1-channel convolutions before
        with pytest.raises(ValueError, match="width must be a finite number > 0"):
            WaveDiscriminator(periods=(2,), n_scales=1, width=width)
    # Counts are ints: a fraction was truncated (period 2.5 built period 2), a whole float too.
    for build, message in (
        (lambda: PeriodDiscriminator(2.5), r"period must be an int; got 2\.5"),
        (lambda: PeriodDiscriminator(2, stride=3.0), r"stride must be an int; got 3\.0"),
        (lambda: MultiScaleDiscriminator(n_scales=2.5), r"n_scales must be an int; got 2\.5"),
        (lambda: MultiPeriodDiscriminator((2, 3.5)), r"periods\[1\] must be an int; got 3\.5"),
        (lambda: WaveDiscriminator(periods=2), r"periods must be a sequence of ints; got 2"),
        (lambda: ScaleDiscriminator(groups=[1, 4.0] + [1] * 5), r"groups\[1\] must be an int"),
    ):
        with pytest.raises(TypeError, match=message):
            build()
    with pytest.raises(ValueError, match=r"scale_groups\[0\] must be >= 1; got 0"):
        WaveDiscriminator(periods=(2,), n_scales=1, scale_groups=[0] * 7)
    # Unused without scales (its length was never checked, and it was saved in the config).
    with pytest.raises(ValueError, match="scale_groups applies to the scale discriminators"):
        WaveDiscriminator(periods=(2,), n_scales=0, scale_groups=(1, 2, 3))
    with pytest.raises(ValueError, match="7 channel counts"):
        ScaleDiscriminator(channels=[4, 4])
    with pytest.raises(ValueError, match=r"\(batch, samples\)"):
        WaveDiscriminator(periods=(2,), n_scales=1, width=1 / 32)(np.zeros((2, 100, 1), "float32"))


def test_configs_serialization_and_keras_round_trip(tmp_path):
    for obj in (
        PeriodDiscriminator(5, width=1 / 32),
        ScaleDiscriminator(width=1 / 32),
        MultiPeriodDiscriminator((2, 3), width=1 / 32),
        MultiScaleDiscriminator(2, width=1 / 32),
        WaveDiscriminator((2, 3), 2, width=1 / 32),
    ):
        assert_config_round_trip(obj)
        assert_serialization_round_trip(obj)
    disc = WaveDiscriminator(periods=(2, 3), n_scales=2, width=1 / 32)
    for v in disc.trainable_variables:  # non-zero biases too, so a lost weight shows
        v.assign(v + 0.01)
    audio = _audio(2, 600)
    reloaded = assert_model_saving_round_trip(disc, lambda m: m(audio), tmp_path)
    # Explicit names: paths survive the reload (the optimizer routes by them).
    assert [v.path for v in reloaded.weights] == [v.path for v in disc.weights]


def test_mixed_precision_runs_in_bfloat16():
    keras.config.set_dtype_policy("mixed_bfloat16")
    disc = WaveDiscriminator(periods=(2,), n_scales=1, width=1 / 32)
    logits, _ = disc(_audio(1, 500))
    assert keras.backend.standardize_dtype(logits[0].dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(disc.weights[0].dtype) == "float32"
    # A training call's power iteration runs in float32 and keeps u and v so.
    logits, _ = disc(_audio(1, 500), training=True)
    assert all(np.isfinite(ops.convert_to_numpy(ops.cast(x, "float32"))).all() for x in logits)
    spectral = [v for v in disc.non_trainable_variables if "spectral" in v.path]
    assert spectral and all(v.dtype == "float32" for v in spectral)


def test_every_sublayer_takes_the_discriminator_s_policy():
    """The multi-scale pools took the global policy: a mixed-precision discriminator built (or
    loaded from .keras) under float32 pooled in float32, so a resume from the file was not
    exact."""
    disc = WaveDiscriminator(periods=(2,), n_scales=3, width=1 / 32, dtype="mixed_bfloat16")
    policies = {layer.name: layer.dtype_policy.name for layer in disc._flatten_layers()}
    assert set(policies.values()) == {"mixed_bfloat16"}, policies
    assert {"pool_0", "pool_1"} <= set(policies)


def _conv1d(x, kernel, bias, stride, groups, padding):
    """NumPy reference of a grouped, strided Conv1D with HiFi-GAN's or Keras' "same" padding
    (`_time_padding`): x (T, C_in), kernel (k, C_in / groups, C_out)."""
    k, per_group_in, c_out = kernel.shape
    x = np.pad(x, (_time_padding(x.shape[0], k, stride, padding), (0, 0)))
    steps = (x.shape[0] - k) // stride + 1
    per_group_out = c_out // groups
    out = np.zeros((steps, c_out), np.float64)
    for g in range(groups):
        xs = x[:, g * per_group_in : (g + 1) * per_group_in]
        ks = kernel[:, :, g * per_group_out : (g + 1) * per_group_out]
        for t in range(steps):
            out[t, g * per_group_out : (g + 1) * per_group_out] = np.einsum(
                "kc,kcd->d", xs[t * stride : t * stride + k], ks
            )
    return out + bias


@pytest.mark.parametrize("padding", ["hifigan", "same"])
def test_scale_discriminator_groups_its_convolutions_as_hifigan(padding):
    """HiFi-GAN's multi-scale convs are grouped (1, 4, 16, 16, 16, 16, 1): 29.6 M parameters
    at width 1, against 231 M dense (as built before 2026-12-05). Narrower discriminators use
    the greatest divisor of the group count and both channel counts; the outputs match a
    NumPy grouped convolution."""
    from keras_waveglow.discriminators import DENSE_SCALE_GROUPS, SCALE_CHANNELS, SCALE_GROUPS

    def hifigan_count(groups):  # DiscriminatorS: weights c_in / g * c_out * k, plus biases
        inputs = [1, *SCALE_CHANNELS[:-1]]
        kernels = ScaleDiscriminator._KERNELS
        convs = zip(inputs, SCALE_CHANNELS, kernels, groups, strict=True)
        total = sum(c_in // g * c_out * k + c_out for c_in, c_out, k, g in convs)
        return total + SCALE_CHANNELS[-1] * 3 + 1  # the post conv

    for groups, expected in ((None, 29_610_627), (DENSE_SCALE_GROUPS, 231_385_731)):
        msd = MultiScaleDiscriminator(3, width=1.0, groups=groups, normalization="none")
        assert msd.count_params() == expected == 3 * hifigan_count(groups or SCALE_GROUPS)
    # Weight norm adds a scale per output channel on the second and third scale (PyTorch's
    # weight_g); the first scale's spectral norm adds no trainable weight.
    # Its u and v (one per output, one per tap and input) are non-trainable.
    g_count = sum(SCALE_CHANNELS) + 1
    msd = MultiScaleDiscriminator(3, width=1.0)
    trainable = sum(math.prod(v.shape) for v in msd.trainable_variables)
    assert trainable == 29_610_627 + 2 * g_count
    inputs = [1, *SCALE_CHANNELS[:-1]]
    convs = zip(ScaleDiscriminator._KERNELS, inputs, SCALE_GROUPS, strict=True)
    rows = [k * c // g for k, c, g in convs]
    assert msd.count_params() - trainable == g_count + sum(rows) + 3 * SCALE_CHANNELS[-1]
    assert ScaleDiscriminator(width=1 / 32).conv_groups == [1, 4, 4, 8, 16, 16, 1]
    d = ScaleDiscriminator(channels=[4, 8, 8, 16, 16, 16, 8], padding=padding)
    assert d.conv_groups == [1, 4, 8, 8, 16, 16, 1]
    audio = _audio(1, 300)
    logits, _ = d(audio)
    x = audio[0][:, None].astype(np.float64)
    for conv, stride, groups in zip(d.convs, d._STRIDES, d.conv_groups, strict=True):
        kernel, bias = (
            ops.convert_to_numpy(w).astype(np.float64)
            for w in (conv.normalized_kernel(), conv.bias)
        )
        x = _conv1d(x, kernel, bias, stride, groups, padding)
        x = np.where(x > 0, x, 0.1 * x)
    kernel, bias = (
        ops.convert_to_numpy(w).astype(np.float64)
        for w in (d.post.normalized_kernel(), d.post.bias)
    )
    x = _conv1d(x, kernel, bias, 1, 1, padding)
    # float32 sums of <= 41 * 8 products of O(1) numbers over 8 layers: 1e-4 is generous.
    np.testing.assert_allclose(ops.convert_to_numpy(logits)[0], x[:, 0], atol=1e-4)
    with pytest.raises(ValueError, match=r"groups\[0\] must be >= 1; got 0"):
        ScaleDiscriminator(width=1 / 32, groups=[0] * 7)
    with pytest.raises(ValueError, match="needs 7 group counts >= 1; got"):
        ScaleDiscriminator(width=1 / 32, groups=[1] * 3)


def test_configs_saved_before_groups_existed_build_dense_convolutions():
    """A discriminator config from before 2026-12-05 has no `groups`/`scale_groups`: it was
    dense, and loads dense, so its weights fit."""
    for cls, key, obj in (
        (ScaleDiscriminator, "groups", ScaleDiscriminator(width=1 / 32)),
        (MultiScaleDiscriminator, "groups", MultiScaleDiscriminator(2, width=1 / 32)),
        (WaveDiscriminator, "scale_groups", WaveDiscriminator((2,), 2, width=1 / 32)),
    ):
        config = obj.get_config()
        assert config[key] is None  # HiFi-GAN's
        old = cls.from_config({k: v for k, v in config.items() if k != key})
        scales = [old] if cls is ScaleDiscriminator else None
        if scales is None:
            msd = old if cls is MultiScaleDiscriminator else old.scale_discriminator
            scales = msd.discriminators
        assert all(s.conv_groups == [1] * 7 for s in scales)
        assert cls.from_config(config).get_config() == config


def _every_discriminator():
    """One tiny discriminator of each class, as built today."""
    return (
        PeriodDiscriminator(3, width=1 / 32),
        ScaleDiscriminator(width=1 / 32),
        MultiPeriodDiscriminator((2, 3), width=1 / 32),
        MultiScaleDiscriminator(2, width=1 / 32),
        WaveDiscriminator((2,), 2, width=1 / 32),
    )


def test_configs_saved_before_padding_existed_pad_as_keras_same():
    """A config from before 2026-12-07 has no `padding`: it was built with Keras' "same"
    padding, and loads so (its run continues with the function it trained)."""
    for obj in _every_discriminator():
        config = obj.get_config()
        assert config["padding"] == "hifigan"
        old = type(obj).from_config({k: v for k, v in config.items() if k != "padding"})
        kinds = (PeriodDiscriminator, ScaleDiscriminator, MultiPeriodDiscriminator)
        kinds += (MultiScaleDiscriminator, WaveDiscriminator)
        parts = [d for d in old._flatten_layers(include_self=True) if isinstance(d, kinds)]
        leaf = isinstance(obj, PeriodDiscriminator | ScaleDiscriminator)
        assert len(parts) >= (1 if leaf else 2)
        assert all(p.padding == "same" for p in parts)
    with pytest.raises(ValueError, match=r"padding must be one of \('hifigan', 'same'\)"):
        WaveDiscriminator(width=1 / 32, padding="valid")


def _hifigan_reference(disc, audio):
    """HiFi-GAN's discriminators (Kong et al. 2020; jik876/hifi-gan's DiscriminatorP,
    DiscriminatorS and their multi- wrappers) transcribed in PyTorch, float64, with `disc`'s
    weights: (logits, feature maps) per sub-discriminator, channels-first."""
    import torch
    import torch.nn.functional as F

    def tensor(variable, order):
        return torch.from_numpy(ops.convert_to_numpy(variable).astype(np.float64).transpose(order))

    x = torch.from_numpy(np.asarray(audio, np.float64))[:, None, :]
    logits, features = [], []
    # HiFi-GAN's layout, written out (not read from the layers under test): DiscriminatorP
    # kernel 5, strides 3, 3, 3, 3, 1, then a kernel-3 post conv; DiscriminatorS kernels 15,
    # 41 x 5, 5 with strides 1, 2, 2, 4, 4, 1, 1 and groups 1, 4, 16, 16, 16, 16, 1 (at width
    # 1/16 the 8-channel third conv allows 8), then kernel 3.
    period_kernels, period_strides = (5, 5, 5, 5, 5, 3), (3, 3, 3, 3, 1, 1)
    scale_kernels, scale_strides = (15, 41, 41, 41, 41, 41, 5, 3), (1, 2, 2, 4, 4, 1, 1, 1)
    assert disc.periods == [2, 3, 5, 7, 11]
    for d in disc.period_discriminator.discriminators:  # (B, 1, T) -> (B, 1, T / p, p)
        y, fmap = x, []
        if y.shape[-1] % d.period:
            y = F.pad(y, (0, d.period - y.shape[-1] % d.period), "reflect")
        y = y.view(y.shape[0], 1, -1, d.period)
        convs = [*d.convs, d.post]
        for conv, k, stride in zip(convs, period_kernels, period_strides, strict=True):
            assert conv.kernel.shape[:2] == (k, 1)
            y = F.conv2d(
                y,
                tensor(conv.kernel, (3, 2, 0, 1)),
                tensor(conv.bias, (0,)),
                stride=(stride, 1),
                padding=((k - 1) // 2, 0),
            )
            y = F.leaky_relu(y, 0.1) if conv is not d.post else y
            fmap.append(y)
        logits.append(torch.flatten(y, 1))
        features.append(fmap)
    y = x
    for i, d in enumerate(disc.scale_discriminator.discriminators):
        if i:
            y = F.avg_pool1d(y, 4, 2, padding=2)
        z, fmap = y, []
        groups_ = (1, 4, 16, 16, 16, 16, 1, 1) if d.width == 1 else (1, 4, 8, 16, 16, 16, 1, 1)
        layers_ = zip([*d.convs, d.post], scale_kernels, scale_strides, groups_, strict=True)
        for conv, k, stride, groups in layers_:
            assert conv.kernel.shape[0] == k
            kernel, bias = tensor(conv.kernel, (2, 1, 0)), tensor(conv.bias, (0,))
            z = F.conv1d(z, kernel, bias, stride=stride, padding=(k - 1) // 2, groups=groups)
            z = F.leaky_relu(z, 0.1) if conv is not d.post else z
            fmap.append(z)
        logits.append(torch.flatten(z, 1))
        features.append(fmap)
    return logits, features


@pytest.mark.parametrize("length", [2000, 1999])
def test_outputs_and_losses_are_hifigan_s(length):
    """With the same weights, every logit and feature map of `WaveDiscriminator` equals
    HiFi-GAN's (a float64 PyTorch transcription), and so do its three losses (feature
    matching before its weight 2). It differed by 0.5 to 1.6 relative after the first strided
    conv ("same" padding) and in the pooled lengths before 2026-12-07."""
    torch = pytest.importorskip("torch")
    from keras_waveglow.losses import (
        discriminator_loss,
        feature_matching_loss,
        generator_adversarial_loss,
    )

    keras.utils.set_random_seed(0)
    # Plain kernels: the normalisations are checked against PyTorch's on their own below.
    disc = WaveDiscriminator(width=1 / 16, normalization="none")
    real, fake = _audio(2, length, seed=1), _audio(2, length, seed=2)
    ours = {"real": disc(real), "fake": disc(fake)}
    theirs = {"real": _hifigan_reference(disc, real), "fake": _hifigan_reference(disc, fake)}
    for side in ("real", "fake"):
        (logits, features), (ref_logits, ref_features) = ours[side], theirs[side]
        assert len(logits) == len(ref_logits) == 8
        for got, want in zip(logits, ref_logits, strict=True):
            want = want.numpy()
            # float32 sums of up to 41 * 64 products over 8 layers against float64: 1e-5 of
            # the map's largest value (measured: below 1e-6).
            np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())
        for maps, ref_maps in zip(features, ref_features, strict=True):
            assert len(maps) == len(ref_maps)
            for got, want in zip(maps, ref_maps, strict=True):
                want = want.numpy()
                got = np.moveaxis(ops.convert_to_numpy(got), -1, 1)  # channels first
                np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())
    real_logits, real_maps = theirs["real"]
    fake_logits, fake_maps = theirs["fake"]
    want_d = sum(
        torch.mean((1 - r) ** 2) + torch.mean(g**2)
        for r, g in zip(real_logits, fake_logits, strict=True)
    )
    want_g = sum(torch.mean((1 - g) ** 2) for g in fake_logits)
    want_fm = 2 * sum(
        torch.mean(torch.abs(r - g))
        for rs, gs in zip(real_maps, fake_maps, strict=True)
        for r, g in zip(rs, gs, strict=True)
    )
    got_d = discriminator_loss(ours["real"][0], ours["fake"][0])[0]
    got_g = generator_adversarial_loss(ours["fake"][0])[0]
    got_fm = 2 * feature_matching_loss(ours["real"][1], ours["fake"][1])
    for got, want in ((got_d, want_d), (got_g, want_g), (got_fm, want_fm)):
        np.testing.assert_allclose(float(ops.convert_to_numpy(got)), float(want), rtol=1e-5)


def test_grouped_conv_per_group_on_cpu_equals_the_backends_grouped_conv(monkeypatch):
    """Without a GPU, `GroupedConv1D` runs one dense conv per group (the backends' own grouped
    convs are far slower on a CPU: benchmarks/grouped_conv.py); its outputs equal the grouped
    conv's (float32 sums of 41 * 4 products of O(1) numbers in another order: 1e-5)."""
    from keras_waveglow import discriminators
    from keras_waveglow.discriminators import GroupedConv1D

    conv = GroupedConv1D(16, 41, strides=2, padding="same", groups=4)
    x = ops.convert_to_tensor(_audio(2, 1200).reshape(2, 75, 16))
    conv.build(x.shape)
    assert tuple(conv.kernel.shape) == (41, 4, 16)  # Conv1D(groups=4)'s kernel: weights fit
    dense_convs = []
    original = ops.conv

    def counting(inputs, kernel, *args, **kwargs):
        dense_convs.append(tuple(kernel.shape))
        return original(inputs, kernel, *args, **kwargs)

    def output(accelerated: bool):
        monkeypatch.setattr(discriminators, "_accelerated", lambda: accelerated)
        monkeypatch.setattr(ops, "conv", counting)
        dense_convs.clear()
        out = ops.convert_to_numpy(conv(x))
        monkeypatch.setattr(ops, "conv", original)
        return out, list(dense_convs)

    per_group, calls = output(False)
    assert calls == [(41, 4, 4)] * 4  # one dense conv per group
    grouped, calls = output(True)
    assert calls == []  # with a GPU: Keras' own Conv1D call, the backend's grouped conv
    reference = keras.layers.Conv1D(16, 41, strides=2, padding="same", groups=4)
    reference.build(x.shape)
    reference.set_weights(conv.get_weights())
    np.testing.assert_array_equal(grouped, ops.convert_to_numpy(reference(x)))
    assert per_group.shape == (2, 38, 16)
    np.testing.assert_allclose(per_group, grouped, atol=1e-5)
    assert_serialization_round_trip(conv)


def _torch_conv(conv, kind: str):
    """PyTorch's conv with `conv`'s weights under `torch.nn.utils.weight_norm` or
    `spectral_norm` (HiFi-GAN's), float64, channels-first."""
    import torch

    kernel = ops.convert_to_numpy(conv.kernel).astype(np.float64)
    rank = len(kernel.shape) - 2
    order = (rank + 1, rank, *range(rank))  # (taps..., in, out) -> (out, in, taps...)
    module = (torch.nn.Conv1d if rank == 1 else torch.nn.Conv2d)(
        kernel.shape[-2] * conv.groups,
        conv.filters,
        kernel.shape[:rank],
        stride=conv.strides,
        groups=conv.groups,
        dtype=torch.float64,
    )
    with torch.no_grad():
        module.bias.copy_(torch.from_numpy(ops.convert_to_numpy(conv.bias).astype(np.float64)))
        weight = torch.from_numpy(kernel.transpose(order).copy())
        if kind == "weight":
            module = torch.nn.utils.weight_norm(module)
            module.weight_v.copy_(weight)
            g = ops.convert_to_numpy(conv.kernel_g).astype(np.float64)
            module.weight_g.copy_(torch.from_numpy(g).reshape(-1, *[1] * (rank + 1)))
        else:
            module = torch.nn.utils.spectral_norm(module)
            module.weight_orig.copy_(weight)
            module.weight_u.copy_(torch.from_numpy(_as_numpy(conv.spectral_u)))
            module.weight_v.copy_(torch.from_numpy(_torch_v(conv, _as_numpy(conv.spectral_v))))
    return module


def _as_numpy(variable):
    return ops.convert_to_numpy(variable).astype(np.float64)


def _torch_v(conv, v):
    """Our spectral v (the kernel's (taps..., in) flattened) in PyTorch's order (in, taps...)."""
    shape = tuple(conv.kernel.shape[:-1])
    return v.reshape(shape).transpose(len(shape) - 1, *range(len(shape) - 1)).reshape(-1)


@pytest.mark.parametrize("kind", ["weight", "spectral"])
@pytest.mark.parametrize("rank", [1, 2])
def test_kernel_normalizations_are_pytorch_s(kind, rank):
    """Weight norm and spectral norm give the outputs of PyTorch's `weight_norm` and
    `spectral_norm` (HiFi-GAN's) from the same v, g, u and v; a training call makes the same
    power-iteration step (u and v updated alike), a call outside training uses them as they
    are. Weight norm starts as the plain conv (g = ||v||). float32 against float64, kernels of
    up to 20 taps: 1e-5 of the output's largest value."""
    torch = pytest.importorskip("torch")
    from keras_waveglow.discriminators import GroupedConv1D, NormalizedConv2D

    keras.utils.set_random_seed(0)
    if rank == 1:
        conv = GroupedConv1D(12, 5, strides=2, groups=2, normalization=kind)
        x = _audio(2, 40 * 8).reshape(2, 40, 8)
    else:
        conv = NormalizedConv2D(6, (5, 1), strides=(3, 1), normalization=kind)
        x = _audio(2, 30 * 3 * 4).reshape(2, 30, 3, 4)
    conv.build(x.shape)
    if kind == "weight":  # g starts at ||v||: the plain conv's function
        norms = np.sqrt(np.sum(np.square(_as_numpy(conv.kernel)), axis=tuple(range(rank + 1))))
        np.testing.assert_allclose(_as_numpy(conv.kernel_g), norms, rtol=1e-6)
        np.testing.assert_allclose(
            ops.convert_to_numpy(conv.normalized_kernel()), _as_numpy(conv.kernel), atol=1e-6
        )
    for v in conv.trainable_variables:
        v.assign(v + 0.05 * keras.random.normal(v.shape, seed=1))
    module = _torch_conv(conv, kind)
    x_torch = torch.from_numpy(np.moveaxis(x, -1, 1).astype(np.float64))
    for training in (True, False, True):
        module.train(training)
        want = module(x_torch).detach().numpy()
        got = np.moveaxis(ops.convert_to_numpy(conv(x, training=training)), -1, 1)
        np.testing.assert_allclose(got, want, atol=1e-5 * np.abs(want).max())
        if kind == "spectral":  # the same power-iteration step, kept
            np.testing.assert_allclose(
                _as_numpy(conv.spectral_u), module.weight_u.numpy(), atol=1e-5
            )
            np.testing.assert_allclose(
                _torch_v(conv, _as_numpy(conv.spectral_v)), module.weight_v.numpy(), atol=1e-5
            )
    if kind == "spectral":  # the kernel's largest singular value, after a few steps
        for _ in range(30):
            conv(x, training=True)
        matrix = _as_numpy(conv.kernel).reshape(-1, conv.filters)
        sigma = np.linalg.svd(matrix, compute_uv=False)[0]
        effective = ops.convert_to_numpy(conv.normalized_kernel()).reshape(-1, conv.filters)
        np.testing.assert_allclose(effective, matrix / sigma, rtol=1e-3, atol=1e-6)


def test_hifigan_normalization_is_weight_norm_but_on_the_first_scale():
    """`normalization="hifigan"`: every period conv and every scale conv (posts included)
    weight-normalised, the first scale discriminator's spectral-normalised; "none" plain."""
    disc = WaveDiscriminator(periods=(2, 3), n_scales=3, width=1 / 32)
    for d in disc.period_discriminator.discriminators:
        assert {c.normalization for c in [*d.convs, d.post]} == {"weight"}
    kinds = [
        {c.normalization for c in [*d.convs, d.post]}
        for d in disc.scale_discriminator.discriminators
    ]
    assert kinds == [{"spectral"}, {"weight"}, {"weight"}]
    plain = WaveDiscriminator(periods=(2,), n_scales=2, width=1 / 32, normalization="none")
    assert not plain.non_trainable_variables
    assert all("kernel_g" not in v.path for v in plain.weights)
    with pytest.raises(ValueError, match=r"normalization must be one of \('hifigan', 'none'\)"):
        WaveDiscriminator(width=1 / 32, normalization="weight")
    with pytest.raises(ValueError, match=r"one of \('weight', 'spectral', 'none'\); got 'x'"):
        ScaleDiscriminator(width=1 / 32, normalization="x")


def test_configs_saved_before_normalization_existed_have_plain_kernels(tmp_path):
    """A config from before the normalisations has no `normalization`: it loads with plain
    kernels, so the weights it saved fit, and a `.keras` with HiFi-GAN's round-trips (the
    spectral norm's u and v included)."""
    for obj in _every_discriminator():
        config = obj.get_config()
        old = type(obj).from_config({k: v for k, v in config.items() if k != "normalization"})
        assert old.get_config()["normalization"] == "none"
        assert not [v for v in old.weights if "kernel_g" in v.path or "spectral" in v.path]
    disc = WaveDiscriminator(periods=(2,), n_scales=2, width=1 / 32)
    audio = _audio(2, 600)
    disc(audio, training=True)  # u and v move away from their initial draw
    reloaded = assert_model_saving_round_trip(disc, lambda m: m(audio), tmp_path)
    for a, b in zip(disc.non_trainable_variables, reloaded.non_trainable_variables, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
