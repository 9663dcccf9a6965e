"""Quality per compute: presets trained on the same data for the same wall-clock budget.

For each preset: build it with random weights (seeded), train by maximum likelihood for
`--budget-seconds` of wall clock (`keras_waveglow.demo.fit_for_budget`; the clock starts after
the first step, so compilation is not counted), then measure on held-out files

- the NLL (`WaveGlow.evaluate`, the mean over files of `losses.waveglow_nll`) and the
  log-likelihood in bits per sample (`losses.nll_to_log_likelihood`; the NLL in bits is its
  negative), and
- the log-mel L1 of copy-synthesis (`evaluation.log_mel_l1` between each held-out file and
  `vocode(its log-mel, sigma, seed)`), averaged over files.

Prints one JSON line per preset (also appended to `--out` when given) with steps, samples seen,
wall times and `uptime`'s load averages at the start and end of the preset's run: this is a
CPU benchmark on shared machines, so quote the load beside the numbers.

Data (`--data`):
- a folder holding `train.txt` and `eval.txt` file lists (e.g. `keras-waveglow download
  klettres`: held-out speakers), or explicit `--train-list` / `--eval-list`;
- any other folder or file list: every file is split in time, the first 80% to training and
  the rest held out (as `make demo` does with the bundled ARCTIC sample).
Audio is resampled on load to each preset's rate. `--max-train-files` / `--max-eval-files` take
evenly spaced subsets of the sorted lists (faster loading); when every file is split in time,
the held-out parts are those of the `--max-train-files` subset (`--max-eval-files` is not
used). `train_nll_last` is the training loss Keras reports at the end of the budget: the mean
over the run's steps (one endless epoch), not the last step's.

Usage (set the backend with KERAS_BACKEND):
    KERAS_BACKEND=tensorflow python benchmarks/quality_per_compute.py --data /path/klettres \\
        --presets small squeezewave_128l_16k squeezewave_128s_16k --budget-seconds 300 \\
        --batch-size 4 --segment-length 8192 [--out results.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np

DEFAULT_PRESETS = ("small", "squeezewave_128l_16k", "squeezewave_128s_16k")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def evenly_spaced(files: list, limit: int | None) -> list:
    """`limit` of `files`, evenly spaced over the list (all of them when `limit` is None)."""
    if limit is None or limit >= len(files):
        return list(files)
    if limit < 1:
        raise ValueError(f"a file limit must be at least 1; got {limit}.")
    return [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]


def speakers_of(listing: str, per_speaker: int | None) -> list[tuple[str, list]]:
    """(speaker, files) per folder of a file list, sorted; `per_speaker` evenly spaced each."""
    from collections import defaultdict

    from keras_waveglow.data import resolve_files

    speakers = defaultdict(list)
    for path in sorted(resolve_files(listing, split="all")):
        speakers[Path(path).parent.name].append(path)
    return [(name, evenly_spaced(paths, per_speaker)) for name, paths in sorted(speakers.items())]


def emit(record: dict, out: str | None) -> None:
    """Prints `record` as one JSON line, and appends it to `out` when given."""
    line = json.dumps(record)
    print(line, flush=True)
    if out:
        with open(out, "a") as f:
            f.write(line + "\n")


def resolve_splits(args, work_dir: Path, sample_rate: int) -> tuple[list[Path], list[Path], str]:
    """(train files, held-out files, description) from the command line's data options."""
    from keras_waveglow.data import resolve_files
    from keras_waveglow.demo import _split_files

    if args.train_list or args.eval_list:
        if not (args.train_list and args.eval_list):
            raise ValueError("give both --train-list and --eval-list, or neither.")
        train, heldout = resolve_files(args.train_list), resolve_files(args.eval_list)
        how = f"lists {args.train_list} / {args.eval_list}"
    elif args.data is None:
        raise ValueError("give --data, or --train-list and --eval-list.")
    elif Path(args.data, "train.txt").is_file() and Path(args.data, "eval.txt").is_file():
        train = resolve_files(Path(args.data, "train.txt"))
        heldout = resolve_files(Path(args.data, "eval.txt"))
        how = f"lists {args.data}/train.txt / eval.txt"
    else:
        files = resolve_files(args.data, split="all")
        train = heldout = files
        how = f"{args.data}: first 80% / last 20% of each file"
    train = evenly_spaced(sorted(train), args.max_train_files)
    heldout = evenly_spaced(sorted(heldout), args.max_eval_files)
    if how.endswith("of each file"):
        train, heldout = _split_files(train, work_dir, sample_rate)
    return train, heldout, how


def run_preset(preset: str, args, work_dir: Path) -> dict:
    """Trains `preset` for the budget and measures it; returns the JSON-ready record."""
    import keras

    from keras_waveglow import WaveGlow, vocode
    from keras_waveglow.audio import load_audio, mel_function
    from keras_waveglow.data import make_dataset
    from keras_waveglow.demo import fit_for_budget
    from keras_waveglow.evaluation import log_mel_l1
    from keras_waveglow.losses import nll_to_log_likelihood

    load_start = _load()
    wall_start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    model = WaveGlow.from_preset(preset, load_weights=False, seed=args.seed)
    train_files, heldout_files, how = resolve_splits(args, work_dir / preset, model.sample_rate)
    train_ds = make_dataset(
        train_files,
        model,
        batch_size=args.batch_size,
        segment_length=args.segment_length,
        seed=args.seed,
        cache=True,
    )
    heldout_ds = make_dataset(heldout_files, model, split="eval", batch_size=1, cache=True)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=10.0))
    budget, history, train_wall = fit_for_budget(
        model, train_ds, args.budget_seconds, progress=args.progress
    )
    if not np.isfinite(history.history["loss"][-1]):
        raise FloatingPointError(
            f"diverged: non-finite loss at step {budget.steps} (lr {args.learning_rate})"
        )
    heldout_nll = float(model.evaluate(heldout_ds, verbose=0))
    bits = nll_to_log_likelihood(heldout_nll, sigma=model.train_sigma)["bits_per_sample"]

    to_mel = mel_function(model)
    distances = []
    for path in heldout_files:
        audio, _ = load_audio(path, model.sample_rate)
        generated = vocode(np.asarray(to_mel(audio)), model=model, sigma=args.sigma, seed=args.seed)
        distances.append(log_mel_l1(audio, generated, model.mel_config))
    return {
        "preset": preset,
        "backend": keras.backend.backend(),
        "sample_rate": model.sample_rate,
        "data": how,
        "train_files": len(train_files),
        "heldout_files": len(heldout_files),
        "batch_size": args.batch_size,
        "segment_length": args.segment_length,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        "budget_seconds": args.budget_seconds,
        "train_steps": budget.steps,
        "samples_seen": budget.steps * args.batch_size * args.segment_length,
        "train_wall_seconds": round(train_wall, 1),
        "train_nll_last": float(history.history["loss"][-1]),
        "heldout_nll": heldout_nll,
        "heldout_log_likelihood_bits_per_sample": bits,
        "heldout_nll_bits_per_sample": -bits,
        "copy_synthesis_sigma": args.sigma,
        "copy_synthesis_log_mel_l1": float(np.mean(distances)),
        "total_wall_seconds": round(time.perf_counter() - wall_start, 1),
        "load_start": load_start,
        "load_end": _load(),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    parser.add_argument("--budget-seconds", type=float, default=300.0)
    parser.add_argument("--data", help="a folder (with train.txt/eval.txt lists, or audio)")
    parser.add_argument("--train-list", help="a .txt file list of training audio")
    parser.add_argument("--eval-list", help="a .txt file list of held-out audio")
    parser.add_argument("--max-train-files", type=int, default=None)
    parser.add_argument("--max-eval-files", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--segment-length", type=int, default=8192)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--sigma", type=float, default=0.6, help="copy-synthesis noise sigma")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="append the JSON lines to this file too")
    parser.add_argument("--progress", action="store_true", help="draw the budget bar")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets:
            load_start = _load()
            try:
                record = run_preset(preset, args, Path(tmp))
            except Exception as error:  # a diverged run must not lose the other presets
                message = str(error).strip().splitlines()
                record = {
                    "preset": preset,
                    "learning_rate": args.learning_rate,
                    "budget_seconds": args.budget_seconds,
                    "error": f"{type(error).__name__}: {message[-1] if message else ''}",
                    "load_start": load_start,
                    "load_end": _load(),
                }
            emit(record, args.out)


if __name__ == "__main__":
    main()
