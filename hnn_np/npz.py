"""Reading ``.npz`` archives: only the members asked for, each checked before it is allocated.

Every ``.npz`` the package opens (models, checkpoints, datasets, measured
data) goes through :class:`Npz`. The archive is opened once and its zip
directory read; a member is decompressed only when it is asked for, and only
after its ``.npy`` header checks out:

* the magic string ``\\x93NUMPY`` and a format version NumPy writes (1.0, 2.0, 3.0);
* a dtype without Python objects (nothing is ever unpickled);
* a declared size that the member holds: prod(shape) * itemsize must equal
  the member's uncompressed size in the zip directory less its header, and
  that size must be one the member's compressed bytes can hold (a stored
  member holds what it occupies, a deflated one at most
  :data:`DEFLATE_MAX_RATIO` times that: the limit of DEFLATE's longest match,
  258 bytes in 2 bits). A header that claims 10**12 elements is refused
  before a byte is allocated.

Anything else is an :class:`NpzError` (a ``ValueError``) naming the file, by
its role ``what``, and the problem: not a zip archive, a bare ``.npy`` under an ``.npz`` name, a
member that is not a ``.npy`` array, ``member 'W0' declares shape (10, 10)
float64 (800 bytes) but holds 80``, a CRC error.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import os
import zipfile
import zlib

import numpy as np

__all__ = ["Npz", "NpzError", "read_npz", "read_header", "DEFLATE_MAX_RATIO"]

NPY_MAGIC = b"\x93NUMPY"
DEFLATE_MAX_RATIO = 1032  # uncompressed / compressed bytes at most: a 258-byte match in 2 bits (RFC 1951)
_SLACK = 1 << 16  # bytes: block headers and the end of a short stream
_MAX_HEADER = 10_000  # bytes of an .npy header (NumPy's own limit)
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
           SyntaxError, TypeError, KeyError, OverflowError, RecursionError, MemoryError)


class NpzError(ValueError):
    """A file that is not the ``.npz`` it claims to be; the message names the file and the problem."""


class Npz:
    """An open ``.npz`` file; ``what`` (e.g. ``"model file"``) names its role in every error.

    ``names`` are the keys of its ``.npy`` members (``"W0"`` for ``W0.npy``);
    ``npz[key]`` reads one array, :meth:`info` gives its (shape, dtype) from
    the header alone, :meth:`header` a JSON object stored as a 0-d string.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path, what: str):
        try:
            path = os.fspath(path)
        except TypeError:
            raise ValueError(f"the path of the {what} must be a str or os.PathLike; "
                             f"got {type(path).__name__}") from None
        self.path, self.what = path, what
        if os.path.isdir(path):
            raise NpzError(f"{what} {path!r} is a folder; expected an .npz file")
        if not os.path.isfile(path):
            raise NpzError(f"{what} {path!r} does not exist")
        try:
            with open(path, "rb") as f:
                start = f.read(16)
        except OSError as e:
            raise self._error(f"cannot be read: {e.strerror}") from None
        if start.startswith(NPY_MAGIC):
            raise self._error("is not an .npz archive: it is a bare .npy array under an .npz name")
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, OverflowError) as e:
            reason = "" if isinstance(e, zipfile.BadZipFile) else f": {e}"
            raise self._error(f"is not an .npz archive: not a zip archive{reason} (it begins {start!r})") from None
        self._size = os.path.getsize(path)
        self._members = {i.filename: i for i in self._zip.infolist()}
        self.names = tuple(name[:-4] for name in self._members if name.endswith(".npy"))
        self._headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._zip.close()

    def __contains__(self, key) -> bool:
        return key in self.names

    def header(self, key) -> dict:
        """The JSON object stored in member ``key`` as a 0-d string array."""
        return read_header({key: self[key]} if key in self else {}, key, self.path, self.what)

    def info(self, key) -> tuple:
        """(shape, dtype) of member ``key``, from its header; its data are not read."""
        if key not in self._headers:
            with self._checked(key):
                self._open(key).close()
        return self._headers[key][:2]

    def __getitem__(self, key) -> np.ndarray:
        with self._checked(key):
            with self._open(key) as f:
                shape, dtype, fortran, nbytes = self._headers[key]
                buf = bytearray(nbytes)
                view, got = memoryview(buf), 0
                while got < nbytes:
                    n = f.readinto(view[got:])
                    if not n:
                        raise self._damaged(key, f"ends after {got} of its {nbytes} bytes")
                    got += n
                f.read(1)  # the end of the stream, where zipfile checks the CRC-32
            if dtype.itemsize == 0:
                return np.zeros(shape, dtype)
            return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")

    def _error(self, problem: str) -> NpzError:
        return NpzError(f"{self.what} {self.path!r} {problem}")

    def _damaged(self, key, problem) -> NpzError:
        return self._error(f"is not a readable .npz: member {key!r} {problem}")

    @contextlib.contextmanager
    def _checked(self, key):
        """Turn whatever a damaged member raises into an NpzError naming the file and the member."""
        try:
            yield
        except NpzError:
            raise
        except _DAMAGE as e:
            raise self._damaged(key, f"is damaged: {type(e).__name__}: {e}") from None

    def _open(self, key):
        """The member's stream, positioned after its checked header (kept in ``self._headers``)."""
        info = self._members.get(key + ".npy")
        if info is None:
            if key in self._members:
                raise self._damaged(key, "is not a .npy array")
            raise self._error(f"has no {key!r} entry")
        if info.compress_type == zipfile.ZIP_STORED:
            room = info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            room = DEFLATE_MAX_RATIO * info.compress_size + _SLACK
        else:
            raise self._damaged(key, f"uses zip compression method {info.compress_type}; "
                                     "expected stored or deflated")
        if info.compress_size > self._size or info.file_size > room:
            raise self._damaged(key, f"claims {info.file_size} bytes from {info.compress_size} compressed, "
                                     f"more than its compression can hold in a file of {self._size} bytes")
        f = self._zip.open(info)
        try:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise self._damaged(key, "is not a .npy array (no \\x93NUMPY magic)")
            version = tuple(f.read(2))
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise self._damaged(key, f"has .npy format version {version}; expected 1.0, 2.0 or 3.0")
            width = 2 if version == (1, 0) else 4
            size = int.from_bytes(f.read(width), "little")
            if size > _MAX_HEADER:
                raise self._damaged(key, f"has a header of {size} bytes; at most {_MAX_HEADER} expected")
            shape, fortran, dtype = _parse_header(f.read(size), "utf8" if version == (3, 0) else "latin1")
            nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            holds = info.file_size - (len(NPY_MAGIC) + 2 + width + size)
            if nbytes != holds:
                raise self._damaged(key, f"declares shape {shape} {dtype} ({nbytes} bytes) but holds {holds}")
        except BaseException:
            f.close()
            raise
        self._headers[key] = (shape, dtype, fortran, nbytes)
        return f


def _parse_header(raw: bytes, encoding: str):
    """(shape, fortran_order, dtype) of an .npy header, a Python dict literal; no objects."""
    header = ast.literal_eval(raw.decode(encoding))
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"the .npy header is not a dict of descr, fortran_order, shape: {raw[:80]!r}")
    shape, fortran = header["shape"], header["fortran_order"]
    if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
        raise ValueError(f"the .npy header's shape is not a tuple of sizes: {shape!r}")
    if not isinstance(fortran, bool):
        raise ValueError(f"the .npy header's fortran_order is not a bool: {fortran!r}")
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    if dtype.hasobject:
        raise ValueError(f"it holds Python objects ({dtype}), which would need unpickling")
    return shape, fortran, dtype


def read_npz(path, what: str, keys=None) -> dict:
    """The arrays ``keys`` (default: every member) of the ``.npz`` at ``path``, as a dict.

    A key in ``keys`` that the file lacks is left out (the caller names what
    is missing); members not in ``keys`` are never decompressed.
    """
    with Npz(path, what) as f:
        return {k: f[k] for k in (f.names if keys is None else keys) if k in f}


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
