"""TensorFlow Probability interop: a WaveGlow, given a mel, as a `tfp.bijectors.Bijector`.

TensorFlow backend only (TFP's JAX substrate does not import with current JAX). Install with
`pip install 'keras-waveglow[tfp]'`.
"""

from __future__ import annotations

import keras


def _import_tfp():
    if keras.backend.backend() != "tensorflow":
        raise ImportError(
            "keras_waveglow.tfp needs the TensorFlow backend (KERAS_BACKEND=tensorflow); "
            f"the current backend is {keras.backend.backend()!r}."
        )
    try:
        import tensorflow_probability as tfp
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "keras_waveglow.tfp needs TensorFlow Probability: pip install 'keras-waveglow[tfp]'."
        ) from err
    return tfp


def _make_bijector_class():
    tfp = _import_tfp()
    import tensorflow as tf

    class WaveGlowBijector(tfp.bijectors.Bijector):
        """A bijector whose forward is z -> audio and inverse audio -> z, for one mel.

        Shapes: z and audio are both (B, T) with T = frames * hop_length; z is the model's
        latent (B, T / n_group, n_group) flattened row-major. The model's log-determinant is
        exact per utterance; the bijector is declared elementwise (`forward_min_event_ndims=0`)
        with that log-determinant spread evenly over the T samples, so that
        `tfd.TransformedDistribution(tfd.Normal(0, sigma), bijector)` works directly: its
        `log_prob(audio)` is (B, T) and sums over T to the exact log-density of each utterance
        (its mean is `-waveglow_nll(...) - 0.5 * log(2 pi sigma^2)`); with
        `tfd.Sample(tfd.Normal(0, sigma), T)` as the base, `log_prob` is that sum directly.

        Args:
            model: a `keras_waveglow.WaveGlow`.
            mel: (B, frames, n_mels) conditioning mel.
            validate_args: passed to `tfp.bijectors.Bijector`.
            name: bijector name.

        Example:
            >>> tfd = tfp.distributions
            >>> bijector = WaveGlowBijector(model, mel)
            >>> dist = tfd.TransformedDistribution(tfd.Normal(0.0, 0.6), bijector)
            >>> audio = dist.sample((1, frames * model.hop_length), seed=0)
            >>> log_p = tf.reduce_sum(dist.log_prob(audio), axis=-1)
        """

        def __init__(self, model, mel, validate_args: bool = False, name: str = "waveglow"):
            self.model = model
            self.mel = tf.convert_to_tensor(mel, tf.float32)
            super().__init__(
                forward_min_event_ndims=0,
                is_constant_jacobian=False,
                validate_args=validate_args,
                name=name,
            )

        def _forward(self, z):
            latent = tf.reshape(z, (tf.shape(z)[0], -1, self.model.n_group))
            return self.model.inverse(self.mel, z=latent)

        def _inverse(self, audio):
            z, _ = self.model.forward(audio, self.mel)
            return tf.reshape(z, tf.shape(audio))

        def _inverse_log_det_jacobian(self, audio):
            _, log_det = self.model.forward(audio, self.mel)
            length = tf.cast(tf.shape(audio)[-1], log_det.dtype)
            return tf.broadcast_to((log_det / length)[:, None], tf.shape(audio))

    return WaveGlowBijector


def __getattr__(name: str):
    # The class subclasses a TFP type, so it is made on first access (TFP imports lazily).
    if name == "WaveGlowBijector":
        cls = _make_bijector_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
