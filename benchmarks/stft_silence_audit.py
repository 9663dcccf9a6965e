"""Which training term drives a step: gradient norms per term on real training batches.

For a model and a file list, draws training batches as `keras-waveglow train` does
(`make_dataset(..., augment=True)`: dequantised segments), samples audio through the inverse
at sigma 0.6, and prints one JSON line per batch: each example's RMS, the multi-resolution
STFT distance's parts (spectral convergence per example and over the batch, log-magnitude
L1), the NLL and log-mel MAE, and the global norm of the gradient of each term with respect
to the WaveGlow's weights. It measured spectral convergence per example on klettres: about
70 on a segment of dequantised digital silence against 0.6 to 1 on speech; on the two such
batches of twelve the per-example distance's gradient is 4 to 9 times the NLL's, the
batch-wide one's 0.9 to 3 times (`keras_waveglow.losses.multi_resolution_stft_loss` takes it
over the batch, as Parallel WaveGAN does). TensorFlow backend (GradientTape). The
magnitudes floor the STFT power at `losses.STFT_POWER_FLOOR`, as the training term does since
2026-12-05; the committed 2026-12-04 results floored the magnitude itself at 1e-7.

Usage:
    python benchmarks/stft_silence_audit.py --weights runs/x/snaps/1000.weights.h5 \
        --list klettres/train.txt --batches 12
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="squeezewave_128s")
    parser.add_argument("--weights", required=True, help=".weights.h5 to audit")
    parser.add_argument("--list", required=True, help="training file list (or folder)")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--mae-weight", type=float, default=4.0)
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from keras import ops

    from keras_waveglow import WaveGlow
    from keras_waveglow.data import make_dataset
    from keras_waveglow.losses import (
        MR_STFT_RESOLUTIONS,
        STFT_POWER_FLOOR,
        mel_mae_loss,
        multi_resolution_stft_loss,
        waveglow_nll,
    )
    from keras_waveglow.training import load_initial_weights

    waveglow = WaveGlow.from_preset(args.preset, load_weights=False, seed=args.seed)
    load_initial_weights(waveglow, args.weights)
    dataset = make_dataset(
        args.list,
        waveglow,
        batch_size=args.batch_size,
        segment_length=args.segment_length,
        split="all",
        augment=True,
        seed=args.seed,
    )
    n_group = waveglow.n_group

    def magnitude(audio, n_fft, hop, window):
        real, imag = ops.stft(audio, window, hop, n_fft, window="hann", center=True)
        return ops.sqrt(ops.maximum(real * real + imag * imag, STFT_POWER_FLOOR))

    def per_example_parts(real, fake):
        convergence, log_l1 = 0.0, 0.0
        for n_fft, hop, window in MR_STFT_RESOLUTIONS:
            ref, gen = magnitude(real, n_fft, hop, window), magnitude(fake, n_fft, hop, window)
            difference = ops.sqrt(ops.sum(ops.square(ref - gen), axis=(1, 2)))
            convergence += difference / ops.sqrt(ops.sum(ops.square(ref), axis=(1, 2)))
            log_l1 += ops.mean(ops.abs(ops.log(ref) - ops.log(gen)), axis=(1, 2))
        return convergence / len(MR_STFT_RESOLUTIONS), log_l1 / len(MR_STFT_RESOLUTIONS)

    def norm(gradients):
        return float(tf.linalg.global_norm([g for g in gradients if g is not None]))

    variables = waveglow.trainable_variables
    for index, (mel, audio) in enumerate(dataset.take(args.batches)):
        shape = (args.batch_size, args.segment_length // n_group, n_group)
        z = tf.random.stateless_normal(shape, seed=(args.seed, index)) * args.sigma
        with tf.GradientTape(persistent=True) as tape:
            latent, log_det = waveglow.forward(audio, mel)
            nll = waveglow_nll(latent, log_det, sigma=waveglow.train_sigma)
            fake = waveglow.inverse(mel, sigma=args.sigma, z=z)[:, : args.segment_length]
            mae = mel_mae_loss(audio, fake, waveglow.mel_config)
            convergence, log_l1 = per_example_parts(audio, fake)
            per_example = ops.mean(convergence + log_l1)
            batch = multi_resolution_stft_loss(audio, fake)
            log_l1_mean = ops.mean(log_l1)
        row = {
            "batch": index,
            "rms": [float(x) for x in np.sqrt(np.mean(np.square(audio.numpy()), axis=1))],
            "convergence_per_example": [float(x) for x in convergence],
            "log_l1_per_example": [float(x) for x in log_l1],
            "mr_stft_per_example_mean": float(per_example),
            "mr_stft_batch": float(batch),
            "nll": float(nll),
            "mel_mae": float(mae),
            "grad_norm": {
                "nll": norm(tape.gradient(nll, variables)),
                "mae_weighted": args.mae_weight * norm(tape.gradient(mae, variables)),
                "mr_stft_per_example": norm(tape.gradient(per_example, variables)),
                "mr_stft_batch": norm(tape.gradient(batch, variables)),
                "log_l1_only": norm(tape.gradient(log_l1_mean, variables)),
            },
        }
        del tape
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
