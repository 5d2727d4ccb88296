"""Files: every write is atomic, every read is checked.

A write goes to a temporary name in the target's folder, is flushed and
fsync'ed, renamed over the target, and then the folder itself is fsync'ed,
so that after a crash the target is either the old file or the whole new one
(and the rename survives). An exception mid-write leaves no temporary behind.

A read of an ``.npz`` written here (models, datasets, checkpoints) refuses,
with a ``ValueError`` naming the file, anything that is not what it claims:
not a zip, a bare ``.npy`` under an ``.npz`` name, a header that is not a
JSON object.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

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


def read_npz(path, what: str) -> dict:
    """Every array of the ``.npz`` at ``path``, as a dict; ``what`` names the file's role in errors.

    Raises ``ValueError`` if the file is missing, not a zip of ``.npy``
    arrays, or holds object arrays (nothing is unpickled).
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise ValueError(f"the path of the {what} must be a str or os.PathLike; got {type(path).__name__}") from None
    if os.path.isdir(path):
        raise ValueError(f"{what} {path!r} is a folder; expected an .npz file")
    if not os.path.isfile(path):
        raise ValueError(f"{what} {path!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{what} {path!r} is not an .npz archive (not a zip file)")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, zlib.error, NotImplementedError,
            OverflowError, MemoryError) as e:
        raise ValueError(f"{what} {path!r} is not a readable .npz: {type(e).__name__}: {e}") from None
    for key, value in data.items():  # NumPy hands back a member without the .npy magic as bytes
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{what} {path!r} is not a readable .npz: {key!r} is not a .npy array")
    return data


def read_header(data: dict, key: str, path, what: str) -> dict:
    """The JSON object stored as the 0-d string array ``data[key]``."""
    if key not in data:
        raise ValueError(f"{what} {path!r} has no {key!r} entry")
    arr = data[key]
    if arr.ndim != 0 or arr.dtype.kind != "U":
        raise ValueError(f"{what} {path!r}: {key!r} must be a JSON string; got a {arr.dtype} array "
                         f"of shape {arr.shape}")
    try:
        header = json.loads(str(arr))
    except json.JSONDecodeError as e:
        raise ValueError(f"{what} {path!r} has a corrupt {key!r}: {e}") from None
    except RecursionError:
        raise ValueError(f"{what} {path!r} has a corrupt {key!r}: JSON nested too deeply") from None
    if not isinstance(header, dict):
        raise ValueError(f"{what} {path!r}: {key!r} must be a JSON object; got {type(header).__name__}")
    return header
