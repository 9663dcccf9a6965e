"""Runs a list of benchmark commands within a time budget; prints their JSON and a summary table.

Made for a short GPU lease: the jobs run one after another in priority order, each in its own
process (so peak-memory figures are per job), each cut off when the budget runs out; every
JSON line is appended to `--out` as soon as it is printed, so a cut-off run still reports what
finished. The default job list is the GPU suite (nvidia_22k preset, JAX backend, against our
PyTorch reference on the same device).

Usage:
    KERAS_BACKEND=jax python benchmarks/suite.py --budget 480 --out results.jsonl
    python benchmarks/suite.py --jobs cpu --budget 900   # the CPU side-by-side
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INFER_22K = ("--preset", "nvidia_22k", "--mode", "infer", "--seconds", "10")
TRAIN_22K = ("--preset", "nvidia_22k", "--mode", "train", "--batch-size", "12")
TRAIN_22K += ("--segment-length", "16000", "--repeats", "5", "--warmup", "2")
SMALL_CPU = ("--preset", "small", "--seconds", "2", "--repeats", "7", "--warmup", "2")


def _bench(backend: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / "bench.py"), "--backend", backend, *args]


GAN_22K = ("--preset", "nvidia_22k", "--gan", "--precision", "bf16", "--batch-size", "12")
JOBS = {
    "gpu": [  # priority order: the targets first, then the comparisons
        ("jax infer", _bench("jax", *INFER_22K, "--precision", "bf16,tf32,fp32")),
        ("torch infer", _bench("torch-reference", *INFER_22K, "--precision", "fp32,tf32,fp16")),
        ("jax train", _bench("jax", *TRAIN_22K, "--precision", "bf16")),
        ("torch train", _bench("torch-reference", *TRAIN_22K, "--precision", "bf16,tf32")),
        (
            "jax infer conv",
            _bench("jax", *INFER_22K, "--precision", "bf16,tf32", "--conv-impl", "conv"),
        ),
        ("jax train conv", _bench("jax", *TRAIN_22K, "--precision", "bf16", "--conv-impl", "conv")),
        ("jax train remat", _bench("jax", *TRAIN_22K, "--precision", "bf16", "--remat")),
        (
            "jax infer batch 8",
            _bench("jax", *INFER_22K, "--batch-size", "8", "--precision", "bf16"),
        ),
        ("jax infer fp16", _bench("jax", *INFER_22K, "--precision", "fp16")),
        (
            "bench_train gan",
            [
                sys.executable,
                str(HERE / "bench_train.py"),
                *GAN_22K,
                "--steps",
                "3",
                "--repeats",
                "3",
            ],
        ),
    ],
    "cpu": [
        (f"{backend} small", _bench(backend, *SMALL_CPU, "--threads", "2"))
        for backend in ("torch-reference", "tensorflow", "jax") * 3  # interleaved rounds
    ],
}


def _summary(rows: list[dict]) -> str:
    lines = [f"{'job':26} {'backend':16} {'mode':6} {'prec':5} {'MHz':>8} {'peak GiB':>9}"]
    for row in rows:
        peak = row.get("peak_memory_bytes")
        peak = f"{peak / 2**30:9.2f}" if peak else f"{'-':>9}"
        name = row["job"][:26]
        lines.append(
            f"{name:26} {row.get('backend', ''):16} {row.get('mode', ''):6} "
            f"{row.get('precision', ''):5} {row['samples_per_s'] / 1e6:8.3f} {peak}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="gpu", choices=sorted(JOBS))
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all jobs")
    parser.add_argument("--out", default="suite_results.jsonl")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny preset and short inputs: checks the jobs run"
    )
    args = parser.parse_args(argv)
    # Every job's preset, lengths and repeats, by option (the CPU jobs' `small`, 2 s and 7
    # repeats were left as they were).
    smoke = {"--preset": "tiny", "--seconds": "0.5", "--segment-length": "4000"}
    smoke.update({"--batch-size": "2", "--repeats": "2"})
    deadline = time.monotonic() + args.budget
    rows: list[dict] = []
    out = Path(args.out)
    for name, command in JOBS[args.jobs]:
        if args.smoke:
            command = [
                smoke.get(before, part)
                for before, part in zip(["", *command], command, strict=False)
            ]
        left = deadline - time.monotonic()
        if left < 20:
            print(f"# skipped (budget): {name}", flush=True)
            continue
        print(f"# {name}: {' '.join(command[1:])}", flush=True)
        start = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=left, env=env, check=False
            )
            stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
            stderr, code = "timed out", "timeout"
        for line in stdout.splitlines():
            if line.startswith("{"):
                row = {"job": name, **json.loads(line)}
                rows.append(row)
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(line, flush=True)
        print(f"# {name}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
        if code != 0:
            print("\n".join(stderr.splitlines()[-15:]), flush=True)
    print(_summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
