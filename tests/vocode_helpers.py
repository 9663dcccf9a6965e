"""Shared, cached fixtures of the vocode and evaluation tests (one model per test session).

Building the tiny WaveGlow and compiling its inverse per shape bucket are the slow parts of these
tests, JAX above all; caching the model (and its `.keras` file, which `load_vocoder` caches by
path) lets test_inference and test_evaluation reuse the compiled functions.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
from keras import ops

from keras_waveglow.audio import load_audio, mel_spectrogram
from keras_waveglow.flow import WaveGlow
from tests.helpers import perturb_weights

DATA = Path(__file__).resolve().parents[1] / "data"
SPEECH = DATA / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav"


@functools.lru_cache(maxsize=1)
def tiny_model() -> WaveGlow:
    """`new_tiny_model()`, shared by every test (and saved by `tiny_model_file`): a test that
    changes weights takes a `new_tiny_model()` of its own."""
    return new_tiny_model()


def new_tiny_model() -> WaveGlow:
    """The tiny preset with perturbed weights: every coupling acts, so outputs are not trivial."""
    keras.utils.set_random_seed(0)
    model = WaveGlow.from_preset("tiny", seed=0)
    perturb_weights(model, scale=0.1, seed=0)
    return model


@functools.lru_cache(maxsize=1)
def tiny_model_file() -> Path:
    """`tiny_model()` saved as `.keras` in a temporary folder removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="kwg-tiny-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "tiny.keras"
    tiny_model().save(path)
    return path


@functools.lru_cache(maxsize=1)
def speech_mel() -> np.ndarray:
    """(194, 80) log-mel of a bundled ARCTIC utterance (3.1 s at 16 kHz), read-only."""
    audio, _ = load_audio(SPEECH, sample_rate=16000)
    mel = ops.convert_to_numpy(mel_spectrogram(audio, 16000))
    mel.setflags(write=False)
    return mel
