"""Where a flow's likelihood explodes: each affine coupling's log-scale on given audio files.

A held-out NLL of millions of bits per sample needs a huge z, and in WaveGlow only the affine
couplings depend on the input: `y_b = exp(log_s) * x_b + b`. This script runs the flow forward
on whole files (the model's own mel of each) and prints, per file, the NLL in bits per sample,
the largest |z|, and per coupling the largest `log_s` and the largest |output| it produced, so
an explosion can be traced to the coupling that amplifies. One JSON line per file.

Usage (either backend):
    python benchmarks/coupling_scales.py --model squeezewave_128s_klettres \\
        --files klettres/pt_BR/syllab_le.wav klettres/de/syllab_kind.wav
    python benchmarks/coupling_scales.py --model squeezewave_128s --weights run.weights.h5 ...
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
    parser.add_argument("--files", nargs="+", required=True, help="audio files")
    args = parser.parse_args(argv)

    from keras import ops

    from keras_waveglow.audio import load_audio, mel_spectrogram
    from keras_waveglow.flow import AffineCoupling, WaveGlow
    from keras_waveglow.inference import load_vocoder
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
    try:
        for path in args.files:
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
            print(json.dumps(record), flush=True)
    finally:
        AffineCoupling._scale_shift = original


if __name__ == "__main__":
    main()
