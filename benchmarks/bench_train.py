"""Training throughput of `WaveGlowGAN`: prints one JSON object (samples/s, peak memory).

Runs `repeats` timed blocks of `steps` training steps on random (mel, audio) batches after
`warmup` untimed steps (compilation), and reports the median block. Audio samples per second
= batch_size * segment_length * steps / seconds. Peak memory: the accelerator's peak bytes in
use where the backend reports it (JAX `memory_stats`, TF `get_memory_info`), else the process's
peak resident set size (CPU).

Usage (set the backend with KERAS_BACKEND):
    KERAS_BACKEND=jax python benchmarks/bench_train.py --preset arctic_16k --batch-size 12 \\
        --precision bf16 [--gan] [--steps 10 --repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import keras
import numpy as np

POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def _peak_memory_bytes() -> tuple[int, str]:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        stats = device.memory_stats() if hasattr(device, "memory_stats") else None
        if stats and "peak_bytes_in_use" in stats:
            return int(stats["peak_bytes_in_use"]), f"{device.platform} peak_bytes_in_use"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            info = tf.config.experimental.get_memory_info(gpus[0].name)
            return int(info["peak"]), "GPU peak"
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss_kib) * 1024, "process peak RSS"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--precision", choices=sorted(POLICIES), default="fp32")
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--segment-length", type=int, default=16000)
    parser.add_argument("--gan", action="store_true", help="with the discriminators")
    parser.add_argument("--discriminator-width", type=float, default=1.0)
    parser.add_argument("--mae-weight", type=float, default=4.0)  # WaveGlowGAN's default
    parser.add_argument(
        "--msd-groups", choices=("hifigan", "dense"), default="hifigan", help="with --gan"
    )
    parser.add_argument(
        "--discriminator-normalization",
        choices=("hifigan", "none"),
        default="hifigan",
        help="with --gan: HiFi-GAN's weight/spectral norm or plain kernels",
    )
    parser.add_argument("--steps", type=int, default=5, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks (median)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    args = parser.parse_args(argv)

    from keras_waveglow.training import build_gan

    keras.config.set_dtype_policy(POLICIES[args.precision])
    keras.utils.set_random_seed(0)
    model = build_gan(
        args.preset,
        gan=args.gan,
        discriminator_width=args.discriminator_width,
        mae_weight=args.mae_weight,
        msd_groups=args.msd_groups,
        discriminator_normalization=args.discriminator_normalization,
    )
    model.compile(keras.optimizers.Adam(1e-4, global_clipnorm=1.0))
    waveglow = model.waveglow
    frames = 1 + args.segment_length // waveglow.hop_length
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((args.batch_size, frames, waveglow.n_mel_channels)).astype("f")
    audio = (0.3 * rng.uniform(-1, 1, (args.batch_size, args.segment_length))).astype("f")

    def run(steps: int) -> float:
        x = np.repeat(mel, steps, axis=0)
        y = np.repeat(audio, steps, axis=0)
        start = time.perf_counter()
        model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
        return time.perf_counter() - start

    run(args.warmup)
    times = [run(args.steps) for _ in range(args.repeats)]
    seconds = statistics.median(times)
    peak, peak_kind = _peak_memory_bytes()
    result = {
        "preset": args.preset,
        "backend": keras.backend.backend(),
        "precision": args.precision,
        "batch_size": args.batch_size,
        "segment_length": args.segment_length,
        "gan": args.gan,
        "discriminator_width": args.discriminator_width if args.gan else None,
        "msd_groups": args.msd_groups if args.gan else None,
        "discriminator_normalization": args.discriminator_normalization if args.gan else None,
        "mae_weight": args.mae_weight,
        "steps_per_block": args.steps,
        "repeats": args.repeats,
        "seconds_per_step": seconds / args.steps,
        "samples_per_s": args.batch_size * args.segment_length * args.steps / seconds,
        "peak_memory_bytes": peak,
        "peak_memory_kind": peak_kind,
        "skipped_steps": int(keras.ops.convert_to_numpy(model.skipped_steps.value)),
        "device": os.environ.get("BENCH_DEVICE_NAME", ""),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
