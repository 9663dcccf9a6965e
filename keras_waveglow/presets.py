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

# SqueezeWave (Zhai et al., 2020, arXiv 2001.05685; configs a128_c256 / a128_c128 of
# tianrengao/SqueezeWave): groups of 128 samples (two per mel frame), the mel repeated to that
# rate instead of a learned upsampler, 16 channels out every 2 flows, depthwise-separable
# undilated WN convs without skip connections. 128L: 256 WN channels (3.78 GMACs per second of
# 22.05 kHz audio in the paper); 128S: 128 channels (1.06 GMACs). Unlike the paper's code, no
# BatchNorm before the depthwise convs: it would make the flow depend on the batch in training.
_SQUEEZEWAVE_128L = {
    **_NVIDIA_22K,
    "n_group": 128,
    "n_early_every": 2,
    "n_early_size": 16,
    "mel_upsampling": "nearest",
    "wn_separable": True,
    "wn_dilation_base": 1,
    "wn_skip_connections": False,
}
_SQUEEZEWAVE_128S = {**_SQUEEZEWAVE_128L, "wn_channels": 128}
PRESETS.update(
    {
        "squeezewave_128l": _SQUEEZEWAVE_128L,
        "squeezewave_128s": _SQUEEZEWAVE_128S,
        # The same flows on 16 kHz audio (CMU ARCTIC, the `small` preset's data).
        "squeezewave_128l_16k": {**_SQUEEZEWAVE_128L, "sample_rate": 16000},
        "squeezewave_128s_16k": {**_SQUEEZEWAVE_128S, "sample_rate": 16000},
        # For tests: every SqueezeWave option on a few narrow flows (4 groups per frame).
        "squeezewave_tiny": {
            **_SQUEEZEWAVE_128S,
            "sample_rate": 16000,
            "n_group": 64,
            "n_flows": 4,
            "wn_layers": 2,
            "wn_channels": 16,
        },
    }
)


def get_preset(name: str) -> dict:
    """Returns a copy of a preset's `WaveGlow` configuration.

    Args:
        name: one of `PRESETS` ("nvidia_22k", "arctic_16k", "small", "tiny",
            "squeezewave_128l", "squeezewave_128s", their "_16k" variants, "squeezewave_tiny").

    Returns:
        A dict of `WaveGlow` constructor arguments.

    Example:
        >>> get_preset("arctic_16k")["sample_rate"]
        16000
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(PRESETS)}.")
    return copy.deepcopy(PRESETS[name])
