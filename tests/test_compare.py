"""`compare_reports` / `keras-waveglow compare`: two evaluation reports, file by file."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import stats

from keras_waveglow import cli, evaluation
from keras_waveglow.audio import load_audio
from keras_waveglow.evaluation import compare_reports, format_comparison, load_report
from tests import vocode_helpers

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "benchmarks" / "results" / "eval_arctic_lr1e4_avg5_2026-12-03.json"


def _report(sources, pesq, l1, settings=None, griffin_lim_pesq=None):
    utterances = []
    for i, source in enumerate(sources):
        metrics = {"waveglow": {"pesq_wb": pesq[i], "log_mel_l1": l1[i], "rtf": 0.1}}
        if griffin_lim_pesq is not None:
            metrics["griffin_lim"] = {"pesq_wb": griffin_lim_pesq[i]}
        utterances.append({"id": Path(source).stem, "source": source, "metrics": metrics})
    return {
        "model": {"source": "test"},
        "settings": settings or {"sigma": 0.6, "seed": 0},
        "utterances": utterances,
    }


def _student_t(values):
    values = np.asarray(values, np.float64)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def test_paired_differences_are_exact_and_pair_by_path_tail():
    names = ["de/a.wav", "de/b.wav", "de/c.wav", "it/a.wav", "it/b.wav", "it/c.wav"]
    base = _report([f"klettres/{n}" for n in names], [1.0, 1.2, 1.4, 2.0, 2.1, 2.2], [1.0] * 6)
    # The same files written from another working folder, listed in another order.
    order = [5, 0, 3, 1, 4, 2]
    pesq_gain = [0.10, 0.12, 0.08, 0.11, 0.09, 0.10]  # by base position
    l1_change = [0.05, -0.02, 0.01, 0.03, 0.00, 0.02]
    new = _report(
        [f"/data/klettres/{names[i]}" for i in order],
        [base["utterances"][i]["metrics"]["waveglow"]["pesq_wb"] + pesq_gain[i] for i in order],
        [1.0 + l1_change[i] for i in order],
        settings={"sigma": 0.0, "seed": 0},
    )
    result = compare_reports(base, new)
    assert result["n_paired"] == 6 and not result["only_in_base"] and not result["only_in_new"]
    assert result["settings_differences"] == {"sigma": [0.6, 0.0]}
    pesq = result["metrics"]["pesq_wb"]
    low, high = _student_t(pesq_gain)
    assert pesq["difference"]["mean"] == pytest.approx(np.mean(pesq_gain), abs=1e-12)
    assert (pesq["difference"]["low"], pesq["difference"]["high"]) == pytest.approx((low, high))
    assert (pesq["new_better"], pesq["ties"], pesq["new_worse"]) == (6, 0, 0)
    assert pesq["verdict"] == "better"  # higher is better and the interval is above zero
    l1 = result["metrics"]["log_mel_l1"]
    assert l1["difference"]["mean"] == pytest.approx(np.mean(l1_change))
    assert (l1["new_better"], l1["ties"], l1["new_worse"]) == (1, 1, 4)  # lower is better
    assert l1["verdict"] == "no clear difference"  # its interval spans zero
    assert "rtf" not in result["metrics"]  # a machine's load, not the model's quality
    assert sorted(result["by_folder"]) == ["de", "it"]
    de = result["by_folder"]["de"]["metrics"]["pesq_wb"]
    assert de["n"] == 3 and de["difference"]["mean"] == pytest.approx(np.mean(pesq_gain[:3]))
    text = format_comparison(result)
    assert "settings differ: sigma 0.6 (base) vs 0.0 (new)" in text
    pesq_row = next(line for line in text.splitlines() if line.startswith("PESQ (wb)"))
    l1_row = next(line for line in text.splitlines() if line.startswith("log-mel L1"))
    assert pesq_row.endswith("better") and "+0.100" in pesq_row
    assert l1_row.endswith("no clear difference")
    assert "de:" in text and "it:" in text


def test_files_of_the_same_name_in_other_folders_never_pair():
    base = _report(["de/a.wav", "de/b.wav"], [1.0, 1.1], [0.5, 0.5])
    # it/a.wav shares only its name with de/a.wav; it comes first so that order cannot decide.
    new = _report(["it/a.wav", "/data/de/a.wav", "de/b.wav"], [3.0, 1.2, 1.3], [0.4] * 3)
    result = compare_reports(base, new)
    assert result["n_paired"] == 2 and result["only_in_new"] == ["it/a.wav"]
    assert result["metrics"]["pesq_wb"]["difference"]["mean"] == pytest.approx(0.2)
    # Only another folder's file of that name: nothing is paired, and the error says so.
    with pytest.raises(ValueError, match="share no file"):
        compare_reports(base, _report(["it/a.wav"], [3.0], [0.4]))
    # A bare name against one base file ending in it pairs; against two it pairs with neither.
    assert compare_reports(base, _report(["b.wav"], [1.0], [0.4]))["n_paired"] == 1
    two = _report(["de/a.wav", "it/a.wav", "it/b.wav"], [1.0, 2.0, 2.5], [0.1] * 3)
    result = compare_reports(two, _report(["a.wav", "it/b.wav"], [1.5, 2.0], [0.1, 0.1]))
    assert result["n_paired"] == 1 and result["only_in_new"] == ["a.wav"]


def test_missing_scores_are_left_out_pair_by_pair():
    base = _report(["s/a.wav", "s/b.wav", "s/c.wav"], [1.0, None, 1.4], [0.5, 0.5, 0.5])
    new = _report(["s/a.wav", "s/b.wav", "s/c.wav"], [1.2, 1.3, float("nan")], [0.4, 0.3, 0.2])
    del new["utterances"][0]["metrics"]["waveglow"]["log_mel_l1"]
    result = compare_reports(base, new)
    pesq, l1 = result["metrics"]["pesq_wb"], result["metrics"]["log_mel_l1"]
    assert pesq["n"] == 1 and pesq["difference"]["mean"] == pytest.approx(0.2)
    assert pesq["verdict"] is None  # one pair: no interval, no verdict
    assert "[n < 2]" in format_comparison(result)
    assert l1["n"] == 2 and l1["difference"]["mean"] == pytest.approx(-0.25)


def test_worse_metrics_and_files_in_one_report_only():
    base = _report(["x/a.wav", "x/b.wav", "x/c.wav", "x/d.wav"], [2.0, 2.5, 3.0, 3.5], [0.2] * 4)
    new = _report(["x/b.wav", "x/c.wav", "x/d.wav", "x/e.wav"], [2.2, 2.7, 3.2, 1.0], [0.5] * 4)
    result = compare_reports(base, new)
    assert result["n_paired"] == 3
    assert result["only_in_base"] == ["x/a.wav"] and result["only_in_new"] == ["x/e.wav"]
    assert result["metrics"]["pesq_wb"]["difference"]["mean"] == pytest.approx(-0.3)
    assert result["metrics"]["pesq_wb"]["verdict"] == "worse"
    # Identical differences: a zero-width interval away from zero is still a clear verdict.
    assert result["metrics"]["log_mel_l1"]["verdict"] == "worse"
    assert result["by_folder"] == {}  # one folder: nothing to split


def test_systems_of_one_report_and_a_committed_report_against_itself(tmp_path):
    report = load_report(COMMITTED)
    same = compare_reports(report, COMMITTED)
    assert same["n_paired"] == len(report["utterances"]) == 2
    for metric in same["metrics"].values():
        assert metric["difference"]["mean"] == 0.0 and metric["ties"] == metric["n"]
        assert metric["verdict"] == "no clear difference"
    # WaveGlow against Griffin-Lim in the same report: the report's own per-system means.
    against = compare_reports(COMMITTED, COMMITTED, system="waveglow", base_system="griffin_lim")
    for name in ("pesq_wb", "log_mel_l1", "vuv_f1"):
        assert against["metrics"][name]["new_mean"] == pytest.approx(
            report["systems"]["waveglow"][name]["mean"]
        )
        assert against["metrics"][name]["base_mean"] == pytest.approx(
            report["systems"]["griffin_lim"][name]["mean"]
        )
    # The report's folder is enough.
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "report.json").write_text(COMMITTED.read_text())
    assert compare_reports(folder, COMMITTED)["n_paired"] == 2


def test_bad_reports_and_unpaired_files_are_refused_by_name(tmp_path):
    missing = tmp_path / "nothing.json"
    with pytest.raises(ValueError, match=r"nothing\.json: no such report"):
        load_report(missing)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json: not a readable JSON report"):
        load_report(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"loss": 1.0}))
    with pytest.raises(ValueError, match=r"other\.json: not a keras-waveglow evaluation report"):
        load_report(other)
    for metrics, problem in (
        (None, "malformed 'metrics'"),
        ({"waveglow": {"pesq_wb": "1.3"}}, "the 'waveglow' scores are not numbers"),
    ):
        odd = tmp_path / "odd.json"
        odd.write_text(json.dumps({"utterances": [{"source": "a.wav", "metrics": metrics}]}))
        with pytest.raises(ValueError, match=rf"odd\.json: utterance 'a\.wav': {problem}"):
            load_report(odd)
    # A file name found in two base folders names neither: never paired with one at random.
    base = _report(["de/a.wav", "it/a.wav"], [1.0, 2.0], [0.1, 0.2])
    new = _report(["a.wav"], [1.5], [0.1])
    with pytest.raises(ValueError, match="share no file"):
        compare_reports(base, new)
    with pytest.raises(ValueError, match="unknown system"):
        compare_reports(base, base, system="ground_truth")
    with pytest.raises(ValueError, match="no utterance has scores for 'griffin_lim'"):
        compare_reports(base, base, base_system="griffin_lim")


def test_malformed_report_fields_are_named_value_errors(tmp_path, capsys):
    utterance = {"source": "a.wav", "metrics": {"waveglow": {"pesq_wb": 1.0}}}
    odd = tmp_path / "odd.json"
    for field, value in (("model", None), ("settings", [1, 2]), ("paths", "x")):
        odd.write_text(json.dumps({field: value, "utterances": [utterance]}))
        with pytest.raises(ValueError, match=rf"odd\.json: malformed report: '{field}' must be"):
            load_report(odd)
        assert cli.main(["compare", str(odd), str(odd)]) == 2
        assert f"odd.json: malformed report: '{field}'" in capsys.readouterr().err
    for key in ("source_sha256", "source_resolved"):
        odd.write_text(json.dumps({"utterances": [{**utterance, key: 7}]}))
        with pytest.raises(ValueError, match=rf"odd\.json: utterance 'a\.wav': '{key}' is not"):
            load_report(odd)
    # The fields compare reads for each metric's band: a string rate failed inside compare
    # with a TypeError traceback (exit 1) naming no file.
    for field, value, problem in (
        ("model", {"sample_rate": "22050"}, "model.sample_rate is str '22050'"),
        ("settings", {"mel_config": [1]}, "settings.mel_config is list"),
        ("settings", {"spectral_band": 3}, "settings.spectral_band is int 3"),
    ):
        odd.write_text(json.dumps({field: value, "utterances": [utterance]}))
        with pytest.raises(ValueError, match=rf"odd\.json: malformed report: {re.escape(problem)}"):
            load_report(odd)
        assert cli.main(["compare", str(odd), str(odd)]) == 2
        capsys.readouterr()
    odd.write_text(json.dumps({"utterances": [{**utterance, "band_limited_rate": "16000"}]}))
    with pytest.raises(ValueError, match=r"'a\.wav': 'band_limited_rate' is not a number"):
        load_report(odd)
    # A level given as a percentage gave NaN intervals and a verdict of "no clear difference".
    base = _report(["a.wav", "b.wav"], [1.0, 2.0], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"level must be a confidence level in \(0, 1\).*got 95"):
        compare_reports(base, base, level=95)


def _with_mr_stft(report: dict, values, floor: str | None) -> dict:
    for utt, value in zip(report["utterances"], values, strict=True):
        utt["metrics"]["waveglow"]["mr_stft"] = value
    if floor is not None:
        report["settings"]["mr_stft_floor"] = floor
    return report


def test_mr_stft_of_two_definitions_is_left_out_with_a_reason(tmp_path):
    """A report written with the magnitude floor (no `mr_stft_floor`) against one with the
    power floor: every other metric is compared, mr_stft is not, and the output says why."""
    sources = ["s/a.wav", "s/b.wav"]
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps(_with_mr_stft(_report(sources, [1.0, 1.1], [0.5, 0.6]), [4.8, 5.0], None))
    )
    new = tmp_path / "new.json"
    new_report = _with_mr_stft(_report(sources, [1.2, 1.4], [0.4, 0.4]), [2.9, 3.1], "power 1e-7")
    new.write_text(json.dumps(new_report))
    result = compare_reports(old, new)
    assert "mr_stft" not in result["metrics"] and "pesq_wb" in result["metrics"]
    reason = result["metrics_left_out"]["mr_stft"]
    assert "old.json" in reason and "new.json" in reason and "'magnitude 1e-7'" in reason
    assert result["settings_differences"]["mr_stft_floor"] == ["magnitude 1e-7", "power 1e-7"]
    text = format_comparison(result)
    assert "mr_stft left out: " in text and "MR-STFT" not in text
    # The committed reports predate the field: the same holds against them.
    committed = compare_reports(COMMITTED, COMMITTED)
    assert "mr_stft" in committed["metrics"] and committed["metrics_left_out"] == {}
    # Two reports of one definition compare it as before.
    again = _with_mr_stft(_report(sources, [1.0, 1.1], [0.5, 0.6]), [2.0, 2.2], "power 1e-7")
    result = compare_reports(again, new_report)
    assert result["metrics"]["mr_stft"]["difference"]["mean"] == pytest.approx(0.9)
    assert (
        result["metrics_left_out"] == {} and "mr_stft_floor" not in result["settings_differences"]
    )


def test_metrics_measured_differently_are_left_out_with_a_reason():
    """Voicing, pitch and MCD from pyworld against librosa's pyin, and log-mel L1 in other
    mels, are not compared: a verdict on them would compare the definitions."""
    sources = ["s/a.wav", "s/b.wav", "s/c.wav"]
    base = _report(sources, [1.0, 1.1, 1.2], [0.5, 0.6, 0.7])
    new = _report(sources, [1.2, 1.4, 1.3], [0.4, 0.4, 0.5])
    for report, f1 in ((base, [0.6, 0.62, 0.61]), (new, [0.9, 0.91, 0.92])):
        for utt, value in zip(report["utterances"], f1, strict=True):
            utt["metrics"]["waveglow"]["vuv_f1"] = value
    mel = {"sample_rate": 22050, "n_mels": 80}
    base["settings"].update(f0_extractor="pyworld", mel_config=mel)
    new["settings"].update(f0_extractor="librosa.pyin", mel_config=mel)
    result = compare_reports(base, new)
    assert set(result["metrics_left_out"]) == {"f0_rmse_cents", "gpe", "vuv_f1", "mcd_db"}
    assert "vuv_f1" not in result["metrics"] and "log_mel_l1" in result["metrics"]
    reason = result["metrics_left_out"]["vuv_f1"]
    assert "with pyworld" in reason and "with librosa.pyin" in reason
    assert "vuv_f1 left out: " in format_comparison(result)
    new["settings"].update(f0_extractor="pyworld", mel_config={**mel, "n_mels": 100})
    result = compare_reports(base, new)
    assert set(result["metrics_left_out"]) == {"log_mel_l1"}
    assert "different mels" in result["metrics_left_out"]["log_mel_l1"]
    assert result["metrics"]["vuv_f1"]["difference"]["mean"] == pytest.approx(0.3)
    new["settings"]["mel_config"] = dict(mel)
    assert compare_reports(base, new)["metrics_left_out"] == {}


def test_mcd_and_mr_stft_are_left_out_where_a_file_was_scored_over_another_band():
    """MCD and MR-STFT of a file cover up to half the rate they were scored at: the model's,
    or the recording's where it is lower (`spectral_band` "recording"; reports before it used
    the model's). Between two reports they are compared only where every paired file was
    scored at the same rate, in either direction; the reason names a file and both rates."""
    sources = ["s/a.wav", "s/b.wav"]

    def report(mr_stft, mcd, model_rate, band=None, limited=None):
        result = _with_mr_stft(_report(sources, [1.0, 1.1], [0.5, 0.6]), mr_stft, "power 1e-7")
        result["model"]["sample_rate"] = model_rate
        for utt, value in zip(result["utterances"], mcd, strict=True):
            utt["metrics"]["waveglow"]["mcd_db"] = value
        if band is not None:
            result["settings"]["spectral_band"] = band
        if limited is not None:
            result["utterances"][1]["band_limited_rate"] = limited
        return result

    old = report([2.7, 2.9], [29.6, 28.7], 22050)  # the whole band of a 16 kHz recording
    new = report([1.4, 1.6], [5.8, 6.5], 22050, evaluation.SPECTRAL_BAND, 16000)
    for base, other in ((old, new), (new, old)):
        result = compare_reports(base, other)
        assert set(result["metrics_left_out"]) == {"mr_stft", "mcd_db"}
        assert "pesq_wb" in result["metrics"] and "mcd_db" not in result["metrics"]
    reason = compare_reports(old, new)["metrics_left_out"]["mcd_db"]
    assert "1 paired file(s)" in reason and "'s/b.wav'" in reason
    assert "up to 11025 Hz in" in reason and "up to 8000 Hz in" in reason
    # No file below the model's rate: the two rules agree, and both metrics are compared.
    same_band = report([1.4, 1.6], [5.8, 6.5], 22050, evaluation.SPECTRAL_BAND)
    result = compare_reports(old, same_band)
    assert result["metrics_left_out"] == {}
    assert result["metrics"]["mcd_db"]["difference"]["mean"] == pytest.approx(-23.0)
    assert result["settings_differences"]["spectral_band"] == ["model", evaluation.SPECTRAL_BAND]
    # A 16 kHz model scores the 16 kHz recording at 16 kHz without limiting it: against the
    # old report's 22.05 kHz the bands differ; against a new 22.05 kHz one they agree.
    narrow_model = report([1.5, 1.7], [6.0, 6.3], 16000, evaluation.SPECTRAL_BAND)
    assert set(compare_reports(old, narrow_model)["metrics_left_out"]) == {"mr_stft", "mcd_db"}
    narrow_model["utterances"][0]["band_limited_rate"] = None
    wide = report([1.4, 1.6], [5.8, 6.5], 22050, evaluation.SPECTRAL_BAND, 16000)
    wide["utterances"][0]["band_limited_rate"] = 16000
    assert compare_reports(wide, narrow_model)["metrics_left_out"] == {}


def test_pesq_stoi_and_log_mel_are_left_out_only_where_their_own_band_was_cut():
    """Since the rule "recording, every metric", PESQ-WB (8 kHz band), STOI (5 kHz) and the
    log-mel distance (`fmax`) of a recording made below twice their band are scored at its
    rate too. Against a report of the rule before ("recording": MR-STFT and MCD only), a file
    recorded at 16 kHz is comparable on all three, one recorded at 8 kHz on none; an 11.025 kHz
    file only on STOI (its 5.5125 kHz half rate is above STOI's band)."""

    def report(rule, limited):
        result = _report(["s/a.wav", "s/b.wav"], [1.0, 1.1], [0.5, 0.6])
        result["model"]["sample_rate"] = 22050
        result["settings"]["spectral_band"] = rule
        result["settings"]["mel_config"] = {"sample_rate": 22050, "fmax": 8000.0}
        for utt in result["utterances"]:
            utt["band_limited_rate"] = limited
            utt["metrics"]["waveglow"].update(stoi=0.8, mcd_db=6.0, mr_stft=1.5)
        return result

    def left_out(limited):
        both = (
            report(evaluation.SPECTRAL_BAND_SPECTRAL_ONLY, limited),
            report(evaluation.SPECTRAL_BAND, limited),
        )
        return set(compare_reports(*both)["metrics_left_out"])

    assert left_out(16000) == set()
    assert left_out(8000) == {"pesq_wb", "stoi", "log_mel_l1"}
    assert left_out(11025) == {"pesq_wb", "log_mel_l1"}
    # fmax None: the log-mel reaches the model's half rate, so a 16 kHz file's is cut too.
    base, new = (
        report(evaluation.SPECTRAL_BAND_SPECTRAL_ONLY, 16000),
        report(evaluation.SPECTRAL_BAND, 16000),
    )
    for result in (base, new):
        result["settings"]["mel_config"]["fmax"] = None
    reason = compare_reports(base, new)["metrics_left_out"]
    assert set(reason) == {"log_mel_l1"}
    assert (
        "up to 11025 Hz in" in reason["log_mel_l1"] and "up to 8000 Hz in" in reason["log_mel_l1"]
    )
    # Two reports of the same rule compare every metric.
    assert compare_reports(new, new)["metrics_left_out"] == {}
    # A report without the model's rate: its bands are unrecorded, said so (it raised).
    del base["model"]["sample_rate"]
    reason = compare_reports(base, new)["metrics_left_out"]["pesq_wb"]
    assert "over an unrecorded band in base report, up to 8000 Hz in new report" in reason


def test_files_pair_by_content_not_by_the_path_shown(tmp_path, monkeypatch):
    """Two files named x.wav, slt's in c/de and awb's in c/it, evaluated from different
    working folders. By the displayed paths `x.wav` (run in c/de) and `it/x.wav` (run in c)
    looked like one file, while `../de/x.wav` and the absolute path of the same file did not."""
    monkeypatch.setattr(evaluation, "available_metrics", lambda: (["log_mel_l1"], {}))
    c = tmp_path / "c"
    for folder, speaker, name in (("de", "slt", "arctic_a0009"), ("it", "awb", "arctic_a0007")):
        (c / folder).mkdir(parents=True)
        path = vocode_helpers.DATA / f"cmu_us_{speaker}_arctic" / "wav" / f"{name}.wav"
        audio, _ = load_audio(path, 16000)
        sf.write(c / folder / "x.wav", audio[4000:12000], 16000)
    (tmp_path / "elsewhere").mkdir()
    model = vocode_helpers.tiny_model()
    reports = {}
    for key, cwd, data in (
        ("de_here", c / "de", "."),
        ("it_from_c", c, "it"),
        ("de_relative", c / "it", "../de"),
        ("de_absolute", tmp_path / "elsewhere", str(c / "de")),
    ):
        monkeypatch.chdir(cwd)
        reports[key] = evaluation.evaluate(model, data, tmp_path / "out" / key, progress=False)
    sources = {key: r["utterances"][0]["source"] for key, r in reports.items()}
    assert sources == {
        "de_here": "x.wav",
        "it_from_c": "it/x.wav",
        "de_relative": "../de/x.wav",
        "de_absolute": str(c / "de" / "x.wav"),
    }
    assert reports["de_here"]["utterances"][0]["source_resolved"] == str(
        (c / "de" / "x.wav").resolve()
    )
    assert reports["de_here"]["settings"]["mr_stft_floor"] == "power 1e-7"
    with pytest.raises(ValueError, match=r"share no file \(compared by the sha256"):
        compare_reports(reports["de_here"], reports["it_from_c"])
    for base, new in (("de_relative", "de_absolute"), ("de_here", "de_absolute")):
        result = compare_reports(reports[base], reports[new])
        assert result["n_paired"] == 1 and result["paired_by"] == "content (sha256)"
        assert result["metrics"]["log_mel_l1"]["difference"]["mean"] == 0.0  # same file, seed
    # A report written before the fields existed: the displayed paths' tails, as before.
    older = json.loads(json.dumps(reports["de_absolute"]))
    for utt in older["utterances"]:
        del utt["source_sha256"], utt["source_resolved"]
    result = compare_reports(reports["de_here"], older)
    assert result["n_paired"] == 1 and result["paired_by"] == "path tail"
    assert "matched by path tail" in format_comparison(result)


def test_pairing_by_content_with_a_file_listed_twice():
    def utterances(*entries):
        return [
            {"source": Path(r).name, "source_resolved": r, "source_sha256": d, "metrics": {}}
            for r, d in entries
        ]

    base = utterances(("/d/a.wav", "1"), ("/d/a.wav", "1"), ("/d/b.wav", "2"), ("/d/c.wav", "3"))
    # c.wav copied to /e: the same bytes, paired; a.wav twice in base: neither copy is chosen.
    new = utterances(("/d/a.wav", "1"), ("/e/c.wav", "3"), ("/d/b.wav", "2"))
    assert evaluation._pair_utterances(base, new) == ([(3, 1), (2, 2)], "content (sha256)")
    # Two copies on both sides: each pairs with its own path.
    base = utterances(("/d/a.wav", "1"), ("/e/a.wav", "1"))
    new = utterances(("/e/a.wav", "1"), ("/d/a.wav", "1"))
    assert evaluation._pair_utterances(base, new)[0] == [(1, 0), (0, 1)]


def test_cli_compare_prints_writes_json_and_keeps_existing_files(tmp_path, capsys):
    base = tmp_path / "base.json"
    new = tmp_path / "new.json"
    base.write_text(json.dumps(_report(["s/a.wav", "s/b.wav"], [1.0, 1.1], [0.5, 0.6])))
    new.write_text(json.dumps(_report(["s/a.wav", "s/b.wav"], [1.2, 1.4], [0.4, 0.4])))
    out = tmp_path / "cmp" / "result.json"
    assert cli.main(["compare", str(base), str(new), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "paired: 2 files" in printed and "PESQ (wb)" in printed and "+0.250" in printed
    written = json.loads(out.read_text())
    assert written["metrics"]["pesq_wb"]["difference"]["mean"] == pytest.approx(0.25)
    before = out.read_text()
    assert cli.main(["compare", str(base), str(new), "--json", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == before
    argv = ["compare", str(new), str(base), "--json", str(out), "--overwrite"]
    assert cli.main(argv) == 0
    assert json.loads(out.read_text())["metrics"]["pesq_wb"]["difference"]["mean"] == (
        pytest.approx(-0.25)
    )
    assert cli.main(["compare", str(base), str(tmp_path / "absent.json")]) == 2
    assert "absent.json: no such report" in capsys.readouterr().err


def test_reports_name_the_default_model_they_scored(monkeypatch):
    from keras_waveglow import inference, presets
    from keras_waveglow.evaluation import _model_source

    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    monkeypatch.setattr(inference, "_default_model", None)
    assert _model_source(None) == {"source": presets.DEFAULT_PRESET, "default_model": True}
    monkeypatch.setenv(inference.MODEL_ENV_VAR, "/models/mine.keras")
    assert _model_source(None) == {"source": "/models/mine.keras", "default_model": True}
    assert _model_source("tiny") == {"source": "tiny", "default_model": False}


def test_reports_record_which_weights_file_they_scored(tmp_path, monkeypatch):
    import hashlib

    from keras_waveglow import inference

    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    monkeypatch.setattr(inference, "_default_model", None)

    import keras_waveglow
    from keras_waveglow import presets
    from keras_waveglow.evaluation import _weights_record

    bundled = Path(keras_waveglow.__file__).parent / presets.WEIGHTS[presets.DEFAULT_PRESET]["file"]
    digest = hashlib.sha256(bundled.read_bytes()).hexdigest()
    assert _weights_record(presets.DEFAULT_PRESET, None) == {
        "weights": str(bundled),
        "weights_sha256": digest,
    }
    other = tmp_path / "candidate.weights.h5"
    other.write_bytes(b"not really weights")
    record = _weights_record("squeezewave_128s", other)
    assert record["weights_sha256"] == hashlib.sha256(b"not really weights").hexdigest()
    assert _weights_record(object(), None) == {"weights": None, "weights_sha256": None}
    assert _weights_record(None, None) == _weights_record(presets.DEFAULT_PRESET, None)
    # A default preset set with weights, or a (preset, weights) spec: those weights' digest.
    monkeypatch.setattr(inference, "_default_model", "squeezewave_128s")
    monkeypatch.setattr(inference, "_default_weights", str(other))
    assert _weights_record(None, None) == record
    assert _weights_record(("squeezewave_128s", other), None) == record
    monkeypatch.setattr(inference, "_default_model", None)
    # compare shows the digests, so two reports of one preset with other weights differ.
    base = _report(["s/a.wav", "s/b.wav"], [1.0, 1.1], [0.5, 0.6])
    new = _report(["s/a.wav", "s/b.wav"], [1.2, 1.4], [0.4, 0.4])
    base["model"]["weights_sha256"], new["model"]["weights_sha256"] = digest, "ab" * 32
    text = format_comparison(compare_reports(base, new))
    assert f"sha256 {digest[:8]}" in text and "sha256 abababab" in text


def test_cli_compare_refuses_a_json_path_it_cannot_write_before_reading_the_reports(
    tmp_path, capsys
):
    """`compare --json` naming a folder, or a path under a file, is refused (even with
    --overwrite) before the reports are read; bad reports are refused with exit code 2."""
    base, new = tmp_path / "missing_base.json", tmp_path / "missing_new.json"
    (tmp_path / "folder").mkdir()
    blocker = tmp_path / "afile"
    blocker.write_text("a file")
    cases = (
        (tmp_path / "folder", f"--json {tmp_path / 'folder'}: a folder, not a file"),
        (blocker / "sub.json", f"--json {blocker / 'sub.json'}: {blocker} is a file, not a folder"),
    )
    for out, message in cases:
        assert cli.main(["compare", str(base), str(new), "--json", str(out), "--overwrite"]) == 2
        err = capsys.readouterr().err
        assert err.strip() == f"compare failed: {message}", err
        assert "no such report" not in err  # refused before the reports were read
    assert blocker.read_text() == "a file" and not any((tmp_path / "folder").iterdir())
    # --overwrite without --json has nothing to replace: refused, not ignored.
    assert cli.main(["compare", str(base), str(new), "--overwrite"]) == 2
    assert "--overwrite replaces a --json file; it needs --json" in capsys.readouterr().err


def test_a_metric_scored_in_one_report_only_is_left_out_with_a_reason():
    """A report without STOI (older) or DNSMOS (speechmos not installed there) against one
    with it: the metric vanished from the comparison with no reason given."""
    base = _report(["s/a.wav", "s/b.wav"], [1.0, 1.1], [0.5, 0.5])
    new = _report(["s/a.wav", "s/b.wav"], [1.2, 1.3], [0.4, 0.4])
    for utt, stoi in zip(new["utterances"], (0.8, 0.9), strict=True):
        utt["metrics"]["waveglow"]["stoi"] = stoi
    result = compare_reports(base, new)
    assert "stoi" not in result["metrics"] and "pesq_wb" in result["metrics"]
    reason = result["metrics_left_out"]["stoi"]
    assert reason.startswith("scored only in new report (base report has no stoi values")
    assert "stoi" in format_comparison(result)
    # Scored in neither: nothing to say.
    assert "mcd_db" not in compare_reports(base, new)["metrics_left_out"]


def test_evaluate_s_result_with_no_file_scored_is_refused_by_compare_as_a_report_error():
    """`evaluate` returns `"paths": None` when no file could be scored: compare_reports took
    the dict and failed with an AttributeError."""
    nothing = {"model": {}, "settings": {}, "utterances": [], "paths": None}
    other = _report(["s/a.wav"], [1.0], [0.5])
    with pytest.raises(ValueError, match=r"base report: no utterance has scores"):
        compare_reports(nothing, other)
    with pytest.raises(ValueError, match=r"new report: not a keras-waveglow evaluation report"):
        compare_reports(other, {"utterances": "none"})
    # Malformed dicts and other objects: ValueErrors too (AttributeError, TypeError before).
    with pytest.raises(ValueError, match=r"base report: malformed report: 'paths' must be"):
        compare_reports({"utterances": [], "paths": "x.json"}, other)
    with pytest.raises(
        ValueError, match=r"new: a report dict, report.json or its folder; got list"
    ):
        compare_reports(other, ["not", "a", "dict"])
