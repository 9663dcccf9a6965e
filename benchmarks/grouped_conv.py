"""A grouped 1-D convolution's training step, three ways: prints one JSON object per way.

The multi-scale discriminator's wide convolutions are grouped (HiFi-GAN's 4 and 16 groups).
This times one such layer's forward + gradient on the current backend and device as
`native` (`ops.conv` with the grouped kernel: the backend's own grouped convolution),
`per_group` (one dense `ops.conv` per group, concatenated: what
`keras_waveglow.discriminators.GroupedConv1D` does without a GPU) and `block_diagonal` (one
dense convolution with the kernel spread over a block-diagonal matrix), and the largest
difference of each from `native`. Median of `--repeats` compiled steps after one untimed.

Usage (set the backend with KERAS_BACKEND):
    KERAS_BACKEND=tensorflow python benchmarks/grouped_conv.py [--channels 256 --groups 16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import keras
import numpy as np
from keras import ops


def _native(x, kernel, groups):
    return ops.conv(x, kernel, padding="same")


def _per_group(x, kernel, groups):
    c_in, c_out = kernel.shape[1], kernel.shape[2] // groups
    parts = [
        ops.conv(
            x[..., g * c_in : (g + 1) * c_in],
            kernel[..., g * c_out : (g + 1) * c_out],
            padding="same",
        )
        for g in range(groups)
    ]
    return ops.concatenate(parts, axis=-1)


def _block_diagonal(x, kernel, groups):
    c_in, c_out = kernel.shape[1], kernel.shape[2] // groups
    mask = np.kron(np.eye(groups, dtype="float32"), np.ones((c_in, c_out), "float32"))
    return ops.conv(x, ops.tile(kernel, (1, groups, 1)) * mask[None], padding="same")


WAYS = {"native": _native, "per_group": _per_group, "block_diagonal": _block_diagonal}


def _step_function(way):
    """A compiled (loss, gradient wrt the kernel) of mean(conv(x)^2) on this backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        step = jax.jit(
            jax.value_and_grad(lambda k, x, g: ops.mean(way(x, k, g) ** 2)), static_argnums=2
        )
        return lambda k, x, g: jax.block_until_ready(step(k, x, g))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(k, x, g):
            with tf.GradientTape() as tape:
                tape.watch(k)
                loss = ops.mean(way(x, k, g) ** 2)
            return loss, tape.gradient(loss, k)

        return step
    raise SystemExit(f"backend {backend}: use jax or tensorflow")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--length", type=int, default=1024, help="time steps in")
    parser.add_argument("--channels", type=int, default=256, help="in and out")
    parser.add_argument("--kernel-size", type=int, default=41)
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.channels % args.groups:
        parser.error("--channels must be a multiple of --groups")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch_size, args.length, args.channels)).astype("float32")
    kernel = 0.01 * rng.standard_normal(
        (args.kernel_size, args.channels // args.groups, args.channels)
    ).astype("float32")
    x, kernel = ops.convert_to_tensor(x), ops.convert_to_tensor(kernel)
    reference = ops.convert_to_numpy(_native(x, kernel, args.groups))
    results = []
    for name, way in WAYS.items():
        step = _step_function(way)
        step(kernel, x, args.groups)  # compile
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            step(kernel, x, args.groups)
            times.append(time.perf_counter() - start)
        out = ops.convert_to_numpy(way(x, kernel, args.groups))
        result = {
            "way": name,
            "backend": keras.backend.backend(),
            "devices": keras.distribution.list_devices(),
            "batch_size": args.batch_size,
            "length": args.length,
            "channels": args.channels,
            "kernel_size": args.kernel_size,
            "groups": args.groups,
            "median_s": statistics.median(times),
            "max_abs_difference_from_native": float(np.max(np.abs(out - reference))),
            "keras": keras.__version__,
            "cpu_count": os.cpu_count(),
        }
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


if __name__ == "__main__":
    main()
