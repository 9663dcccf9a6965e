"""The pitch range of each speaker of a file list (folder/name lines, the folder the speaker).

For evenly spaced files of each speaker (`--per-speaker`), `librosa.pyin` (60 to 600 Hz,
1,024-sample frames, hop 256) tracks F0; the script prints, per speaker and list, the number of
voiced frames, the median F0, its 5th and 95th percentiles and the share of voiced frames above
`--above` Hz. Use it to see whether a held-out voice lies outside the training voices' range.
pYIN's floor (60 Hz) shows up as a median of 60 for voices it tracks badly. One JSON line per
speaker.

Usage:
    python benchmarks/speaker_pitch.py --list klettres/train.txt --list klettres/eval.txt \\
        --per-speaker 8 --out pitch.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit, speakers_of  # benchmarks/ is on sys.path as a script


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="append", required=True, help="file list (repeatable)")
    parser.add_argument("--per-speaker", type=int, default=8)
    parser.add_argument("--above", type=float, default=250.0)
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)

    import librosa

    from keras_waveglow.audio import load_audio

    for listing in args.list:
        for speaker, chosen in speakers_of(listing, args.per_speaker):
            voiced = []
            for path in chosen:
                audio, rate = load_audio(path)
                f0, flags, _ = librosa.pyin(
                    audio, fmin=60, fmax=600, sr=rate, frame_length=1024, hop_length=256
                )
                voiced.append(f0[flags])
            f0 = np.concatenate(voiced)
            record = {"list": listing, "speaker": speaker, "files": len(chosen)}
            record["voiced_frames"] = int(f0.size)
            if f0.size:
                record.update(
                    median_hz=float(np.median(f0)),
                    p5_hz=float(np.percentile(f0, 5)),
                    p95_hz=float(np.percentile(f0, 95)),
                    share_above=float(np.mean(f0 > args.above)),
                    above_hz=args.above,
                )
            emit(record, args.out)


if __name__ == "__main__":
    main()
