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


def _top_level_names(path: Path) -> set[str]:
    """The names a script defines or imports at its top level (what a sibling can import)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _missing_names(path: Path) -> list[str]:
    """`module.name` for each `from keras_waveglow... import name` (anywhere in the file,
    function bodies included) that the module does not have, and for each name imported from
    a sibling script (`from quality_per_compute import emit`) that it does not define."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        sibling = path.parent / f"{node.module}.py" if isinstance(node, ast.ImportFrom) else None
        if sibling is not None and node.module and sibling.is_file():
            defined = _top_level_names(sibling)
            missing += [f"{node.module}.{a.name}" for a in node.names if a.name not in defined]
            continue
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
    # A name from a sibling script (learning_curves imports quality_per_compute's) is checked
    # too: it was not.
    (tmp_path / "helper.py").write_text("import os\nLIMIT = 3\n\ndef emit(x):\n    pass\n")
    script.write_text("from helper import LIMIT, emit, emit_line, os\n")
    assert _missing_names(script) == ["helper.emit_line"]


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


def test_learning_curves_keys_files_apart_and_refuses_bad_runs(tmp_path, monkeypatch, capsys):
    """Keyed `<parent>/<name>`, ARCTIC speakers' same-named files collided (one file's NLL
    lost from the per-file median) and all speakers were folder "wav"; a --steps typo printed
    nothing, and a run without LABEL= blamed ./snaps."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    learning_curves = importlib.import_module("learning_curves")

    arctic = [tmp_path / f"cmu_us_{s}_arctic" / "wav" / "arctic_a0001.wav" for s in ("awb", "slt")]
    assert learning_curves.file_keys(arctic) == [
        "cmu_us_awb_arctic/wav/arctic_a0001.wav",
        "cmu_us_slt_arctic/wav/arctic_a0001.wav",
    ]
    speakers = [tmp_path / "klettres" / s / "a.wav" for s in ("de", "it")]
    assert learning_curves.file_keys(speakers) == ["de/a.wav", "it/a.wav"]  # as recorded before
    one_folder = [tmp_path / "fillets_nl" / "v" / n for n in ("a.wav", "b.wav")]
    assert learning_curves.file_keys(one_folder) == ["v/a.wav", "v/b.wav"]
    run = tmp_path / "run"
    (run / "snaps").mkdir(parents=True)
    (run / "snaps" / "5.weights.h5").write_bytes(b"")
    common = ["--preset", "tiny", "--eval-list", str(ROOT / "data")]
    for runs, message in (
        ([f"a={run}", "--steps", "999"], "a: no snapshot of step(s) [999]"),
        ([str(run)], "--runs takes LABEL=DIR pairs"),
    ):
        with pytest.raises(SystemExit):
            learning_curves.main([*common, "--runs", *runs])
        assert message in capsys.readouterr().err
