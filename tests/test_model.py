"""hnn_np.model: a trained network in physical units, and its one-file format.

A Model learned in scaled units x~ = x / s must answer in physical ones::

    H(x) = s**2 H~(x / s),      dx/dt = s S~(x / s)

The independent check of that bookkeeping is Hamilton's equations themselves:
whatever s is, the field the model returns must be J times the gradient of the
energy it returns, and that gradient is taken here by finite differences of
``Model.energy`` in physical units. A wrong power of s breaks it.

The file format tests save, load and compare bit for bit, then damage files in
every way a reader can meet (other version, wrong shapes, wrong dtype, not a
zip at all, a crash half-way through a save) and expect a clear ValueError.
"""

import json
import os

import numpy as np
import pytest

import hnn_np
from hnn_np import baseline, mlp
from hnn_np.io import save_npz as atomic_save_npz
from hnn_np.model import FORMAT_VERSION, Model, load_model

HNN_SIZES = (2, 16, 16, 1)
BASELINE_SIZES = (2, 16, 16, 2)


def make_model(kind="hnn", scale=1.0, dtype=np.float64, seed=0, sizes=None):
    sizes = sizes or (HNN_SIZES if kind == "hnn" else BASELINE_SIZES)
    return Model(kind, mlp.init_params(sizes, seed=seed, dtype=dtype), scale)


def J_times(v):
    """J v = (v_p, -v_q) on the last axis."""
    n = v.shape[-1] // 2
    return np.concatenate([v[..., n:], -v[..., :n]], axis=-1)


def energy_gradient_fd(model, x, h):
    """dH/dx of ``model.energy`` by the 4-point central stencil, one column at a time."""
    grad = np.empty_like(x)
    for k in range(x.shape[1]):
        e = np.zeros(x.shape[1])
        e[k] = h
        H = lambda c: model.energy(x + c * e)  # noqa: E731
        grad[:, k] = (8 * (H(1) - H(-1)) - (H(2) - H(-2))) / (12 * h)
    return grad


def files_in(folder):
    return sorted(os.listdir(folder))


# --- physical units -------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 0.25, 37.0])
@pytest.mark.parametrize("n_dof", [1, 2])
def test_hnn_field_is_J_grad_of_its_own_energy_in_physical_units(scale, n_dof):
    """time_derivative(x) = J dH/dx with H = model.energy, for any scale s."""
    model = make_model(scale=scale, seed=3, sizes=(2 * n_dof, 16, 16, 1))
    x = np.random.default_rng(1).uniform(-2, 2, (20, 2 * n_dof)) * scale
    h = 1e-3 * scale
    expected = J_times(energy_gradient_fd(model, x, h))
    S = model.time_derivative(x)
    assert S.shape == x.shape
    np.testing.assert_allclose(S, expected, rtol=1e-7, atol=1e-9 * scale)


def test_energy_scales_as_s_squared_and_field_as_s():
    """The same network read at scale s: H(s x~) = s^2 H~(x~), S(s x~) = s S~(x~)."""
    s = 12.5
    params = mlp.init_params(HNN_SIZES, seed=4)
    raw, scaled = Model("hnn", params, 1.0), Model("hnn", params, s)
    x_tilde = np.random.default_rng(2).uniform(-1, 1, (30, 2))
    np.testing.assert_allclose(scaled.energy(s * x_tilde), s**2 * raw.energy(x_tilde), rtol=1e-14)
    np.testing.assert_allclose(scaled.time_derivative(s * x_tilde), s * raw.time_derivative(x_tilde),
                               rtol=1e-13, atol=1e-15)


def test_baseline_field_is_s_times_the_network_on_x_over_s():
    s = 3.0
    model = make_model("baseline", scale=s, seed=5)
    x = np.random.default_rng(3).uniform(-5, 5, (10, 2))
    W0, b0 = model.params[0]
    W1, b1 = model.params[1]
    W2, b2 = model.params[2]
    by_hand = s * (np.tanh(np.tanh((x / s) @ W0 + b0) @ W1 + b1) @ W2 + b2)
    np.testing.assert_allclose(model.time_derivative(x), by_hand, rtol=1e-14, atol=1e-15)


def test_one_state_may_be_given_as_a_1d_row():
    model = make_model(scale=2.0)
    x = np.array([0.3, -1.2])
    np.testing.assert_array_equal(model.time_derivative(x), model.time_derivative(x[None]))
    np.testing.assert_array_equal(model.energy(x), model.energy(x[None]))


def test_a_baseline_has_no_energy():
    with pytest.raises(ValueError, match="no energy"):
        make_model("baseline").energy(np.zeros((1, 2)))


@pytest.mark.parametrize("kind, sizes, scale, match", [
    ("lstm", HNN_SIZES, 1.0, "kind"),
    ("hnn", (2, 8, 2), 1.0, "one energy"),
    ("baseline", (2, 8, 1), 1.0, "dx/dt of size 2"),
    ("hnn", (3, 8, 1), 1.0, "even size"),
    ("hnn", HNN_SIZES, 0.0, "scale"),
    ("hnn", HNN_SIZES, -1.0, "scale"),
    ("hnn", HNN_SIZES, float("inf"), "scale"),
])
def test_model_rejects_inconsistent_construction(kind, sizes, scale, match):
    with pytest.raises(ValueError, match=match):
        Model(kind, mlp.init_params(sizes), scale)


def test_properties_describe_the_network():
    model = make_model(dtype=np.float32, sizes=(4, 16, 16, 1))
    assert model.sizes == [4, 16, 16, 1] and model.n_dof == 2 and model.dtype == np.float32
    assert "float32" in repr(model) and "hnn" in repr(model)


# --- save / load -----------------------------------------------------------------

def full_model(kind="hnn", dtype=np.float64):
    """A model with every field filled: scale, config, metrics and history."""
    model = make_model(kind, scale=123.456, dtype=dtype, seed=7)
    model.config = {"kind": kind, "sizes": list(model.sizes), "lr": 1e-3, "batch_size": None,
                    "normalize": True, "experiment": "demo"}
    model.metrics = {"grid_field_median": 1.25e-3, "grid_points": 40400, "note": "x"}
    model.history = {"step": np.arange(1, 6), "train_loss": np.linspace(1, 0.1, 5),
                     "lr": np.full(5, 1e-3), "test_step": np.array([5], dtype=np.int64),
                     "test_loss": np.array([], dtype=np.float64)}
    return model


def assert_models_identical(a: Model, b: Model):
    assert a.kind == b.kind and a.scale == b.scale
    assert a.config == b.config and a.metrics == b.metrics
    assert len(a.params) == len(b.params)
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params):
        for u, v in ((Wa, Wb), (ba, bb)):
            assert u.dtype == v.dtype and u.shape == v.shape
            assert u.tobytes() == v.tobytes()  # bit for bit
    assert sorted(a.history) == sorted(b.history)
    for key in a.history:
        u, v = np.asarray(a.history[key]), b.history[key]
        assert u.dtype == v.dtype and u.shape == v.shape, key
        assert u.tobytes() == v.tobytes(), key


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_round_trip_is_bit_exact(tmp_path, kind, dtype):
    model = full_model(kind, dtype)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = load_model(path)
    assert_models_identical(model, loaded)
    x = np.random.default_rng(0).uniform(-100, 100, (7, 2))
    np.testing.assert_array_equal(loaded.time_derivative(x), model.time_derivative(x))
    assert files_in(tmp_path) == ["model.npz"]  # no temporary file left behind


def test_package_level_load_model(tmp_path):
    model = full_model()
    model.save(tmp_path / "m.npz")
    assert_models_identical(model, hnn_np.load_model(str(tmp_path / "m.npz")))


def test_save_overwrites_and_creates_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "model.npz"
    make_model(seed=1).save(path)
    second = make_model(seed=2)
    second.save(path)
    assert_models_identical(load_model(path), second)
    assert files_in(path.parent) == ["model.npz"]


def test_a_save_that_fails_midway_keeps_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = full_model()
    old.save(path)
    old_bytes = path.read_bytes()

    def savez_then_crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")  # some bytes reach the disk, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_then_crash)
    with pytest.raises(OSError, match="disk full"):
        make_model(seed=9).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert files_in(tmp_path) == ["model.npz"]
    assert_models_identical(load_model(path), old)


def test_atomic_save_npz_survives_keyboard_interrupt(tmp_path, monkeypatch):
    """Even a BaseException (Ctrl-C) mid-write leaves no temporary file."""
    path = tmp_path / "x.npz"

    def interrupted(file, **arrays):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_save_npz(path, {"a": np.arange(3)})
    assert files_in(tmp_path) == []


# --- refusing bad files ------------------------------------------------------------

def rewrite(path, mutate):
    """Load the raw arrays and header of ``path``, let ``mutate`` edit them, write back."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    header = json.loads(str(arrays["header"]))
    mutate(header, arrays)
    arrays["header"] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    full_model().save(path)
    return path


def test_format_version_is_checked(saved):
    rewrite(saved, lambda h, a: h.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}"):
        load_model(saved)


def test_inconsistent_shapes_are_refused(saved):
    def wrong_shape(h, a):
        a["W1"] = np.zeros((16, 15))
    rewrite(saved, wrong_shape)
    with pytest.raises(ValueError, match="layer 1 has shapes"):
        load_model(saved)


def test_missing_layer_is_refused(saved):
    rewrite(saved, lambda h, a: a.pop("b2"))
    with pytest.raises(ValueError, match="lacks layer 2"):
        load_model(saved)


def test_extra_layer_is_refused(saved):
    def extra(h, a):
        a["W3"], a["b3"] = np.zeros((1, 1)), np.zeros(1)
    rewrite(saved, extra)
    with pytest.raises(ValueError, match="more layers"):
        load_model(saved)


def test_dtype_mismatch_is_refused(saved):
    rewrite(saved, lambda h, a: h.update(dtype="float32"))
    with pytest.raises(ValueError, match="float64, its header says float32"):
        load_model(saved)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "nope.npz")


def test_a_file_that_is_not_an_npz_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("just some text\n")
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        load_model(path)


def test_a_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="model file"):
        load_model(saved)


def test_an_npz_without_header_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, W0=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="no 'header' entry"):
        load_model(path)


def test_a_corrupt_header_is_refused(saved):
    with np.load(saved) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["header"] = np.array("{not json")
    np.savez(saved, **arrays)
    with pytest.raises(ValueError, match="corrupt 'header'"):
        load_model(saved)


def test_a_header_missing_its_fields_is_refused(saved):
    """A JSON header without kind / sizes / dtype is damage too: ValueError, not KeyError."""
    rewrite(saved, lambda h, a: h.pop("sizes"))
    with pytest.raises(ValueError, match="model file"):
        load_model(saved)


def test_a_checkpoint_is_not_a_model(tmp_path):
    """Training checkpoints are .npz files too, with another header: refused."""
    path = tmp_path / "checkpoint.npz"
    atomic_save_npz(path, {"header": np.array(json.dumps({"version": 1})),
                           "W0": np.zeros((2, 1))})
    with pytest.raises(ValueError, match="format version None"):
        load_model(path)


def test_baseline_loss_module_agrees_with_model_on_scaled_inputs():
    """Model.time_derivative of a baseline is exactly the baseline module's prediction."""
    model = make_model("baseline", scale=4.0, seed=11)
    x = np.random.default_rng(5).uniform(-4, 4, (9, 2))
    np.testing.assert_array_equal(model.time_derivative(x),
                                  4.0 * baseline.predict(model.params, x / 4.0))
