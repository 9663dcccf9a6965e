"""Packaging for keras_waveglow: a WaveGlow vocoder for Keras 3."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="keras-waveglow",
    version="0.1.0",
    description="WaveGlow flow vocoder (mel spectrogram -> waveform) for Keras 3.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    # The code is Apache-2.0; the bundled weights were trained on GPL-2+ recordings and carry
    # their licence (keras_waveglow/weights/GPL-2.txt, the model card).
    license="Apache-2.0 AND GPL-2.0-or-later",
    license_files=["LICENSE", "keras_waveglow/weights/GPL-2.txt"],
    python_requires=">=3.10",
    packages=find_packages(include=["keras_waveglow", "keras_waveglow.*"]),
    # Bundled preset weights (presets.WEIGHTS {"file": "weights/..."}) with their model card and
    # licence notice: `pip install` must carry them for vocode() to work offline.
    package_data={"keras_waveglow": ["weights/*.weights.h5", "weights/*.md", "weights/*.txt"]},
    install_requires=[
        "keras>=3.15",
        "tensorflow>=2.20",
        "tensorboard>=2.20",  # training logs (tf.summary needs it)
        "numpy>=1.26",
        "scipy>=1.11",
        "librosa>=0.10.2",
        "soundfile>=0.12",
        "soxr>=0.3",
        "tqdm>=4.66",
    ],
    extras_require={
        "jax": ["jax>=0.4.30"],
        "tfp": ["tensorflow-probability[tf]>=0.25"],
        "torch": ["torch>=2.1"],
        "onnx": ["tf2onnx>=1.16", "onnx>=1.16", "onnxruntime>=1.17"],
        "eval": [
            "pesq>=0.0.4",
            "pystoi>=0.4",
            "pysptk>=1.0",
            "pyworld>=0.3.4",
            "setuptools<81",  # pysptk / pyworld import pkg_resources
            "matplotlib>=3.8",
        ],
        "dnsmos": ["speechmos>=0.0.1", "onnxruntime>=1.17", "requests>=2.31"],
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "nbmake>=1.5",
            "ipykernel>=6.29",
            "ruff>=0.6",
            "matplotlib>=3.8",
        ],
    },
    entry_points={"console_scripts": ["keras-waveglow=keras_waveglow.cli:main"]},
)
