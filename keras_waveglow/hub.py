"""Preset weights: fetch, verify, convert once, cache (the keras-hub convention).

`keras_waveglow.presets.WEIGHTS` says where a preset's trained weights come from. This module is
the one place that turns that into a `.weights.h5` file for `WaveGlow.from_preset`, `vocode`'s
default model and the CLI:

* a bundled source (`{"file": ...}`) is a file inside the package: no network, no cache;
* a download source (`{"url", "sha256", "size", "filename"}`) is an NVIDIA checkpoint. It is
  fetched with the project's resumable downloader (`keras_waveglow.data.arctic.download_file`)
  into `<cache>/downloads/<filename>`, checked (size, sha256), converted with `from_nvidia`
  once, and the converted weights are written atomically to
  `<cache>/<preset>/<sha256>.weights.h5`. The downloaded checkpoint is then deleted (one put
  there by hand is kept): later calls read the converted file and need neither network nor
  PyTorch.

The cache folder is `$KERAS_WAVEGLOW_HOME`, else `$KERAS_HOME/keras_waveglow`, else
`~/.keras/keras_waveglow`. A checkpoint downloaded by hand goes to `checkpoint_path(name)`;
it is verified and converted like a downloaded one. An interrupted download leaves only
`<filename>.part` in `downloads/` (resumed by the next call); the converted file appears only
when complete. A hand-placed checkpoint is used even when no sha256 is recorded (placing it is
the user's decision); its digest is logged.

NVIDIA publishes no checksums; a recorded digest may come from a third-party mirror (named in
`presets.WEIGHTS`). A source whose "sha256" is None is refused unless `allow_unverified=True`
(CLI: `--allow-unverified`), which also accepts a file whose digest differs from the recorded
one; the digest of what was then fetched is logged so that it can be recorded. The conversion
of a file so accepted is cached under its own digest, with a `<sha256>.accepted` marker beside
it, and used by later calls without the flag (the consent was given once). Where a digest is
recorded, a warning names the accepted one at each use; where none is (`nvidia_ljspeech`), the
digest was logged when the file was accepted, and later uses are silent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from pickle import UnpicklingError

from keras_waveglow import _checks, presets

logger = logging.getLogger(__name__)

HOME_ENV_VAR = "KERAS_WAVEGLOW_HOME"
_PACKAGE_DIR = Path(__file__).resolve().parent


class WeightsUnavailableError(OSError):
    """A preset's weights could not be fetched (no network, HTTP error, interrupted transfer)."""


class WeightsVerificationError(ValueError):
    """A fetched or hand-placed checkpoint has the wrong size or sha256, or no known sha256."""


def cache_dir() -> Path:
    """The folder for downloads and converted weights (see the module docstring)."""
    if os.environ.get(HOME_ENV_VAR):
        return Path(os.environ[HOME_ENV_VAR]).expanduser()
    keras_home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return Path(keras_home).expanduser() / "keras_waveglow"


def _with_cache_hint(error: OSError) -> OSError:
    """The error, naming the cache folder and its variable where the file it could not use
    (its own, or its cause's) lies in the cache; else the error itself."""
    where = getattr(error, "filename", None) or getattr(error.__cause__, "filename", None)
    hint = f"{cache_dir()} is the cache folder; set ${HOME_ENV_VAR} to use another"
    if where is None or hint in str(error):
        return error
    if not Path(os.fsdecode(where)).expanduser().absolute().is_relative_to(cache_dir().absolute()):
        return error
    try:
        if error.errno is not None and error.filename is not None:  # [Errno 20] ...: 'path'
            named = (error.errno, f"{error.strerror} ({hint})", error.filename)
            if error.filename2 is not None:  # a rename's target too
                return type(error)(*named, None, error.filename2)
            return type(error)(*named)
        return type(error)(f"{error} ({hint})")
    except TypeError:  # a type that takes other arguments: left as it is
        return error


@contextlib.contextmanager
def _cache_errors():
    """Re-raises an `OSError` about a file in the cache with the cache's hint."""
    try:
        yield
    except OSError as error:
        named = _with_cache_hint(error)
        if named is error:
            raise
        raise named from error


def weights_source(name: str) -> dict | None:
    """The preset's weights source from `presets.WEIGHTS`, or None for an architecture only.

    Raises:
        ValueError: unknown preset.
    """
    presets.get_preset(name)  # unknown names fail here, with the list of presets
    return presets.WEIGHTS.get(name)


def weights_kind(name: str) -> str:
    """The kind of weights a preset has: "bundled", "downloadable" or "none"."""
    source = weights_source(name)
    if source is None:
        return "none"
    return "bundled" if "file" in source else "downloadable"


def checkpoint_path(name: str) -> Path:
    """Where the preset's checkpoint is downloaded to, and where a hand-downloaded copy goes."""
    source = _download_source(name)
    filename = source.get("filename") or source["url"].rstrip("/").rsplit("/", 1)[-1]
    return cache_dir() / "downloads" / filename


def converted_path(name: str, sha256: str) -> Path:
    """The cached `.weights.h5` converted from the checkpoint with this sha256."""
    return cache_dir() / name / f"{sha256.lower()}.weights.h5"


def _download_source(name: str) -> dict:
    source = weights_source(name)
    if source is None or "url" not in source:
        raise ValueError(f"Preset {name!r} has no downloadable weights.")
    return source


def _consent_path(name: str, sha256: str) -> Path:
    """The marker left beside a conversion whose checkpoint was accepted unverified."""
    return cache_dir() / name / f"{sha256.lower()}.accepted"


def _readable(path: Path) -> bool:
    """Whether a cached conversion opens as HDF5; a damaged one (a disk error, a cut copy)
    is moved aside with a warning, so that the caller downloads and converts it anew."""
    from keras_waveglow.flow import open_weights_file  # lazy: flow imports this module

    try:
        with open_weights_file(path):
            return True
    except FileNotFoundError:  # another process moved it aside meanwhile
        return False
    except ValueError as error:
        damaged = path.with_name(path.name + ".damaged")
        try:
            os.replace(path, damaged)
        except FileNotFoundError:
            return False
        except OSError as move_error:  # a read-only cache, say
            raise OSError(
                f"{error}; it is a cached conversion and could not be moved aside "
                f"({move_error}): delete it, then call again to convert anew."
            ) from move_error
        logger.warning("%s; moved to %s, converting anew.", error, damaged)
        return False


def _cached(name: str, sha256: str | None) -> Path | None:
    """The converted weights in the cache: the recorded digest's, else an accepted one's.
    Called outside the lock too: a file another process removes meanwhile (`remove_cached`,
    a refresh) makes it a miss, which the caller then checks again under the lock."""
    try:
        return _find_cached(name, sha256)
    except FileNotFoundError:
        return None


def _find_cached(name: str, sha256: str | None) -> Path | None:
    recorded = converted_path(name, sha256) if sha256 else None
    if recorded is not None and recorded.is_file() and _readable(recorded):
        return recorded
    found = [
        path
        for path in sorted((cache_dir() / name).glob("[0-9a-f]*.weights.h5"))
        if _readable(path)
    ]
    if not sha256:
        # Nothing recorded to contradict: an earlier conversion will do, the newest one where
        # several are cached (a checkpoint accepted later replaces the one accepted before),
        # unless its consent names another URL (the preset now points at another file).
        url = f"url: {(weights_source(name) or {}).get('url')}\n"

        def same_source(path: Path) -> bool:
            marker = _consent_path(name, path.name.split(".")[0])
            text = marker.read_text(encoding="utf-8") if marker.is_file() else ""
            return "url: " not in text or url in text  # older consents name no URL

        found = [path for path in found if same_source(path)]
        # A checkpoint put at the preset's path after every conversion (by hand, as the
        # refusal says) is the one wanted: its own conversion, else it is converted.
        placed = _checkpoint_placed_since(name, found)
        if placed is not None:
            return next((path for path in found if path.name.split(".")[0] == placed), None)
        return max(found, key=lambda path: path.stat().st_mtime_ns) if found else None
    # Another digest's conversion counts only where the user accepted that checkpoint with
    # allow_unverified (the consent holds for later calls); one verified against an older
    # record does not, nor does any once the recorded checkpoint is in place (put there by
    # hand, as the refusal says): that one is converted.
    if found and _recorded_checkpoint_in_place(name, sha256, found):
        return None
    for path in found:
        digest = path.name.split(".")[0]
        marker = _consent_path(name, digest)
        # The consent holds against the record it was given against, not a corrected one.
        if marker.is_file() and f"recorded sha256: {sha256.lower()}." in marker.read_text():
            logger.warning(
                "Preset %r: using %s, converted from a checkpoint accepted with "
                "allow_unverified (sha256 %s; recorded %s).",
                name,
                path,
                digest,
                sha256,
            )
            return path
    return None


def _recorded_checkpoint_in_place(name: str, sha256: str, conversions: list[Path]) -> bool:
    """Whether the preset's checkpoint path holds the file with the recorded sha256, put
    there after every cached conversion (see `_checkpoint_placed_since`)."""
    return _checkpoint_placed_since(name, conversions) == sha256.lower()


def _checkpoint_placed_since(name: str, conversions: list[Path]) -> str | None:
    """The sha256 of the file at the preset's checkpoint path where it was put there after
    every cached conversion (its change time, which no copy tool sets back), else None: one
    there before them was converted into one of them. Its digest is remembered beside it
    (`_checkpoint_digest`), so a file kept in place is hashed once, not at every call."""
    path = checkpoint_path(name)
    try:
        if not path.is_file():
            return None
        placed = path.stat().st_ctime_ns
        if conversions and all(placed < c.stat().st_mtime_ns for c in conversions):
            return None  # there before they were made: one of them is its conversion
        return _checkpoint_digest(path)
    except FileNotFoundError:  # removed meanwhile
        return None


def _checkpoint_digest(path: Path, remember: bool = True) -> str:
    """The file's sha256, remembered in `<file>.sha256` with its size, modification and
    change times: hashed again only when any of them changed (a checkpoint is 676 MB). Not
    written unless `remember` (a file kept in place, looked at by later calls)."""
    from keras_waveglow.data.arctic import file_sha256

    stat = path.stat()
    stamp = f"{stat.st_size} {stat.st_mtime_ns} {stat.st_ctime_ns}"
    memo = path.with_name(path.name + ".sha256")
    try:
        recorded_stamp, digest = memo.read_text(encoding="utf-8").rsplit(" ", 1)
        if recorded_stamp == stamp and len(digest) == 64:
            return digest
    except (OSError, ValueError):  # none yet, unreadable or not ours: hashed
        pass
    digest = file_sha256(path)
    if remember:
        with contextlib.suppress(OSError):  # a read-only cache: hashed at each call, as before
            memo.write_text(f"{stamp} {digest}", encoding="utf-8")
    return digest


def _remedy(name: str, source: dict) -> str:
    expected = source.get("sha256") or "not recorded"
    return (
        f"URL: {source['url']}; expected sha256: {expected}. To install it by hand, download "
        f"that file and put it at {checkpoint_path(name)}, then call "
        f"WaveGlow.from_preset({name!r}) or run `keras-waveglow download {name}` again."
    )


def _consent(name: str) -> str:
    return (
        " If you trust the file anyway (the recorded digest may come from a mirror), accept it "
        f"with `keras-waveglow download {name} --allow-unverified`."
    )


def _fetch_checkpoint(
    name: str, source: dict, allow_unverified: bool, progress: bool, timeout: float
) -> tuple[Path, str]:
    """The verified checkpoint file and its sha256 (downloaded unless already in place)."""
    from keras_waveglow.data.arctic import discard_part, download_file

    path = checkpoint_path(name)
    expected = source.get("sha256")
    for former in source.get("former_filenames", ()):  # a download under an older name
        for suffix in ("", ".part", ".part.validator"):
            old, new = path.with_name(former + suffix), path.with_name(path.name + suffix)
            if old.is_file() and not new.exists() and not path.is_file():
                os.replace(old, new)
                logger.info("%s: renamed to %s (the preset's file name now).", old, new)
    fetched = not path.is_file()
    if not fetched:  # complete (put there by hand): a transfer cut short before is not needed
        discard_part(path)
    if fetched:
        if not expected and not allow_unverified:
            raise WeightsVerificationError(
                f"Preset {name!r}: no sha256 is recorded for its checkpoint, so it is not "
                "downloaded unchecked. Accept an unverified download with "
                f"`keras-waveglow download {name} --allow-unverified` (Python: "
                f"WaveGlow.from_preset({name!r}, allow_unverified=True)); "
                "the digest it gets is printed so it can be recorded in presets.WEIGHTS. "
                + _remedy(name, source)
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The downloader writes <path>.part, checks Content-Length and the sha256, and only
            # then renames: a failed or bad transfer never leaves a file at `path`.
            check = None if allow_unverified else expected
            download_file(source["url"], path, sha256=check, progress=progress, timeout=timeout)
        except ValueError as error:
            raise WeightsVerificationError(
                f"Preset {name!r}: the downloaded checkpoint was refused "
                f"({str(error).rstrip('.')}): a transfer cut short, or another file than the one "
                "recorded; nothing was cached, call again to retry. "
                + _remedy(name, source)
                + _consent(name)
            ) from error
        except OSError as error:  # its cause names a cache file it could not write, if so
            raise WeightsUnavailableError(
                f"Preset {name!r}: could not download its weights ({str(error).rstrip('.')}). "
                + _remedy(name, source)
            ) from error
        # Marks the file as the downloader's: deleted once converted, even when a killed
        # conversion leaves it for a later call (a file put there by hand has no mark). A kill
        # between the download's last rename and this line leaves it unmarked: kept.
        _download_mark(path).write_text(_file_stamp(path), encoding="utf-8")
    size = source.get("size")
    # Checked whatever allow_unverified says: a recorded size that differs is a truncated
    # (or other) file, never one to trust anyway.
    if size is not None and path.stat().st_size != size:
        got = path.stat().st_size
        if fetched:  # cut short (a server that sent no length) or another file: not kept
            _remove_download(path)
        remedy = (
            "the download was deleted; call again to retry" if fetched else "delete or replace it"
        )
        raise WeightsVerificationError(
            f"{path}: {got} bytes, but preset {name!r} expects {size}; {remedy}. "
            + _remedy(name, source)
        )
    digest = _checkpoint_digest(path, remember=False)  # one remembered before, if any
    if expected and digest != expected.lower():
        if not allow_unverified:
            raise WeightsVerificationError(
                f"{path}: sha256 {digest} does not match preset {name!r}; delete or replace it. "
                + _remedy(name, source)
                + _consent(name)
            )
        logger.warning(
            "%s: sha256 %s differs from the %s recorded for preset %r; accepted because "
            "allow_unverified is set.",
            path,
            digest,
            expected,
            name,
        )
    elif not expected:
        logger.warning(
            "%s: unverified checkpoint for preset %r (no sha256 recorded); its sha256 is %s and "
            "its size %d bytes.",
            path,
            name,
            digest,
            path.stat().st_size,
        )
    return path, digest


def _download_mark(path: Path) -> Path:
    """The file beside a checkpoint the downloader wrote (see `_placed_by_hand`)."""
    return path.with_name(path.name + ".downloaded")


def _file_stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size} {stat.st_mtime_ns}"


def _remove_download(path: Path) -> None:
    path.unlink(missing_ok=True)
    _download_mark(path).unlink(missing_ok=True)
    path.with_name(path.name + ".sha256").unlink(missing_ok=True)


def _placed_by_hand(name: str, source: dict) -> bool:
    """Whether the preset's checkpoint is in place and the user's: at its path without the
    downloader's mark (or with a mark of another file: a later copy put in its place), or
    complete under a former file name (moved to the path by `_fetch_checkpoint`)."""
    path = checkpoint_path(name)
    if path.is_file():
        mark = _download_mark(path)
        return not (mark.is_file() and mark.read_text(encoding="utf-8") == _file_stamp(path))
    return any(path.with_name(former).is_file() for former in source.get("former_filenames", ()))


def _convert(
    name: str, checkpoint: Path, target: Path, downloaded: bool = False, verified: bool = False
) -> None:
    """Converts the NVIDIA checkpoint with the preset's config and writes `target` atomically.
    A `downloaded` checkpoint that is not the preset's is deleted, unless `verified` (its
    sha256 is the recorded one: then the preset, not the file, is wrong, and a new download
    would fail alike); a file put there by hand is the user's, and kept."""
    try:
        from keras_waveglow.audio import reason_without_path, replace_from_temporary
        from keras_waveglow.convert import from_nvidia

        # Every preset value is passed: from_nvidia refuses the ones the weights contradict.
        model = from_nvidia(checkpoint, **presets.get_preset(name))
    except UnpicklingError as error:  # refused as unsafe: its own message says so
        if downloaded and not verified:  # not the preset's file: kept, every call failed
            _remove_download(checkpoint)
            raise type(error)(f"{error} The download was deleted.") from None
        raise
    except ValueError as error:  # the preset's settings, not the user's, met other weights
        reason = reason_without_path(error, checkpoint)
        if " given, but " in reason:  # e.g. "n_flows=12 given, but the checkpoint's weights..."
            reason = "the preset has " + reason.replace(" given, but ", ", but ", 1)
        if verified:
            remedy = (
                "its sha256 is the one recorded, so it is kept: the preset's settings do not "
                "fit the checkpoint it names (please report this)"
            )
        elif downloaded:
            _remove_download(checkpoint)
            remedy = "the download was deleted (a transfer cut short, or another file)"
        else:
            remedy = "delete or replace the file"
        raise ValueError(
            f"{checkpoint}: not the checkpoint of preset {name!r} ({reason.rstrip('.')}); {remedy}."
        ) from error
    except ImportError as error:
        raise ImportError(
            f"Converting {checkpoint} for preset {name!r} needs PyTorch once "
            "(pip install 'keras-waveglow[torch]'); the converted weights are cached and later "
            f"calls do not need it. ({error})"
        ) from error
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keras wants the ".weights.h5" suffix; the temporary sibling is renamed only when complete.
    handle, tmp = tempfile.mkstemp(prefix=".converting-", suffix=".weights.h5", dir=target.parent)
    os.close(handle)
    try:
        os.unlink(tmp)
        model.save_weights(tmp)
        replace_from_temporary(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def preset_weights_file(
    name: str,
    allow_unverified: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """The `.weights.h5` file holding a preset's trained weights; fetches and converts if needed.

    Args:
        name: a preset listed in `presets.WEIGHTS`.
        allow_unverified: bool, accept a checkpoint whose sha256 is not recorded or differs from
            the recorded one (the digest is logged). Default False.
        progress: bool, show a download progress bar. Default True.
        timeout: float, socket timeout in seconds. Default 60.

    Returns:
        The `Path` of a file for `WaveGlow.from_preset(name, load_weights=False).load_weights`.

    Raises:
        ValueError: unknown preset, or one without weights.
        FileNotFoundError: a bundled file missing from the installation.
        WeightsUnavailableError: no network, HTTP error or a transfer that stayed incomplete;
            the message names the URL, the expected sha256 and where a manual download goes.
        WeightsVerificationError: wrong size, or wrong or unrecorded sha256 while
            `allow_unverified` is False (same message details).
        ImportError: PyTorch is needed for the one-time conversion and is missing.

    Example:
        >>> path = keras_waveglow.hub.preset_weights_file("nvidia_universal")
    """
    allow_unverified = _checks.flag("allow_unverified", allow_unverified)  # bool("no") is True
    source = weights_source(name)
    if source is None:
        raise ValueError(f"Preset {name!r} is an architecture only; it has no trained weights.")
    if "file" in source:
        path = _PACKAGE_DIR / source["file"]
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: the bundled weights of preset {name!r} are missing from this "
                "installation; reinstall keras-waveglow."
            )
        return path
    expected = source.get("sha256")
    with _cache_errors():  # a cache folder it cannot use is named as the cache
        cached = _cached(name, expected)
        if cached is not None:
            return cached
        # One process at a time fetches and converts: two notebooks or data-parallel workers
        # on first use shared one .part file and one checkpoint (the second resumed the
        # first's transfer, then found its checkpoint deleted). The others wait, then find
        # the cache.
        with _lock(cache_dir() / f".{name}.lock") as locked:
            if locked:  # no other process works on this preset: leftovers are a killed one's
                _recover_killed(name)
            cached = _cached(name, expected)
            if cached is not None:
                return cached
            return _fetch_and_convert(name, source, expected, allow_unverified, progress, timeout)


def _recover_killed(name: str) -> None:
    """Cleans up after a process killed while it worked on the preset (call under the lock):
    deletes its temporary conversions, and puts back the conversions a killed refresh set
    aside (`*.refreshing`) where nothing has replaced them (else deletes them)."""
    folder = cache_dir() / name
    for stale in folder.glob(".converting-*"):
        stale.unlink(missing_ok=True)
    for moved in folder.glob("*.refreshing"):
        original = moved.with_name(moved.name.removesuffix(".refreshing"))
        if original.exists():
            moved.unlink(missing_ok=True)
        else:
            os.replace(moved, original)
            logger.info("%s: put back (a refresh was killed before it ended).", original)


@contextlib.contextmanager
def _lock(path: Path):
    """An exclusive lock on `path` (created) across processes; yields whether it is held.

    Not held where the OS has no `fcntl` (Windows) or the file system refuses `flock` (some
    network file systems): concurrent first calls are then not coordinated, as before.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:
            yield False
            return
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Shown without logging set up (a wait may last a whole download).
                logger.warning("%s: waiting for another process to finish with it.", path)
                fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:
            logger.warning("%s: no lock on this file system (%s); not coordinated.", path, error)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_and_convert(
    name: str, source: dict, expected, allow_unverified: bool, progress: bool, timeout: float
) -> Path:
    placed_by_hand = _placed_by_hand(name, source)
    if placed_by_hand:  # a mark of a download the user has since replaced
        _download_mark(checkpoint_path(name)).unlink(missing_ok=True)
    try:  # the conversion needs it: say so before a download of hundreds of megabytes
        import torch  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"Preset {name!r}: its weights are NVIDIA's PyTorch checkpoint, converted once "
            "on first use, which needs PyTorch (pip install 'keras-waveglow[torch]'); the "
            f"converted weights are cached and later calls do not need it. ({error})"
        ) from error
    checkpoint, digest = _fetch_checkpoint(name, source, allow_unverified, progress, timeout)
    target = converted_path(name, digest)
    verified = bool(expected) and digest == expected.lower()
    _convert(name, checkpoint, target, downloaded=not placed_by_hand, verified=verified)
    if not verified:  # let through by allow_unverified
        _consent_path(name, digest).write_text(
            f"{checkpoint.name} (sha256 {digest}) accepted with allow_unverified for preset "
            f"{name!r}; recorded sha256: {(expected or 'none').lower()}.\n"
            f"url: {source['url']}\n",
            encoding="utf-8",
        )
    if placed_by_hand:  # the user's file: kept (it may be their only copy)
        logger.info(
            "Preset %r: converted weights cached at %s; %s was in place before this call "
            "(put there by hand?), so it is kept: delete it to free the space.",
            name,
            target,
            checkpoint,
        )
        return target
    _remove_download(checkpoint)  # downloaded and converted: the (large) original is not needed
    logger.info("Preset %r: converted weights cached at %s.", name, target)
    return target


def download_preset(
    name: str, allow_unverified: bool = False, progress: bool = True, refresh: bool = False
) -> Path:
    """Fetches, verifies, converts and caches a preset's weights (see `preset_weights_file`).

    Args:
        name: a preset with downloadable weights.
        allow_unverified: bool, as `preset_weights_file`'s. Default False.
        progress: bool, show a download progress bar. Default True.
        refresh: bool, convert the checkpoint anew (downloading it again unless it is in
            place) in place of the preset's cached conversions, which are deleted once the
            new one is cached and put back if that fails. Default False.

    Returns:
        The `Path` of the converted `.weights.h5` file.

    Example:
        >>> keras_waveglow.hub.download_preset("nvidia_universal", refresh=True)
    """
    allow_unverified = _checks.flag("allow_unverified", allow_unverified)
    if not _checks.flag("refresh", refresh):
        return preset_weights_file(name, allow_unverified=allow_unverified, progress=progress)
    source = _download_source(name)
    # The whole refresh holds the lock: no other process finds the cache emptied meanwhile,
    # and a refresh killed midway leaves `*.refreshing` files that the next call under the
    # lock puts back (`_recover_killed`).
    with _cache_errors(), _lock(cache_dir() / f".{name}.lock") as locked:
        if locked:
            _recover_killed(name)
        aside = [(path, path.with_name(path.name + ".refreshing")) for path in _cache_files(name)]
        for path, moved in aside:  # set aside: the cache then misses
            os.replace(path, moved)
        try:
            target = _fetch_and_convert(
                name, source, source.get("sha256"), allow_unverified, progress, 60.0
            )
        except BaseException:  # offline, no torch, refused: the former conversion is kept
            for path, moved in aside:
                if moved.exists() and not path.exists():
                    os.replace(moved, path)
            raise
        for _, moved in aside:
            moved.unlink(missing_ok=True)
    return target


def _cache_files(name: str) -> list[Path]:
    """A preset's cached conversions, the consents given for unverified checkpoints, and
    conversions moved aside as damaged."""
    folder = cache_dir() / name
    patterns = ("[0-9a-f]*.weights.h5", "*.accepted", "*.weights.h5.damaged")
    return [path for pattern in patterns for path in sorted(folder.glob(pattern))]


def remove_cached(name: str) -> list[Path]:
    """Deletes a downloadable preset's cached conversions, with the consents given for
    unverified checkpoints, the conversions moved aside as damaged and a download cut short
    (`<checkpoint>.part` and its `.part.validator`).

    The cache is named by the checkpoint's sha256 alone, so a conversion made by an older
    keras-waveglow is used as it is; after an upgrade that changed the converter (or with a
    conversion in doubt) this makes the next call convert anew. The checkpoint itself is
    deleted after its conversion unless it was put in place by hand, so that call downloads
    it again. Waits for a conversion of the preset running in another process.

    Args:
        name: a preset with downloadable weights.

    Returns:
        The deleted files.

    Raises:
        ValueError: unknown preset, or one without downloadable weights.

    Example:
        >>> keras_waveglow.hub.remove_cached("nvidia_universal")
        [PosixPath('/root/.keras/keras_waveglow/nvidia_universal/1b2c...weights.h5')]
    """
    from keras_waveglow.data.arctic import part_paths

    _download_source(name)
    # A first download cut short leaves its part files before the preset's folder exists.
    if not (cache_dir() / name).is_dir() and not any(
        p.is_file() for p in part_paths(checkpoint_path(name))
    ):
        return []
    with _cache_errors(), _lock(cache_dir() / f".{name}.lock") as locked:
        if locked:
            _recover_killed(name)
        removed = _cache_files(name)
        removed += [p for p in part_paths(checkpoint_path(name)) if p.is_file()]  # cut short
        for path in removed:
            path.unlink(missing_ok=True)
    for path in removed:
        logger.info("Preset %r: removed %s from the cache.", name, path)
    return removed


def count_parameters(config: dict) -> int:
    """Number of parameters of `WaveGlow(**config)`, without allocating its weights.

    The model is built inside a `keras.StatelessScope`, where Keras creates variables with
    shapes but defers their initialisation; those variables are then dropped from Keras'
    pending-initialisation list, so nothing is ever allocated (about 0.2 s instead of 9 s and
    1 GB for the 268 M-parameter `nvidia_ljspeech`).
    """
    import keras

    from keras_waveglow.flow import WaveGlow

    try:
        from keras.src.backend.common import global_state
    except ImportError:  # a Keras without this internal: build for real (slower, same count)
        return int(WaveGlow(**config).count_params())
    pending = global_state.get_global_attribute("uninitialized_variables", [], set_to_default=True)
    before = len(pending)
    with keras.StatelessScope(initialize_variables=False):
        count = int(WaveGlow(**config).count_params())
    pending = global_state.get_global_attribute("uninitialized_variables", [])
    del pending[before:]
    return count


def describe_presets() -> list[dict]:
    """One row per preset for `keras-waveglow presets`.

    Returns:
        A list of dicts with "name", "sample_rate", "parameters", "weights" ("bundled",
        "downloadable" or "none"), "data", "license", "url" (None unless downloadable) and
        "sha256" (the recorded digest of a download, None where none is recorded: such a
        checkpoint needs `allow_unverified`).
    """
    rows = []
    for name in presets.PRESETS:
        config = presets.get_preset(name)
        source = presets.WEIGHTS.get(name) or {}
        rows.append(
            {
                "name": name,
                "sample_rate": config["sample_rate"],
                "parameters": count_parameters(config),
                "weights": weights_kind(name),
                "data": source.get("data", "-"),
                "license": source.get("license", "-"),
                "url": source.get("url"),
                "sha256": source.get("sha256"),
            }
        )
    return rows
