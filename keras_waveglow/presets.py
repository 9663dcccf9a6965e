"""Preset configurations for `WaveGlow` and where their weights come from, as plain data.

Each preset is the full constructor configuration of a `keras_waveglow.WaveGlow`: the flow
shape and the mel front end it expects, so a model built from a preset (and every saved model)
knows how its input mels are made. A preset listed in `WEIGHTS` also has trained weights:
`WaveGlow.from_preset(name)` loads them through `keras_waveglow.hub`, which downloads,
verifies, converts and caches them. Nothing here runs code; the hub reads these dicts.
"""

from __future__ import annotations

import copy
import difflib

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
    # NVIDIA's published checkpoints (weights in `WEIGHTS`): the flow shape their weights have.
    # NVIDIA/waveglow's waveglow_256channels_universal_v5: 256-channel WNs, 22.05 kHz.
    "nvidia_universal": _NVIDIA_22K,
    # DeepLearningExamples' torch.hub WaveGlow (LJSpeech, fp32): 512-channel WNs, 22.05 kHz.
    "nvidia_ljspeech": {**_NVIDIA_22K, "wn_channels": 512},
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
# 22.05 kHz audio in the paper); 128S: 128 channels (1.06 GMACs). Two changes from the paper's
# code, neither changing a MAC: no BatchNorm before the depthwise convs (it would make the flow
# depend on the batch in training), and each WN's end conv reads the sum of its layers' outputs,
# not the residual stream with the start conv's output in it (`wn_linear_path=False`): through
# that linear path log_s grows with the input without bound, which made plain `fit` diverge
# within a few hundred steps (README, Speed).
_SQUEEZEWAVE_128L = {
    **_NVIDIA_22K,
    "n_group": 128,
    "n_early_every": 2,
    "n_early_size": 16,
    "mel_upsampling": "nearest",
    "wn_separable": True,
    "wn_dilation_base": 1,
    "wn_skip_connections": False,
    "wn_linear_path": False,
}
_SQUEEZEWAVE_128S = {**_SQUEEZEWAVE_128L, "wn_channels": 128}
PRESETS.update(
    {
        "squeezewave_128l": _SQUEEZEWAVE_128L,
        "squeezewave_128s": _SQUEEZEWAVE_128S,
        # Not in the paper: 128S with groups of 64 samples (four per mel frame) and 8 channels
        # out every 2 flows (the same share, 24 of 64 reach the last flow). Its group-rate lines
        # (training journal, 2026-12-04) fall every 344.5 Hz instead of 172.3; 1.85 GMACs per
        # second of 22.05 kHz audio against 1.04.
        "squeezewave_64s": {**_SQUEEZEWAVE_128S, "n_group": 64, "n_early_size": 8},
        # The same flows on 16 kHz audio (CMU ARCTIC, the `small` preset's data).
        "squeezewave_128l_16k": {**_SQUEEZEWAVE_128L, "sample_rate": 16000},
        "squeezewave_128s_16k": {**_SQUEEZEWAVE_128S, "sample_rate": 16000},
        # The bundled default vocoder (weights in the package, see WEIGHTS): squeezewave_128s
        # trained in this repository on real speech; its model card is next to the weights.
        "squeezewave_128s_klettres": {**_SQUEEZEWAVE_128S},
        # 128S with the paper's linear WN path: the flow of the first bundled model (2026-12-02)
        # and of the README's first learning curves, kept so their commands still reproduce.
        "squeezewave_128s_linear": {**_SQUEEZEWAVE_128S, "wn_linear_path": True},
        # 128S with every coupling's log-scale soft-clamped to (-6, 6) (`c * tanh(log_s / c)`).
        # Measured on the second bundled model (benchmarks/coupling_scales.py, 60 training + 25
        # held-out klettres files): couplings 1-11 reach a log_s of at most 3.01, coupling 0
        # 8.1 (it expands near-silent input; channels that leave at flow 2 pass two couplings,
        # and 2 x 6 still covers the log-gain of 11.6 that dequantised digital silence, +-0.5
        # LSB uniform noise, needs to reach unit variance), while the files whose
        # likelihood exploded drove couplings 7-9 to 7.0-10.9. 6 caps those, not the others.
        "squeezewave_128s_clamped": {**_SQUEEZEWAVE_128S, "coupling_log_scale_bound": 6.0},
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

# Where trained weights come from, per preset; a preset without an entry is an architecture only.
# A source is either
#   {"file": "<path inside the keras_waveglow package>.weights.h5", ...}   (bundled, offline), or
#   {"url": ..., "sha256": ..., "size": ..., "filename": ...}              (an NVIDIA checkpoint,
#       downloaded once, checked, converted with `from_nvidia` and cached by keras_waveglow.hub),
# plus "data" (what it was trained on) and "license" for `keras-waveglow presets`.
# NVIDIA publishes neither checksum. "sha256" is None where no digest is known (the hub then refuses
# that URL unless told to accept an unverified file); where one is recorded, its source is named.
WEIGHTS: dict[str, dict] = {
    "squeezewave_128s_klettres": {
        "file": "weights/squeezewave_128s_klettres.weights.h5",  # float16 storage
        "card": "weights/squeezewave_128s_klettres.md",
        "data": "Debian klettres-data: spoken letters and syllables, 17 speakers, 47 min "
        "(22.05 kHz); de, it, pt_BR speakers held out",
        "license": "GPL-2.0-or-later (trained on GPL-2+ recordings; the code stays Apache-2.0)",
    },
    "nvidia_universal": {
        # NGC mirror of the file NVIDIA/waveglow's README links on Google Drive
        # (id 1rpK8CzAAirq9sWZhe9nlfvxMF1dRgFbF); NGC lists it at 644.48 MB.
        "url": "https://api.ngc.nvidia.com/v2/models/nvidia/adlr/waveglow/versions/"
        "WaveGlow-LJS_256_Channels/files/waveglow_256channels_universal_v5.pt",
        "filename": "waveglow_256channels_universal_v5.pt",
        # Git LFS digest of the same-named file in the Hugging Face repository
        # hashb/flowtron-waveglow-nvidia-en (676 MB, matching NGC's 644.48 MiB); not published by
        # NVIDIA and not yet compared with a download from NGC (no route from this project).
        "sha256": "7d6b3fb5e29baab08b3f91595ca8984093901bd949f431cee7e146bd8747b011",
        "size": None,
        "data": "NVIDIA's 'universal' WaveGlow v5, 22.05 kHz (training set not itemised by NVIDIA)",
        "license": "BSD-3-Clause (NVIDIA/waveglow)",
    },
    "nvidia_ljspeech": {
        # The URL DeepLearningExamples' torch.hub entry point `nvidia_waveglow` (fp32) downloads.
        "url": "https://api.ngc.nvidia.com/v2/models/nvidia/waveglow_ckpt_fp32/versions/19.09.0/"
        "files/nvidia_waveglowpyt_fp32_20190427",
        # The URL's own name: what wget, a browser and torch.hub's cache save it as.
        "filename": "nvidia_waveglowpyt_fp32_20190427",
        # Its name in the cache before 2026-12-06: a file (or .part) there is taken over.
        "former_filenames": ["nvidia_waveglowpyt_fp32_20190427.pt"],
        "sha256": None,
        "size": None,
        "data": "LJSpeech-1.1 (one female English speaker, 24 h, 22.05 kHz)",
        "license": "BSD-3-Clause (NVIDIA DeepLearningExamples); LJSpeech is public domain",
    },
}

# The preset `vocode(mel)` uses when no model is configured: one with a bundled ("file") source,
# so it works offline on a fresh installation.
DEFAULT_PRESET: str | None = "squeezewave_128s_klettres"


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
        raise ValueError(
            f"Unknown preset {name!r}.{did_you_mean(name)} Presets: {', '.join(sorted(PRESETS))}."
        )
    return copy.deepcopy(PRESETS[name])


def did_you_mean(name: str) -> str:
    """A hint naming the preset closest to a misspelled name, or "" when none is close.

    Case, hyphens and spaces are ignored, then `difflib`'s closest match (ratio >= 0.75) is
    taken, so "nvidia-22k", "Tiny" and "squeezwave_128s_klettres" each find their preset.

    Args:
        name: the name that is not a preset.

    Returns:
        `" Did you mean 'x'?"` or `""`.

    Example:
        >>> did_you_mean("nvidia-22k")
        " Did you mean 'nvidia_22k'?"
    """

    def canonical(text: str) -> str:
        return str(text).strip().lower().replace("-", "_").replace(" ", "_")

    by_canonical = {canonical(preset): preset for preset in PRESETS}
    match = difflib.get_close_matches(canonical(name), list(by_canonical), n=1, cutoff=0.75)
    return f" Did you mean {by_canonical[match[0]]!r}?" if match else ""
