"""Where a file's NLL goes: the latent's energy group by group.

A WaveGlow's NLL of a file is the Gaussian term sum(z^2) / (2 sigma^2) minus the
log-determinant, over the whole file. When one held-out file scores tens of bits per sample
worse than the rest, this script says whether the Gaussian term is spread over the file or
held by a few groups: it runs `WaveGlow.forward` on each whole file (with its own mel) and
prints, per file, both terms per sample, the median group's Gaussian term, and the `--top`
largest groups with their time, term, largest |z|, how many of the `n_group` latent channels
exceed `--threshold`, and the recording's RMS and peak over the group. One JSON line per file.

Usage (TensorFlow backend):
    python benchmarks/latent_outliers.py --model squeezewave_128s_klettres \\
        --data klettres/pt_BR/syllab_le.wav --out outliers.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit  # benchmarks/ is on sys.path as a script


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="preset, .keras or NVIDIA checkpoint")
    parser.add_argument("--weights", help=".weights.h5 for a preset --model")
    parser.add_argument("--data", action="append", required=True, help="files (repeatable)")
    parser.add_argument("--top", type=int, default=5, help="largest groups to report")
    parser.add_argument("--threshold", type=float, default=20.0, help="|z| counted as large")
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)

    from keras_waveglow.audio import load_audio, mel_function
    from keras_waveglow.data import resolve_files
    from keras_waveglow.inference import load_vocoder

    model = load_vocoder(args.model, args.weights)
    rate, group, sigma = model.sample_rate, model.n_group, model.train_sigma
    mel_of = mel_function(model)
    files = [f for data in args.data for f in sorted(resolve_files(data, split="all"))]
    for path in files:
        audio, _ = load_audio(path, sample_rate=rate)
        length = len(audio) // group * group
        mel = np.asarray(mel_of(audio[None]))
        z, log_det = model.forward(audio[None, :length].astype("float32"), mel)
        z = np.asarray(z)[0].astype("float64")
        terms = (z**2).sum(axis=-1) / (2 * sigma**2)  # nats per group
        record = {"file": str(path), "model": args.model, "weights": args.weights}
        record.update(
            sigma=sigma,
            groups=len(terms),
            gaussian_nats_per_sample=float(terms.sum() / length),
            log_det_nats_per_sample=float(np.asarray(log_det)[0] / length),
            median_group_gaussian_nats=float(np.median(terms)),
            top_groups=[],
        )
        for step in np.argsort(terms)[::-1][: args.top]:
            piece = audio[step * group : (step + 1) * group]
            record["top_groups"].append(
                {
                    "group": int(step),
                    "time_s": step * group / rate,
                    "gaussian_nats": float(terms[step]),
                    "max_abs_z": float(np.abs(z[step]).max()),
                    "channels_above_threshold": int(np.sum(np.abs(z[step]) > args.threshold)),
                    "recording_rms": float(np.sqrt(np.mean(piece**2))),
                    "recording_peak": float(np.abs(piece).max()),
                }
            )
        emit(record, args.out)


if __name__ == "__main__":
    main()
