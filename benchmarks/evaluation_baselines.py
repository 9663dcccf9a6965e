"""The evaluation's baseline and voicing choices, measured: prints one JSON object per line.

- `griffin_lim`: fast Griffin-Lim (librosa's default momentum 0.99, `evaluate`'s baseline)
  against the classic algorithm (momentum 0) on one bundled ARCTIC utterance at 22.05 kHz,
  32 iterations, seed 0: PESQ-WB and log-mel L1 against the recording.
- `voicing`: the share of 5 ms frames called voiced on that utterance by pyworld (DIO +
  StoneMask, `evaluate`'s extractor) and by librosa's pyin with the fallback's frames before
  (4096 samples at 22.05 kHz) and now (`evaluation.f0_contour` without pyworld: 2048), pyin's
  voicing agreement (F1) with pyworld on the first second, and the share of 0.1-std white
  noise frames pyin calls voiced.

Usage:
    python benchmarks/evaluation_baselines.py [--file data/cmu_us_slt_arctic/wav/arctic_a0009.wav]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np

RATE = 22050  # the bundled vocoder's rate (its preset's mel_config below)
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ROOT / "data/cmu_us_slt_arctic/wav/arctic_a0009.wav"))
    args = parser.parse_args()

    import librosa

    from keras_waveglow import WaveGlow, evaluation
    from keras_waveglow.audio import load_audio, mel_spectrogram

    # The bundled vocoder's mel (22.05 kHz, 80 bands, 1024/256).
    mel_config = WaveGlow.from_preset("squeezewave_128s", load_weights=False).mel_config
    audio, _ = load_audio(args.file, sample_rate=RATE)
    mel = np.asarray(mel_spectrogram(audio, **mel_config))
    default = evaluation.GRIFFIN_LIM_MOMENTUM
    for momentum in (default, 0.0):
        evaluation.GRIFFIN_LIM_MOMENTUM = momentum  # read by griffin_lim at each call
        try:
            output = evaluation.griffin_lim(mel, mel_config, n_iter=32, seed=0, length=len(audio))
        finally:
            evaluation.GRIFFIN_LIM_MOMENTUM = default
        print(
            json.dumps(
                {
                    "measure": "griffin_lim",
                    "file": Path(args.file).name,
                    "momentum": momentum,
                    "pesq_wb": round(evaluation.pesq_wb(audio, output, RATE), 4),
                    "log_mel_l1": round(evaluation.log_mel_l1(audio, output, mel_config), 4),
                }
            )
        )

    hop = int(RATE * evaluation.F0_FRAME_PERIOD_MS / 1000)

    def pyin_voiced(signal, frame_length):
        _, voiced, _ = librosa.pyin(
            signal,
            fmin=evaluation.F0_RANGE_HZ[0],
            fmax=evaluation.F0_RANGE_HZ[1],
            sr=RATE,
            frame_length=frame_length,
            hop_length=hop,
        )
        return voiced

    def agreement(a, b):
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        return float(2 * np.sum(a & b) / (a.sum() + b.sum()))

    second = audio[:RATE]
    world = evaluation.f0_contour(audio, RATE) > 0
    world_second = evaluation.f0_contour(second, RATE) > 0
    noise = (0.1 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32)
    record = {"measure": "voicing", "file": Path(args.file).name, "pyworld": float(world.mean())}
    for label, frame in (("pyin_4096", 4096), ("pyin_2048", 2048)):
        record[f"{label}_voiced"] = float(pyin_voiced(audio, frame).mean())
        record[f"{label}_f1_vs_pyworld_first_second"] = agreement(
            world_second, pyin_voiced(second, frame)
        )
        record[f"{label}_noise_voiced"] = float(pyin_voiced(noise, frame).mean())
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}))


if __name__ == "__main__":
    main()
