"""Evaluation: copy-synthesis metrics against Griffin-Lim and the ground truth, and a report.

For each utterance the model's mel (`keras_waveglow.mel_spectrogram` with the model's
`mel_config`) is turned back into audio twice: by WaveGlow (`vocode`) and by Griffin-Lim
(`librosa`: the mel inverted to a linear magnitude by non-negative least squares, then 32
seeded iterations of fast Griffin-Lim, momentum 0.99). Both are scored against the ground
truth:

===================  ====  ==========================================================  =======
metric               best  definition                                                  needs
===================  ====  ==========================================================  =======
``pesq_wb``          high  ITU-T P.862.2 wideband PESQ at 16 kHz (resampled if needed)  pesq
``stoi``             high  short-time objective intelligibility (Taal et al. 2011; at   pystoi
                           10 kHz, resampled by `pystoi`)
``mr_stft``          low   multi-resolution STFT distance: spectral convergence plus   -
                           log-magnitude L1, averaged over (1024, 120, 600),
                           (2048, 240, 1200), (512, 50, 240) (n_fft, hop, window);
                           power floored at 1e-7 (Parallel WaveGAN's STFT loss)
``log_mel_l1``       low   mean |log-mel difference|, the model's own mel              -
``mcd_db``           low   mel-cepstral distortion in dB, 24 coefficients without c0,  pysptk
                           WORLD envelopes (`pyworld`, else STFT power), DTW-aligned
``f0_rmse_cents``    low   F0 RMSE in cents over frames voiced in both                 pyworld
``gpe``              low   gross pitch error: share of frames voiced in both whose F0
                           is off by more than 20 %
``vuv_f1``           high  F1 of the voiced/unvoiced decision, ground truth positive
``dnsmos_*``         high  DNSMOS P.835 (sig, bak, ovrl), no reference needed           speechmos
``rtf``              low   synthesis seconds per second of audio (compiled calls)      -
===================  ====  ==========================================================  =======

On a recording made at a lower rate than the model's (CMU ARCTIC's 16 kHz for a 22.05 kHz
model), a metric whose band reaches above the recording's half rate is computed on both signals
resampled to the recording's rate (the log-mel distance over the mel bands wholly below its half
rate): the band it never held is not scored (`band_limited_rate`, `metric_band`). `mr_stft`
and `mcd_db` reach the model's half rate, so they are always limited on such a file; PESQ-WB
(8 kHz), STOI (5 kHz) and `log_mel_l1` (`fmax`) only on recordings made below twice their band
(8 kHz telephone speech, 11.025 or 12 kHz). The report records the rate per file as
`band_limited_rate` and the rule as `settings["spectral_band"]`.

F0 comes from `pyworld` (DIO + StoneMask, 5 ms frames), or `librosa.pyin` without it. A
missing optional package skips its metric with a message (in the report and the log); it never
stops the evaluation. Each system gets the mean and a 95 % Student-t interval over utterances.

Every summary is also made per folder of the inputs (`summarize_by_folder`: per speaker in
`prepare`'s layout, e.g. `de`, `pt_BR`). The report is `report.json` and a static `index.html`
(a metrics table, a per-folder table; per utterance the ground truth, Griffin-Lim and WaveGlow
side by side as audio players under mel-spectrogram images) in the output directory, with
`audio/` and `img/` beside them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import importlib
import importlib.util
import inspect
import json
import logging
import math
import operator
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from keras_waveglow import _checks
from keras_waveglow._paths import keeps_pipe_lists, once_each
from keras_waveglow.audio import reason_without_path, replace_from_temporary, sync_folder
from keras_waveglow.losses import (
    MR_STFT_RESOLUTIONS,
    OLD_STFT_FLOOR_DEFINITION,
    STFT_FLOOR_DEFINITION,
    STFT_POWER_FLOOR,
)

logger = logging.getLogger(__name__)

# The attribute set (True) on the log records of what `evaluate`'s report also holds: a file
# that failed (`failed_files`) and "no file could be scored" (`paths` None). A caller that
# prints those from the report itself, as the CLI does at the end of the run, filters these
# records out so that each bad file is reported once.
IN_REPORT = "in_report"

SYSTEMS = ("ground_truth", "griffin_lim", "waveglow")
SYSTEM_LABELS = {
    "ground_truth": "Ground truth",
    "griffin_lim": "Griffin-Lim",
    "waveglow": "WaveGlow",
}
# name -> (label, higher is better)
METRICS = {
    "pesq_wb": ("PESQ (wb)", True),
    "stoi": ("STOI", True),
    "mr_stft": ("MR-STFT", False),
    "log_mel_l1": ("log-mel L1", False),
    "mcd_db": ("MCD (dB)", False),
    "f0_rmse_cents": ("F0 RMSE (cents)", False),
    "gpe": ("GPE", False),
    "vuv_f1": ("V/UV F1", True),
    "dnsmos_sig": ("DNSMOS SIG", True),
    "dnsmos_bak": ("DNSMOS BAK", True),
    "dnsmos_ovrl": ("DNSMOS OVRL", True),
    "rtf": ("RTF", False),
}
# name -> (lowest, highest) value the metric can take; intervals are clipped to it.
METRIC_BOUNDS = {
    # P.862.2's mapping 0.999 + 4 / (1 + exp(-1.3669 x + 3.8224)) of the raw score x (at most
    # 4.5): above 0.999, at most 4.644.
    "pesq_wb": (0.999, 4.644),
    # A mean of correlation coefficients: at most 1 (the reference itself).
    "stoi": (-1.0, 1.0),
    "mr_stft": (0.0, None),
    "log_mel_l1": (0.0, None),
    "mcd_db": (0.0, None),
    "f0_rmse_cents": (0.0, None),
    "gpe": (0.0, 1.0),
    "vuv_f1": (0.0, 1.0),
    "dnsmos_sig": (1.0, 5.0),
    "dnsmos_bak": (1.0, 5.0),
    "dnsmos_ovrl": (1.0, 5.0),
    "rtf": (0.0, None),
}
# The per-folder table and the printed summary show these, WaveGlow beside Griffin-Lim.
# How a report names the F0 extractor of the pyin fallback (frames of at least 80 ms).
PYIN_EXTRACTOR = "librosa.pyin, 80 ms+ frames"
# `evaluate` stops when this many files fail alike after loading before any is scored.
SYSTEMATIC_FAILURES = 3
# librosa.griffinlim's momentum (its default): fast Griffin-Lim; 0 is the classic algorithm.
GRIFFIN_LIM_MOMENTUM = 0.99
FOLDER_TABLE_METRICS = ("pesq_wb", "log_mel_l1", "vuv_f1")
F0_FRAME_PERIOD_MS = 5.0
F0_RANGE_HZ = (60.0, 500.0)
MCD_ORDER = 24
# mr_stft's floor: |STFT|^2 is clamped at this before the square root (Parallel WaveGAN's).
MR_STFT_POWER_FLOOR = STFT_POWER_FLOOR
# How a report records that definition (settings["mr_stft_floor"]); a report without the
# field floored the magnitude at 1e-7 (MR_STFT_OLD_FLOOR), and the two do not compare.
MR_STFT_FLOOR = STFT_FLOOR_DEFINITION
MR_STFT_OLD_FLOOR = OLD_STFT_FLOOR_DEFINITION
# How a report records the band its metrics cover (settings["spectral_band"]): each metric's
# own band (`metric_band`), cut at the recording's Nyquist frequency when that is lower
# ("recording, every metric"). Reports of 2026-12-07 cut only mr_stft and mcd_db
# ("recording"); a report without the field cut none ("model"). The rules differ only on
# files recorded below the model's rate (utterance["band_limited_rate"]).
SPECTRAL_BAND = "recording, every metric"
SPECTRAL_BAND_SPECTRAL_ONLY = "recording"
SPECTRAL_BAND_OLD = "model"
# The metrics whose value depends on the band scored, and those each rule cuts.
BAND_METRICS = ("pesq_wb", "stoi", "log_mel_l1", "mr_stft", "mcd_db")
_BAND_CUT = {
    SPECTRAL_BAND: BAND_METRICS,
    SPECTRAL_BAND_SPECTRAL_ONLY: ("mr_stft", "mcd_db"),
    SPECTRAL_BAND_OLD: (),
}
_EVAL_EXTRA = "pip install 'keras-waveglow[eval]'"
_STAGING_PREFIX = ".evaluate-"  # evaluate's folder for a run's audio until its report is done


# --------------------------------------------------------------------------------------------
# Optional dependencies
# --------------------------------------------------------------------------------------------


def _try_import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:  # also a module set to None in sys.modules
        return None


def _group_by_reason(skipped: dict[str, str]) -> dict[str, list[str]]:
    """`{reason: [metric, ...]}`: one line per missing package, not one per metric."""
    grouped: dict[str, list[str]] = {}
    for name, reason in skipped.items():
        grouped.setdefault(reason, []).append(name)
    return grouped


def available_metrics() -> tuple[list[str], dict[str, str]]:
    """Which metrics can run here: `(names, {skipped name: reason})`.

    Returns:
        The computable metric names, and for each metric whose package is missing the reason
        it is skipped (naming the package to install).

    Example:
        >>> names, skipped = available_metrics()
    """
    skipped = {}
    if _try_import("pesq") is None:
        skipped["pesq_wb"] = f"the 'pesq' package is not installed ({_EVAL_EXTRA})"
    if _try_import("pystoi") is None:
        skipped["stoi"] = f"the 'pystoi' package is not installed ({_EVAL_EXTRA})"
    if _try_import("pysptk") is None:
        skipped["mcd_db"] = f"the 'pysptk' package is not installed ({_EVAL_EXTRA})"
    missing = [name for name in ("speechmos", "onnxruntime") if _try_import(name) is None]
    if missing:
        packages = " and ".join(f"'{name}'" for name in missing)
        verb = "is" if len(missing) == 1 else "are"
        reason = f"{packages} {verb} not installed (pip install 'keras-waveglow[dnsmos]')"
        for name in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"):
            skipped[name] = reason
    names = [name for name in METRICS if name not in skipped]
    return names, skipped


# --------------------------------------------------------------------------------------------
# Metrics (NumPy in, floats out)
# --------------------------------------------------------------------------------------------


def _pair(reference, degraded) -> tuple[np.ndarray, np.ndarray]:
    """Both signals at the reference's length: a longer output (a vocoder's F * hop samples)
    is cropped, a shorter one zero-padded, so that what it lacks is scored as silence (cropping
    the reference instead scored an output missing a second as perfect)."""
    reference = np.asarray(reference, dtype=np.float32).reshape(-1)
    degraded = np.asarray(degraded, dtype=np.float32).reshape(-1)
    if len(reference) == 0 or len(degraded) == 0:
        raise ValueError("cannot compare empty audio.")
    if len(degraded) < len(reference):
        degraded = np.pad(degraded, (0, len(reference) - len(degraded)))
    return reference, degraded[: len(reference)]


def _resample(audio: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    if sample_rate == target:
        return audio
    import soxr

    return soxr.resample(audio, sample_rate, target, quality="HQ").astype(np.float32)


def pesq_wb(reference, degraded, sample_rate: int) -> float:
    """Wideband PESQ (ITU-T P.862.2) of `degraded` against `reference`.

    Args:
        reference: (T,) float audio, the ground truth.
        degraded: float audio to score; cropped or zero-padded to the reference's length.
        sample_rate: int, rate of both; resampled to 16 kHz with soxr when different.

    Returns:
        MOS-LQO between about 1.0 and 4.64.

    Example:
        >>> pesq_wb(clean, clean, 16000)  # about 4.64
    """
    from pesq import pesq

    reference, degraded = _pair(reference, degraded)
    if not np.any(degraded):  # pesq itself fails with "cannot convert float NaN to integer"
        raise ValueError("the degraded audio is silent (every sample 0): PESQ is undefined.")
    reference = _resample(reference, sample_rate, 16000)
    degraded = _resample(degraded, sample_rate, 16000)
    return float(pesq(16000, reference.astype(np.float64), degraded.astype(np.float64), "wb"))


def stoi(reference, degraded, sample_rate: int) -> float:
    """Short-time objective intelligibility (STOI; Taal et al., 2011) of `degraded` against
    `reference`, with `pystoi` (which resamples both to 10 kHz and drops silent frames).

    Args:
        reference: (T,) float audio, the ground truth.
        degraded: float audio to score; cropped or zero-padded to the reference's length.
        sample_rate: int, rate of both.

    Returns:
        The mean correlation of short-time band envelopes: 1 for the reference itself, near 0
        for unrelated audio.

    Raises:
        ValueError: too little speech for STOI (pystoi needs 30 frames of 25.6 ms, hop 12.8
            ms, after it drops the silent ones: about 0.4 s); pystoi returned 1e-5 with a
            warning, which was averaged in as a score.

    Example:
        >>> stoi(clean, clean, 22050)  # 1.0
    """
    import warnings

    from pystoi import stoi as pystoi_stoi

    reference, degraded = _pair(reference, degraded)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = pystoi_stoi(reference.astype(np.float64), degraded.astype(np.float64), sample_rate)
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise ValueError(
            "too little speech for STOI: fewer than 30 frames are left after pystoi drops the "
            "silent ones (about 0.4 s of speech needed)"
        )
    return float(value)


def multi_resolution_stft_distance(
    reference, degraded, resolutions: Sequence[tuple[int, int, int]] = MR_STFT_RESOLUTIONS
) -> float:
    """Spectral convergence plus log-magnitude L1, averaged over STFT resolutions.

    Per resolution: `||S_r - S_d||_F / ||S_r||_F + mean|log S_r - log S_d|` on magnitudes
    `S = sqrt(max(|STFT|^2, 1e-7))` (Hann window, centred frames, zero-padded at the ends
    where `torch.stft` reflects by default, so the first and last frames differ slightly from
    a reflect-padded implementation's): the power is floored at 1e-7, as in Parallel
    WaveGAN's STFT loss, so bins far below audibility (a silent band, 16-bit quantisation
    noise) all sit at the floor and add nothing. (Reports written before
    `settings["mr_stft_floor"]` existed floored the magnitude at 1e-7 instead; `compare_reports`
    leaves the metric out between the two definitions.)

    Args:
        reference: (T,) float audio.
        degraded: float audio; cropped or zero-padded to the reference's length.
        resolutions: (n_fft, hop, window) triples. Default `MR_STFT_RESOLUTIONS`.

    Returns:
        The distance (0 for identical audio).

    Example:
        >>> multi_resolution_stft_distance(x, x)
        0.0
    """
    import librosa

    reference, degraded = _pair(reference, degraded)
    total = 0.0
    for n_fft, hop, window in resolutions:
        spec = {}
        for name, audio in (("r", reference), ("d", degraded)):
            stft = librosa.stft(audio, n_fft=n_fft, hop_length=hop, win_length=window)
            power = np.square(np.abs(stft).astype(np.float64))
            spec[name] = np.sqrt(np.maximum(power, MR_STFT_POWER_FLOOR))
        convergence = np.linalg.norm(spec["r"] - spec["d"]) / np.linalg.norm(spec["r"])
        log_l1 = np.mean(np.abs(np.log(spec["r"]) - np.log(spec["d"])))
        total += float(convergence + log_l1)
    return total / len(resolutions)


def log_mel_l1(reference, degraded, mel_config: dict, max_frequency: float | None = None) -> float:
    """Mean absolute difference of log-mels made with the shared front end.

    Args:
        reference: (T,) float audio.
        degraded: float audio; cropped or zero-padded to the reference's length.
        mel_config: `keras_waveglow.mel_spectrogram` keyword arguments (a model's
            `mel_config`).
        max_frequency: float or None, average only over the mel bands whose filter lies
            wholly at or below this frequency in Hz (a recording's half rate). Default None:
            every band.

    Returns:
        The mean |log-mel difference| in nepers (0 for identical audio).

    Raises:
        ValueError: no mel band lies below `max_frequency`.

    Example:
        >>> log_mel_l1(x, 2 * x, model.mel_config)  # log(2) where above the floor
    """
    from keras import ops

    from keras_waveglow.audio import mel_spectrogram

    reference, degraded = _pair(reference, degraded)
    mels = ops.convert_to_numpy(mel_spectrogram(np.stack([reference, degraded]), **mel_config))
    difference = np.abs(mels[0] - mels[1])
    if max_frequency is not None:
        kept = _mel_bands_below(mel_config, max_frequency)
        if not kept.any():
            raise ValueError(f"no mel band lies below {max_frequency:g} Hz")
        difference = difference[..., kept]
    return float(np.mean(difference))


def _mel_settings(mel_config: dict | None) -> dict:
    """`mel_config` with `mel_spectrogram`'s defaults for what it leaves out."""
    from keras_waveglow.audio import mel_spectrogram

    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(mel_spectrogram).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    return {**defaults, **(mel_config or {})}


def _mel_bands_below(mel_config: dict, max_frequency: float) -> np.ndarray:
    """(n_mels,) bool: the mel bands whose filter has no weight above `max_frequency`."""
    from keras_waveglow.audio import mel_filterbank

    config = _mel_settings(mel_config)
    rate, n_fft = config["sample_rate"], config["n_fft"]
    basis = mel_filterbank(rate, n_fft, config["n_mels"], config["fmin"], config["fmax"])
    frequencies = np.arange(basis.shape[0]) * rate / n_fft
    top = np.array([frequencies[np.flatnonzero(band)].max(initial=0.0) for band in basis.T])
    return top <= max_frequency


def _world_analysis(audio: np.ndarray, sample_rate: int):
    import pyworld

    x = audio.astype(np.float64)
    f0, times = pyworld.dio(
        x,
        sample_rate,
        f0_floor=F0_RANGE_HZ[0],
        f0_ceil=F0_RANGE_HZ[1],
        frame_period=F0_FRAME_PERIOD_MS,
    )
    f0 = pyworld.stonemask(x, f0, times, sample_rate)
    return pyworld, x, f0, times


def _mel_cepstra(audio: np.ndarray, sample_rate: int, order: int) -> np.ndarray:
    """(frames, order + 1) mel-cepstra every 5 ms, all-pass constant for `sample_rate`."""
    import pysptk

    alpha = pysptk.util.mcepalpha(sample_rate)
    if _try_import("pyworld") is not None:
        pyworld, x, f0, times = _world_analysis(audio, sample_rate)
        envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    else:  # a plain windowed power spectrum, 25 ms rounded up to a power of two
        import librosa

        n_fft = 1 << math.ceil(math.log2(0.025 * sample_rate))
        hop = int(sample_rate * F0_FRAME_PERIOD_MS / 1000)
        stft = librosa.stft(audio, n_fft=n_fft, hop_length=hop, window="blackman")
        envelope = np.square(np.abs(stft)).T.astype(np.float64)
    return pysptk.sp2mc(np.maximum(envelope, 1e-16), order, alpha)


def mel_cepstral_distortion(
    reference, degraded, sample_rate: int, order: int = MCD_ORDER, align: bool = True
) -> float:
    """Mel-cepstral distortion in dB, c0 excluded, frames aligned by dynamic time warping.

    `MCD = 10 / ln 10 * sqrt(2 * sum_{d=1..order} (c_d - c'_d)^2)`, averaged over the DTW path
    (Euclidean cost on the same cepstra) or over frames when `align` is False.

    Args:
        reference: (T,) float audio.
        degraded: (T,) float audio.
        sample_rate: int, rate of both.
        order: int, mel-cepstral order. Default 24.
        align: bool, align frames with DTW. Default True. The alignment holds the whole
            cost matrix: its memory grows with the square of the length (5 ms frames: a
            minute of audio needs gigabytes); score long recordings in pieces, or with
            `align=False` (copy-synthesis is time-aligned already).

    Returns:
        MCD in dB (0 for identical audio; a pure gain change moves mostly c0, but where the
        envelope touches its 1e-16 floor (a band the recording leaves empty) not only c0,
        so halving the gain is not quite free).

    Example:
        >>> mel_cepstral_distortion(x, x, 16000)
        0.0
    """
    # At the reference's length, as every other metric: a longer output was scored on its
    # extra frames, and one missing its end as perfect (`_pair`).
    reference, degraded = _pair(reference, degraded)
    ref = _mel_cepstra(reference, sample_rate, order)[:, 1:]
    deg = _mel_cepstra(degraded, sample_rate, order)[:, 1:]
    if align:
        import librosa

        _, path = librosa.sequence.dtw(ref.T, deg.T, metric="euclidean")
        ref, deg = ref[path[:, 0]], deg[path[:, 1]]
    else:
        frames = min(len(ref), len(deg))
        ref, deg = ref[:frames], deg[:frames]
    distance = np.sqrt(2.0 * np.sum(np.square(ref - deg), axis=1))
    return float(10.0 / np.log(10.0) * np.mean(distance))


def f0_contour(audio, sample_rate: int) -> np.ndarray:
    """F0 in Hz every 5 ms, 0 where unvoiced (pyworld DIO + StoneMask, else librosa.pyin)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if _try_import("pyworld") is not None:
        return _world_analysis(audio, sample_rate)[2]
    import librosa

    hop = int(sample_rate * F0_FRAME_PERIOD_MS / 1000)
    f0, voiced, _ = librosa.pyin(
        audio,
        fmin=F0_RANGE_HZ[0],
        fmax=F0_RANGE_HZ[1],
        sr=sample_rate,
        # The power of two at or above 80 ms (2048 samples at 16 and 22.05 kHz, 93-128 ms;
        # librosa's default at 22.05 kHz): 186 ms frames at 22.05 kHz smeared the voicing
        # boundaries V/UV F1 is meant to see.
        frame_length=1 << math.ceil(math.log2(0.08 * sample_rate)),
        hop_length=hop,
    )
    return np.where(voiced, np.nan_to_num(f0), 0.0)


def f0_metrics(reference, degraded, sample_rate: int) -> dict[str, float | None]:
    """F0 RMSE in cents, gross pitch error and voicing F1 of `degraded` against `reference`.

    Args:
        reference: (T,) float audio, the ground truth.
        degraded: float audio; cropped or zero-padded to the reference's length.
        sample_rate: int, rate of both.

    Returns:
        `{"f0_rmse_cents", "gpe", "vuv_f1"}`: RMSE of `1200 log2(f_d / f_r)` and the share of
        frames off by more than 20 %, both over frames voiced in both (None when there are
        none), and the F1 score of the voiced decision with the reference as truth (None when
        neither signal has voiced frames).

    Example:
        >>> f0_metrics(tone_200hz, tone_210hz, 16000)["f0_rmse_cents"]  # about 84.5
    """
    reference, degraded = _pair(reference, degraded)
    f_ref, f_deg = f0_contour(reference, sample_rate), f0_contour(degraded, sample_rate)
    frames = min(len(f_ref), len(f_deg))
    f_ref, f_deg = f_ref[:frames], f_deg[:frames]
    v_ref, v_deg = f_ref > 0, f_deg > 0
    both = v_ref & v_deg
    result: dict[str, float | None] = {"f0_rmse_cents": None, "gpe": None, "vuv_f1": None}
    if both.any():
        cents = 1200.0 * np.log2(f_deg[both] / f_ref[both])
        result["f0_rmse_cents"] = float(np.sqrt(np.mean(np.square(cents))))
        result["gpe"] = float(np.mean(np.abs(f_deg[both] / f_ref[both] - 1.0) > 0.2))
    true_positive = int(both.sum())
    predicted, actual = int(v_deg.sum()), int(v_ref.sum())
    if predicted + actual > 0:
        result["vuv_f1"] = 2.0 * true_positive / (predicted + actual)
    return result


def dnsmos(audio, sample_rate: int) -> dict[str, float]:
    """DNSMOS P.835 scores from the `speechmos` package (its ONNX models, offline).

    Args:
        audio: (T,) float audio.
        sample_rate: int; resampled to 16 kHz when different.

    Returns:
        `{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"}`.
    """
    from speechmos import dnsmos as speechmos_dnsmos

    audio = np.clip(_resample(np.asarray(audio, np.float32), sample_rate, 16000), -1.0, 1.0)
    scores = speechmos_dnsmos.run(audio, sr=16000)
    return {
        "dnsmos_sig": float(scores["sig_mos"]),
        "dnsmos_bak": float(scores["bak_mos"]),
        "dnsmos_ovrl": float(scores["ovrl_mos"]),
    }


def confidence_interval(
    values, level: float = 0.95, bounds: tuple[float | None, float | None] = (None, None)
) -> dict[str, float | int | None]:
    """Mean and Student-t confidence interval of the finite values.

    Args:
        values: numbers; None and NaN are left out.
        level: float, confidence level. Default 0.95.
        bounds: (lowest, highest) value the metric can take (None: unbounded); the interval
            is clipped to them, so a few utterances cannot give, say, an F1 above 1.

    Returns:
        `{"mean", "low", "high", "n"}`; low/high are None with fewer than two values, all but n
        are None with none.

    Example:
        >>> confidence_interval([1, 2, 3, 4, 5])["high"]  # 3 + 2.776 * sqrt(2.5 / 5)
        4.963...
    """
    from scipy import stats

    data = np.asarray([v for v in values if v is not None and np.isfinite(v)], np.float64)
    n = len(data)
    if n == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(data.mean())
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "n": 1}
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * data.std(ddof=1) / math.sqrt(n))
    low, high = mean - half, mean + half
    if bounds[0] is not None:
        low = max(low, float(bounds[0]))
    if bounds[1] is not None:
        high = min(high, float(bounds[1]))
    return {"mean": mean, "low": low, "high": high, "n": n}


# --------------------------------------------------------------------------------------------
# The Griffin-Lim baseline
# --------------------------------------------------------------------------------------------


def griffin_lim(
    mel, mel_config: dict, n_iter: int = 32, seed: int | Sequence[int] = 0, length=None
) -> np.ndarray:
    """Audio from a log-mel with Griffin-Lim: the baseline every vocoder should beat.

    The log-mel is exponentiated, mapped back to a linear magnitude by non-negative least
    squares on the same Slaney filterbank (`librosa.feature.inverse.mel_to_stft`), and its
    phase estimated by `n_iter` iterations of `librosa.griffinlim` from a seeded random phase,
    with librosa's default momentum 0.99: the "fast Griffin-Lim" of Perraudin et al. (2013),
    the stronger baseline (on ARCTIC's arctic_a0009 at 22.05 kHz, PESQ-WB 3.12 against 2.96
    for the classic algorithm, momentum 0: `python benchmarks/evaluation_baselines.py`,
    `benchmarks/results/evaluation_baselines_2026-12-06.jsonl`).

    Args:
        mel: (frames, n_mels) log-mel, as `keras_waveglow.mel_spectrogram` makes.
        mel_config: the `mel_spectrogram` settings it was made with.
        n_iter: int, iterations. Default 32.
        seed: int or sequence of ints, each in [0, 2**32), seed of the initial phase
            (`np.random.RandomState`). Default 0.
        length: int or None, samples to return. Default None ((frames - 1) * hop).

    Returns:
        float32 audio (length,).

    Example:
        >>> audio = griffin_lim(mel, model.mel_config, n_iter=32, seed=0)
    """
    import librosa

    mel = np.asarray(mel, np.float64)
    if mel.ndim != 2 or mel.shape[1] != mel_config["n_mels"]:
        raise ValueError(f"mel must have shape (frames, {mel_config['n_mels']}); got {mel.shape}.")
    magnitude = librosa.feature.inverse.mel_to_stft(
        np.exp(mel.T),
        sr=mel_config["sample_rate"],
        n_fft=mel_config["n_fft"],
        power=1.0,
        fmin=mel_config["fmin"],
        fmax=mel_config["fmax"],
        htk=False,
        norm="slaney",
    )
    audio = librosa.griffinlim(
        magnitude,
        n_iter=n_iter,
        hop_length=mel_config["hop_length"],
        win_length=mel_config["win_length"],
        n_fft=mel_config["n_fft"],
        window="hann",
        center=True,
        length=length,
        init="random",
        random_state=np.random.RandomState(seed),
        momentum=GRIFFIN_LIM_MOMENTUM,
    )
    return audio.astype(np.float32)


# --------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------


def _find_audio(data, left_out: list | None = None) -> list[Path]:
    """The audio files the inputs name; the copies of other reports found in a folder are
    left out, with a warning and, given `left_out`, (report folder, count) in it."""
    from keras_waveglow.audio import AUDIO_EXTENSIONS
    from keras_waveglow.data.arctic import is_file_list, read_file_list

    if isinstance(data, str | os.PathLike):
        data = [data]
    files = []
    for entry in data:
        entry = Path(entry)
        if entry.is_dir():
            found = sorted(
                p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
            )
            # Another report's audio inside the data (`--out data/eval_v1`, then `_v2`): its
            # ground-truth, Griffin-Lim and WaveGlow copies are not data.
            reports: dict[Path, int] = {}
            seen: dict[Path, bool] = {}
            for p in found:
                report = _report_folder_holding(p, entry, seen)
                if report is not None:
                    reports[report] = reports.get(report, 0) + 1
                else:
                    files.append(p)
            for report, count in reports.items():
                if left_out is not None:
                    left_out.append((report, count))
                logger.warning(
                    "%s: left out %d file(s) under the report folder %s (a report's audio, "
                    "not data); give the report folder outside the data.",
                    entry,
                    count,
                    report,
                )
        elif is_file_list(entry):  # e.g. `prepare`'s eval.txt; prose refused in one message
            files.extend(read_file_list(entry, require_existing=True))
        elif entry.is_file():
            files.append(entry)
        else:
            raise FileNotFoundError(f"{entry}: no such audio file, file list or directory.")
    return files


def _report_folder_holding(path: Path, root: Path, seen: dict) -> Path | None:
    """The report folder whose copies `path` is one of, below `root`, else None: a file named
    `<id>_<system>.wav` in the `audio/` folder of a folder (not `root` itself) whose
    report.json is an evaluation report, or in an interrupted run's staging folder. `seen`
    caches each folder's answer."""
    if not path.stem.endswith(tuple(f"_{system}" for system in SYSTEMS)):
        return None
    for parent in path.parents:
        if parent == root or not parent.is_relative_to(root):
            return None
        if parent.name.startswith(_STAGING_PREFIX):
            return parent
        folder = parent.parent
        if parent.name == "audio" and folder != root:
            if folder not in seen:
                seen[folder] = _is_report_file(folder / "report.json")
            if seen[folder]:
                return folder
    return None


def _is_report_file(path: Path) -> bool:
    """Whether `path` is a JSON object with an "utterances" list (what `evaluate` writes)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(report, dict) and isinstance(report.get("utterances"), list)


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it is inside it (shorter, portable)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _check_report_folder(out_dir: Path) -> None:
    """Refuses a report folder that is an existing file, lies under one, or cannot be written
    (NotADirectoryError, PermissionError), before any work."""
    from keras_waveglow._paths import check_output_folder

    check_output_folder(out_dir, "the report folder")


def _own_output_folders(out_dir: Path) -> list[Path]:
    """Where `evaluate` writes audio in `out_dir` (resolved, so a symlinked audio/ counts):
    its audio/ folder, and hidden folders interrupted runs left (warned about)."""
    left = sorted(out_dir.glob(_STAGING_PREFIX + "*")) if out_dir.is_dir() else []
    if left:
        logger.warning(
            "%s holds %d folder(s) an interrupted evaluate left (%s): not scored; delete them "
            "once nothing in them is wanted (a run stopped while replacing a report may have "
            "left the old report's audio there).",
            out_dir,
            len(left),
            ", ".join(p.name for p in left),
        )
    return [(out_dir / "audio").resolve(), *(p.resolve() for p in left)]


def _source_format(path: Path) -> dict:
    """The recording's own rate and channels as its header gives them (the scored reference
    is resampled and mixed to mono): {} where the header cannot be read again."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except (RuntimeError, ValueError, OSError):
        return {}
    return {"source_sample_rate": int(info.samplerate), "source_channels": int(info.channels)}


def _refuse_foreign_files(out_dir: Path, json_path: Path) -> None:
    """Refuses to replace a report whose audio/ or img/ hold files its report.json does not
    name (put there by hand): replacing the folders would delete them.

    Raises:
        FileExistsError: such files (a few named), or no readable report.json to tell by.
    """
    inside = sorted(
        p.relative_to(out_dir).as_posix()
        for sub in ("audio", "img")
        for p in (out_dir / sub).rglob("*")
        if not p.is_dir()
    )
    if not inside:
        return
    try:
        report = json.loads(json_path.read_text(encoding="utf-8"))
        written = {  # a system whose output was not finite has no files (None)
            name
            for utterance in report["utterances"]
            for files in utterance["files"].values()
            if isinstance(files, dict)
            for name in files.values()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise FileExistsError(
            f"{out_dir}: its report.json cannot be read ({type(error).__name__}), so the "
            f"{len(inside)} file(s) in audio/ and img/ cannot be told from files put there by "
            "hand; move them away or choose another report folder."
        ) from None
    foreign = [name for name in inside if name not in written]
    if foreign:
        raise FileExistsError(
            f"{out_dir}: audio/ and img/ hold {len(foreign)} file(s) the report did not write "
            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); replacing the "
            "report would delete them: move them away or choose another report folder."
        )


def _swap_in(staging: Path, out_dir: Path, names: tuple[str, ...]) -> None:
    """Moves `names` from `staging` into `out_dir`, the old ones aside into `staging`; on any
    failure the old ones are put back, so `out_dir` holds one whole report or the other."""
    aside = staging / "replaced"
    aside.mkdir()
    moved_aside, moved_in = [], []
    try:
        for name in names:
            if os.path.lexists(out_dir / name):
                os.replace(out_dir / name, aside / name)
                moved_aside.append(name)
            os.replace(staging / name, out_dir / name)
            moved_in.append(name)
    except BaseException:
        for name in reversed(moved_in):
            os.replace(out_dir / name, staging / name)
        for name in reversed(moved_aside):
            os.replace(aside / name, out_dir / name)
        raise
    sync_folder(out_dir)  # the renames on disk (as `durable_replace` does for one file)


def _write_text_atomic(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        replace_from_temporary(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def require_matplotlib(what: str) -> None:
    """Refuses to start `what` without matplotlib (an extra), before any work.

    Raises:
        ImportError: matplotlib is not installed; the message names the extra to install.
    """
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError(
            f"{what} draws log-mel images with matplotlib, which is not installed: "
            "pip install 'keras-waveglow[eval]'."
        )


def _save_mel_image(mel: np.ndarray, path: Path, title: str, limits: tuple[float, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.0, 1.8), dpi=80)
    axes = figure.add_subplot()
    axes.imshow(mel.T, origin="lower", aspect="auto", vmin=limits[0], vmax=limits[1], cmap="magma")
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("frame", fontsize=7)
    axes.set_ylabel("mel band", fontsize=7)
    axes.tick_params(labelsize=6)
    figure.tight_layout()
    figure.savefig(path)


def _non_finite(audio) -> str | None:
    """None when every sample is finite, else how many are not ("3 NaN of 16000 samples")."""
    audio = np.asarray(audio)
    bad = ~np.isfinite(audio)
    if not bad.any():
        return None
    nan = int(np.isnan(audio).sum())
    inf = int(bad.sum()) - nan
    kinds = " and ".join(
        f"{count} {kind}" for count, kind in ((nan, "NaN"), (inf, "infinite")) if count
    )
    return f"{kinds} of {audio.size} samples"


def metric_band(name: str, sample_rate: int, mel_config: dict | None = None) -> float:
    """The highest frequency (Hz) a reference metric scores, on audio at `sample_rate`.

    PESQ-WB resamples to 16 kHz (8 kHz band), STOI to 10 kHz (5 kHz band), the log-mel stops at
    the mel's `fmax`, MR-STFT and MCD reach half the rate; none beyond half of `sample_rate`.

    Args:
        name: str, one of `BAND_METRICS`.
        sample_rate: int, the rate the audio is scored at.
        mel_config: `mel_spectrogram` settings (for `log_mel_l1`'s `fmax`; missing: its
            default, None: half the rate).

    Returns:
        The band's upper edge in Hz.

    Raises:
        ValueError: `name` is not one of `BAND_METRICS`.

    Example:
        >>> metric_band("pesq_wb", 22050), metric_band("log_mel_l1", 22050, {"fmax": None})
        (8000.0, 11025.0)
    """
    nyquist = sample_rate / 2
    if name == "pesq_wb":
        return min(8000.0, nyquist)
    if name == "stoi":
        return min(5000.0, nyquist)
    if name == "log_mel_l1":
        fmax = _mel_settings(mel_config)["fmax"]
        return nyquist if fmax is None else min(float(fmax), nyquist)
    if name in ("mr_stft", "mcd_db"):
        return nyquist
    raise ValueError(f"metric_band: {name!r} is not one of {BAND_METRICS}.")


def band_limited_rate(sample_rate: int, source_rate: int | None) -> int | None:
    """The rate a metric is scored at, when its band (`metric_band`) reaches above half of it,
    if the recording was made at a lower rate than the model's (None: at the model's rate).

    A recording made at 16 kHz and resampled to 22.05 kHz holds nothing above 8 kHz. A metric
    whose band reaches higher (MR-STFT and MCD, to 11.025 kHz) then scores that empty band
    against whatever a vocoder puts there (WaveGlow's noise; Griffin-Lim, from a mel that stops
    at `fmax`, nothing), and it dominates them: the bundled model's MCD on arctic_a0009 is
    28.7 dB over the whole band and 6.5 dB at the recording's 16 kHz
    (benchmarks/results/eval_arctic_v5{,_spectral_band}_2026-12-07.json). Scored at the
    recording's own rate instead (both signals resampled to it), the band the recording never
    held is left out. PESQ-WB, STOI and the log-mel distance stop lower (`metric_band`): they
    are cut the same way only on recordings made below twice their band (e.g. 8 kHz).

    Args:
        sample_rate: int, the rate the audio is scored at (the model's).
        source_rate: int or None, the rate of the recording file (None: unknown).

    Returns:
        `source_rate` when it is known and lower than `sample_rate`, else None.

    Example:
        >>> band_limited_rate(22050, 16000), band_limited_rate(22050, 44100)
        (16000, None)
    """
    if source_rate is not None and 0 < source_rate < sample_rate:
        return int(source_rate)
    return None


def score_against_reference(
    reference,
    degraded,
    sample_rate: int,
    mel_config: dict,
    names: Sequence[str] | None = None,
    source_rate: int | None = None,
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Every reference-based metric of `degraded` against `reference`.

    Args:
        reference: (T,) float audio, the ground truth.
        degraded: (T,) float audio.
        sample_rate: int, rate of both.
        mel_config: `mel_spectrogram` settings for the log-mel distance.
        names: metrics to compute (names of `METRICS`; the reference-free DNSMOS ones are
            computed by `evaluate`, not here); None computes every available one. Any of
            "f0_rmse_cents", "gpe", "vuv_f1" runs the pitch tracker once for those asked.
        source_rate: int or None, the rate the reference was recorded at. When it is lower
            than `sample_rate`, each metric whose band (`metric_band`) reaches above its half
            is computed on both signals resampled to it (`band_limited_rate`): `mr_stft` and
            `mcd_db` always; PESQ-WB and STOI on recordings made below 16 kHz and 10 kHz;
            `log_mel_l1`, on recordings made below twice `fmax`, over the model's mel bands
            that lie wholly below the recording's half rate. None: everything at
            `sample_rate`.

    Returns:
        `(scores, failures)`: metric name -> value, and metric -> error message for metrics
        whose library failed on this input (they are left out of `scores`).

    Raises:
        ValueError: `reference` or `degraded` holds NaN or infinite samples (no metric is
            meaningful then; several would return NaN or a plausible-looking number), or
            `names` holds a name that is no metric.
    """
    if names is not None:
        unknown = [name for name in names if name not in METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {unknown}; the metrics are {list(METRICS)}.")
    for name, audio in (("reference", reference), ("degraded", degraded)):
        problem = _non_finite(audio)
        if problem:
            raise ValueError(f"the {name} audio is not finite ({problem})")
    if names is None:
        names = available_metrics()[0]
    band_rate = band_limited_rate(sample_rate, source_rate)

    @functools.cache  # once for every metric it cuts
    def band_limited() -> tuple[np.ndarray, np.ndarray, int]:
        if band_rate is None:
            return reference, degraded, sample_rate
        paired = [_resample(audio, sample_rate, band_rate) for audio in _pair(reference, degraded)]
        if len(paired[0]) < 2:
            raise ValueError(
                f"too short to score at the recording's {band_rate} Hz "
                f"({len(paired[0])} samples after resampling)"
            )
        return (*paired, band_rate)

    def cut(name: str) -> bool:
        """Whether metric `name`'s band reaches above the recording's half rate."""
        return band_rate is not None and band_rate / 2 < metric_band(name, sample_rate, mel_config)

    def signals(name: str) -> tuple[np.ndarray, np.ndarray, int]:
        """The pair and its rate that metric `name` is scored on."""
        return band_limited() if cut(name) else (reference, degraded, sample_rate)

    def mr_stft() -> float:
        ref, deg, _ = signals("mr_stft")
        return multi_resolution_stft_distance(ref, deg)

    def mel_l1() -> float:
        # The mel is the model's: cut by its bands, those wholly below the recording's half rate.
        limited = band_rate / 2 if cut("log_mel_l1") else None
        return log_mel_l1(reference, degraded, mel_config, max_frequency=limited)

    tasks = {
        "pesq_wb": lambda: {"pesq_wb": pesq_wb(*signals("pesq_wb"))},
        "stoi": lambda: {"stoi": stoi(*signals("stoi"))},
        "mr_stft": lambda: {"mr_stft": mr_stft()},
        "log_mel_l1": lambda: {"log_mel_l1": mel_l1()},
        "mcd_db": lambda: {"mcd_db": mel_cepstral_distortion(*signals("mcd_db"))},
        "f0_rmse_cents": lambda: f0_metrics(reference, degraded, sample_rate),
    }
    pitch = ("f0_rmse_cents", "gpe", "vuv_f1")  # one task gives all three
    scores, failures = {}, {}
    for key, task in tasks.items():
        if key not in names and not (key == "f0_rmse_cents" and set(pitch) & set(names)):
            continue
        try:
            scores.update(task())
        except Exception as error:  # a metric library failing on one file must not stop the run
            failures[key] = f"{type(error).__name__}: {error}"
    return {k: v for k, v in scores.items() if k in names}, failures


@keeps_pipe_lists  # a list from a pipe, read once for the whole call
def evaluate(
    model,
    files,
    out_dir: str | os.PathLike,
    *,
    weights=None,
    sigma: float = 0.6,
    denoiser_strength: float = 0.0,
    seed: int = 0,
    griffin_lim_iters: int = 32,
    max_files: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    denoiser_mode: str = "zeros",
) -> dict:
    """Copy-synthesis evaluation of a WaveGlow against Griffin-Lim and the ground truth.

    Every file is loaded at the model's sample rate, turned into the model's mel, and vocoded
    by WaveGlow and by Griffin-Lim; both are scored against the original with the metrics of
    this module (those whose packages are missing are skipped with a message). Writes
    `report.json`, `index.html`, `audio/*.wav` and `img/*.png` into `out_dir`.

    Args:
        model: anything `keras_waveglow.vocode` accepts as a model (a `WaveGlow`, a `.keras`
            path, a preset name with `weights`, an NVIDIA checkpoint, None for the default).
        files: an audio file, a directory (searched recursively for wav/flac/ogg), a file
            list (a text file, `.txt`, `.lst`, ...: one path per line, relative to the list's
            folder, as `prepare` writes them; `arctic.read_file_list`), or a list of these.
        out_dir: str or path-like, the report directory.
        weights: `.weights.h5` for a preset-name model. Default None.
        sigma: float, WaveGlow's noise scale. Default 0.6.
        denoiser_strength: float, WaveGlow denoiser strength. Default 0.0.
        denoiser_mode: the denoiser's bias, "zeros" or "silence" (as `vocode`). Default
            "zeros"; recorded in the settings when the denoiser is on.
        seed: int in [0, 2**32), seed of WaveGlow's noise and Griffin-Lim's initial phase.
            Default 0. Each file's seeds are `file_seed(seed, sha256 of its bytes)`: a file
            gets the same noise and initial phase whatever its
            name, the other files of the run and their order, so a subset of a list repeats
            the full list's figures for its files and `compare_reports` pairs each file with
            the same noise. Recorded as `settings["seed_by"] = "content"` (reports written
            before 2026-12-07 seeded the k-th file scored with `[seed, k]` and `seed + k`:
            "position").
        griffin_lim_iters: int, Griffin-Lim iterations. Default 32.
        max_files: int or None, evaluate only the first this many files found (sorted; a file
            given twice counts once, one that fails counts). Default None.
        overwrite: bool, replace an existing report in `out_dir`. Default False. The new
            report (audio, images, report.json, index.html) is written whole into a hidden
            folder there, then moved in, the old one moved out (and back if a move fails):
            an interrupted run leaves the old report whole, and only a kill during the moves
            leaves the hidden folder behind (warned about by the next run there).
        progress: bool, show a tqdm progress bar. Default True.

    Returns:
        The report dict (as written to `report.json`): `model` (class, source, whether it was
        the default model, sample rate, parameters, and the weights file read with its sha256),
        `systems` (per system and metric the mean, 95 % interval and count), `by_folder` (the
        same per folder of the inputs, see `summarize_by_folder`), `utterances` (per file: `id`,
        `source` (relative to the working folder when inside it), `source_resolved` (absolute),
        `source_sha256` (of the file's bytes; `compare_reports` pairs files by these two),
        `duration_s`, `metrics`, `errors`, `clipped_samples` ({system: samples beyond
        [-1, 1]}, for systems that had any: the saved WAV is clipped there, while the
        metrics are of the output as produced) and `files`), `skipped_metrics`, `failed_files`,
        `settings` (including `mr_stft_floor`, the MR-STFT definition) and `paths` (None
        when no file could be scored: nothing is written then, and `out_dir` is untouched;
        each failure is in `failed_files`, as (path, reason), and is logged as a warning when
        it happens, on a record whose `IN_REPORT` attribute is True). A system
        whose output holds NaN or infinite samples for a file (a diverged model) gets only its
        `rtf` there, the error `"<system>/output"`, and no audio or image (`files[system]` is
        None); the run goes on.

    Raises:
        FileExistsError: `out_dir` holds a report and `overwrite` is False, or holds an
            audio/ or img/ folder with no report beside it (never replaced). Both checked
            before the model is loaded.
        NotADirectoryError: `out_dir` is an existing file or lies under one (refused before
            the model is loaded).
        PermissionError: `out_dir` (or where it would be made) is not writable (as early).
        FileNotFoundError: an input path does not exist.
        ValueError: no audio files were found, or a bad setting (sigma, denoiser_strength,
            griffin_lim_iters, max_files, seed), refused before anything is loaded or written.
        RuntimeError: the first `SYSTEMATIC_FAILURES` (3) files failed alike after loading
            (e.g. an unwritable folder): nothing is written.
        ImportError: matplotlib (the `eval` extra) is missing; checked first.

    Example:
        >>> report = evaluate("waveglow.keras", "data/cmu_us_slt_arctic/wav", "report/")
        >>> report["systems"]["waveglow"]["pesq_wb"]["mean"]
    """
    from keras import ops

    from keras_waveglow.audio import load_speech, mel_spectrogram, save_audio
    from keras_waveglow.inference import (
        _check_denoiser_mode,
        _check_settings,
        load_vocoder,
        own_mels,
        runner_for,
        vocode,
    )

    if max_files is not None and max_files < 1:
        raise ValueError(f"max_files must be >= 1 (or None for all); got {max_files}.")
    require_matplotlib("evaluate")  # every file's log-mel image; each file failed without it
    seed = _checks.count("seed", seed, 0)  # before the model loads, as typed
    if seed >= 2**32:  # NumPy's RandomState (Griffin-Lim's phase) takes 32-bit words
        raise ValueError(f"seed must be below 2**32; got {seed}.")
    _check_settings(sigma, denoiser_strength, batch_size=1)  # as vocode would, but now
    _check_denoiser_mode(denoiser_mode)
    if isinstance(griffin_lim_iters, bool) or operator.index(griffin_lim_iters) < 1:
        raise ValueError(
            f"griffin_lim_iters must be >= 1 (0 would leave the baseline's phase random); got "
            f"{griffin_lim_iters}."
        )
    out_dir = Path(out_dir)
    made_out_dir = not out_dir.exists()  # removed again if no report is written into it
    _check_report_folder(out_dir)
    json_path, html_path = out_dir / "report.json", out_dir / "index.html"
    existing = [p for p in (json_path, html_path, out_dir / "audio", out_dir / "img") if p.exists()]
    if existing and not (json_path.exists() or html_path.exists()):
        # audio/ or img/ without a report beside them: someone's own folder, never replaced.
        raise FileExistsError(
            f"{out_dir} holds a folder {existing[0].name}/ that is not a report's (no "
            "report.json or index.html beside it): choose another report folder."
        )
    if existing and not overwrite:
        raise FileExistsError(
            f"{out_dir} already holds a report ({existing[0].name}); pass overwrite=True "
            "(--overwrite) to replace it."
        )
    if existing:  # replacing swaps out audio/ and img/ whole: only what the report wrote
        _refuse_foreign_files(out_dir, json_path)
    # A report folder inside the data folder: the audio it wrote (or is writing) is not data.
    own = _own_output_folders(out_dir)
    reports_left_out: list[tuple[Path, int]] = []
    paths = [
        p
        for p in _find_audio(files, reports_left_out)
        if not any(p.resolve().is_relative_to(o) for o in own)
    ]
    paths = once_each(paths)
    if max_files is not None:
        paths = paths[:max_files]
    if not paths:
        also = "".join(
            f"; {count} file(s) under the report folder {report} left out (a report's copies)"
            for report, count in reports_left_out
        )
        raise ValueError(f"no audio files (wav, flac, ogg) found in {files}{also}.")
    waveglow = load_vocoder(model, weights)  # after the data: a bad list costs no model load

    # The new audio/ and img/ are written into a hidden folder in out_dir, made at the first
    # file scored (a run that scores none changes nothing), and swapped in for the old ones
    # when the report is complete: an interrupted run leaves the old report as it was.
    staging = None

    def prepare_out_dir() -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out_dir))
        for sub in ("audio", "img"):
            (folder / sub).mkdir()
        return folder

    names, skipped = available_metrics()
    for reason, metrics in _group_by_reason(skipped).items():
        logger.warning("skipped %s: %s", ", ".join(metrics), reason)
    mel_config = dict(waveglow.mel_config)
    sample_rate = waveglow.sample_rate
    runner = runner_for(waveglow)

    def score_file(path: Path, reference: np.ndarray, utt_id: str, first: bool) -> dict:
        """Vocodes and scores one loaded file; writes its audio and images into the staging
        folder. Its noise and Griffin-Lim phase are seeded by its bytes (`file_seed`); `first`:
        no file was scored before it (librosa's caches are set up outside the timing)."""
        nonlocal staging
        digest = _file_sha256(path)
        file_seeds = file_seed(seed, digest)
        source_format = _source_format(path)
        band_rate = band_limited_rate(sample_rate, source_format.get("source_sample_rate"))
        mel = ops.convert_to_numpy(mel_spectrogram(reference, **mel_config))
        duration = len(reference) / sample_rate

        def synthesize(mel=mel):
            with own_mels():  # its own (frames, n_mels) mel: an 80-frame one is not in doubt
                return vocode(
                    mel,
                    waveglow,
                    sigma=sigma,
                    denoiser_strength=denoiser_strength,
                    denoiser_mode=denoiser_mode,
                    seed=file_seeds,
                    return_sample_rate=False,
                )

        traces = runner.trace_count
        start = time.perf_counter()
        generated = synthesize()
        elapsed = time.perf_counter() - start
        if runner.trace_count != traces:  # that call compiled: time a compiled one
            start = time.perf_counter()
            generated = synthesize()
            elapsed = time.perf_counter() - start
        audio = {"ground_truth": reference, "waveglow": generated[: len(reference)]}
        rtf = {"waveglow": elapsed / duration}
        if first:  # librosa's first call sets up caches: keep it out of the timing
            griffin_lim(mel[:16], mel_config, n_iter=1, seed=seed)
        start = time.perf_counter()
        audio["griffin_lim"] = griffin_lim(
            mel, mel_config, n_iter=griffin_lim_iters, seed=file_seeds, length=len(reference)
        )
        rtf["griffin_lim"] = (time.perf_counter() - start) / duration

        metrics = {system: {} for system in SYSTEMS}
        errors = {}
        # A diverged model's NaN (or inf) output: that system is not scored, nor saved, for
        # this file, and the run goes on.
        unusable = {}
        for system in ("griffin_lim", "waveglow"):
            problem = _non_finite(audio[system])
            if problem:
                unusable[system] = f"non-finite output ({problem}); not scored or saved"
                errors[f"{system}/output"] = unusable[system]
                logger.warning("%s: %s %s", path, system, unusable[system])
        # Scored as produced; the saved WAV is clipped to [-1, 1], so how many samples that
        # changed is recorded. Scoring the clipped audio instead lowered the baseline: fast
        # Griffin-Lim overshoots on loud recordings, and clipping took its PESQ-WB on 12
        # klettres files from 3.09 to 3.06 (benchmarks/results/
        # learning_curves_klettres_v5mixcs_step10000_scored_clipped_2026-12-06.jsonl).
        clipped = {}
        for system in ("griffin_lim", "waveglow"):
            if system not in unusable:
                over = int(np.count_nonzero(np.abs(audio[system]) > 1.0))
                if over:
                    clipped[system] = over
        for system in ("griffin_lim", "waveglow"):
            values = metrics[system]
            values["rtf"] = rtf[system]
            if system in unusable:
                continue
            scores, failures = score_against_reference(
                reference, audio[system], sample_rate, mel_config, names, band_rate
            )
            values.update(scores)
            for key, message in failures.items():
                errors[f"{system}/{key}"] = message
                logger.warning("%s: %s/%s failed: %s", path, system, key, message)
        usable = [system for system in SYSTEMS if system not in unusable]
        if "dnsmos_ovrl" in names:
            for system in usable:
                try:
                    metrics[system].update(dnsmos(audio[system], sample_rate))
                except Exception as error:  # as above: report, keep going
                    errors[f"{system}/dnsmos"] = f"{type(error).__name__}: {error}"

        files_out = {system: None for system in SYSTEMS}
        mels = {
            system: ops.convert_to_numpy(mel_spectrogram(audio[system], **mel_config))
            for system in usable
        }
        limits = (float(np.log(1e-5)), float(max(m.max() for m in mels.values())))
        if staging is None:
            staging = prepare_out_dir()
        for system in usable:
            wav = Path("audio") / f"{utt_id}_{system}.wav"
            png = Path("img") / f"{utt_id}_{system}.png"
            saved = np.clip(audio[system], -1.0, 1.0)  # the ground truth may exceed 1 too
            save_audio(staging / wav, saved, sample_rate, overwrite=True)
            _save_mel_image(mels[system], staging / png, SYSTEM_LABELS[system], limits)
            files_out[system] = {"audio": wav.as_posix(), "mel_image": png.as_posix()}
        return {
            "id": utt_id,
            "source": _display_path(path),
            "source_resolved": str(path.resolve()),
            "source_sha256": digest,
            **source_format,
            **({"band_limited_rate": band_rate} if band_rate is not None else {}),
            "duration_s": duration,
            "metrics": metrics,
            "errors": errors,
            "clipped_samples": clipped,
            "files": files_out,
        }

    iterator = paths
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="evaluate", unit="file")
    try:
        utterances, failed, used_ids, alike = [], [], set(), []
        for path in iterator:
            try:
                reference, _ = load_speech(path, mel_config)
                if len(reference) <= mel_config["n_fft"] // 2:
                    raise ValueError(f"too short ({len(reference)} samples)")
                if not np.max(np.abs(reference)) >= 1 / 32768:
                    # every metric against it would be noise: nothing to score against
                    raise ValueError("silent (every sample below one 16-bit step)")
            except (OSError, ValueError) as error:
                reason = reason_without_path(error, path)
                failed.append((str(path), reason))
                logger.warning("skipping %s: %s", path, reason, extra={IN_REPORT: True})
                continue
            utt_id = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
            if len(utt_id) > 100:  # its files' names stay far below 255 bytes
                utt_id = f"{utt_id[:100]}-{hashlib.sha256(path.stem.encode()).hexdigest()[:8]}"
            while utt_id in used_ids:
                utt_id += "_"
            used_ids.add(utt_id)
            try:
                utterances.append(score_file(path, reference, utt_id, not utterances))
            except Exception as error:  # one file's failure (memory, a backend error) must not
                # lose the others: it is reported as a load failure is, and the run goes on.
                reason = f"{type(error).__name__} while vocoding or scoring: {error}"
                failed.append((str(path), reason))
                logger.warning("skipping %s: %s", path, reason, extra={IN_REPORT: True})
                logger.debug("%s failed:", path, exc_info=True)
                if staging is not None:  # what this file wrote before it failed
                    for system in SYSTEMS:
                        for written in (
                            staging / "audio" / f"{utt_id}_{system}.wav",
                            staging / "img" / f"{utt_id}_{system}.png",
                        ):
                            with contextlib.suppress(OSError):  # the run goes on regardless
                                written.unlink(missing_ok=True)
                if not utterances:  # the same error on the first files: not one file's problem
                    alike.append((type(error), reason_without_path(error, path)))
                    if len(alike) == SYSTEMATIC_FAILURES and len(set(alike)) == 1:
                        raise RuntimeError(
                            f"the first {len(alike)} files failed alike after loading "
                            f"({type(error).__name__}: {alike[0][1]}): stopped, as every file "
                            "would; nothing was written."
                        ) from error

        report = {
            "model": {
                "class": type(waveglow).__name__,
                **_model_source(model),
                "sample_rate": sample_rate,
                "parameters": int(waveglow.count_params()),
                **_weights_record(model, weights),
            },
            "settings": {
                "sigma": sigma,
                "denoiser_strength": denoiser_strength,
                **({"denoiser_mode": denoiser_mode} if denoiser_strength > 0 else {}),
                "seed": seed,
                "seed_by": "content",
                "griffin_lim_iters": griffin_lim_iters,
                "griffin_lim_momentum": GRIFFIN_LIM_MOMENTUM,
                "mel_config": mel_config,
                "mr_stft_resolutions": [list(r) for r in MR_STFT_RESOLUTIONS],
                "mr_stft_floor": MR_STFT_FLOOR,
                "mcd_order": MCD_ORDER,
                "spectral_band": SPECTRAL_BAND,
                "f0_frame_period_ms": F0_FRAME_PERIOD_MS,
                # The pyin fallback's name carries its frame rule: a report that says only
                # "librosa.pyin" used longer frames (`compare` leaves its voicing out).
                "f0_extractor": (
                    "pyworld" if _try_import("pyworld") is not None else PYIN_EXTRACTOR
                ),
            },
            "metrics": {
                name: {"label": label, "higher_is_better": up}
                for name, (label, up) in METRICS.items()
            },
            "systems": _system_summaries(utterances),
            "by_folder": summarize_by_folder(utterances),
            "utterances": utterances,
            "skipped_metrics": skipped,
            "failed_files": failed,
            "paths": {"json": str(json_path), "html": str(html_path)},
        }
        if not utterances:
            logger.error(
                "no file could be scored (%d failed); no report written to %s.",
                len(failed),
                out_dir,
                extra={IN_REPORT: True},
            )
            report["paths"] = None
            return _json_safe(report)
        report = _json_safe(report)
        # The whole new report is in the staging folder before anything of the old one moves.
        _write_text_atomic(staging / json_path.name, json.dumps(report, indent=2))
        _write_text_atomic(staging / html_path.name, report_html(report))
        _swap_in(staging, out_dir, ("audio", "img", html_path.name, json_path.name))
        return report
    finally:  # the new files when the run stopped early, the old ones when it finished
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if made_out_dir and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()  # no report in it: as it was, absent


def _model_source(model) -> dict:
    """What was scored: the spec given, else the default model's (with "default_model" set)."""
    from keras_waveglow import inference

    default = model is None
    if default:
        model = inference._default_spec()
    model, _ = inference._split_spec(model, None)  # a (preset, weights) spec: the preset
    source = "WaveGlow object" if hasattr(model, "get_config") else str(model)
    return {"source": source, "default_model": default}


def _weights_record(model, weights) -> dict:
    """The file a model's weights were read from, and its sha256 (None when not one file).

    A `.weights.h5` given with a preset, a `.keras` file or NVIDIA checkpoint, or the file of
    a preset with weights (bundled, or converted into the cache). A `WaveGlow` object or the
    default model set in memory has no file.
    """
    from keras_waveglow import hub, inference
    from keras_waveglow.presets import PRESETS, WEIGHTS

    if model is None:  # the default model, as load_vocoder resolves it
        model = inference._default_spec(weights)
    model, weights = inference._split_spec(model, weights)
    path = None
    if weights is not None:
        path = Path(weights)
    elif isinstance(model, str | os.PathLike):
        spec = os.fspath(model)
        if spec in PRESETS and not Path(spec).exists():
            if spec in WEIGHTS:
                try:  # loaded already, so this finds the file without a download
                    path = hub.preset_weights_file(spec, allow_unverified=True, progress=False)
                except (OSError, ValueError, ImportError, RuntimeError):  # a record: never fatal
                    path = None
        else:
            path = Path(spec)
    if path is None or not path.is_file():
        return {"weights": None, "weights_sha256": None}
    return {"weights": str(path), "weights_sha256": _file_sha256(path)}


def _file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes (`data.arctic.file_sha256`, the project's one reader;
    a name of its own here so a test can stand in for it)."""
    from keras_waveglow.data.arctic import file_sha256

    return file_sha256(path)


def file_seed(seed: int, sha256: str) -> list[int]:
    """The seeds `evaluate` gives one file: `seed`, then the first 8 bytes of the sha256 of its
    bytes as two 32-bit words.

    Args:
        seed: int in [0, 2**32), the run's seed.
        sha256: the file's hex sha256 (as `report.json`'s `source_sha256`).

    Returns:
        `[seed, word0, word1]`: WaveGlow's noise is `np.random.default_rng` of it and
        Griffin-Lim's phase `np.random.RandomState` of it.

    Example:
        >>> file_seed(0, "00000001" + "ff" * 4 + "0" * 48)
        [0, 1, 4294967295]
    """
    words = bytes.fromhex(sha256[:16])
    return [int(seed), int.from_bytes(words[:4], "big"), int.from_bytes(words[4:], "big")]


def _system_summaries(utterances: Sequence[dict]) -> dict[str, dict[str, dict]]:
    """Per system and metric, the mean and 95 % interval over `utterances`."""
    systems = {}
    for system in SYSTEMS:
        summary = {}
        for name in METRICS:
            values = [u["metrics"].get(system, {}).get(name) for u in utterances]
            if any(v is not None for v in values):
                summary[name] = confidence_interval(values, bounds=METRIC_BOUNDS[name])
        systems[system] = summary
    return systems


def _folder_names(utterances: Sequence[dict]) -> list[str]:
    """Each utterance's folder, named below the folder all of them share (see below)."""
    import posixpath

    parents = [posixpath.dirname(Path(u["source"]).as_posix()) for u in utterances]
    try:
        common = posixpath.commonpath(parents) if parents else ""
    except ValueError:  # absolute and relative paths mixed: keep whole parents
        common = None
    names = []
    for parent in parents:
        if common is None:
            names.append(parent or ".")
        elif len(set(parents)) == 1:
            names.append(posixpath.basename(parent) or ".")
        else:
            # Files in the shared root itself are its folder "." (as one parent is).
            names.append(posixpath.relpath(parent, common) if common else parent or ".")
    return names


def summarize_by_folder(report_or_utterances) -> dict[str, dict]:
    """The report's summaries per folder of the input files (per speaker in `prepare`'s layout).

    A folder is named by its path below the folder all inputs share (`de`, `pt_BR` for
    `klettres/eval.txt`; `cmu_us_awb_arctic/wav` for the bundled ARCTIC sample); with one folder
    only, by its own name. Works on any report's `utterances`, as their `source` is kept.

    Args:
        report_or_utterances: a report dict (as `evaluate` returns or `report.json` holds), or
            its list of utterances.

    Returns:
        `{folder: {"n": files, "systems": {system: {metric: {"mean", "low", "high", "n"}}}}}`,
        folders sorted by name.

    Example:
        >>> report = json.load(open("report/report.json"))
        >>> for folder, part in summarize_by_folder(report).items():
        ...     print(folder, part["n"], part["systems"]["waveglow"]["pesq_wb"]["mean"])
    """
    utterances = report_or_utterances
    if isinstance(utterances, dict):
        utterances = utterances["utterances"]
    groups: dict[str, list[dict]] = {}
    for key, utt in zip(_folder_names(utterances), utterances, strict=True):
        groups.setdefault(key, []).append(utt)
    return {
        key: {"n": len(members), "systems": _system_summaries(members)}
        for key, members in sorted(groups.items())
    }


def _folders_of(report: dict) -> dict[str, dict]:
    """The report's `by_folder`, made from its utterances for a report written before it."""
    folders = report.get("by_folder")
    return summarize_by_folder(report) if folders is None else folders


def format_summary(report: dict) -> str:
    """A plain-text table of a report: WaveGlow and Griffin-Lim, overall and per folder.

    Args:
        report: a report dict (as `evaluate` returns or `report.json` holds).

    Returns:
        Lines of text: a header, the overall means of `FOLDER_TABLE_METRICS` per system, and
        when the inputs span more than one folder a line per folder and system. A mean taken
        over fewer files than its row's count (a metric that failed on some files, or a
        non-finite output) is shown with its count, `1.03 (n=2)`, and named after the table
        with the means of both systems over the files both were scored on: means over
        different files are not a comparison.

    Example:
        >>> print(format_summary(json.load(open("report/report.json"))))
    """
    # A metric either system has: one WaveGlow has no value of (every output non-finite, a
    # diverged model) still shows Griffin-Lim's, with "-" for WaveGlow's.
    names = [
        n
        for n in FOLDER_TABLE_METRICS
        if any(n in report["systems"].get(system, {}) for system in ("waveglow", "griffin_lim"))
    ]
    labels = [report["metrics"][n]["label"] for n in names]
    folders = _folders_of(report)
    if len(folders) < 2:
        folders = {}
    width = max([len("  Griffin-Lim"), *(len(folder) + 1 for folder in folders)])
    header = f"{'':<{width}}  {'files':>5}" + "".join(f"  {label:>12}" for label in labels)

    def line(title: str, n: int, systems: dict, system: str) -> str:
        cells = []
        for name in names:
            summary = systems.get(system, {}).get(name, {})
            mean = summary.get("mean")
            text = "-" if mean is None else f"{mean:.2f}"
            if mean is not None and summary.get("n", n) < n:
                text += f" (n={summary['n']})"
            cells.append(f"  {text:>12}")
        return f"{title:<{width}}  {n:>5}" + "".join(cells)

    utterances = report["utterances"]
    n_all = len(utterances)
    lines = [header]
    for system in ("waveglow", "griffin_lim"):
        lines.append(line(SYSTEM_LABELS[system], n_all, report["systems"], system))
    for folder, part in folders.items():
        lines.append(f"{folder}:")
        for system in ("waveglow", "griffin_lim"):
            lines.append(line("  " + SYSTEM_LABELS[system], part["n"], part["systems"], system))
    pair = ("waveglow", "griffin_lim")
    for name, label in zip(names, labels, strict=True):
        counts = {s: report["systems"].get(s, {}).get(name, {}).get("n", 0) for s in pair}
        if counts["waveglow"] == counts["griffin_lim"] == n_all:
            continue
        both = [
            u["metrics"]
            for u in utterances
            if all(u["metrics"].get(s, {}).get(name) is not None for s in pair)
        ]
        lines.append(
            f"{label}: WaveGlow scored on {counts['waveglow']} of {n_all} files, Griffin-Lim "
            f"on {counts['griffin_lim']} (see report.json)."
        )
        if both:
            means = {s: float(np.mean([m[s][name] for m in both])) for s in pair}
            lines.append(
                f"  on the {len(both)} files both were scored on: WaveGlow "
                f"{means['waveglow']:.2f}, Griffin-Lim {means['griffin_lim']:.2f}"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Comparing two reports, utterance by utterance
# --------------------------------------------------------------------------------------------


def load_report(path: str | os.PathLike) -> dict:
    """Reads a `report.json` that `evaluate` wrote (or the folder holding it).

    Args:
        path: the JSON file, or the report folder.

    Returns:
        The report dict.

    Raises:
        ValueError: the file is missing, is not JSON, or is not an evaluation report (no
            `utterances` list, an utterance without a string `source` or a dict of numeric
            `metrics`, a `model`, `settings` or `paths` that is not an object); the message
            names the file.

    Example:
        >>> report = load_report("eval_klettres")  # eval_klettres/report.json
    """
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such report (give report.json or its folder)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable JSON report ({error})") from None
    _check_report(report, path)
    report.setdefault("paths", {})["json"] = str(path)
    return report


def _check_report(report, path) -> None:
    """Refuses what is not an evaluation report (see `load_report`), named by `path`. A
    `paths` of None is `evaluate`'s own result when no file could be scored."""
    if not isinstance(report, dict) or not isinstance(report.get("utterances"), list):
        raise ValueError(f"{path}: not a keras-waveglow evaluation report (no 'utterances' list)")
    for key in ("model", "settings", "paths"):
        if key == "paths" and report.get(key, {}) is None:
            continue
        if key in report and not isinstance(report[key], dict):
            raise ValueError(
                f"{path}: malformed report: {key!r} must be an object, not "
                f"{type(report[key]).__name__} {report[key]!r:.40}"
            )
    # The fields `compare` reads for the band each metric covers: a wrong type failed there with
    # a bare TypeError that named no file.
    for key, field, kinds in (
        ("model", "sample_rate", (int, float)),
        ("settings", "mel_config", (dict,)),
        ("settings", "spectral_band", (str,)),
    ):
        value = (report.get(key) or {}).get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise ValueError(
                f"{path}: malformed report: {key}.{field} is {type(value).__name__} {value!r:.40}"
            )
    for utt in report["utterances"]:
        if not isinstance(utt, dict) or "source" not in utt or "metrics" not in utt:
            raise ValueError(f"{path}: an utterance without 'source' or 'metrics': {utt!r:.80}")
        metrics = utt["metrics"]
        if not isinstance(utt["source"], str) or not isinstance(metrics, dict):
            raise ValueError(f"{path}: utterance {utt['source']!r:.60}: malformed 'metrics'")
        for key in _IDENTITY_KEYS:
            if key in utt and not isinstance(utt[key], str):
                raise ValueError(
                    f"{path}: utterance {utt['source']!r:.60}: {key!r} is not a string"
                )
        rate = utt.get("band_limited_rate")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)):
            raise ValueError(
                f"{path}: utterance {utt['source']!r:.60}: 'band_limited_rate' is not a number"
            )
        for system, values in metrics.items():
            if not isinstance(values, dict) or not all(
                v is None or (isinstance(v, int | float) and not isinstance(v, bool))
                for v in values.values()
            ):
                raise ValueError(
                    f"{path}: utterance {utt['source']!r:.60}: the {system!r} scores are not "
                    "numbers"
                )


# What identifies a source file in reports that record it (see `_pair_utterances`).
_IDENTITY_KEYS = ("source_sha256", "source_resolved")


def _pair_utterances(
    base: Sequence[dict], new: Sequence[dict]
) -> tuple[list[tuple[int, int]], str]:
    """(base index, new index) of the utterances that are the same file, and how they were found.

    When every utterance of both reports records `source_sha256` and `source_resolved`
    (reports written since they exist), two utterances are the same file when the files'
    bytes have the same sha256, wherever they were read from (a relative or absolute
    `--data`, another working folder, another machine); where a digest is found more than once
    on a side (a file listed twice, copies), only utterances of the same resolved path pair.
    Otherwise (an older report on either side) by the displayed `source`, with
    `_pair_by_path_tail`.

    Returns:
        `(pairs, how)`: pairs in the order of `new`, and "content (sha256)" or "path tail".
    """
    if all(key in u for u in (*base, *new) for key in _IDENTITY_KEYS):
        return _pair_by_content(base, new), "content (sha256)"
    return _pair_by_path_tail(base, new), "path tail"


def _pair_by_content(base: Sequence[dict], new: Sequence[dict]) -> list[tuple[int, int]]:
    from collections import Counter

    groups: dict[str, tuple[list[int], list[int]]] = {}
    for side, utterances in enumerate((base, new)):
        for index, utt in enumerate(utterances):
            groups.setdefault(utt["source_sha256"], ([], []))[side].append(index)
    pairs = []
    for base_ids, new_ids in groups.values():
        if len(base_ids) == 1 and len(new_ids) == 1:
            pairs.append((base_ids[0], new_ids[0]))
            continue
        base_paths = Counter(base[i]["source_resolved"] for i in base_ids)
        new_paths = {new[j]["source_resolved"]: j for j in new_ids}
        new_counts = Counter(new[j]["source_resolved"] for j in new_ids)
        for i in base_ids:
            resolved = base[i]["source_resolved"]
            if base_paths[resolved] == 1 and new_counts[resolved] == 1:
                pairs.append((i, new_paths[resolved]))
    return sorted(pairs, key=lambda pair: pair[1])


def _pair_by_path_tail(base: Sequence[dict], new: Sequence[dict]) -> list[tuple[int, int]]:
    """Pairs of an older report, written without the files' digests and resolved paths.

    Two sources name the same file when one path, component by component, is a tail of the
    other: `klettres/de/a.wav` pairs with `/data/klettres/de/a.wav`, and `de/a.wav` never with
    `it/a.wav`. A pair counts only when each side has no other such match: `a.wav` against
    both `de/a.wav` and `it/a.wav` stays unpaired. (The displayed paths are relative to the
    folder `evaluate` ran in, so this can miss files, or pair two files that share a tail.)
    """
    base_parts = [tuple(Path(u["source"]).parts) for u in base]
    whole: dict[tuple[str, ...], list[int]] = {}
    tails: dict[tuple[str, ...], list[int]] = {}
    for i, parts in enumerate(base_parts):
        whole.setdefault(parts, []).append(i)
        for k in range(1, len(parts) + 1):
            tails.setdefault(parts[-k:], []).append(i)
    candidates: list[set[int]] = []
    claims: dict[int, int] = {}
    for utt in new:
        parts = tuple(Path(utt["source"]).parts)
        found = set(tails.get(parts, ()))  # base paths that end with this one
        for k in range(1, len(parts) + 1):  # base paths this one ends with
            found.update(whole.get(parts[-k:], ()))
        candidates.append(found)
        for i in found:
            claims[i] = claims.get(i, 0) + 1
    pairs = []
    for j, found in enumerate(candidates):
        if len(found) == 1:
            (i,) = found
            if claims[i] == 1:
                pairs.append((i, j))
    return pairs


def _paired_differences(
    pairs: Sequence[tuple[dict, dict]], names: Sequence[str], level: float
) -> dict[str, dict]:
    out = {}
    for name in names:
        higher_is_better = METRICS[name][1]
        base_values, new_values = [], []
        for base_m, new_m in pairs:
            b, n = base_m.get(name), new_m.get(name)
            if b is None or n is None or not (np.isfinite(b) and np.isfinite(n)):
                continue
            base_values.append(float(b))
            new_values.append(float(n))
        if not base_values:
            continue
        base_arr, new_arr = np.asarray(base_values), np.asarray(new_values)
        difference = confidence_interval(new_arr - base_arr, level=level)
        gain = (new_arr - base_arr) * (1.0 if higher_is_better else -1.0)
        low, high = difference["low"], difference["high"]
        if low is None:
            verdict = None
        elif low > 0 or high < 0:
            verdict = "better" if (low > 0) == higher_is_better else "worse"
        else:
            verdict = "no clear difference"
        out[name] = {
            "n": len(base_values),
            "base_mean": float(base_arr.mean()),
            "new_mean": float(new_arr.mean()),
            "difference": difference,
            "new_better": int((gain > 0).sum()),
            "ties": int((gain == 0).sum()),
            "new_worse": int((gain < 0).sum()),
            "higher_is_better": higher_is_better,
            "verdict": verdict,
        }
    return out


def compare_reports(
    base,
    new,
    system: str = "waveglow",
    base_system: str | None = None,
    level: float = 0.95,
) -> dict:
    """Two evaluation reports compared utterance by utterance (paired differences).

    Two models scored on the same files differ by less than either's spread over the files,
    so their separate intervals overlap where the paired one does not: this pairs each file
    of `new` with the same file in `base` (by the sha256 of its bytes, or for a report written
    before that was recorded by the tail of its path; see `_pair_utterances`) and gives, per
    metric, the mean of new - base with its Student-t interval, how many files got better and
    worse, and a verdict: "better" or "worse" when the interval excludes zero (in the metric's
    direction), else "no clear difference". Settings that differ (sigma, seed, mel,
    Griffin-Lim iterations) are listed: the comparison is then of models and settings
    together. A metric whose definition differs is left out instead: `mr_stft` between a report
    written with its older magnitude floor (no `settings["mr_stft_floor"]`) and a newer one;
    the pitch, voicing and MCD metrics when `settings["f0_extractor"]` differs (pyworld or
    librosa's pyin); any of `BAND_METRICS` when a paired file was scored over a different band
    for it (`metric_band` cut at the recording's half rate by one report's
    `settings["spectral_band"]` rule and not by the other's, or models of different rates);
    `log_mel_l1` when `settings["mel_config"]` differs.

    Args:
        base: the report to compare against: a dict, a `report.json` path or its folder.
        new: the other report (may be the same one, with another `system`).
        system: the system of `new` to compare ("waveglow", "griffin_lim").
        base_system: the system of `base`; default `system`.
        level: confidence level of the intervals. Default 0.95.

    Returns:
        `{"base": {"path", "model", "weights_sha256", "system", "n"}, "new": {...}, "n_paired",
        "paired_by" ("content (sha256)" or "path tail"), "only_in_base", "only_in_new"
        (sources), "settings_differences" ({key: [base, new]}), "metrics_left_out" ({metric:
        why}), "metrics": {metric: {"n", "base_mean", "new_mean", "difference": {"mean", "low",
        "high", "n"}, "new_better", "ties", "new_worse", "higher_is_better", "verdict"}},
        "by_folder": {folder of new: {"n", "metrics": {...}}} (empty when `new`'s files
        are in one folder), "level"}`.

    Raises:
        ValueError: a report cannot be read, a system is unknown, no file is in both, or
            `level` is not in (0, 1).

    Example:
        >>> result = compare_reports("eval_bundled", "eval_candidate")
        >>> pesq = result["metrics"]["pesq_wb"]
        >>> pesq["difference"]["mean"], pesq["verdict"]
    """
    base_system = base_system or system
    level = _checks.finite("level", level, positive=True)
    if not level < 1:  # 95 for 0.95 gave NaN intervals, "no clear difference" and invalid JSON
        raise ValueError(f"level must be a confidence level in (0, 1), e.g. 0.95; got {level}.")
    for which, report in (("base", base), ("new", new)):
        if not isinstance(report, dict | str | os.PathLike):
            raise ValueError(
                f"{which}: a report dict, report.json or its folder; got {type(report).__name__}"
            )
    for name, report in (("base report", base), ("new report", new)):
        if isinstance(report, dict):  # as `evaluate` returned it: checked as a file is
            _check_report(report, name)
    base = base if isinstance(base, dict) else load_report(base)
    new = new if isinstance(new, dict) else load_report(new)
    base_name = (base.get("paths") or {}).get("json", "base report")
    new_name = (new.get("paths") or {}).get("json", "new report")
    for name, report, chosen in ((base_name, base, base_system), (new_name, new, system)):
        if chosen not in SYSTEMS or chosen == "ground_truth":
            raise ValueError(f"unknown system {chosen!r}; expected 'waveglow' or 'griffin_lim'")
        if not any(chosen in u["metrics"] for u in report["utterances"]):
            raise ValueError(f"{name}: no utterance has scores for {chosen!r}")
    base_utts, new_utts = base["utterances"], new["utterances"]
    pairs, paired_by = _pair_utterances(base_utts, new_utts)
    if not pairs:
        how = (
            "by the sha256 of each source file"
            if paired_by.startswith("content")
            else "by the tail of each source path"
        )
        raise ValueError(
            f"{base_name} and {new_name} share no file (compared {how}, e.g. "
            f"{base_utts[0]['source'] if base_utts else 'none'!r} and "
            f"{new_utts[0]['source'] if new_utts else 'none'!r})"
        )
    paired_base = {i for i, _ in pairs}
    paired_new = {j for _, j in pairs}
    # A report without the field computed mr_stft with the magnitude floored at 1e-7.
    # A report without the momentum ran librosa's default, the same 0.99.
    # A report without "seed_by" seeded its k-th file with (seed, k).
    defaults = {
        "mr_stft_floor": MR_STFT_OLD_FLOOR,
        "griffin_lim_momentum": GRIFFIN_LIM_MOMENTUM,
        "seed_by": "position",
        "spectral_band": SPECTRAL_BAND_OLD,
    }
    base_settings = {**defaults, **(base.get("settings") or {})}
    new_settings = {**defaults, **(new.get("settings") or {})}
    left_out = {}
    if base_settings["mr_stft_floor"] != new_settings["mr_stft_floor"]:
        left_out["mr_stft"] = (
            f"{base_name} floors the STFT at {base_settings['mr_stft_floor']!r}, {new_name} at "
            f"{new_settings['mr_stft_floor']!r} (settings 'mr_stft_floor'; a report without it "
            f"is {MR_STFT_OLD_FLOOR!r}): the values are not comparable; evaluate again to "
            "compare them"
        )
    # Pitch, voicing and MCD are measured with pyworld where it is installed, else librosa's
    # pyin and an STFT envelope: the same clip is 0.62 voiced by one and 0.91 by the other.
    extractors = [s.get("f0_extractor") for s in (base_settings, new_settings)]
    if extractors[0] != extractors[1]:
        for name in ("f0_rmse_cents", "gpe", "vuv_f1", "mcd_db"):
            left_out[name] = (
                f"{base_name} measured it with {extractors[0] or 'an unrecorded extractor'}, "
                f"{new_name} with {extractors[1] or 'an unrecorded extractor'} (settings "
                "'f0_extractor'): the values are not comparable; evaluate both where the same "
                "packages are installed"
            )
    # Each metric of a file covers its own band (`metric_band`), cut at the recording's half
    # rate where a report's rule cut it (settings "spectral_band"): compared only where every
    # paired file was scored over the same band.
    for name in BAND_METRICS:
        bands = [
            (_scored_band(base, base_utts[i], name), _scored_band(new, new_utts[j], name), j)
            for i, j in pairs
        ]
        apart = [(a, b, new_utts[j]["source"]) for a, b, j in bands if a != b]
        if apart:
            a, b, source = apart[0]
            left_out.setdefault(
                name,
                f"{len(apart)} paired file(s) were scored over different bands (e.g. {source!r}: "
                f"{_band_words(a)} in {base_name}, {_band_words(b)} in {new_name}; settings "
                "'spectral_band', the model's sample rate and the file's 'band_limited_rate'): "
                "the values are not comparable",
            )
    if base_settings.get("mel_config") != new_settings.get("mel_config"):
        left_out["log_mel_l1"] = (
            f"{base_name} and {new_name} use different mels (settings 'mel_config'): the "
            "distances are in different units"
        )
    # A metric one report scored and the other did not (STOI before 2026-12-07, DNSMOS where
    # speechmos is installed): said, not dropped without a word.
    for name in METRICS:
        if name == "rtf" or name in left_out:
            continue
        scored = [
            any(
                isinstance(utts[k]["metrics"].get(chosen, {}).get(name), int | float)
                for k in indices
            )
            for utts, chosen, indices in (
                (base_utts, base_system, paired_base),
                (new_utts, system, paired_new),
            )
        ]
        if scored[0] != scored[1]:
            where, other = (base_name, new_name) if scored[0] else (new_name, base_name)
            left_out[name] = (
                f"scored only in {where} ({other} has no {name} values: an older report, or "
                "a metric whose package was not installed there)"
            )
    names = [n for n in METRICS if n != "rtf" and n not in left_out]

    def metric_pairs(selected):
        return [
            (base_utts[i]["metrics"].get(base_system, {}), new_utts[j]["metrics"].get(system, {}))
            for i, j in selected
        ]

    folders = _folder_names(new_utts)
    by_folder: dict[str, list[tuple[int, int]]] = {}
    for i, j in pairs:
        by_folder.setdefault(folders[j], []).append((i, j))
    differences = {
        key: [base_settings.get(key), new_settings.get(key)]
        for key in sorted(set(base_settings) | set(new_settings))
        if base_settings.get(key) != new_settings.get(key)
    }

    def side(report: dict, path: str, chosen: str) -> dict:
        model = report.get("model") or {}
        return {
            "path": path,
            "model": model.get("source"),
            "weights_sha256": model.get("weights_sha256"),
            "system": chosen,
            "n": len(report["utterances"]),
        }

    return {
        "base": side(base, base_name, base_system),
        "new": side(new, new_name, system),
        "n_paired": len(pairs),
        "paired_by": paired_by,
        "only_in_base": [u["source"] for i, u in enumerate(base_utts) if i not in paired_base],
        "only_in_new": [u["source"] for j, u in enumerate(new_utts) if j not in paired_new],
        "settings_differences": differences,
        "metrics_left_out": left_out,
        "level": level,
        "metrics": _paired_differences(metric_pairs(pairs), names, level),
        "by_folder": {
            folder: {
                "n": len(members),
                "metrics": _paired_differences(metric_pairs(members), names, level),
            }
            for folder, members in sorted(by_folder.items())
        }
        if len(by_folder) > 1
        else {},
    }


def _band_words(band: float | None) -> str:
    return "over an unrecorded band" if band is None else f"up to {band:g} Hz"


def _scored_band(report: dict, utterance: dict, name: str) -> float | None:
    """The band (Hz) a report scored one file's metric `name` over (None: not recorded)."""
    settings = report.get("settings") or {}
    model_rate = (report.get("model") or {}).get("sample_rate")
    if not model_rate:
        return None
    band = metric_band(name, model_rate, settings.get("mel_config"))
    source_rate = utterance.get("band_limited_rate")
    if source_rate and name in _BAND_CUT.get(settings.get("spectral_band", SPECTRAL_BAND_OLD), ()):
        band = min(band, source_rate / 2)
    return band


def format_comparison(result: dict) -> str:
    """A plain-text table of `compare_reports`' result: every metric, then per folder.

    Args:
        result: what `compare_reports` returned.

    Returns:
        Lines of text: what was compared and how its files were matched, the settings that
        differ and the metrics left out (with why), then per metric the files, both means, the
        mean difference (new - base) with its interval, the files that got better / worse and the
        verdict; per folder the same for PESQ-WB, log-mel L1 and V/UV F1.

    Example:
        >>> print(format_comparison(compare_reports("eval_bundled", "eval_candidate")))
    """

    def describe(side: dict) -> str:
        label = SYSTEM_LABELS[side["system"]]
        model = ""
        if side.get("model") and side["system"] == "waveglow":
            model = f", {side['model']}"
            if side.get("weights_sha256"):
                model += f" sha256 {side['weights_sha256'][:8]}"
        return f"{side['path']} ({label}{model}; {side['n']} files)"

    lines = [
        f"base: {describe(result['base'])}",
        f"new:  {describe(result['new'])}",
        f"paired: {result['n_paired']} files (only in base: {len(result['only_in_base'])}, "
        f"only in new: {len(result['only_in_new'])}; matched by "
        f"{result.get('paired_by', 'path tail')})",
    ]
    for key, (b, n) in result["settings_differences"].items():
        lines.append(f"settings differ: {key} {b!r} (base) vs {n!r} (new)")
    for name, reason in result.get("metrics_left_out", {}).items():
        lines.append(f"{name} left out: {reason}")

    def rows(metrics: dict, names: Sequence[str], indent: str = "") -> list[str]:
        out = []
        for name in names:
            m = metrics.get(name)
            if m is None:
                continue
            d = m["difference"]
            interval = f"[{d['low']:+.3f}, {d['high']:+.3f}]" if d["low"] is not None else "[n < 2]"
            label = f"{indent}{METRICS[name][0]}"
            out.append(
                f"{label:<17} {m['n']:>5} {m['base_mean']:>9.3f} "
                f"{m['new_mean']:>9.3f} {d['mean']:>+9.3f} {interval:>20} "
                f"{m['new_better']:>5}/{m['new_worse']:<5} {m['verdict'] or '-'}"
            )
        return out

    lines.append(
        f"{'metric':<17} {'files':>5} {'base':>9} {'new':>9} {'new-base':>9} "
        f"{format(result.get('level', 0.95), '.0%') + ' interval':>20} {'better/worse':<11} verdict"
    )
    lines += rows(result["metrics"], list(result["metrics"]))
    for folder, part in result["by_folder"].items():
        lines.append(f"{folder}:")
        lines += rows(part["metrics"], FOLDER_TABLE_METRICS, "  ")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The HTML page
# --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table.metrics { border-collapse: collapse; margin: 8px 0 16px; }
table.metrics th, table.metrics td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
table.metrics th:first-child, table.metrics td:first-child { text-align: left; }
table.metrics thead th { background: #f0f0f0; }
td.best { font-weight: bold; background: #e8f5e9; }
.ci { color: #777; font-size: 0.85em; white-space: nowrap; }
.count { color: #b05000; font-size: 0.85em; }
.utterance { border-top: 1px solid #ddd; padding-top: 8px; }
.systems { display: grid; grid-template-columns: repeat(3, 1fr); gap: 12px; }
figure { margin: 0; } figure img { width: 100%; display: block; }
figure audio { width: 100%; margin-top: 4px; }
figcaption { font-weight: bold; margin-bottom: 4px; }
.note { color: #555; font-size: 0.9em; }
.media-error { color: #b00020; font-weight: bold; }
"""

# Marks any image or audio file that does not load (e.g. a report moved without its folders);
# the result also lands in <body data-media-status>, which the browser test reads.
_MEDIA_CHECK = """
window.addEventListener("load", function () {
  setTimeout(function () {
    var problems = [];
    document.querySelectorAll("img").forEach(function (img) {
      if (!(img.complete && img.naturalWidth > 0)) { problems.push(img.getAttribute("src")); }
    });
    document.querySelectorAll("audio").forEach(function (player) {
      if (player.error || !(player.duration > 0)) { problems.push(player.getAttribute("src")); }
    });
    problems.forEach(function (src) {
      var note = document.createElement("p");
      note.className = "media-error";
      note.textContent = "missing or unreadable: " + src;
      document.body.insertBefore(note, document.body.firstChild);
    });
    document.body.dataset.mediaStatus = problems.length ? "problems:" + problems.join(",") : "ok";
  }, 300);
});
"""


def _format_cell(summary: dict | None, files: int) -> str:
    """`mean [low, high]`, and `(n=k)` when the mean is over fewer than the `files` scored.

    The interval is shown as its ends, not as a half-width: one clipped to the metric's
    bounds (`METRIC_BOUNDS`) is not symmetric about the mean.
    """
    if not summary or summary.get("mean") is None:
        return "&ndash;"
    text = f"{summary['mean']:.3f}"
    if summary.get("low") is not None:
        text += f' <span class="ci">[{summary["low"]:.3f}, {summary["high"]:.3f}]</span>'
    if summary.get("n", files) < files:
        text += f' <span class="count">(n={summary["n"]})</span>'
    return text


def _scored_files(utterances: Sequence[dict], system: str, name: str) -> frozenset[int]:
    """Indices of the utterances with a finite `name` score for `system`."""
    return frozenset(
        i
        for i, utt in enumerate(utterances)
        if (value := utt["metrics"].get(system, {}).get(name)) is not None and math.isfinite(value)
    )


def _folder_table_html(report: dict, metric_names: Sequence[str]) -> str:
    """The "By folder" table: a row per input folder, when the inputs span more than one."""
    esc = html.escape
    folders = _folders_of(report)
    names = [n for n in FOLDER_TABLE_METRICS if n in metric_names]
    if len(folders) < 2 or not names:
        return ""
    systems = ("waveglow", "griffin_lim")
    header = "".join(
        f"<th>{esc(report['metrics'][n]['label'])}, {esc(SYSTEM_LABELS[s])}</th>"
        for n in names
        for s in systems
    )
    rows = []
    for folder, part in folders.items():
        cells = [f"<td>{esc(folder)}</td>", f"<td>{part['n']}</td>"]
        for name in names:
            for system in systems:
                summary = part["systems"].get(system, {}).get(name)
                cells.append(f"<td>{_format_cell(summary, part['n'])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<h2>By folder</h2>\n"
        '<table class="metrics" id="by-folder">\n'
        f"<thead><tr><th>Folder</th><th>Files</th>{header}</tr></thead>\n"
        f"<tbody>\n{''.join(rows)}\n</tbody>\n</table>"
    )


def report_html(report: dict) -> str:
    """The static HTML page of a report dict (as `evaluate` returns).

    Args:
        report: the report dict.

    Returns:
        A self-contained HTML document (links `audio/` and `img/` relative to itself).
    """
    esc = html.escape
    metric_names = [
        name
        for name in METRICS
        if any(name in report["systems"].get(system, {}) for system in SYSTEMS)
    ]
    rows = []
    best = {}
    for name in metric_names:
        means = {
            system: report["systems"][system][name]["mean"]
            for system in ("griffin_lim", "waveglow")
            if name in report["systems"][system]
            and report["systems"][system][name]["mean"] is not None
        }
        # A best only between means over the same files: one over fewer is another average.
        same_files = (
            len({_scored_files(report["utterances"], system, name) for system in means}) == 1
        )
        if len(means) == 2 and same_files:
            pick = max if report["metrics"][name]["higher_is_better"] else min
            best[name] = pick(means, key=means.get)
    n_utts = len(report["utterances"])
    for system in SYSTEMS:
        cells = [f"<td>{esc(SYSTEM_LABELS[system])}</td>"]
        for name in metric_names:
            cls = ' class="best"' if best.get(name) == system else ""
            summary = report["systems"][system].get(name)
            cells.append(f"<td{cls}>{_format_cell(summary, n_utts)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header_cells = []
    for name in metric_names:
        up = report["metrics"][name]["higher_is_better"]
        header_cells.append(
            f'<th title="{"higher" if up else "lower"} is better">'
            f"{esc(report['metrics'][name]['label'])} {'&uarr;' if up else '&darr;'}</th>"
        )
    header = "".join(header_cells)
    notes = []
    for name, reason in report["skipped_metrics"].items():
        notes.append(f"<li>{esc(name)} skipped: {esc(reason)}</li>")
    for path, reason in report["failed_files"]:
        notes.append(f"<li>{esc(path)} failed: {esc(reason)}</li>")
    unscored = [u["id"] for u in report["utterances"] if u.get("errors")]
    if unscored:
        listed = ", ".join(esc(i) for i in unscored[:10]) + (", ..." if len(unscored) > 10 else "")
        notes.append(
            f"<li>{len(unscored)} utterance(s) with metrics that could not be computed (means "
            f"leave them out; reasons under each): {listed}</li>"
        )
    sections = []
    for utt in report["utterances"]:
        figures = []
        for system in SYSTEMS:
            files = utt["files"].get(system)
            if files is None:  # e.g. a diverged model's NaN output: nothing was written
                figures.append(
                    "<figure>"
                    f"<figcaption>{esc(SYSTEM_LABELS[system])}</figcaption>"
                    f'<p class="note">no audio: '
                    f"{esc(utt.get('errors', {}).get(f'{system}/output', 'not saved'))}</p>"
                    "</figure>"
                )
                continue
            figures.append(
                "<figure>"
                f"<figcaption>{esc(SYSTEM_LABELS[system])}</figcaption>"
                f'<img src="{esc(files["mel_image"])}" alt="mel spectrogram, '
                f'{esc(SYSTEM_LABELS[system])}, {esc(utt["id"])}">'
                f'<audio controls preload="metadata" src="{esc(files["audio"])}"></audio>'
                "</figure>"
            )
        scores = []
        for system in ("griffin_lim", "waveglow"):
            values = utt["metrics"][system]
            parts = [
                f"{esc(report['metrics'][n]['label'])} {values[n]:.3f}"
                for n in metric_names
                if values.get(n) is not None
            ]
            scores.append(f"<b>{esc(SYSTEM_LABELS[system])}</b>: " + ", ".join(parts))
        for key, message in sorted(utt.get("errors", {}).items()):  # e.g. PESQ on a short file
            scores.append(f"<b>not scored</b>: {esc(key)}: {esc(message)}")
        sections.append(
            f'<section class="utterance" id="utt-{esc(utt["id"])}">'
            f'<h3>{esc(utt["id"])} <span class="note">({utt["duration_s"]:.2f} s, '
            f"{esc(utt['source'])})</span></h3>"
            f'<div class="systems">{"".join(figures)}</div>'
            f'<p class="note">{"<br>".join(scores)}</p></section>'
        )
    folder_table = _folder_table_html(report, metric_names)
    settings = report["settings"]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WaveGlow copy-synthesis report</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
</head>
<body>
<h1>WaveGlow copy-synthesis report</h1>
<p class="note">{n_utts} utterance(s) at {report["model"]["sample_rate"]} Hz; WaveGlow sigma
{settings["sigma"]}, denoiser {settings["denoiser_strength"]}; Griffin-Lim
{settings["griffin_lim_iters"]} iterations (fast, momentum
{settings.get("griffin_lim_momentum", GRIFFIN_LIM_MOMENTUM)}; seeded); mean [95 % interval]
(Student t), over every utterance unless marked (n=<i>k</i>): the metric could not be
computed on the others. Best of Griffin-Lim and WaveGlow in bold where both are means over
the same utterances.</p>
<table class="metrics" id="metrics">
<thead><tr><th>System</th>{header}</tr></thead>
<tbody>
{"".join(rows)}
</tbody>
</table>
{"<ul class='note'>" + "".join(notes) + "</ul>" if notes else ""}
{folder_table}
<h2>Utterances</h2>
{"".join(sections)}
<script>{_MEDIA_CHECK}</script>
</body>
</html>
"""


# --------------------------------------------------------------------------------------------
# Looking at the page in a headless browser
# --------------------------------------------------------------------------------------------

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable, or None."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def render_report(
    html_path: str | os.PathLike,
    screenshot: str | os.PathLike | None = None,
    chromium: str | None = None,
    window_size: tuple[int, int] = (1280, 1400),
    timeout: float = 120.0,
) -> dict:
    """Opens a report page in headless Chromium: final DOM, console messages, screenshot.

    Args:
        html_path: the page.
        screenshot: optional PNG path for a screenshot of the page.
        chromium: the browser executable; None looks for one (`find_chromium`).
        window_size: (width, height) of the window in pixels. Default (1280, 1400).
        timeout: float, seconds allowed per browser run. Default 120.

    Returns:
        `{"dom": str, "console": [str], "media_status": str or None}`: the DOM after the page's
        scripts ran, every console message the page produced (the report page itself logs
        none), and the page's own media check ("ok" or "problems:...").

    Raises:
        FileNotFoundError: no browser found (install Debian's `chromium`).
        RuntimeError: the browser failed.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError(
            "No Chromium found: install it (Debian: apt-get install -y chromium), "
            "or pass chromium=/path/to/browser."
        )
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="kwg-chromium-") as profile:
        base = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--allow-file-access-from-files",
            f"--user-data-dir={profile}",
            f"--window-size={window_size[0]},{window_size[1]}",
            "--virtual-time-budget=5000",
            "--enable-logging=stderr",
            "--v=0",
        ]
        result = subprocess.run(
            [*base, "--dump-dom", url], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0 or "<html" not in result.stdout:
            raise RuntimeError(f"{chromium} failed ({result.returncode}): {result.stderr[-2000:]}")
        console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
        if screenshot is not None:
            screenshot = Path(screenshot).resolve()
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            shot = subprocess.run(
                [*base, f"--screenshot={screenshot}", url],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if shot.returncode != 0 or not screenshot.exists():
                raise RuntimeError(f"{chromium} screenshot failed: {shot.stderr[-2000:]}")
            console += [line for line in shot.stderr.splitlines() if ":CONSOLE" in line]
    match = re.search(r'data-media-status="([^"]*)"', result.stdout)
    return {
        "dom": result.stdout,
        "console": console,
        "media_status": match.group(1) if match else None,
    }


__all__ = [
    "BAND_METRICS",
    "METRICS",
    "METRIC_BOUNDS",
    "available_metrics",
    "band_limited_rate",
    "compare_reports",
    "confidence_interval",
    "dnsmos",
    "evaluate",
    "f0_contour",
    "f0_metrics",
    "file_seed",
    "find_chromium",
    "format_comparison",
    "format_summary",
    "griffin_lim",
    "load_report",
    "log_mel_l1",
    "mel_cepstral_distortion",
    "metric_band",
    "multi_resolution_stft_distance",
    "pesq_wb",
    "render_report",
    "report_html",
    "score_against_reference",
    "stoi",
    "summarize_by_folder",
]
