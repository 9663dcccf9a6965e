"""Where a vocoder's V/UV errors lie: voiced frames lost or silences called voiced.

Reads the audio an evaluation wrote (`keras-waveglow evaluate --out DIR`: `DIR/audio/<id>_
ground_truth.wav` beside `<id>_waveglow.wav` and `<id>_griffin_lim.wav`), takes the voicing of
every 5 ms frame from the same F0 tracker as the V/UV F1 metric
(`keras_waveglow.evaluation.f0_contour`), and prints one JSON object per system: frame counts
of the confusion table pooled over all files (voiced = F0 > 0; the recording is the
reference), precision and recall of "voiced", and the share of voiced frames in the recording
and in the system's output. Low recall with high precision: voice drowned in noise; low
precision: noise or silence called voiced.

Usage:
    python benchmarks/voicing_audit.py eval_fillets_nl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

SYSTEMS = ("waveglow", "griffin_lim")


def confusion(reference: np.ndarray, degraded: np.ndarray) -> dict[str, int]:
    """Counts of voiced/unvoiced agreement between two F0 contours (0 = unvoiced).

    Args:
        reference: F0 per frame of the recording.
        degraded: F0 per frame of the system's output; both are cropped to the shorter.

    Returns:
        {"tp", "fp", "fn", "tn"} with "voiced" as the positive class.
    """
    n = min(len(reference), len(degraded))
    ref, deg = reference[:n] > 0, degraded[:n] > 0
    return {
        "tp": int(np.sum(ref & deg)),
        "fp": int(np.sum(~ref & deg)),
        "fn": int(np.sum(ref & ~deg)),
        "tn": int(np.sum(~ref & ~deg)),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_dir", help="an `evaluate --out` folder (with audio/)")
    args = parser.parse_args(argv)

    import soundfile as sf

    from keras_waveglow.evaluation import f0_contour

    audio_dir = Path(args.report_dir) / "audio"
    references = sorted(audio_dir.glob("*_ground_truth.wav"))
    if not references:
        raise SystemExit(f"{audio_dir}: no *_ground_truth.wav files (run evaluate with --out).")
    for system in SYSTEMS:
        totals = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        files = 0
        for reference in references:
            candidate = reference.with_name(reference.name.replace("_ground_truth", f"_{system}"))
            if not candidate.exists():
                continue
            ref, rate = sf.read(reference, dtype="float32")
            deg, deg_rate = sf.read(candidate, dtype="float32")
            if deg_rate != rate:
                raise SystemExit(f"{candidate}: sample rate {deg_rate}, recording has {rate}.")
            n = min(len(ref), len(deg))
            counts = confusion(f0_contour(ref[:n], rate), f0_contour(deg[:n], rate))
            totals = {k: totals[k] + counts[k] for k in totals}
            files += 1
        if not files:
            continue
        tp, fp, fn, tn = (totals[k] for k in ("tp", "fp", "fn", "tn"))
        frames = tp + fp + fn + tn
        print(
            json.dumps(
                {
                    "report_dir": str(args.report_dir),
                    "system": system,
                    "files": files,
                    **totals,
                    "precision": tp / (tp + fp) if tp + fp else None,
                    "recall": tp / (tp + fn) if tp + fn else None,
                    "reference_voiced_share": (tp + fn) / frames,
                    "system_voiced_share": (tp + fp) / frames,
                }
            )
        )


if __name__ == "__main__":
    main()
