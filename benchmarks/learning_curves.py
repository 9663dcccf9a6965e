"""Learning curves: held-out quality of a training run's snapshots, against steps and wall time.

`keras-waveglow train` keeps the last checkpoint of a run; this script scores a series of them.
Give each run as LABEL=DIR, where DIR/snaps/ holds `<step>.weights.h5` generator weights (the
moving average when the run keeps one: `train --ema` snapshots score the average, not the raw
weights), as `keras-waveglow train --keep-every N` writes them (`TrainingCheckpoint`;
full training checkpoints copied there also work) and, optionally, `<step>.time` (Unix time
the snapshot was taken, for the wall-time axis). For every
snapshot it loads the generator's weights (`export_generator_weights`) into the preset's
`WaveGlow` and measures on the held-out files:

- the NLL in bits per sample (`WaveGlow.evaluate` on whole files, `losses.nll_to_log_likelihood`:
  the unweighted mean over files; with `--per-file`, each file's (keyed by its path below the
  files' common folder), their median, and per folder (speaker) the median NLL and
  WaveGlow's PESQ-WB, log-mel L1 and V/UV F1 too);
  with `--dequantized-nll` also on the files plus seeded +-0.5 LSB uniform noise (the same noise
  for every snapshot), the continuous-density bound that digital silence cannot push to -inf,
- copy-synthesis quality against Griffin-Lim from the same mel (`evaluation.evaluate`: PESQ-WB,
  log-mel L1, V/UV F1), with Griffin-Lim's figures in the same record.

Prints one JSON line per snapshot (also appended to `--out`).

Usage (TensorFlow backend, the data pipeline's):
    python benchmarks/learning_curves.py --preset squeezewave_128s \\
        --runs nll=runs/nll mae=runs/mae gan=runs/gan \\
        --eval-list klettres/eval.txt --max-eval-files 24 --out curves.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from quality_per_compute import emit, evenly_spaced  # benchmarks/ is on sys.path as a script


def snapshots(run_dir: Path) -> list[tuple[int, Path, float | None]]:
    """(step, checkpoint, unix time or None) of a run's snapshots, by step: `<step>.weights.h5`
    only (a killed save's `.<n>.tmp-*.weights.h5`, or an average kept beside them, is not one)."""
    found = []
    for path in sorted((run_dir / "snaps").glob("*.weights.h5")):
        if not path.name.split(".")[0].isdigit():
            continue
        step = int(path.name.split(".")[0])
        stamp = path.with_name(f"{step}.time")
        found.append((step, path, float(stamp.read_text()) if stamp.exists() else None))
    return sorted(found)


def score(
    generator, files, work: Path, seed: int, per_file: bool = False, dequantized: bool = False
) -> dict:
    """Held-out NLL (bits/sample) and copy-synthesis metrics of `generator` on `files`;
    with `per_file`, also each file's NLL (a mean can hide one speaker going wrong); with
    `dequantized`, also the NLL of the dequantized files (seeded). The per-file median is in
    the record too: one file whose NLL swings by tens of bits between snapshots can move the
    mean over a few files more than every other file together; so are the per-folder (speaker)
    medians and metrics."""
    from keras_waveglow.data import make_dataset
    from keras_waveglow.evaluation import evaluate
    from keras_waveglow.losses import nll_to_log_likelihood

    def nll_bits(paths, **kwargs) -> float:  # held-out NLL in bits per sample
        dataset = make_dataset(paths, generator, split="eval", batch_size=1, **kwargs)
        nll = float(generator.evaluate(dataset, verbose=0))
        return -nll_to_log_likelihood(nll, sigma=generator.train_sigma)["bits_per_sample"]

    generator.compile(optimizer="adam")
    report = evaluate(generator, files, work, seed=seed, overwrite=True, progress=False)
    record = {"heldout_nll_bits_per_sample": nll_bits(files)}
    if dequantized:
        record["heldout_dequantized_nll_bits_per_sample"] = nll_bits(
            files, seed=seed, augment={"dequantize": True}
        )
    if per_file:
        names = file_keys(files)
        record["heldout_nll_bits_per_file"] = {
            name: nll_bits([f]) for name, f in zip(names, files, strict=True)
        }
        per_file_nll = list(record["heldout_nll_bits_per_file"].values())
        record["heldout_nll_median_bits_per_file"] = float(np.median(per_file_nll))
        by_folder = {}
        for name, bits in record["heldout_nll_bits_per_file"].items():
            by_folder.setdefault(name.rpartition("/")[0], []).append(bits)
        record["heldout_nll_median_bits_per_folder"] = {
            folder: float(np.median(values)) for folder, values in sorted(by_folder.items())
        }
        record["waveglow_metrics_per_folder"] = {
            folder: {
                metric: part["systems"]["waveglow"].get(metric, {}).get("mean")
                for metric in ("pesq_wb", "log_mel_l1", "vuv_f1")
            }
            for folder, part in report["by_folder"].items()
        }
    for system in ("waveglow", "griffin_lim"):
        for metric in ("pesq_wb", "log_mel_l1", "vuv_f1"):
            value = report["systems"][system].get(metric, {}).get("mean")
            record[f"{system}_{metric}"] = value
    return record


def file_keys(files) -> list[str]:
    """A name per file: its path below the folders' common root (one level up when they
    share one folder), so speakers' same-named files stay apart (ARCTIC's
    `cmu_us_<spk>_arctic/wav/arctic_a0001.wav`: keyed `wav/arctic_a0001.wav`, they collided)
    and the folder part is a speaker's, as `evaluate`'s `by_folder` names it."""
    parents = [Path(f).resolve().parent for f in files]
    root = Path(os.path.commonpath(parents))
    if all(p == root for p in parents):
        root = root.parent
    names = [Path(f).resolve().relative_to(root).as_posix() for f in files]
    if len(set(names)) != len(names):
        raise ValueError("the held-out list names a file twice.")
    return names


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True)
    parser.add_argument("--runs", nargs="+", required=True, help="LABEL=DIR pairs")
    parser.add_argument("--eval-list", required=True, help="held-out files (list or folder)")
    parser.add_argument("--max-eval-files", type=int, default=24)
    parser.add_argument("--steps", type=int, nargs="*", help="only these snapshot steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-file", action="store_true", help="also each file's NLL")
    parser.add_argument(
        "--dequantized-nll", action="store_true", help="also the NLL of the dequantized files"
    )
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args(argv)

    import keras

    from keras_waveglow import WaveGlow
    from keras_waveglow.data import resolve_files
    from keras_waveglow.training import load_initial_weights

    files = evenly_spaced(sorted(resolve_files(args.eval_list, split="all")), args.max_eval_files)
    for spec in args.runs:
        label, sep, directory = spec.partition("=")
        if not sep or not label or not directory:
            parser.error(f"--runs takes LABEL=DIR pairs; got {spec!r}.")
        run = Path(directory)
        found = snapshots(run)
        if not found:
            raise FileNotFoundError(f"{run}/snaps: no <step>.weights.h5 snapshots.")
        missing = sorted(set(args.steps or ()) - {step for step, _, _ in found})
        if missing:  # a typo printed nothing and exited 0
            parser.error(
                f"{label}: no snapshot of step(s) {missing} in {run}/snaps (it has "
                f"{[step for step, _, _ in found]})."
            )
        start = next((t for _, _, t in found if t is not None), None)
        for step, path, stamp in found:
            if args.steps and step not in args.steps:
                continue
            keras.utils.set_random_seed(args.seed)
            generator = WaveGlow.from_preset(args.preset, load_weights=False)
            load_initial_weights(generator, path)
            with tempfile.TemporaryDirectory() as tmp:
                record = {
                    "run": label,
                    "preset": args.preset,
                    "step": step,
                    "wall_seconds_since_first_snapshot": None
                    if stamp is None or start is None
                    else round(stamp - start, 1),
                    "heldout_files": len(files),
                    **score(
                        generator,
                        files,
                        Path(tmp) / "report",
                        args.seed,
                        args.per_file,
                        args.dequantized_nll,
                    ),
                }
            emit(record, args.out)


if __name__ == "__main__":
    main()
