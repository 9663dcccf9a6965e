"""Does `keras-waveglow train` exit after a data error, every time? Prints JSON.

Builds a folder whose every file fails (a corrupt header, an empty file, one too short for a
hop, one with NaN samples: the last passes the header check and fails in tf.data's map), runs
`train` on it `--trials` times and counts the runs that exit (and how) and the ones still
running after `--timeout` seconds (killed and counted as hangs). Before the fix of 2026-12-05
an iterator destroyed with map calls waiting for the GIL hung about one run in ten.

Example:
    python benchmarks/error_exit_trials.py --trials 20
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf


def bad_folder(root: Path) -> Path:
    folder = root / "bad_only"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.wav").write_bytes(b"RIFF" + b"\xff" * 60)
    sf.write(folder / "short_100.wav", np.zeros(100, np.float32), 16000)
    nan = np.full(16000, 0.1, np.float32)
    nan[:100] = np.nan
    sf.write(folder / "nan_float.wav", nan, 16000, subtype="FLOAT")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    codes: dict[str, int] = {}
    hangs, seconds = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        data = bad_folder(Path(tmp))
        for trial in range(args.trials):
            command = [sys.executable, "-m", "keras_waveglow", "train", "--preset", "tiny"]
            command += ["--data", str(data), "--out", str(Path(tmp) / f"run{trial}")]
            command += ["--steps", "2", "--save-every", "2", "--sample-every", "0"]
            command += ["--batch-size", "2", "--segment-length", "2048"]
            started = time.monotonic()
            try:
                result = subprocess.run(command, capture_output=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                hangs += 1
                continue
            seconds.append(round(time.monotonic() - started, 1))
            codes[str(result.returncode)] = codes.get(str(result.returncode), 0) + 1
    print(
        json.dumps(
            {
                "trials": args.trials,
                "timeout_s": args.timeout,
                "exit_codes": codes,
                "hangs": hangs,
                "median_s": float(np.median(seconds)) if seconds else None,
            }
        )
    )


if __name__ == "__main__":
    main()
