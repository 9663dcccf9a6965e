"""How exactly a trained flow inverts in float32: on recordings and on its own samples.

The flow is exactly invertible in exact arithmetic (the tests check a tiny model's inverse and
log-determinant); in float32 a trained model can still be ill-conditioned somewhere: where a
coupling's scale `exp(log_s)` is huge, the inverse divides by it and the forward multiplies
float32 rounding by it again. This script measures, per audio file (the model's own mel of it):

- ``recording_x_rel``: recording x -> z -> x', max |x' - x| / max |x|;
- ``recording_z_rel``: that z -> x' -> z'', ||z'' - z|| / ||z||;
- ``sample_z_rel``: z ~ N(0, sigma^2) (seeded) -> vocoded x -> z', ||z' - z|| / ||z||;
- ``*_nll_bits_per_sample``: the model's NLL of the recording and of its own vocoded sample.

One JSON line per file. Usage (either backend):
    python benchmarks/round_trip.py --model squeezewave_128s_klettres --files data/*/wav/*.wav
    python benchmarks/round_trip.py --model squeezewave_128s --files ...   # random weights
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b||."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="preset, .keras or NVIDIA checkpoint")
    parser.add_argument("--weights", help=".weights.h5 for a preset --model")
    parser.add_argument("--files", nargs="+", required=True, help="audio files")
    parser.add_argument("--sigma", type=float, default=0.6, help="sampling sigma (default 0.6)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras
    from keras import ops

    from keras_waveglow.audio import load_audio, mel_spectrogram
    from keras_waveglow.flow import WaveGlow
    from keras_waveglow.inference import load_vocoder
    from keras_waveglow.losses import nll_to_log_likelihood, waveglow_nll
    from keras_waveglow.presets import PRESETS, WEIGHTS

    if args.model in PRESETS and args.model not in WEIGHTS and not args.weights:
        model = WaveGlow.from_preset(args.model, seed=args.seed)  # random weights, seeded
    else:
        model = load_vocoder(args.model, args.weights)

    def nll_bits(audio, mel) -> tuple[np.ndarray, float]:
        z, log_det = model.forward(audio, mel)
        nll = waveglow_nll(z, log_det, sigma=model.train_sigma)
        bits = -nll_to_log_likelihood(nll, sigma=model.train_sigma)["bits_per_sample"]
        return ops.convert_to_numpy(z), bits

    rng = np.random.default_rng(args.seed)
    for path in args.files:
        audio, _ = load_audio(path, model.sample_rate)
        frames = len(audio) // model.hop_length
        x = audio[None, : frames * model.hop_length].astype("float32")
        mel = mel_spectrogram(x, **model.mel_config)[:, :frames]
        z, recording_bits = nll_bits(x, mel)
        x_back = ops.convert_to_numpy(model.inverse(mel, z=z))
        z_back = ops.convert_to_numpy(model.forward(x_back, mel)[0])
        z_sample = (rng.standard_normal(z.shape) * args.sigma).astype("float32")
        x_sample = ops.convert_to_numpy(model.inverse(mel, z=z_sample))
        z_sample_back, sample_bits = nll_bits(x_sample, mel)
        record = {
            "file": str(path),
            "model": args.model,
            "weights": args.weights,
            "backend": keras.backend.backend(),
            "samples": int(x.shape[1]),
            "sigma": args.sigma,
            "seed": args.seed,
            "recording_x_rel": float(np.max(np.abs(x_back - x)) / np.max(np.abs(x))),
            "recording_z_rel": relative(z_back, z),
            "sample_z_rel": relative(z_sample_back, z_sample),
            "recording_nll_bits_per_sample": recording_bits,
            "sample_nll_bits_per_sample": sample_bits,
            "sample_max_abs_z_back": float(np.max(np.abs(z_sample_back))),
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
