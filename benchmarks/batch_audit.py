"""Which audio a training run saw at given steps: files, peak, RMS, clipped and silent shares.

`keras-waveglow train` draws batch k of a run deterministically from (data, batch size, segment
length, seed), so a loss spike at step k can be traced to its audio afterwards. Give the steps
(1-based, as the progress bar counts them) or a captured progress log of the run (`train ... >
run.log`): the per-step NLL is recovered from the bar's running means, and every step whose NLL
exceeds `--threshold` is audited. Prints one JSON line per step.

Usage:
    python benchmarks/batch_audit.py --data klettres/train.txt --preset squeezewave_128s \\
        --batch-size 4 --segment-length 8192 --log runs/b4.log --save-every 100
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

# The Keras progress bar: "Epoch E/N" lines, then "  k/steps ... nll: value" updates.
_EPOCH = re.compile(r"Epoch (\d+)/\d+")
_STEP = re.compile(r"\s(\d+)/\d+\S*\s.*?nll: ([-0-9.e+naif]+)")


def spikes_from_log(text: str, save_every: int, threshold: float) -> list[tuple[int, float]]:
    """(global step, NLL) of the steps whose NLL, recovered from running means, > threshold."""
    found = []
    parts = _EPOCH.split(text)
    for epoch_text, body in zip(parts[1::2], parts[2::2], strict=True):
        means = {int(k): float(v) for k, v in _STEP.findall(body)}
        for k in sorted(means):
            if k - 1 not in means and k != 1:
                continue  # a gap in the log: this step's own value is unknown
            value = k * means[k] - (k - 1) * means.get(k - 1, 0.0)
            if value > threshold:
                found.append(((int(epoch_text) - 1) * save_every + k, value))
    return found


def audit(source, step: int) -> dict:
    """The audio of training step `step` (1-based) of a dataset's source."""
    epoch, index = divmod(step - 1, source.num_batches())
    audio = source.batch_audio(epoch, index)
    order = source.order(epoch)
    first = index * source.batch_size
    rows = []
    for row, segment in enumerate(audio):
        path = source.files[int(order[(first + row) % len(order)])]
        rows.append(
            {
                "file": f"{path.parent.name}/{path.name}",
                "peak": round(float(np.max(np.abs(segment))), 4),
                "rms": round(float(np.sqrt(np.mean(segment**2))), 4),
                "full_scale_share": round(float(np.mean(np.abs(segment) >= 0.999)), 4),
                "zero_share": round(float(np.mean(segment == 0)), 4),
            }
        )
    return {"step": step, "epoch": epoch, "batch": index, "rows": rows}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="all")
    parser.add_argument("--preset", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--segment-length", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, nargs="*", default=[])
    parser.add_argument("--log", help="captured progress log of the run")
    parser.add_argument("--save-every", type=int, default=500, help="the run's --save-every")
    parser.add_argument("--threshold", type=float, default=0.0, help="NLL above which to audit")
    args = parser.parse_args(argv)

    from keras_waveglow.data import make_dataset

    steps = {step: None for step in args.steps}
    if args.log:
        text = Path(args.log).read_text(errors="replace").replace("\r", "\n")
        steps.update(spikes_from_log(text, args.save_every, args.threshold))
    dataset = make_dataset(
        args.data,
        args.preset,
        split=args.split,
        batch_size=args.batch_size,
        segment_length=args.segment_length,
        seed=args.seed,
    )
    for step, nll in sorted(steps.items()):
        record = audit(dataset.source, step)
        record["nll"] = None if nll is None else round(nll, 1)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
