"""Checks on paths before any work: where a folder cannot be made (every writer), whether a
`.keras` file is an archive at all, and whether a weights file is a training checkpoint.

Light on purpose (no Keras, no NumPy; h5py only to read a weights file): the command line's
prechecks run it before a backend loads.
"""

from __future__ import annotations

import os
from pathlib import Path


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The existing file (not a folder) at `path` or at its nearest existing ancestor, which
    keeps a folder from being made there; None when there is none."""
    path = Path(path)
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:  # e.g. a folder that cannot be searched: the write will say so
            return None
    return None


def folder_refusal(path: str | os.PathLike, what: str) -> str | None:
    """Why `path` cannot be a folder (`what`: e.g. "the output folder"), or None."""
    blocker = file_in_the_way(path)
    if blocker is None:
        return None
    if blocker == Path(path):
        return f"{path}: {what} is an existing file."
    return f"{path}: {blocker} is a file, not a folder."


def check_keras_archive(path: str | os.PathLike) -> None:
    """Refuses an existing `.keras` path that is not a zip archive, for which Keras' loader
    would say "File not found"."""
    import zipfile

    path = Path(path)
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
