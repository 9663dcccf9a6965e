"""WaveGlow's input and argument checks: in traced steps, before Keras, and in constructors."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from keras_waveglow import ActNorm, Conv1D, SeparableConv1D, WaveGlow
from keras_waveglow.layers import WN, AffineCoupling, Invertible1x1Conv, MelUpsampler

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    import tensorflow as tf

    # A check of a dimension unknown at trace time runs in the step: TensorFlow's error.
    TRACED_ERRORS = (ValueError, tf.errors.InvalidArgumentError)
else:
    TRACED_ERRORS = (ValueError,)


def _data(batch=2, frames=9, samples=2048, seed=0):
    rng = np.random.default_rng(seed)
    mel = (rng.standard_normal((batch, frames, 80)) - 5).astype("float32")
    audio = (0.1 * rng.standard_normal((batch, samples))).astype("float32")
    return mel, audio


def _batches(*arrays):
    """A one-batch generator: not an array, so `fit`/`evaluate`/`predict` leave its checks
    to the traced step."""
    yield arrays


@pytest.fixture
def compiled():
    model = WaveGlow.from_preset("tiny", seed=0)
    model.compile(keras.optimizers.Adam(1e-4))
    return model


# --------------------------------------------------------------------------------------------
# Shape checks in steps traced again with relaxed shapes (TensorFlow: unknown dimensions)
# --------------------------------------------------------------------------------------------


_SHORT = r"mel too short for the audio: 6 frames x hop 256 = 1536 samples < 2048 audio samples"
# method, two good (mel, audio) batches of other shapes, the bad batch, its message. Frames
# (or samples, or channels) that differ between the good batches make TensorFlow trace the
# step again with that dimension unknown, where no static check can see the bad batch.
_RETRACED = {
    "evaluate, mel too short": ("evaluate", [(9, 2048), (8, 2048)], (6, 2048), _SHORT),
    "fit, mel too short": ("fit", [(9, 2048), (8, 2048)], (6, 2048), _SHORT),
    "fit, audio length": (
        "fit",
        [(9, 2048), (9, 2040)],
        (9, 2044),
        "audio length must be a multiple of n_group=8; got 2044 samples",
    ),
    "predict, mel channels": (
        "predict",
        [(9, None), (8, None)],
        (9, None, 79),
        r"mel must have 80 channels on its last axis \(batch, frames, n_mels\); got shape",
    ),
}


@pytest.mark.parametrize("case", sorted(_RETRACED))
def test_traced_steps_refuse_bad_batches_after_retracing_with_other_shapes(case, compiled):
    """The static checks' refusals also where TensorFlow traces a dimension as unknown (a
    run-time check with the same message). The refused call leaves the weights as they were:
    on JAX, Keras 3.15.1 took every variable's value out before tracing and an error there
    left the model without weights (`flow._KeepWeightsOnJax` puts them back)."""
    method, good, bad, message = _RETRACED[case]
    mel, audio = _data()

    def batches(frames, samples, channels=80):
        if samples is None:  # predict: mels only
            return _batches(mel[:, :frames, :channels])
        return _batches(mel[:, :frames, :channels], audio[:, :samples])

    for shape in good:
        getattr(compiled, method)(batches(*shape), verbose=0)
    weights = compiled.get_weights()
    with pytest.raises(TRACED_ERRORS, match=message):
        getattr(compiled, method)(batches(*bad), verbose=0)
    for before, after in zip(weights, compiled.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert ops.convert_to_numpy(compiled.inverse(mel, seed=0)).shape == (2, 9 * 256)


# --------------------------------------------------------------------------------------------
# fit / evaluate / predict check arrays before Keras (JAX would lose the weights otherwise)
# --------------------------------------------------------------------------------------------


def test_refused_fit_evaluate_predict_leave_the_model_usable(compiled):
    """On JAX, Keras 3.15.1 leaves every variable None when an error is raised while it traces
    a step; arrays are checked before, so a refused call keeps the weights."""
    mel, audio = _data()
    weights = compiled.get_weights()
    with pytest.raises(ValueError, match="mel too short for the audio: 6 frames"):
        compiled.fit(mel[:, :6], audio, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match="mel too short for the audio: 7 frames"):
        compiled.fit(mel, audio, validation_data=(mel[:, :7], audio), verbose=0)
    with pytest.raises(ValueError, match=r"take \(mel, audio\) pairs; got no audio"):
        compiled.evaluate(mel, verbose=0)
    with pytest.raises(ValueError, match="80 channels on its last axis"):
        compiled.predict(mel[..., :79], verbose=0)
    with pytest.raises(ValueError, match="one weight per example"):
        compiled.fit(mel, audio, sample_weight=np.ones((2, 3), "float32"), verbose=0)
    # The same arguments by position (keras.Model.fit: batch_size, epochs, verbose,
    # callbacks, validation_split, validation_data; evaluate: batch_size, verbose,
    # sample_weight): they reached the traced step unchecked.
    with pytest.raises(ValueError, match="mel too short for the audio: 5 frames"):
        compiled.fit(mel, audio, 2, 1, 0, None, 0.0, (mel[:, :5], audio))
    with pytest.raises(ValueError, match="one weight per example"):
        compiled.evaluate(mel, audio, 2, 0, np.ones((2, 3), "float32"))
    for before, after in zip(weights, compiled.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert ops.convert_to_numpy(compiled.inverse(mel, seed=0)).shape == (2, 9 * 256)
    assert np.isfinite(compiled.evaluate(mel, audio, batch_size=2, verbose=0))
    assert np.isfinite(compiled.fit(mel, audio, batch_size=2, verbose=0).history["loss"][0])


def _small_discriminator():
    """One period and one scale at 1/32 width: these tests are about the inputs a GAN refuses,
    and every `fit` retraces the step, which the full discriminators make minutes long."""
    from keras_waveglow import WaveDiscriminator

    return WaveDiscriminator(periods=(2,), n_scales=1, width=1 / 32)


def test_a_refused_gan_fit_leaves_both_networks_usable():
    """The same for `WaveGlowGAN`: its arrays are checked by its WaveGlow before Keras traces."""
    from keras_waveglow import WaveGlowGAN

    gan = WaveGlowGAN(WaveGlow.from_preset("tiny", seed=0), _small_discriminator())
    gan.compile()
    mel, audio = _data()
    gan.fit(mel, audio, batch_size=2, verbose=0)  # builds every variable
    weights = gan.get_weights()
    with pytest.raises(ValueError, match="mel too short for the audio: 6 frames"):
        gan.fit(mel[:, :6], audio, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match=r"take \(mel, audio\) pairs; got no audio"):
        gan.evaluate(mel, verbose=0)
    with pytest.raises(ValueError, match="mel too short for the audio: 7 frames"):
        gan.fit(mel, audio, validation_data=(mel[:, :7], audio), verbose=0)
    # Sample weights were dropped silently: the GAN's terms have no per-example form.
    expected = r"WaveGlowGAN does not weight examples .* so sample_weight would be ignored"
    with pytest.raises(ValueError, match=expected):
        gan.fit(mel, audio, sample_weight=np.ones(2, "float32"), verbose=0)
    with pytest.raises(ValueError, match=expected):
        gan.evaluate(mel, audio, 2, 0, np.ones(2, "float32"))
    # A dataset is checked in the traced step: refused there, the weights stay (on JAX they
    # were all emptied).
    with pytest.raises(TRACED_ERRORS, match="80 channels on its last axis"):
        gan.fit(_batches(mel[..., :79], audio), verbose=0)
    for before, after in zip(weights, gan.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert np.isfinite(gan.fit(mel, audio, batch_size=2, verbose=0).history["loss"][0])


def test_a_gan_refuses_a_dataset_s_sample_weights_and_keeps_its_weights():
    """A third element in a dataset's batches is refused when the step is traced, as arrays
    are before; on JAX the refusal no longer leaves the networks without weights (it was a
    warning for that reason)."""
    from keras_waveglow import WaveGlowGAN

    gan = WaveGlowGAN(WaveGlow.from_preset("tiny", seed=0), _small_discriminator())
    gan.compile()
    mel, audio = _data()

    def weighted():
        while True:
            yield mel, audio, np.ones(2, "float32")

    gan.fit(mel, audio, batch_size=2, verbose=0)  # builds every variable
    weights = gan.get_weights()
    with pytest.raises(TRACED_ERRORS, match=r"so the dataset's third element would be ignored"):
        gan.fit(weighted(), steps_per_epoch=1, verbose=0)
    for before, after in zip(weights, gan.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert ops.convert_to_numpy(gan.waveglow.inverse(mel, seed=0)).shape == (2, 9 * 256)
    with pytest.raises(ValueError, match=r"so validation_data's third element would be"):
        gan.fit(mel, audio, validation_data=(mel, audio, np.ones(2, "float32")), verbose=0)


# --------------------------------------------------------------------------------------------
# Values: integer audio, sigma, train_sigma
# --------------------------------------------------------------------------------------------


def test_integer_audio_is_refused_not_scored_32768_times_too_loud(compiled):
    mel, audio = _data()
    pcm = (audio * 32767).astype("int16")
    with pytest.raises(TypeError, match="audio must be floating point in \\[-1, 1\\]; got int16"):
        compiled.forward(pcm, mel)
    with pytest.raises(TypeError, match="audio must be floating point in \\[-1, 1\\]; got int16"):
        compiled.evaluate(mel, pcm, batch_size=2, verbose=0)


def test_a_missing_mel_or_audio_is_named():
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, audio = _data(batch=1, frames=4)
    with pytest.raises(ValueError, match=r"mel must be an array of shape .*; got None"):
        model.forward(audio, None)  # an AttributeError on `.shape` before
    with pytest.raises(ValueError, match=r"audio must be an array of shape .*; got None"):
        model.forward(None, mel)
    with pytest.raises(ValueError, match=r"mel must be an array of shape .*; got None"):
        model.inverse(None)


@pytest.mark.parametrize("sigma", [-0.6, float("nan"), float("inf")])
def test_inverse_refuses_a_sigma_that_is_negative_or_not_finite(sigma):
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, _ = _data(batch=1, frames=4)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0; got"):
        model.inverse(mel, sigma=sigma)


def test_inverse_takes_sigma_zero_and_a_nested_list():
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, _ = _data(batch=1, frames=4)
    with pytest.raises(TypeError, match=r"sigma must be a number; got '0\.6'"):
        model.inverse(mel, sigma="0.6")
    np.testing.assert_array_equal(ops.convert_to_numpy(model.inverse(mel, sigma=0.0)), 0.0)
    expected = ops.convert_to_numpy(model.inverse(mel, seed=3))
    np.testing.assert_allclose(ops.convert_to_numpy(model.inverse(mel.tolist(), seed=3)), expected)
    with pytest.raises(ValueError, match="mel must be one array of shape \\(batch, frames, 80\\)"):
        model.inverse([mel, mel[:, :2]])


def test_inverse_takes_one_sigma_per_example_as_an_array():
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, _ = _data(batch=2, frames=4)

    def run(sigma):
        return ops.convert_to_numpy(model.inverse(mel, sigma=sigma, seed=3))

    # The same draws scaled per example: each row is what its scalar sigma gives (elementwise
    # float32 products of the same normals; 1e-6 covers the backends' op order).
    mixed = run(np.array([0.3, 0.6]).reshape(2, 1, 1))
    np.testing.assert_allclose(mixed[0], run(0.3)[0], atol=1e-6)
    np.testing.assert_allclose(mixed[1], run(0.6)[1], atol=1e-6)
    assert np.abs(mixed[0] - mixed[1]).max() > 0  # not both the same sigma
    # (B,) is one per example too, never broadcast over the n_group channels.
    np.testing.assert_array_equal(run(np.array([0.3, 0.6])), mixed)
    with pytest.raises(ValueError, match=r"sigma has 3 values .* for a batch of 2 mels"):
        run(np.full((3, 1, 1), 0.6))
    with pytest.raises(
        ValueError, match=r"one per example, shape \(batch,\) .* got shape \(2, 8\)"
    ):
        run(np.full((2, 8), 0.6))
    with pytest.raises(
        ValueError, match=r"sigma must be finite and >= 0 everywhere; got min -0\.1,"
    ):
        run(np.array([-0.1, 0.6]).reshape(2, 1, 1))
    with pytest.raises(TypeError, match="sigma must be a number or an array of numbers; got <U"):
        run(np.array(["0.6", "0.6"]))
    with pytest.raises(TypeError, match=r"sigma must be a number; got array\('0\.6'"):
        run(np.array("0.6"))
    # A backend tensor (B,) is one per example too: it scaled the n_group channels.
    np.testing.assert_allclose(run(ops.convert_to_tensor([0.3, 0.6])), mixed, atol=1e-6)
    np.testing.assert_allclose(run(ops.convert_to_tensor(0.3)), run(0.3), atol=1e-6)
    with pytest.raises(ValueError, match=r"one per example, .* got shape \(2, 8\)"):
        run(ops.ones((2, 8)))
    # Tensors of other dtypes: TensorFlow refused int32 and float16 in the product (JAX took
    # them), and multiplied the noise by a bool as a logical AND; a wrong count was the
    # backend's broadcast error.
    np.testing.assert_allclose(run(ops.convert_to_tensor(np.int32(1))), run(1.0), atol=1e-6)
    np.testing.assert_allclose(run(ops.convert_to_tensor(np.float16(0.5))), run(0.5), atol=1e-6)
    with pytest.raises(
        TypeError, match="sigma must be a number or a tensor of numbers; got a bool"
    ):
        run(ops.convert_to_tensor(True))
    with pytest.raises(ValueError, match=r"sigma has 3 values .* for a batch of 2 mels"):
        run(ops.convert_to_tensor([0.3, 0.6, 0.9]))


def test_inverse_takes_z_as_a_nested_list():
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, _ = _data(batch=1, frames=4)
    z = np.random.default_rng(0).standard_normal((1, 4 * model.hop_length // 8, 8))
    expected = ops.convert_to_numpy(model.inverse(mel, z=z.astype("float32")))
    np.testing.assert_allclose(
        ops.convert_to_numpy(model.inverse(mel, z=z.tolist())), expected, atol=1e-6
    )


@pytest.mark.parametrize(
    "bound, error",
    [("6", TypeError), (True, TypeError), (float("inf"), ValueError), (0.0, ValueError)],
)
def test_the_coupling_log_scale_bound_is_a_finite_positive_number(bound, error):
    """WaveGlow took float(bound): "6" and True passed, and inf gave NaN everywhere."""
    with pytest.raises(error, match="log_scale_bound must be"):
        WaveGlow.from_preset("tiny", coupling_log_scale_bound=bound)
    with pytest.raises(error, match="log_scale_bound must be"):
        AffineCoupling(n_channels=4, log_scale_bound=bound)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_train_sigma_must_be_finite_and_positive(sigma):
    with pytest.raises(ValueError, match="train_sigma must be a finite number > 0; got"):
        WaveGlow.from_preset("tiny", train_sigma=sigma)


# --------------------------------------------------------------------------------------------
# Constructor arguments
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"sample_rate": 0}, "sample_rate must be a positive whole number of Hz; got 0"),
        ({"sample_rate": -16000}, "sample_rate must be a positive whole number"),
        ({"sample_rate": 16000.5}, "sample_rate must be a positive whole number"),
        ({"n_fft": 0}, "n_fft must be >= 1; got 0"),
        ({"win_length": 0}, "win_length must be >= 1; got 0"),
        ({"win_length": 2048}, r"win_length \(2048\) must not exceed n_fft \(1024\)"),
        ({"fmin": 9000.0}, r"fmin must be in \[0, fmax\) = \[0, 8000\) Hz"),
        ({"fmin": -1.0}, r"fmin must be in \[0, fmax\)"),
        ({"fmax": -1.0}, r"fmax must be a finite number of Hz > 0 or None"),
        ({"fmax": float("inf")}, r"fmax must be a finite number of Hz > 0 or None"),
    ],
)
def test_mel_front_end_settings_are_checked_at_construction(overrides, message):
    with pytest.raises(ValueError, match=message):
        WaveGlow.from_preset("tiny", **overrides)


def test_without_fmax_fmin_stays_below_the_nyquist_frequency():
    model = WaveGlow.from_preset("tiny", fmax=None, win_length=1024, fmin=7999.0)
    assert model.mel_config["fmax"] is None and model.fmin == 7999.0
    with pytest.raises(ValueError, match=r"fmin must be in \[0, fmax\) = \[0, 8000\) Hz"):
        WaveGlow.from_preset("tiny", fmax=None, fmin=8000.0)


def test_settings_models_were_saved_with_still_build():
    # An 8 kHz model keeps the default fmax of 8000 (above its Nyquist frequency, as
    # mel_spectrogram allows: the bands above it are empty), and 0/1 flags read as bools.
    model = WaveGlow.from_preset("tiny", sample_rate=8000)
    assert model.mel_config["fmax"] == 8000.0
    assert WaveGlow.from_preset("tiny", use_actnorm=1).use_actnorm is True
    with pytest.raises(TypeError, match="use_actnorm must be True or False; got 2"):
        WaveGlow.from_preset("tiny", use_actnorm=2)


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        ({"n_group": "8"}, TypeError, "n_group must be an int; got '8'"),
        ({"n_flows": 2.7}, TypeError, "n_flows must be an int; got 2.7"),
        ({"seed": -1}, ValueError, "seed must be None or >= 0; got -1"),
        ({"seed": 1.5}, TypeError, "seed must be None or an int; got 1.5"),
        ({"use_actnorm": "no"}, TypeError, "use_actnorm must be True or False; got 'no'"),
        ({"train_sigma": "0.6"}, TypeError, "train_sigma must be a number; got '0.6'"),
        ({"fmax": "8000"}, TypeError, "fmax must be a number of Hz or None; got '8000'"),
        ({"fmin": None}, TypeError, "fmin must be a number of Hz; got None"),
    ],
)
def test_constructor_arguments_of_the_wrong_type_are_named(overrides, error, message):
    with pytest.raises(error, match=message):
        WaveGlow.from_preset("tiny", **overrides)


def test_float_sizes_are_refused_not_truncated():
    # One rule with make_dataset, train and vocode (and Python's range): an int or nothing.
    # 16.9 channels were built as 16; a whole float is refused too rather than read two ways.
    for name, value in (("wn_channels", 16.9), ("hop_length", 256.0), ("n_flows", np.float32(2))):
        with pytest.raises(TypeError, match=rf"{name} must be an int; got "):
            WaveGlow.from_preset("tiny", **{name: value})
    model = WaveGlow.from_preset("tiny", hop_length=np.int64(256), n_flows=np.int32(2))
    assert model.hop_length == 256 and type(model.hop_length) is int
    assert model.n_flows == 2 and type(model.n_flows) is int


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Conv1D(0), "Conv1D filters must be >= 1; got 0"),
        (lambda: Conv1D(4, kernel_size=0), "Conv1D kernel_size must be >= 1; got 0"),
        (lambda: Conv1D(4, 3, dilation_rate=0), "Conv1D dilation_rate must be >= 1; got 0"),
        (lambda: Conv1D(4, 3, dilation_rate=-1), "Conv1D dilation_rate must be >= 1; got -1"),
        (
            lambda: SeparableConv1D(4, 3, dilation_rate=0),
            "SeparableConv1D dilation_rate must be >= 1; got 0",
        ),
        (lambda: SeparableConv1D(4, -1), "SeparableConv1D kernel_size must be >= 1; got -1"),
        (lambda: SeparableConv1D(0), "SeparableConv1D filters must be >= 1; got 0"),
        (lambda: MelUpsampler(4, 0), "MelUpsampler hop_length must be >= 1; got 0"),
        (lambda: MelUpsampler(4, 8, kernel_size=0), "MelUpsampler kernel_size must be >= 1"),
        (lambda: MelUpsampler(0, 8), "MelUpsampler filters must be >= 1; got 0"),
        (lambda: ActNorm(epsilon=-1.0), "ActNorm epsilon must be a finite number > 0"),
        (lambda: ActNorm(epsilon=float("nan")), "ActNorm epsilon must be a finite number > 0"),
    ],
)
def test_building_blocks_refuse_arguments_out_of_range(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_an_empty_batch_is_refused_on_every_backend():
    """JAX failed in a reshape ("integer modulo by zero"); TensorFlow returned empty outputs."""
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, audio = _data(batch=2, frames=4, samples=1024)
    with pytest.raises(ValueError, match=r"mel holds no examples: shape \(0, 4, 80\)"):
        model.inverse(mel[:0])
    with pytest.raises(ValueError, match="mel holds no examples"):
        model.forward(audio[:0], mel[:0])


@pytest.mark.tensorflow_only
def test_a_given_z_is_checked_in_a_graph_with_unknown_dimensions():
    """Checked on static shapes only: in a traced function a z too long for the mel was
    vocoded, a batch mismatch failed in a ConcatOp, and a right z of unknown channels was
    refused at trace time."""
    model = WaveGlow.from_preset("tiny", seed=0)
    mel, _ = _data(batch=2, frames=4)
    steps = 4 * model.hop_length // model.n_group
    spec = tf.TensorSpec((None, None, None), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec((None, None, 80), tf.float32), spec])
    def vocode(mel, z):
        return model.inverse(mel, z=z)

    z = np.zeros((2, steps, model.n_group), "float32")
    np.testing.assert_allclose(vocode(mel, z).numpy(), model.inverse(mel, z=z).numpy(), atol=1e-5)
    longer = np.zeros((2, steps + 2, model.n_group), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="z too long for the mel"):
        vocode(mel, longer)
    with pytest.raises(tf.errors.InvalidArgumentError, match="z and mel batch sizes differ"):
        vocode(mel, z[:1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="z must have shape"):
        vocode(mel, np.zeros((2, steps, 3), "float32"))


def test_a_coupling_refuses_a_cond_that_does_not_fit_by_name():
    """A rank-2 cond was broadcast over the batch (every example conditioned alike); other
    channels or batches gave the backends' errors, naming neither."""
    layer = AffineCoupling(wn_layers=1, wn_channels=8, n_channels=4)
    x = np.zeros((2, 5, 4), "float32")
    layer(x, np.zeros((2, 5, 6), "float32"))  # built for 6 cond channels
    for cond, message in (
        (
            np.zeros((5, 6), "float32"),
            r"cond must be \(batch, time, channels\); got shape \(5, 6\)",
        ),
        (np.zeros((2, 5, 7), "float32"), r"cond must have 6 channels \(as it was built\)"),
        (np.zeros((1, 5, 6), "float32"), r"cond must have the batch of x \(2\)"),
    ):
        with pytest.raises(ValueError, match=message):
            layer(x, cond)
        with pytest.raises(ValueError, match=message.replace("of x", "of y")):
            layer.inverse(x, cond)


def test_building_blocks_name_arguments_of_the_wrong_type():
    with pytest.raises(TypeError, match="Conv1D kernel_size must be an int; got '3'"):
        Conv1D(4, "3")
    # Flags and the seed of the public layers follow the model's rule (bool("no") is True).
    for build, message in (
        (lambda: Conv1D(4, weight_norm="no"), "weight_norm must be True or False; got 'no'"),
        (lambda: SeparableConv1D(4, weight_norm="no"), "weight_norm must be True or False"),
        (lambda: Invertible1x1Conv("no"), "lu_decomposed must be True or False; got 'no'"),
        (lambda: Invertible1x1Conv(seed=2.5), r"seed must be an int; got 2\.5"),
    ):
        with pytest.raises(TypeError, match=message):
            build()
    with pytest.raises(TypeError, match="ActNorm epsilon must be a number; got None"):
        ActNorm(epsilon=None)
    # The coupling and its WN, built on their own, follow the model's rule (2.0 was taken as
    # 2 and 2.5 truncated; a str flag was truthy).
    for build, message in (
        (lambda: WN(4, n_layers=2.0), r"WN n_layers must be an int; got 2\.0"),
        (lambda: WN(4, n_channels=8.5), r"WN n_channels must be an int; got 8\.5"),
        (lambda: WN(4, separable="no"), "WN separable must be True or False; got 'no'"),
        (lambda: AffineCoupling(n_channels=4.0), r"n_channels must be an int; got 4\.0"),
        (lambda: AffineCoupling(n_channels=4, wn_layers=1.5), "wn_layers must be an int"),
    ):
        with pytest.raises(TypeError, match=message):
            build()
    with pytest.raises(ValueError, match="WN n_layers must be >= 1; got 0"):
        WN(4, n_layers=0)
    with pytest.raises(ValueError, match="AffineCoupling needs an even n_channels; got 5"):
        AffineCoupling(n_channels=5)
