"""NVIDIA checkpoint import: parity with a PyTorch WaveGlow, formats, and the safe unpickler."""

from __future__ import annotations

import os
import re
import shlex
import struct
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the optional `torch` extra; installed by `make install`

import keras_waveglow  # noqa: E402
from keras_waveglow import convert  # noqa: E402
from tests import torch_waveglow  # noqa: E402

# Small but complete: early outputs, 2 dilated layers, n_mel != n_group so a wrong grouped
# channel order or a transposed kernel cannot go unnoticed.
TORCH_CONFIG = {
    "n_mel_channels": 10,
    "n_flows": 4,
    "n_group": 8,
    "n_early_every": 2,
    "n_early_size": 2,
    "wn_layers": 2,
    "wn_channels": 16,
    "wn_kernel_size": 3,
    "hop_length": 16,
}
FRAMES = 6
SHORT = FRAMES * TORCH_CONFIG["hop_length"] - 24  # fewer samples than the mel covers, mid-frame


def _torch_model(per_layer_cond: bool, weight_norm: bool, seed: int = 0):
    torch.manual_seed(seed)
    model = torch_waveglow.WaveGlow(
        **TORCH_CONFIG, per_layer_cond=per_layer_cond, weight_norm=weight_norm
    )
    # The `end` convs start at zero (identity couplings); noise makes every coupling act.
    return torch_waveglow.randomize(model, scale=0.1, seed=seed).eval()


def _save(model, path, layout: str):
    """Writes `model` as one of the checkpoint layouts `from_nvidia` reads."""
    if layout == "train_py":  # NVIDIA/waveglow train.py: the pickled module
        with torch_waveglow.published_class_names():
            torch.save(
                {"model": model, "iteration": 7, "optimizer": {}, "learning_rate": 1e-4}, path
            )
    elif layout == "train_py_legacy":  # the same, in PyTorch's pre-1.6 (non-zip) format
        with torch_waveglow.published_class_names():
            torch.save({"model": model}, path, _use_new_zipfile_serialization=False)
    elif layout == "hub":  # DeepLearningExamples / torch.hub: DDP prefix and a config
        config = {k: TORCH_CONFIG[k] for k in ("n_flows", "n_group", "n_early_every")}
        state = {f"module.{k}": v for k, v in model.state_dict().items()}
        torch.save({"state_dict": state, "config": config, "epoch": 3}, path)
    elif layout == "state_dict":
        torch.save(model.state_dict(), path)
    else:
        raise AssertionError(layout)
    return path


def _reference(model, seed: int = 1):
    """Forward and inverse of the PyTorch model on random inputs (channels-first)."""
    generator = torch.Generator().manual_seed(seed)
    mel = torch.randn(2, TORCH_CONFIG["n_mel_channels"], FRAMES, generator=generator)
    audio = 0.3 * torch.randn(2, FRAMES * TORCH_CONFIG["hop_length"], generator=generator)
    z_infer = 0.6 * torch.randn(
        2, TORCH_CONFIG["n_group"], FRAMES * TORCH_CONFIG["hop_length"] // 8, generator=generator
    )
    with torch.no_grad():
        z, log_det = model(mel, audio)
        z_short, log_det_short = model(mel, audio[:, :SHORT])
        audio_out = model.infer(mel, z_infer)
    return {
        "mel": mel.numpy().transpose(0, 2, 1),  # -> (B, F, n_mel)
        "audio": audio.numpy(),
        "z": z.numpy().transpose(0, 2, 1),  # -> (B, T/g, g)
        "log_det": log_det.numpy(),
        "z_short": z_short.numpy().transpose(0, 2, 1),
        "log_det_short": log_det_short.numpy(),
        "z_infer": z_infer.numpy().transpose(0, 2, 1),
        "audio_out": audio_out.numpy(),
    }


def _relative_error(actual, expected) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def _check_parity(keras_model, ref):
    numpy = keras.ops.convert_to_numpy
    # All F * hop samples, and fewer: both models crop the conditioning to the audio.
    for audio, suffix in ((ref["audio"], ""), (ref["audio"][:, :SHORT], "_short")):
        z, log_det = (numpy(t) for t in keras_model.forward(audio, ref["mel"]))
        # float32 on both sides, same operations in a different order: errors are a few ulps
        # times the depth (~1e-7 measured); 1e-5 relative leaves room for other CPUs/BLAS.
        assert _relative_error(z, ref[f"z{suffix}"]) < 1e-5
        expected = ref[f"log_det{suffix}"]
        assert np.all(np.abs(log_det - expected) <= 1e-5 * np.abs(expected))
        # Given that z, inverse crops the same way and gives the audio back; it divides by
        # exp(log_s) through every flow: 1e-4 (as below).
        rebuilt = numpy(keras_model.inverse(ref["mel"], z=ref[f"z{suffix}"]))
        assert rebuilt.shape == audio.shape
        assert _relative_error(rebuilt, audio) < 1e-4
    audio_out = numpy(keras_model.inverse(ref["mel"], z=ref["z_infer"]))
    # The inverse divides by exp(log_s) through every flow: 1e-4 (measured ~3e-7).
    assert _relative_error(audio_out, ref["audio_out"]) < 1e-4


@pytest.mark.parametrize(
    "layout, per_layer_cond, weight_norm, keras_weight_norm",
    [
        ("train_py", False, True, False),  # current NVIDIA code, weight norm folded
        ("train_py", True, True, True),  # older checkpoints' cond_layers, kept as g/v
        ("train_py_legacy", True, False, False),  # weight norm removed before saving
        ("hub", True, True, False),
        ("state_dict", False, False, True),
    ],
)
def test_from_nvidia_matches_pytorch(
    tmp_path, recwarn, layout, per_layer_cond, weight_norm, keras_weight_norm
):
    model = _torch_model(per_layer_cond, weight_norm)
    # Non-trivial weights: every coupling moves the audio and the log-det is far from 0.
    ref = _reference(model)
    assert np.all(np.abs(ref["log_det"]) > 1.0)
    path = _save(model, tmp_path / "waveglow.pt", layout)

    imported = keras_waveglow.from_nvidia(path, weight_norm=keras_weight_norm, sample_rate=16000)
    assert not [w for w in recwarn if "no place in the model" in str(w.message)]  # all read

    assert isinstance(imported, keras_waveglow.WaveGlow)
    config = imported.get_config()
    assert {k: config[k] for k in TORCH_CONFIG} == TORCH_CONFIG
    assert config["weight_norm"] is keras_weight_norm
    assert config["sample_rate"] == 16000 and config["fmax"] == 8000.0  # nvidia_22k mel
    _check_parity(imported, ref)


def test_weight_norm_removed_in_torch_matches_weight_norm_checkpoint(tmp_path):
    """Folding g * v / ||v|| here equals PyTorch's own `remove_weight_norm`."""
    model = _torch_model(per_layer_cond=False, weight_norm=True)
    ref = _reference(model)
    path = _save(model.remove_weight_norm(), tmp_path / "removed.pt", "train_py")
    _check_parity(keras_waveglow.from_nvidia(path), ref)


def test_reference_pytorch_model_is_a_bijection():
    """The reference itself is sound: its inverse undoes its forward."""
    model = _torch_model(per_layer_cond=True, weight_norm=True)
    ref = _reference(model)
    with torch.no_grad():
        mel = torch.from_numpy(ref["mel"].transpose(0, 2, 1))
        z = torch.from_numpy(ref["z"].transpose(0, 2, 1))
        audio = model.infer(mel, z).numpy()
    # float32 round trip through 4 flows (measured ~1e-7).
    np.testing.assert_allclose(audio, ref["audio"], atol=1e-5)


def test_weights_that_do_not_fit_the_model_are_named():
    model = _torch_model(per_layer_cond=False, weight_norm=False)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    wrong = keras_waveglow.WaveGlow(**{**TORCH_CONFIG, "wn_channels": 8})
    expected = r"WN\.0\.start\.weight converts to shape \(1, 4, 16\), but the model expects"
    with pytest.raises(ValueError, match=expected):
        convert.load_nvidia_weights(wrong, state)
    # Weights the model has no place for are named (torch's strict load refuses them).
    fits = keras_waveglow.WaveGlow(**TORCH_CONFIG)
    extra = {**state, "extra.weight": np.zeros(2, "float32")}
    with pytest.warns(UserWarning, match=r"1 weight\(s\) .* no place in the model .*extra\.weight"):
        convert.load_nvidia_weights(fits, extra)
    # A state dict as torch.load gives it (tensors, DistributedDataParallel's prefix) loads
    # the same weights.
    tensors = {f"module.{k}": v for k, v in model.state_dict().items()}
    again = convert.load_nvidia_weights(keras_waveglow.WaveGlow(**TORCH_CONFIG), tensors)
    for a, b in zip(again.weights, fits.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_torchscript_archives_are_refused(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    with pytest.raises(ValueError, match=r"scripted\.pt: a TorchScript archive"):
        keras_waveglow.from_nvidia(path)


def test_infer_config_reads_shape_from_weights():
    model = _torch_model(per_layer_cond=True, weight_norm=True)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    assert convert.infer_config(state) == TORCH_CONFIG
    # hop_length comes from the upsampler's stride where the checkpoint has it.
    with pytest.raises(ValueError, match="kernel 64 with stride 32"):
        convert.infer_config(state, {"hop_length": 32})


def test_overrides_that_contradict_the_weights_are_refused(tmp_path):
    path = _save(_torch_model(False, False), tmp_path / "sd.pt", "state_dict")
    with pytest.raises(ValueError, match=r"sd\.pt: n_flows=12 given.*n_flows=4"):
        keras_waveglow.from_nvidia(path, n_flows=12)
    with pytest.raises(ValueError, match="no use_actnorm"):
        keras_waveglow.from_nvidia(path, use_actnorm=True)
    with pytest.raises(ValueError, match="no coupling_log_scale_bound"):
        keras_waveglow.from_nvidia(path, coupling_log_scale_bound=8.0)


# Every `WaveGlow` option NVIDIA's glow.py has no counterpart of, at a value that is not
# NVIDIA's, and NVIDIA's value the message names.
OTHER_ARCHITECTURES = [
    ("mel_upsampling", "nearest", "'learned'"),
    ("mel_upsampling", "linear", "'learned'"),
    ("wn_separable", True, "False"),
    ("wn_dilation_base", 3, "2"),
    ("wn_dilation_base", 1, "2"),
    ("wn_skip_connections", False, "True"),
    ("use_actnorm", True, "False"),
    ("lu_decomposed", True, "False"),
    ("coupling_log_scale_bound", 8.0, "None"),
]


@pytest.mark.parametrize("key, value, nvidia", OTHER_ARCHITECTURES)
def test_architecture_options_nvidia_lacks_are_refused(tmp_path, key, value, nvidia):
    """An NVIDIA checkpoint fits one architecture: any other (e.g. wn_dilation_base=3, which
    loaded into a different function, or mel_upsampling="nearest", which failed with an
    AttributeError) is refused, naming the option and NVIDIA's value."""
    torch_model = _torch_model(per_layer_cond=False, weight_norm=False)
    path = _save(torch_model, tmp_path / "sd.pt", "state_dict")
    expected = (
        rf"sd\.pt: {key}={value!r} given, but NVIDIA's WaveGlow has no {key}=.*{key}={nvidia}"
    )
    with pytest.raises(ValueError, match=expected):
        keras_waveglow.from_nvidia(path, **{key: value})
    state = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    other = keras_waveglow.WaveGlow(**{**TORCH_CONFIG, key: value})
    with pytest.raises(ValueError, match=rf"{key}={value!r} in the model, .*{key}={nvidia}"):
        convert.load_nvidia_weights(other, state, path)


def test_nvidia_architecture_values_may_be_given(tmp_path):
    model = _torch_model(per_layer_cond=False, weight_norm=False)
    ref = _reference(model)
    path = _save(model, tmp_path / "sd.pt", "state_dict")
    nvidia = {
        "mel_upsampling": "learned",
        "wn_separable": False,
        "wn_dilation_base": 2,
        "wn_skip_connections": True,
        "use_actnorm": False,
        "lu_decomposed": False,
        "coupling_log_scale_bound": None,
    }
    _check_parity(keras_waveglow.from_nvidia(path, **nvidia), ref)


def test_checkpoint_metadata_that_contradicts_the_weights_is_refused(tmp_path):
    model = _torch_model(True, True)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = tmp_path / "hub.pt"
    torch.save({"state_dict": state, "config": {"n_flows": 5}}, path)
    with pytest.raises(ValueError, match=r"hub\.pt: the checkpoint says n_flows=5"):
        keras_waveglow.from_nvidia(path)


def test_bad_files_get_clear_errors(tmp_path):
    # A missing file is a FileNotFoundError, as for every other loader; still a ValueError.
    with pytest.raises(FileNotFoundError, match=r"missing\.pt: no such checkpoint") as missing:
        keras_waveglow.from_nvidia(tmp_path / "missing.pt")
    assert isinstance(missing.value, ValueError)
    with pytest.raises(ValueError, match=r"a folder, not a checkpoint file"):
        keras_waveglow.from_nvidia(tmp_path)
    # Keras' own files, named as Keras names them, are pointed to the Keras loaders.
    model = keras_waveglow.WaveGlow.from_preset("tiny", seed=0)
    model.save_weights(tmp_path / "w.weights.h5")
    model.save(tmp_path / "m.keras")
    for name in ("w.weights.h5", "m.keras"):
        with pytest.raises(ValueError, match=rf"{name}: a Keras file, not an NVIDIA checkpoint"):
            keras_waveglow.from_nvidia(tmp_path / name)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint\x00\x01")
    with pytest.raises(ValueError, match=r"garbage\.pt: not a readable PyTorch checkpoint"):
        keras_waveglow.from_nvidia(garbage)
    other = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, other)
    with pytest.raises(ValueError, match=r"other\.pt: not a WaveGlow state dict"):
        keras_waveglow.from_nvidia(other)
    partial = tmp_path / "partial.pt"
    state = _torch_model(False, False).state_dict()
    del state["WN.1.in_layers.0.bias"]
    torch.save(state, partial)
    with pytest.raises(ValueError, match=r"partial\.pt: missing weights WN\.1\.in_layers\.0\.bias"):
        keras_waveglow.from_nvidia(partial)


def test_damaged_checkpoints_are_named_not_tracebacks(tmp_path, capsys):
    """A cut zip checkpoint (an interrupted copy) was a bare `OSError: [Errno 22]`; weights of
    the wrong rank an IndexError (a CLI traceback); a non-string key an AttributeError."""
    state = _torch_model(False, False).state_dict()
    whole = tmp_path / "whole.pt"
    torch.save(state, whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pt"
    for size in range(len(data) // 2, len(data), max(1, len(data) // 16)):
        cut.write_bytes(data[:size])
        with pytest.raises(ValueError, match=r"cut\.pt: not a readable PyTorch checkpoint"):
            keras_waveglow.from_nvidia(cut)
    damaged = {
        "upsample.weight": torch.zeros(10, 10),
        "convinv.1.conv.weight": torch.zeros(6, 6, 2),
        "WN.0.start.weight": torch.zeros(16, 4),
    }
    for key, value in damaged.items():
        path = tmp_path / "damaged.pt"
        torch.save({**state, key: value}, path)
        shape = re.escape(str(tuple(value.shape)))
        with pytest.raises(ValueError, match=rf"damaged\.pt: {re.escape(key)} has shape {shape}"):
            keras_waveglow.from_nvidia(path)
    from keras_waveglow.cli import main

    mel = tmp_path / "m.npy"
    np.save(mel, np.zeros((10, 4), np.float32))
    assert main(["vocode", str(mel), "-o", str(tmp_path / "o"), "--model", str(path)]) == 2
    assert "WN.0.start.weight has shape" in capsys.readouterr().err
    path = tmp_path / "intkey.pt"
    torch.save({**state, 3: torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"intkey\.pt: a weight named 3, not a string"):
        keras_waveglow.from_nvidia(path)


def _pickle_op_string(text: str) -> bytes:
    return b"X" + struct.pack("<I", len(text.encode())) + text.encode()


def test_a_pickle_cannot_change_torchs_own_functions(tmp_path):
    """The allowlist handed out torch's real `_rebuild_tensor_v2`, and a pickle's BUILD could
    set its attributes (here `__defaults__`): every later `torch.load` in the process broke."""
    real = torch._utils._rebuild_tensor_v2
    defaults = real.__defaults__
    payload = (  # GLOBAL torch._utils._rebuild_tensor_v2; BUILD (None, {__defaults__: ...})
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}"
        + _pickle_op_string("__defaults__")
        + _pickle_op_string("garbage")
        + b"\x85s\x86b0}"
        + _pickle_op_string("model")
        + b"Ns."
    )
    base = tmp_path / "base.pt"
    torch.save({}, base)
    path = tmp_path / "tamper.pt"
    with zipfile.ZipFile(base) as source, zipfile.ZipFile(path, "w") as out:
        for name in source.namelist():
            out.writestr(name, payload if name.endswith("data.pkl") else source.read(name))
    try:
        with pytest.raises(ValueError, match=r"tamper\.pt: no WaveGlow weights found"):
            keras_waveglow.from_nvidia(path)
        assert real.__defaults__ == defaults
        good = tmp_path / "good.pt"
        torch.save({"w": torch.ones(2)}, good)
        assert torch.load(good)["w"].tolist() == [1.0, 1.0]
    finally:
        real.__defaults__ = defaults  # keep the process usable if the check failed


def test_early_output_settings_the_weights_cannot_tell_may_be_given(tmp_path):
    """With nothing leaving early, n_early_every / n_early_size are not in the weights: the
    training config's values were refused ("the weights have n_early_size=2")."""
    config = {**TORCH_CONFIG, "n_early_size": 0}
    torch.manual_seed(0)
    model = torch_waveglow.randomize(torch_waveglow.WaveGlow(**config), scale=0.1, seed=0)
    path = tmp_path / "size0.pt"
    torch.save(model.eval().state_dict(), path)
    ref = _reference(model.eval())
    for overrides in (
        {"n_early_size": 0},
        {"n_early_every": 2, "n_early_size": 0},
        {"n_early_every": 9},
    ):
        imported = keras_waveglow.from_nvidia(path, **overrides)
        for key, value in overrides.items():
            assert getattr(imported, key) == value
        _check_parity(imported, ref)
    for every in (2, np.int64(2)):  # a NumPy integer skipped the check (a shape error then)
        with pytest.raises(ValueError, match=r"size0\.pt: n_early_every=2 given, but no channels"):
            keras_waveglow.from_nvidia(path, n_early_every=every)


class _RunsCommand:
    """Pickles as `os.system(command)`: what a malicious checkpoint does on `torch.load`."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("zip_format", [True, False])
def test_checkpoint_that_would_run_a_command_is_refused(tmp_path, zip_format, capsys):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"model": _RunsCommand(f"touch {shlex.quote(str(marker))}"), "iteration": 1}
    torch.save(payload, path, _use_new_zipfile_serialization=zip_format)

    with pytest.raises(convert.UnsafeCheckpointError, match=r"evil\.pt: refused.*system"):
        keras_waveglow.from_nvidia(path)
    assert not marker.exists()
    if zip_format:  # the CLI refuses it as a bad model: one line, exit 2 (no traceback)
        from keras_waveglow.cli import main

        mel = tmp_path / "m.npy"
        np.save(mel, np.zeros((80, 10), np.float32))
        assert main(["vocode", str(mel), "-o", str(tmp_path / "o"), "--model", str(path)]) == 2
        err = capsys.readouterr().err
        assert "evil.pt: refused to load posix.system" in err and "Traceback" not in err
        assert not marker.exists()

    # The payload is live: an unrestricted load runs it (so the check above can fail).
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_restricted_unpickler_refuses_unknown_classes_in_a_module_tree(tmp_path):
    """Only the glow/torch module classes on the allowlist are rebuilt, as inert stand-ins."""
    model = _torch_model(False, True)
    model.extra = torch.nn.Linear(2, 2)  # a class that is not on the allowlist
    path = tmp_path / "extra.pt"
    with torch_waveglow.published_class_names():
        torch.save({"model": model}, path)
    with pytest.raises(convert.UnsafeCheckpointError, match=r"torch\.nn\.modules\.linear\.Linear"):
        convert.load_torch_checkpoint(path)


def test_a_module_tree_that_contains_itself_is_refused_by_name(tmp_path):
    """A pickle can make a module its own descendant; reading its weights looped until
    RecursionError."""
    model = _torch_model(False, False)
    model.WN[0].add_module("loop", model)
    path = tmp_path / "cyclic.pt"
    with torch_waveglow.published_class_names():
        torch.save({"model": model}, path)
    with pytest.raises(ValueError, match=r"cyclic\.pt: module WN\.0\.loop contains itself"):
        keras_waveglow.from_nvidia(path)


def test_missing_torch_says_how_to_install(tmp_path, monkeypatch):
    path = _save(_torch_model(False, False), tmp_path / "sd.pt", "state_dict")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ImportError, match=r"pip install 'keras-waveglow\[torch\]'"):
        keras_waveglow.from_nvidia(path)


def test_importing_the_package_does_not_import_torch():
    code = "import sys, keras_waveglow; print('torch' in sys.modules, 'tf2onnx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert result.stdout.split()[-2:] == ["False", "False"]


def test_a_glow_old_checkpoint_is_named_as_unsupported(tmp_path, monkeypatch):
    """A train.py checkpoint of NVIDIA's first release (glow_old.py) is read safely and named
    as what it is (it was refused as a class that could run code)."""
    import types

    module = types.ModuleType("glow_old")

    class WaveGlow(torch.nn.Module):
        pass

    WaveGlow.__module__, WaveGlow.__qualname__ = "glow_old", "WaveGlow"
    module.WaveGlow = WaveGlow
    monkeypatch.setitem(sys.modules, "glow_old", module)
    path = tmp_path / "waveglow_old.pt"
    torch.save({"model": WaveGlow(), "iteration": 1}, path)
    with pytest.raises(ValueError, match=r"old\.pt: a model of NVIDIA's first WaveGlow release"):
        keras_waveglow.from_nvidia(path)
    # Its state dict (residual and skip convs apart) is named too, not a missing weight.
    state = _torch_model(per_layer_cond=True, weight_norm=False).state_dict()
    for key in [k for k in state if ".res_skip_layers." in k]:
        state[key.replace("res_skip_layers", "res_layers")] = state.pop(key)
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"old\.pt: weights of NVIDIA's first WaveGlow release"):
        keras_waveglow.from_nvidia(path)


def test_a_checkpoint_this_package_cannot_build_is_named(tmp_path):
    """glow.py needs only an even n_group; a fork's n_group=12 with a hop of 16 (not a
    multiple of it) is refused naming the file (the model's own message named nothing)."""
    import re

    torch.manual_seed(0)
    model = torch_waveglow.WaveGlow(**{**TORCH_CONFIG, "n_group": 12}, weight_norm=False)
    path = tmp_path / "group12.pt"
    torch.save(model.state_dict(), path)
    with pytest.raises(
        ValueError,
        match=re.escape(str(path)) + r": the checkpoint's WaveGlow .* cannot be built here: "
        r"hop_length \(16\) must be a multiple of n_group \(12\)",
    ):
        keras_waveglow.from_nvidia(path)


def test_new_style_weight_norm_keys_load_as_the_old_ones(tmp_path):
    """`torch.nn.utils.parametrizations.weight_norm` saves g and v as
    `parametrizations.weight.original0/1` (old-style `weight_norm`: `weight_g/_v`): the same
    weights, so the same model (it was reported as missing weights)."""
    model = _torch_model(per_layer_cond=False, weight_norm=True)
    old = {k: v for k, v in model.state_dict().items()}
    assert any(k.endswith(".weight_g") for k in old)
    renamed = {
        k.replace(".weight_g", ".parametrizations.weight.original0").replace(
            ".weight_v", ".parametrizations.weight.original1"
        ): v
        for k, v in old.items()
    }
    torch.save(old, tmp_path / "old.pt")
    torch.save(renamed, tmp_path / "new.pt")
    a = keras_waveglow.from_nvidia(tmp_path / "old.pt")
    b = keras_waveglow.from_nvidia(tmp_path / "new.pt")
    assert {**a.get_config(), "name": ""} == {**b.get_config(), "name": ""}
    for x, y in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
