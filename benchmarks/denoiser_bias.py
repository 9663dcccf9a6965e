"""How NVIDIA's bias spectrum compares with the Denoiser's default (frame-averaged) one.

NVIDIA's denoiser keeps the first STFT frame of the model's output for an all-zero log-mel
at sigma 0 (88 frames); `Denoiser.from_model` averages the frames by default. For one model
this prints one JSON line per `mode`: the two spectra's sums over frequency and their ratio,
their largest relative difference per frequency, and the share of a recording's energy each
removes at the given strength (the ratio of sums does not predict it: the spectra differ in
shape).

Usage (either backend):
    python benchmarks/denoiser_bias.py --model squeezewave_128s_klettres \
        --audio data/cmu_us_slt_arctic/wav/arctic_a0009.wav --strength 0.1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="preset, .keras or NVIDIA checkpoint")
    parser.add_argument("--audio", required=True, help="a recording to denoise")
    parser.add_argument("--strength", type=float, default=0.1)
    parser.add_argument("--modes", nargs="+", default=["zeros", "silence"])
    args = parser.parse_args(argv)

    import keras

    from keras_waveglow.audio import load_audio
    from keras_waveglow.inference import Denoiser, load_vocoder

    model = load_vocoder(args.model)
    audio, _ = load_audio(args.audio, model.sample_rate)
    rows = []
    for mode in args.modes:
        mean = Denoiser.from_model(model, mode=mode, n_frames=88)
        first = Denoiser.from_model(model, mode=mode, n_frames=88, frames="first")
        spectra = {
            name: keras.ops.convert_to_numpy(d.bias_spectrum).astype(np.float64)
            for name, d in (("mean", mean), ("first", first))
        }
        removed = {
            name: float(1 - np.sum(d.denoise(audio, args.strength) ** 2) / np.sum(audio**2))
            for name, d in (("mean", mean), ("first", first))
        }
        row = {
            "backend": keras.backend.backend(),
            "model": args.model,
            "audio": args.audio,
            "mode": mode,
            "n_frames": 88,
            "strength": args.strength,
            "sum_first": float(spectra["first"].sum()),
            "sum_mean": float(spectra["mean"].sum()),
            "first_over_mean": float(spectra["first"].sum() / spectra["mean"].sum()),
            "max_relative_difference": float(
                np.max(
                    np.abs(spectra["first"] - spectra["mean"]) / np.maximum(spectra["first"], 1e-12)
                )
            ),
            "energy_removed_mean": removed["mean"],
            "energy_removed_first": removed["first"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
