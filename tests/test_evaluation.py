"""Evaluation: metrics against reference values, Griffin-Lim, the report, the evaluate CLI."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_waveglow import cli, evaluation
from keras_waveglow.audio import load_audio, mel_spectrogram
from keras_waveglow.evaluation import (
    METRIC_BOUNDS,
    METRICS,
    confidence_interval,
    evaluate,
    f0_metrics,
    griffin_lim,
    log_mel_l1,
    mel_cepstral_distortion,
    multi_resolution_stft_distance,
    pesq_wb,
    render_report,
)
from tests import vocode_helpers

DATA = vocode_helpers.DATA
SR = 16000
MEL_CONFIG = {
    "sample_rate": SR,
    "n_fft": 1024,
    "hop_length": 256,
    "win_length": 1024,
    "n_mels": 80,
    "fmin": 0.0,
    "fmax": 8000.0,
}


@pytest.fixture(scope="module")
def speech():
    """The first second of two bundled ARCTIC utterances (different speakers), 16 kHz."""
    slt, _ = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    awb, _ = load_audio(DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav", SR)
    return slt[:SR], awb[:SR]


def _harmonic(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    return sum(0.2 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 6)).astype("float32")


def _noise(std: float, seed: int = 0) -> np.ndarray:
    return (std * np.random.default_rng(seed).standard_normal(SR)).astype("float32")


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def test_confidence_interval_clipped_to_metric_bounds():
    free = confidence_interval([0.9, 1.0])  # t(1) is wide: 0.95 +- 12.706 * 0.0707 / sqrt(2)
    assert free["high"] > 1.0 and free["low"] < 0.9
    clipped = confidence_interval([0.9, 1.0], bounds=METRIC_BOUNDS["vuv_f1"])
    assert clipped["high"] == 1.0
    assert clipped["low"] == pytest.approx(free["low"])  # inside [0, 1]: unchanged
    assert clipped["mean"] == free["mean"]
    assert set(METRIC_BOUNDS) == set(METRICS)


def test_confidence_interval_is_student_t():
    summary = confidence_interval([1, 2, 3, 4, None, 5, float("nan")])
    # t(0.975, 4) = 2.7764451; s = sqrt(2.5); half-width = t * s / sqrt(5).
    half = 2.7764451 * np.sqrt(2.5) / np.sqrt(5)
    assert summary["n"] == 5 and summary["mean"] == pytest.approx(3.0)
    assert summary["low"] == pytest.approx(3 - half, abs=1e-6)
    assert summary["high"] == pytest.approx(3 + half, abs=1e-6)
    assert confidence_interval([2.0]) == {"mean": 2.0, "low": None, "high": None, "n": 1}
    assert confidence_interval([])["mean"] is None


def test_spectral_distances_against_exact_values():
    x = _noise(0.1)
    assert multi_resolution_stft_distance(x, x) == 0.0
    # Doubling: spectral convergence ||S - 2S|| / ||S|| = 1, log distance log 2 in every bin.
    assert multi_resolution_stft_distance(x, 2 * x) == pytest.approx(1 + np.log(2), abs=1e-4)
    assert log_mel_l1(x, x, MEL_CONFIG) == 0.0
    mel = np.asarray(mel_spectrogram(x, **MEL_CONFIG))
    assert mel.min() > np.log(1e-5) + 1.0  # every band above the floor, so no clamping
    # The log-mel of 2x is log 2 above that of x; float32 logs: 1e-5.
    assert log_mel_l1(x, 2 * x, MEL_CONFIG) == pytest.approx(np.log(2), abs=1e-5)


def _parallel_wavegan_mr_stft(reference, degraded, resolutions) -> float:
    """Parallel WaveGAN's MultiResolutionSTFTLoss (spectral convergence + log-STFT magnitude,
    `sqrt(clamp(re^2 + im^2, min=1e-7))`), written out with NumPy frames and `rfft` (periodic
    Hann window centred in n_fft, centred frames zero-padded as `librosa.stft` pads them)."""
    total = 0.0
    for n_fft, hop, window in resolutions:
        hann = np.zeros(n_fft)
        left = (n_fft - window) // 2
        hann[left : left + window] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
        mags = []
        for audio in (reference, degraded):
            padded = np.pad(audio.astype(np.float64), n_fft // 2)
            frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
            spectrum = np.fft.rfft(frames * hann, axis=1)
            mags.append(np.sqrt(np.maximum(spectrum.real**2 + spectrum.imag**2, 1e-7)))
        ref, deg = mags
        total += np.linalg.norm(ref - deg) / np.linalg.norm(ref)
        total += np.mean(np.abs(np.log(ref) - np.log(deg)))
    return total / len(resolutions)


def test_mr_stft_floors_the_power_as_parallel_wavegan_does():
    """The floor is on |STFT|^2 (1e-7), not on |STFT|: near-silent bins all sit at it.

    With the magnitude floored at 1e-7, a 16-bit copy of an ARCTIC recording scored about 1.5
    (its empty band above 8 kHz, quantisation noise against digital zeros, dominated the log
    term), worse than Griffin-Lim's 0.85 and 0.93.
    """
    from keras_waveglow.losses import MR_STFT_RESOLUTIONS

    rate = 22050  # the bundled model's rate, as `evaluate` would load them
    config = {**MEL_CONFIG, "sample_rate": rate}
    rng = np.random.default_rng(0)
    for k, name in enumerate(
        ("cmu_us_awb_arctic/wav/arctic_a0007", "cmu_us_slt_arctic/wav/arctic_a0009")
    ):
        reference, _ = load_audio(DATA / f"{name}.wav", rate)
        pcm16 = (np.round(reference * 32767) / 32767).astype("float32")
        # White noise 81 dB below the speech: inaudible, so it must cost (almost) nothing.
        quiet = reference + np.std(reference) * 10 ** (-81 / 20) * rng.standard_normal(
            len(reference)
        ).astype("float32")
        mel = np.asarray(mel_spectrogram(reference, **config))
        baseline = griffin_lim(mel, config, seed=k, length=len(reference))
        pcm_score = multi_resolution_stft_distance(reference, pcm16)
        gl_score = multi_resolution_stft_distance(reference, baseline)
        # Measured: PCM copy 0.0088 (awb) / 0.0086 (slt); Griffin-Lim 0.731 / 0.625.
        assert pcm_score < 0.05 and multi_resolution_stft_distance(reference, quiet) < 0.05
        assert 0.4 < gl_score < 1.0 and pcm_score < gl_score / 20
        # The same value as Parallel WaveGAN's loss, written out independently.
        for degraded in (pcm16, baseline):
            expected = _parallel_wavegan_mr_stft(reference, degraded, MR_STFT_RESOLUTIONS)
            assert multi_resolution_stft_distance(reference, degraded) == pytest.approx(
                expected, rel=1e-5
            )
    assert evaluation.MR_STFT_FLOOR == "power 1e-7"


def test_scores_of_non_finite_audio_are_refused(speech):
    slt, _ = speech
    broken = slt.copy()
    broken[100] = np.nan
    broken[200] = np.inf
    with pytest.raises(ValueError, match=r"degraded audio is not finite \(1 NaN and 1 infinite "):
        evaluation.score_against_reference(
            slt, broken, SR, MEL_CONFIG, ["log_mel_l1", "f0_rmse_cents"]
        )
    with pytest.raises(ValueError, match=r"reference audio is not finite \(1 NaN of 16000"):
        evaluation.score_against_reference(
            np.where(np.arange(SR) == 5, np.nan, slt), slt, SR, MEL_CONFIG
        )
    scores, failures = evaluation.score_against_reference(slt, slt, SR, MEL_CONFIG, ["log_mel_l1"])
    assert scores == {"log_mel_l1": 0.0} and failures == {}
    # The pitch names each ask for themselves: vuv_f1 alone gave nothing, f0_rmse_cents all
    # three; a name that is no metric was ignored.
    scores, _ = evaluation.score_against_reference(slt, slt, SR, MEL_CONFIG, ["vuv_f1"])
    assert scores == {"vuv_f1": 1.0}
    scores, _ = evaluation.score_against_reference(slt, slt, SR, MEL_CONFIG, ["gpe", "mr_stft"])
    assert sorted(scores) == ["gpe", "mr_stft"]
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['bogus'\]"):
        evaluation.score_against_reference(slt, slt, SR, MEL_CONFIG, ["bogus"])


def test_mcd_pairs_lengths_as_every_metric(speech):
    """MCD scored the output's extra frames, and an output missing its end only over what it
    had (a missing end scored nearly 0): now at the reference's length,
    the rest scored as silence, as `_pair` does for every other metric."""
    slt, _ = speech
    longer = np.concatenate([slt, 0.1 * np.ones(255, np.float32)])
    assert mel_cepstral_distortion(slt, longer, SR) == 0.0
    cut = slt[: len(slt) // 2]
    for align in (True, False):
        padded = np.pad(cut, (0, len(slt) - len(cut)))
        assert mel_cepstral_distortion(slt, cut, SR, align=align) == mel_cepstral_distortion(
            slt, padded, SR, align=align
        )
        assert mel_cepstral_distortion(slt, cut, SR, align=align) > 1.0


def test_mcd_and_mr_stft_of_a_recording_below_the_model_s_rate_leave_out_the_empty_band(
    speech,
):
    """A 16 kHz recording resampled to 22.05 kHz is empty above 8 kHz. Noise added only there
    dominated MCD and MR-STFT over the whole band; at the recording's own rate (both signals
    resampled to it, `source_rate`) it is gone, and the scores are those of the 16 kHz
    signals themselves."""
    import soxr
    from scipy import signal

    slt, _ = speech
    high = 22050
    reference = soxr.resample(slt, SR, high, quality="HQ").astype(np.float32)
    noise = np.random.default_rng(0).standard_normal(len(reference))
    band = signal.butter(8, [8600, 10800], "bandpass", fs=high, output="sos")
    degraded = reference + 0.02 * signal.sosfiltfilt(band, noise).astype(np.float32)
    config = {**MEL_CONFIG, "sample_rate": high}
    names = ["mr_stft", "mcd_db", "log_mel_l1"]
    full, _ = evaluation.score_against_reference(reference, degraded, high, config, names)
    limited, failures = evaluation.score_against_reference(
        reference, degraded, high, config, names, source_rate=SR
    )
    assert failures == {}
    assert full["mcd_db"] > 20.0 and limited["mcd_db"] < 1.0
    assert full["mr_stft"] > 1.0 and limited["mr_stft"] < 0.05
    assert limited["log_mel_l1"] == full["log_mel_l1"]  # the mel stops at fmax anyway
    down = [evaluation._resample(x, high, SR) for x in (reference, degraded)]
    assert limited["mcd_db"] == mel_cepstral_distortion(*down, SR)
    assert limited["mr_stft"] == multi_resolution_stft_distance(*down)
    # A recording at or above the model's rate, or of unknown rate, is scored as before.
    for source_rate in (high, 44100, None):
        scores, _ = evaluation.score_against_reference(
            reference, degraded, high, config, names, source_rate=source_rate
        )
        assert scores == full
    assert evaluation.band_limited_rate(high, SR) == SR
    assert evaluation.band_limited_rate(high, 44100) is None


def test_mel_cepstral_distortion(speech):
    slt, awb = speech
    assert mel_cepstral_distortion(slt, slt, SR) == 0.0
    # c0 is excluded, so a pure gain change (which only moves c0) costs nothing.
    assert mel_cepstral_distortion(slt, 0.5 * slt, SR) < 0.01
    # A 10 ms delay: DTW alignment removes most of it, frame-by-frame comparison does not.
    delayed = np.concatenate([np.zeros(160, "float32"), slt])[:SR]
    aligned = mel_cepstral_distortion(slt, delayed, SR)
    assert aligned < 1.0 < 3.0 < mel_cepstral_distortion(slt, delayed, SR, align=False)
    assert mel_cepstral_distortion(slt, awb, SR) > 5.0  # another speaker and sentence


def test_f0_metrics_on_harmonic_tones():
    near = f0_metrics(_harmonic(200), _harmonic(210), SR)
    # 1200 log2(210 / 200) = 84.47 cents; DIO/StoneMask is within a few cents on clean tones.
    assert near["f0_rmse_cents"] == pytest.approx(84.47, abs=3.0)
    assert near["gpe"] == 0.0 and near["vuv_f1"] > 0.95
    far = f0_metrics(_harmonic(200), _harmonic(300), SR)
    assert far["gpe"] > 0.95  # a fifth up: every frame is a gross error
    unvoiced = f0_metrics(_harmonic(200), _noise(0.1), SR)
    # DIO calls a few noise frames voiced; the voicing F1 still collapses.
    assert unvoiced["vuv_f1"] < 0.5


def test_the_pyin_fallback_voices_speech_near_pyworld_and_little_noise(speech, monkeypatch):
    """Without pyworld the F0 contour comes from librosa's pyin, with ~90 ms frames: its
    voicing of a second of ARCTIC speech at 22.05 kHz agrees with DIO's (F1 0.87, 0.78 with
    the 186 ms frames used before) and it voices a tenth of white-noise frames (a quarter
    before): `benchmarks/results/evaluation_baselines_2026-12-06.jsonl`."""
    import soxr

    slt, _ = speech
    rate = 22050
    slt = soxr.resample(slt, SR, rate).astype("float32")
    noise = (0.1 * np.random.default_rng(0).standard_normal(rate)).astype("float32")
    world = evaluation.f0_contour(slt, rate) > 0
    real = evaluation._try_import
    monkeypatch.setattr(
        evaluation, "_try_import", lambda name: None if name == "pyworld" else real(name)
    )
    pyin = evaluation.f0_contour(slt, rate) > 0
    n = min(len(world), len(pyin))
    agreement = 2 * np.sum(world[:n] & pyin[:n]) / (world[:n].sum() + pyin[:n].sum())
    assert agreement > 0.83, agreement
    assert np.mean(evaluation.f0_contour(noise, rate) > 0) < 0.18


def test_pesq_wideband(speech):
    slt, _ = speech
    assert pesq_wb(slt, slt, SR) == pytest.approx(4.64, abs=0.01)  # P.862.2's ceiling
    noisy = slt + _noise(0.02)
    assert pesq_wb(slt, noisy, SR) < 2.0
    # Another rate is resampled to 16 kHz first.
    import soxr

    slt_22k = soxr.resample(slt, SR, 22050).astype("float32")
    assert pesq_wb(slt_22k, slt_22k, 22050) == pytest.approx(4.64, abs=0.01)
    # An output that is all zeros (a collapsed model) is named, where pesq failed with
    # "cannot convert float NaN to integer".
    with pytest.raises(ValueError, match=r"degraded audio is silent \(every sample 0\)"):
        pesq_wb(slt, np.zeros_like(slt), SR)


def test_stoi_is_pystoi_s_on_the_paired_signals(speech, monkeypatch):
    """STOI (the eval extra's pystoi, which was installed but never used): 1 for the
    reference itself, pystoi's own value on the paired signals, lower with noise; skipped
    with its reason without pystoi."""
    reference_stoi = pytest.importorskip("pystoi").stoi

    slt, _ = speech
    assert evaluation.stoi(slt, slt, SR) == pytest.approx(1.0, abs=1e-6)
    noisy = slt + _noise(0.05)
    want = reference_stoi(slt.astype(np.float64), noisy.astype(np.float64), SR)
    assert evaluation.stoi(slt, noisy, SR) == pytest.approx(want, abs=1e-9) and want < 0.95
    # A longer output is cropped to the reference, as for every metric.
    longer = np.concatenate([noisy, np.ones(500, "float32")])
    assert evaluation.stoi(slt, longer, SR) == pytest.approx(want, abs=1e-9)
    scores, failures = evaluation.score_against_reference(slt, noisy, SR, MEL_CONFIG, ["stoi"])
    assert scores == {"stoi": pytest.approx(want, abs=1e-9)} and failures == {}
    # Too little speech: pystoi warns and returns 1e-5, which was averaged in as a score; it
    # is a failure of the file's metric now, with the reason.
    short = slt[: SR // 5]
    with pytest.raises(ValueError, match="too little speech for STOI"):
        evaluation.stoi(short, short, SR)
    scores, failures = evaluation.score_against_reference(short, short, SR, MEL_CONFIG, ["stoi"])
    assert scores == {} and "too little speech for STOI" in failures["stoi"]
    monkeypatch.setitem(sys.modules, "pystoi", None)
    names, skipped = evaluation.available_metrics()
    assert "stoi" not in names and "'pystoi' package is not installed" in skipped["stoi"]


def test_a_short_output_is_scored_as_missing_audio_not_as_the_reference_cut_short(speech):
    """The reference sets the length: an output a quarter second short is zero-padded (its
    missing end scores as silence), where cropping the reference scored it as perfect; a
    longer one (a vocoder's F * hop samples) is cropped as before."""
    slt, _ = speech
    short = slt[: -SR // 4]
    assert pesq_wb(slt, short, SR) < 4.0 < pesq_wb(slt, slt, SR)
    assert log_mel_l1(slt, short, MEL_CONFIG) > 0.5  # a quarter of the frames at the floor
    longer = np.concatenate([slt, np.ones(300, "float32")])
    assert log_mel_l1(slt, longer, MEL_CONFIG) == 0.0
    assert multi_resolution_stft_distance(slt, longer) == 0.0


def test_griffin_lim_baseline(speech):
    slt, _ = speech
    mel = np.asarray(mel_spectrogram(slt, **MEL_CONFIG))
    first = griffin_lim(mel, MEL_CONFIG, seed=1, length=len(slt))
    assert first.shape == slt.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, griffin_lim(mel, MEL_CONFIG, seed=1, length=len(slt)))
    assert np.abs(first - griffin_lim(mel, MEL_CONFIG, seed=2, length=len(slt))).max() > 1e-3
    import inspect

    assert inspect.signature(griffin_lim).parameters["n_iter"].default == 32
    # It reproduces the mel far better than noise of the same loudness does.
    noise = _noise(float(np.std(slt)))
    assert log_mel_l1(slt, first, MEL_CONFIG) < 0.5 * log_mel_l1(slt, noise, MEL_CONFIG)
    with pytest.raises(ValueError, match=r"\(frames, 80\)"):
        griffin_lim(mel.T, MEL_CONFIG)


def test_dnsmos_adapter(monkeypatch):
    calls = []

    def run(audio, sr):
        calls.append((len(audio), sr, float(np.abs(audio).max())))
        return {"sig_mos": 3.1, "bak_mos": 3.9, "ovrl_mos": 2.8, "p808_mos": 3.3}

    package = types.ModuleType("speechmos")
    package.dnsmos = types.SimpleNamespace(run=run)
    monkeypatch.setitem(sys.modules, "speechmos", package)
    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))
    names, skipped = evaluation.available_metrics()
    assert "dnsmos_ovrl" in names and "dnsmos_ovrl" not in skipped
    loud = 1.5 * np.sin(2 * np.pi * 200 * np.arange(22050) / 22050)  # 1 s at 22.05 kHz
    scores = evaluation.dnsmos(loud.astype("float32"), 22050)
    assert scores == {"dnsmos_sig": 3.1, "dnsmos_bak": 3.9, "dnsmos_ovrl": 2.8}
    # DNSMOS runs at 16 kHz on audio within [-1, 1].
    assert calls[0][0] == SR and calls[0][1] == SR and calls[0][2] <= 1.0


def test_missing_metric_packages_are_skipped_not_fatal(tmp_path, monkeypatch, speech, caplog):
    monkeypatch.setitem(sys.modules, "pesq", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "pysptk", None)
    monkeypatch.setitem(sys.modules, "speechmos", None)  # onnxruntime present: not blamed
    monkeypatch.setitem(sys.modules, "onnxruntime", types.ModuleType("onnxruntime"))
    names, skipped = evaluation.available_metrics()
    assert "pesq_wb" not in names and "'pesq'" in skipped["pesq_wb"]
    assert "mcd_db" not in names and "'pysptk'" in skipped["mcd_db"]
    assert skipped["dnsmos_ovrl"].startswith("'speechmos' is not installed")
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "utt.wav", speech[0], SR)
    (data / "broken.wav").write_bytes(b"RIFF\x00\x00 not a wav file")
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.evaluation"):
        report = evaluate(
            vocode_helpers.tiny_model(), data, tmp_path / "report", seed=0, progress=False
        )
    # One line per missing package, naming every metric it takes away.
    notices = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert sorted(notices) == sorted(
        [
            f"skipped pesq_wb: {skipped['pesq_wb']}",
            f"skipped mcd_db: {skipped['mcd_db']}",
            f"skipped dnsmos_sig, dnsmos_bak, dnsmos_ovrl: {skipped['dnsmos_sig']}",
        ]
    )
    assert set(report["skipped_metrics"]) >= {"pesq_wb", "mcd_db"}
    assert [Path(p).name for p, _ in report["failed_files"]] == ["broken.wav"]
    waveglow = report["systems"]["waveglow"]
    assert "pesq_wb" not in waveglow and "mcd_db" not in waveglow
    assert waveglow["mr_stft"]["n"] == 1 and waveglow["mr_stft"]["mean"] > 0
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert saved["skipped_metrics"]["pesq_wb"] == skipped["pesq_wb"]
    assert "pesq_wb skipped" in (tmp_path / "report" / "index.html").read_text()


def test_inputs_are_files_folders_and_prepare_file_lists(tmp_path):
    """`evaluate --data` takes what `prepare` writes (eval.txt) as well as files and folders."""
    for name in ("a/x.wav", "a/y.flac", "b/z.wav"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "a" / "notes.md").write_text("not audio")
    (tmp_path / "eval.txt").write_text("b/z.wav\na/x.wav\n")
    found = evaluation._find_audio([tmp_path / "eval.txt", tmp_path / "a", tmp_path / "b/z.wav"])
    relative = [p.relative_to(tmp_path).as_posix() for p in found]
    assert relative == ["b/z.wav", "a/x.wav", "a/x.wav", "a/y.flac", "b/z.wav"]
    with pytest.raises(FileNotFoundError, match=r"missing\.txt: no such"):
        evaluation._find_audio(tmp_path / "missing.txt")


def _utterance(source: str, pesq: float | None) -> dict:
    metrics = {"pesq_wb": pesq, "log_mel_l1": 1.0}
    return {"source": source, "metrics": {"waveglow": metrics, "griffin_lim": {}}}


def test_summaries_by_folder_name_speakers_below_the_shared_folder():
    utterances = [
        _utterance("klettres/pt_BR/a.wav", 1.0),
        _utterance("klettres/de/a.wav", 2.0),
        _utterance("klettres/pt_BR/b.wav", 3.0),
        _utterance("klettres/pt_BR/c.wav", None),  # a metric that failed on one file
    ]
    folders = evaluation.summarize_by_folder({"utterances": utterances})
    assert list(folders) == ["de", "pt_BR"]
    assert folders["de"]["n"] == 1 and folders["pt_BR"]["n"] == 3
    pesq = folders["pt_BR"]["systems"]["waveglow"]["pesq_wb"]
    assert pesq["n"] == 2 and pesq["mean"] == 2.0
    # 2 -/+ t(0.975, 1) * std / sqrt(2) = 2 -/+ 12.706, clipped to PESQ's range.
    assert (
        pesq["low"] == METRIC_BOUNDS["pesq_wb"][0] and pesq["high"] == METRIC_BOUNDS["pesq_wb"][1]
    )
    assert folders["pt_BR"]["systems"]["waveglow"]["log_mel_l1"]["n"] == 3
    assert "pesq_wb" not in folders["de"]["systems"]["griffin_lim"]
    # One folder: named by itself; absolute paths; folders at different depths.
    assert list(evaluation.summarize_by_folder(utterances[:1])) == ["pt_BR"]
    deep = [_utterance("/d/x/a.wav", 1.0), _utterance("/d/x/y/b.wav", 1.0)]
    assert list(evaluation.summarize_by_folder(deep)) == [".", "y"]
    mixed = [_utterance("/abs/a.wav", 1.0), _utterance("rel/b.wav", 1.0)]
    assert list(evaluation.summarize_by_folder(mixed)) == ["/abs", "rel"]
    # Files in the shared root beside files in a subfolder: the root is ".", not "".
    rooted = [_utterance("a.wav", 1.0), _utterance("sub/b.wav", 1.0)]
    assert list(evaluation.summarize_by_folder(rooted)) == [".", "sub"]
    assert evaluation.summarize_by_folder([]) == {}


def _scored(source: str, waveglow: float | None, griffin_lim: float | None) -> dict:
    return {
        "source": source,
        "metrics": {
            "waveglow": {"pesq_wb": waveglow, "log_mel_l1": 0.5, "vuv_f1": 0.9},
            "griffin_lim": {"pesq_wb": griffin_lim, "log_mel_l1": 0.25, "vuv_f1": 0.8},
        },
    }


def test_the_printed_summary_says_when_the_systems_means_cover_different_files():
    metrics = {n: {"label": label, "higher_is_better": up} for n, (label, up) in METRICS.items()}

    def summary(utterances):
        report = {"metrics": metrics, "utterances": utterances}
        report["systems"] = evaluation._system_summaries(utterances)
        return evaluation.format_summary(report).splitlines()

    whole = summary([_scored("a.wav", 2.0, 3.0), _scored("b.wav", 1.0, 3.5)])
    assert whole[1].split() == ["WaveGlow", "2", "1.50", "0.50", "0.90"]
    assert whole[2].split() == ["Griffin-Lim", "2", "3.25", "0.25", "0.80"]
    assert len(whole) == 3  # the same files behind every mean: nothing to add
    # WaveGlow's PESQ failed on its worst file (a silent output): its mean over the other two
    # is not comparable with Griffin-Lim's over three, and the table says so.
    lines = summary(
        [_scored("a.wav", 3.0, 2.0), _scored("b.wav", 2.0, 2.5), _scored("c.wav", None, 3.0)]
    )
    assert lines[1].split()[:4] == ["WaveGlow", "3", "2.50", "(n=2)"]
    assert lines[2].split()[:3] == ["Griffin-Lim", "3", "2.50"] and "(n=" not in lines[2]
    assert lines[3:] == [
        "PESQ (wb): WaveGlow scored on 2 of 3 files, Griffin-Lim on 3 (see report.json).",
        "  on the 2 files both were scored on: WaveGlow 2.50, Griffin-Lim 2.25",
    ]
    # No WaveGlow PESQ at all (every output non-finite, a diverged model): the column stays,
    # Griffin-Lim's figures with it (it was dropped for both systems).
    lines = summary([_scored("a.wav", None, 3.0), _scored("b.wav", None, 3.5)])
    assert lines[1].split() == ["WaveGlow", "2", "-", "0.50", "0.90"]
    assert lines[2].split() == ["Griffin-Lim", "2", "3.25", "0.25", "0.80"]
    assert (
        lines[3]
        == "PESQ (wb): WaveGlow scored on 0 of 2 files, Griffin-Lim on 2 (see report.json)."
    )


# --------------------------------------------------------------------------------------------
# keras-waveglow evaluate and the HTML page in a browser
# --------------------------------------------------------------------------------------------


def _require_chromium() -> str:
    chromium = evaluation.find_chromium()
    if chromium is None:  # `make install` installs Debian's chromium; CI must not skip this
        message = "no Chromium installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return chromium


def test_cli_evaluate_on_the_bundled_sample(tmp_path, capsys):
    out = tmp_path / "report"
    model = vocode_helpers.tiny_model_file()
    argv = ["evaluate", "--model", str(model), "--data", str(DATA), "--out", str(out)]
    assert cli.main([*argv, "--no-progress"]) == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert [u["id"] for u in report["utterances"]] == ["arctic_a0007", "arctic_a0009"]
    # The report names the file the weights came from, by path and content.
    assert report["model"]["weights"] == str(model)
    assert report["model"]["weights_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    names, _ = evaluation.available_metrics()
    for system in ("griffin_lim", "waveglow"):
        for name in names:
            if name.startswith("dnsmos"):
                continue
            summary = report["systems"][system][name]
            assert summary["n"] == 2 and summary["low"] <= summary["mean"] <= summary["high"]
    # Griffin-Lim from the true mel beats a perturbed random model on every distance.
    gl, wg = report["systems"]["griffin_lim"], report["systems"]["waveglow"]
    assert gl["log_mel_l1"]["mean"] < wg["log_mel_l1"]["mean"]
    assert gl["pesq_wb"]["mean"] > wg["pesq_wb"]["mean"]
    for utt in report["utterances"]:
        # The recording's own format, before resampling (ARCTIC: 16 kHz mono) is recorded.
        assert (utt["source_sample_rate"], utt["source_channels"]) == (16000, 1)
        for system in ("ground_truth", "griffin_lim", "waveglow"):
            audio, rate = sf.read(out / utt["files"][system]["audio"])
            assert rate == SR and len(audio) == round(utt["duration_s"] * SR)
            assert (out / utt["files"][system]["mel_image"]).stat().st_size > 1000

    # Per folder (one speaker each here): each folder's mean is its one utterance's value.
    by_source = {u["source"].split("/")[-3]: u for u in report["utterances"]}
    assert sorted(report["by_folder"]) == ["cmu_us_awb_arctic/wav", "cmu_us_slt_arctic/wav"]
    for folder, part in report["by_folder"].items():
        utt = by_source[folder.split("/")[0]]
        assert part["n"] == 1
        for system in ("griffin_lim", "waveglow"):
            for name, summary in part["systems"][system].items():
                assert summary["n"] == 1
                assert summary["mean"] == pytest.approx(utt["metrics"][system][name], rel=1e-12)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["files", "PESQ", "(wb)", "log-mel", "L1", "V/UV", "F1"]
    wg = report["systems"]["waveglow"]
    assert printed[1].split() == [
        "WaveGlow",
        "2",
        *(f"{wg[n]['mean']:.2f}" for n in ("pesq_wb", "log_mel_l1", "vuv_f1")),
    ]
    assert "cmu_us_awb_arctic/wav:" in printed and "cmu_us_slt_arctic/wav:" in printed

    # No silent overwrite.
    before = (out / "report.json").read_bytes()
    assert cli.main([*argv, "--no-progress"]) == 2  # refused before any work, as vocode's
    assert "already holds a report" in capsys.readouterr().err
    assert (out / "report.json").read_bytes() == before

    # The page in headless Chromium: table and players render, media load, console is quiet.
    chromium = _require_chromium()
    shot = tmp_path / "report.png"
    page = render_report(out / "index.html", screenshot=shot, chromium=chromium)
    assert page["console"] == []
    assert page["media_status"] == "ok"
    dom = page["dom"]
    assert dom.count("<audio") == 6 and dom.count("<img") == 6
    assert 'id="metrics"' in dom and "PESQ (wb)" in dom and "Griffin-Lim" in dom
    assert 'id="by-folder"' in dom and "cmu_us_awb_arctic/wav" in dom
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1400, 1280)
    assert pixels[..., :3].std() > 0.05  # not a blank page
    target = os.environ.get("KERAS_WAVEGLOW_REPORT_SCREENSHOT")
    if target:  # e.g. docs/report_screenshot.png for the README
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_evaluate_past_bad_files_with_the_report_inside_the_data(tmp_path):
    """A corrupt file is reported and changes nobody's noise; a file too short for PESQ is
    scored without it and says so on the page; a report folder inside the data folder is
    not read back as data on a rerun."""
    model = vocode_helpers.tiny_model_file()
    audio, _ = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    data = tmp_path / "data"
    data.mkdir()
    # A second: enough speech for STOI too (half of it, after pystoi drops the leading
    # silence, is too little: that file's STOI is then not scored).
    sf.write(data / "b_speech.wav", audio[:SR], SR)
    sf.write(data / "c_short.wav", audio[:600], SR)  # > n_fft // 2, too short for PESQ
    out = data / "report"
    with pytest.raises(ValueError, match="max_files must be >= 1"):
        evaluation.evaluate(model, data, out, max_files=0, progress=False)
    clean = evaluation.evaluate(model, data, out, progress=False)
    (data / "a_corrupt.wav").write_bytes(b"RIFF, but not audio")
    again = evaluation.evaluate(model, data, out, overwrite=True, progress=False)
    assert [Path(p).name for p, _ in again["failed_files"]] == ["a_corrupt.wav"]
    assert [u["id"] for u in again["utterances"]] == ["b_speech", "c_short"]  # not report/...
    for before, after in zip(clean["utterances"], again["utterances"], strict=True):
        for system in ("waveglow", "griffin_lim"):  # same noise, same scores (not timings)
            scores = [
                {k: v for k, v in u["metrics"][system].items() if k != "rtf"}
                for u in (before, after)
            ]
            assert scores[0] == scores[1] and len(scores[0]) >= 5
    # A report folder above the data: the data is still found (only its own audio/ is not).
    above = evaluation.evaluate(model, data / "b_speech.wav", tmp_path / "above", progress=False)
    assert [u["id"] for u in above["utterances"]] == ["b_speech"]
    outer = evaluation.evaluate(model, data, data, max_files=2, progress=False)  # a_corrupt, b
    assert [u["id"] for u in outer["utterances"]] == ["b_speech"]
    short = again["utterances"][1]
    if "pesq_wb" in evaluation.available_metrics()[0]:
        assert short["metrics"]["waveglow"].get("pesq_wb") is None
        assert "waveglow/pesq_wb" in short["errors"]
        page = (out / "index.html").read_text()
        assert "not scored</b>: waveglow/pesq_wb" in page
        assert "1 utterance(s) with metrics that could not be computed" in page


def test_evaluate_without_matplotlib_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    """Without the plotting library every file was vocoded and scored, then failed, and
    nothing was written; now one line names the extra to install (exit 2)."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    argv = ["evaluate", "--model", str(tmp_path / "never_loaded.keras"), "--data", "data"]
    assert cli.main([*argv, "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert "matplotlib, which is not installed: pip install 'keras-waveglow[eval]'" in err
    assert not (tmp_path / "report").exists()


def test_evaluate_refuses_bad_settings_first_scores_a_file_once_and_writes_nothing_for_none(
    tmp_path, capsys, caplog
):
    """Bad settings are refused before the report folder is touched (the corrected rerun is
    not blocked); a file given twice is scored once; a silent or corrupt file fails with its
    reason (the path said once, and the file reported once by the CLI: not also by the warning
    evaluate logs); when no file can be scored nothing is written (exit 1)."""
    from keras_waveglow.cli import main

    model = vocode_helpers.tiny_model_file()
    audio, _ = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    speech, silent, corrupt = tmp_path / "speech.wav", tmp_path / "silent.wav", tmp_path / "x.wav"
    sf.write(speech, audio[: SR // 2], SR)
    sf.write(silent, np.zeros(SR // 2, np.float32), SR)
    corrupt.write_bytes(b"RIFF, but not audio")
    out = tmp_path / "report"
    bad_settings = ({"sigma": -1.0}, {"denoiser_strength": float("nan")}, {"griffin_lim_iters": 0})
    for bad in (*bad_settings, {"denoiser_mode": "quiet"}):
        with pytest.raises(ValueError, match="must be"):
            evaluation.evaluate(model, speech, out, progress=False, **bad)
        assert not out.exists(), bad
    report = evaluation.evaluate(
        model, [speech, tmp_path / "." / "speech.wav", silent], out, progress=False
    )
    assert [u["id"] for u in report["utterances"]] == ["speech"]
    assert "denoiser_mode" not in report["settings"]  # off: not a setting of this report
    denoised = evaluation.evaluate(
        model,
        speech,
        tmp_path / "silence",
        denoiser_strength=0.1,
        denoiser_mode="silence",
        progress=False,
    )
    assert denoised["settings"]["denoiser_mode"] == "silence"
    assert report["failed_files"] == [[str(silent), "silent (every sample below one 16-bit step)"]]
    before = (out / "report.json").read_bytes()
    args = ["evaluate", "--model", str(model), "--out", str(out), "--overwrite", "--no-progress"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.evaluation"):
        assert main([*args, "--data", str(silent), str(corrupt)]) == 1
    err = capsys.readouterr().err
    assert "no file could be scored (2 failed); nothing written" in err
    assert f"FAILED {corrupt}: " in err and f"{corrupt}: {corrupt}" not in err
    # What a user sees: stderr and the warnings (printed there too when run from a shell).
    said = err + "".join(f"{r.getMessage()}\n" for r in caplog.records)
    assert said.count(str(corrupt)) == 1 and said.count(str(silent)) == 1, said
    assert said.count("no file could be scored") == 1, said
    # evaluate itself, called from Python, still warns as each file fails.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.evaluation"):
        evaluation.evaluate(model, [corrupt], tmp_path / "lib", progress=False)
    assert any(f"skipping {corrupt}: " in r.getMessage() for r in caplog.records)
    assert not logging.getLogger("keras_waveglow.evaluation").filters
    assert (out / "report.json").read_bytes() == before  # the earlier report is kept
    fresh = tmp_path / "fresh"
    assert main([*args[:-2], "--out", str(fresh), "--data", str(corrupt)]) == 1
    assert not fresh.exists()


def test_a_report_folder_that_is_a_file_or_under_one_is_refused_before_the_model_loads(
    tmp_path, capsys, monkeypatch
):
    """`--out FILE` and `--out FILE/sub`: named, exit 2, before any model is loaded (not an
    errno message after the first file is scored)."""
    from keras_waveglow import inference

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(inference, "load_vocoder", no_model)
    blocker = tmp_path / "good.npy"
    blocker.write_bytes(b"not a folder")
    for out, message in (
        (blocker, f"{blocker}: the report folder is an existing file."),
        (blocker / "sub", f"{blocker / 'sub'}: {blocker} is a file, not a folder."),
    ):
        argv = ["evaluate", "--data", str(DATA), "--out", str(out), "--no-progress"]
        assert cli.main(argv) == 2
        assert f"evaluate failed: {message}" in capsys.readouterr().err
        with pytest.raises(NotADirectoryError, match=re.escape(message)):
            evaluate("tiny", DATA, out, progress=False)
    assert blocker.read_bytes() == b"not a folder"
    # A folder whose audio/ is not a report's (no report.json or index.html): overwrite does
    # not take it (it deleted it), and without overwrite it is not called a report.
    mine = tmp_path / "mine"
    (mine / "audio").mkdir(parents=True)
    (mine / "audio" / "take1.wav").write_bytes(b"RIFF")
    for overwrite in (True, False):
        with pytest.raises(FileExistsError, match=r"audio/ that is not a report's \(no report"):
            evaluate("tiny", DATA, mine, overwrite=overwrite, progress=False)
    assert (mine / "audio" / "take1.wav").read_bytes() == b"RIFF"


def test_an_interrupted_overwrite_leaves_the_old_report_whole(tmp_path, monkeypatch):
    """`overwrite=True` writes the new audio and images aside and swaps them in with the new
    report: a run stopped after its first file keeps the old report and every file it names."""
    data = tmp_path / "data"
    data.mkdir()
    for name, source in (
        ("a.wav", "cmu_us_slt_arctic/wav/arctic_a0009.wav"),
        ("b.wav", "cmu_us_awb_arctic/wav/arctic_a0007.wav"),
    ):
        audio, _ = load_audio(DATA / source, SR)
        sf.write(data / name, audio[: SR // 2], SR)
    out = data / "report"  # inside the data folder: its own audio is not scored
    model = vocode_helpers.tiny_model()
    evaluate(model, data, out, progress=False)

    def snapshot() -> dict[str, bytes]:
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    before = snapshot()
    named = {
        path
        for utt in json.loads(before["report.json"])["utterances"]
        for files in utt["files"].values()
        for path in files.values()
    }
    assert len(named) == 12 and named <= set(before)  # 2 files x 3 systems x (wav, png)

    real_sha256 = evaluation._file_sha256
    calls = []

    def interrupted(path):  # after the first file's audio and images are written
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_sha256(path)

    monkeypatch.setattr(evaluation, "_file_sha256", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate(model, data, out, seed=1, overwrite=True, progress=False)
    assert snapshot() == before  # nothing changed, nothing left behind
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    monkeypatch.setattr(evaluation, "_file_sha256", real_sha256)

    # A failure writing the new report, or moving it in, leaves the old one whole too.
    def disk_full(report):
        raise OSError("No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(evaluation, "report_html", disk_full)
        with pytest.raises(OSError, match="No space left"):
            evaluate(model, data, out, seed=1, overwrite=True, progress=False)
    assert snapshot() == before
    real_replace = evaluation.os.replace

    def failing_move_in(src, dst):  # the third of the four moves into the report folder
        if Path(dst) == out / "index.html" and Path(src).parent.name.startswith(".evaluate-"):
            raise OSError("device busy")
        return real_replace(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(evaluation.os, "replace", failing_move_in)
        with pytest.raises(OSError, match="device busy"):
            evaluate(model, data, out, seed=1, overwrite=True, progress=False)
    assert snapshot() == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []

    # Files the report did not write, put in its audio/ by hand: replacing it would delete
    # them, so it is refused with them named; a report.json that cannot be read, likewise.
    (out / "audio" / "mine.wav").write_bytes(b"RIFF")
    with pytest.raises(FileExistsError, match=r"1 file\(s\) the report did not write \(audio/m"):
        evaluate(model, data, out, seed=1, overwrite=True, progress=False)
    (out / "audio" / "mine.wav").unlink()
    (out / "report.json").write_text("{")
    with pytest.raises(FileExistsError, match=r"report.json cannot be read \(JSONDecodeError\)"):
        evaluate(model, data, out, seed=1, overwrite=True, progress=False)
    (out / "report.json").write_bytes(before["report.json"])
    assert snapshot() == before

    # A run that finishes replaces the report, audio and images, and leaves nothing aside.
    report = evaluate(model, data, out, seed=1, overwrite=True, progress=False)
    assert [u["id"] for u in report["utterances"]] == ["a", "b"]
    after = snapshot()
    assert set(after) == set(before) and after["report.json"] != before["report.json"]
    assert after["audio/a_waveglow.wav"] != before["audio/a_waveglow.wav"]  # the new seed's
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_folder_an_interrupted_evaluate_left_is_named_and_not_scored(tmp_path, caplog):
    data = tmp_path / "data"
    (data / "report" / ".evaluate-x1" / "audio").mkdir(parents=True)
    audio, _ = load_audio(DATA / "cmu_us_slt_arctic/wav/arctic_a0009.wav", SR)
    sf.write(data / "a.wav", audio[: SR // 2], SR)
    sf.write(data / "report" / ".evaluate-x1" / "audio" / "a_waveglow.wav", audio[:SR], SR)
    with caplog.at_level(logging.WARNING, logger=evaluation.__name__):
        report = evaluate(vocode_helpers.tiny_model(), data, data / "report", progress=False)
    assert [u["id"] for u in report["utterances"]] == ["a"]
    assert "1 folder(s) an interrupted evaluate left (.evaluate-x1)" in caplog.text


def test_another_report_inside_the_data_is_not_scored_as_data(tmp_path, caplog):
    """`--out data/eval_v1`, then `--out data/eval_v2`: the second run scored the first
    report's ground-truth, Griffin-Lim and WaveGlow copies as data, silently."""
    model = vocode_helpers.tiny_model()
    audio, rate = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "utt.wav", audio[: SR // 2], rate)
    evaluate(model, data, data / "eval_v1", progress=False)
    assert (data / "eval_v1" / "audio" / "utt_ground_truth.wav").is_file()
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.evaluation"):
        second = evaluate(model, data, data / "eval_v2", progress=False)
    assert [u["id"] for u in second["utterances"]] == ["utt"]
    assert f"left out 3 file(s) under the report folder {data / 'eval_v1'}" in caplog.text
    # A folder merely named audio/ is data: with no report beside it, beside an index.html
    # (a demo page) or a report.json that is not an evaluation report (a corpus' metadata),
    # or where the folder named as data is the report itself.
    (data / "speaker" / "audio").mkdir(parents=True)
    sf.write(data / "speaker" / "audio" / "x.wav", audio[: SR // 2], rate)
    site = data / "site"
    (site / "audio").mkdir(parents=True)
    (site / "index.html").write_text("<audio src='audio/s_waveglow.wav'>")
    (site / "report.json").write_text('{"speakers": 1}')
    sf.write(site / "audio" / "s_waveglow.wav", audio[: SR // 2], rate)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.evaluation"):
        third = evaluate(model, data, tmp_path / "outside", progress=False, max_files=4)
    assert sorted(u["id"] for u in third["utterances"]) == ["s_waveglow", "utt", "x"]
    assert caplog.text.count("left out 3 file(s) under the report folder") == 2  # v1, v2
    own = evaluate(model, data / "eval_v1", tmp_path / "own", progress=False)
    assert len(own["utterances"]) == 3  # named as the data: its copies are what is asked for
    shutil.copytree(data / "eval_v1", tmp_path / "reports" / "eval_v1")
    with pytest.raises(ValueError, match=r"no audio files .*3 file\(s\) under the report folder"):
        evaluate(model, tmp_path / "reports", tmp_path / "none", progress=False)


def test_an_80_frame_clip_is_evaluated_without_a_layout_warning(tmp_path, recwarn):
    """evaluate's own mel of a clip of exactly n_mels frames warned that it might be
    transposed (the library's own (frames, n_mels) mel)."""
    model = vocode_helpers.tiny_model()
    audio, rate = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    hop = model.hop_length
    clip = audio[SR : SR + 80 * hop - 1]  # centred frames: len // hop + 1 = 80
    assert mel_spectrogram(clip, **model.mel_config).shape == (80, model.n_mel_channels)
    sf.write(tmp_path / "clip.wav", clip, rate)
    report = evaluate(model, tmp_path / "clip.wav", tmp_path / "out", progress=False)
    assert len(report["utterances"]) == 1
    from keras_waveglow.inference import MelInputWarning

    assert not [w for w in recwarn if issubclass(w.category, MelInputWarning)]


def test_a_file_name_too_long_for_the_report_s_copies_is_scored(tmp_path):
    """A 240-character stem made "<id>_ground_truth.wav" longer than 255 bytes: the save failed,
    then its cleanup raised the same error and the run stopped, losing every file scored."""
    model = vocode_helpers.tiny_model()
    audio, rate = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a.wav", audio[: SR // 2], rate)
    long = "L" * 240
    sf.write(data / f"{long}.wav", audio[SR // 2 : SR], rate)
    report = evaluate(model, data, tmp_path / "out", progress=False)
    ids = sorted(u["id"] for u in report["utterances"])
    digest = hashlib.sha256(long.encode()).hexdigest()[:8]
    assert ids == [f"{'L' * 100}-{digest}", "a"] and report["failed_files"] == []
    assert (tmp_path / "out" / "audio" / f"{'L' * 100}-{digest}_ground_truth.wav").is_file()


def test_a_file_that_fails_after_loading_is_reported_and_the_run_goes_on(tmp_path, monkeypatch):
    """An error while one file is vocoded, scored or saved (out of memory, a backend error)
    skipped the rest of the run and lost every file scored: now it is that file's failure,
    named in `failed_files`, and nothing it wrote is left in the report."""
    real_save = evaluation._save_mel_image

    def failing(mel, path, *args, **kwargs):
        if Path(path).name == "b_waveglow.png":  # after b's other files were written
            raise MemoryError("simulated: out of memory")
        return real_save(mel, path, *args, **kwargs)

    monkeypatch.setattr(evaluation, "_save_mel_image", failing)
    data = tmp_path / "data"
    data.mkdir()
    audio, rate = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    for k, name in enumerate(("a.wav", "b.wav", "c.wav")):
        sf.write(data / name, audio[k * SR // 2 : (k + 1) * SR // 2], rate)
    out = tmp_path / "report"
    report = evaluate(vocode_helpers.tiny_model(), data, out, progress=False)
    assert [u["id"] for u in report["utterances"]] == ["a", "c"]
    assert [list(f) for f in report["failed_files"]] == [
        [str(data / "b.wav"), "MemoryError while vocoding or scoring: simulated: out of memory"]
    ]
    assert sorted(p.name for p in (out / "audio").iterdir() if p.name.startswith("b_")) == []
    assert sorted(p.name for p in (out / "img").iterdir() if p.name.startswith("b_")) == []
    assert (out / "audio" / "c_waveglow.wav").exists()
    assert json.loads((out / "report.json").read_text())["failed_files"][0][0].endswith("b.wav")


def test_the_same_failure_on_the_first_files_stops_the_run(tmp_path, monkeypatch):
    """A failure every file would meet (a library missing, a folder that cannot be written)
    is not vocoded through the whole list: after the first three fail alike the run stops,
    and no empty report folder is left."""
    calls = []

    def broken(mel, path, *args, **kwargs):
        calls.append(Path(path).name)
        raise ImportError("simulated: matplotlib is not installed")

    monkeypatch.setattr(evaluation, "_save_mel_image", broken)
    data = tmp_path / "data"
    data.mkdir()
    audio, rate = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    for k in range(5):
        sf.write(data / f"{k}.wav", audio[k * SR // 4 : (k + 2) * SR // 4], rate)
    out = tmp_path / "report"
    with pytest.raises(RuntimeError, match=r"first 3 files failed alike .*ImportError: simulated"):
        evaluate(vocode_helpers.tiny_model(), data, out, progress=False)
    assert len(calls) == 3 and not out.exists()


def test_an_output_that_overshoots_is_scored_as_produced_and_its_clipping_recorded(
    tmp_path, monkeypatch
):
    """The report's WAV is clipped to [-1, 1]; the scores are of the output as produced (as
    for the Griffin-Lim baseline, which overshoots on loud recordings), and how many samples
    the WAV clips is recorded."""
    from keras_waveglow import inference

    real_vocode = inference.vocode
    monkeypatch.setattr(
        inference,
        "vocode",
        lambda mel, model, **kw: 4.0 * np.asarray(real_vocode(mel, model, **kw)),
    )
    monkeypatch.setattr(evaluation, "available_metrics", lambda: (["log_mel_l1"], {}))
    data = tmp_path / "data"
    data.mkdir()
    audio, rate = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    sf.write(data / "a.wav", audio[: SR // 2], rate)
    model = vocode_helpers.tiny_model()
    report = evaluate(model, data, tmp_path / "report", progress=False)
    (utterance,) = report["utterances"]
    reference, _ = load_audio(data / "a.wav", SR)
    mel = np.asarray(mel_spectrogram(reference, **model.mel_config))
    seeds = evaluation.file_seed(0, evaluation._file_sha256(data / "a.wav"))
    loud = 4.0 * np.asarray(real_vocode(mel, model, seed=seeds))[: len(reference)]
    over = int(np.count_nonzero(np.abs(loud) > 1))
    assert over > 100 and utterance["clipped_samples"] == {"waveglow": over}
    scored = utterance["metrics"]["waveglow"]["log_mel_l1"]
    expected = log_mel_l1(reference, loud, model.mel_config)
    assert scored == pytest.approx(expected, rel=1e-5)
    assert abs(log_mel_l1(reference, np.clip(loud, -1, 1), model.mel_config) - expected) > 1e-3
    saved, _ = sf.read(tmp_path / "report" / utterance["files"]["waveglow"]["audio"])
    assert np.abs(saved).max() <= 1.0


def test_a_recording_below_the_model_s_rate_is_scored_in_its_own_band(tmp_path, monkeypatch):
    """An 8 kHz file for the 16 kHz model: the report records the band (`band_limited_rate`,
    `settings["spectral_band"]`) and every metric whose band reaches above 4 kHz (MCD, MR-STFT,
    PESQ-WB, STOI, the log-mel up to fmax 8 kHz) is scored on the pair at 8 kHz (for both
    systems); a 16 kHz file beside it is scored over the whole band."""
    band = ["mr_stft", "mcd_db", "pesq_wb", "stoi", "log_mel_l1"]
    monkeypatch.setattr(evaluation, "available_metrics", lambda: (band, {}))
    real_score = evaluation.score_against_reference
    calls, pairs = [], []

    def score(reference, degraded, *args):
        scores, failures = real_score(reference, degraded, *args)
        assert args[3] is None or not failures  # (PESQ may find no speech in 0.5 s of noise)
        full, _ = real_score(reference, degraded, *args[:3])  # no source rate: whole band
        calls.append((args[3], scores, full))
        pairs.append((reference, degraded))
        return scores, failures

    monkeypatch.setattr(evaluation, "score_against_reference", score)
    slt, _ = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", 8000)
    awb, _ = load_audio(DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav", SR)
    data = tmp_path / "data"
    data.mkdir()
    sf.write(data / "a_narrow.wav", slt[:12000], 8000)  # 1.5 s: STOI needs 30 voiced frames
    sf.write(data / "b_wide.wav", awb[: SR // 2], SR)
    report = evaluate(vocode_helpers.tiny_model(), data, tmp_path / "report", progress=False)
    assert report["settings"]["spectral_band"] == evaluation.SPECTRAL_BAND
    narrow, wide = report["utterances"]
    assert narrow["band_limited_rate"] == 8000 and "band_limited_rate" not in wide
    assert [rate for rate, _, _ in calls] == [8000, 8000, None, None]  # Griffin-Lim, WaveGlow
    for (_, scores, _), (utterance, system) in zip(
        calls,
        [(narrow, "griffin_lim"), (narrow, "waveglow"), (wide, "griffin_lim"), (wide, "waveglow")],
        strict=True,
    ):
        assert {k: utterance["metrics"][system][k] for k in scores} == scores
    # The narrow file's band-limited scores are not its whole-band ones (the test can fail).
    for _, scores, full in calls[:2]:
        assert set(scores) == set(band) and all(scores[k] != full[k] for k in band)
    assert all(scores == full for _, scores, full in calls[2:])
    # What "at 8 kHz" means: the pair resampled to the recording's rate; for the log-mel (the
    # model's mel), its bands that lie wholly below 4 kHz.
    narrow_pair = [evaluation._resample(a, SR, 8000) for a in evaluation._pair(*pairs[1])]
    scores = calls[1][1]
    assert scores["pesq_wb"] == evaluation.pesq_wb(*narrow_pair, 8000)
    assert scores["stoi"] == evaluation.stoi(*narrow_pair, 8000)
    mel_config = report["settings"]["mel_config"]
    assert scores["log_mel_l1"] == evaluation.log_mel_l1(*pairs[1], mel_config, 4000)


def test_log_mel_l1_below_a_frequency_keeps_the_bands_wholly_below_it():
    """`max_frequency` averages over the mel bands whose filter has no weight above it: with
    a difference only in the bands above 4 kHz the distance below is 0, and a cut below the
    first band is refused."""
    from keras_waveglow.audio import mel_filterbank

    config = {"sample_rate": SR, "fmax": 8000.0}
    basis = mel_filterbank(SR, 1024, 80, 0.0, 8000.0)
    frequencies = np.arange(basis.shape[0]) * SR / 1024
    top = np.array([frequencies[band > 0].max() for band in basis.T])
    kept = evaluation._mel_bands_below(config, 4000.0)
    np.testing.assert_array_equal(kept, top <= 4000.0)
    assert 0 < kept.sum() < 80 and kept[: kept.sum()].all()  # the lowest bands, in order
    rng = np.random.default_rng(0)
    frequencies = np.fft.rfftfreq(SR, 1 / SR)

    def noise(keep) -> np.ndarray:  # one second of white noise kept in a band
        spectrum = np.fft.rfft(rng.standard_normal(SR) * 0.1)
        return np.fft.irfft(np.where(keep, spectrum, 0), SR).astype("float32")

    low, high = noise(frequencies < 3000), noise(frequencies > 5000)
    whole = evaluation.log_mel_l1(low, low + high, config)
    below = evaluation.log_mel_l1(low, low + high, config, 4000.0)
    assert whole > 0.5 and below < 0.01 * whole
    with pytest.raises(ValueError, match="no mel band lies below 10 Hz"):
        evaluation.log_mel_l1(low, low, config, 10.0)


def test_each_file_is_seeded_by_its_bytes_not_its_place(tmp_path, monkeypatch):
    """A file's noise and Griffin-Lim phase follow from the seed and its sha256: scored alone,
    after another file, or under another name, it gets the same audio and the same scores;
    `compare_reports` names a report seeded by position (before "seed_by") as different."""
    monkeypatch.setattr(evaluation, "available_metrics", lambda: (["log_mel_l1"], {}))
    model = vocode_helpers.tiny_model()
    slt, _ = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    awb, _ = load_audio(DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav", SR)
    both, alone = tmp_path / "both", tmp_path / "alone"
    both.mkdir()
    alone.mkdir()
    sf.write(both / "a.wav", awb[: SR // 2], SR)
    sf.write(both / "b.wav", slt[: SR // 2], SR)
    shutil.copy(both / "b.wav", alone / "renamed.wav")
    first = evaluate(model, both, tmp_path / "r1", seed=3, progress=False)
    second = evaluate(model, alone, tmp_path / "r2", seed=3, progress=False)
    assert first["settings"]["seed_by"] == "content"
    b, renamed = first["utterances"][1], second["utterances"][0]
    assert b["source_sha256"] == renamed["source_sha256"]
    for system in ("waveglow", "griffin_lim"):
        assert renamed["metrics"][system]["log_mel_l1"] == b["metrics"][system]["log_mel_l1"]
        heard = [
            sf.read(folder / u["files"][system]["audio"])[0]
            for folder, u in ((tmp_path / "r1", b), (tmp_path / "r2", renamed))
        ]
        np.testing.assert_array_equal(heard[0], heard[1])
    # What the seeds are: vocode's noise and Griffin-Lim's phase from file_seed.
    seeds = evaluation.file_seed(3, b["source_sha256"])
    assert seeds[0] == 3 and all(0 <= w < 2**32 for w in seeds[1:])
    reference, _ = load_audio(both / "b.wav", SR)
    mel = np.asarray(mel_spectrogram(reference, **model.mel_config))
    expected = griffin_lim(mel, model.mel_config, seed=seeds, length=len(reference))
    assert b["metrics"]["griffin_lim"]["log_mel_l1"] == pytest.approx(
        log_mel_l1(reference, expected, model.mel_config), rel=1e-6
    )
    # Another seed, other noise; a seed NumPy's RandomState cannot take is refused up front.
    third = evaluate(model, alone, tmp_path / "r3", seed=4, progress=False)
    assert (
        third["utterances"][0]["metrics"]["waveglow"]["log_mel_l1"]
        != renamed["metrics"]["waveglow"]["log_mel_l1"]
    )
    with pytest.raises(ValueError, match=r"seed must be below 2\*\*32; got 4294967296"):
        evaluate(model, alone, tmp_path / "r4", seed=2**32, progress=False)
    assert not (tmp_path / "r4").exists()
    old = {**second, "settings": {k: v for k, v in second["settings"].items() if k != "seed_by"}}
    differences = evaluation.compare_reports(old, second)["settings_differences"]
    assert differences["seed_by"] == ["position", "content"]


def test_a_non_finite_output_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    """A diverged model's NaN for one file: that file's WaveGlow scores are errors, nothing
    of it is written, the other file and Griffin-Lim are scored, and the report is written."""
    from keras_waveglow import inference

    real_vocode = inference.vocode

    def diverging(mel, model, **kwargs):
        audio = np.array(real_vocode(mel, model, **kwargs))
        # b.wav's seeds (seeded by its bytes), the second file scored
        if kwargs["seed"] == evaluation.file_seed(0, evaluation._file_sha256(data / "b.wav")):
            audio[::50] = np.nan
            audio[1] = np.inf
        return audio

    monkeypatch.setattr(inference, "vocode", diverging)
    data = tmp_path / "data"
    data.mkdir()
    for name, (audio, rate) in (
        ("a.wav", load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)),
        ("b.wav", load_audio(DATA / "cmu_us_awb_arctic" / "wav" / "arctic_a0007.wav", SR)),
    ):
        sf.write(data / name, audio[: SR // 2], rate)
    out = tmp_path / "report"
    report = evaluate(vocode_helpers.tiny_model(), data, out, progress=False)
    good, bad = report["utterances"]
    assert json.loads((out / "report.json").read_text())["utterances"][1]["id"] == "b"
    assert set(bad["metrics"]["waveglow"]) == {"rtf"}  # timed, not scored
    message = bad["errors"]["waveglow/output"]
    assert message.startswith("non-finite output (") and "not scored or saved" in message
    assert "1 infinite of " in message
    assert bad["files"]["waveglow"] is None
    assert not (out / "audio" / "b_waveglow.wav").exists()
    assert not (out / "img" / "b_waveglow.png").exists()
    assert (out / "audio" / "b_griffin_lim.wav").exists()
    assert (
        bad["metrics"]["griffin_lim"]["log_mel_l1"] > 0
        and "log_mel_l1" in good["metrics"]["waveglow"]
    )
    assert "griffin_lim/output" not in bad["errors"] and not good["errors"].get("waveglow/output")
    waveglow, baseline = report["systems"]["waveglow"], report["systems"]["griffin_lim"]
    assert waveglow["log_mel_l1"]["n"] == 1 and baseline["log_mel_l1"]["n"] == 2
    assert waveglow["rtf"]["n"] == 2
    page = (out / "index.html").read_text()
    assert "no audio: non-finite output" in page and "not scored</b>: waveglow/output" in page
    assert 'src="audio/b_waveglow.wav"' not in page


def _page_report(utterances: list[dict]) -> dict:
    """A report dict around `utterances` (metrics per system), summarised as `evaluate` does."""
    for i, utt in enumerate(utterances):
        utt.update(id=f"u{i}", source=f"s/u{i}.wav", duration_s=1.0, errors={})
        utt["metrics"].setdefault("ground_truth", {})
        utt["files"] = {
            s: {"audio": f"audio/u{i}_{s}.wav", "mel_image": f"img/u{i}_{s}.png"}
            for s in evaluation.SYSTEMS
        }
    return {
        "model": {"sample_rate": SR},
        "settings": {"sigma": 0.6, "denoiser_strength": 0.0, "griffin_lim_iters": 32},
        "metrics": {n: {"label": l, "higher_is_better": u} for n, (l, u) in METRICS.items()},
        "systems": evaluation._system_summaries(utterances),
        "by_folder": evaluation.summarize_by_folder(utterances),
        "utterances": utterances,
        "skipped_metrics": {},
        "failed_files": [],
    }


def _metrics_row(page: str, label: str) -> list[str]:
    """The cells of the overall table's row of a system, as HTML."""
    table = page[page.index('id="metrics"') : page.index("</table>")]
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", table) if r.startswith(f"<td>{label}<"))
    return re.findall(r"<td[^>]*>.*?</td>", row)


def test_report_page_shows_interval_ends_counts_and_fair_bests():
    """Intervals as [low, high] (a clipped one is not symmetric); (n=k) where a mean is over
    fewer files than were scored; no best between means over different files."""
    utterances = [
        {
            "metrics": {
                "griffin_lim": {"vuv_f1": 0.9, "log_mel_l1": 0.2, "f0_rmse_cents": 50.0},
                "waveglow": {"vuv_f1": 0.5, "log_mel_l1": 0.6, "f0_rmse_cents": None},
            }
        },
        {
            "metrics": {
                "griffin_lim": {"vuv_f1": 1.0, "log_mel_l1": 0.3, "f0_rmse_cents": 60.0},
                "waveglow": {"vuv_f1": 0.6, "log_mel_l1": 0.5, "f0_rmse_cents": 10.0},
            }
        },
    ]
    report = _page_report(utterances)
    vuv = report["systems"]["griffin_lim"]["vuv_f1"]
    assert vuv["high"] == 1.0 and vuv["mean"] == pytest.approx(0.95)  # clipped at F1's top
    page = evaluation.report_html(report)
    assert "&plusmn;" not in page
    labels = [n for n in METRICS if n in report["systems"]["griffin_lim"]]
    gl = dict(zip(labels, _metrics_row(page, "Griffin-Lim")[1:], strict=True))
    wg = dict(zip(labels, _metrics_row(page, "WaveGlow")[1:], strict=True))
    # The JSON's ends, not 0.95 +- a half-width that would reach past 1.
    assert f'0.950 <span class="ci">[{vuv["low"]:.3f}, 1.000]</span>' in gl["vuv_f1"]
    # WaveGlow's F0 RMSE is one file's value beside Griffin-Lim's mean of two: counted, and
    # neither is marked best even though 10 < 55.
    assert wg["f0_rmse_cents"] == '<td>10.000 <span class="count">(n=1)</span></td>'
    assert "(n=" not in gl["f0_rmse_cents"] and "best" not in gl["f0_rmse_cents"]
    # Over the same files a best is marked, and nothing is counted.
    assert gl["log_mel_l1"].startswith('<td class="best">0.250 <span class="ci">[')
    assert "(n=" not in gl["log_mel_l1"] + wg["log_mel_l1"] and "best" not in wg["log_mel_l1"]
    # Equal counts over different files are not the same average either.
    utterances[0]["metrics"]["griffin_lim"]["f0_rmse_cents"] = None
    utterances[0]["metrics"]["waveglow"]["f0_rmse_cents"] = 40.0
    utterances[1]["metrics"]["waveglow"]["f0_rmse_cents"] = None
    page = evaluation.report_html(_page_report(utterances))
    cells = [
        _metrics_row(page, s)[1 + labels.index("f0_rmse_cents")]
        for s in ("Griffin-Lim", "WaveGlow")
    ]
    assert cells == [
        '<td>60.000 <span class="count">(n=1)</span></td>',
        '<td>40.000 <span class="count">(n=1)</span></td>',
    ]


def test_browser_check_sees_missing_media_and_console_errors(tmp_path):
    chromium = _require_chromium()
    report = {
        "model": {"sample_rate": SR},
        "settings": {"sigma": 0.6, "denoiser_strength": 0.0, "griffin_lim_iters": 32},
        "metrics": {
            n: {"label": l, "higher_is_better": u} for n, (l, u) in evaluation.METRICS.items()
        },
        "systems": {"ground_truth": {}, "griffin_lim": {}, "waveglow": {}},
        "utterances": [
            {
                "id": "u1",
                "source": "u1.wav",
                "duration_s": 1.0,
                "metrics": {"ground_truth": {}, "griffin_lim": {}, "waveglow": {}},
                "files": {
                    s: {"audio": f"audio/u1_{s}.wav", "mel_image": f"img/u1_{s}.png"}
                    for s in evaluation.SYSTEMS
                },
            }
        ],
        "skipped_metrics": {},
        "failed_files": [],
    }
    page_html = evaluation.report_html(report)
    (tmp_path / "index.html").write_text(page_html)
    page = render_report(tmp_path / "index.html", chromium=chromium)
    assert (
        page["media_status"].startswith("problems:")
        and "audio/u1_waveglow.wav" in page["media_status"]
    )
    broken = page_html.replace("</body>", "<script>undefinedFunction();</script></body>")
    (tmp_path / "broken.html").write_text(broken)
    page = render_report(tmp_path / "broken.html", chromium=chromium)
    assert any("undefinedFunction" in line for line in page["console"])


@pytest.mark.slow
def test_cli_evaluate_with_a_briefly_trained_tiny_model(tmp_path, capsys):
    """The acceptance run with a model fitted (a few NLL steps) on the bundled sample itself."""
    import keras

    from keras_waveglow.flow import WaveGlow

    audio, _ = load_audio(DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav", SR)
    segments = np.stack([audio[i * 4096 : (i + 1) * 4096] for i in range(8)])
    mels = np.asarray(mel_spectrogram(segments, **MEL_CONFIG))
    model = WaveGlow.from_preset("tiny", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(mels, segments, batch_size=4, epochs=3, verbose=0).history["loss"]
    assert history[-1] < history[0]  # it did learn something
    path = tmp_path / "trained_tiny.keras"
    model.save(path)
    out = tmp_path / "report"
    argv = ["evaluate", "--model", str(path), "--data", str(DATA), "--out", str(out)]
    assert cli.main([*argv, "--no-progress"]) == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert len(report["utterances"]) == 2
    assert report["systems"]["waveglow"]["log_mel_l1"]["n"] == 2
    assert "<table" in (out / "index.html").read_text()


def test_a_report_with_a_system_that_wrote_no_files_can_be_replaced(tmp_path):
    """A system whose output was not finite has `"files": null` in report.json: replacing
    such a report was refused for good ("cannot be read (AttributeError)")."""
    out = tmp_path / "report"
    (out / "audio").mkdir(parents=True)
    (out / "audio" / "a_ground_truth.wav").write_bytes(b"RIFF")
    report = {
        "utterances": [
            {
                "files": {
                    "ground_truth": {"audio": "audio/a_ground_truth.wav", "mel_image": None},
                    "waveglow": None,
                }
            }
        ]
    }
    (out / "report.json").write_text(json.dumps(report))
    evaluation._refuse_foreign_files(out, out / "report.json")  # nothing foreign: no error
    (out / "audio" / "mine.wav").write_bytes(b"RIFF")
    with pytest.raises(FileExistsError, match=r"1 file\(s\) the report did not write"):
        evaluation._refuse_foreign_files(out, out / "report.json")
