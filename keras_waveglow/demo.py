"""`make demo`: train, vocode and evaluate on the bundled CMU ARCTIC sample, in one command.

Trains a preset (default "small") by maximum likelihood for a fixed wall-clock budget on the
first 80% of each bundled utterance, measures the held-out NLL on the last 20%, vocodes both
utterances (copy-synthesis), evaluates against Griffin-Lim and the ground truth, and writes
everything under `--out`:

    model.keras                 the trained model
    wavs/                       vocoded utterances
    spectrograms.png            ground truth / Griffin-Lim / WaveGlow log-mels
    report/index.html, report/report.json   the evaluation report
    metrics.json                the headline numbers

Two utterances (7 s of speech) cannot teach a vocoder to sound natural: expect buzzy, noisy
output. The demo shows the whole path works; `keras-waveglow download arctic` then
`keras-waveglow train` is the real recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data"


class TimeBudget:
    """A Keras callback (made lazily) that stops `fit` after `seconds` of training.

    The clock starts after the first step, so compilation does not eat the budget. With
    `progress=True` it draws a bar of the budget on stderr: elapsed / budget seconds, steps
    taken and the running loss.

    Args:
        seconds: float, the training budget.
        progress: bool, show the bar. Default True.
    """

    def __new__(cls, seconds: float, progress: bool = True):
        import keras

        class _TimeBudget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start = None
                self.steps = 0
                self.bar = None
                if progress:
                    from tqdm.auto import tqdm

                    self.bar = tqdm(
                        total=round(seconds),
                        unit="s",
                        desc="training (budget)",
                        bar_format="{desc}: {bar} {n:.0f}/{total:.0f} s{postfix}",
                    )

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1
                now = time.perf_counter()
                if self.start is None:
                    self.start = now
                elapsed = now - self.start
                if self.bar is not None:
                    self.bar.n = min(elapsed, seconds)
                    loss = (logs or {}).get("loss")
                    loss = "" if loss is None else f", loss {float(loss):.4g}"
                    self.bar.set_postfix_str(f"{self.steps} steps{loss}", refresh=False)
                    self.bar.refresh()
                if elapsed >= seconds:
                    self.model.stop_training = True

            def on_train_end(self, logs=None):
                if self.bar is not None:
                    self.bar.close()

        return _TimeBudget()


def fit_for_budget(model, dataset, seconds: float, progress: bool = True):
    """Trains a compiled model on `dataset` (repeated) until `seconds` of training have passed.

    One endless epoch that a `TimeBudget` ends (its clock starts after the first step, so
    compilation is not counted against the budget).

    Args:
        model: a compiled Keras model (e.g. `WaveGlow`).
        dataset: a finite `tf.data.Dataset` of training batches; it is repeated.
        seconds: float, the training budget.
        progress: bool, draw the budget's progress bar on stderr. Default True.

    Returns:
        `(budget, history, wall_seconds)`: the `TimeBudget` callback (`budget.steps` is the
        number of steps taken), the `History` of `fit`, and the wall time of the whole `fit`
        call (compilation included).

    Example:
        >>> budget, history, wall = fit_for_budget(model, train_ds, 60.0, progress=False)
    """
    budget = TimeBudget(seconds, progress=progress)
    start = time.perf_counter()
    history = model.fit(
        dataset.repeat(), epochs=1, steps_per_epoch=10**9, callbacks=[budget], verbose=0
    )
    return budget, history, time.perf_counter() - start


def _split_files(files: list[Path], out: Path, sample_rate: int, fraction: float = 0.8):
    """Writes the first `fraction` of each file to train/ and the rest to heldout/."""
    from keras_waveglow.audio import load_audio, save_audio

    train, heldout = [], []
    for path in files:
        audio, _ = load_audio(path, sample_rate)
        cut = int(len(audio) * fraction)
        for part, folder, bucket in (
            (audio[:cut], "train", train),
            (audio[cut:], "heldout", heldout),
        ):
            target = out / "split" / folder / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            save_audio(target, part, sample_rate, subtype="FLOAT", overwrite=True)
            bucket.append(target)
    return train, heldout


def _spectrogram_figure(rows: list[tuple[str, dict[str, np.ndarray]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(rows[0][1])
    fig, axes = plt.subplots(len(systems), len(rows), figsize=(6 * len(rows), 2.4 * len(systems)))
    axes = np.asarray(axes).reshape(len(systems), len(rows))
    for col, (name, mels) in enumerate(rows):
        low, high = -11.5, max(float(m.max()) for m in mels.values())
        for row, system in enumerate(systems):
            ax = axes[row, col]
            ax.imshow(mels[system].T, origin="lower", aspect="auto", vmin=low, vmax=high)
            ax.set_title(f"{name}: {system}", fontsize=9)
            ax.set_xticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_demo(
    out: str | os.PathLike = "demo_out",
    data: str | os.PathLike = DEFAULT_DATA,
    preset: str = "small",
    budget_seconds: float = 600.0,
    batch_size: int = 4,
    segment_length: int = 8192,
    learning_rate: float = 1e-3,
    seed: int = 0,
    verbose: int | str = "auto",
) -> dict:
    """Trains, vocodes and evaluates on the bundled sample; returns the headline metrics.

    Args:
        out: output folder (created; files in it are replaced).
        data: a folder with the festvox layout (default: the bundled `data/`).
        preset: `WaveGlow` preset to train. Default "small".
        budget_seconds: wall-clock training budget. Default 600.
        batch_size: training batch size. Default 4.
        segment_length: training segment length in samples. Default 8192.
        learning_rate: Adam learning rate. Default 1e-3.
        seed: seed for weights, data order and noise. Default 0.
        verbose: 0 hides the progress bar against the time budget. Default "auto" (shown).

    Returns:
        The dict also written to `out/metrics.json`.

    Example:
        >>> metrics = run_demo("demo_out", budget_seconds=60, preset="tiny")
    """
    import keras

    from keras_waveglow import WaveGlow, vocode
    from keras_waveglow.audio import load_audio, mel_function, save_audio
    from keras_waveglow.data import make_dataset
    from keras_waveglow.evaluation import evaluate, griffin_lim
    from keras_waveglow.losses import nll_to_log_likelihood

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(Path(data).glob("cmu_us_*_arctic/wav/*.wav"))
    if not files:
        raise FileNotFoundError(f"no cmu_us_*_arctic/wav/*.wav under {data}")
    keras.utils.set_random_seed(seed)
    model = WaveGlow.from_preset(preset, load_weights=False, seed=seed)
    train_files, heldout_files = _split_files(files, out, model.sample_rate)
    train_ds = make_dataset(
        train_files,
        model,
        batch_size=batch_size,
        segment_length=segment_length,
        seed=seed,
        cache=True,
    )
    heldout_ds = make_dataset(heldout_files, model, split="eval", batch_size=1, cache=True)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=10.0))
    initial_nll = float(model.evaluate(heldout_ds, verbose=0))
    budget, history, train_seconds = fit_for_budget(
        model, train_ds, budget_seconds, progress=verbose != 0
    )
    heldout_nll = float(model.evaluate(heldout_ds, verbose=0))
    model.save(out / "model.keras")

    to_mel = mel_function(model)
    rows = []
    for path in files:
        audio, sr = load_audio(path, model.sample_rate)
        mel = np.asarray(to_mel(audio))
        generated = vocode(mel, model=model, sigma=0.6, seed=seed)
        baseline = griffin_lim(mel, model.mel_config, n_iter=32, seed=seed, length=len(audio))
        wav_dir = out / "wavs"
        wav_dir.mkdir(exist_ok=True)
        save_audio(wav_dir / f"{path.stem}_waveglow.wav", generated, sr, overwrite=True)
        save_audio(wav_dir / f"{path.stem}_griffin_lim.wav", baseline, sr, overwrite=True)
        mels = {
            "ground truth": mel,
            "Griffin-Lim": np.asarray(to_mel(baseline)),
            "WaveGlow": np.asarray(to_mel(generated)),
        }
        rows.append((path.stem, mels))
    _spectrogram_figure(rows, out / "spectrograms.png")

    report = evaluate(model, files, out / "report", seed=seed, overwrite=True, progress=False)
    systems = report["systems"]
    bits = nll_to_log_likelihood(heldout_nll, sigma=model.train_sigma)["bits_per_sample"]
    metrics = {
        "preset": preset,
        "train_steps": budget.steps,
        "train_seconds": round(train_seconds, 1),
        "train_nll_last": history.history["loss"][-1],
        "heldout_nll_initial": initial_nll,
        "heldout_nll": heldout_nll,
        "heldout_bits_per_sample": bits,
        "pesq_wb": {
            "waveglow": systems["waveglow"].get("pesq_wb", {}).get("mean"),
            "griffin_lim": systems["griffin_lim"].get("pesq_wb", {}).get("mean"),
        },
        "report_html": str(report["paths"]["html"]),
        "spectrograms_png": str(out / "spectrograms.png"),
        "model": str(out / "model.keras"),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def _rounded(value, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def summary_lines(metrics: dict) -> list[str]:
    """The headline numbers of `run_demo`'s metrics, rounded for people.

    Args:
        metrics: the dict `run_demo` returns.

    Returns:
        Lines to print: the report path, held-out NLL (3 decimals), seconds (whole), PESQ
        (2 decimals; "n/a" where the `pesq` package is missing).
    """
    pesq = metrics["pesq_wb"]
    return [
        f"report:   {metrics['report_html']}",
        f"held-out NLL {_rounded(metrics['heldout_nll'], 3)} "
        f"({_rounded(metrics['heldout_bits_per_sample'], 2)} bits/sample log-likelihood) "
        f"after {metrics['train_steps']} steps in {metrics['train_seconds']:.0f} s",
        f"PESQ (wideband): WaveGlow {_rounded(pesq['waveglow'], 2)}, "
        f"Griffin-Lim {_rounded(pesq['griffin_lim'], 2)}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: `python -m keras_waveglow.demo --out demo_out`."""
    parser = argparse.ArgumentParser(description="Train, vocode and evaluate on bundled data.")
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--preset", default="small")
    parser.add_argument("--budget-seconds", type=float, default=600.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up logs")
    args = parser.parse_args(argv)
    if not args.verbose:
        from keras_waveglow.cli import hide_backend_startup_logs  # the CLI's own, shared

        hide_backend_startup_logs("train")
    metrics = run_demo(
        args.out,
        args.data,
        args.preset,
        args.budget_seconds,
        args.batch_size,
        args.segment_length,
        seed=args.seed,
    )
    print(f"\nWrote {args.out}/: model.keras, wavs/, spectrograms.png, report/, metrics.json")
    for line in summary_lines(metrics):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
