"""How big a training checkpoint is, and how much of it is optimizer state: prints JSON.

Builds `build_gan(preset, gan=...)`, compiles it with `train`'s optimizers (Adam, global
clipping, optionally the moving average and float16 loss scaling), writes one
`save_weights` checkpoint to a temporary folder and reports the file's size, the numbers it
holds per top-level entry, and the numbers in the model's weights and optimizer state.

Example:
    python benchmarks/checkpoint_size.py --preset tiny --gan --discriminator-width 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_waveglow.training import _optimizers, build_gan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--gan", action="store_true")
    parser.add_argument("--discriminator-width", type=float, default=1.0)
    parser.add_argument("--ema", type=float, default=None)
    parser.add_argument("--fp16", action="store_true", help="float16 loss scaling")
    args = parser.parse_args()
    gan = build_gan(args.preset, gan=args.gan, discriminator_width=args.discriminator_width)
    recipe = {
        "learning_rate": 1e-4,
        "discriminator_learning_rate": 2e-4,
        "clipnorm": 1.0,
        "ema": args.ema,
    }
    optimizers = _optimizers(recipe)
    if args.fp16:
        optimizers["optimizer"] = keras.optimizers.LossScaleOptimizer(optimizers["optimizer"])
    gan.compile(**optimizers)
    per_entry: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.weights.h5"
        gan.save_weights(path)
        size = path.stat().st_size

        def record(name, item):
            if isinstance(item, h5py.Dataset):
                top = name.split("/")[0]
                per_entry[top] = per_entry.get(top, 0) + int(item.size)

        with h5py.File(path, "r") as handle:
            handle.visititems(record)
    count = lambda variables: sum(int(np.prod(v.shape)) for v in variables)  # noqa: E731
    print(
        json.dumps(
            {
                "preset": args.preset,
                "gan": args.gan,
                "discriminator_width": args.discriminator_width,
                "ema": args.ema,
                "fp16": args.fp16,
                "keras": keras.__version__,
                "file_bytes": size,
                "numbers_per_entry": per_entry,
                "model_numbers": count(gan.weights),
                "optimizer_numbers": count(gan.optimizer.variables),
            }
        )
    )


if __name__ == "__main__":
    main()
