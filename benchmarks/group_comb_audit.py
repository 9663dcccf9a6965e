"""Spectral lines at multiples of sample_rate / n_group in a vocoder's copy-synthesis.

A WaveGlow squeezes audio into groups of `n_group` samples; a component of its output that
repeats in every group is periodic with that many samples and shows as lines at every
multiple of `sample_rate / n_group` (172.3 Hz for 128 samples at 22.05 kHz; NVIDIA's
"model bias" at 2 or 2.76 kHz for 8). For each file, the recording and the vocoder's
copy-synthesis (sigma and seed as given) get a Welch spectrum (16,384-point segments,
1.3 Hz bins at 22.05 kHz), and the script reports the mean prominence of the peak at each
multiple up to 8 kHz above the median level of the bins within 8 to 60 Hz of it, and the
same at the half-way frequencies (k + 1/2) * rate / n_group as the control. With
`--remove`, it also scores (PESQ-WB, log-mel L1, V/UV F1, F0 RMSE, MR-STFT) the output
with its `n_group`-periodic mean removed: over the whole file and over a sliding window
of 16 groups. With `--antithetic`, it also vocodes with the latent negated and splits
the output into its even part (x(z) + x(-z)) / 2 and odd part (x(z) - x(-z)) / 2. A mel
does not change when the waveform's sign does, so the speech it stands for has no preferred
sign; an even part is what the output keeps whatever the noise's sign, a waveform set by the
mel alone (for a Gaussian, the mean: zero). It reports the even part's share of the output's
RMS and the lines' prominence in each part; with `--score-parts` as well, it scores the
sample x(z) and both parts like `--remove` does (is the voicing in the mel-determined part or
the noise-driven one?). One JSON line per file, then a summary line.

Usage (TensorFlow backend):
    python benchmarks/group_comb_audit.py --model squeezewave_128s_klettres \\
        --data data --data klettres/eval.txt --max-files 12 --remove --out comb.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit, evenly_spaced  # benchmarks/ is on sys.path as a script

SCORES = ("pesq_wb", "log_mel_l1", "vuv_f1", "f0_rmse_cents", "mr_stft")


def prominence(audio: np.ndarray, sample_rate: int, spacing: float, offset: float) -> float:
    """Mean height (dB) of the spectral peaks at `(k + offset) * spacing` above their
    surroundings, for every such frequency from `spacing` up to 8 kHz.

    Example:
        >>> t = np.arange(22050 * 4) / 22050
        >>> comb = sum(np.sin(2 * np.pi * 172.265625 * k * t) for k in range(1, 40))
        >>> prominence(comb + 0.01 * np.random.default_rng(0).standard_normal(t.size),
        ...            22050, 172.265625, 0.0) > 20
        True
    """
    from scipy.signal import welch

    freqs, power = welch(audio, fs=sample_rate, nperseg=min(16384, len(audio)))
    level = 10 * np.log10(power + 1e-20)
    heights = []
    for k in range(1, int(min(8000.0, sample_rate / 2 - 60) // spacing) + 1):
        centre = (k + offset) * spacing
        i = int(np.argmin(np.abs(freqs - centre)))
        around = (np.abs(freqs - centre) < 60) & (np.abs(freqs - centre) > 8)
        heights.append(level[max(i - 1, 0) : i + 2].max() - np.median(level[around]))
    return float(np.mean(heights))


def remove_periodic_mean(audio: np.ndarray, period: int, groups: int | None = None) -> np.ndarray:
    """`audio` minus its `period`-periodic mean: over all groups, or over a sliding window of
    `groups` neighbouring groups (a comb notch at every multiple of rate / period).

    Example:
        >>> x = np.tile(np.arange(4.0), 10)
        >>> float(np.abs(remove_periodic_mean(x, 4)).max())
        0.0
    """
    n = len(audio) // period * period
    frames = audio[:n].reshape(-1, period)
    if groups is None:
        mean = np.broadcast_to(frames.mean(axis=0), frames.shape)
    else:
        kernel = np.ones(groups)
        counts = np.convolve(np.ones(len(frames)), kernel, mode="same")[:, None]
        sums = np.stack([np.convolve(c, kernel, mode="same") for c in frames.T], axis=1)
        mean = sums / counts
    out = np.array(audio, dtype=np.float64)
    out[:n] = (frames - mean).reshape(-1)
    out[n:] -= mean[-1][: len(audio) - n]
    return out.astype(np.float32)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="preset, .keras or NVIDIA checkpoint")
    parser.add_argument("--weights", help=".weights.h5 for a preset --model")
    parser.add_argument("--data", action="append", required=True, help="files (repeatable)")
    parser.add_argument("--max-files", type=int, default=12, help="evenly spaced, per --data")
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--remove", action="store_true", help="also score the comb removed")
    parser.add_argument(
        "--antithetic",
        action="store_true",
        help="also vocode with -z: the even part's RMS share and the lines in each part",
    )
    parser.add_argument(
        "--score-parts",
        action="store_true",
        help="with --antithetic: also score x(z) and its even and odd parts",
    )
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)
    if args.score_parts and not args.antithetic:
        parser.error("--score-parts needs --antithetic")

    from keras_waveglow.audio import load_audio, mel_function
    from keras_waveglow.data import resolve_files
    from keras_waveglow.evaluation import score_against_reference
    from keras_waveglow.inference import load_vocoder, vocode

    model = load_vocoder(args.model, args.weights)
    rate, period = model.sample_rate, model.n_group
    spacing = rate / period
    mel_of = mel_function(model)
    files = []
    for data in args.data:
        files += evenly_spaced(sorted(resolve_files(data, split="all")), args.max_files)
    rows = []
    for path in files:
        audio, _ = load_audio(path, sample_rate=rate)
        mel = np.asarray(mel_of(audio[None]))[0]
        output = vocode(mel, model=model, sigma=args.sigma, seed=args.seed)
        output = np.asarray(output).reshape(-1)[: len(audio)]
        row = {"file": str(path), "model": args.model, "weights": args.weights}
        row.update(n_group=period, line_spacing_hz=spacing, sigma=args.sigma)
        for name, signal in (("recording", audio), ("vocoded", output)):
            row[f"{name}_prominence_db"] = prominence(signal, rate, spacing, 0.0)
            row[f"{name}_halfway_prominence_db"] = prominence(signal, rate, spacing, 0.5)
        if args.antithetic:  # a latent of its own (NumPy, same seed and sigma), and its negation
            steps = mel.shape[0] * model.hop_length // period
            noise = np.random.default_rng(args.seed).standard_normal((1, steps, period))
            noise = (args.sigma * noise).astype("float32")
            pair = [np.asarray(model.inverse(mel[None], z=z)).reshape(-1) for z in (noise, -noise)]
            sample, mirror = (x[: len(audio)] for x in pair)
            even, odd = (sample + mirror) / 2, (sample - mirror) / 2
            row["even_rms_share"] = float(np.sqrt(np.mean(even**2) / np.mean(sample**2)))
            row["even_prominence_db"] = prominence(even, rate, spacing, 0.0)
            row["odd_prominence_db"] = prominence(odd, rate, spacing, 0.0)
            if args.score_parts:
                for name, signal in (("sample", sample), ("even_part", even), ("odd_part", odd)):
                    row[f"{name}_scores"], _ = score_against_reference(
                        audio, signal, rate, model.mel_config, names=SCORES
                    )
        if args.remove:
            versions = {
                "vocoded": output,
                "removed_whole_file": remove_periodic_mean(output, period),
                "removed_16_groups": remove_periodic_mean(output, period, groups=16),
            }
            for name, signal in versions.items():
                scores, _ = score_against_reference(
                    audio, signal, rate, model.mel_config, names=SCORES
                )
                row[f"{name}_scores"] = scores
        rows.append(row)
        emit(row, args.out)
    summary = {"summary": True, "model": args.model, "weights": args.weights, "files": len(rows)}
    for key in rows[0]:
        if key.endswith("_db") or key == "even_rms_share":
            summary[key] = float(np.mean([r[key] for r in rows]))
        if key.endswith("_scores"):
            summary[key] = {
                m: float(np.mean([r[key][m] for r in rows if r[key].get(m) is not None]))
                for m in SCORES
                if any(r[key].get(m) is not None for r in rows)
            }
    emit(summary, args.out)


if __name__ == "__main__":
    main()
