"""`make demo`: vocode, fine-tune and evaluate on the bundled CMU ARCTIC sample, in one command.

Vocodes both bundled utterances with the package's bundled vocoder (`presets.DEFAULT_PRESET`,
offline) and with Griffin-Lim from the same mel, fine-tunes a copy of the vocoder for a fixed
wall-clock budget on the first 80% of each utterance (likelihood + log-mel MAE, `WaveGlowGAN`;
`--gan` adds the adversarial terms), measures the held-out NLL on the last 20% before and
after, vocodes again and evaluates both models against Griffin-Lim and the ground truth.
Writes under `--out`:

    model.keras                 the fine-tuned model
    split/train/, split/heldout/  the first 80% / last 20% of each utterance (float WAV)
    wavs/                       <utterance>_{griffin_lim,bundled,fine_tuned}.wav
    spectrograms.png            ground truth / Griffin-Lim / bundled / fine-tuned log-mels
    report_bundled/, report/    evaluation reports (index.html, report.json) of both models
    metrics.json                the headline numbers (PESQ-WB of all three, NLL before/after)

`<utterance>` is the file's stem, or `<speaker>_<stem>` for every file when two speakers share a
stem (as ARCTIC's do). An `--out` that holds an earlier run is replaced only with `--overwrite`
(`make demo` passes it); its split/ and wavs/ are then emptied first.

The bundled model's quality, data and limits are in its model card
(`keras_waveglow/weights/squeezewave_128s_klettres.md`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
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
    compilation is not counted against the budget). A non-finite loss stops training at once
    (`keras.callbacks.TerminateOnNaN`): the last history loss is then NaN and `budget.steps`
    counts the diverged step.

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
    import keras

    budget = TimeBudget(seconds, progress=progress)
    start = time.perf_counter()
    history = model.fit(
        dataset.repeat(),
        epochs=1,
        steps_per_epoch=10**9,
        callbacks=[budget, keras.callbacks.TerminateOnNaN()],
        verbose=0,
    )
    return budget, history, time.perf_counter() - start


def utterance_names(files: list[Path]) -> list[str]:
    """A name per file for the demo's outputs: its stem, or `<speaker>_<stem>` for every file
    when two share a stem (each ARCTIC speaker reads the same `arctic_a0001`, ...).

    Example:
        >>> utterance_names([Path("cmu_us_slt_arctic/wav/arctic_a0001.wav")])
        ['arctic_a0001']
    """
    stems = [path.stem for path in files]
    if len(set(stems)) == len(stems):
        return stems
    speakers = [
        path.parent.parent.name.removeprefix("cmu_us_").removesuffix("_arctic") for path in files
    ]
    return [f"{speaker}_{stem}" for speaker, stem in zip(speakers, stems, strict=True)]


def _split_files(files: list[Path], out: Path, sample_rate: int, fraction: float = 0.8):
    """Writes the first `fraction` of each file to train/ and the rest to heldout/."""
    from keras_waveglow.audio import load_audio, save_audio

    train, heldout = [], []
    for path, name in zip(files, utterance_names(files), strict=True):
        audio, _ = load_audio(path, sample_rate)
        cut = int(len(audio) * fraction)
        for part, folder, bucket in (
            (audio[:cut], "train", train),
            (audio[cut:], "heldout", heldout),
        ):
            target = out / "split" / folder / f"{name}.wav"
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
    preset: str | None = None,
    budget_seconds: float = 600.0,
    batch_size: int = 4,
    segment_length: int = 8192,
    learning_rate: float = 1e-4,
    mae_weight: float = 4.0,
    gan: bool = False,
    discriminator_width: float = 0.25,
    seed: int = 0,
    verbose: int | str = "auto",
    overwrite: bool = False,
) -> dict:
    """Vocodes the bundled sample with the bundled model, fine-tunes it there, evaluates both.

    1. Loads `preset` with its weights (default: the package's bundled vocoder,
       `presets.DEFAULT_PRESET`; a preset without weights starts from random weights).
    2. Copy-synthesises every bundled utterance with it and with Griffin-Lim (32 iterations).
    3. Fine-tunes a copy for `budget_seconds` on the first 80% of each utterance with
       `WaveGlowGAN` (likelihood + log-mel MAE, + adversarial terms with `gan=True`),
       measuring the held-out NLL on the last 20% before and after.
    4. Vocodes again and evaluates both models against Griffin-Lim (`evaluation.evaluate`).

    Args:
        out: output folder (created). One holding an earlier run (its metrics.json or
            model.keras) is refused unless `overwrite`.
        data: a folder with the festvox layout (default: the bundled `data/`).
        preset: `WaveGlow` preset to start from. Default None (the bundled vocoder).
        budget_seconds: wall-clock fine-tuning budget. Default 600.
        batch_size: training batch size. Default 4.
        segment_length: training segment length in samples. Default 8192.
        learning_rate: Adam learning rate of the generator. Default 1e-4.
        mae_weight: weight of the log-mel MAE. Default 4.
        gan: add the HiFi-GAN discriminators (`WaveDiscriminator`). Default False: within the
            10-minute CPU budget, fresh discriminators made the bundled model worse on the
            utterances it tuned on (README, "What `make demo` does").
        discriminator_width: their channel multiplier. Default 0.25 (CPU-sized).
        seed: seed for data order, noise and Griffin-Lim. Default 0.
        verbose: 0 hides the progress bar against the time budget. Default "auto" (shown).
        overwrite: replace an earlier run in `out` (its split/ and wavs/ emptied first).
            Default False.

    Returns:
        The dict also written to `out/metrics.json`.

    Raises:
        ValueError, TypeError, FileNotFoundError, FileExistsError, ImportError: bad inputs,
            as `check_demo_inputs` says, before anything is written.
        RuntimeError: the fine-tuning diverged (a non-finite loss); the fine-tuned model is
            not saved.

    Example:
        >>> metrics = run_demo("demo_out", budget_seconds=60)
        >>> metrics["pesq_wb"]  # {"bundled": ..., "finetuned": ..., "griffin_lim": ...}
    """
    import keras

    from keras_waveglow import WaveGlow, hub, vocode
    from keras_waveglow.audio import load_audio, mel_function, save_audio
    from keras_waveglow.data import make_dataset
    from keras_waveglow.evaluation import evaluate, griffin_lim
    from keras_waveglow.inference import own_mels
    from keras_waveglow.losses import nll_to_log_likelihood
    from keras_waveglow.training import build_gan

    preset, files = check_demo_inputs(
        data, preset, budget_seconds, batch_size, segment_length, out=out, overwrite=overwrite
    )
    out = Path(out)
    if overwrite and _earlier_run(out):  # its split/ and wavs/ (other data?): not mixed in
        for owned in ("split", "wavs"):
            shutil.rmtree(out / owned, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    pretrained = hub.weights_source(preset) is not None
    keras.utils.set_random_seed(seed)
    bundled = WaveGlow.from_preset(preset, seed=seed)
    bundled.compile(optimizer="adam")  # for evaluate(): the held-out NLL
    train_files, heldout_files = _split_files(files, out, bundled.sample_rate)
    heldout_ds = make_dataset(heldout_files, bundled, split="eval", batch_size=1, cache=True)
    initial_nll = float(bundled.evaluate(heldout_ds, verbose=0))

    init_from = hub.preset_weights_file(preset) if pretrained else None
    tuner = build_gan(
        preset,
        gan=gan,
        discriminator_width=discriminator_width,
        init_from=init_from,
        seed=seed,
        mae_weight=mae_weight,
    )
    tuner.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=1.0),
        discriminator_optimizer=keras.optimizers.Adam(
            2e-4, beta_1=0.8, beta_2=0.99, global_clipnorm=1.0
        ),
    )
    tuned = tuner.waveglow
    if not pretrained:  # the same random start as `bundled`
        for target, value in zip(tuned.weights, bundled.weights, strict=True):
            target.assign(value)
    train_ds = make_dataset(
        train_files,
        tuned,
        batch_size=batch_size,
        segment_length=segment_length,
        seed=seed,
        cache=True,
        augment={"dequantize": True},  # as `keras-waveglow train` by default
    )
    budget, history, train_seconds = fit_for_budget(
        tuner, train_ds, budget_seconds, progress=verbose != 0
    )
    last_loss = history.history["loss"][-1]
    if not math.isfinite(last_loss):
        raise RuntimeError(
            f"the fine-tuning diverged (loss {last_loss} after {budget.steps} steps, learning "
            f"rate {learning_rate:g}); no model saved: try a lower learning rate."
        )
    # Saved uncompiled, as `train`'s waveglow.keras: a compiled model's archive holds an
    # optimizer that was never built, and every load of it warned that it skipped it.
    tuned.save(out / "model.keras")
    tuned.compile(optimizer="adam")  # for evaluate(): the held-out NLL
    heldout_nll = float(tuned.evaluate(heldout_ds, verbose=0))

    to_mel = mel_function(bundled)
    rows = []
    wav_dir = out / "wavs"
    wav_dir.mkdir(exist_ok=True)
    for path, label in zip(files, utterance_names(files), strict=True):
        audio, sr = load_audio(path, bundled.sample_rate)
        mel = np.asarray(to_mel(audio))
        with own_mels():  # (frames, n_mels), made here: an 80-frame one is not in doubt
            waves = {
                "Griffin-Lim": griffin_lim(
                    mel, bundled.mel_config, n_iter=32, seed=seed, length=len(audio)
                ),
                "bundled": vocode(mel, model=bundled, sigma=0.6, seed=seed),
                "fine-tuned": vocode(mel, model=tuned, sigma=0.6, seed=seed),
            }
        for name, wave in waves.items():
            stem = name.lower().replace("-", "_")
            save_audio(wav_dir / f"{label}_{stem}.wav", wave, sr, overwrite=True)
        mels = {"ground truth": mel, **{k: np.asarray(to_mel(v)) for k, v in waves.items()}}
        rows.append((label, mels))
    _spectrogram_figure(rows, out / "spectrograms.png")

    common = {"seed": seed, "overwrite": True, "progress": False}
    before = evaluate(bundled, files, out / "report_bundled", **common)
    report = evaluate(tuned, files, out / "report", **common)

    def pesq(report, system):
        return report["systems"][system].get("pesq_wb", {}).get("mean")

    bits = nll_to_log_likelihood(heldout_nll, sigma=tuned.train_sigma)["bits_per_sample"]
    metrics = {
        "preset": preset,
        "pretrained": pretrained,
        "train_steps": budget.steps,
        "train_seconds": round(train_seconds, 1),
        "train_loss_last": last_loss,
        "heldout_nll_initial": initial_nll,
        "heldout_nll": heldout_nll,
        "heldout_bits_per_sample": bits,
        "pesq_wb": {
            "bundled": pesq(before, "waveglow"),
            "finetuned": pesq(report, "waveglow"),
            "griffin_lim": pesq(report, "griffin_lim"),
        },
        "report_html": str(report["paths"]["html"]),
        "report_bundled_html": str(before["paths"]["html"]),
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
        Lines to print: the report path, held-out NLL before and after fine-tuning (3
        decimals), seconds (whole), PESQ-WB of the starting model, the fine-tuned one and
        Griffin-Lim (2 decimals; "n/a" where the `pesq` package is missing).
    """
    pesq = metrics["pesq_wb"]
    start = "bundled model" if metrics.get("pretrained", True) else "untrained start"
    return [
        f"report:   {metrics['report_html']}",
        f"held-out NLL {_rounded(metrics['heldout_nll_initial'], 3)} -> "
        f"{_rounded(metrics['heldout_nll'], 3)} "
        f"({_rounded(metrics['heldout_bits_per_sample'], 2)} bits/sample log-likelihood) "
        f"after {metrics['train_steps']} fine-tuning steps in {metrics['train_seconds']:.0f} s",
        f"PESQ (wideband; whole utterances, the first 80% tuned on): "
        f"{start} {_rounded(pesq['bundled'], 2)}, "
        f"fine-tuned {_rounded(pesq['finetuned'], 2)}, "
        f"Griffin-Lim {_rounded(pesq['griffin_lim'], 2)}",
    ]


def _earlier_run(out: Path) -> Path | None:
    """The file that marks `out` as holding a demo run (metrics.json or model.keras), or None."""
    return next((out / n for n in ("metrics.json", "model.keras") if (out / n).exists()), None)


def check_demo_inputs(
    data, preset, budget_seconds, batch_size, segment_length, out=None, overwrite=False
):
    """The demo's inputs checked before anything is written or a model is built.

    Returns:
        `(preset, files)`: the preset's name (the bundled vocoder's for None) and the
        utterances found under `data`.

    Raises:
        ValueError: an unknown preset (with the closest names), a budget that is not a
            positive number of seconds, a batch size below 1, a segment length that is not a
            positive multiple of the preset's group of samples or shorter than its STFT
            needs, an unreadable audio file (named), or an `out` that cannot be a folder.
        TypeError: a count that is not an int.
        FileNotFoundError: no `cmu_us_*_arctic/wav/*.wav` under `data`.
        FileExistsError: `out` holds an earlier run and `overwrite` is False.
        ImportError: matplotlib (the `eval` extra) is missing.
    """
    import soundfile as sf

    from keras_waveglow import _checks, presets
    from keras_waveglow._paths import folder_refusal
    from keras_waveglow.evaluation import require_matplotlib

    preset = preset or presets.DEFAULT_PRESET
    if preset is None:
        raise ValueError("no bundled vocoder in this installation: pass preset=...")
    n_group = presets.get_preset(preset)["n_group"]
    _checks.finite("budget_seconds", budget_seconds, positive=True)
    _checks.count("batch_size", batch_size, 1)
    if _checks.count("segment_length", segment_length, 1) % n_group:
        raise ValueError(
            f"segment_length must be a multiple of the {preset!r} flow's group of {n_group} "
            f"samples; got {segment_length}."
        )
    shortest = presets.get_preset(preset).get("n_fft", 1024) // 2 + 1
    if segment_length < shortest:
        raise ValueError(
            f"segment_length must be at least n_fft // 2 + 1 = {shortest} samples for the "
            f"{preset!r} preset's STFT; got {segment_length}."
        )
    if out is not None:
        if (why := folder_refusal(out, "the output folder")) is not None:
            raise ValueError(why)
        earlier = _earlier_run(Path(out))
        if earlier and not overwrite:
            raise FileExistsError(
                f"{out} holds an earlier demo run ({earlier.name}); pass --overwrite "
                "(overwrite=True) to replace it, or choose another --out."
            )
        foreign = [Path(out) / n for n in ("split", "wavs") if (Path(out) / n).exists()]
        if foreign and not earlier:
            raise FileExistsError(
                f"{out} holds a {foreign[0].name}/ folder but no demo run (no metrics.json or "
                "model.keras): the demo writes there; choose another --out."
            )
    files = sorted(Path(data).glob("cmu_us_*_arctic/wav/*.wav"))
    if not files:
        raise FileNotFoundError(
            f"no cmu_us_*_arctic/wav/*.wav under {data}; the demo reads the checkout's data/ "
            "folder (an installed package has none): pass --data with a CMU ARCTIC folder."
        )
    for path in files:
        try:
            sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            raise ValueError(f"{path}: not a readable audio file ({error}).") from error
    require_matplotlib("the demo")
    return preset, files


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: `python -m keras_waveglow.demo --out demo_out`."""
    parser = argparse.ArgumentParser(
        description="Vocode the bundled sample with the bundled model, fine-tune, evaluate."
    )
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--preset", default=None, help="default: the bundled vocoder")
    parser.add_argument("--budget-seconds", type=float, default=600.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gan", action="store_true", help="add the HiFi-GAN discriminators")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier run in --out")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up logs")
    args = parser.parse_args(argv)
    try:  # bad input: one line naming it (exit 2), before any file is written
        check_demo_inputs(
            args.data,
            args.preset,
            args.budget_seconds,
            args.batch_size,
            args.segment_length,
            out=args.out,
            overwrite=args.overwrite,
        )
    except (ValueError, TypeError, OSError, ImportError) as error:
        print(f"keras_waveglow.demo: error: {error}", file=sys.stderr)
        return 2
    if not args.verbose:
        from keras_waveglow.cli import hide_backend_startup_logs  # the CLI's own, shared

        hide_backend_startup_logs("train")
    try:
        metrics = run_demo(
            args.out,
            args.data,
            args.preset,
            args.budget_seconds,
            args.batch_size,
            args.segment_length,
            gan=args.gan,
            seed=args.seed,
            overwrite=args.overwrite,
        )
    except RuntimeError as error:  # diverged: said in one line, not a traceback
        print(f"keras_waveglow.demo: error: {error}", file=sys.stderr)
        return 1
    print(
        f"\nWrote {args.out}/: model.keras (fine-tuned), split/, wavs/, spectrograms.png, "
        "report/, report_bundled/, metrics.json"
    )
    for line in summary_lines(metrics):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
