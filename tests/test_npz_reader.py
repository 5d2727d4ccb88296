"""Every .npz the package opens: only the members a loader uses are read, and a bad file is a ValueError.

The four loaders (models, checkpoints, datasets, measured data) are driven
through their public functions. What a loader decompresses is counted by
wrapping zipfile's reads, so the test of an unused 800 MB member of zeros
measures bytes, not seconds. Arrays read back are compared with ``np.load``.
"""

import io
import json
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hnn_np import checkpoint as ckpt
from hnn_np.data import load_dataset, make_dataset, save_dataset
from hnn_np.measured import load_measured
from hnn_np.mlp import init_params
from hnn_np.model import Model, load_model
from hnn_np.systems import MassSpring
from hnn_np.train import TrainConfig, fit

CHUNK = 1 << 24  # bytes of zeros per deflate block of the big member
N_CHUNKS = 48  # 48 * 16 MiB = 805 MB of zeros, 780 KB deflated


def npy_bytes(header: dict, data: bytes = b"") -> bytes:
    """An .npy file with the given header dict (written as NumPy writes it) followed by ``data``."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, header)
    return f.getvalue() + data


def zeros_member():
    """(deflated bytes, CRC-32, size) of an .npy of N_CHUNKS * CHUNK / 8 float64 zeros, made in a second.

    After a full flush the deflater's window holds only zeros, so every
    further chunk of zeros deflates to the same bytes: one is compressed and
    repeated, as zlib itself would write them.
    """
    header = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (N_CHUNKS * CHUNK // 8,)})
    zeros = bytes(CHUNK)
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = z.compress(header + zeros) + z.flush(zlib.Z_FULL_FLUSH)
    again = z.compress(zeros) + z.flush(zlib.Z_FULL_FLUSH)
    raw = first + again * (N_CHUNKS - 1) + z.flush()
    crc = zlib.crc32(header)
    for _ in range(N_CHUNKS):
        crc = zlib.crc32(zeros, crc)
    return raw, crc, len(header) + N_CHUNKS * CHUNK


def append_deflated(path, name, raw, crc, size):
    """Append a member of already-deflated bytes to the zip at ``path`` (zipfile itself would re-deflate)."""
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type, info.CRC, info.compress_size, info.file_size = zipfile.ZIP_DEFLATED, crc, len(raw), size
        info.header_offset = z.start_dir
        z.fp.seek(z.start_dir)
        z.fp.write(info.FileHeader())
        z.fp.write(raw)
        z.start_dir = z.fp.tell()
        z.filelist.append(info)
        z.NameToInfo[name] = info
        z._didModify = True  # zipfile writes the central directory on close


@pytest.fixture(scope="module")
def big_zeros():
    return zeros_member()


@pytest.fixture
def bytes_read(monkeypatch):
    """{member name: bytes handed out by zipfile} for every read during the test."""
    counts = {}
    for method in ("read", "read1"):
        real = getattr(zipfile.ZipExtFile, method)

        def counting(self, *args, _real=real):
            out = _real(self, *args)
            counts[self.name] = counts.get(self.name, 0) + len(out)
            return out

        monkeypatch.setattr(zipfile.ZipExtFile, method, counting)
    return counts


def spring_columns(path):
    t = 0.01 * np.arange(300)
    np.savez(path, t=t, q=np.cos(2 * t), p=-2 * np.sin(2 * t))
    return path


def model_file(path):
    Model("hnn", init_params((2, 8, 1), seed=0)).save(path)
    return path


def dataset_file(path):
    save_dataset(path, make_dataset(n_traj=2, n_obs=10, seed=0))
    return path


LOADERS = {
    "model": (model_file, load_model),
    "dataset": (dataset_file, load_dataset),
    "measured data": (spring_columns, lambda p: load_measured(p, columns="q,p")),
    "measured data, default columns": (spring_columns, load_measured),
}


# --- an unused member is never decompressed -------------------------------------

@pytest.mark.parametrize("loader", list(LOADERS))
def test_an_unused_800_MB_member_of_zeros_is_not_decompressed(tmp_path, big_zeros, bytes_read, loader):
    """The member deflates to 780 KB; NumPy's np.load of the file would inflate all 805 MB of it."""
    write, load = LOADERS[loader]
    path = write(tmp_path / "f.npz")
    control = load(path)
    append_deflated(path, "junk.npy", *big_zeros)
    assert zipfile.ZipFile(path).getinfo("junk.npy").file_size > 8e8
    bytes_read.clear()
    loaded = load(path)
    assert bytes_read.get("junk.npy", 0) <= 4096  # at most its header (to see it is not a state column)
    assert sum(bytes_read.values()) < 1e6
    if loader == "model":
        for (W, b), (W0, b0) in zip(loaded.params, control.params):
            np.testing.assert_array_equal(W, W0)
    elif loader.startswith("measured"):
        assert loaded.columns == control.columns == ("q", "p")
        np.testing.assert_array_equal(loaded.x[0], control.x[0])


def test_a_checkpoint_resumes_without_reading_an_unused_member(tmp_path, big_zeros, bytes_read):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 2))
    dx_dt = MassSpring().time_derivative(x)
    cfg = TrainConfig(sizes=(2, 8, 1), steps=6, finetune_steps=0, batch_size=16, lr=1e-2)
    path = tmp_path / "run.npz"
    done = fit(x, dx_dt, cfg, checkpoint=path, checkpoint_every=3, progress=False)
    append_deflated(path, "junk.npy", *big_zeros)
    bytes_read.clear()
    again = fit(x, dx_dt, cfg, resume=path, progress=False)
    assert bytes_read.get("junk.npy", 0) == 0 and "W0.npy" in bytes_read
    np.testing.assert_array_equal(again.params[0][0], done.params[0][0])


# --- refused by name, before anything is allocated -------------------------------

@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_member_claiming_10_12_elements_is_refused_from_its_header(tmp_path, loader):
    """NumPy would allocate 8 TB for it (MemoryError); the header is checked against the member's size."""
    write, load = LOADERS[loader]
    path = write(tmp_path / "f.npz")
    member = {"model": "W0", "dataset": "x"}.get(loader, "q")
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist() if i.filename != member + ".npy"}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr(member + ".npy", npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (10**12,)},
                                              bytes(8)))
    with pytest.raises(ValueError, match=rf"f.npz' is not a readable .npz: member '{member}' declares shape "
                                         r"\(1000000000000,\) float64 \(8000000000000 bytes\) but holds 8"):
        load(path)


def test_a_zip_directory_claiming_more_than_deflate_can_hold_is_refused(tmp_path):
    """800 MB claimed for 40 compressed bytes: no deflate stream inflates that far, so it is refused unread."""
    path = spring_columns(tmp_path / "f.npz")
    header = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (10**8,)})
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = z.compress(header + bytes(80)) + z.flush()
    append_deflated(path, "w.npy", raw, zlib.crc32(header + bytes(80)), len(header) + 8 * 10**8)
    with pytest.raises(ValueError, match=r"member 'w' claims 800000128 bytes from \d+ compressed"):
        load_measured(path, columns="q,w")
    assert load_measured(path, columns="q,p").columns == ("q", "p")  # a member not asked for is not looked at


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_bare_npy_under_an_npz_name_is_refused_by_name(tmp_path, loader):
    path = tmp_path / "f.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="f.npz' is not an .npz archive: it is a bare .npy array under an .npz name"):
        LOADERS[loader][1](path)


@pytest.mark.parametrize("loader", list(LOADERS))
def test_a_text_file_under_an_npz_name_is_not_a_zip_archive(tmp_path, loader):
    path = tmp_path / "f.npz"
    path.write_text("t,q,p\n0.0,1.0,0.0\n0.1,0.9,0.1\n")
    with pytest.raises(ValueError, match=r"f.npz' is not an .npz archive: not a zip archive \(it begins b't,q,p"):
        LOADERS[loader][1](path)


def write_members(path, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


T = np.arange(5.0)
T_NPY = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (5,)}, T.tobytes())
BAD_MEMBERS = {
    "not .npy": ({"q.npy": b"just bytes, no magic"}, "is not a .npy array"),
    "objects": ({"q.npy": npy_bytes({"descr": "|O", "fortran_order": False, "shape": (5,)}, bytes(40))},
                r"is damaged: .*Python objects"),
    "a version NumPy never wrote": ({"q.npy": b"\x93NUMPY\x07\x00" + T_NPY[8:]}, r"has .npy format version \(7, 0\)"),
    "short data": ({"q.npy": T_NPY[:-8]}, r"declares shape \(5,\) float64 \(40 bytes\) but holds 32"),
    "header not a dict": ({"q.npy": b"\x93NUMPY\x01\x00\x08\x00[1, 2] \n" + T.tobytes()},
                          "is damaged: ValueError: the .npy header is not a dict"),
}


@pytest.mark.parametrize("case", list(BAD_MEMBERS))
def test_a_bad_member_is_refused_naming_the_file_and_the_member(tmp_path, case):
    members, match = BAD_MEMBERS[case]
    path = write_members(tmp_path / "bad.npz", {"t.npy": T_NPY, "p.npy": T_NPY, **members})
    with pytest.raises(ValueError, match="data file .*bad.npz' is not a readable .npz: member 'q' " + match):
        load_measured(path, columns="q,p")


def test_a_flipped_bit_in_a_member_is_a_crc_error(tmp_path):
    path = write_members(tmp_path / "bad.npz", {"t.npy": T_NPY, "q.npy": T_NPY, "p.npy": T_NPY})
    raw = bytearray(path.read_bytes())
    at = raw.rindex(T.tobytes()) + 3  # inside the data of the last member, p
    raw[at] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="member 'p' is damaged: BadZipFile: Bad CRC-32"):
        load_measured(path, columns="q,p")


def test_a_model_whose_layer_shape_differs_from_its_header_is_refused_unread(tmp_path, bytes_read):
    path = model_file(tmp_path / "m.npz")
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["W1"] = np.zeros((8, 3))
    np.savez(path, **arrays)
    bytes_read.clear()
    with pytest.raises(ValueError, match=r"layer 1 has shapes \(8, 3\), \(1,\)"):
        load_model(path)
    assert bytes_read.get("W1.npy", 0) < 200  # its header only


# --- what is read is what NumPy wrote ----------------------------------------------

@settings(max_examples=40)
@given(arrays=st.lists(hnp.arrays(st.sampled_from(["<f8", ">f4", "<i8", "u1", "?", "<c16", "<U3", "S2"]),
                                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)),
                       min_size=1, max_size=4),
       fortran=st.booleans(), compressed=st.booleans())
def test_every_array_numpy_writes_reads_back_as_np_load_reads_it(tmp_path_factory, arrays, fortran, compressed):
    from hnn_np.npz import Npz

    path = tmp_path_factory.mktemp("npz") / "a.npz"
    named = {f"a{i}": np.asfortranarray(a) if fortran else a for i, a in enumerate(arrays)}
    (np.savez_compressed if compressed else np.savez)(path, **named)
    with np.load(path) as oracle, Npz(path, "test file") as f:
        assert set(f.names) == set(oracle.files)
        for key in oracle.files:
            a, expected = f[key], oracle[key]
            assert f.info(key) == (expected.shape, expected.dtype)
            assert a.dtype == expected.dtype and a.shape == expected.shape and a.flags.writeable
            np.testing.assert_array_equal(a, expected)


def test_a_header_is_a_json_object_of_a_0d_string(tmp_path):
    from hnn_np.npz import Npz

    path = tmp_path / "h.npz"
    np.savez(path, header=np.array(json.dumps({"k": [1, 2]})), other=np.array("[1]"))
    with Npz(path, "test file") as f:
        assert f.header("header") == {"k": [1, 2]}
        with pytest.raises(ValueError, match="'other' must be a JSON object; got list"):
            f.header("other")
        with pytest.raises(ValueError, match="has no 'absent' entry"):
            f.header("absent")


# --- the command line: one line naming the file, exit 2 --------------------------------

def _bare_npy(path):
    with open(path, "wb") as f:
        np.save(f, np.arange(6.0))


def _huge_claim(path):
    t = 0.01 * np.arange(50)
    write_members(path, {"t.npy": npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (50,)}, t.tobytes()),
                         "q.npy": npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (10**12,)}, bytes(8)),
                         "p.npy": npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (50,)}, t.tobytes())})


def _states_1e300(path):
    t = 0.01 * np.arange(50)
    np.savez(path, t=t, q=1e300 * np.cos(t), p=1e300 * np.sin(t))


FIT_FAULTS = {
    "a .npy renamed .npz": ("d.npz", _bare_npy, "a bare .npy array under an .npz name"),
    "a text file named .npz": ("d.npz", lambda p: p.write_text("t,q,p\n0,1,0\n"), "not a zip archive"),
    "a 10**12-element claim": ("d.npz", _huge_claim, "member 'q' declares shape (1000000000000,)"),
    "states times 1e300": ("d.npz", _states_1e300, "too large for float64 arithmetic"),
    "a Latin-1 CSV": ("d.csv", lambda p: p.write_bytes("t,q,p\n0,1,0\n# \xe9t\xe9\n".encode("latin-1")),
                      "is not UTF-8 text: byte 0xe9 on line 3"),
}


@pytest.mark.parametrize("fault", list(FIT_FAULTS))
def test_fit_on_a_faulty_data_file_ends_with_one_line_naming_it(tmp_path, fault):
    import subprocess
    import sys

    name, write, message = FIT_FAULTS[fault]
    write(tmp_path / name)
    res = subprocess.run([sys.executable, "-m", "hnn_np", "fit", name, "--out", "out", "--columns", "q,p",
                          "--split", "time", "--steps", "2"], capture_output=True, text=True, cwd=tmp_path,
                         timeout=300)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert f"data file '{name}'" in res.stderr and message in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()
