"""The benchmark scripts keep up with the library: nothing runs them in CI (they are
measurements), so a name one imports from keras_waveglow that was renamed or removed is
caught here, statically, without running them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").rglob("*.py"))


def _missing_names(path: Path) -> list[str]:
    """`module.name` for each `from keras_waveglow... import name` (anywhere in the file,
    function bodies included) that the module does not have."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras_")):
            continue
        if node.module.split(".")[0] != "keras_waveglow":
            continue
        module = importlib.import_module(node.module)
        for alias in node.names:
            if hasattr(module, alias.name):
                continue
            try:  # a submodule not yet imported by its package
                importlib.import_module(f"{node.module}.{alias.name}")
            except ModuleNotFoundError:
                missing.append(f"{node.module}.{alias.name}")
    return missing


def test_the_benchmarks_are_found():
    names = {path.name for path in SCRIPTS}
    assert {"bench_vocode.py", "learning_curves.py", "stft_silence_audit.py"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_name_a_benchmark_imports_exists(path):
    assert _missing_names(path) == []


def test_a_removed_name_is_caught(tmp_path):
    script = tmp_path / "stale.py"
    script.write_text(
        "def main():\n"
        "    from keras_waveglow.losses import STFT_FLOOR, mel_mae_loss\n"
        "    from keras_waveglow import data\n"
    )
    assert _missing_names(script) == ["keras_waveglow.losses.STFT_FLOOR"]


def test_learning_curves_lists_only_step_snapshots(tmp_path, monkeypatch):
    """A killed save's `.3.tmp-*.weights.h5` (or an average kept in snaps/) made the snapshot
    listing fail on int("")."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    learning_curves = importlib.import_module("learning_curves")

    snaps = tmp_path / "snaps"
    snaps.mkdir()
    for name in ("500.weights.h5", "1000.weights.h5", ".3.tmp-abc.weights.h5", "avg.weights.h5"):
        (snaps / name).write_bytes(b"")
    (snaps / "500.time").write_text("12.5")
    assert learning_curves.snapshots(tmp_path) == [
        (500, snaps / "500.weights.h5", 12.5),
        (1000, snaps / "1000.weights.h5", None),
    ]
