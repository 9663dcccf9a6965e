"""keras_waveglow: a WaveGlow vocoder (mel spectrogram -> waveform) for Keras 3."""

from keras_waveglow import data, losses
from keras_waveglow.audio import (
    load_audio,
    load_mel,
    mel_function,
    mel_spectrogram,
    save_audio,
    tf_mel_spectrogram,
)
from keras_waveglow.complexity import flow_macs
from keras_waveglow.convert import (
    export_keras,
    export_onnx,
    export_savedmodel,
    export_tflite,
    from_nvidia,  # imports torch only when a checkpoint is read
)
from keras_waveglow.data import download_arctic, make_dataset
from keras_waveglow.discriminators import (
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    WaveDiscriminator,
)
from keras_waveglow.evaluation import evaluate
from keras_waveglow.flow import (
    WN,
    ActNorm,
    AffineCoupling,
    Conv1D,
    Invertible1x1Conv,
    SeparableConv1D,
    WaveGlow,
    fold_weight_norm,
)
from keras_waveglow.inference import Denoiser, set_default_model, vocode, vocode_files
from keras_waveglow.presets import PRESETS, get_preset
from keras_waveglow.training import (
    AudioSamples,
    StopOnConsecutiveSkips,
    TrainingCheckpoint,
    WaveGlowGAN,
    load_initial_weights,
    restore_training_state,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "WN",
    "ActNorm",
    "AffineCoupling",
    "AudioSamples",
    "Conv1D",
    "Denoiser",
    "Invertible1x1Conv",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "SeparableConv1D",
    "StopOnConsecutiveSkips",
    "TrainingCheckpoint",
    "WaveDiscriminator",
    "WaveGlow",
    "WaveGlowGAN",
    "data",
    "download_arctic",
    "evaluate",
    "export_keras",
    "export_onnx",
    "export_savedmodel",
    "export_tflite",
    "flow_macs",
    "fold_weight_norm",
    "from_nvidia",
    "get_preset",
    "load_audio",
    "load_initial_weights",
    "load_mel",
    "losses",
    "make_dataset",
    "mel_function",
    "mel_spectrogram",
    "restore_training_state",
    "save_audio",
    "set_default_model",
    "tf_mel_spectrogram",
    "train",
    "vocode",
    "vocode_files",
]
