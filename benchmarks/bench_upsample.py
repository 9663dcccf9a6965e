"""Mel upsampler speed: keras.layers.Conv1DTranspose vs keras_waveglow's MelUpsampler (JSON).

Both hold the same weights (kernel 4 * hop, stride hop) and compute the same output; the
transposed convolution runs under XLA as a convolution over a zero-stuffed input.

Example:
    KERAS_BACKEND=jax python benchmarks/bench_upsample.py --frames 125
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=125, help="125 frames = 2 s at 16 kHz")
    parser.add_argument("--hop", type=int, default=256)
    parser.add_argument("--n-mels", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import keras
    import numpy as np

    from keras_waveglow.layers import MelUpsampler

    mel = np.random.default_rng(0).standard_normal((1, args.frames, args.n_mels)).astype("f4")
    ours = MelUpsampler(args.n_mels, args.hop)
    reference = keras.layers.Conv1DTranspose(args.n_mels, 4 * args.hop, strides=args.hop)
    ours.build(mel.shape)
    reference.build(mel.shape)
    reference.kernel.assign(ours.kernel)
    reference.bias.assign(ours.bias)
    backend = keras.backend.backend()
    result = {"backend": backend, "frames": args.frames, "hop": args.hop}
    outputs = {}
    for name, layer in (("conv1d_transpose", reference), ("mel_upsampler", ours)):
        if backend == "jax":
            import jax

            fn = jax.jit(lambda x, layer=layer: layer(x))

            def sync(y):
                return np.asarray(y.block_until_ready())
        else:
            import tensorflow as tf

            fn = tf.function(lambda x, layer=layer: layer(x), jit_compile=True)

            def sync(y):
                return y.numpy()

        outputs[name] = sync(fn(mel))  # compile
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            sync(fn(mel))
            times.append(time.perf_counter() - start)
        result[f"{name}_median_s"] = statistics.median(times)
    result["speedup"] = result["conv1d_transpose_median_s"] / result["mel_upsampler_median_s"]
    diff = np.abs(outputs["conv1d_transpose"] - outputs["mel_upsampler"]).max()
    result["max_abs_difference"] = float(diff)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
