"""Checks on paths before any work: where a folder cannot be made (every writer), whether a
`.keras` file is an archive at all, and whether a weights file is a training checkpoint; and
file lists given as pipes (`<(ls mels/*.pt)`), which can be read only once.

Light on purpose (no Keras, no NumPy; h5py only to read a weights file): the command line's
prechecks run it before a backend loads.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import logging
import os
import re
import stat
from pathlib import Path

logger = logging.getLogger(__name__)


def once_each(paths: list[Path]) -> list[Path]:
    """`paths` without repeats of a file (by its resolved path), with a warning naming them."""
    seen, kept, repeated = set(), [], []
    for path in paths:
        key = path.resolve()
        (repeated if key in seen else kept).append(path)
        seen.add(key)
    if repeated:
        logger.warning(
            "%d file(s) given more than once are read once: %s",
            len(repeated),
            ", ".join(str(p) for p in repeated[:5]) + (", ..." if len(repeated) > 5 else ""),
        )
    return kept


def temporary_siblings(path: Path) -> list[Path]:
    """The folders `tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)` makes beside
    `path` (the prefix and 8 characters of [a-z0-9_]; a user's own `.x.backup` is not one):
    left by a run killed before its cleanup, or in use by one running now."""
    ours = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}")
    return sorted(
        p
        for p in path.parent.glob(f".{glob.escape(path.name)}.*")
        if p.is_dir() and ours.fullmatch(p.name)
    )


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The existing file (not a folder) at `path` or at its nearest existing ancestor, which
    keeps a folder from being made there; None when there is none."""
    path = Path(path)
    for candidate in (path, *path.parents):
        try:
            if candidate.is_symlink() and not candidate.exists():
                return candidate  # a broken link: mkdir fails there ("File exists")
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:  # e.g. a folder that cannot be searched: the write will say so
            return None
    return None


def folder_refusal(path: str | os.PathLike, what: str, *, writable: bool = True) -> str | None:
    """Why `path` cannot be a folder to write in (`what`: e.g. "the output folder"), or None:
    a file in the way, or (with `writable`) the folder, or its nearest existing ancestor where
    it would be made, not writable or not reachable."""
    problem = _folder_problem(path, what, writable)
    return None if problem is None else problem[1]


def check_output_folder(path: str | os.PathLike, what: str) -> None:
    """Raises why `path` cannot be a folder to write in.

    Raises:
        NotADirectoryError: `path` is an existing file or lies under one (or a broken link).
        PermissionError: the folder, or where it would be made, is not writable or reachable.
    """
    problem = _folder_problem(path, what, True)
    if problem is not None:
        raise problem[0](problem[1])


def _folder_problem(path, what: str, writable: bool) -> tuple[type[OSError], str] | None:
    blocker = file_in_the_way(path)
    if blocker is None:
        if not writable:
            return None
        path = Path(path)
        try:
            existing = next((p for p in (path, *path.parents) if p.exists()), None)
        except OSError as error:  # a folder on the way that cannot be searched
            return PermissionError, f"{path}: {what} cannot be reached ({error.strerror})."
        if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
            # Found here, not after every file is vocoded or scored (or in a traceback).
            where = "" if existing == path else f" ({existing}, where it would be made)"
            return PermissionError, f"{path}: {what} is not writable{where}."
        return None
    if blocker.is_symlink() and not blocker.exists():
        return NotADirectoryError, (
            f"{path}: {blocker} is a broken symbolic link (to {os.readlink(blocker)})."
        )
    if blocker == Path(path):
        return NotADirectoryError, f"{path}: {what} is an existing file."
    return NotADirectoryError, f"{path}: {blocker} is a file, not a folder."


def prepare_output(
    path: str | os.PathLike, overwrite: bool, *, folder: bool = False, suffix: str | None = None
) -> Path:
    """Checks an export's output path before any work; creates nothing.

    An export replaces only its own kind of output, and only with `overwrite`: a file output
    never replaces a folder, a SavedModel only a folder holding a SavedModel; an empty path, the
    current folder or one of its parents is refused outright (replacing it would delete the
    folder the process works in).
    """
    if not os.fspath(path).strip():
        raise ValueError("the output path is empty.")
    path = Path(path)
    if suffix is not None and path.suffix != suffix:
        raise ValueError(f"{path}: the output must end in {suffix}.")
    here = Path.cwd().resolve()
    if here == path.resolve() or here.is_relative_to(path.resolve()):
        raise ValueError(f"{path} is the current folder or holds it; choose a new output path.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{path}: {parent} is a file, not a folder.")
            break
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
        if folder and not path.is_dir():
            raise ValueError(f"{path} is a file; a SavedModel is a folder: choose another path.")
        if folder and not (path / "saved_model.pb").is_file():
            raise ValueError(
                f"{path} is a folder without a SavedModel (no saved_model.pb); refusing to "
                "replace it: choose another path."
            )
        if not folder and path.is_dir():
            raise IsADirectoryError(
                f"{path} is a folder; refusing to replace a folder with a file: choose "
                "another path."
            )
    return path


def check_keras_archive(path: str | os.PathLike) -> None:
    """Refuses an existing `.keras` path that is not a zip archive, for which Keras' loader
    would say "File not found"."""
    import zipfile

    path = Path(path)
    if path.is_dir():  # Keras says "File not found"
        raise ValueError(f"{path}: a folder, not a .keras archive (a zip file).")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not a .keras archive (not a zip file: corrupt, truncated, or another "
            "format under a .keras name)."
        )


def is_training_checkpoint(path: str | os.PathLike) -> bool:
    """Whether `path` is a training checkpoint (`train`'s last/best.weights.h5: both networks
    and their optimizers), told as `export-weights` tells one: the WaveGlow's weights under
    `layers/`, not at the file's root (a WaveGlow weights file), or an optimizer's state.
    h5py alone: no backend loads."""
    import h5py

    path = Path(path)
    try:
        if not path.is_file() or not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as handle:
            if "couplings" in handle and "convinvs" in handle:
                return False  # a WaveGlow weights file (an export)
            layers = handle.get("layers", {})
            return "optimizer" in handle or any(
                "couplings" in group and "convinvs" in group for group in layers.values()
            )
    except (OSError, ValueError):  # unreadable: the export names it, or replaces it
        return False


# A pipe can be read once, and a list is looked at more than once (is it a list? then read
# it, by each caller): its bytes, by the pipe's (device, inode), until the outermost
# `keeping_pipe_lists` ends (the entry points `vocode_files`, `evaluate`, `train`,
# `make_dataset` and `resolve_files` hold one), so a named pipe written again is read again
# by the next call. Outside any, what is read is kept for the life of the process.
_PIPES: dict[tuple[int, int], bytes] = {}
_PIPE_SCOPES = [0]


@contextlib.contextmanager
def keeping_pipe_lists():
    """Within it (nested as deep as needed), a pipe read as a file list is read once and kept;
    the outermost exit forgets them."""
    _PIPE_SCOPES[0] += 1
    try:
        yield
    finally:
        _PIPE_SCOPES[0] -= 1
        if _PIPE_SCOPES[0] == 0:
            _PIPES.clear()


def keeps_pipe_lists(function):
    """Runs `function` inside `keeping_pipe_lists` (a decorator for the entry points)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with keeping_pipe_lists():
            return function(*args, **kwargs)

    return wrapper


def is_pipe(path) -> bool:
    """Whether `path` is a named pipe (the shell's `<(...)` gives one in /dev/fd)."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError, TypeError):
        return False


def _pipe_bytes(path: Path) -> bytes | None:
    """The whole of `path` when it is a named pipe or process substitution, else None."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISFIFO(status.st_mode):
        return None
    key = (status.st_dev, status.st_ino)
    if key not in _PIPES:
        with open(path, "rb") as f:
            _PIPES[key] = f.read()
    return _PIPES[key]
