"""Preset configurations for `WaveGlow`, as plain data.

Each preset is the full constructor configuration of a `keras_waveglow.WaveGlow`: the flow
shape and the mel front end it expects, so a model built from a preset (and every saved model)
knows how its input mels are made.
"""

from __future__ import annotations

import copy

# NVIDIA's published WaveGlow (waveglow_256channels): 22.05 kHz, Tacotron 2 mels.
_NVIDIA_22K = {
    "n_mel_channels": 80,
    "n_flows": 12,
    "n_group": 8,
    "n_early_every": 4,
    "n_early_size": 2,
    "wn_layers": 8,
    "wn_channels": 256,
    "wn_kernel_size": 3,
    "hop_length": 256,
    "use_actnorm": False,
    "lu_decomposed": False,
    "weight_norm": False,
    "sample_rate": 22050,
    "n_fft": 1024,
    "win_length": 1024,
    "fmin": 0.0,
    "fmax": 8000.0,
}

PRESETS: dict[str, dict] = {
    "nvidia_22k": _NVIDIA_22K,
    # CMU ARCTIC is recorded at 16 kHz: same flow and mel shape, 16 kHz front end.
    "arctic_16k": {**_NVIDIA_22K, "sample_rate": 16000},
    # A 64-channel, 4-layer WN with NVIDIA's 12 flows: real time on a laptop CPU.
    "small": {**_NVIDIA_22K, "sample_rate": 16000, "wn_layers": 4, "wn_channels": 64},
    # For tests: a few narrow flows, still with an early output and the real mel front end.
    "tiny": {
        **_NVIDIA_22K,
        "sample_rate": 16000,
        "n_flows": 4,
        "n_early_every": 2,
        "wn_layers": 2,
        "wn_channels": 16,
    },
}


def get_preset(name: str) -> dict:
    """Returns a copy of a preset's `WaveGlow` configuration.

    Args:
        name: one of `PRESETS` ("nvidia_22k", "arctic_16k", "small", "tiny").

    Returns:
        A dict of `WaveGlow` constructor arguments.

    Example:
        >>> get_preset("arctic_16k")["sample_rate"]
        16000
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(PRESETS)}.")
    return copy.deepcopy(PRESETS[name])
