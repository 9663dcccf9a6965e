"""Error that reduced precision and the matmul dilated conv add to vocoding: prints JSON.

One model with non-identity couplings (the zero-initialised end convs given small random
weights, so every coupling scales and shifts), one fixed latent z at sigma 0.6 and one random
mel. The reference is the float32 inverse with the "conv" implementation at the highest matmul
precision; every other setting runs the same weights on the same z and is compared with it:
relative L2 error, max abs error and SNR (dB) of the waveform. The log-determinant of the
forward pass under each setting is compared too, per audio sample (it is accumulated in float32
under mixed precision, but the log-scales it sums come out of bf16 / fp16 networks).

Usage:
    KERAS_BACKEND=jax python benchmarks/precision_error.py --preset nvidia_22k --seconds 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import keras
import numpy as np

from keras_waveglow import WaveGlow
from keras_waveglow.layers import set_conv_implementation

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def _run(weights, config, policy, conv, mel, z, audio):
    """Inverse of z and forward log-det of `audio` under one dtype policy and conv choice."""
    set_conv_implementation(conv)
    keras.config.set_dtype_policy(policy)
    model = WaveGlow.from_preset(config["preset"], seed=0)
    model.set_weights(weights)
    out = keras.ops.convert_to_numpy(model.inverse(mel, z=z))
    _, log_det = model.forward(audio, mel)
    return out.astype("float64"), keras.ops.convert_to_numpy(log_det).astype("float64")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="nvidia_22k")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--end-scale", type=float, default=0.01, help="std of end-conv weights")
    args = parser.parse_args(argv)
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    keras.utils.set_random_seed(0)
    model = WaveGlow.from_preset(args.preset, seed=0)
    rng = np.random.default_rng(0)
    for coupling in model.couplings:  # make every coupling a real affine map
        end = coupling.wn.end
        end.kernel.assign(args.end_scale * rng.standard_normal(end.kernel.shape))
        end.bias.assign(args.end_scale * rng.standard_normal(end.bias.shape))
    weights = model.get_weights()
    frames = round(args.seconds * model.sample_rate / model.hop_length)
    mel = rng.standard_normal((1, frames, model.n_mel_channels)).astype("float32")
    steps = frames * model.hop_length // model.n_group
    z = (0.6 * rng.standard_normal((1, steps, model.n_group))).astype("float32")
    config = {"preset": args.preset}
    set_conv_implementation("conv")
    reference = keras.ops.convert_to_numpy(model.inverse(mel, z=z))
    _, ref_log_det = model.forward(reference, mel)
    ref_log_det = keras.ops.convert_to_numpy(ref_log_det).astype("float64")
    reference = reference.astype("float64")
    n = reference.shape[-1]
    results = []
    for precision, conv in [
        ("fp32", "matmul"),
        ("bf16", "matmul"),
        ("bf16", "conv"),
        ("fp16", "matmul"),
    ]:
        out, log_det = _run(weights, config, POLICIES[precision], conv, mel, z, reference)
        error = out - reference
        row = {
            "backend": keras.backend.backend(),
            "preset": args.preset,
            "seconds": args.seconds,
            "precision": precision,
            "conv_impl": conv,
            "reference": "fp32 conv, highest matmul precision",
            "finite": bool(np.isfinite(out).all()),
            "relative_l2_error": float(np.linalg.norm(error) / np.linalg.norm(reference)),
            "max_abs_error": float(np.abs(error).max()),
            "reference_max_abs": float(np.abs(reference).max()),
            # null where the output equals the reference (an infinite SNR is not JSON)
            "snr_db": _snr_db(reference, error),
            # Per audio sample, the unit of the training loss (nats per sample).
            "log_det_abs_error_per_sample": float(np.abs(log_det - ref_log_det).max() / n),
            "reference_log_det_per_sample": float(ref_log_det[0] / n),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    set_conv_implementation("matmul")
    keras.config.set_dtype_policy("float32")
    return results


def _snr_db(reference: np.ndarray, error: np.ndarray) -> float | None:
    power = float(np.sum(error**2))
    return None if power == 0 else float(10 * np.log10(np.sum(reference**2) / power))


if __name__ == "__main__":
    main()
