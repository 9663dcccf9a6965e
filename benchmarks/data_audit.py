"""Level statistics of a prepared file list: digital silence, clipping, peaks, per speaker.

Prints one JSON object: over all files of the list, the share of samples that are exact zeros
and the number of files with more than `--clip-share` of their samples at full scale
(|x| >= 0.999), then the same per speaker (the parent folder), with the median and largest
peak and RMS.

Usage:
    python benchmarks/data_audit.py --list klettres/train.txt
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", required=True, help="a file list (train.txt, eval.txt)")
    parser.add_argument("--clip-share", type=float, default=0.001)
    args = parser.parse_args(argv)

    import soundfile as sf

    from keras_waveglow.data import read_file_list

    speakers = defaultdict(lambda: {"files": 0, "clipped": 0, "peaks": [], "rms": []})
    zeros = samples = clipped = 0
    files = read_file_list(args.list)
    for path in files:
        audio = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
        row = speakers[path.parent.name]
        row["files"] += 1
        is_clipped = np.mean(np.abs(audio) >= 0.999) > args.clip_share
        row["clipped"] += int(is_clipped)
        clipped += int(is_clipped)
        row["peaks"].append(float(np.max(np.abs(audio))))
        row["rms"].append(float(np.sqrt(np.mean(audio**2))))
        zeros += int(np.count_nonzero(audio == 0))
        samples += audio.size
    print(
        json.dumps(
            {
                "list": args.list,
                "files": len(files),
                "zero_sample_share": round(zeros / samples, 4),
                "clipped_files": clipped,
                "speakers": {
                    name: {
                        "files": row["files"],
                        "clipped": row["clipped"],
                        "median_peak": round(float(np.median(row["peaks"])), 3),
                        "max_rms": round(max(row["rms"]), 3),
                        "median_rms": round(float(np.median(row["rms"])), 4),
                    }
                    for name, row in sorted(speakers.items())
                },
            }
        )
    )


if __name__ == "__main__":
    main()
