import keras
import pytest


@pytest.fixture(autouse=True)
def _reset_keras_state():
    """Each test starts from float32, a fixed seed and a clean Keras session."""
    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
    # Without a forced gc.collect(): it cost 1-4 s per test (a few minutes per suite on 2 cores),
    # and Python's own collector still runs.
    keras.backend.clear_session(free_memory=False)


def pytest_collection_modifyitems(config, items):
    if keras.backend.backend() == "tensorflow":
        return
    skip = pytest.mark.skip(reason="TensorFlow backend only (run under KERAS_BACKEND=tensorflow)")
    for item in items:
        if "tensorflow_only" in item.keywords:
            item.add_marker(skip)
