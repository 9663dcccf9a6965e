"""Where a flow's likelihood explodes: each affine coupling's log-scale on given audio files.

A held-out NLL of millions of bits per sample needs a huge z, and in WaveGlow only the affine
couplings depend on the input: `y_b = exp(log_s) * x_b + b`. This script runs the flow forward
on whole files (the model's own mel of each) and prints, per file, the NLL in bits per sample,
the largest |z|, and per coupling the largest `log_s` and the largest |output| it produced, so
an explosion can be traced to the coupling that amplifies. One JSON line per file.

With `--list` it reads a file list instead (prepare's train.txt / eval.txt), optionally a seeded
random `--sample` of it or `--every` k-th file, and ends with one summary line: per coupling the
median and largest of the files' largest `log_s` and the smallest `log_s`, with the NLL's median
and largest (how far a soft clamp on `log_s` may go without touching a well-modelled file).

Usage (either backend):
    python benchmarks/coupling_scales.py --model squeezewave_128s_klettres \\
        --files klettres/pt_BR/syllab_le.wav klettres/de/syllab_kind.wav
    python benchmarks/coupling_scales.py --model squeezewave_128s --weights run.weights.h5 ...
    python benchmarks/coupling_scales.py --model squeezewave_128s_klettres \\
        --list klettres/train.txt --sample 60
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="preset, .keras or NVIDIA checkpoint")
    parser.add_argument("--weights", help=".weights.h5 (generator or training checkpoint)")
    sources = parser.add_mutually_exclusive_group(required=True)
    sources.add_argument("--files", nargs="+", help="audio files")
    sources.add_argument("--list", help="file list (.txt, paths relative to its folder)")
    parser.add_argument("--sample", type=int, help="with --list: this many files, drawn at random")
    parser.add_argument("--every", type=int, default=1, help="with --list: every k-th file")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    args = parser.parse_args(argv)
    files = args.files
    if args.list:
        import random

        from keras_waveglow.data.arctic import read_file_list

        files = read_file_list(args.list)[:: args.every]
        if args.sample:
            files = random.Random(args.seed).sample(files, args.sample)

    from keras import ops

    from keras_waveglow.audio import load_audio, mel_spectrogram
    from keras_waveglow.flow import WaveGlow
    from keras_waveglow.inference import load_vocoder
    from keras_waveglow.layers import AffineCoupling
    from keras_waveglow.losses import nll_to_log_likelihood, waveglow_nll
    from keras_waveglow.presets import PRESETS
    from keras_waveglow.training import load_initial_weights

    if args.weights and args.model in PRESETS:
        model = WaveGlow.from_preset(args.model, load_weights=False)
        load_initial_weights(model, args.weights)  # generator file or full checkpoint
    else:
        model = load_vocoder(args.model, args.weights)

    seen: list[dict] = []
    original = AffineCoupling._scale_shift

    def recording(self, x_a, cond):  # every coupling call of one forward pass, in order
        log_s, b = original(self, x_a, cond)
        seen.append({"max_log_s": float(ops.max(log_s)), "min_log_s": float(ops.min(log_s))})
        return log_s, b

    AffineCoupling._scale_shift = recording
    records = []
    try:
        for path in files:
            audio, _ = load_audio(path, model.mel_config["sample_rate"])
            usable = len(audio) // model.n_group * model.n_group
            audio = audio[None, :usable].astype("float32")
            mel = mel_spectrogram(audio, **model.mel_config)
            seen.clear()
            z, log_det = model.forward(audio, mel)
            nll = waveglow_nll(z, log_det, sigma=model.train_sigma)
            likelihood = nll_to_log_likelihood(nll, sigma=model.train_sigma)
            z = ops.convert_to_numpy(z)
            record = {
                "file": str(path),
                "samples": int(usable),
                "nll_bits_per_sample": -likelihood["bits_per_sample"],
                "max_abs_z": float(np.max(np.abs(z))),
                "couplings": [
                    {k: round(v, 3) for k, v in item.items()} | {"flow": i}
                    for i, item in enumerate(seen)
                ],
            }
            records.append(record)
            print(json.dumps(record), flush=True)
    finally:
        AffineCoupling._scale_shift = original
    if args.list:
        print(json.dumps(summarise(records)), flush=True)


def summarise(records: list[dict]) -> dict:
    """Per coupling, over the files: median and largest max log_s, smallest min log_s."""
    highs = np.array([[c["max_log_s"] for c in r["couplings"]] for r in records])
    lows = np.array([[c["min_log_s"] for c in r["couplings"]] for r in records])
    nll = np.array([r["nll_bits_per_sample"] for r in records])
    return {
        "summary": {
            "files": len(records),
            "nll_bits_per_sample_median": round(float(np.median(nll)), 3),
            "nll_bits_per_sample_max": float(nll.max()),
            "max_log_s_median": np.round(np.median(highs, axis=0), 2).tolist(),
            "max_log_s_max": np.round(highs.max(axis=0), 2).tolist(),
            "min_log_s_min": np.round(lows.min(axis=0), 2).tolist(),
        }
    }


if __name__ == "__main__":
    main()
