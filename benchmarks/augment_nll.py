"""What a model's density makes of augmented training segments.

Cuts the same training segments (`make_dataset`'s example source: seed, epoch 0, one slot per
segment; speed perturbation cuts other pieces of the same files) under several augmentation
settings and scores each segment's NLL in bits per sample with the model's own mel
(`WaveGlow.forward`, `losses.waveglow_nll`, `nll_to_log_likelihood`): plain (dequantised
only, the training default), the random equaliser without and with the high-pass (`--eq-db`),
the high-pass alone, and speed perturbation (`--speed`). Per setting it prints the median,
90th percentile and largest segment NLL and the share of segments above `--above` bits. A
setting whose segments the density finds impossible (a long upper tail) is one the model has
not seen; training on it gives the large NLL steps (clipped gradients) that go with learning
it. One JSON line per setting.

Usage (TensorFlow backend):
    python benchmarks/augment_nll.py --model squeezewave_128s_klettres \\
        --data klettres/train.txt --segments 96 --out augment_nll.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit  # benchmarks/ is on sys.path as a script


def settings(eq_db: float, speed: tuple[float, float]) -> dict[str, dict]:
    """The augmentation settings compared, by name (`make_dataset` augment dicts)."""
    return {
        "plain": {"dequantize": True},
        "eq_no_highpass": {"dequantize": True, "eq_db": eq_db, "eq_highpass_prob": 0.0},
        "eq_with_highpass": {"dequantize": True, "eq_db": eq_db, "eq_highpass_prob": 1.0},
        "highpass_only": {"dequantize": True, "eq_db": 0.0, "eq_highpass_prob": 1.0},
        "speed": {"dequantize": True, "speed": speed},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="preset, .keras (default: bundled)")
    parser.add_argument("--weights", help=".weights.h5 for a preset --model")
    parser.add_argument("--data", required=True, help="training files (list or folder)")
    parser.add_argument("--segments", type=int, default=96)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--eq-db", type=float, default=6.0)
    parser.add_argument("--speed", type=float, nargs=2, default=(0.9, 1.3))
    parser.add_argument("--above", type=float, default=0.0, help="NLL threshold in bits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)

    from keras import ops

    from keras_waveglow.audio import mel_function
    from keras_waveglow.data import resolve_files
    from keras_waveglow.data.pipeline import ExampleSource
    from keras_waveglow.inference import load_vocoder
    from keras_waveglow.losses import nll_to_log_likelihood, waveglow_nll

    model = load_vocoder(args.model, args.weights)
    mel_of = mel_function(model)
    files = resolve_files(args.data, split="all")
    for name, augment in settings(args.eq_db, tuple(args.speed)).items():
        source = ExampleSource(
            files,
            dict(model.mel_config),
            args.segment_length,
            batch_size=1,
            seed=args.seed,
            shuffle=True,
            augment=augment,
        )
        bits = []
        for slot in range(args.segments):
            audio = source.example(0, slot)[None]
            z, log_det = model.forward(audio, mel_of(audio))
            loss = float(ops.convert_to_numpy(waveglow_nll(z, log_det, model.train_sigma)))
            bits.append(-nll_to_log_likelihood(loss, sigma=model.train_sigma)["bits_per_sample"])
        bits = np.asarray(bits)
        record = {"setting": name, "augment": augment, "model": args.model, "weights": args.weights}
        record.update(
            data=args.data,
            segments=len(bits),
            median_bits=float(np.median(bits)),
            p90_bits=float(np.percentile(bits, 90)),
            max_bits=float(bits.max()),
            share_above=float(np.mean(bits > args.above)),
            above_bits=args.above,
        )
        emit(record, args.out)


if __name__ == "__main__":
    main()
