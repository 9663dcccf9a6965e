"""Throughput of the (mel, audio) pipeline on 2 CPU cores, printed as JSON.

Usage:
    python benchmarks/bench_pipeline.py [--engine tf.data|pydataset] [--batches 30]

Reads the bundled ARCTIC utterances (cycled into one epoch's file list), batch 12 x 16000
samples, arctic_16k mel settings, dequantisation on, as in training. Reports batches/s after
one warm-up batch, with TensorFlow limited to 2 threads (the CI machine's cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="tf.data", choices=["tf.data", "pydataset"])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--segment-length", type=int, default=16000)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(args.cores)
    tf.config.threading.set_intra_op_parallelism_threads(args.cores)

    from keras_waveglow.data import make_dataset

    wavs = sorted((ROOT / "data").glob("cmu_us_*_arctic/wav/*.wav"))
    # One epoch covers the whole run, so iterator start-up is timed once, in the warm-up.
    n_files = (args.batches + 1) * args.batch_size
    files = (wavs * n_files)[:n_files]
    dataset = make_dataset(
        files,
        "arctic_16k",
        batch_size=args.batch_size,
        segment_length=args.segment_length,
        augment=True,
        num_parallel_calls=args.cores,
        engine=args.engine,
    )

    def stream():
        while True:
            if args.engine == "pydataset":
                for i in range(len(dataset)):
                    yield dataset[i]
                dataset.on_epoch_end()
            else:
                yield from dataset

    batches = stream()
    next(batches)  # warm-up: graph tracing, filterbank, first decode
    start = time.perf_counter()
    for _ in range(args.batches):
        mel, _ = next(batches)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "pipeline",
                "engine": args.engine,
                "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
                "cores": args.cores,
                "batch_size": args.batch_size,
                "segment_length": args.segment_length,
                "mel_shape": list(mel.shape),
                "batches": args.batches,
                "seconds": round(elapsed, 3),
                "batches_per_s": round(args.batches / elapsed, 2),
                "audio_seconds_per_s": round(
                    args.batches * args.batch_size * args.segment_length / 16000 / elapsed, 1
                ),
                "cpu": platform.processor() or platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
