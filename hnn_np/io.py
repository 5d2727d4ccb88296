"""Files: every write is atomic, every read is checked.

A write goes to a temporary name in the target's folder, is flushed and
fsync'ed, renamed over the target, and then the folder itself is fsync'ed,
so that after a crash the target is either the old file or the whole new one
(and the rename survives). An exception mid-write leaves no temporary behind.

Reads of ``.npz`` files live in :mod:`hnn_np.npz` (re-exported here):
only the members asked for, each checked before it is allocated.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from .npz import read_header, read_npz

__all__ = ["atomic_write", "save_npz", "save_json", "save_text", "read_npz", "read_header"]


def _fsync_folder(folder):
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path, write, mode="wb", suffix=".tmp"):
    """Call ``write(f)`` on a temporary file in ``path``'s folder, then rename it to ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)  # ... and the rename itself survives a crash


def save_npz(path, arrays: dict):
    """``np.savez`` of ``arrays`` to ``path``, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays), suffix=".npz")


def save_json(path, obj):
    """``obj`` as pretty, key-sorted JSON, atomically."""
    def write(f):
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")

    atomic_write(path, write, mode="w", suffix=".json")


def save_text(path, text: str):
    """A text file, atomically."""
    atomic_write(path, lambda f: f.write(text), mode="w", suffix=".txt")
