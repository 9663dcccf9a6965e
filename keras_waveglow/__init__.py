"""keras_waveglow: a WaveGlow vocoder (mel spectrogram -> waveform) for Keras 3.

The public names below load on first use (PEP 562), so `import keras_waveglow` and the
`keras-waveglow` command's `--help` do not import Keras or a backend. `from keras_waveglow
import WaveGlow` and `keras_waveglow.vocode(...)` work as usual.
"""

from __future__ import annotations

import importlib
import sys

__version__ = "0.1.0"

# Public name -> the submodule that defines it. Submodules themselves ("data", "losses") map
# to None.
_EXPORTS = {
    "data": None,
    "hub": None,
    "layers": None,
    "losses": None,
    "tfp": None,  # TensorFlow Probability interop (the [tfp] extra)
    "load_audio": "audio",
    "load_mel": "audio",
    "mel_function": "audio",
    "mel_spectrogram": "audio",
    "save_audio": "audio",
    "tf_mel_spectrogram": "audio",
    "flow_macs": "complexity",
    "export_keras": "convert",
    "export_onnx": "convert",
    "export_savedmodel": "convert",
    "export_tflite": "convert",
    "from_nvidia": "convert",  # imports torch only when a checkpoint is read
    "download_arctic": "data",
    "make_dataset": "data",
    "MultiPeriodDiscriminator": "discriminators",
    "MultiScaleDiscriminator": "discriminators",
    "WaveDiscriminator": "discriminators",
    "evaluate": "evaluation",
    "WN": "layers",
    "ActNorm": "layers",
    "AffineCoupling": "layers",
    "Conv1D": "layers",
    "Invertible1x1Conv": "layers",
    "SeparableConv1D": "layers",
    "WaveGlow": "flow",
    "fold_weight_norm": "flow",
    "Denoiser": "inference",
    "MelInputWarning": "inference",
    "default_model": "inference",
    "get_default_model": "inference",
    "load_vocoder": "inference",
    "set_default_model": "inference",
    "vocode": "inference",
    "vocode_files": "inference",
    "PRESETS": "presets",
    "WEIGHTS": "presets",
    "get_preset": "presets",
    "AudioSamples": "training",
    "StopOnConsecutiveSkips": "training",
    "StopOnSignal": "training",
    "TrainingCheckpoint": "training",
    "WaveGlowGAN": "training",
    "average_generator_weights": "training",
    "generator_average_swapped_in": "training",
    "export_generator_weights": "training",
    "load_initial_weights": "training",
    "restore_training_state": "training",
    "train": "training",
}

__all__ = [
    "PRESETS",
    "WEIGHTS",
    "WN",
    "ActNorm",
    "AffineCoupling",
    "AudioSamples",
    "Conv1D",
    "Denoiser",
    "Invertible1x1Conv",
    "MelInputWarning",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "SeparableConv1D",
    "StopOnConsecutiveSkips",
    "StopOnSignal",
    "TrainingCheckpoint",
    "WaveDiscriminator",
    "WaveGlow",
    "WaveGlowGAN",
    "average_generator_weights",
    "data",
    "default_model",
    "download_arctic",
    "evaluate",
    "export_generator_weights",
    "export_keras",
    "export_onnx",
    "export_savedmodel",
    "export_tflite",
    "flow_macs",
    "fold_weight_norm",
    "from_nvidia",
    "generator_average_swapped_in",
    "get_default_model",
    "get_preset",
    "hub",
    "layers",
    "load_audio",
    "load_initial_weights",
    "load_mel",
    "load_vocoder",
    "losses",
    "make_dataset",
    "mel_function",
    "mel_spectrogram",
    "restore_training_state",
    "save_audio",
    "set_default_model",
    "tf_mel_spectrogram",
    "tfp",
    "train",
    "vocode",
    "vocode_files",
]


# The modules whose classes a saved model may name (`keras.saving.load_model` finds a class
# only once its module has registered it).
_REGISTERING = ("layers", "flow", "discriminators", "training", "inference", "convert")


def _register_saved_classes() -> None:
    for module in _REGISTERING:
        importlib.import_module(f"{__name__}.{module}")


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXPORTS[name] or name}")
    value = module if _EXPORTS[name] is None else getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    if "keras" in sys.modules:  # Keras is loaded now: register every saved class with it
        _register_saved_classes()
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# Keras finds a saved model's classes only once their modules have registered them. When Keras is
# already loaded, importing them costs little: do it now, so `keras.saving.load_model` works
# after a plain `import keras_waveglow`, as it did before the package became lazy.
if "keras" in sys.modules:
    _register_saved_classes()
