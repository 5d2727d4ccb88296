"""One run per folder, and outputs that never clobber inputs.

Every command that writes a set of files into a folder does it inside
``with RunFolder(folder, outputs, inputs=...) as run:``

1. **Before any work** -- inputs and outputs are compared by their real paths
   (and by inode, which catches hard links): an output that would overwrite
   an input is refused, naming both. The folder is created if need be and
   written to (its lock file and its stage), and no output name may be
   taken by a folder.
2. **One run per folder** -- the run holds an exclusive ``flock`` on
   ``folder/.hnn_np-lock``, a file holding its pid. A second run into the
   folder is refused with the holder's pid. The kernel drops the lock of a
   process that is gone, so a stale lock file (``kill -9``) is taken over.
   Nested ``RunFolder``\\ s of one process on the same folder share the
   outermost one's lock, stage and decisions.
3. **A whole set or nothing** -- ``run.path(name)`` is where the run writes
   output ``name``: a file in the stage, the hidden folder
   ``folder/.hnn_np-tmp-<pid>-run/``. When the ``with`` block ends without an
   exception every staged file is renamed to ``folder/name`` (through a
   symlink to its target, keeping the mode of the file it replaces); after
   an exception the stage is deleted and the folder keeps its previous set.
   The renames are journaled (``.hnn_np-commit`` in the stage), so a run
   killed among them is completed by the next run in the folder, which also
   deletes the stages and temporaries of killed runs.
4. **Re-running** -- a folder that already holds one of ``outputs`` (or of
   ``keep``, the files a run writes as it goes, such as a checkpoint) is
   refused unless ``overwrite=True``; then the new set replaces it when the
   run ends. Files that are not outputs are never touched.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile

from .io import TMP_PREFIX, fsync_folder, file_mode, process_alive, remove_debris, temporary_pid

__all__ = ["RunFolder", "FolderBusy", "check_outputs", "check_output_file", "LOCK_NAME"]

LOCK_NAME = ".hnn_np-lock"
COMMIT_NAME = ".hnn_np-commit"
_HELD: dict = {}  # real path of a folder -> the outermost RunFolder of this process that holds it


class FolderBusy(ValueError):
    """Another run holds the folder's lock."""


def _same_file(a, b) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(outputs, inputs, what="output"):
    """Refuse an output path that is, or would overwrite, one of ``inputs`` (real paths, hard links)."""
    inputs = [os.fspath(p) for p in inputs if p is not None]
    for out in outputs:
        for inp in inputs:
            if _same_file(out, inp):
                raise ValueError(f"the {what} {os.fspath(out)!r} would overwrite the input {inp!r}; "
                                 "choose another output")


def check_output_file(path, inputs=(), what="output file"):
    """A single output file: not an input, not a folder, and its folder writable (or creatable) -- nothing made."""
    path = os.fspath(path)
    check_outputs([path], inputs, what)
    target = os.path.realpath(path)
    if os.path.isdir(target):
        raise ValueError(f"the {what} {path!r} is a folder")
    folder = os.path.dirname(target)
    while not os.path.lexists(folder):  # the nearest folder that exists is where the first one is made
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write the {what} {path!r}: {folder!r} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix="-probe", dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"cannot write the {what} {path!r}: {e.strerror}") from None


def _make_folder(folder, what) -> list[str]:
    """Create ``folder`` and its missing parents; returns those created, deepest first. ValueError if it cannot."""
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{what} {folder!r} is a file, not a folder")
    created, path = [], os.path.abspath(folder)
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        created.append(path)
        path = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{what} {folder!r} cannot be created: {e.strerror or e}") from None
    return created


def _holder(path) -> str:
    try:
        with open(path) as f:
            pid = f.read().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "a process that has not written its pid yet"


class RunFolder:
    """The folder one run writes its set of ``outputs`` into (see the module docstring).

    Parameters
    ----------
    folder : path
    outputs : sequence of str
        The names the run writes through :meth:`path`, checked before the run.
    inputs : sequence of path
        Files the run reads; none of them may be an output.
    keep : sequence of str
        Files the run writes into the folder directly as it goes (a
        checkpoint); they count as a previous run's and may not be inputs.
    overwrite : bool
        Replace the set of an earlier run; without it such a folder is refused.
    resumable : sequence of str
        Names among ``keep`` whose presence means a run can be continued (the
        refusal says so).
    what : str
        How errors name the folder, e.g. ``"--out"``.
    """

    def __init__(self, folder, outputs=(), inputs=(), *, keep=(), overwrite=False, resumable=(),
                 what="output folder"):
        self.folder = os.fspath(folder)
        self.outputs, self.keep, self.resumable = tuple(outputs), tuple(keep), tuple(resumable)
        self.inputs = [os.fspath(p) for p in inputs if p is not None]
        self.overwrite, self.what = bool(overwrite), what
        self.stage, self._fd, self._outer, self._created = None, None, None, []

    # --- where things go ---------------------------------------------------------

    def final(self, name) -> str:
        """Where output ``name`` lies once the run has ended: ``folder/name``."""
        return os.path.join(self.folder, name)

    def path(self, name) -> str:
        """Where the run writes output ``name`` now: in the stage, renamed at the end."""
        if self.stage is None:
            raise RuntimeError("RunFolder.path() is for use inside the with block")
        if os.path.isabs(name) or ".." in name.split(os.sep):
            raise ValueError(f"an output name is relative to the folder; got {name!r}")
        path = os.path.join(self.stage, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    # --- before the run ----------------------------------------------------------

    def __enter__(self):
        names = self.outputs + self.keep
        check_outputs([self.folder] + [self.final(n) for n in names], self.inputs, self.what)
        self._created = _make_folder(self.folder, self.what)
        key = os.path.realpath(self.folder)
        if key in _HELD:  # a nested run of this process: the outer one locks, stages and decides
            self._outer = _HELD[key]
            self.stage = self._outer.stage
            self._check_names(names)
            return self
        self._lock()
        try:
            self._recover()
            self._check_names(names)
            if not self.overwrite:
                self._check_fresh(names)
            self.stage = os.path.join(os.path.realpath(self.folder), f"{TMP_PREFIX}{os.getpid()}-run")
            shutil.rmtree(self.stage, ignore_errors=True)
            try:
                os.mkdir(self.stage)
            except OSError as e:
                raise ValueError(f"{self.what} {self.folder!r} cannot be written: {e.strerror}") from None
        except BaseException:
            self._unlock()
            self._remove_created()
            raise
        _HELD[key] = self
        return self

    def _lock(self):
        lock = os.path.join(self.folder, LOCK_NAME)
        for _ in range(10):
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise ValueError(f"{self.what} {self.folder!r} cannot be written: {e.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise FolderBusy(f"{self.what} {self.folder!r} is in use by another run ({_holder(lock)}); "
                                     "wait for it to end or choose another folder") from None
                raise ValueError(f"{self.what} {self.folder!r} cannot be locked: {e.strerror}") from None
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a lock file that its last holder removed meanwhile
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fd = fd
                return
            os.close(fd)
        raise ValueError(f"{self.what} {self.folder!r}: its lock file keeps changing; is another run starting?")

    def _recover(self):
        """Finish the commit of a run killed among its renames; delete what killed runs left."""
        for entry in list(os.scandir(self.folder)):
            pid = temporary_pid(entry.name)
            if pid is None or pid == os.getpid() or process_alive(pid) or not entry.is_dir(follow_symlinks=False):
                continue
            try:
                with open(os.path.join(entry.path, COMMIT_NAME)) as f:
                    renames = [(str(src), str(dst)) for src, dst in json.load(f)]
            except (OSError, ValueError, TypeError):
                continue  # no journal: the run was killed before its renames; its stage is debris
            for src, dst in renames:  # only the run's own temporaries, never another file
                if temporary_pid(os.path.basename(src)) == pid or src.startswith(os.path.realpath(entry.path) + os.sep):
                    if os.path.exists(src):
                        os.replace(src, dst)
        remove_debris(self.folder)

    def _check_names(self, names):
        for name in names:
            if os.path.isdir(os.path.realpath(self.final(name))):
                raise ValueError(f"{self.what} {self.folder!r}: {name} is a folder; the run writes a file "
                                 "of that name")

    def _check_fresh(self, names):
        present = [n for n in names if os.path.lexists(self.final(n))]
        if not present:
            return
        resume = all(n in self.resumable for n in present)  # an unfinished run: only its checkpoint
        raise ValueError(f"{self.what} {self.folder!r} holds the files of an earlier run ({', '.join(present)}): "
                         + ("continue it with --resume (resume=True), " if resume else "")
                         + "replace them with --overwrite (overwrite=True), or choose another folder")

    # --- after the run -----------------------------------------------------------

    def __exit__(self, kind, value, tb):
        if self._outer is not None:
            return False
        try:
            if kind is None:
                self._commit()
        finally:
            if self.stage is not None:
                shutil.rmtree(self.stage, ignore_errors=True)
            _HELD.pop(os.path.realpath(self.folder), None)
            self._unlock()
            if kind is not None:
                self._remove_created()
        return False

    def _remove_created(self):
        for folder in self._created:  # the folders this run made, deepest first, while empty
            try:
                os.rmdir(folder)
            except OSError:
                break

    def _commit(self):
        staged = sorted(os.path.relpath(os.path.join(d, f), self.stage)
                        for d, _, files in os.walk(self.stage) for f in files if temporary_pid(f) is None)
        renames = []
        check_outputs([self.final(n) for n in staged], self.inputs, self.what)
        self._check_names(staged)
        for name in staged:
            src, dst = os.path.join(self.stage, name), os.path.realpath(self.final(name))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if dst != os.path.join(os.path.realpath(self.folder), name):
                # a symlink: its target may lie on another file system; copy beside it, so each rename is local
                near = os.path.join(os.path.dirname(dst), f"{TMP_PREFIX}{os.getpid()}-run-{os.path.basename(dst)}")
                shutil.copyfile(src, near)
                src = near
            os.chmod(src, file_mode(dst))  # the mode of the file it replaces
            renames.append((src, dst))
        journal = os.path.join(self.stage, COMMIT_NAME)
        with open(journal, "w") as f:
            json.dump(renames, f)
            f.flush()
            os.fsync(f.fileno())
        fsync_folder(self.stage)
        for src, dst in renames:
            os.replace(src, dst)
        for folder in sorted({os.path.dirname(dst) for _, dst in renames}):
            fsync_folder(folder)

    def _unlock(self):
        if self._fd is None:
            return
        try:
            os.remove(os.path.join(self.folder, LOCK_NAME))  # while still held: see _lock
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
