"""Where a vocoder's log-mel error lies, speaker by speaker and band by band.

For evenly spaced files of each speaker of each file list (`--per-speaker`; the speaker is a
file's folder), the script copy-synthesises the file (`vocode`, `--sigma`, seed `[--seed, i]`)
and compares the log-mel of the output with the recording's (the model's own mel). Per speaker
and list it prints the log-mel L1 over all frames and over the active frames (mean log-mel at
least `--active-floor`, natural log; the mel's floor is log(1e-5) = -11.5), the share of
active frames, and per band range (`--edges` in Hz) over the active frames: the recording's
mean log-mel, the mean signed error (output minus recording: positive where the vocoder adds
energy the mel does not have) and the mean absolute error. A finer look at the low end: the
mean log-magnitude of a 4,096-point STFT (same hop, active frames) of recording and output, the
frequency of each one's strongest bin in `--peak-range` Hz, and the output's excess over the
recording at the flow's group rate (sample rate / n_group, where its comb's first line is).
One JSON line per speaker and list.

Usage (TensorFlow backend):
    python benchmarks/speaker_errors.py --model squeezewave_128s_klettres \\
        --list klettres/train.txt --list klettres/eval.txt --per-speaker 8 --out errors.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit, speakers_of  # benchmarks/ is on sys.path as a script


def band_slices(mel_config: dict, edges_hz: list[float]) -> list[tuple[str, slice]]:
    """(name, mel-band slice) per range between consecutive `edges_hz`, by band centre."""
    import librosa

    centres = librosa.mel_frequencies(
        mel_config["n_mels"] + 2, fmin=mel_config["fmin"], fmax=mel_config["fmax"]
    )[1:-1]
    slices = []
    for low, high in itertools.pairwise(edges_hz):
        inside = np.flatnonzero((centres >= low) & (centres < high))
        if inside.size:
            slices.append((f"{low:g}-{high:g}", slice(int(inside[0]), int(inside[-1]) + 1)))
    return slices


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="preset, .keras (default: bundled)")
    parser.add_argument("--weights", help=".weights.h5 for a preset --model")
    parser.add_argument("--list", action="append", required=True, help="file list (repeatable)")
    parser.add_argument("--per-speaker", type=int, default=8)
    parser.add_argument("--sigma", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--active-floor", type=float, default=-9.0)
    parser.add_argument(
        "--edges", type=float, nargs="+", default=[0, 200, 500, 1000, 2000, 4000, 8001]
    )
    parser.add_argument("--peak-range", type=float, nargs=2, default=[60.0, 400.0])
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)

    import librosa

    from keras_waveglow.audio import load_audio, mel_spectrogram
    from keras_waveglow.inference import load_vocoder, vocode

    model = load_vocoder(args.model, args.weights)
    config = dict(model.mel_config)
    bands = band_slices(config, args.edges)
    fine_fft = 4096
    fine_hz = np.fft.rfftfreq(fine_fft, 1.0 / model.sample_rate)
    in_range = (fine_hz >= args.peak_range[0]) & (fine_hz <= args.peak_range[1])
    group_rate = model.sample_rate / model.n_group
    group_bin = int(np.argmin(np.abs(fine_hz - group_rate)))

    def fine_log_magnitude(audio: np.ndarray, frames: int, active: np.ndarray) -> np.ndarray:
        magnitude = np.abs(librosa.stft(audio, n_fft=fine_fft, hop_length=config["hop_length"]))
        return np.log(magnitude[:, :frames][:, active[: magnitude.shape[1]]] + 1e-5)

    for listing in args.list:
        for speaker, chosen in speakers_of(listing, args.per_speaker):
            l1, references, errors, total = [], [], [], 0
            fine = {"recording": [], "output": []}
            for number, path in enumerate(chosen):
                audio, _ = load_audio(path, sample_rate=model.sample_rate)
                mel = np.asarray(mel_spectrogram(audio, **config))
                out = vocode(
                    mel, model, sigma=args.sigma, seed=[args.seed, number], return_sample_rate=False
                )
                generated = np.asarray(mel_spectrogram(out[: len(audio)], **config))
                frames = min(len(mel), len(generated))
                error = generated[:frames] - mel[:frames]
                l1.append(float(np.abs(error).mean()))
                total += frames
                active = mel[:frames].mean(axis=1) >= args.active_floor
                references.append(mel[:frames][active])
                errors.append(error[active])
                fine["recording"].append(fine_log_magnitude(audio, frames, active))
                fine["output"].append(fine_log_magnitude(out[: len(audio)], frames, active))
            reference, error = np.concatenate(references), np.concatenate(errors)
            record = {
                "list": listing,
                "speaker": speaker,
                "files": len(chosen),
                "model": args.model,
                "weights": args.weights,
                "sigma": args.sigma,
                "log_mel_l1": float(np.mean(l1)),
                "active_share": len(reference) / total,
                "log_mel_l1_active": float(np.abs(error).mean()) if error.size else None,
                "bands": {},
            }
            for name, band in bands:
                if not error.size:
                    break
                record["bands"][name] = {
                    "recording": float(reference[:, band].mean()),
                    "bias": float(error[:, band].mean()),
                    "abs_error": float(np.abs(error[:, band]).mean()),
                }
            spectra = {k: np.concatenate(v, axis=1).mean(axis=1) for k, v in fine.items()}
            if error.size:
                record["low_peak_hz"] = {
                    k: float(fine_hz[in_range][np.argmax(v[in_range])]) for k, v in spectra.items()
                }
                record["group_rate_hz"] = float(fine_hz[group_bin])
                record["group_rate_excess"] = float(
                    spectra["output"][group_bin] - spectra["recording"][group_bin]
                )
            emit(record, args.out)


if __name__ == "__main__":
    main()
