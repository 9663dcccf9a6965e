"""Multiply-accumulates per second of audio for presets: prints one JSON object per preset.

Counts as SqueezeWave's complexity notebook does (`keras_waveglow.flow_macs`): the flow's
convolutions in GMACs per second of audio at the preset's sample rate, WaveGlow's learned
upsampler apart, and the paper's table beside it where it has the preset.

Usage:
    python benchmarks/complexity.py [--preset nvidia_22k squeezewave_128l ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from keras_waveglow.complexity import flow_macs

# SqueezeWave, Table 2 (Zhai et al., 2020, arXiv 2001.05685), 22.05 kHz, upsampler excluded.
PAPER_GMACS = {"nvidia_22k": 228.9, "squeezewave_128l": 3.78, "squeezewave_128s": 1.06}
DEFAULT_PRESETS = (
    "nvidia_22k",
    "arctic_16k",
    "small",
    "squeezewave_128l",
    "squeezewave_128s",
    "squeezewave_64s",
)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", nargs="+", default=list(DEFAULT_PRESETS))
    args = parser.parse_args(argv)
    rows = []
    for preset in args.preset:
        macs = flow_macs(preset)
        row = {
            "preset": preset,
            "sample_rate": macs["sample_rate"],
            "flow_gmacs_per_s": macs["flow"] / 1e9,
            "upsampler_gmacs_per_s": macs["upsampler"] / 1e9,
            "total_gmacs_per_s": macs["total"] / 1e9,
            "macs_per_sample": macs["macs_per_sample"],
            "parts_gmacs_per_s": {
                k: macs[k] / 1e9
                for k in (
                    "in_layers",
                    "cond_layers",
                    "res_skip_layers",
                    "invertible_convs",
                    "start_convs",
                    "end_convs",
                )
            },
        }
        if preset in PAPER_GMACS:
            row["paper_gmacs_per_s"] = PAPER_GMACS[preset]
            row["relative_to_paper"] = row["flow_gmacs_per_s"] / PAPER_GMACS[preset] - 1
        print(json.dumps(row))
        rows.append(row)
    return rows


if __name__ == "__main__":
    main()
