"""Where a folder cannot be made: the one check every writer runs before any work.

Light on purpose (no Keras, no NumPy): the command line's prechecks run it before a backend
loads.
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
