"""TensorFlow Probability interop: WaveGlowBijector log_prob and sample."""

from __future__ import annotations

import math

import numpy as np
import pytest

from keras_waveglow import WaveGlow
from keras_waveglow.losses import waveglow_nll
from tests.helpers import perturb_weights


@pytest.fixture
def model_and_mel():
    model = WaveGlow.from_preset("tiny")
    perturb_weights(model, scale=0.05)
    mel = np.random.default_rng(0).standard_normal((2, 4, 80)).astype("float32")
    return model, mel


@pytest.mark.tensorflow_only
def test_log_prob_equals_negative_nll(model_and_mel):
    import tensorflow as tf
    import tensorflow_probability as tfp

    from keras_waveglow.tfp import WaveGlowBijector

    model, mel = model_and_mel
    tfd = tfp.distributions
    sigma = 0.7
    audio = np.random.default_rng(1).uniform(-0.3, 0.3, (2, 4 * 256)).astype("float32")
    bijector = WaveGlowBijector(model, mel)
    assert isinstance(bijector, tfp.bijectors.Bijector)
    dist = tfd.TransformedDistribution(tfd.Normal(0.0, sigma), bijector)
    log_prob = dist.log_prob(audio).numpy()
    assert log_prob.shape == audio.shape
    z, log_det = model.forward(audio, mel)
    nll = float(waveglow_nll(z, log_det, sigma=sigma))
    expected_mean = -nll - 0.5 * math.log(2 * math.pi * sigma**2)
    # float32 sums over 2048 samples: 1e-5 relative.
    np.testing.assert_allclose(log_prob.mean(), expected_mean, rtol=1e-5)
    # Per utterance, with an event-shaped base: exact per-example log-density.
    per_utt = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, sigma), 4 * 256), bijector)
    np.testing.assert_allclose(per_utt.log_prob(audio).numpy(), log_prob.sum(-1), rtol=1e-5)
    rebuilt = bijector.forward(bijector.inverse(tf.constant(audio))).numpy()
    np.testing.assert_allclose(rebuilt, audio, atol=1e-5 * np.abs(audio).max())


@pytest.mark.tensorflow_only
def test_sample_equals_model_inverse(model_and_mel, monkeypatch):
    import sys

    import tensorflow_probability as tfp

    import keras_waveglow

    # As if no test had imported it yet: `keras_waveglow.tfp` must load it by itself.
    monkeypatch.delitem(sys.modules, "keras_waveglow.tfp", raising=False)
    monkeypatch.delattr(keras_waveglow, "tfp", raising=False)
    model, mel = model_and_mel
    tfd = tfp.distributions
    base = tfd.Normal(0.0, 0.6)
    # As the README writes it: the submodule is reached from a plain `import keras_waveglow`.
    dist = tfd.TransformedDistribution(base, keras_waveglow.tfp.WaveGlowBijector(model, mel))
    shape = (2, 4 * 256)
    audio = dist.sample(shape, seed=(7, 11)).numpy()  # stateless seed: reproducible
    noise = base.sample(shape, seed=(7, 11)).numpy()
    expected = model.inverse(mel, z=noise.reshape(2, -1, model.n_group)).numpy()
    np.testing.assert_allclose(audio, expected, atol=1e-6)
    assert np.abs(audio).max() > 0.05


def test_other_backends_get_a_clear_import_error(monkeypatch):
    import keras

    import keras_waveglow.tfp as kw_tfp

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.delitem(kw_tfp.__dict__, "WaveGlowBijector", raising=False)
    with pytest.raises(ImportError, match="TensorFlow backend"):
        kw_tfp.WaveGlowBijector  # noqa: B018
