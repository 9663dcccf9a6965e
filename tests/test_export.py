"""Exports (.keras, SavedModel, TFLite float16, ONNX): each reloaded, run, and compared."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from keras_waveglow import (
    WaveGlow,
    export_keras,
    export_onnx,
    export_savedmodel,
    export_tflite,
    get_preset,
)
from keras_waveglow.convert import VocodeFromNoise
from tests.helpers import perturb_weights

# Small models with the full structure: early outputs, dilated WN layers and the mel
# upsampler; and SqueezeWave's options (linear frame-rate conditioning, separable convs).
CONFIGS = {
    "tiny": {**get_preset("tiny"), "n_mel_channels": 20, "n_flows": 3, "hop_length": 64},
    "squeezewave_tiny": {
        **get_preset("squeezewave_tiny"),
        "n_mel_channels": 20,
        "n_flows": 3,
        "hop_length": 128,
        "mel_upsampling": "linear",
    },
}
FRAMES = 5


@pytest.fixture(params=sorted(CONFIGS))
def model(request):
    model = WaveGlow(**CONFIGS[request.param], seed=0)
    perturb_weights(model, scale=0.05)  # non-identity couplings
    return model


def _inputs(model, batch: int = 2, frames: int = FRAMES, seed: int = 0):
    rng = np.random.default_rng(seed)
    mel = rng.standard_normal((batch, frames, model.n_mel_channels)).astype("float32")
    steps = frames * model.hop_length // model.n_group
    z = (0.6 * rng.standard_normal((batch, steps, model.n_group))).astype("float32")
    return mel, z


def _relative_error(actual, expected) -> float:
    return float(np.max(np.abs(np.asarray(actual) - expected)) / np.max(np.abs(expected)))


def _vocode(model, mel, z=None, sigma=0.0):
    return keras.ops.convert_to_numpy(model.inverse(mel, sigma=sigma, z=z))


def test_keras_archive_round_trip(model, tmp_path):
    mel, z = _inputs(model)
    path = export_keras(model, tmp_path / "waveglow.keras")
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, WaveGlow)
    # Same weights, same graph: identical up to float32 rounding.
    np.testing.assert_allclose(_vocode(reloaded, mel, z), _vocode(model, mel, z), atol=1e-6)
    with pytest.raises(FileExistsError, match=r"waveglow\.keras exists; pass overwrite=True"):
        export_keras(model, path)
    export_keras(model, path, overwrite=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        export_keras(model, tmp_path / "waveglow.h5")


def test_vocode_from_noise_wrapper_is_the_inverse(model):
    mel, z = _inputs(model)
    wrapper = VocodeFromNoise(model)
    expected = _vocode(model, mel, z)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(wrapper([mel, z])), expected, atol=1e-6)
    with pytest.raises(ValueError, match="z too long for the mel"):
        wrapper([mel, np.concatenate([z, z[:, :1]], axis=1)])
    clone = VocodeFromNoise.from_config(wrapper.get_config())
    assert clone.waveglow.get_config() == model.get_config()


@pytest.mark.tensorflow_only
def test_savedmodel_serving_signatures(model, tmp_path):
    import tensorflow as tf

    path = export_savedmodel(model, tmp_path / "savedmodel", sigma=0.6)
    loaded = tf.saved_model.load(str(path))
    assert {"vocode", "vocode_from_noise", "serving_default"} <= set(loaded.signatures)

    # vocode(mel) samples z at sigma 0.6 from the model's seed-generator state, which is saved
    # with the model: the export and the Keras model (both not yet used since the export)
    # draw the same noise call after call, for any batch size and number of frames.
    for batch, frames in ((2, FRAMES), (2, FRAMES), (1, FRAMES + 3)):
        mel, z = _inputs(model, batch, frames)
        out = loaded.signatures["vocode"](mel=tf.constant(mel))["output_0"].numpy()
        expected = _vocode(model, mel, sigma=0.6)
        assert out.shape == (batch, frames * model.hop_length)
        # The same TensorFlow ops as the eager model: 1e-5 relative covers graph rewrites
        # (measured: identical).
        assert _relative_error(out, expected) < 1e-5
        # Noise is really there (z=0 given explicitly: sampling would advance the state).
        assert _relative_error(out, _vocode(model, mel, np.zeros_like(z))) > 1e-2
        out = loaded.signatures["vocode_from_noise"](mel=tf.constant(mel), z=tf.constant(z))
        assert _relative_error(out["output_0"].numpy(), _vocode(model, mel, z)) < 1e-5
    # A shorter z gives the first samples, as the Keras model; a longer one or an empty mel is
    # refused at run time, naming the problem (the Keras model refuses them before tracing).
    mel, z = _inputs(model, 1, FRAMES)
    short = z[:, : z.shape[1] - 3]
    out = loaded.signatures["vocode_from_noise"](mel=tf.constant(mel), z=tf.constant(short))
    assert _relative_error(out["output_0"].numpy(), _vocode(model, mel, short)) < 1e-5
    longer = np.concatenate([z, z[:, :2]], axis=1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="z too long for the mel"):
        loaded.signatures["vocode_from_noise"](mel=tf.constant(mel), z=tf.constant(longer))
    two, z_two = _inputs(model, 2, FRAMES)
    for mels, noise in ((two, z), (mel, z_two)):  # each z row is one mel's noise
        with pytest.raises(tf.errors.InvalidArgumentError, match="mel and z batch sizes differ"):
            loaded.signatures["vocode_from_noise"](mel=tf.constant(mels), z=tf.constant(noise))
    empty = np.zeros((1, 0, model.n_mel_channels), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="the mel has no frames"):
        loaded.signatures["vocode"](mel=tf.constant(empty))
    with pytest.raises(tf.errors.InvalidArgumentError, match="the mel has no frames"):
        loaded.signatures["vocode_from_noise"](mel=tf.constant(empty), z=tf.constant(z[:, :0]))
    first, second = (loaded.vocode(tf.constant(mel)).numpy() for _ in range(2))
    assert not np.allclose(first, second)  # fresh noise on every call
    with pytest.raises(FileExistsError, match="savedmodel exists"):
        export_savedmodel(model, path)


def _tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # LiteRT not installed: TensorFlow's own (deprecated) interpreter
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tf.lite.Interpreter(model_path=str(path))
    return Interpreter(model_path=str(path))


@pytest.mark.tensorflow_only
def test_tflite_float16(model, tmp_path):
    path = export_tflite(model, tmp_path / "waveglow.tflite", float16=True)
    interpreter = _tflite_interpreter(path)
    dtypes = {detail["dtype"] for detail in interpreter.get_tensor_details()}
    assert np.float16 in dtypes  # weights stored in half precision
    runner = interpreter.get_signature_runner("vocode_from_noise")
    for batch, frames in ((2, FRAMES), (1, FRAMES + 2)):
        mel, z = _inputs(model, batch, frames, seed=batch)
        out = runner(mel=mel, z=z)["output_0"]
        assert out.shape == (batch, frames * model.hop_length)
        # float16 weights carry a relative rounding error of 2^-11 ~ 5e-4 each; through
        # the flows this gives ~5e-4 of the peak (measured); 5e-3 bounds it.
        assert _relative_error(out, _vocode(model, mel, z)) < 5e-3
    # TFLite drops assertions: a longer z is cropped to the mel's samples, not conditioned
    # on the upsampler's tail past the last frame.
    longer = np.concatenate([z, z[:, :3]], axis=1)
    out = runner(mel=mel, z=longer)["output_0"]
    assert out.shape == (1, (FRAMES + 2) * model.hop_length)
    assert _relative_error(out, _vocode(model, mel, z)) < 5e-3
    with pytest.raises(FileExistsError):
        export_tflite(model, path)


@pytest.mark.tensorflow_only
def test_onnx(model, tmp_path):
    # The `onnx` extra (installed by `make install`); without it export_onnx says what to install.
    pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")

    path = export_onnx(model, tmp_path / "waveglow.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["mel", "z"]
    for batch, frames in ((2, FRAMES), (1, FRAMES + 1)):
        mel, z = _inputs(model, batch, frames)
        (out,) = session.run(None, {"mel": mel, "z": z})
        # float32 in another runtime: same math, different kernels (measured ~3e-7).
        assert _relative_error(out, _vocode(model, mel, z)) < 1e-5
    # No assertions in the ONNX graph: a longer z is cropped to the mel's samples.
    (out,) = session.run(None, {"mel": mel, "z": np.concatenate([z, z[:, :2]], axis=1)})
    assert out.shape == (1, (FRAMES + 1) * model.hop_length)
    assert _relative_error(out, _vocode(model, mel, z)) < 1e-5


def test_tensorflow_exports_say_which_backend_they_need(model, tmp_path, monkeypatch):
    # Runs on every backend: pretend the backend is JAX and check the error names the fix.
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    for export in (export_savedmodel, export_tflite, export_onnx):
        with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
            export(model, tmp_path / "out")


def test_an_export_never_replaces_what_is_not_its_own_kind(tmp_path, monkeypatch):
    """With overwrite=True a file export replaced a folder at its path (rmtree), and an empty
    path or "." emptied the working folder: each is refused now, with nothing touched; a
    SavedModel replaces only a folder holding a SavedModel."""
    from keras_waveglow.convert import _prepare_output

    model = WaveGlow(**CONFIGS["tiny"], seed=0)
    keep = tmp_path / "work" / "mydir"
    keep.mkdir(parents=True)
    (keep / "important.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(IsADirectoryError, match=r"mydir is a folder; refusing to replace"):
        _prepare_output("mydir", overwrite=True)  # a file output (TFLite, ONNX)
    (tmp_path / "work" / "precious.keras").mkdir()
    with pytest.raises(IsADirectoryError, match=r"precious\.keras is a folder"):
        export_keras(model, "precious.keras", overwrite=True)
    for where in ("", " ", ".", str(tmp_path)):
        with pytest.raises(ValueError, match=r"output path is empty|current folder or holds it"):
            _prepare_output(where, overwrite=True, folder=True)
    assert (keep / "important.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match=r"without a SavedModel \(no saved_model\.pb\)"):
        _prepare_output("mydir", overwrite=True, folder=True)
    (tmp_path / "work" / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"afile is a file; a SavedModel is a folder"):
        _prepare_output("afile", overwrite=True, folder=True)
    with pytest.raises(NotADirectoryError, match=r"afile is a file, not a folder"):
        export_keras(model, "afile/x.keras")
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        export_keras(model, "newdir/a.h5")
    assert not (tmp_path / "work" / "newdir").exists()  # refused before anything was made
    (keep / "saved_model.pb").write_bytes(b"")
    assert _prepare_output("mydir", overwrite=True, folder=True).name == "mydir"


def test_an_output_that_appears_during_an_export_is_not_replaced(tmp_path):
    """overwrite=False was checked only before the export ran (minutes for ONNX): a second
    export to the same name finishing first was replaced, both reporting success. A killed
    export's temporary folder beside the output is named by the next export to it."""
    from keras_waveglow import convert

    model = WaveGlow(**CONFIGS["tiny"], seed=0)
    target = tmp_path / "race.keras"

    def another_export_finishes_first(tmp):
        target.write_bytes(b"the other export's file")
        model.save(tmp)

    with pytest.raises(FileExistsError, match=r"race\.keras exists"):
        convert._write_atomically(target, another_export_finishes_first, False, suffix=".keras")
    assert target.read_bytes() == b"the other export's file"
    assert [p.name for p in tmp_path.iterdir()] == ["race.keras"]  # its temporary folder gone
    folder = tmp_path / "saved"

    def another_folder(tmp):
        folder.mkdir()
        (folder / "theirs.txt").write_text("x")
        Path(tmp).mkdir()

    with pytest.raises(FileExistsError, match=r"saved: appeared while the export ran"):
        convert._write_atomically(folder, another_folder, False)
    assert (folder / "theirs.txt").read_text() == "x"
    (tmp_path / ".model.keras.ab_d1234").mkdir()  # left by an export killed outright
    (tmp_path / ".model.keras.backup").mkdir()  # the user's own: not mkdtemp's name
    with pytest.warns(UserWarning, match=r"1 temporary folder\(s\) of another export") as seen:
        export_keras(model, tmp_path / "model.keras")
    assert ".model.keras.ab_d1234" in str(seen[0].message) and "backup" not in str(seen[0].message)
    assert (tmp_path / "model.keras").is_file()


@pytest.mark.tensorflow_only
def test_replacing_a_savedmodel_keeps_the_old_one_until_the_new_one_is_in_place(
    tmp_path, monkeypatch
):
    import keras_waveglow.convert as convert

    model = WaveGlow(**CONFIGS["tiny"], seed=0)
    path = export_savedmodel(model, tmp_path / "sm")
    before = sorted(p.name for p in path.iterdir())
    real_replace = convert.os.replace

    def failing_second_move(src, dst):
        if Path(src).name == "out":  # the new SavedModel moving into place
            raise OSError("disk trouble")
        return real_replace(src, dst)

    monkeypatch.setattr(convert.os, "replace", failing_second_move)
    with pytest.raises(OSError, match="disk trouble"):
        export_savedmodel(model, path, overwrite=True)
    assert sorted(p.name for p in path.iterdir()) == before  # the old one is back
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]  # no temporary left


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_exports_of_a_mixed_precision_model_say_what_to_do(tmp_path, policy):
    """TFLite and ONNX refuse a model that computes in 16 bits (tf2onnx wrote a bf16 graph
    that onnxruntime cannot load), and the float32 copy the message describes exports."""
    model = WaveGlow(**CONFIGS["tiny"], seed=0, dtype=policy)
    compute = policy.removeprefix("mixed_")
    for export, name in ((export_tflite, "m.tflite"), (export_onnx, "m.onnx")):
        refusal = rf"computes in float32; this one computes in {compute}"
        with pytest.raises(ValueError, match=refusal):
            export(model, tmp_path / "out" / name)
    assert not (tmp_path / "out").exists()
    copy = WaveGlow.from_config({**model.get_config(), "dtype": "float32"})
    mel, z = _inputs(model, batch=1)
    perturb_weights(model, scale=0.05)  # the audio depends on the mel
    copy(mel)  # built
    copy.set_weights(model.get_weights())
    onnxruntime = pytest.importorskip("onnxruntime")
    path = export_onnx(copy, tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"mel": mel, "z": z})
    assert _relative_error(out, _vocode(copy, mel, z)) < 1e-5  # as test_onnx


def test_cli_export_chooses_the_format_by_the_output_name(tmp_path, capsys, monkeypatch):
    """`keras-waveglow export`: .keras on any backend, .onnx / .tflite / a SavedModel folder on
    TensorFlow (refused with exit 2 on another backend, before the model loads); options that
    do not apply to the format, and an existing --out, are refused with nothing written."""
    from keras_waveglow import cli, load_vocoder

    model = WaveGlow(**CONFIGS["tiny"], seed=0)
    perturb_weights(model, scale=0.05)
    source = export_keras(model, tmp_path / "source.keras")
    mel, z = _inputs(model, batch=1)
    expected = _vocode(model, mel, z)
    out = tmp_path / "out"

    def export(*argv):
        return cli.main(["export", "--model", str(source), *argv])

    assert export("--out", str(out / "copy.keras")) == 0
    np.testing.assert_array_equal(_vocode(load_vocoder(out / "copy.keras"), mel, z), expected)
    refusals = [
        (["--out", str(out / "copy.keras")], "copy.keras exists; pass --overwrite"),
        (["--out", str(out / "m.onnx"), "--sigma", "0.3"], "--sigma sets a SavedModel's"),
        (["--out", str(out / "m.keras"), "--float32-weights"], "applies to a .tflite --out"),
        (["--out", str(out / "sm"), "--sigma", "-1"], "--sigma must be a finite number >= 0"),
        (["--out", str(out / "g.weights.h5")], "'.h5' names no export format"),
        (["--out", str(out / "m.KERAS")], "'.KERAS' names no export format"),
    ]
    # Found by the export after the model loaded (exit 1) before: the library's own checks.
    (out / "dir.keras").mkdir()
    (out / "plain").mkdir()
    refusals.append(
        (["--out", str(out / "dir.keras"), "--overwrite"], "refusing to replace a folder")
    )
    tensorflow = keras.backend.backend() == "tensorflow"
    if tensorflow:  # on another backend a SavedModel --out is refused for the backend first
        refusals.append(
            (["--out", str(out / "plain"), "--overwrite"], "a folder without a SavedModel")
        )
    else:
        refusals.append((["--out", str(out / "m.onnx")], "the ONNX export needs the TensorFlow"))
    before = sorted(p.name for p in out.iterdir())
    for argv, message in refusals:
        assert export(*argv) == 2
        assert message in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
    # The backend keras.json names counts as KERAS_BACKEND does (read from the variable only,
    # a jax keras.json's refusal came after the model loaded, exit 1).
    home = tmp_path / "keras_home"
    home.mkdir()
    (home / "keras.json").write_text('{"backend": "jax"}')
    with monkeypatch.context() as env:
        env.delenv("KERAS_BACKEND", raising=False)
        env.setenv("KERAS_HOME", str(home))
        assert export("--out", str(out / "m.onnx")) == 2
        assert "the ONNX export needs the TensorFlow backend" in capsys.readouterr().err
    if not tensorflow:
        return
    import onnxruntime
    import tensorflow as tf

    assert export("--out", str(out / "m.onnx")) == 0
    session = onnxruntime.InferenceSession(str(out / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"mel": mel, "z": z})
    assert _relative_error(got, expected) < 1e-5  # as test_onnx
    assert export("--out", str(out / "sm"), "--sigma", "0") == 0  # vocode(mel) is then exact
    loaded = tf.saved_model.load(str(out / "sm"))
    got = loaded.signatures["vocode"](mel=tf.constant(mel))["output_0"].numpy()
    assert _relative_error(got, _vocode(model, mel, np.zeros_like(z))) < 1e-5
    assert export("--out", str(out / "half.tflite")) == 0
    assert export("--out", str(out / "full.tflite"), "--float32-weights") == 0
    half, full = (out / "half.tflite").stat().st_size, (out / "full.tflite").stat().st_size
    assert half < 0.7 * full  # float16 weights by default
    assert "wrote " in capsys.readouterr().out
