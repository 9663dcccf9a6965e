"""`make demo`'s job, on a tiny budget: every promised file is written, numbers are finite."""

from __future__ import annotations

import json
import math
import types
import warnings

import pytest

from keras_waveglow import demo
from keras_waveglow.demo import TimeBudget, run_demo, summary_lines


@pytest.mark.tensorflow_only
def test_demo_writes_model_wavs_figure_report_and_metrics(tmp_path):
    # An untrained preset (no weights) keeps this fast; `make demo` starts from the bundled one.
    metrics = run_demo(
        tmp_path,
        preset="tiny",
        budget_seconds=1.0,
        batch_size=2,
        segment_length=4096,
        discriminator_width=0.125,
        verbose=0,
    )
    names = ("model.keras", "spectrograms.png", "metrics.json", "report/report.json")
    for name in (*names, "report_bundled/report.json"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "report" / "index.html").read_text().count("<audio") >= 6
    wavs = sorted(p.name for p in (tmp_path / "wavs").glob("*.wav"))
    assert len(wavs) == 6 and sum(name.endswith("_fine_tuned.wav") for name in wavs) == 2
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["train_steps"] >= 2 and metrics["pretrained"] is False
    for key in ("heldout_nll_initial", "heldout_nll", "heldout_bits_per_sample"):
        assert math.isfinite(metrics[key]), key
    assert set(metrics["pesq_wb"]) == {"bundled", "finetuned", "griffin_lim"}
    assert metrics["pesq_wb"]["griffin_lim"] > 1.0
    assert all(metrics["pesq_wb"][k] > 0.9 for k in ("bundled", "finetuned"))
    # A second run into the same folder is refused (it replaced everything silently).
    with pytest.raises(FileExistsError, match=r"holds an earlier demo run \(metrics\.json\)"):
        run_demo(tmp_path, preset="tiny", budget_seconds=1.0, verbose=0)
    # model.keras is saved uncompiled: loading it warns of no optimizer it skipped.
    from keras_waveglow import load_vocoder

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_vocoder(tmp_path / "model.keras")
    assert not [w for w in caught if "optimizer" in str(w.message)], caught


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "nowhere"], "no cmu_us_*_arctic/wav/*.wav under nowhere"),
        (["--preset", "tinny"], "Unknown preset 'tinny'. Did you mean 'tiny'?"),
        (["--batch-size", "0"], "batch_size must be >= 1; got 0."),
        (["--budget-seconds", "-5"], "budget_seconds must be a finite number > 0; got -5.0."),
        (["--preset", "tiny", "--segment-length", "1001"], "a multiple of the 'tiny' flow's"),
        (["--preset", "tiny", "--segment-length", "8"], "at least n_fft // 2 + 1 = 513"),
    ],
)
def test_bad_demo_arguments_are_refused_in_one_line_before_anything_is_written(
    tmp_path, capsys, args, message
):
    assert demo.main(["--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras_waveglow.demo: error: ") and message in err, err
    assert not (tmp_path / "out").exists()


def test_time_budget_draws_progress_against_the_budget_and_stops(monkeypatch, capsys):
    clock = iter([100.0, 130.0, 160.0])  # first step (clock starts), 30 s later, 60 s later
    monkeypatch.setattr(demo.time, "perf_counter", lambda: next(clock))
    budget = TimeBudget(60.0)
    model = types.SimpleNamespace(stop_training=False)
    budget.set_model(model)
    budget.on_train_begin()
    budget.on_train_batch_end(0, {"loss": 1.234567})
    budget.on_train_batch_end(1, {"loss": 0.98765432})
    assert not model.stop_training
    progress = capsys.readouterr().err
    assert "training (budget)" in progress and "30/60 s, 2 steps, loss 0.9877" in progress
    budget.on_train_batch_end(2, {"loss": 0.5})
    assert model.stop_training and budget.steps == 3
    budget.on_train_end()
    assert "60/60 s, 3 steps, loss 0.5" in capsys.readouterr().err


def test_summary_rounds_numbers_for_people():
    metrics = {
        "report_html": "demo_out/report/index.html",
        "pretrained": True,
        "heldout_nll_initial": -2.71049,
        "heldout_nll": -3.133215,
        "heldout_bits_per_sample": 3.1912345,
        "train_steps": 105,
        "train_seconds": 688.4,
        "pesq_wb": {"bundled": 1.4449, "finetuned": 1.0493156909942627, "griffin_lim": None},
    }
    assert summary_lines(metrics) == [
        "report:   demo_out/report/index.html",
        "held-out NLL -2.710 -> -3.133 (3.19 bits/sample log-likelihood) after 105 fine-tuning "
        "steps in 688 s",
        "PESQ (wideband; whole utterances, the first 80% tuned on): bundled model 1.44, "
        "fine-tuned 1.05, Griffin-Lim n/a",
    ]


def test_demo_refuses_bad_outputs_unreadable_data_and_a_missing_plotter_first(
    tmp_path, capsys, monkeypatch
):
    """Each was a traceback, two of them after split/ was written and a model evaluated."""
    import shutil
    import sys

    def refused(args, message):
        assert demo.main(["--preset", "tiny", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("keras_waveglow.demo: error: ") and message in err, err

    a_file = tmp_path / "afile"
    a_file.write_text("x")
    refused(["--out", str(a_file)], "afile")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "metrics.json").write_text("{}")
    refused(["--out", str(earlier)], "holds an earlier demo run (metrics.json); pass --overwrite")
    # A wavs/ of the user's, and no demo run: the demo would write into it (and, with
    # --overwrite, emptied it).
    mine = tmp_path / "mine"
    (mine / "wavs").mkdir(parents=True)
    (mine / "wavs" / "keep.wav").write_bytes(b"x")
    for extra in ([], ["--overwrite"]):
        refused(["--out", str(mine), *extra], "holds a wavs/ folder but no demo run")
    assert (mine / "wavs" / "keep.wav").read_bytes() == b"x"
    data = tmp_path / "data"
    shutil.copytree(demo.DEFAULT_DATA, data)
    bad = data / "cmu_us_slt_arctic" / "wav" / "arctic_b0001.wav"
    bad.write_bytes(b"not audio at all")
    out = tmp_path / "out"
    refused(["--out", str(out), "--data", str(data)], f"{bad}: not a readable audio file")
    bad.unlink()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    refused(["--out", str(out), "--data", str(data)], "pip install 'keras-waveglow[eval]'")
    assert not out.exists() and list(earlier.iterdir()) == [earlier / "metrics.json"]


def test_utterance_names_tell_speakers_apart_when_they_share_a_file_name():
    """Every ARCTIC speaker reads arctic_a0001...: with two speakers, the split and wav files
    of one overwrote the other's (training used one speaker twice)."""
    from pathlib import Path

    one = [
        Path("d/cmu_us_slt_arctic/wav/arctic_a0009.wav"),
        Path("d/cmu_us_awb_arctic/wav/arctic_a0007.wav"),
    ]
    assert demo.utterance_names(one) == ["arctic_a0009", "arctic_a0007"]
    shared = [*one, Path("d/cmu_us_awb_arctic/wav/arctic_a0009.wav")]
    assert demo.utterance_names(shared) == [
        "slt_arctic_a0009",
        "awb_arctic_a0007",
        "awb_arctic_a0009",
    ]


@pytest.mark.tensorflow_only
def test_a_diverged_fine_tuning_is_named_and_saves_no_model(tmp_path, monkeypatch, capsys):
    """A NaN loss saved the broken model.keras and died in save_audio with a traceback."""
    import keras

    def diverged(model, dataset, seconds, progress=True):
        history = keras.callbacks.History()
        history.history = {"loss": [math.nan]}
        return types.SimpleNamespace(steps=3), history, 1.0

    monkeypatch.setattr(demo, "fit_for_budget", diverged)
    args = ["--out", str(tmp_path / "out"), "--preset", "tiny", "--budget-seconds", "1"]
    assert demo.main([*args, "--segment-length", "4096", "--batch-size", "2"]) == 1
    err = capsys.readouterr().err
    assert "the fine-tuning diverged (loss nan after 3 steps" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "model.keras").exists()
