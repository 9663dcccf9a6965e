"""Level statistics of a prepared file list: digital silence, clipping, peaks, per speaker.

Prints one JSON object: over all files of the list, the share of samples that are exact zeros
and the number of files with more than `--clip-share` of their samples at full scale
(|x| >= 0.999), then the same per speaker (the parent folder), with the median and largest
peak and RMS. With `--segment-length N` also the share of files shorter than a training segment
(zero-padded by the pipeline) and the median duration; with `--trim-db D` also the share of
samples `trim_silence` (the pipeline's `trim_db`) removes and the same figures after it.

Usage:
    python benchmarks/data_audit.py --list klettres/train.txt
    python benchmarks/data_audit.py --list klettres/train.txt --segment-length 8192 --trim-db 40
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
    parser.add_argument("--segment-length", type=int, default=None, help="training segment")
    parser.add_argument("--trim-db", type=float, default=None, help="as make_dataset(trim_db=)")
    args = parser.parse_args(argv)

    import soundfile as sf

    from keras_waveglow.audio import trim_silence
    from keras_waveglow.data import read_file_list

    speakers = defaultdict(lambda: {"files": 0, "clipped": 0, "peaks": [], "rms": []})
    zeros = samples = clipped = 0
    lengths, trimmed_lengths = [], []
    rate = None
    files = read_file_list(args.list)
    for path in files:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        lengths.append(audio.size)
        if args.trim_db is not None:
            trimmed_lengths.append(trim_silence(audio, top_db=args.trim_db).size)
        row = speakers[path.parent.name]
        row["files"] += 1
        is_clipped = np.mean(np.abs(audio) >= 0.999) > args.clip_share
        row["clipped"] += int(is_clipped)
        clipped += int(is_clipped)
        row["peaks"].append(float(np.max(np.abs(audio))))
        row["rms"].append(float(np.sqrt(np.mean(audio**2))))
        zeros += int(np.count_nonzero(audio == 0))
        samples += audio.size
    durations = {}
    if args.segment_length is not None or args.trim_db is not None:
        durations["median_seconds"] = round(float(np.median(lengths)) / rate, 3)
        if args.segment_length is not None:
            short = np.mean(np.asarray(lengths) < args.segment_length)
            durations["shorter_than_segment_share"] = round(float(short), 4)
        if args.trim_db is not None:
            removed = 1 - sum(trimmed_lengths) / sum(lengths)
            durations["trimmed_sample_share"] = round(float(removed), 4)
            durations["median_seconds_trimmed"] = round(float(np.median(trimmed_lengths)) / rate, 3)
            if args.segment_length is not None:
                short = np.mean(np.asarray(trimmed_lengths) < args.segment_length)
                durations["shorter_than_segment_share_trimmed"] = round(float(short), 4)
    print(
        json.dumps(
            {
                "list": args.list,
                "files": len(files),
                **durations,
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
