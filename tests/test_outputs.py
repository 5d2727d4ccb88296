"""hnn_np.outputs.RunFolder and the atomic writes under it: what a run leaves, whatever happens to it.

The lock is held against a real second process; a killed run is a real
``kill -9`` of a process in the middle of a save, or of a run among its
renames (its stage and journal left on disk as they would be).
"""

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hnn_np.io import save_json, save_npz, save_text


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def names(folder):
    return sorted(os.listdir(folder))


# --- atomic writes --------------------------------------------------------------------------

def test_a_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "model.npz"
    save_npz(path, {"a": np.arange(3)})
    os.chmod(path, 0o600)
    save_npz(path, {"a": np.arange(4)})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert np.load(path)["a"].tolist() == [0, 1, 2, 3]


def test_a_write_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "metrics.json"
    save_json(target, {"v": 1})
    link = tmp_path / "metrics.json"
    os.symlink(target, link)
    save_json(link, {"v": 2})
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text()) == {"v": 2}
    assert names(tmp_path) == ["metrics.json", "store"] and names(tmp_path / "store") == ["metrics.json"]


SLOW_SAVE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from hnn_np.io import save_npz

    def stuck(f, **arrays):
        f.write(b"half a file")
        f.flush()
        print("writing", flush=True)
        time.sleep(600)

    np.savez = stuck
    save_npz(sys.argv[1], {"a": np.arange(3)})
""")


def test_a_save_killed_midway_leaves_a_recognisable_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "model.npz"
    save_npz(path, {"a": np.arange(2)})
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    debris = [n for n in names(tmp_path) if n != "model.npz"]
    assert len(debris) == 1 and debris[0].startswith(f".hnn_np-tmp-{proc.pid}-"), debris
    assert np.load(path)["a"].tolist() == [0, 1]  # the old file, whole
    save_npz(path, {"a": np.arange(5)})
    assert names(tmp_path) == ["model.npz"]


def test_the_temporaries_of_a_running_process_are_left_alone(tmp_path):
    from hnn_np.io import remove_debris

    mine = tmp_path / f".hnn_np-tmp-{os.getpid()}-x-model.npz"
    parent = tmp_path / f".hnn_np-tmp-{os.getppid()}-x-model.npz"
    gone = tmp_path / f".hnn_np-tmp-{dead_pid()}-x-model.npz"
    other = tmp_path / ".tmp-user-file.npz"
    for p in (mine, parent, gone, other):
        p.write_bytes(b"x")
    assert remove_debris(tmp_path) == [str(gone)]
    assert names(tmp_path) == sorted(p.name for p in (mine, parent, other))


# --- RunFolder ---------------------------------------------------------------------------------

def test_the_set_appears_only_when_the_run_ends(tmp_path):
    from hnn_np.outputs import RunFolder

    folder = tmp_path / "run"
    with RunFolder(folder, ("a.json", "b.txt")) as run:
        save_json(run.path("a.json"), {"k": 1})
        save_text(run.path("b.txt"), "two")
        assert [n for n in names(folder) if not n.startswith(".hnn_np")] == []
    assert names(folder) == ["a.json", "b.txt"]


def test_a_failed_run_leaves_the_earlier_set_and_nothing_of_its_own(tmp_path):
    from hnn_np.outputs import RunFolder

    folder = tmp_path / "run"
    with RunFolder(folder, ("a.json", "b.txt")) as run:
        save_json(run.path("a.json"), {"k": 1})
        save_text(run.path("b.txt"), "one")
    with pytest.raises(RuntimeError, match="mid-run"):
        with RunFolder(folder, ("a.json", "b.txt"), overwrite=True) as run:
            save_json(run.path("a.json"), {"k": 2})
            raise RuntimeError("mid-run")
    assert names(folder) == ["a.json", "b.txt"] and json.loads((folder / "a.json").read_text()) == {"k": 1}
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path / "new" / "deeper", ("a.json",)) as run:
            save_json(run.path("a.json"), {"k": 3})
            raise RuntimeError("mid-run")
    assert names(tmp_path) == ["run"]  # the folders it made, removed


def test_the_commit_keeps_modes_and_writes_through_symlinks(tmp_path):
    from hnn_np.outputs import RunFolder

    folder, store = tmp_path / "run", tmp_path / "store"
    folder.mkdir()
    store.mkdir()
    (store / "a.json").write_text("{}")
    os.symlink(store / "a.json", folder / "a.json")
    (folder / "b.txt").write_text("old")
    os.chmod(folder / "b.txt", 0o600)
    with RunFolder(folder, ("a.json", "b.txt"), overwrite=True) as run:
        save_json(run.path("a.json"), {"k": 1})
        save_text(run.path("b.txt"), "new")
    assert (folder / "a.json").is_symlink() and json.loads((store / "a.json").read_text()) == {"k": 1}
    assert stat.S_IMODE(os.stat(folder / "b.txt").st_mode) == 0o600 and (folder / "b.txt").read_text() == "new"
    assert names(store) == ["a.json"]


@pytest.mark.parametrize("link", ["symlink", "hardlink", "relative"])
def test_an_output_that_is_an_input_is_refused_naming_both(tmp_path, link, monkeypatch):
    from hnn_np.outputs import RunFolder

    data = tmp_path / "data.npz"
    data.write_bytes(b"the user's data")
    folder = tmp_path / "run"
    folder.mkdir()
    if link == "symlink":
        os.symlink(data, folder / "model.npz")
        given = data
    elif link == "hardlink":
        os.link(data, folder / "model.npz")
        given = data
    else:
        monkeypatch.chdir(tmp_path)
        folder, given = "run/../run", "run/model.npz"
        (tmp_path / "run" / "model.npz").write_bytes(b"the user's data")
    with pytest.raises(ValueError, match="would overwrite the input") as info:
        with RunFolder(folder, ("model.npz",), inputs=[given], overwrite=True):
            raise AssertionError("the run started")
    assert str(given) in str(info.value) and "model.npz" in str(info.value)
    assert data.read_bytes() == b"the user's data"


def test_a_folder_holding_an_earlier_run_is_refused_unless_overwrite(tmp_path):
    from hnn_np.outputs import RunFolder

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "checkpoint.npz").write_bytes(b"step 500")
    with pytest.raises(ValueError, match=r"\(checkpoint.npz\): continue it with --resume"):
        with RunFolder(folder, ("model.npz",), keep=("checkpoint.npz",), resumable=("checkpoint.npz",)):
            pass
    (folder / "model.npz").write_bytes(b"a model")
    with pytest.raises(ValueError, match=r"\(model.npz, checkpoint.npz\): replace them with --overwrite"):
        with RunFolder(folder, ("model.npz",), keep=("checkpoint.npz",), resumable=("checkpoint.npz",)):
            pass
    (folder / "notes.txt").write_text("mine")
    with RunFolder(folder, ("model.npz",), keep=("checkpoint.npz",), overwrite=True) as run:
        save_text(run.path("model.npz"), "new model")
    assert (folder / "model.npz").read_text() == "new model" and (folder / "notes.txt").read_text() == "mine"


HOLD = textwrap.dedent("""
    import sys, time
    from hnn_np.outputs import RunFolder

    with RunFolder(sys.argv[1], ("model.npz",)):
        print("holding", flush=True)
        sys.stdin.readline()
""")


def test_a_second_process_is_refused_with_the_holders_pid_until_it_ends(tmp_path):
    from hnn_np.outputs import FolderBusy, RunFolder

    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "holding\n"
    with pytest.raises(FolderBusy, match=f"in use by another run \\(pid {holder.pid}\\)"):
        with RunFolder(tmp_path, ("model.npz",)):
            pass
    holder.communicate("\n", timeout=60)
    with RunFolder(tmp_path, ("model.npz",)) as run:
        save_text(run.path("model.npz"), "mine")
    assert names(tmp_path) == ["model.npz"]


def test_a_run_killed_among_its_renames_is_completed_by_the_next_one(tmp_path):
    from hnn_np.outputs import RunFolder

    folder = tmp_path.resolve() / "run"  # the journal holds real paths
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text("old")
    pid = dead_pid()
    stage = folder / f".hnn_np-tmp-{pid}-run"
    stage.mkdir()
    (stage / "b.txt").write_text("new")  # a.txt was renamed already, b.txt not yet
    (folder / "a.txt").write_text("new")
    (stage / ".hnn_np-commit").write_text(json.dumps([[str(stage / "a.txt"), str(folder / "a.txt")],
                                                      [str(stage / "b.txt"), str(folder / "b.txt")]]))
    killed_before_commit = folder / f".hnn_np-tmp-{pid}-x-c.txt"
    killed_before_commit.write_text("half")
    with RunFolder(folder, ("c.txt",)) as run:
        save_text(run.path("c.txt"), "c")
    assert {n: (folder / n).read_text() for n in names(folder)} == {"a.txt": "new", "b.txt": "new", "c.txt": "c"}


def test_nested_runs_on_one_folder_share_the_outer_lock_and_set(tmp_path):
    from hnn_np.outputs import RunFolder

    with RunFolder(tmp_path, ("a.txt", "b.txt")) as outer:
        with RunFolder(tmp_path, ("b.txt",)) as inner:  # would deadlock on its own lock
            save_text(inner.path("b.txt"), "inner")
        assert not (tmp_path / "b.txt").exists()  # committed with the outer set
        save_text(outer.path("a.txt"), "outer")
    assert names(tmp_path) == ["a.txt", "b.txt"]


def test_a_single_output_file_is_checked_before_the_work(tmp_path):
    from hnn_np.outputs import check_output_file

    model = tmp_path / "m.npz"
    model.write_bytes(b"model")
    with pytest.raises(ValueError, match="would overwrite the input"):
        check_output_file(tmp_path / "." / "m.npz", [model])
    with pytest.raises(ValueError, match="is a folder"):
        check_output_file(tmp_path, [model])
    with pytest.raises(ValueError, match="m.npz' is a file, not a folder"):
        check_output_file(model / "out.json", [])
    check_output_file(tmp_path / "new" / "deeper" / "out.json", [model])
    assert names(tmp_path) == ["m.npz"]  # nothing made, nothing left
