"""hnn_np.io: atomic writes that leave the old file or the whole new one, and checked reads."""

import json
import os
import zipfile

import numpy as np
import pytest

from hnn_np import io
from hnn_np.io import read_header, read_npz, save_json, save_npz, save_text


# --- JSON ---------------------------------------------------------------

def test_save_json_writes_valid_json_atomically(tmp_path):
    metrics = {"grid_field_median": 1e-3, "n": 21, "nested": {"a": [1, 2]}}
    path = tmp_path / "sub" / "metrics.json"
    save_json(path, metrics)
    assert json.loads(path.read_text()) == metrics
    assert os.listdir(path.parent) == ["metrics.json"]


def test_a_failed_save_json_keeps_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    save_json(path, {"a": 1.0})
    old = path.read_text()

    def dump_then_crash(obj, f, **kw):
        f.write('{"a": 2')
        raise OSError("disk full")

    monkeypatch.setattr(io.json, "dump", dump_then_crash)
    with pytest.raises(OSError):
        save_json(path, {"a": 2.0})
    monkeypatch.undo()
    assert path.read_text() == old
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_save_json_refuses_what_json_cannot_hold(tmp_path):
    """An ndarray is not JSON: TypeError, and no file (nor temp file) is left."""
    with pytest.raises(TypeError):
        save_json(tmp_path / "m.json", {"a": np.arange(3)})
    assert os.listdir(tmp_path) == []


# --- npz --------------------------------------------------------------------------

def test_read_npz_round_trips_and_refuses_what_is_not_an_npz(tmp_path):
    path = tmp_path / "a.npz"
    save_npz(path, {"x": np.arange(3.0), "h": np.array(json.dumps({"k": 1}))})
    data = read_npz(path, "test file")
    np.testing.assert_array_equal(data["x"], np.arange(3.0))
    assert read_header(data, "h", path, "test file") == {"k": 1}
    with pytest.raises(ValueError, match="test file .* does not exist"):
        read_npz(tmp_path / "absent.npz", "test file")
    np.save(tmp_path / "b.npy", np.arange(3.0))  # a bare .npy under an .npz name
    os.replace(tmp_path / "b.npy", tmp_path / "b.npz")
    with pytest.raises(ValueError, match="not an .npz archive"):
        read_npz(tmp_path / "b.npz", "test file")
    with zipfile.ZipFile(tmp_path / "c.npz", "w") as z:  # a zip, but not of .npy arrays
        z.writestr("x.npy", b"garbage")
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_npz(tmp_path / "c.npz", "test file")
    np.savez(tmp_path / "d.npz", x=np.array([object()], dtype=object))  # would need pickle
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_npz(tmp_path / "d.npz", "test file")


@pytest.mark.parametrize("header, match", [
    (np.array("[1, 2]"), "must be a JSON object; got list"),
    (np.array("3"), "must be a JSON object; got int"),
    (np.array("{not json"), "corrupt"),
    (np.arange(3), "must be a JSON string"),
])
def test_read_header_refuses_headers_of_the_wrong_type(tmp_path, header, match):
    with pytest.raises(ValueError, match=match):
        read_header({"h": header}, "h", tmp_path / "f.npz", "test file")


def test_a_write_syncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    """The rename is made durable: the folder is fsync'ed after os.replace."""
    calls = []
    real_replace, real_fsync = os.replace, os.fsync
    monkeypatch.setattr(io.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b)))
    monkeypatch.setattr(io.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd)))
    save_text(tmp_path / "t.txt", "hello")
    assert calls == ["fsync", "replace", "fsync"]  # the file's bytes, the rename, the folder
    assert (tmp_path / "t.txt").read_text() == "hello"
