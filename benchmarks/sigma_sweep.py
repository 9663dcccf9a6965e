"""Inference settings of a trained vocoder: copy-synthesis quality against sigma and denoising.

WaveGlow samples z ~ N(0, sigma^2) and can subtract its model-bias spectrum (the denoiser).
Both are inference-time choices; this script scores a model's copy-synthesis for each
(sigma, denoiser strength) pair on the same held-out files, with the same seed, through
`keras_waveglow.evaluation.evaluate` (Griffin-Lim, 32 iterations from the same mel, in every
record for reference), and prints one JSON line per setting (also appended to `--out`).

Usage (TensorFlow backend):
    python benchmarks/sigma_sweep.py --model squeezewave_128s_klettres \\
        --data klettres/eval.txt --max-files 12 --sigmas 0 0.3 0.6 0.9 \\
        --denoise 0 --extra 0.6:0.01 0.6:0.1 --out sweep.jsonl
    (`--denoise-mode silence` measures the bias from the log-mel of silence.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit, evenly_spaced  # benchmarks/ is on sys.path as a script

METRICS = ("pesq_wb", "log_mel_l1", "vuv_f1", "mcd_db", "mr_stft")


def settings(sigmas, strengths, extra) -> list[tuple[float, float]]:
    """Every (sigma, strength) of the grid, then the `SIGMA:STRENGTH` extras, without repeats.

    Example:
        >>> settings([0.0, 0.6], [0.0], ["0.6:0.1"])
        [(0.0, 0.0), (0.6, 0.0), (0.6, 0.1)]
    """
    pairs = [(float(s), float(d)) for s in sigmas for d in strengths]
    for item in extra:
        sigma, sep, strength = item.partition(":")
        if not sep:
            raise ValueError(f"--extra takes SIGMA:STRENGTH pairs; got {item!r}.")
        pairs.append((float(sigma), float(strength)))
    for sigma, strength in pairs:
        if sigma < 0 or strength < 0:
            raise ValueError(f"sigma and strength must be >= 0; got {sigma}, {strength}.")
    return list(dict.fromkeys(pairs))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="preset, .keras or NVIDIA checkpoint")
    parser.add_argument("--weights", help=".weights.h5 for a preset --model")
    parser.add_argument("--data", required=True, help="held-out files (list, folder or file)")
    parser.add_argument("--max-files", type=int, default=12, help="evenly spaced over the data")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0.0, 0.3, 0.6, 0.9])
    parser.add_argument("--denoise", type=float, nargs="+", default=[0.0])
    parser.add_argument("--extra", nargs="*", default=[], help="more SIGMA:STRENGTH pairs")
    parser.add_argument(
        "--denoise-mode", choices=("zeros", "silence"), default="zeros", help="the bias's mel"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)

    from keras_waveglow.data import resolve_files
    from keras_waveglow.evaluation import evaluate
    from keras_waveglow.inference import load_vocoder

    pairs = settings(args.sigmas, args.denoise, args.extra)
    files = evenly_spaced(sorted(resolve_files(args.data, split="all")), args.max_files)
    model = load_vocoder(args.model, args.weights)
    for sigma, strength in pairs:
        with tempfile.TemporaryDirectory() as tmp:
            report = evaluate(
                model,
                files,
                Path(tmp) / "report",
                sigma=sigma,
                denoiser_strength=strength,
                denoiser_mode=args.denoise_mode,
                seed=args.seed,
                progress=False,
            )
        record = {"model": args.model, "sigma": sigma, "denoiser_strength": strength}
        record["denoiser_mode"] = args.denoise_mode
        record["files"] = len(files)
        for system in ("waveglow", "griffin_lim"):
            for metric in METRICS:
                summary = report["systems"][system].get(metric)
                record[f"{system}_{metric}"] = None if summary is None else summary["mean"]
        emit(record, args.out)


if __name__ == "__main__":
    main()
