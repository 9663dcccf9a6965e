"""How far the discriminators' former padding ("same", before 2026-12-07) is from HiFi-GAN's.

`WaveDiscriminator(padding="hifigan")` computes HiFi-GAN's function (tests/test_discriminators.py
checks it against a PyTorch transcription); `padding="same"` is what configs and GAN runs
before 2026-12-07 computed. With the same weights and audio, this prints one JSON line per
sub-discriminator and audio length: for each feature map, max |same - hifigan| / max |hifigan|
(or the two shapes where they differ).

Usage (either backend):
    python benchmarks/discriminator_padding.py --width 1.0 --lengths 8192 8191
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--lengths", type=int, nargs="+", default=[8192, 8191])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    from keras import ops

    from keras_waveglow.discriminators import WaveDiscriminator

    keras.utils.set_random_seed(args.seed)
    # Plain kernels, as when the committed results were measured: the padding alone differs.
    hifigan = WaveDiscriminator(width=args.width, normalization="none")
    same = WaveDiscriminator(width=args.width, padding="same", normalization="none")
    same.set_weights(hifigan.get_weights())
    names = [f"period_{p}" for p in hifigan.periods] + [f"scale_{i}" for i in range(3)]
    rng = np.random.default_rng(args.seed)
    rows = []
    for length in args.lengths:
        audio = (0.5 * rng.standard_normal((2, length))).astype("float32")
        (_, want), (_, got) = hifigan(audio), same(audio)
        for name, want_maps, got_maps in zip(names, want, got, strict=True):
            relative = []
            for w, g in zip(want_maps, got_maps, strict=True):
                w, g = ops.convert_to_numpy(w), ops.convert_to_numpy(g)
                if w.shape != g.shape:
                    relative.append(f"shape {g.shape} vs {w.shape}")
                else:
                    relative.append(float(np.abs(g - w).max() / np.abs(w).max()))
            row = {
                "backend": keras.backend.backend(),
                "width": args.width,
                "length": length,
                "discriminator": name,
                "map_relative_difference": relative,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
