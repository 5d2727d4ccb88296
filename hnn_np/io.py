"""Files: every write is atomic, keeps the file's mode, and goes through a symlink to its target.

A write goes to a temporary beside the target, is flushed and fsync'ed,
renamed over the target, and then the folder itself is fsync'ed, so that
after a crash the target is either the old file or the whole new one (and
the rename survives). A symlink is followed: its target is replaced, the
link stays. A file that exists keeps its permission bits (a 0600 model stays
0600); a new one gets the usual 0666 minus the umask.

Temporaries are recognisable by name, ``.hnn_np-tmp-<pid>-<random>-<name>``.
An exception mid-write removes its own; one left by a process that was
killed (``kill -9``, a power cut) is removed by the next write of the same
name in that folder (:func:`remove_debris`, which :class:`hnn_np.outputs.RunFolder`
also runs over the whole folder), once its process is gone.

Reads of ``.npz`` files live in :mod:`hnn_np.npz` (re-exported here):
only the members asked for, each checked before it is allocated.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile

import numpy as np

from .npz import read_header, read_npz

__all__ = ["atomic_write", "save_npz", "save_json", "save_text", "read_npz", "read_header",
           "TMP_PREFIX", "temporary_pid", "remove_debris", "fsync_folder", "file_mode"]

TMP_PREFIX = ".hnn_np-tmp-"  # every temporary the package makes: .hnn_np-tmp-<pid>-...


def temporary_pid(name) -> int | None:
    """The pid that made the temporary called ``name``, or None if ``name`` is not one of ours."""
    if not name.startswith(TMP_PREFIX):
        return None
    pid = name[len(TMP_PREFIX):].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def process_alive(pid) -> bool:
    """True if a process ``pid`` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def remove_debris(folder, name=None) -> list[str]:
    """Remove the temporaries in ``folder`` whose process is gone (only those ending in ``-name`` if given).

    Returns the paths removed. Temporaries of running processes, this one
    included, are left alone.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        pid = temporary_pid(entry.name)
        if pid is None or pid == os.getpid() or (name is not None and not entry.name.endswith("-" + name)):
            continue
        if process_alive(pid):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
            removed.append(entry.path)
        except FileNotFoundError:
            pass
    return removed


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


def fsync_folder(folder):
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


def file_mode(path) -> int:
    """The permission bits a write of ``path`` gives: those of the file there, else 0666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def atomic_write(path, write, mode="wb"):
    """Call ``write(f)`` on a temporary beside ``path``'s target, then rename it over the target.

    ``path`` may be a symlink: its target is what is written.
    """
    target = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"cannot write {os.fspath(path)!r}: it is a folder")
    os.makedirs(folder, exist_ok=True)
    remove_debris(folder, name)  # what a killed write of this name left behind
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=f"-{name}", dir=folder)
    try:
        os.fchmod(fd, file_mode(target))  # mkstemp makes it private
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_folder(folder)  # ... and the rename itself survives a crash


def save_npz(path, arrays: dict):
    """``np.savez`` of ``arrays`` to ``path``, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def save_json(path, obj):
    """``obj`` as pretty, key-sorted JSON, atomically."""
    def write(f):
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")

    atomic_write(path, write, mode="w")


def save_text(path, text: str):
    """A text file, atomically."""
    atomic_write(path, lambda f: f.write(text), mode="w")
