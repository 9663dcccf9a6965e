"""Losses: the flow's negative log-likelihood (and, with training, MAE and GAN terms)."""

from __future__ import annotations

import math

from keras import ops


def waveglow_nll(z, log_det, sigma: float = 1.0):
    """WaveGlow's negative log-likelihood per audio sample (NVIDIA's `WaveGlowLoss` value).

    `(sum(z^2) / (2 sigma^2) - sum(log_det)) / (B * T)`, which leaves out the constant
    `0.5 * log(2 pi sigma^2)` per sample, exactly as NVIDIA's loss does, so numbers compare.

    Args:
        z: (B, T // n_group, n_group) latent from `WaveGlow.forward`.
        log_det: (B,) log|det Jacobian| from `WaveGlow.forward`.
        sigma: float, standard deviation of the Gaussian prior. Default 1.0.

    Returns:
        A float32 scalar.

    Example:
        >>> z, log_det = model.forward(audio, mel)
        >>> loss = waveglow_nll(z, log_det, sigma=1.0)
    """
    z = ops.cast(z, "float32")
    log_det = ops.cast(log_det, "float32")
    n_samples = ops.cast(ops.size(z), "float32")
    return (ops.sum(ops.square(z)) / (2.0 * sigma * sigma) - ops.sum(log_det)) / n_samples


def nll_to_log_likelihood(loss, sigma: float = 1.0) -> dict:
    """Converts a `waveglow_nll` value to the log-likelihood per sample, in nats and bits.

    Args:
        loss: float or scalar tensor from `waveglow_nll` with the same sigma.
        sigma: float, the prior's standard deviation used for `loss`.

    Returns:
        `{"nats_per_sample": ..., "bits_per_sample": ...}` as Python floats: the mean
        log-likelihood `-loss - 0.5 * log(2 pi sigma^2)` and that divided by log(2).

    Example:
        >>> nll_to_log_likelihood(-3.0, sigma=1.0)["nats_per_sample"]  # 3 - 0.9189...
        2.081...
    """
    nats = -float(loss) - 0.5 * math.log(2.0 * math.pi * sigma * sigma)
    return {"nats_per_sample": nats, "bits_per_sample": nats / math.log(2.0)}
