"""`keras-waveglow` command line: parses arguments and calls the public API, nothing more."""

from __future__ import annotations

import argparse
import sys


def _add_download(subparsers) -> None:
    # download: filled in by audio-data (keras_waveglow.data.arctic).
    pass


def _add_train(subparsers) -> None:
    # train: filled in by training (keras_waveglow.training).
    pass


def _add_vocode(subparsers) -> None:
    # vocode: filled in by vocode-interop (keras_waveglow.inference).
    pass


def _add_evaluate(subparsers) -> None:
    # evaluate: filled in by vocode-interop (keras_waveglow.evaluation).
    pass


def build_parser() -> argparse.ArgumentParser:
    """The `keras-waveglow` argument parser."""
    parser = argparse.ArgumentParser(prog="keras-waveglow", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for add in (_add_download, _add_train, _add_vocode, _add_evaluate):
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
