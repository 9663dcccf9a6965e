"""Core flow: invertibility, exact log-determinants, serialization, fit, mixed precision."""

from __future__ import annotations

import contextlib

import h5py
import keras
import numpy as np
import pytest
from keras import ops

from keras_waveglow import (
    WN,
    ActNorm,
    AffineCoupling,
    Conv1D,
    Invertible1x1Conv,
    SeparableConv1D,
    WaveGlow,
    fold_weight_norm,
)
from keras_waveglow.layers import MelUpsampler, set_conv_implementation, upsample_frames
from keras_waveglow.losses import nll_to_log_likelihood, waveglow_nll
from tests.helpers import (
    assert_config_round_trip,
    assert_model_saving_round_trip,
    assert_serialization_round_trip,
    perturb_weights,
)

BACKEND = keras.backend.backend()
VARIANTS = {
    "plain": {},
    "actnorm": {"use_actnorm": True},
    "lu": {"lu_decomposed": True},
    "weight_norm": {"weight_norm": True},
    # SqueezeWave's options: frame-rate conditioning, separable undilated convs, no skips.
    "squeeze_nearest": {
        "mel_upsampling": "nearest",
        "wn_separable": True,
        "wn_dilation_base": 1,
        "wn_skip_connections": False,
    },
    "squeeze_linear": {"mel_upsampling": "linear", "wn_separable": True, "weight_norm": True},
    # ... and the residual-only WN without the start conv's linear path into log_s.
    "squeeze_bounded": {
        "mel_upsampling": "nearest",
        "wn_separable": True,
        "wn_dilation_base": 1,
        "wn_skip_connections": False,
        "wn_linear_path": False,
    },
    # A soft clamp on every coupling's log-scale, tight enough that tanh bends.
    "clamped_log_scale": {"coupling_log_scale_bound": 0.25},
}


def test_actnorm_waits_for_a_batch_with_samples_and_keeps_float32_under_mixed_policy():
    """An empty first batch set NaN parameters for good; under a mixed policy every call wrote
    the first batch's statistics back rounded to bf16 (the scale moved by up to 1.2%)."""
    layer = ActNorm()
    layer.build((None, None, 3))
    layer(np.zeros((2, 0, 3), "float32"))
    assert float(ops.convert_to_numpy(layer.initialized)) == 0.0
    assert np.all(ops.convert_to_numpy(layer.initial_log_scale) == 0.0)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 100, 3)) * [1.0, 5.0, 0.1] + [3.0, -2.0, 0.5]).astype("float32")
    layer(x)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.initial_log_scale),
        -np.log(x.std(axis=(0, 1)) + layer.epsilon),
        atol=1e-5,
    )  # float32 statistics of 1,200 values against NumPy's float64

    mixed = ActNorm(dtype="mixed_bfloat16")
    mixed.build((None, None, 3))
    mixed(x)
    first = [ops.convert_to_numpy(v).copy() for v in (mixed.initial_bias, mixed.initial_log_scale)]
    _, log_det = mixed(x)  # a second call: nothing is re-estimated or rounded
    second = [ops.convert_to_numpy(v) for v in (mixed.initial_bias, mixed.initial_log_scale)]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert ops.convert_to_numpy(log_det).dtype == np.float32
    np.testing.assert_allclose(float(log_det), first[1].sum(), rtol=1e-6)


def test_fit_compiles_with_xla_on_every_backend():
    """TensorFlow's slogdet has no XLA kernel, and Keras compiles `fit` with XLA on a TF
    machine that sees a GPU: the plain 1x1 conv's log-determinant must compile (here forced
    on the CPU), and give the eager loss."""
    model = WaveGlow.from_preset("tiny", seed=0)
    perturb_weights(model, scale=0.05)
    mel, audio = _inputs(model)
    model.compile(optimizer=keras.optimizers.SGD(0.0), jit_compile=True)
    compiled = model.evaluate(mel, audio, batch_size=2, verbose=0, return_dict=True)["loss"]
    z, log_det = model.forward(audio, mel)
    eager = float(ops.convert_to_numpy(waveglow_nll(z, log_det)))
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    history = model.fit(mel, audio, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _inputs(model, batch=2, frames=8, seed=0):
    rng = np.random.default_rng(seed)
    mel = rng.standard_normal((batch, frames, model.n_mel_channels)).astype("float32")
    audio = (0.5 * rng.uniform(-1, 1, (batch, frames * model.hop_length))).astype("float32")
    return mel, audio


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_inverse_undoes_forward_with_perturbed_weights(variant):
    model = WaveGlow.from_preset("tiny", **VARIANTS[variant])
    perturb_weights(model, scale=0.05)
    mel, full_audio = _inputs(model)
    # All F * hop samples, and fewer (cut mid-frame): forward crops the conditioning to the
    # audio, and inverse must crop it the same way to the z it is given.
    for length in (full_audio.shape[1], full_audio.shape[1] - 264):
        audio = full_audio[:, :length]
        z, log_det = model.forward(audio, mel)
        assert tuple(z.shape) == (2, length // 8, 8)
        assert tuple(log_det.shape) == (2,)
        # The couplings really act: z is not a rotation of the audio.
        assert abs(float(ops.sum(log_det))) > 1e-2
        rebuilt = ops.convert_to_numpy(model.inverse(mel, z=z))
        # float32 through 4 flows of 2-layer WNs: a few ulps of |audio| per op, 1e-5 relative.
        np.testing.assert_allclose(rebuilt, audio, rtol=0, atol=1e-5 * np.abs(audio).max())


def _jacobian(fn, x):
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.jacfwd(fn)(x))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = fn(x)
        return tape.jacobian(y, x, experimental_use_pfor=False).numpy()
    pytest.fail(f"no Jacobian helper for backend {BACKEND}")


@contextlib.contextmanager
def _conv_implementation(name):
    """Runs the block with `name` as the dilated conv implementation, then the default."""
    set_conv_implementation(name)
    try:
        yield
    finally:
        set_conv_implementation("matmul")


def _loss_gradients(model, mel, audio):
    """Gradients of the NLL with respect to the trainable variables, as NumPy arrays."""

    def loss_of(values):
        mapping = list(zip(model.trainable_variables, values, strict=True))
        with keras.StatelessScope(state_mapping=mapping):
            z, log_det = model.forward(audio, mel)
            return waveglow_nll(z, log_det)

    values = [v.value for v in model.trainable_variables]
    if BACKEND == "jax":
        import jax

        return [np.asarray(g) for g in jax.grad(loss_of)(values)]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            z, log_det = model.forward(audio, mel)
            loss = waveglow_nll(z, log_det)
        return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    pytest.fail(f"no gradient helper for backend {BACKEND}")


@pytest.mark.parametrize(
    "variant",
    ["plain", "actnorm", "lu", "squeeze_nearest", "squeeze_linear", "clamped_log_scale"],
)
def test_log_det_equals_slogdet_of_autodiff_jacobian(variant):
    x64 = contextlib.nullcontext()
    if BACKEND == "jax":
        import jax

        x64 = jax.enable_x64(True)
    with x64:
        model = WaveGlow(
            n_mel_channels=3,
            n_flows=4,
            n_group=4,
            n_early_every=2,
            n_early_size=2,
            wn_layers=2,
            wn_channels=8,
            # Frame-rate conditioning: 2 groups per frame, so the upsampling really acts.
            hop_length=8 if "mel_upsampling" in VARIANTS[variant] else 4,
            dtype="float64",
            seed=3,
            **VARIANTS[variant],
        )
        # Without skip connections the start conv reaches log_s directly: a smaller perturbation
        # keeps |log_s| moderate, so the float64 Jacobian is well conditioned.
        scale = 0.1 if "mel_upsampling" in VARIANTS[variant] else 0.3
        perturb_weights(model, scale=scale, seed=1)
        rng = np.random.default_rng(5)
        mel = rng.standard_normal((1, 4, 3))
        audio = rng.standard_normal((1, 16))
        if variant == "actnorm":
            model.forward(audio, mel)  # data-dependent init happens once, then parameters fixed
            perturb_weights(model, scale=0.3, seed=2)

        def to_z(flat):
            z, _ = model.forward(ops.reshape(flat, (1, 16)), mel)
            return ops.reshape(z, (16,))

        jacobian = _jacobian(to_z, audio[0])
        _, expected = np.linalg.slogdet(jacobian)
        _, log_det = model.forward(audio, mel)
        assert abs(expected) > 0.1  # non-trivial
        # log_det is float32 by design: 1e-4 absolute covers its rounding of |log_det| ~ 1-10.
        np.testing.assert_allclose(float(ops.convert_to_numpy(log_det)[0]), expected, atol=1e-4)


def test_invertible_conv_log_det_finite_for_negative_determinant():
    layer = Invertible1x1Conv()
    layer.build((None, None, 4))
    weight = np.diag([-2.0, 1.0, 1.0, 1.0]).astype("float32")
    layer.weight.assign(weight)
    y, log_det = layer(np.ones((1, 3, 4), "float32"))
    assert np.isfinite(float(log_det))
    np.testing.assert_allclose(float(log_det), np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.inverse(y)), np.ones((1, 3, 4)))


def test_invertible_conv_inverse_tracks_weight_updates():
    layer = Invertible1x1Conv(seed=0)
    layer.build((None, None, 4))
    x = np.random.default_rng(0).standard_normal((1, 5, 4)).astype("float32")
    layer.inverse(x)  # would populate a cache, if there were one
    layer.weight.assign(ops.convert_to_numpy(layer.weight) * 1.5 + 0.1 * np.eye(4))
    y, _ = layer(x)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.inverse(y)), x, atol=1e-5)


def test_invertible_conv_initialised_as_rotation():
    for lu in (False, True):
        layer = Invertible1x1Conv(lu_decomposed=lu, seed=7)
        layer.build((None, None, 6))
        w = ops.convert_to_numpy(layer.matrix())
        np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-5)
        np.testing.assert_allclose(np.linalg.det(w), 1.0, atol=1e-5)


def test_actnorm_data_dependent_init_normalises_first_batch():
    layer = ActNorm()
    layer.build((None, None, 3))
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 100, 3)) * [1.0, 5.0, 0.1] + [3.0, -2.0, 0.5]).astype("float32")
    y, log_det = layer(x)
    y = ops.convert_to_numpy(y)
    np.testing.assert_allclose(y.mean(axis=(0, 1)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(0, 1)), 1.0, atol=1e-4)
    np.testing.assert_allclose(float(log_det), -np.log(x.std(axis=(0, 1))).sum(), rtol=1e-4)
    # Second batch: parameters are now fixed, not re-estimated.
    y2, _ = layer(2 * x)
    np.testing.assert_allclose(
        ops.convert_to_numpy(y2),
        2 * y
        + ops.convert_to_numpy(ops.exp(layer.initial_log_scale))
        * ops.convert_to_numpy(-layer.initial_bias),
        rtol=1e-4,
        atol=1e-4,
    )
    np.testing.assert_allclose(ops.convert_to_numpy(layer.inverse(y2)), 2 * x, atol=1e-4)


def test_mel_upsampler_equals_keras_conv1d_transpose():
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((2, 5, 6)).astype("float32")
    ours = MelUpsampler(4, hop_length=8)
    reference = keras.layers.Conv1DTranspose(4, 32, strides=8, padding="valid")
    ours.build(mel.shape)
    reference.build(mel.shape)
    kernel = rng.standard_normal((32, 4, 6)).astype("float32")
    bias = rng.standard_normal(4).astype("float32")
    assert tuple(reference.kernel.shape) == kernel.shape  # same weight layout
    for layer in (ours, reference):
        layer.kernel.assign(kernel)
        layer.bias.assign(bias)
    expected = ops.convert_to_numpy(reference(mel))
    actual = ops.convert_to_numpy(ours(mel))
    assert actual.shape == expected.shape == (2, (5 - 1) * 8 + 32, 4)
    # Same sums in another order: float32 rounding of values of size ~10.
    np.testing.assert_allclose(actual, expected, atol=1e-4)


@pytest.mark.parametrize("dilation", [1, 2, 8])
def test_matmul_conv_implementation_equals_conv(dilation):
    """The "matmul" dilated conv computes the same "same"-padded convolution as ops.conv."""
    rng = np.random.default_rng(dilation)
    x = rng.standard_normal((2, 13, 5)).astype("float32")
    layer = Conv1D(7, kernel_size=3, dilation_rate=dilation, bias_initializer="random_normal")
    layer.build(x.shape)
    with _conv_implementation("conv"):
        expected = ops.convert_to_numpy(layer(x))
    # Independent NumPy check: y[t] = b + sum_j x[t + (j - 1) * d] @ K[j], zero outside.
    kernel, bias = (ops.convert_to_numpy(w) for w in (layer.kernel, layer.bias))
    padded = np.pad(x, [(0, 0), (dilation, dilation), (0, 0)])
    numpy_ref = bias + sum(
        padded[:, j * dilation : j * dilation + 13] @ kernel[j] for j in range(3)
    )
    np.testing.assert_allclose(expected, numpy_ref, atol=1e-5)
    with _conv_implementation("matmul"):
        actual = ops.convert_to_numpy(layer(x))
    # Same products summed in another order: float32 rounding on values of size ~3.
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_conv_implementation_rejects_unknown_name():
    with pytest.raises(ValueError, match="'fft'"):
        set_conv_implementation("fft")


def test_coupling_starts_as_identity():
    layer = AffineCoupling(wn_layers=2, wn_channels=8, n_channels=4)
    layer.build((None, None, 4), (None, None, 6))
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype("float32")
    cond = np.random.default_rng(1).standard_normal((2, 5, 6)).astype("float32")
    y, log_det = layer(x, cond)
    np.testing.assert_array_equal(ops.convert_to_numpy(y), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(log_det), np.zeros(2))


def test_log_scale_bound_clamps_softly_and_keeps_the_layout():
    """`c * tanh(r / c)`: below c for any input, the raw log-scale where |r| << c."""
    free = AffineCoupling(wn_layers=2, wn_channels=8, n_channels=4)
    clamped = AffineCoupling(wn_layers=2, wn_channels=8, n_channels=4, log_scale_bound=2.0)
    x = np.random.default_rng(0).standard_normal((2, 30, 4)).astype("float32")
    cond = np.random.default_rng(1).standard_normal((2, 30, 6)).astype("float32")
    for layer in (free, clamped):
        layer.build(x.shape, cond.shape)
    assert [w.shape for w in free.weights] == [w.shape for w in clamped.weights]
    perturb_weights(free, scale=0.5)
    clamped.set_weights(free.get_weights())
    raw, b = (ops.convert_to_numpy(t) for t in free._scale_shift(x[..., :2], cond))
    log_s, b_clamped = (ops.convert_to_numpy(t) for t in clamped._scale_shift(x[..., :2], cond))
    assert np.abs(raw).max() > 4.0  # the unbounded coupling goes well past the bound here
    np.testing.assert_array_equal(b_clamped, b)  # only the scale is clamped
    np.testing.assert_allclose(log_s, 2.0 * np.tanh(raw / 2.0), rtol=1e-5, atol=1e-6)
    assert np.abs(log_s).max() <= 2.0  # float32 tanh saturates at exactly 1
    small = np.abs(raw) < 0.2  # |r| < c / 10: within 0.4% of the raw value
    assert small.any()
    np.testing.assert_allclose(log_s[small], raw[small], rtol=4e-3, atol=1e-6)
    y, log_det = clamped(x, cond)
    np.testing.assert_allclose(ops.convert_to_numpy(log_det), log_s.sum(axis=(1, 2)), rtol=1e-5)
    rebuilt = ops.convert_to_numpy(clamped.inverse(y, cond))
    np.testing.assert_allclose(rebuilt, x, atol=1e-5)


def test_log_scale_bound_refuses_non_positive_values_and_nvidia_weights():
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="log_scale_bound must be > 0"):
            AffineCoupling(n_channels=4, log_scale_bound=bad)
        with pytest.raises(ValueError, match="log_scale_bound must be > 0"):
            WaveGlow.from_preset("tiny", coupling_log_scale_bound=bad)
    from keras_waveglow.convert import load_nvidia_weights

    with pytest.raises(ValueError, match="coupling_log_scale_bound=None"):
        load_nvidia_weights(WaveGlow.from_preset("tiny", coupling_log_scale_bound=3.0), {})


def test_waveglow_nll_matches_numpy():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((3, 50, 8)).astype("float32")
    log_det = rng.standard_normal(3).astype("float32")
    for sigma in (1.0, 0.6):
        expected = ((z.astype("float64") ** 2).sum() / (2 * sigma**2) - log_det.sum()) / z.size
        np.testing.assert_allclose(float(waveglow_nll(z, log_det, sigma)), expected, rtol=1e-6)


def test_waveglow_nll_analytic_at_identity_init():
    model = WaveGlow.from_preset("tiny")
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((2, 8, 80)).astype("float32")
    audio = rng.standard_normal((2, 2048)).astype("float32")
    z, log_det = model.forward(audio, mel)
    np.testing.assert_allclose(ops.convert_to_numpy(log_det), 0.0, atol=1e-4)
    loss = float(waveglow_nll(z, log_det, sigma=1.0))
    # Rotations preserve the norm and couplings are the identity: NLL = mean(x^2) / 2.
    np.testing.assert_allclose(loss, (audio.astype("float64") ** 2).mean() / 2, rtol=1e-5)
    ll = nll_to_log_likelihood(loss, sigma=1.0)
    # Standard Gaussian data: log-likelihood about -0.5 log(2 pi e) = -1.4189 nats per sample.
    assert abs(ll["nats_per_sample"] + 1.4189) < 0.05
    np.testing.assert_allclose(ll["bits_per_sample"], ll["nats_per_sample"] / np.log(2))


def test_layer_configs_and_serialization():
    layers = [
        Conv1D(8, 3, dilation_rate=2, weight_norm=True, name="c"),
        MelUpsampler(8, hop_length=4, kernel_size=8),
        ActNorm(epsilon=1e-5),
        Invertible1x1Conv(lu_decomposed=True, seed=1),
        WN(4, n_layers=3, n_channels=8, kernel_size=5, weight_norm=True),
        AffineCoupling(wn_layers=2, wn_channels=8, n_channels=6),
        SeparableConv1D(8, 5, dilation_rate=3, weight_norm=True),
        WN(
            4,
            n_layers=2,
            n_channels=8,
            separable=True,
            dilation_base=1,
            skip_connections=False,
            cond_upsampling="linear",
            cond_factor=4,
        ),
        WN(4, n_layers=2, n_channels=8, skip_connections=False, linear_path=False),
        AffineCoupling(n_channels=6, wn_options={"separable": True, "cond_upsampling": "nearest"}),
        AffineCoupling(wn_layers=2, wn_channels=8, n_channels=6, log_scale_bound=4.0),
    ]
    for layer in layers:
        assert_config_round_trip(layer)
        assert_serialization_round_trip(layer)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_keras_round_trip(variant, tmp_path):
    model = WaveGlow.from_preset("tiny", **VARIANTS[variant])
    perturb_weights(model)
    mel, audio = _inputs(model, batch=1)
    model.forward(audio, mel)  # actnorm initialises here
    z = np.random.default_rng(3).standard_normal((1, audio.shape[1] // 8, 8)).astype("float32")

    def outputs(m):
        return (*m.forward(audio, mel), m.inverse(mel, z=z))

    reloaded = assert_model_saving_round_trip(model, outputs, tmp_path)
    assert reloaded.mel_config == model.mel_config


def test_fit_lowers_loss():
    model = WaveGlow.from_preset("tiny")
    rng = np.random.default_rng(0)
    n, frames = 8, 8
    mel = rng.standard_normal((n, frames, 80)).astype("float32")
    t = np.arange(frames * 256) / 16000
    audio = (0.3 * np.sin(2 * np.pi * rng.uniform(100, 400, (n, 1)) * t)).astype("float32")
    audio += 0.01 * rng.standard_normal(audio.shape).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(mel, audio, batch_size=4, epochs=10, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 10 and np.all(np.isfinite(losses))
    assert losses[-1] < losses[0] - 0.5, losses


def test_mixed_precision_keeps_log_det_float32():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = WaveGlow.from_preset("tiny", use_actnorm=True)
    perturb_weights(model)
    mel, audio = _inputs(model)
    z, log_det = model.forward(audio, mel)
    assert keras.backend.standardize_dtype(log_det.dtype) == "float32"
    assert keras.backend.standardize_dtype(z.dtype) == "bfloat16"
    assert np.all(np.isfinite(ops.convert_to_numpy(ops.cast(z, "float32"))))
    assert np.all(np.isfinite(ops.convert_to_numpy(log_det)))
    audio_out = model.inverse(mel, sigma=0.6, seed=0)
    assert keras.backend.standardize_dtype(audio_out.dtype) == "float32"
    assert np.all(np.isfinite(ops.convert_to_numpy(audio_out)))
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32" for v in model.weights)


@pytest.fixture
def dtype_policy():
    """Sets the global dtype policy for one test and restores it afterwards, also on failure."""
    previous = keras.config.dtype_policy()
    yield keras.config.set_dtype_policy
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_lu_convs_run_under_mixed_precision_with_float32_log_dets(policy, dtype_policy):
    dtype_policy(policy)
    model = WaveGlow.from_preset("tiny", lu_decomposed=True, seed=0)
    perturb_weights(model)
    mel, audio = _inputs(model, frames=8)
    z, log_det = model.forward(audio, mel)
    assert keras.backend.standardize_dtype(log_det.dtype) == "float32"
    assert np.all(np.isfinite(ops.convert_to_numpy(log_det)))
    assert keras.backend.standardize_dtype(z.dtype) == policy.split("_")[1]
    for conv in model.convinvs:  # float32 factors and log-det inside the layer's call too
        _, step_log_det = conv(ops.cast(z[..., : conv.channels], model.compute_dtype))
        assert keras.backend.standardize_dtype(step_log_det.dtype) == "float32"
        expected = np.sum(ops.convert_to_numpy(conv.log_s))
        np.testing.assert_allclose(ops.convert_to_numpy(step_log_det), expected, rtol=1e-6)
    rebuilt = ops.convert_to_numpy(model.inverse(mel, z=z))
    assert rebuilt.dtype == np.float32
    np.testing.assert_allclose(rebuilt, audio, atol=0.05)  # rounded to the compute dtype
    vocoded = ops.convert_to_numpy(model(mel))
    assert vocoded.shape == (2, 8 * 256) and np.all(np.isfinite(vocoded))


def test_inverse_output_length_and_seeded_sampling():
    model = WaveGlow.from_preset("tiny")
    mel, _ = _inputs(model, batch=2, frames=5)
    a = ops.convert_to_numpy(model.inverse(mel, sigma=0.6, seed=42))
    b = ops.convert_to_numpy(model.inverse(mel, sigma=0.6, seed=42))
    c = ops.convert_to_numpy(model.inverse(mel, sigma=0.6, seed=43))
    assert a.shape == (2, 5 * 256) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    # At identity init, audio is a rotation of z: its std follows sigma.
    np.testing.assert_allclose(a.std(), 0.6, rtol=0.1)


@pytest.mark.parametrize(
    "audio_shape, mel_shape, message",
    [
        ((1, 2052), (1, 9, 80), "multiple of n_group"),
        ((1, 2048), (1, 8, 40), "80 channels"),
        ((1, 2048), (1, 4, 80), "mel too short"),
        ((2048,), (1, 8, 80), "rank 2"),
        ((1, 2048), (8, 80), "rank 3"),
        ((2, 2048), (1, 8, 80), "batch sizes differ"),
    ],
)
def test_bad_input_raises_clear_value_error(audio_shape, mel_shape, message):
    model = WaveGlow.from_preset("tiny")
    with pytest.raises(ValueError, match=message):
        model.forward(np.zeros(audio_shape, "float32"), np.zeros(mel_shape, "float32"))


def test_bad_inverse_inputs_raise():
    model = WaveGlow.from_preset("tiny")
    with pytest.raises(ValueError, match="80 channels"):
        model.inverse(np.zeros((1, 4, 81), "float32"))
    with pytest.raises(ValueError, match="z must have shape"):
        model.inverse(np.zeros((1, 4, 80), "float32"), z=np.zeros((1, 128, 4), "float32"))
    # 4 frames allow 4 * 256 = 1024 samples, 128 steps of 8; one step more is refused.
    with pytest.raises(ValueError, match=r"1032 samples > 4 frames x hop 256 = 1024 samples"):
        model.inverse(np.zeros((1, 4, 80), "float32"), z=np.zeros((1, 129, 8), "float32"))
    with pytest.raises(ValueError, match="z and mel batch sizes differ: 2 vs 1"):
        model.inverse(np.zeros((1, 4, 80), "float32"), z=np.zeros((2, 128, 8), "float32"))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="multiple of n_group"):
        WaveGlow(hop_length=100, n_group=8)
    with pytest.raises(ValueError, match="mel_upsampling must be one of"):
        WaveGlow(mel_upsampling="cubic")
    with pytest.raises(ValueError, match="cond_upsampling must be"):
        WN(4, cond_upsampling="learned")
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        SeparableConv1D(4, kernel_size=2)
    with pytest.raises(ValueError, match="upsampling mode must be one of"):
        upsample_frames(np.zeros((1, 2, 3), "float32"), 2, "cubic")
    with pytest.raises(ValueError, match="do not fit"):
        WaveGlow(n_group=4, n_early_every=1, n_early_size=2, n_flows=4)


@pytest.mark.parametrize("setting", ["remat", "matmul"])
def test_training_gradients_unchanged_by_remat_and_matmul_conv(setting):
    """Rematerialised WN layers and the matmul dilated conv give the same loss gradients."""
    mel, audio = _inputs(WaveGlow.from_preset("tiny"), batch=2, frames=4)
    reference = WaveGlow.from_preset("tiny", seed=3)
    perturb_weights(reference, scale=0.05)
    variant = WaveGlow.from_preset("tiny", seed=3, remat=setting == "remat")
    variant.set_weights(reference.get_weights())
    with _conv_implementation("conv"):
        expected = _loss_gradients(reference, mel, audio)
    with _conv_implementation("matmul" if setting == "matmul" else "conv"):
        actual = _loss_gradients(variant, mel, audio)
    assert len(actual) == len(expected) == len(reference.trainable_variables)
    for a, e in zip(actual, expected, strict=True):
        # Same sums, possibly reordered: float32 rounding relative to the largest gradient.
        np.testing.assert_allclose(a, e, atol=1e-5 * max(1.0, np.abs(e).max()))


# ------------------------------------------------------------------------------------------
# SqueezeWave options: frame-rate conditioning, separable convs, weight-norm folding
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def squeeze_tiny():
    """The "squeezewave_tiny" preset (64-sample groups, 4 per frame, 16-channel early outputs)
    with perturbed weights, built once for the module."""
    model = WaveGlow.from_preset("squeezewave_tiny", seed=0)
    perturb_weights(model, scale=0.05)
    return model


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_upsample_frames_matches_numpy(factor):
    rng = np.random.default_rng(factor)
    x = rng.standard_normal((2, 5, 3)).astype("float32")
    nearest = ops.convert_to_numpy(upsample_frames(x, factor, "nearest"))
    np.testing.assert_array_equal(nearest, np.repeat(x, factor, axis=1))
    # Linear: output j sits at frame position (j + 0.5) / factor - 0.5, clamped to the ends.
    positions = np.clip((np.arange(5 * factor) + 0.5) / factor - 0.5, 0, 4)
    expected = np.stack(
        [
            np.stack([np.interp(positions, np.arange(5), x[b, :, c]) for c in range(3)], -1)
            for b in range(2)
        ]
    )
    linear = ops.convert_to_numpy(upsample_frames(x, factor, "linear"))
    # Two float32 products per value of size ~1: a few ulps.
    np.testing.assert_allclose(linear, expected, atol=1e-6)


@pytest.mark.parametrize("weight_norm", [False, True])
def test_separable_conv_matches_numpy(weight_norm):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 11, 4)).astype("float32")
    layer = SeparableConv1D(6, 3, dilation_rate=2, weight_norm=weight_norm)
    layer.build(x.shape)
    perturb_weights(layer, scale=0.3)
    depthwise, pointwise, bias = layer.folded_weights()
    if weight_norm:  # g * v / ||v||, the norm over the taps (depthwise) or inputs (pointwise)
        v = ops.convert_to_numpy(layer.depthwise_kernel_v)
        g = ops.convert_to_numpy(layer.depthwise_kernel_g)
        np.testing.assert_allclose(depthwise, g * v / np.linalg.norm(v, axis=0), rtol=1e-5)
    padded = np.pad(x, [(0, 0), (2, 2), (0, 0)])
    taps = sum(padded[:, 2 * j : 2 * j + 11] * depthwise[j] for j in range(3))
    expected = taps @ pointwise + bias
    # float32 sums of a dozen products of size ~1.
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_frame_rate_conditioning_equals_conditioning_on_the_upsampled_mel(mode):
    """WN's conditioning conv at the frame rate, then upsampled, is the conv of the mel
    upsampled first (both maps are affine with weights summing to 1)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 10, 3)).astype("float32")
    mel = rng.standard_normal((2, 4, 5)).astype("float32")  # 4 frames x 3 steps >= 10 steps
    options = {"n_layers": 2, "n_channels": 8, "separable": True, "dilation_base": 1}
    at_frames = WN(6, cond_upsampling=mode, cond_factor=3, **options)
    at_frames.build(x.shape, mel.shape)
    perturb_weights(at_frames, scale=0.3)
    at_steps = WN(6, **options)
    at_steps.build(x.shape, mel.shape)
    at_steps.set_weights(at_frames.get_weights())
    upsampled = ops.convert_to_numpy(upsample_frames(mel, 3, mode))[:, :10]
    # The same products summed in another order: float32 rounding on outputs of size ~1.
    np.testing.assert_allclose(
        ops.convert_to_numpy(at_frames(x, mel)),
        ops.convert_to_numpy(at_steps(x, upsampled)),
        atol=1e-5,
    )


def test_squeezewave_preset_shapes_and_invertibility(squeeze_tiny):
    model = squeeze_tiny
    assert model.upsample is None  # no learned upsampler
    assert model.flow_channels == [64, 64, 48, 48]  # 16 channels out every 2 flows
    mel, full_audio = _inputs(model, frames=6)
    # All F * hop samples, and 5 groups fewer (mid-frame): each WN crops its frame-rate
    # conditioning to z's length in both directions.
    for steps in (6 * 4, 6 * 4 - 5):
        audio = full_audio[:, : steps * 64]
        z, log_det = model.forward(audio, mel)
        assert tuple(z.shape) == (2, steps, 64)
        assert abs(float(ops.sum(log_det))) > 1e-2
        rebuilt = ops.convert_to_numpy(model.inverse(mel, z=z))
        # float32 through 4 flows: as for the WaveGlow presets, 1e-5 of |audio|.
        np.testing.assert_allclose(rebuilt, audio, rtol=0, atol=1e-5 * np.abs(audio).max())
    with pytest.raises(ValueError, match="z too long for the mel"):
        model.inverse(mel[:, :4], z=z)  # 19 x 64 = 1216 samples > 4 x 256
    sampled = model.inverse(mel, sigma=0.6, seed=0)
    assert tuple(sampled.shape) == (2, 6 * 256)


def test_squeezewave_keras_round_trip(squeeze_tiny, tmp_path):
    mel, audio = _inputs(squeeze_tiny, batch=1, frames=4)
    config = squeeze_tiny.get_config()
    assert (config["mel_upsampling"], config["wn_separable"]) == ("nearest", True)
    assert (config["wn_dilation_base"], config["wn_skip_connections"]) == (1, False)

    def outputs(m):
        return m.forward(audio, mel)

    assert_model_saving_round_trip(squeeze_tiny, outputs, tmp_path)


@pytest.mark.parametrize("linear_path", [True, False])
def test_residual_only_wn_output_bounded_without_linear_path(linear_path):
    """Without the linear path, |log_s| and |b| are bounded by the weights for any input.

    The gated activations lie in (-1, 1), so the sum of the layers' 1x1 outputs is bounded by
    the L1 norms of their kernels plus their biases, and the end conv's output by its own
    kernel's L1 norm times that plus its bias. With the linear path the end conv also sees
    start(x), which grows with x: a loud input exceeds the bound (the feedback that made the
    SqueezeWave presets diverge), so this test tells the two apart.
    """
    wn = WN(6, n_layers=3, n_channels=8, skip_connections=False, linear_path=linear_path)
    x = np.random.default_rng(0).standard_normal((2, 20, 3)).astype("float32")
    cond = np.random.default_rng(1).standard_normal((2, 20, 5)).astype("float32")
    wn.build(x.shape, cond.shape)
    perturb_weights(wn, scale=0.5)  # the end conv starts at zero
    res_bound = sum(
        np.abs(k).sum(axis=(0, 1)) + np.abs(b)
        for k, b in (r.get_weights() for r in wn.res_skip_layers)
    )
    end_kernel, end_bias = wn.end.get_weights()
    bound = (np.abs(end_kernel[0]) * res_bound[:, None]).sum(axis=0) + np.abs(end_bias)
    loud = np.abs(ops.convert_to_numpy(wn(1e4 * x, cond))).max(axis=(0, 1))
    if linear_path:
        assert np.all(loud > 10 * bound)
    else:
        assert np.all(loud <= bound * (1 + 1e-5))


def test_linear_path_option_keeps_the_weight_layout():
    """The option adds no weights; the SqueezeWave presets (the bundled model's too) drop the
    linear path, and WaveGlow's own default keeps the paper's form."""
    assert WaveGlow.from_preset("tiny").wn_linear_path
    assert not WaveGlow.from_preset("squeezewave_128s", load_weights=False).wn_linear_path
    bundled = WaveGlow.from_preset("squeezewave_128s_klettres", load_weights=False)
    assert not bundled.wn_linear_path
    assert WaveGlow.from_preset("squeezewave_128s_linear", load_weights=False).wn_linear_path
    paper = WaveGlow.from_preset("squeezewave_tiny", seed=0, wn_linear_path=True)
    bounded = WaveGlow.from_preset("squeezewave_tiny", seed=0)
    assert [w.shape for w in paper.weights] == [w.shape for w in bounded.weights]
    perturb_weights(paper, scale=0.05)
    bounded.set_weights(paper.get_weights())
    mel, audio = _inputs(paper, batch=1, frames=4)
    assert not np.allclose(
        ops.convert_to_numpy(paper.forward(audio, mel)[0]),
        ops.convert_to_numpy(bounded.forward(audio, mel)[0]),
    )


def test_fold_weight_norm_keeps_the_function():
    model = WaveGlow.from_preset("squeezewave_tiny", weight_norm=True, use_actnorm=True, seed=1)
    perturb_weights(model, scale=0.05)
    mel, audio = _inputs(model, batch=1, frames=4)
    z, log_det = model.forward(audio, mel)  # actnorm initialises here, and is copied
    folded = fold_weight_norm(model)
    assert not folded.weight_norm
    assert not any("_v" in w.path.split("/")[-1] for w in folded.weights)
    assert len(folded.weights) < len(model.weights)
    folded_z, folded_log_det = folded.forward(audio, mel)
    # g * v / ||v|| computed once instead of per call: float32 rounding of values ~1.
    np.testing.assert_allclose(ops.convert_to_numpy(folded_z), ops.convert_to_numpy(z), atol=1e-5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(folded_log_det), ops.convert_to_numpy(log_det), rtol=1e-5
    )


def test_nvidia_presets_keep_their_weight_layout():
    """The new options default to WaveGlow: nvidia-shaped presets build the same variables."""
    model = WaveGlow.from_preset("tiny")
    paths = [w.path for w in model.weights]
    assert [p.split("/", 1)[1] for p in paths[:2]] == ["upsample/kernel", "upsample/bias"]
    assert not any("depthwise" in p or "pointwise" in p for p in paths)
    # 4 flows: 1x1 conv + (start, cond, 2 x in, 2 x res_skip, end) x (kernel, bias).
    assert len(paths) == 2 + 4 * (1 + 7 * 2)
    assert [w.shape for w in model.couplings[0].wn.res_skip_layers[0].weights] == [
        (1, 16, 32),
        (32,),
    ]


# --------------------------------------------------------------------------------------------
# Constructor ranges, weights files that do not fit, sample weights
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("n_early_every", 0, "n_early_every must be >= 1; got 0"),
        ("hop_length", 0, "hop_length must be >= 1; got 0"),
        ("n_early_size", -2, "n_early_size must be >= 0; got -2"),
        ("n_flows", 0, "n_flows must be >= 1; got 0"),
        ("wn_layers", 0, "wn_layers must be >= 1; got 0"),
        ("wn_channels", 0, "wn_channels must be >= 1; got 0"),
        ("n_mel_channels", 0, "n_mel_channels must be >= 1; got 0"),
        ("wn_kernel_size", 2, "wn_kernel_size must be odd; got 2"),
        ("wn_dilation_base", 0, "wn_dilation_base must be >= 1; got 0"),
    ],
)
def test_constructor_arguments_out_of_range_are_named(argument, value, message):
    with pytest.raises(ValueError, match=message):
        WaveGlow.from_preset("tiny", **{argument: value})


def test_no_early_outputs_is_a_valid_flow():
    """n_early_size=0, the lower end of its range, keeps every channel to the end."""
    model = WaveGlow.from_preset("tiny", n_early_size=0, seed=0)
    perturb_weights(model)
    mel, audio = _inputs(model, batch=1, frames=4)
    z, _ = model.forward(audio, mel)
    back = ops.convert_to_numpy(model.inverse(mel, z=z))
    np.testing.assert_allclose(back, audio, atol=1e-4)


def test_weights_saved_by_a_compiled_and_fitted_model_load_everywhere(tmp_path):
    """`save_weights` after compile + fit also writes the optimizer's state: the weights
    still load through `from_preset(weights=...)` (and so `--weights`, `--init-from`)."""
    from keras_waveglow.training import load_initial_weights

    model = WaveGlow.from_preset("tiny", seed=0)
    model.compile(keras.optimizers.Adam(1e-3))
    mel, audio = _inputs(model, batch=2, frames=8)
    model.fit(mel, audio, epochs=1, verbose=0)
    path = tmp_path / "fitted.weights.h5"
    model.save_weights(path)
    with h5py.File(path) as handle:
        assert "optimizer" in handle  # what made the check refuse the file before
    want = ops.convert_to_numpy(model.inverse(mel, sigma=0.0))
    for loaded in (
        WaveGlow.from_preset("tiny", weights=path),
        load_initial_weights(WaveGlow.from_preset("tiny", seed=5), path),
    ):
        got = ops.convert_to_numpy(loaded.inverse(mel, sigma=0.0))
        np.testing.assert_array_equal(got, want)


def test_weights_file_of_another_flow_count_is_refused(tmp_path):
    from keras_waveglow.flow import check_weights_file

    four = WaveGlow.from_preset("tiny", seed=0)
    path = tmp_path / "four.weights.h5"
    four.save_weights(path)
    check_weights_file(WaveGlow.from_preset("tiny", seed=1), path)  # the same configuration
    fewer = WaveGlow.from_preset("tiny", n_flows=2, seed=0)
    misfit = r"four\.weights\.h5: its weights do not fit this WaveGlow .*: the file holds "
    with pytest.raises(
        ValueError, match=misfit + r"\d+ arrays, the model \d+; shapes only in the file"
    ):
        check_weights_file(fewer, path)
    more = WaveGlow.from_preset("tiny", n_flows=6, n_early_every=4, seed=0)
    with pytest.raises(ValueError, match=misfit + r".*shapes only in the model: "):
        check_weights_file(more, path)
    layers = WaveGlow.from_preset("tiny", wn_layers=1, seed=0)
    with pytest.raises(ValueError, match=misfit + r".*shapes only in the file: "):
        check_weights_file(layers, path)
    wider = WaveGlow.from_preset("tiny", wn_channels=8, seed=0)
    with pytest.raises(
        ValueError,
        match=misfit + r"62 arrays, the model 62; shapes only in the file: .*only in the model",
    ):
        check_weights_file(wider, path)
    not_hdf5 = tmp_path / "text.weights.h5"
    not_hdf5.write_text("not HDF5")
    with pytest.raises(ValueError, match=r"text\.weights\.h5: not a \.weights\.h5 \(HDF5\) file"):
        check_weights_file(four, not_hdf5)
    cut = tmp_path / "cut.weights.h5"  # a copy or download cut short: HDF5's signature, no end
    cut.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ValueError, match=r"cut\.weights\.h5: an HDF5 file that cannot be read "):
        check_weights_file(four, cut)


def test_preset_weights_refuse_overrides_that_drop_flows():
    """Keras' load_weights skips arrays the model lacks: 8 of the preset's 12 flows loaded
    silently before; the bundled weights still load as they are."""
    name = "squeezewave_128s_klettres"
    # The preset's own weights: refused by name before loading (review 6).
    with pytest.raises(ValueError, match=rf"Preset '{name}' .*\['n_flows'\] would change"):
        WaveGlow.from_preset(name, n_flows=8)
    # The same file given as weights= (a user's file): the shapes decide.
    from keras_waveglow import hub

    path = hub.preset_weights_file(name)
    with pytest.raises(ValueError, match=r"squeezewave_128s'.*weights\.h5.*shapes only in"):
        WaveGlow.from_preset("squeezewave_128s", n_flows=8, weights=path)
    assert WaveGlow.from_preset(name).n_flows == 12


def _weighted_batch():
    model = WaveGlow.from_preset("tiny", seed=0)
    perturb_weights(model)
    mel, audio = _inputs(model, batch=4, frames=4)
    return model, mel, audio


def test_sample_weight_weights_the_per_example_nll():
    """Keras' default reduction: sum_b w_b * nll_b / B, where nll_b is example b's NLL."""
    model, mel, audio = _weighted_batch()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    z, log_det = model.forward(audio, mel)
    per_example = np.array(
        [float(waveglow_nll(z[b : b + 1], log_det[b : b + 1])) for b in range(4)]
    )
    assert np.ptp(per_example) > 1e-3  # the examples differ, so weighting shows

    def evaluate(weights):
        return model.evaluate(mel, audio, sample_weight=weights, batch_size=4, verbose=0)

    np.testing.assert_allclose(evaluate(None), per_example.mean(), rtol=1e-5)
    np.testing.assert_allclose(evaluate(np.ones(4, "float32")), per_example.mean(), rtol=1e-5)
    assert evaluate(np.zeros(4, "float32")) == 0.0
    weights = np.array([2.0, 0.0, 1.0, 0.5], "float32")
    expected = np.sum(weights * per_example) / 4
    np.testing.assert_allclose(evaluate(weights), expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"sample_weight must hold one weight per example"):
        model.compute_loss(mel, audio, sample_weight=np.ones((4, 3), "float32"), training=False)
    with pytest.raises(ValueError, match=r"sample_weight has 3 weights for a batch of 4"):
        model.compute_loss(mel, audio, sample_weight=np.ones(3, "float32"), training=False)


def test_zero_sample_weights_leave_the_model_untrained():
    model, mel, audio = _weighted_batch()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = [ops.convert_to_numpy(w) for w in model.trainable_weights]
    model.fit(mel, audio, sample_weight=np.zeros(4, "float32"), batch_size=4, verbose=0)
    for a, b in zip(model.trainable_weights, before, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), b)
    model.fit(mel, audio, sample_weight=np.ones(4, "float32"), batch_size=4, verbose=0)
    changed = [
        not np.array_equal(ops.convert_to_numpy(a), b)
        for a, b in zip(model.trainable_weights, before, strict=True)
    ]
    assert any(changed)


def test_from_preset_loads_a_given_weights_file(tmp_path):
    # The documented way to load a fine-tuned, averaged or exported file onto its preset.
    source = WaveGlow.from_preset("tiny", seed=0)
    for variable in source.trainable_variables:
        variable.assign(variable + 0.01)
    path = tmp_path / "tuned.weights.h5"
    source.save_weights(path)
    loaded = WaveGlow.from_preset("tiny", weights=path, seed=3)
    for got, want in zip(loaded.weights, source.weights, strict=True):
        np.testing.assert_array_equal(ops.convert_to_numpy(got), ops.convert_to_numpy(want))
    with pytest.raises(ValueError, match=r"Preset 'tiny': .*tuned\.weights\.h5.*do not fit"):
        WaveGlow.from_preset("tiny", weights=path, n_flows=2)
    # Not a weights file at all: said as such, without an empty "overrides {}" or a misfit.
    (tmp_path / "text.weights.h5").write_text("not HDF5\n")
    with pytest.raises(ValueError, match=r"Preset 'tiny': cannot load its weights") as caught:
        WaveGlow.from_preset("tiny", weights=tmp_path / "text.weights.h5")
    assert "overrides" not in str(caught.value) and "HDF5" in str(caught.value)
    with pytest.raises(ValueError, match="contradicts load_weights=False"):
        WaveGlow.from_preset("tiny", weights=path, load_weights=False)
    with pytest.raises(FileNotFoundError, match=r"missing\.weights\.h5: no such weights file"):
        WaveGlow.from_preset("tiny", weights=tmp_path / "missing.weights.h5")


def test_misspelt_preset_override_is_named_before_any_download(monkeypatch):
    from keras_waveglow import hub

    def no_download(*args, **kwargs):
        raise AssertionError("the weights were fetched before the arguments were checked")

    monkeypatch.setattr(hub, "preset_weights_file", no_download)
    with pytest.raises(ValueError, match=r"Preset 'nvidia_universal': unknown WaveGlow .*'sead'"):
        WaveGlow.from_preset("nvidia_universal", sead=3)
    assert WaveGlow.from_preset("tiny", trainable=False, seed=2).trainable is False


def test_public_layers_build_on_their_first_call_and_name_wrong_shapes():
    """Every layer of the flow works as a plain Keras layer: called without `build()` it
    builds itself, inverts its call, and a wrong input says which layer and which shape
    (the backends' own messages named neither; a 2-D input was taken silently)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 10, 4)).astype("float32")
    cond = rng.standard_normal((2, 10, 5)).astype("float32")
    coupling = AffineCoupling(wn_layers=2, wn_channels=8, n_channels=4)
    y, log_det = coupling(x, cond)
    assert tuple(log_det.shape) == (2,)
    perturb_weights(coupling)  # the end conv starts at zero (identity): make it do something
    y, _ = coupling(x, cond)
    assert not np.allclose(ops.convert_to_numpy(y), x)
    np.testing.assert_allclose(ops.convert_to_numpy(coupling.inverse(y, cond)), x, atol=1e-5)
    assert tuple(WN(4, 2, 8)(x, cond).shape) == (2, 10, 4)
    for layer in (ActNorm(), Invertible1x1Conv(seed=0), Invertible1x1Conv(lu_decomposed=True)):
        y, _ = layer(x)
        np.testing.assert_allclose(ops.convert_to_numpy(layer.inverse(y)), x, atol=1e-5)
        with pytest.raises(ValueError, match=r"x must have 4 channels \(as it was built\); got "):
            layer(np.zeros((2, 10, 6), "float32"))
        with pytest.raises(ValueError, match=r"y must have 4 channels"):
            layer.inverse(np.zeros((2, 10, 6), "float32"))
        with pytest.raises(ValueError, match=r"x must be \(batch, time, channels\); got shape"):
            type(layer)()(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"AffineCoupling '\w+': x must have 4 channels"):
        coupling(np.zeros((2, 10, 6), "float32"), cond)
    with pytest.raises(ValueError, match=r"cond must be \(batch, time, channels\)"):
        AffineCoupling(wn_layers=2, wn_channels=8, n_channels=4)(x, cond[0])
