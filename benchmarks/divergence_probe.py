"""Plain `WaveGlow.fit` steps until the loss or a weight is non-finite: where a preset diverges.

Trains `--preset` (with `--override` JSON config overrides, e.g. '{"wn_linear_path": true}' for
SqueezeWave's original WN) on a file list with Adam (per-variable `clipnorm`), one
`train_on_batch` at a time, and prints one JSON line every `--every` steps and at the first
non-finite loss or weight: step, loss, the spread of z, and the 1x1 convs' log-determinants.

Usage (TensorFlow backend, the data pipeline's):
    python benchmarks/divergence_probe.py --preset squeezewave_128s_16k --learning-rate 4e-4 \\
        --steps 800 --train-list klettres/train.txt --override '{"wn_linear_path": true}'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True)
    parser.add_argument("--learning-rate", type=float, required=True)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--train-list", required=True)
    parser.add_argument("--override", default="{}", help="JSON config overrides")
    parser.add_argument("--clipnorm", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    from keras import ops

    from keras_waveglow import WaveGlow
    from keras_waveglow.data import make_dataset, resolve_files

    keras.utils.set_random_seed(args.seed)
    model = WaveGlow.from_preset(
        args.preset, load_weights=False, seed=args.seed, **json.loads(args.override)
    )
    files = resolve_files(args.train_list)
    data = make_dataset(
        files,
        model,
        batch_size=args.batch_size,
        segment_length=args.segment_length,
        seed=args.seed,
        cache=True,
    )
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=args.clipnorm))
    start = time.time()
    for step, (mel, audio) in enumerate(data.repeat().take(args.steps)):
        loss = float(model.train_on_batch(mel, audio))
        finite = np.isfinite(loss) and all(
            np.all(np.isfinite(ops.convert_to_numpy(w))) for w in model.weights
        )
        if step % args.every == 0 or not finite:
            z, _ = model.forward(audio, mel)
            z = ops.convert_to_numpy(z)
            dets = [float(c.log_det_per_step()) for c in model.convinvs]
            record = {
                "step": step,
                "loss": loss,
                "finite": bool(finite),
                "z_std": float(np.std(z)),
                "z_absmax": float(np.abs(z).max()),
                "log_det_w_min": min(dets),
                "log_det_w_max": max(dets),
                "seconds": round(time.time() - start, 1),
            }
            print(json.dumps(record), flush=True)
        if not finite:
            break


if __name__ == "__main__":
    main()
