"""`make demo`'s job, on a tiny budget: every promised file is written, numbers are finite."""

from __future__ import annotations

import json
import math

import pytest

from keras_waveglow.demo import run_demo


@pytest.mark.tensorflow_only
def test_demo_writes_model_wavs_figure_report_and_metrics(tmp_path):
    metrics = run_demo(
        tmp_path, preset="tiny", budget_seconds=1.0, batch_size=2, segment_length=4096, verbose=0
    )
    for name in ("model.keras", "spectrograms.png", "metrics.json", "report/report.json"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "report" / "index.html").read_text().count("<audio") >= 6
    assert len(list((tmp_path / "wavs").glob("*.wav"))) == 4  # 2 utterances x (WaveGlow, GL)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["train_steps"] >= 2
    assert math.isfinite(metrics["heldout_nll"]) and math.isfinite(
        metrics["heldout_bits_per_sample"]
    )
    assert metrics["pesq_wb"]["griffin_lim"] > 1.0
