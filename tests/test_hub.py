"""Preset weights: download, verify, convert once, cache; against a local server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import sys
from pathlib import Path
from pickle import UnpicklingError

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")  # the checkpoints are generated with PyTorch

import keras_waveglow  # noqa: E402
from keras_waveglow import cli, hub, inference, presets  # noqa: E402
from keras_waveglow.flow import WaveGlow  # noqa: E402
from tests import torch_waveglow  # noqa: E402
from tests.test_arctic import server  # noqa: E402, F401  (the Range-capable local server)
from tests.test_convert import TORCH_CONFIG  # noqa: E402  (the same small, complete flow)

PRESET = "hub_test"
FILENAME = "tiny_waveglow.pt"


@pytest.fixture(scope="module")
def checkpoint():
    """A DeepLearningExamples-style checkpoint (bytes) and the PyTorch model's forward pass."""
    torch.manual_seed(0)
    model = torch_waveglow.WaveGlow(**TORCH_CONFIG, per_layer_cond=True, weight_norm=True)
    model = torch_waveglow.randomize(model, scale=0.1, seed=0).eval()
    buffer = io.BytesIO()
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "config": {"n_flows": 4}}, buffer)
    generator = torch.Generator().manual_seed(1)
    mel = torch.randn(1, TORCH_CONFIG["n_mel_channels"], 6, generator=generator)
    audio = 0.3 * torch.randn(1, 6 * TORCH_CONFIG["hop_length"], generator=generator)
    with torch.no_grad():
        z, log_det = model(mel, audio)
    reference = {
        "mel": mel.numpy().transpose(0, 2, 1),
        "audio": audio.numpy(),
        "z": z.numpy().transpose(0, 2, 1),
        "log_det": log_det.numpy(),
    }
    return buffer.getvalue(), reference


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder, and neither a default model nor $KERAS_WAVEGLOW_MODEL."""
    home = tmp_path / "cache"
    monkeypatch.setenv(hub.HOME_ENV_VAR, str(home))
    monkeypatch.delenv(inference.MODEL_ENV_VAR, raising=False)
    monkeypatch.setattr(inference, "_default_model", None)
    monkeypatch.setattr(inference, "_loaded_models", {})
    return home


@pytest.fixture
def preset(server, checkpoint, cache, monkeypatch):  # noqa: F811
    """Registers PRESET, served by the local server, and returns its weights source."""
    data, _ = checkpoint
    server.files = {FILENAME: data}
    config = {**presets.get_preset("nvidia_22k"), **TORCH_CONFIG, "sample_rate": 16000}
    source = {
        "url": f"{server.url}/{FILENAME}",
        "filename": FILENAME,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "data": "random weights",
        "license": "test",
    }
    monkeypatch.setitem(presets.PRESETS, PRESET, config)
    monkeypatch.setitem(presets.WEIGHTS, PRESET, source)
    return source


def cached_files(home):
    """The cache's files, less the (empty) lock files that coordinate first calls."""
    return sorted(
        p.relative_to(home).as_posix()
        for p in home.rglob("*")
        if p.is_file() and not p.name.endswith(".lock")
    )


def check_matches_torch(model, reference):
    z, log_det = model.forward(reference["audio"], reference["mel"])
    z, log_det = keras.ops.convert_to_numpy(z), keras.ops.convert_to_numpy(log_det)
    # float32 on both sides, same function: ~1e-7 measured (as in test_convert); 1e-5 relative.
    assert np.max(np.abs(z - reference["z"])) < 1e-5 * np.max(np.abs(reference["z"]))
    np.testing.assert_allclose(log_det, reference["log_det"], rtol=1e-5)


def test_download_converts_once_then_works_offline_without_torch(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
):
    _, reference = checkpoint
    model = WaveGlow.from_preset(PRESET)
    check_matches_torch(model, reference)
    # Only the converted weights stay: the checkpoint is deleted, nothing partial remains.
    assert cached_files(cache) == [f"{PRESET}/{preset['sha256']}.weights.h5"]
    assert len(server.requests) == 1

    server.shutdown()
    server.server_close()
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    again = WaveGlow.from_preset(PRESET, seed=3)
    check_matches_torch(again, reference)
    assert again.seed == 3
    # Overrides that change what the weights compute are refused by name, whether the shapes
    # would fit (wn_linear_path, hop_length: NaN audio or the wrong rate, loaded silently
    # before) or not; a value equal to the preset's is no change.
    for override in ({"wn_channels": 8}, {"wn_linear_path": False}, {"hop_length": 128}):
        with pytest.raises(ValueError, match=rf"hub_test.*\['{next(iter(override))}'\] would"):
            WaveGlow.from_preset(PRESET, **override)
    same = WaveGlow.from_preset(
        PRESET, hop_length=presets.get_preset(PRESET)["hop_length"], remat=True
    )
    check_matches_torch(same, reference)
    # A preset name with weights is a model specification for vocode and set_default_model.
    check_matches_torch(inference.load_vocoder(PRESET), reference)


def test_weightless_config_on_request_and_weightless_presets_unchanged(server, preset):  # noqa: F811
    fresh = WaveGlow.from_preset(PRESET, load_weights=False, seed=0)
    assert fresh.n_mel_channels == 10 and fresh.sample_rate == 16000
    assert server.requests == []
    tiny = WaveGlow.from_preset("tiny", seed=0)
    assert tiny.get_config()["wn_channels"] == 16 and tiny.sample_rate == 16000
    assert hub.weights_kind("tiny") == "none" and hub.weights_kind(PRESET) == "downloadable"
    with pytest.raises(ValueError, match=r"untrained architecture.*nvidia_ljspeech"):
        inference.load_vocoder("tiny")


def test_no_pytorch_is_said_before_the_download_and_a_damaged_cache_is_rebuilt(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
    caplog,
):
    _, reference = checkpoint
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "torch", None)  # `import torch` fails
        with pytest.raises(ImportError, match=r"hub_test.*needs PyTorch.*keras-waveglow\[torch\]"):
            WaveGlow.from_preset(PRESET)
    assert server.requests == [] and cached_files(cache) == []  # nothing fetched for nothing
    stale = cache / PRESET / ".converting-killed.weights.h5"  # a conversion killed midway
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"partial")
    path = hub.download_preset(PRESET, progress=False)
    assert not stale.exists()
    # A cached conversion cut short (a disk error, an interrupted copy): moved aside with a
    # warning and converted anew, where every later call failed ("truncated or damaged").
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.hub"):
        check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert "truncated or damaged" in caplog.text and "converting anew" in caplog.text
    assert (path.parent / (path.name + ".damaged")).is_file()


def test_concurrent_first_calls_download_and_convert_once(server, preset, cache, monkeypatch):  # noqa: F811
    """Two first calls at once (two notebooks, data-parallel workers): one fetches and
    converts while the other waits on the lock, then reads the cache; before, both wrote one
    .part file and the second found the checkpoint deleted under it."""
    import threading
    import time

    real = hub._fetch_and_convert
    inside, peak, fetches = [0], [0], []

    def slow(*args, **kwargs):
        inside[0] += 1
        peak[0] = max(peak[0], inside[0])
        time.sleep(0.5)  # long enough for the other thread to reach the lock
        try:
            return real(*args, **kwargs)
        finally:
            inside[0] -= 1
            fetches.append(args[0])

    monkeypatch.setattr(hub, "_fetch_and_convert", slow)
    results, errors = [], []

    def call():
        try:
            results.append(hub.download_preset(PRESET, progress=False))
        except Exception as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    assert peak[0] == 1 and fetches == [PRESET] and len(server.requests) == 1
    assert cached_files(cache) == [f"{PRESET}/{preset['sha256']}.weights.h5"]


def test_overrides_are_refused_before_any_download(server, preset, checkpoint, cache):  # noqa: F811
    """With an empty cache: the refusal comes before the request (a large checkpoint was
    downloaded and converted first); a value equal to what the weights were built with, the
    preset's or the constructor's default, is no change."""
    _, reference = checkpoint
    with pytest.raises(ValueError, match=r"\['wn_linear_path'\] would change what they compute"):
        WaveGlow.from_preset(PRESET, wn_linear_path=False)
    assert server.requests == [] and cached_files(cache) == []
    model = WaveGlow.from_preset(PRESET, coupling_log_scale_bound=None, wn_separable=False)
    check_matches_torch(model, reference)


def test_bad_hash_is_refused_and_nothing_is_cached(server, preset, cache, monkeypatch):  # noqa: F811
    wrong = "0" * 64
    monkeypatch.setitem(preset, "sha256", wrong)
    with pytest.raises(hub.WeightsVerificationError) as error:
        WaveGlow.from_preset(PRESET)
    message = str(error.value)
    assert "sha256 mismatch" in message and preset["url"] in message and wrong in message
    assert str(cache / "downloads" / FILENAME) in message
    assert cached_files(cache) == []


def test_consent_accepts_a_file_that_contradicts_a_recorded_digest(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
    caplog,
):
    # A recorded digest may come from a mirror (nvidia_universal's does): a user who trusts the
    # file they get can still use it, with the two digests logged.
    _, reference = checkpoint
    actual, wrong = preset["sha256"], "0" * 64
    monkeypatch.setitem(preset, "sha256", wrong)
    with pytest.raises(hub.WeightsVerificationError, match="--allow-unverified"):
        WaveGlow.from_preset(PRESET)
    assert cached_files(cache) == []
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.hub"):
        path = hub.download_preset(PRESET, allow_unverified=True, progress=False)
    assert path == cache / PRESET / f"{actual}.weights.h5"
    assert actual in caplog.text and wrong in caplog.text
    assert cached_files(cache) == [f"{PRESET}/{actual}.accepted", f"{PRESET}/{actual}.weights.h5"]
    requests = len(server.requests)
    assert hub.download_preset(PRESET, allow_unverified=True, progress=False) == path
    assert len(server.requests) == requests  # found in the cache, no second download
    model = WaveGlow.from_preset(PRESET, load_weights=False)
    model.load_weights(path)
    check_matches_torch(model, reference)
    # The consent was given once: later plain calls (from_preset, vocode's model spec) use the
    # accepted conversion without a download, and say whose digest it has.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.hub"):
        check_matches_torch(WaveGlow.from_preset(PRESET), reference)
        check_matches_torch(inference.load_vocoder(PRESET), reference)
    assert len(server.requests) == requests
    assert actual in caplog.text and "allow_unverified" in caplog.text
    # The consent was given against the record "0" * 64: a corrected record voids it.
    monkeypatch.setitem(preset, "sha256", "1" * 64)
    with pytest.raises(hub.WeightsVerificationError, match="sha256 mismatch"):
        WaveGlow.from_preset(PRESET)


def test_the_recorded_checkpoint_put_by_hand_wins_over_an_accepted_other_one(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
):
    """A user who accepted another file (allow_unverified), then put the recorded one where
    the refusal says, gets the recorded one converted: the accepted conversion was used and
    the right file ignored. With no checkpoint in place, the consent still holds."""
    data, reference = checkpoint
    other = bytearray(data)
    other[-1] ^= 1  # the end of the zip's directory comment: still loads, another digest
    other = bytes(other)
    server.files = {FILENAME: other}
    accepted = hub.download_preset(PRESET, allow_unverified=True, progress=False)
    assert accepted.name == f"{hashlib.sha256(other).hexdigest()}.weights.h5"
    assert hub.preset_weights_file(PRESET) == accepted  # the consent holds
    server.files = {}
    (cache / "downloads" / FILENAME).write_bytes(data)  # the recorded file, by hand
    path = hub.preset_weights_file(PRESET)
    assert path == hub.converted_path(PRESET, preset["sha256"])
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    # An accepted file kept in place (put there before its conversion) is not hashed again
    # at every call: only a file placed after every conversion is.
    from keras_waveglow.data import arctic

    hub.remove_cached(PRESET)
    (cache / "downloads" / FILENAME).write_bytes(other)
    assert hub.download_preset(PRESET, allow_unverified=True, progress=False) == accepted
    later = (cache / "downloads" / FILENAME).stat().st_ctime_ns + 10**9  # a coarse clock
    os.utime(accepted, ns=(later, later))
    hashed, real = [], arctic.file_sha256
    monkeypatch.setattr(arctic, "file_sha256", lambda p: hashed.append(p) or real(p))
    assert hub.preset_weights_file(PRESET) == accepted and hashed == []


def test_a_cache_file_removed_while_it_is_looked_at_is_a_miss(server, preset, cache, monkeypatch):  # noqa: F811
    """The first look at the cache runs outside the lock: a file another process removed
    between the listing and its stat (or its consent's read) raised FileNotFoundError; it is
    a miss, and the look under the lock finds what is there."""
    path = hub.download_preset(PRESET, progress=False)
    requests = len(server.requests)
    find, calls = hub._find_cached, []

    def vanishing(*args):
        calls.append(args)
        if len(calls) == 1:
            raise FileNotFoundError("removed by another process meanwhile")
        return find(*args)

    monkeypatch.setattr(hub, "_find_cached", vanishing)
    assert hub.preset_weights_file(PRESET) == path
    assert len(calls) == 2 and len(server.requests) == requests


def test_an_unsafe_download_is_refused_and_not_kept(server, preset, cache, monkeypatch):  # noqa: F811
    """A download refused as unsafe (its pickle names a global outside the allowlist) was
    kept, so every later call read it and failed alike; an unverified one is deleted now."""
    import datetime

    buffer = io.BytesIO()
    torch.save({"state_dict": {}, "made": datetime.date(2019, 4, 27)}, buffer)
    server.files = {FILENAME: buffer.getvalue()}
    monkeypatch.setitem(preset, "sha256", None)
    monkeypatch.setitem(preset, "size", None)
    with pytest.raises(UnpicklingError, match=r"The download was deleted\."):
        hub.download_preset(PRESET, allow_unverified=True, progress=False)
    assert cached_files(cache) == []


def test_http_404_names_url_hash_and_manual_path_which_then_works(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
):
    data, reference = checkpoint
    server.files = {}
    with pytest.raises(hub.WeightsUnavailableError, match="HTTP error 404") as error:
        WaveGlow.from_preset(PRESET)
    message = str(error.value)
    manual = cache / "downloads" / FILENAME
    assert preset["url"] in message and preset["sha256"] in message and str(manual) in message
    assert cached_files(cache) == []
    # Putting the file where the message says makes it work, without the network.
    manual.write_bytes(data)
    requests = len(server.requests)
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert len(server.requests) == requests
    assert manual.read_bytes() == data  # the user's file is kept (a download is deleted)
    # A hand-placed file with the wrong content is refused and named.
    monkeypatch.setitem(preset, "sha256", "f" * 64)
    with pytest.raises(hub.WeightsVerificationError, match=rf"{FILENAME}: sha256 \w+ does not"):
        WaveGlow.from_preset(PRESET)


def test_interrupted_transfer_keeps_only_a_part_file_then_resumes(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
):
    data, reference = checkpoint
    cut = len(data) // 10
    server.cut_after, server.cuts_left = cut, 4  # every attempt of the first call is cut
    with pytest.raises(hub.WeightsUnavailableError, match="interrupted") as error:
        WaveGlow.from_preset(PRESET)
    assert preset["url"] in str(error.value)
    # Only the resumable part file (and the server's ETag for it); no checkpoint, no weights.
    assert cached_files(cache) == [
        f"downloads/{FILENAME}.part",
        f"downloads/{FILENAME}.part.validator",
    ]
    assert (cache / "downloads" / f"{FILENAME}.part").stat().st_size == 4 * cut
    server.cuts_left = 0
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert server.requests[-1][1] == f"bytes={4 * cut}-"
    assert server.bytes_sent == len(data)  # nothing fetched twice
    assert cached_files(cache) == [f"{PRESET}/{preset['sha256']}.weights.h5"]

    # A cut transfer, then the file put in place by hand: the part file goes (it stayed for
    # good); remove_cached deletes one too.
    hub.remove_cached(PRESET)
    server.cut_after, server.cuts_left = cut, 4
    with pytest.raises(hub.WeightsUnavailableError, match="interrupted"):
        WaveGlow.from_preset(PRESET)
    (cache / "downloads" / FILENAME).write_bytes(data)
    hub.preset_weights_file(PRESET)
    assert not (cache / "downloads" / f"{FILENAME}.part").exists()
    assert not (cache / "downloads" / f"{FILENAME}.part.validator").exists()
    (cache / "downloads" / FILENAME).unlink()
    hub.remove_cached(PRESET)
    server.cuts_left = 4
    with pytest.raises(hub.WeightsUnavailableError, match="interrupted"):
        WaveGlow.from_preset(PRESET)
    part = cache / "downloads" / f"{FILENAME}.part"
    assert hub.remove_cached(PRESET) == [part, part.with_name(part.name + ".validator")]
    assert cached_files(cache) == []


def test_download_names_an_unusable_cache_folder(server, preset, tmp_path, monkeypatch, capsys):  # noqa: F811
    blocker = tmp_path / "a file"
    blocker.write_bytes(b"")
    monkeypatch.setenv(hub.HOME_ENV_VAR, str(blocker / "cache"))
    assert cli.main(["download", PRESET, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("download failed: ") and server.requests == []
    assert f"({blocker / 'cache'} is the cache folder; set $KERAS_WAVEGLOW_HOME" in err


def test_unverified_source_needs_consent_and_logs_its_digest(
    server,  # noqa: F811
    preset,
    cache,
    monkeypatch,
    caplog,
    capsys,
):
    digest = preset["sha256"]
    monkeypatch.setitem(preset, "sha256", None)
    with pytest.raises(hub.WeightsVerificationError, match="--allow-unverified"):
        WaveGlow.from_preset(PRESET)
    assert server.requests == []
    assert cli.main(["download", PRESET, "--no-progress"]) == 1
    assert "no sha256 is recorded" in capsys.readouterr().err
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.hub"):
        argv = ["download", PRESET, "--no-progress", "--allow-unverified"]
        assert cli.main(argv) == 0
    assert digest in caplog.text
    assert capsys.readouterr().out.strip() == str(cache / PRESET / f"{digest}.weights.h5")
    # The conversion is found again although no digest is recorded.
    WaveGlow.from_preset(PRESET)
    assert len(server.requests) == 1
    # Of several conversions, the newest (the checkpoint accepted last) is used, not the
    # lowest digest.
    converted = cache / PRESET / f"{digest}.weights.h5"
    other = cache / PRESET / f"{'0' * 64}.weights.h5"
    other.write_bytes(converted.read_bytes())
    now = converted.stat().st_mtime
    os.utime(other, (now - 60, now - 60))
    assert hub._cached(PRESET, None) == converted
    os.utime(other, (now + 60, now + 60))
    assert hub._cached(PRESET, None) == other
    # The preset moved to another file (no digest to tell them apart): the conversion
    # accepted from the old URL is not used for it (it was, silently).
    other.unlink()
    assert hub._cached(PRESET, None) == converted
    monkeypatch.setitem(preset, "url", f"{server.url}/moved_{FILENAME}")
    assert hub._cached(PRESET, None) is None
    with pytest.raises(hub.WeightsVerificationError, match="no sha256 is recorded"):
        WaveGlow.from_preset(PRESET)


def test_a_hand_downloaded_checkpoint_goes_where_wget_names_it(cache):
    # nvidia_ljspeech's URL ends without ".pt": the manual path is the name a download gets.
    for name in ("nvidia_ljspeech", "nvidia_universal"):
        url = presets.WEIGHTS[name]["url"]
        assert hub.checkpoint_path(name) == cache / "downloads" / url.rsplit("/", 1)[-1]


def test_from_preset_accepts_an_unverified_checkpoint_on_request(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
    caplog,
):
    # nvidia_ljspeech's case (no digest published): from_preset itself takes the consent.
    _, reference = checkpoint
    digest = preset["sha256"]
    monkeypatch.setitem(preset, "sha256", None)
    with caplog.at_level(logging.WARNING, logger="keras_waveglow.hub"):
        model = WaveGlow.from_preset(PRESET, allow_unverified=True)
    check_matches_torch(model, reference)
    assert digest in caplog.text
    assert cached_files(cache) == [f"{PRESET}/{digest}.accepted", f"{PRESET}/{digest}.weights.h5"]


def test_cli_download_of_a_bundled_preset_downloads_nothing(capsys):
    name = presets.DEFAULT_PRESET
    assert cli.main(["download", name, "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "bundled with the package; nothing to download" in captured.err
    assert "sha256" not in captured.err
    assert captured.out.strip() == str(hub.preset_weights_file(name))


def test_checkpoint_that_contradicts_the_preset_is_not_cached(server, preset, cache, monkeypatch):  # noqa: F811
    monkeypatch.setitem(presets.PRESETS, PRESET, {**presets.PRESETS[PRESET], "n_flows": 6})
    # The preset's setting, not the user's, meets the file's weights: said so.
    message = (
        rf"{FILENAME}: not the checkpoint of preset '{PRESET}' \(the preset has n_flows=6, but"
    )
    # Its sha256 is the recorded one: the preset is wrong, and a new download would fail
    # alike, so the file is kept (with the downloader's mark) and the message says so.
    kept = r"its sha256 is the one recorded, so it is kept: the preset's settings do not fit"
    with pytest.raises(ValueError, match=message + r".*" + kept):
        WaveGlow.from_preset(PRESET)
    assert not list(cache.glob(f"{PRESET}/*"))
    assert cached_files(cache) == [f"downloads/{FILENAME}", f"downloads/{FILENAME}.downloaded"]
    with pytest.raises(ValueError, match=kept):
        WaveGlow.from_preset(PRESET)
    assert len(server.requests) == 1  # not fetched again
    # An unverified download that does not fit is deleted (a transfer cut short, or another
    # file): below, in test_a_transfer_cut_short_is_never_accepted.


def test_a_transfer_cut_short_is_never_accepted(server, preset, checkpoint, cache, monkeypatch):  # noqa: F811
    """A server that drops the connection without a Content-Length: the file looks complete.
    Its recorded size refuses it even with allow_unverified (which let it through before);
    without a size, its conversion fails and the download is deleted, not kept."""
    data, reference = checkpoint
    server.send_length = False
    server.cut_after, server.cuts_left = len(data) // 2, 1
    monkeypatch.setitem(preset, "sha256", None)
    with pytest.raises(
        hub.WeightsVerificationError,
        match=rf"{len(data) // 2} bytes, but preset .* the download was deleted; call again",
    ):
        WaveGlow.from_preset(PRESET, allow_unverified=True)
    assert cached_files(cache) == []
    monkeypatch.setitem(preset, "size", None)
    server.cuts_left = 1
    with pytest.raises(ValueError, match=r"not the checkpoint of .* the download was deleted"):
        WaveGlow.from_preset(PRESET, allow_unverified=True)
    assert cached_files(cache) == []
    check_matches_torch(WaveGlow.from_preset(PRESET, allow_unverified=True), reference)


def test_bundled_file_preset_becomes_the_default_model(tmp_path, cache, monkeypatch):
    source = WaveGlow.from_preset("tiny", seed=5)
    path = tmp_path / "bundled.weights.h5"
    source.save_weights(path)
    monkeypatch.setitem(presets.PRESETS, "bundled_test", presets.get_preset("tiny"))
    # Bundled files are named relative to the package folder (keras_waveglow/).
    relative = os.path.relpath(path, Path(keras_waveglow.__file__).parent)
    monkeypatch.setitem(presets.WEIGHTS, "bundled_test", {"file": relative})

    monkeypatch.setattr(presets, "DEFAULT_PRESET", None)
    with pytest.raises(RuntimeError, match=r"nvidia_ljspeech, nvidia_universal.*from_preset"):
        keras_waveglow.default_model()
    monkeypatch.setattr(presets, "DEFAULT_PRESET", "bundled_test")
    model = keras_waveglow.default_model()
    assert hub.weights_kind("bundled_test") == "bundled"
    for got, want in zip(model.weights, source.weights, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(got), want.numpy())
    audio, rate = keras_waveglow.vocode(np.zeros((4, 80), "float32"), seed=0)
    assert rate == 16000 and audio.shape == (4 * 256,) and np.all(np.isfinite(audio))
    assert cached_files(cache) == []  # a bundled file is read in place

    monkeypatch.setitem(presets.WEIGHTS, "bundled_test", {"file": str(tmp_path / "gone.h5")})
    with pytest.raises(FileNotFoundError, match=r"gone\.h5: the bundled weights"):
        WaveGlow.from_preset("bundled_test")


def test_parameter_counts_allocate_nothing_and_match_built_models():
    from keras.src.backend.common import global_state

    config = {**presets.get_preset("tiny"), "use_actnorm": True}
    assert hub.count_parameters(config) == WaveGlow(**config).count_params()
    assert not global_state.get_global_attribute("uninitialized_variables", [])
    shape = {**TORCH_CONFIG, "n_mel_channels": 80, "wn_channels": 32}
    reference = torch_waveglow.WaveGlow(**shape, weight_norm=False)
    config = {**presets.get_preset("nvidia_22k"), **shape}
    assert hub.count_parameters(config) == sum(p.numel() for p in reference.parameters())
    rows = {row["name"]: row for row in hub.describe_presets()}
    # The PyTorch reference model (tests/torch_waveglow.py) built with these two shapes has
    # exactly these counts (measured once: building them takes 27 s, too slow for every run).
    assert rows["nvidia_universal"]["parameters"] == 87_731_816
    assert rows["nvidia_ljspeech"]["parameters"] == 267_999_848
    assert rows["nvidia_ljspeech"]["weights"] == "downloadable"
    assert rows["tiny"]["weights"] == "none" and rows["tiny"]["license"] == "-"


def test_unknown_preset_names_the_closest_one():
    with pytest.raises(ValueError, match=r"Unknown preset 'Tiny'\. Did you mean 'tiny'\?"):
        WaveGlow.from_preset("Tiny")
    with pytest.raises(
        ValueError, match=r"'squeezwave_128s_klettres'\. Did you mean 'squeezewave_128s_klettres'"
    ):
        WaveGlow.from_preset("squeezwave_128s_klettres")
    with pytest.raises(ValueError) as error:
        WaveGlow.from_preset("hifigan_v1")
    assert "Did you mean" not in str(error.value) and "nvidia_22k" in str(error.value)


def test_cli_lists_presets(capsys):
    assert cli.main(["presets"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("nvidia_ljspeech"))
    assert "22050" in line and "268.00M" in line and "LJSpeech" in line
    assert "downloadable, no sha256 (--allow-unverified)" in line  # NVIDIA publishes none
    universal = next(line for line in out.splitlines() if line.startswith("nvidia_universal "))
    assert "downloadable  " in universal and "no sha256" not in universal
    # Every column starts at one offset (the licence after data of any length).
    lines = out.splitlines()[: len(presets.PRESETS) + 1]
    start = lines[0].index("licence")
    assert all(line[start - 2 : start] == "  " for line in lines[1:] if len(line) > start)
    assert next(line for line in out.splitlines() if line.startswith("tiny")).split()[3] == "none"


def test_a_checkpoint_put_by_hand_under_a_former_name_is_kept(server, preset, checkpoint, cache):  # noqa: F811
    """The file name an older version told users to put a hand download at: taken over,
    converted, and kept (it may be the user's only copy), not deleted as a download."""
    data, reference = checkpoint
    preset["former_filenames"] = ["old_name.pt"]
    downloads = cache / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "old_name.pt").write_bytes(data)
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert server.requests == []
    assert (downloads / FILENAME).read_bytes() == data
    assert not (downloads / "old_name.pt").exists()


def test_a_download_whose_conversion_was_killed_is_removed_once_converted(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
):
    """A kill during the conversion leaves the download in place, marked as the
    downloader's: the next call converts it without fetching it again, then deletes it. A
    copy put in its place by hand (another file under the mark) is kept."""
    data, reference = checkpoint
    real_convert = hub._convert

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hub, "_convert", killed)
    with pytest.raises(KeyboardInterrupt):
        WaveGlow.from_preset(PRESET)
    marked = [f"downloads/{FILENAME}", f"downloads/{FILENAME}.downloaded"]
    assert cached_files(cache) == marked
    monkeypatch.setattr(hub, "_convert", real_convert)
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert len(server.requests) == 1
    assert cached_files(cache) == [f"{PRESET}/{preset['sha256']}.weights.h5"]

    # Killed again, then the user replaces the download with their own copy: theirs is kept.
    (cache / PRESET / f"{preset['sha256']}.weights.h5").unlink()
    monkeypatch.setattr(hub, "_convert", killed)
    with pytest.raises(KeyboardInterrupt):
        WaveGlow.from_preset(PRESET)
    monkeypatch.setattr(hub, "_convert", real_convert)
    path = cache / "downloads" / FILENAME
    path.unlink()
    path.write_bytes(data)
    os.utime(path, ns=(1, 1))  # another stamp than the mark's, whatever the clock
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert path.read_bytes() == data and len(server.requests) == 2
    converted = f"{PRESET}/{preset['sha256']}.weights.h5"
    assert cached_files(cache) == [f"downloads/{FILENAME}", converted]


def test_a_download_under_a_former_name_is_taken_over(server, preset, checkpoint, cache):  # noqa: F811
    """A checkpoint (or its .part) saved under the name a preset used before is renamed, not
    fetched again (nvidia_ljspeech's file lost its ".pt")."""
    data, _ = checkpoint
    preset["former_filenames"] = ["old_name.pt"]
    downloads = cache / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "old_name.pt.part").write_bytes(data[:1000])
    WaveGlow.from_preset(PRESET)
    assert server.requests == [(f"/packed/{FILENAME}", "bytes=1000-")]  # resumed, not restarted
    assert not (downloads / "old_name.pt.part").exists()


def test_refresh_converts_anew_and_a_stale_conversion_names_it(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    capsys,
):
    """The cache is keyed by the checkpoint's sha256 alone: a conversion an older converter
    wrote is used as it is. One that no longer loads names `download --refresh`, which
    deletes it and converts anew (downloading again: the checkpoint went after conversion)."""
    _, reference = checkpoint
    assert cli.main(["download", PRESET, "--no-progress"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == hub.converted_path(PRESET, preset["sha256"]) and len(server.requests) == 1
    # What a converter with another layout would have left: a readable file of other shapes.
    other = WaveGlow(**{**presets.get_preset(PRESET), "wn_channels": 8})
    other.save_weights(path)
    with pytest.raises(ValueError, match=rf"cannot load its weights.*download {PRESET} --refresh"):
        WaveGlow.from_preset(PRESET)
    consent = cache / PRESET / "0123.accepted"  # a consent given for an older checkpoint
    consent.write_text("accepted")
    # A refresh that fails (here the server answers 404) keeps what was cached.
    kept = path.read_bytes()
    files, server.files = server.files, {}
    assert cli.main(["download", PRESET, "--refresh", "--no-progress"]) == 1
    assert "404" in capsys.readouterr().err
    assert path.read_bytes() == kept and consent.read_text() == "accepted"
    assert cached_files(cache) == [f"{PRESET}/0123.accepted", f"{PRESET}/{path.name}"]
    server.files = files
    assert cli.main(["download", PRESET, "--refresh", "--no-progress"]) == 0
    assert Path(capsys.readouterr().out.strip()) == path and len(server.requests) == 3
    assert cached_files(cache) == [f"{PRESET}/{preset['sha256']}.weights.h5"]
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert hub.remove_cached(PRESET) == [path] and cached_files(cache) == []
    with pytest.raises(ValueError, match="no downloadable weights"):
        hub.remove_cached(presets.DEFAULT_PRESET)  # bundled: nothing of it is cached

    # A refresh killed midway (here: its conversion never returns) leaves the former
    # conversion set aside as *.refreshing; the next call puts it back and uses it offline.
    def killed(*args, **kwargs):
        raise SystemExit("killed")  # the process dies; nothing after it runs

    hub.download_preset(PRESET, progress=False)
    kept = path.read_bytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hub, "_fetch_and_convert", killed)
        patch.setattr(hub.os, "replace", _replace_then_die_on_put_back(hub.os.replace))
        with pytest.raises(SystemExit):
            hub.download_preset(PRESET, progress=False, refresh=True)
    assert cached_files(cache) == [f"{PRESET}/{path.name}.refreshing"]
    files, server.files = server.files, {}
    assert hub.preset_weights_file(PRESET) == path and path.read_bytes() == kept
    assert cached_files(cache) == [f"{PRESET}/{path.name}"]
    server.files = files
    requests = len(server.requests)

    # Refused at once where there is nothing to refresh.
    assert cli.main(["download", presets.DEFAULT_PRESET, "--refresh"]) == 2
    assert "bundled with the package; nothing of it is downloaded" in capsys.readouterr().err
    # --allow-unverified was ignored there (exit 0): nothing of a bundled file is verified.
    assert cli.main(["download", presets.DEFAULT_PRESET, "--allow-unverified"]) == 2
    assert "--allow-unverified: preset" in capsys.readouterr().err
    assert cli.main(["download", "arctic", "--refresh"]) == 2
    assert "--refresh applies to a preset's weights" in capsys.readouterr().err
    assert len(server.requests) == requests


def _replace_then_die_on_put_back(replace):
    """`os.replace` that sets files aside, and fails when a kill would have stopped the
    process before it put them back (the `except BaseException` of a real kill never runs)."""

    def patched(source, target):
        if str(source).endswith(".refreshing"):
            raise SystemExit("killed")
        return replace(source, target)

    return patched


def test_remove_cached_deletes_a_first_download_cut_short(server, preset, checkpoint, cache):  # noqa: F811
    """On a fresh cache the preset's folder does not exist until a conversion: remove_cached
    returned [] and left the cut transfer's part files, which the next call resumed."""
    data, _ = checkpoint
    server.cut_after, server.cuts_left = len(data) // 10, 4
    with pytest.raises(hub.WeightsUnavailableError, match="interrupted"):
        hub.preset_weights_file(PRESET, progress=False)
    assert not (cache / PRESET).exists()
    part = cache / "downloads" / f"{FILENAME}.part"
    assert hub.remove_cached(PRESET) == [part, part.with_name(part.name + ".validator")]
    assert cached_files(cache) == []


def test_a_checkpoint_put_by_hand_for_a_preset_without_a_digest_is_used(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
):
    """No sha256 recorded: after one accepted download, a new checkpoint put where the
    refusal says was never hashed nor converted; the old weights went on being used."""
    data, reference = checkpoint
    monkeypatch.setitem(preset, "sha256", None)
    other = bytearray(data)
    other[-1] ^= 1  # the end of the zip's directory comment: still loads, another digest
    server.files = {FILENAME: bytes(other)}
    first = hub.preset_weights_file(PRESET, allow_unverified=True, progress=False)
    assert first.name == f"{hashlib.sha256(bytes(other)).hexdigest()}.weights.h5"
    server.files = {}
    placed = cache / "downloads" / FILENAME
    placed.write_bytes(data)
    path = hub.preset_weights_file(PRESET, progress=False)
    assert path == hub.converted_path(PRESET, hashlib.sha256(data).hexdigest()) != first
    check_matches_torch(WaveGlow.from_preset(PRESET), reference)
    assert hub.preset_weights_file(PRESET) == path  # kept in place: its conversion, again


def test_a_checkpoint_copied_back_in_place_is_hashed_once(
    server,  # noqa: F811
    preset,
    checkpoint,
    cache,
    monkeypatch,
):
    """An accepted file put back at the checkpoint path after its conversion (a newer change
    time) was hashed in full at every call (676 MB for nvidia_universal)."""
    from keras_waveglow.data import arctic

    data, _ = checkpoint
    other = bytearray(data)
    other[-1] ^= 1
    server.files = {FILENAME: bytes(other)}
    accepted = hub.download_preset(PRESET, allow_unverified=True, progress=False)
    placed = cache / "downloads" / FILENAME
    assert not placed.exists()  # downloaded, converted, deleted
    placed.write_bytes(bytes(other))  # put back, after the conversion (a later change time)
    hashed, real = [], arctic.file_sha256
    monkeypatch.setattr(arctic, "file_sha256", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        assert hub.preset_weights_file(PRESET, progress=False) == accepted
    assert hashed == [placed]
    placed.write_bytes(data)  # another file in its place: hashed again, and converted
    assert hub.preset_weights_file(PRESET, progress=False) == hub.converted_path(
        PRESET, preset["sha256"]
    )
    assert hashed[1:] == [placed]


def test_a_wait_for_another_process_is_said_without_logging_set_up(tmp_path, caplog):
    """A second process waited silently (INFO is not shown without logging configured)
    through a whole download and conversion by the first."""
    import fcntl
    import threading

    path = tmp_path / ".preset.lock"
    with open(path, "a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        threading.Timer(0.5, fcntl.flock, (holder, fcntl.LOCK_UN)).start()
        with caplog.at_level(logging.WARNING, logger="keras_waveglow.hub"):
            with hub._lock(path) as locked:
                assert locked
    assert f"{path}: waiting for another process" in caplog.text


def test_from_preset_names_an_unusable_cache_folder(server, preset, tmp_path, monkeypatch):  # noqa: F811
    """The CLI named the cache and its variable; the Python API gave a bare NotADirectoryError."""
    blocker = tmp_path / "a file"
    blocker.write_bytes(b"")
    monkeypatch.setenv(hub.HOME_ENV_VAR, str(blocker / "cache"))
    hint = f"{blocker / 'cache'} is the cache folder; set $KERAS_WAVEGLOW_HOME to use another"
    with pytest.raises(NotADirectoryError, match=re.escape(hint)) as error:
        WaveGlow.from_preset(PRESET)
    assert str(error.value).count("is the cache folder") == 1 and server.requests == []
    with pytest.raises(NotADirectoryError, match=re.escape(hint)):
        hub.download_preset(PRESET, refresh=True, progress=False)


def test_the_cache_hint_keeps_a_rename_s_target(cache):
    """The hint rebuilt the error from its first path only: a failed rename lost its target."""
    source, target = cache / "p" / "x.weights.h5", cache / "p" / "x.weights.h5.refreshing"
    error = FileNotFoundError(2, "No such file or directory", str(source), None, str(target))
    named = hub._with_cache_hint(error)
    assert isinstance(named, FileNotFoundError) and named.filename2 == str(target)
    assert "is the cache folder" in str(named) and str(target) in str(named)
