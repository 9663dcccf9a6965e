"""keras_waveglow: a WaveGlow vocoder (mel spectrogram -> waveform) for Keras 3."""

from keras_waveglow import losses
from keras_waveglow.flow import (
    WN,
    ActNorm,
    AffineCoupling,
    Conv1D,
    Invertible1x1Conv,
    WaveGlow,
)
from keras_waveglow.presets import PRESETS, get_preset

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "WN",
    "ActNorm",
    "AffineCoupling",
    "Conv1D",
    "Invertible1x1Conv",
    "WaveGlow",
    "get_preset",
    "losses",
]
