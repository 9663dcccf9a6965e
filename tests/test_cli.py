"""The `keras-waveglow` command: instant help, quiet start-up, and the lazy package."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import keras_waveglow.cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("keras", "tensorflow", "jax", "torch")


def _python(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `python -c code args` from the repository root in a fresh process."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


_HELP_AND_ERRORS = f"""
import json, sys
from keras_waveglow import cli
codes = []
train = ["train", "--data", "d", "--out", "o"]
for argv in (
    ["--help"],
    ["train", "--help"],
    ["train", "--steps", "x"],
    ["frobnicate"],
    [*train, "--steps", "-3"],
    [*train, "--preset", "tinny"],
):
    try:
        codes.append(cli.main(argv))
    except SystemExit as exit:
        codes.append(exit.code)
print(json.dumps({{"codes": codes, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def test_help_and_argument_errors_import_no_backend():
    """`--help` and bad arguments (values out of range, a misspelt preset) answer without
    loading Keras, TensorFlow, JAX or torch."""
    result = _python(_HELP_AND_ERRORS)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0, 2, 2, 2, 2], "loaded": []}
    # The top-level help speaks to users: what the tool is and how to start.
    assert "WaveGlow vocoder (mel spectrogram -> waveform)" in result.stdout
    assert "keras-waveglow train --preset tiny" in result.stdout
    assert "parses arguments" not in result.stdout
    assert "--steps STEPS" in result.stdout and "exactly" in result.stdout
    assert "invalid int value: 'x'" in result.stderr
    assert "invalid choice: 'frobnicate'" in result.stderr
    # Values out of range and a misspelt preset: refused before any backend or data scan.
    assert "argument --steps: must be >= 1; got -3" in result.stderr
    assert "unknown preset 'tinny'" in result.stderr and "Did you mean 'tiny'?" in result.stderr


_QUIET_COMMAND = """
import sys
from keras_waveglow.cli import main
code = main(sys.argv[1:])
print("tensorflow loaded:", "tensorflow" in sys.modules)
sys.exit(code)
"""


@pytest.mark.tensorflow_only  # the start-up notes are TensorFlow's
def test_commands_hide_tensorflow_startup_logs(tmp_path):
    """A command that loads TensorFlow prints no oneDNN/CUDA/absl notes unless --verbose."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = "tensorflow"
    args = ["download", "arctic", "--speakers", "xyz", "--dest", str(tmp_path)]
    result = _python(_QUIET_COMMAND, *args, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "tensorflow loaded: True" in result.stdout  # the notes had their chance to print
    assert "Unknown CMU ARCTIC speaker" in result.stderr  # real errors still show
    noise = re.compile(r"onednn|cuda|absl::|cpu_feature_guard|^[IWE]\d{4} ", re.I | re.M)
    assert not noise.search(result.stderr), result.stderr
    # The usual way to quiet TensorFlow (level 3, set by the user) is not undone; 0 shows all.
    for level, shown in (("3", False), ("0", True)):
        result = _python(_QUIET_COMMAND, *args, env=env | {"TF_CPP_MIN_LOG_LEVEL": level})
        assert "Unknown CMU ARCTIC speaker" in result.stderr
        assert bool(noise.search(result.stderr)) == shown, (level, result.stderr[-2000:])


def test_package_exports_resolve_lazily():
    """`keras_waveglow.X` loads X's module on first use and keeps the public names."""
    from keras_waveglow import data, flow, inference

    assert keras_waveglow.WaveGlow is flow.WaveGlow
    assert keras_waveglow.vocode is inference.vocode
    assert keras_waveglow.data is data and keras_waveglow.make_dataset is data.make_dataset
    for name in keras_waveglow.__all__:
        assert getattr(keras_waveglow, name) is not None, name
    assert set(keras_waveglow.__all__) <= set(dir(keras_waveglow))
    with pytest.raises(AttributeError, match="has no attribute 'WaveGlove'"):
        keras_waveglow.WaveGlove  # noqa: B018


_LOAD_AFTER_PLAIN_IMPORT = """
import sys
import keras
import keras_waveglow
model = keras.saving.load_model(sys.argv[1])
print(type(model).__module__, type(model).__name__)
"""


def test_plain_import_after_keras_lets_load_model_find_the_layers(tmp_path):
    """`import keras; import keras_waveglow; keras.saving.load_model(...)` works (as when eager)."""
    path = tmp_path / "tiny.keras"
    keras_waveglow.WaveGlow.from_preset("tiny").save(path)
    result = _python(_LOAD_AFTER_PLAIN_IMPORT, str(path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "keras_waveglow.flow WaveGlow"


_LOAD_GAN_AFTER_ONE_NAME = """
import sys
import keras_waveglow  # before Keras
import keras
from keras_waveglow import WaveGlow  # one name: every saved class registers
model = keras.saving.load_model(sys.argv[1])
print(type(model).__name__, type(model.discriminator).__name__)
"""


def test_one_name_used_after_a_plain_import_registers_the_gan_classes_too(tmp_path):
    """Imported before Keras, one public name registers every class a saved model can name:
    a saved `WaveGlowGAN` (with its discriminators) loads after `from keras_waveglow import
    WaveGlow` (it needed WaveGlowGAN and WaveDiscriminator imported by name)."""
    from keras_waveglow import WaveDiscriminator, WaveGlowGAN

    gan = WaveGlowGAN(
        keras_waveglow.WaveGlow.from_preset("tiny"),
        WaveDiscriminator(periods=(2,), n_scales=1, width=1 / 32),
    )
    path = tmp_path / "gan.keras"
    gan.save(path)
    result = _python(_LOAD_GAN_AFTER_ONE_NAME, str(path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "WaveGlowGAN WaveDiscriminator"


def test_python_dash_m_runs_the_command_line():
    """`python -m keras_waveglow` is the `keras-waveglow` command (no entry point needed)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_waveglow",
            "train",
            "--preset",
            "tiny",
            "--data",
            "x",
            "--out",
            "y",
            "--peak",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "argument --peak: must be > 0; got 0" in result.stderr


_REFUSED_AT_ONCE = f"""
import json, sys
from keras_waveglow import cli
codes = [cli.main(json.loads(argv)) for argv in sys.argv[1:]]
print(json.dumps({{"codes": codes, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def test_vocode_and_download_refuse_bad_paths_and_options_before_any_work(tmp_path):
    """An output folder under a file, a malformed --sha256, a --dest or --splits that is (or
    lies under) a file, and ARCTIC options given with a preset: refused (exit 2, named) before
    a model, a backend or a download is loaded."""
    from keras_waveglow.presets import DEFAULT_PRESET

    blocker = tmp_path / "good.npy"
    blocker.write_bytes(b"a file")
    nowhere = ["--base-url", "http://127.0.0.1:9/", "--no-progress"]  # no download can start
    arctic = ["download", "arctic", "--dest", str(tmp_path / "data"), *nowhere]
    evaluate = ["evaluate", "--data", str(blocker), "--out", str(tmp_path / "r")]
    cases = [
        (
            ["vocode", str(blocker), "-o", str(blocker / "sub"), "--no-progress"],
            f"vocode failed: {blocker / 'sub'}: {blocker} is a file, not a folder.",
        ),
        (
            ["vocode", str(blocker), "-o", str(blocker), "--no-progress"],
            f"vocode failed: {blocker}: the output folder is an existing file.",
        ),
        (
            [*arctic, "--sha256", "slt=zz"],
            "--sha256 slt=zz: the checksum for 'slt' must be 64 hexadecimal characters "
            "(a SHA-256 digest); got 'zz' (2 characters).",
        ),
        (
            [*arctic, "--sha256", f"slt={'0' * 63}g"],
            "the checksum for 'slt' must be 64 hexadecimal characters",
        ),
        (
            [*arctic, "--dest", str(blocker)],
            f"--dest {blocker}: the data folder is an existing file.",
        ),
        (
            [*arctic, "--dest", str(blocker / "sub")],
            f"--dest {blocker / 'sub'}: {blocker} is a file, not a folder.",
        ),
        (
            [*arctic, "--splits", str(blocker)],
            f"--splits {blocker}: the file-list folder is an existing file.",
        ),
        ([*arctic, "--overwrite"], "--overwrite replaces --splits file lists; it needs --splits."),
        (
            ["vocode", str(blocker), "-o", str(tmp_path / "o"), "--denoise-mode", "silence"],
            "keras-waveglow vocode: error: --denoise-mode silence sets the denoiser's bias, and "
            "the denoiser is off: give --denoise STRENGTH too.",
        ),
        (
            [*evaluate, "--denoise", "0", "--denoise-mode", "zeros"],
            "keras-waveglow evaluate: error: --denoise-mode zeros sets the denoiser's bias",
        ),
        (
            ["download", DEFAULT_PRESET, "--speakers", "xyz", "--sha256", "slt=zz"],
            f"--speakers, --sha256: only for `download arctic`, not for a preset's weights "
            f"({DEFAULT_PRESET!r}); leave them out.",
        ),
        (
            ["download", DEFAULT_PRESET, "--splits", "x", "--no-progress"],
            "--splits: only for `download arctic`",
        ),
        (["download", "arctic", "--allow-unverified", *nowhere], "not to `arctic`"),
        (
            ["download", "nvidia_22k", "--no-progress"],
            "preset 'nvidia_22k' is an architecture only: it has no trained weights to "
            "download. Presets with weights: nvidia_ljspeech, nvidia_universal,",
        ),
        (
            ["download", "nvidia-22k", "--no-progress"],
            "'nvidia-22k' is neither `arctic` nor a preset. Did you mean 'nvidia_22k'?",
        ),
    ]
    result = _python(_REFUSED_AT_ONCE, *(json.dumps(argv) for argv, _ in cases))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [2] * len(cases), "loaded": []}, result.stderr[-3000:]
    for _, message in cases:
        assert message in result.stderr
    assert blocker.read_bytes() == b"a file" and not (tmp_path / "data").exists()


_REFUSED_OR_EXITED = f"""
import json, sys
from keras_waveglow import cli
codes = []
for argv in sys.argv[1:]:
    try:
        codes.append(cli.main(json.loads(argv)))
    except SystemExit as exit:  # argparse's own refusals
        codes.append(exit.code)
print(json.dumps({{"codes": codes, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def _fake_weights_file(path: Path, *, checkpoint: bool) -> None:
    """An HDF5 file laid out as a training checkpoint (the WaveGlow under layers/, an
    optimizer) or as a WaveGlow weights file (the WaveGlow at the root)."""
    import h5py

    with h5py.File(path, "w") as handle:
        root = handle.create_group("layers/wave_glow") if checkpoint else handle
        root.create_group("couplings")
        root.create_group("convinvs")
        if checkpoint:
            handle.create_group("optimizer/vars")


def test_train_prepare_export_average_refuse_bad_paths_and_options_before_any_work(tmp_path):
    """train: --out under a file, GAN-only options without --gan; prepare: a --dest that is
    (or lies under) a file, a --sample-rate out of range; export-weights: a run folder as the
    checkpoint (its checkpoints named), a training checkpoint, a folder or a path under a file
    as --out (even with --overwrite); average: a checkpoint given twice. All refused (exit 2,
    named) before a backend, a model or apt-get is loaded; nothing is written."""
    from keras_waveglow._paths import is_training_checkpoint

    blocker = tmp_path / "afile"
    blocker.write_bytes(b"a file")
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.weights.h5").write_bytes(b"")
    (run / "best.weights.h5").write_bytes(b"")
    checkpoint = tmp_path / "ckpt.weights.h5"
    _fake_weights_file(checkpoint, checkpoint=True)
    generator = tmp_path / "gen.weights.h5"
    _fake_weights_file(generator, checkpoint=False)
    assert is_training_checkpoint(checkpoint) and not is_training_checkpoint(generator)
    assert not is_training_checkpoint(blocker) and not is_training_checkpoint(tmp_path / "no")
    before = checkpoint.read_bytes()
    (tmp_path / "out.weights.h5").mkdir()
    train = ["train", "--preset", "tiny", "--data", str(ROOT / "data"), "--split", "all"]
    fresh = [*train, "--out", str(tmp_path / "new_run")]
    deb = ["prepare", "klettres", "--deb", str(tmp_path / "no.deb")]
    export = ["export-weights", str(generator)]
    cases = [
        (
            [*train, "--out", str(blocker / "sub")],
            f"--out {blocker / 'sub'}: {blocker} is a file, not a folder.",
        ),
        (
            [*train, "--out", str(blocker)],
            f"{blocker}: exists and is not a folder; --out names the run's folder.",
        ),
        (
            [*fresh, "--adv-weight", "5", "--discriminator-start", "3"],
            "--discriminator-start 3, --adv-weight 5.0 need --gan: they apply to the "
            "discriminators, which a run without --gan does not have; add --gan or leave "
            "them out.",
        ),
        ([*fresh, "--fm-weight", "1"], "--fm-weight 1.0 needs --gan"),
        ([*fresh, "--discriminator-width", "0.5"], "--discriminator-width 0.5 needs --gan"),
        ([*fresh, "--msd-groups", "dense"], "--msd-groups dense needs --gan"),
        ([*fresh, "--discriminator-padding", "same"], "--discriminator-padding same needs --gan"),
        ([*fresh, "--discriminator-warmup", "4"], "--discriminator-warmup 4 needs --gan"),
        (
            [*fresh, "--discriminator-learning-rate", "1e-3"],
            "--discriminator-learning-rate 0.001 needs --gan",
        ),
        (
            [*fresh, "--resume", "--init-from", str(generator)],
            "--init-from starts a new run from other weights; --resume continues the run in "
            "--out from its own checkpoint: give one of them.",
        ),
        (
            [*deb, "--dest", str(blocker)],
            f"--dest {blocker}: the output folder is an existing file.",
        ),
        (
            [*deb, "--dest", str(blocker / "sub")],
            f"--dest {blocker / 'sub'}: {blocker} is a file, not a folder.",
        ),
        (
            [*deb, "--dest", str(tmp_path / "k"), "--sample-rate", "100"],
            "argument --sample-rate: must be in [8000, 192000]; got 100",
        ),
        (
            [*deb, "--dest", str(tmp_path / "k"), "--sample-rate", "10000000"],
            "argument --sample-rate: must be in [8000, 192000]; got 10000000",
        ),
        (
            ["export-weights", str(run), "--out", str(tmp_path / "x.weights.h5")],
            f"{run}: a folder, not a checkpoint; name a checkpoint file in it: "
            f"{run / 'best.weights.h5'}, {run / 'last.weights.h5'}.",
        ),
        (
            ["export-weights", str(tmp_path), "--out", str(tmp_path / "x.weights.h5")],
            f"{tmp_path}: a folder, not a checkpoint; name a checkpoint file in it: "
            f"{checkpoint}, {generator}.",
        ),
        (
            [*export, "--out", str(checkpoint), "--overwrite"],
            f"--out {checkpoint}: a training checkpoint (both networks and their optimizers); "
            "it is never replaced by generator weights, even with --overwrite: choose another "
            "--out.",
        ),
        (
            [*export, "--out", str(tmp_path / "out.weights.h5"), "--overwrite"],
            f"--out {tmp_path / 'out.weights.h5'}: a folder; name the .weights.h5 file to write.",
        ),
        (
            [*export, "--out", str(blocker / "x.weights.h5")],
            f"--out {blocker / 'x.weights.h5'}: {blocker} is a file, not a folder.",
        ),
        (
            ["average", str(generator), str(checkpoint), str(generator), "--out", "x.weights.h5"],
            f"average: error: {generator}: given twice; the mean would count it double. Give "
            "each checkpoint once.",
        ),
        (
            [
                "average",
                str(generator),
                str(tmp_path / "run" / ".." / generator.name),
                "--out",
                str(tmp_path / "avg.weights.h5"),
            ],
            f"{tmp_path / 'run' / '..' / generator.name}: given twice (the same file as "
            f"{generator});",
        ),
        (
            ["average", str(generator), str(run / "last.weights.h5"), "--out", str(checkpoint)],
            f"average: error: --out {checkpoint}: a training checkpoint",
        ),
        (  # "no such checkpoint" before
            ["average", str(generator), str(run), "--out", str(tmp_path / "avg.weights.h5")],
            f"average: error: {run}: a folder, not a checkpoint; name a checkpoint file in it",
        ),
    ]
    result = _python(_REFUSED_OR_EXITED, *(json.dumps(argv) for argv, _ in cases))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"codes": [2] * len(cases), "loaded": []}, result.stderr[-3000:]
    for _, message in cases:
        assert message in result.stderr
    assert "--sample-rate SAMPLE_RATE" in result.stderr  # argparse's usage line
    assert blocker.read_bytes() == b"a file" and checkpoint.read_bytes() == before
    for made in ("new_run", "k", "x.weights.h5", "avg.weights.h5"):
        assert not (tmp_path / made).exists(), made
    help_text = _python(_REFUSED_OR_EXITED, json.dumps(["prepare", "--help"])).stdout
    assert "target rate in Hz, 8000 to 192000" in help_text


def test_train_refuses_prose_given_as_a_file_list_in_one_message(tmp_path, capsys):
    """`train --data README.md` (prose read as a file list) is refused in one line that names
    the list and its first line, not one "no such file" per line of prose; no run folder."""
    readme = tmp_path / "README.md"
    readme.write_text("".join(f"Line {i}: the vocoder is a flow.\n" for i in range(400)))
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--data", str(readme), "--split", "all"]
    assert keras_waveglow.cli.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"keras-waveglow train: error: {readme}: read as a file list (one audio path per "
        f"line), but none of its 400 lines names an existing audio file (first: '"
    )
    assert err.endswith("'); is it a file list?\n") and err.count("\n") == 1
    assert "Line 0" in err and "Line 1:" not in err and len(err) < 500 + len(str(readme))
    assert not out.exists()


def test_unwritable_output_folders_and_a_comparison_over_its_report_are_refused_first(
    tmp_path, monkeypatch, capsys
):
    """An unwritable --out: `train` ended in a PermissionError traceback, `vocode` and
    `evaluate` failed every file after all the work (exit 1). `compare --json` with
    --overwrite replaced the report it compared. All now exit 2 before any work."""
    from keras_waveglow import _paths
    from keras_waveglow.cli import main

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # As for a user without write permission (root passes os.access on any folder).
    monkeypatch.setattr(
        _paths.os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode)
    )
    mel = tmp_path / "m.npy"
    mel.write_bytes(b"never read")
    train = ["train", "--preset", "tiny", "--data", str(ROOT / "data"), "--split", "all"]
    cases = [
        ([*train, "--out", str(locked / "run")], "keras-waveglow train: error: --out"),
        (["vocode", str(mel), "-o", str(locked / "wavs")], "vocode failed: "),
        (["evaluate", "--data", str(mel), "--out", str(locked)], "evaluate failed: "),
    ]
    for argv, prefix in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert prefix in err and "is not writable" in err and "Traceback" not in err, err
    assert list(locked.iterdir()) == []
    # The library says PermissionError (it was NotADirectoryError: "a file in the way").
    from keras_waveglow import evaluation
    from keras_waveglow._paths import folder_refusal

    with pytest.raises(PermissionError, match="the report folder is not writable"):
        evaluation.evaluate(str(tmp_path / "never_loaded.keras"), str(mel), locked)
    # A folder on the way that cannot be searched: one line, not a PermissionError traceback.
    real_exists = Path.exists

    def exists(path):
        if "unsearchable" in str(path) and path.name != "unsearchable":
            raise PermissionError(13, "Permission denied")
        return real_exists(path)

    (tmp_path / "unsearchable").mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(Path, "exists", exists)
        problem = folder_refusal(tmp_path / "unsearchable" / "a" / "b", "the output folder")
    assert problem.endswith("the output folder cannot be reached (Permission denied).")
    # A complete corpus on a read-only --dest is only read: not refused (it exited 2).
    (locked / "cmu_us_slt_arctic").mkdir()
    (locked / "cmu_us_slt_arctic" / ".download_complete").write_text("done\n")
    nowhere = ["--base-url", "http://127.0.0.1:9/", "--no-progress"]  # nothing is fetched
    assert main(["download", "arctic", "--dest", str(locked), *nowhere]) == 0
    assert "is not writable" not in capsys.readouterr().err
    report = tmp_path / "rep"
    report.mkdir()
    (report / "report.json").write_text('{"kept": true}')
    for target in (report / "report.json", tmp_path / "rep" / ".." / "rep" / "report.json"):
        argv = ["compare", str(report), str(report), "--json", str(target), "--overwrite"]
        assert main(argv) == 2
        assert "is one of the reports compared" in capsys.readouterr().err
    assert (report / "report.json").read_text() == '{"kept": true}'
