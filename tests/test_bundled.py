"""The bundled vocoder: `vocode(mel)` with nothing configured speaks, offline, on both backends."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

import keras_waveglow
from keras_waveglow import WaveGlow, hub, inference, presets, vocode
from keras_waveglow.audio import load_audio, mel_function
from keras_waveglow.evaluation import log_mel_l1

ROOT = Path(__file__).resolve().parents[1]
UTTERANCE = ROOT / "data" / "cmu_us_slt_arctic" / "wav" / "arctic_a0009.wav"


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No default model, no $KERAS_WAVEGLOW_MODEL, an empty cache, and no network at all."""
    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    monkeypatch.setenv(hub.HOME_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setattr(inference, "_default_model", None)
    monkeypatch.setattr(inference, "_loaded_models", {})

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_bundled_preset_is_registered_with_card_and_licence():
    name = presets.DEFAULT_PRESET
    source = presets.WEIGHTS[name]
    assert hub.weights_kind(name) == "bundled"
    package = Path(keras_waveglow.__file__).parent
    weights = package / source["file"]
    assert weights.is_file() and weights.stat().st_size <= 16 * 2**20  # the 16 MB cap
    card = (package / source["card"]).read_text()
    for needed in ("GPL-2.0-or-later", "Apache-2.0", "klettres", "Griffin-Lim", name):
        assert needed in card, needed
    assert "GPL-2.0-or-later" in source["license"]


def test_vocode_with_nothing_configured_uses_the_bundled_model(offline):
    model = keras_waveglow.default_model()
    assert model.sample_rate == 22050 and model.mel_config["fmax"] == 8000.0
    audio, _ = load_audio(UTTERANCE, model.sample_rate)  # 16 kHz ARCTIC, resampled up
    mel = np.asarray(mel_function(model)(audio))
    generated, rate = vocode(mel, seed=0)  # no model anywhere: the bundled one
    assert rate == 22050 and generated.shape == (mel.shape[0] * model.hop_length,)
    assert np.all(np.isfinite(generated))
    # Speech, not noise: the same flow with untrained weights is far from the recording's mel.
    untrained = WaveGlow.from_preset(presets.DEFAULT_PRESET, load_weights=False, seed=0)
    trained_l1 = log_mel_l1(audio, generated[: len(audio)], model.mel_config)
    untrained_l1 = log_mel_l1(
        audio, vocode(mel, model=untrained, seed=0)[: len(audio)], model.mel_config
    )
    assert trained_l1 < 0.5 * untrained_l1, (trained_l1, untrained_l1)
    assert not list((Path(hub.cache_dir())).glob("**/*"))  # read in place, nothing cached
