"""Shared test helpers: serialization checks every layer and model goes through."""

from __future__ import annotations

import keras
import numpy as np


def perturb_weights(model_or_layer, scale: float = 0.05, seed: int = 0) -> None:
    """Adds Gaussian noise to every trainable weight, so no coupling stays the identity."""
    rng = np.random.default_rng(seed)
    for variable in model_or_layer.trainable_weights:
        value = keras.ops.convert_to_numpy(variable)
        variable.assign(value + scale * rng.standard_normal(value.shape).astype(value.dtype))


def assert_config_round_trip(obj) -> None:
    """`from_config(get_config())` rebuilds an object with the same config."""
    config = obj.get_config()
    clone = obj.__class__.from_config(config)
    assert clone.get_config() == config


def assert_serialization_round_trip(obj) -> None:
    """Keras' registered (de)serialization reproduces the object's class and config."""
    serialized = keras.saving.serialize_keras_object(obj)
    clone = keras.saving.deserialize_keras_object(serialized)
    assert type(clone) is type(obj)
    assert clone.get_config() == obj.get_config()


def assert_model_saving_round_trip(model, call_fn, tmp_path, atol: float = 0.0) -> keras.Model:
    """Saves to `.keras`, reloads, and checks config and `call_fn(model)` outputs match."""
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(model)
    assert reloaded.get_config() == model.get_config()
    expected = keras.tree.map_structure(keras.ops.convert_to_numpy, call_fn(model))
    actual = keras.tree.map_structure(keras.ops.convert_to_numpy, call_fn(reloaded))
    keras.tree.map_structure(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=0, atol=atol), actual, expected
    )
    return reloaded


def named_pipe(folder, text: str):
    """A named pipe in `folder` that gives `text` once to its first reader (as the shell's
    `<(ls mels/*.pt)` does): a thread writes it when a reader opens the pipe. Called again
    with the same folder, the same pipe gives the new text to its next reader."""
    import os
    import threading

    path = folder / "listing.pipe"
    if not path.exists():
        os.mkfifo(path)

    def write() -> None:
        with open(path, "w", encoding="utf-8") as f:  # blocks until a reader opens it
            f.write(text)

    threading.Thread(target=write, daemon=True).start()
    return path
