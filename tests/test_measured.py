"""hnn_np.measured: reading measured files, differencing, splitting, the normalized frame, linearization.

Every check compares with something computed another way: closed-form
derivatives of sines, the states the file was written from, the field of the
network evaluated directly in its own frame, and the eigenvalues of a linear
field written down by hand.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hnn_np import hnn
from hnn_np import baseline as baseline_net
from hnn_np.mlp import init_params
from hnn_np.model import Model
from hnn_np.measured import (derivative_targets, fold_normalization, learn, linearization, load_measured,
                             normalization, split)
from hnn_np.train import TrainConfig


def oscillator(n_traj=3, T=200, dt=0.01, w=2.0):
    """Trajectories q = A cos(w t + phi), p = -A w sin(w t + phi), and their exact derivatives."""
    rows = []
    for k in range(n_traj):
        t = 0.5 * k + dt * np.arange(T)
        A, phi = 1.0 + 0.3 * k, 0.4 * k
        rows.append((k, t, A * np.cos(w * t + phi), -A * w * np.sin(w * t + phi)))
    return rows


def write_csv(path, rows, header="t,q,p,traj"):
    lines = [header] + [f"{float(t)!r},{float(q)!r},{float(p)!r},{k}" for k, ts, qs, ps in rows for t, q, p in zip(ts, qs, ps)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_reads_back_as_the_trajectories_it_was_written_from(tmp_path):
    rows = oscillator()
    data = load_measured(write_csv(tmp_path / "d.csv", rows), columns="q,p", trajectory="traj")
    assert data.columns == ("q", "p") and data.ids == (0, 1, 2) and len(data) == 3
    for (k, t, q, p), tk, xk in zip(rows, data.t, data.x):
        np.testing.assert_array_equal(tk, t)
        np.testing.assert_array_equal(xk, np.column_stack([q, p]))
    assert data.dt == pytest.approx(0.01, rel=1e-12)


def test_an_npz_reads_the_same_as_the_csv(tmp_path):
    rows = oscillator()
    cols = [np.concatenate([r[i] for r in rows]) for i in (1, 2, 3)]
    traj = np.concatenate([np.full(len(r[1]), r[0]) for r in rows])
    np.savez(tmp_path / "d.npz", t=cols[0], q=cols[1], p=cols[2], traj=traj)
    a = load_measured(tmp_path / "d.npz", trajectory="traj")  # default columns: the other float columns
    b = load_measured(write_csv(tmp_path / "d.csv", rows), columns=["q", "p"], trajectory="traj")
    assert a.columns == ("q", "p")
    for xa, xb in zip(a.x, b.x):
        np.testing.assert_array_equal(xa, xb)


@pytest.mark.parametrize("edit, message", [
    (lambda lines: lines[:5] + ["0.05,abc,1.0,0"] + lines[6:], "line 6 column 'q': expected a number, got 'abc'"),
    (lambda lines: ["time,q,p,traj"] + lines[1:], "no time column 't'"),
    (lambda lines: lines[:3] + [lines[4], lines[3]] + lines[5:], "strictly increasing"),
    (lambda lines: lines[:4] + ["0.03,nan,1.0,0"] + lines[5:], "column 'q' has a non-finite value"),
    (lambda lines: lines[:4] + ["0.0305,1.0,1.0,0"] + lines[5:], "one constant time step"),
    (lambda lines: lines[:4] + ["0.03,1.0"] + lines[5:], "expected 4 values, got 2"),
    (lambda lines: lines[:1], "has 0 rows; expected at least 3 samples"),
    (lambda lines: lines[:3] + [lines[2]] + lines[3:], "strictly increasing"),
])
def test_a_bad_csv_is_refused_with_a_message_naming_the_file(tmp_path, edit, message):
    path = write_csv(tmp_path / "bad.csv", oscillator(1, T=20))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    with pytest.raises(ValueError) as err:
        load_measured(path, columns="q,p", trajectory="traj")
    assert message in str(err.value) and "bad.csv" in str(err.value)


def test_missing_files_columns_and_interleaved_trajectories_are_refused(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_measured(tmp_path / "none.csv")
    (tmp_path / "d.txt").write_text("t,q\n0,1\n")
    with pytest.raises(ValueError, match="expected a .npz or .csv"):
        load_measured(tmp_path / "d.txt")
    path = write_csv(tmp_path / "d.csv", oscillator(2, T=10))
    with pytest.raises(ValueError, match="no state columns \\['x'\\]"):
        load_measured(path, columns="q,x", trajectory="traj")
    with pytest.raises(ValueError, match="no trajectory column 'run'"):
        load_measured(path, columns="q,p", trajectory="run")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:6] + lines[11:] + lines[6:11]) + "\n")  # trajectory 0 split in two
    with pytest.raises(ValueError, match="contiguous"):
        load_measured(path, columns="q,p", trajectory="traj")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz' is not an .npz archive: not a zip archive"):
        load_measured(tmp_path / "junk.npz")


@pytest.mark.parametrize("order", [2, 4, 6])
def test_differences_converge_to_the_exact_derivative_at_their_order(order):
    w = 2.0
    errors = []
    for stride in (4, 2):
        data = load_measured_from(oscillator(2, T=400, dt=0.005, w=w))
        x, dx_dt, traj = derivative_targets(data, order, stride)
        exact = np.column_stack([x[:, 1], -w**2 * x[:, 0]])  # q' = p, p' = -w^2 q on these orbits
        errors.append(np.max(np.abs(dx_dt - exact)))
        assert traj.tolist() == sorted(traj.tolist()) and set(traj.tolist()) == {0, 1}
    assert errors[0] / errors[1] == pytest.approx(2.0**order, rel=0.1)


def load_measured_from(rows):
    from hnn_np.measured import Measured

    return Measured(tuple(r[1] for r in rows), tuple(np.column_stack([r[2], r[3]]) for r in rows), ("q", "p"),
                    tuple(r[0] for r in rows))


def test_splits_hold_out_the_last_trajectories_or_the_end_of_each():
    data = load_measured_from(oscillator(4, T=100))
    train, val = split(data, "trajectory", 0.25)
    assert train.ids == (0, 1, 2) and val.ids == (3,)
    train, val = split(data, "time", 0.25)
    assert train.ids == val.ids == (0, 1, 2, 3)
    for t, tt, tv in zip(data.t, train.t, val.t):
        np.testing.assert_array_equal(np.concatenate([tt, tv]), t)
        assert len(tv) == 25 and tt[-1] < tv[0]
    with pytest.raises(ValueError, match="at least 2 trajectories"):
        split(data.subset([0]), "trajectory", 0.25)
    with pytest.raises(ValueError, match="split must be one of"):
        split(data, "random", 0.25)


@pytest.mark.parametrize("kind", ["hnn", "baseline"])
def test_the_folded_model_is_the_network_evaluated_in_its_own_frame(kind):
    rng = np.random.default_rng(0)
    x = np.column_stack([np.pi + 0.8 * rng.standard_normal(200), 6.0 * rng.standard_normal(200)])
    c, sigma, kappa = normalization(kind, x)
    assert np.allclose(sigma[0] * sigma[1], kappa) if kind == "hnn" else kappa == 1.0
    params = init_params((2, 16, 16, 1 if kind == "hnn" else 2), seed=3)
    x_tilde = (x - c) / sigma
    direct = sigma * (hnn.vector_field(params, x_tilde) if kind == "hnn"
                      else baseline_net.predict(params, x_tilde))  # dx/dt = sigma dx~/dt
    folded = Model(kind, fold_normalization(kind, params, c, sigma, kappa), 1.0)
    np.testing.assert_allclose(folded.time_derivative(x), direct, rtol=1e-12, atol=1e-12)
    if kind == "hnn":  # a mutant: the output scaled by sigma_q**2 instead of sigma_q sigma_p
        wrong = Model(kind, fold_normalization(kind, params, c, sigma, sigma[0] ** 2), 1.0)
        assert not np.allclose(wrong.time_derivative(x), direct, rtol=1e-3)


def test_learn_recovers_an_oscillator_field_and_is_reproducible():
    data = load_measured_from(oscillator(4, T=300, dt=0.01))
    x, dx_dt, _ = derivative_targets(data, 6, 2)
    cfg = TrainConfig(kind="hnn", sizes=(2, 16, 16, 1), lr=3e-3, batch_size=128, steps=300, finetune_steps=0,
                      schedule="cosine", lr_min=1e-5, refit_output=True)
    a, b = learn(x, dx_dt, cfg, progress=False), learn(x, dx_dt, cfg, progress=False)
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    exact = np.column_stack([x[:, 1], -4.0 * x[:, 0]])
    err = np.linalg.norm(a.time_derivative(x) - exact) / np.linalg.norm(exact - exact.mean(0))
    assert err < 0.15  # the best constant predictor (the mean target) scores 1 here
    assert a.scale == 1.0 and len(a.metrics["sigma"]) == 2


def test_linearization_finds_the_equilibrium_and_eigenvalues_of_a_damped_oscillator():
    w0, gamma, x_star = 3.0, 0.2, np.array([1.0, -0.5])

    def field(x):  # x'' + gamma x' + w0^2 x = 0 about x_star
        y = np.atleast_2d(x) - x_star
        return np.column_stack([y[:, 1], -w0**2 * y[:, 0] - gamma * y[:, 1]])

    lin = linearization(field, [0.7, 0.1])
    np.testing.assert_allclose(lin["equilibrium"], x_star, atol=1e-10)
    assert lin["omega0"] == pytest.approx(w0, rel=1e-8)
    assert lin["omega_d"] == pytest.approx(np.sqrt(w0**2 - gamma**2 / 4), rel=1e-8)
    assert lin["decay_rate"] == pytest.approx(gamma, rel=1e-6)


def test_velocities_from_positions_are_the_differences_of_q_at_their_order():
    """On q = A cos(w t + phi) the recorded p is replaced by the difference of q: -A w sin(w t + phi)."""
    from hnn_np.measured import velocities_from_positions

    w, dt = 2.0, 0.005
    rows = oscillator(2, T=400, dt=dt, w=w)
    delayed = [(k, t, q, np.roll(p, 3)) for k, t, q, p in rows]  # a recorded velocity 3 samples late
    errors = []
    for stride in (4, 2):
        out = velocities_from_positions(load_measured_from(delayed), order=4, stride=stride)
        for (k, t, q, p), t_new, x_new in zip(rows, out.t, out.x):
            keep = np.isin(t, t_new)
            assert len(t_new) == len(t) - 2 * 2 * stride  # order / 2 * stride samples dropped at each end
            np.testing.assert_array_equal(x_new[:, 0], q[keep])  # positions untouched
            errors.append(np.max(np.abs(x_new[:, 1] - p[keep])))
    assert max(errors) < 1e-5  # the delay of the recorded velocity (3 dt: 0.03 here) is gone
    assert errors[0] / errors[2] == pytest.approx(2.0**4, rel=0.1)


def test_velocities_from_positions_rejects_bad_arguments():
    from hnn_np.measured import Measured, velocities_from_positions

    data = load_measured_from(oscillator(1, T=50))
    with pytest.raises(ValueError, match="order must be one of"):
        velocities_from_positions(data, order=3)
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        velocities_from_positions(data, stride=0)
    with pytest.raises(ValueError, match="too short"):
        velocities_from_positions(data, order=6, stride=10)
    odd = Measured(data.t, (data.x[0][:, :1],), ("q",), (0,))
    with pytest.raises(ValueError, match="positions, velocities"):
        velocities_from_positions(odd)


# --- time stamps: uniform up to their own rounding, at any magnitude --------------------

def spring_npz(path, t, **extra):
    t64 = np.asarray(t, dtype=np.float64)
    np.savez(path, t=t, q=np.cos(2 * t64), p=-2 * np.sin(2 * t64), **extra)
    return path


def test_unix_time_stamps_with_two_decimals_are_one_step(tmp_path):
    """1.7e9 + 0.01 k, rounded to two decimals: float64 resolves them to 2.4e-7 s, so steps are 0.01 +- 2.4e-7."""
    t = np.round(1.7e9 + 0.01 * np.arange(500), 2)
    assert np.ptp(np.diff(t)) > 1e-6 * 0.01  # more than the relative spread a step used to be allowed
    lines = ["t,q,p"] + [f"{s:.2f},{float(np.cos(s - 1.7e9))!r},0.5" for s in t]
    (tmp_path / "unix.csv").write_text("\n".join(lines) + "\n")
    for data in (load_measured(spring_npz(tmp_path / "unix.npz", t)), load_measured(tmp_path / "unix.csv")):
        assert data.dt == pytest.approx(0.01, rel=1e-6)
        np.testing.assert_array_equal(data.t[0], t)
    with pytest.raises(ValueError, match="unix.npz': trajectory 0 must have one constant time step; the step to "
                                         "data row 250 is 0.02"):
        load_measured(spring_npz(tmp_path / "unix.npz", np.delete(t, 250)))


def test_a_float32_time_column_is_one_step(tmp_path):
    t = (0.1 * np.arange(200)).astype(np.float32)  # steps 0.0999985 to 0.1000004
    data = load_measured(spring_npz(tmp_path / "f32.npz", t))
    assert data.dt == pytest.approx(0.1, rel=1e-6)
    np.testing.assert_array_equal(data.t[0], t.astype(np.float64))


def test_times_beyond_the_resolution_of_their_dtype_are_refused_by_name(tmp_path):
    t = (1000.0 + 1e-4 * np.arange(50)).astype(np.float32)  # float32 resolves 6e-5 s at 1000 s
    with pytest.raises(ValueError, match=r"f32.npz': trajectory 0 has times up to 1000, where float32 resolves "
                                         r"only 6.1e-05, too coarse for their step 9.96e-05"):
        load_measured(spring_npz(tmp_path / "f32.npz", t))


@given(dtype=st.sampled_from([np.float32, np.float64]), n=st.integers(10, 300),
       mantissa=st.floats(1.0, 9.99), exponent=st.integers(-9, 9), offset=st.floats(-1.0, 1.0),
       removed=st.floats(0.05, 0.95))
def test_a_uniform_grid_at_any_magnitude_passes_and_one_removed_sample_fails(
        tmp_path_factory, dtype, n, mantissa, exponent, offset, removed):
    """t = t0 + k dt, stored in float32 or float64, with |t0| up to dt / (128 eps) (float32: 65536 steps away)."""
    dt = mantissa * 10.0**exponent
    t0 = round(offset * (1 / (128 * np.finfo(dtype).eps) - n)) * dt
    t = (t0 + dt * np.arange(n)).astype(dtype)
    path = spring_npz(tmp_path_factory.mktemp("grid") / "g.npz", t)
    assert load_measured(path).dt == pytest.approx(dt, rel=1e-3)
    gap = 1 + int(removed * (n - 3))  # an interior sample
    with pytest.raises(ValueError, match=f"one constant time step; the step to data row {gap} is"):
        load_measured(spring_npz(path, np.delete(t, gap)))


@given(decimals=st.integers(1, 6), ratio=st.floats(3.0, 1000.0), n=st.integers(10, 300),
       start=st.integers(0, 10**6), removed=st.floats(0.05, 0.95))
def test_stamps_rounded_to_their_decimals_pass_and_one_removed_sample_fails(
        tmp_path_factory, decimals, ratio, n, start, removed):
    """A 30 Hz camera's times to three decimals step by 0.033 or 0.034: rounding, not a gap."""
    q = 10.0**-decimals
    dt = ratio * q  # a step the decimals do not hold exactly
    t = np.round((start + ratio * np.arange(n)) * q, decimals)
    path = spring_npz(tmp_path_factory.mktemp("decimals") / "d.npz", t)
    assert load_measured(path).dt == pytest.approx(dt, abs=2 * q / (n - 1))
    gap = 1 + int(removed * (n - 3))
    with pytest.raises(ValueError, match=f"one constant time step; the step to data row {gap} is"):
        load_measured(spring_npz(path, np.delete(t, gap)))


# --- magnitudes, scales and encodings named ----------------------------------------------------------

@pytest.mark.parametrize("scale, match", [
    (1e300, r"column 'q' reaches 1e\+300 \(data row 0\); magnitudes above 1e\+151 are too large for float64"),
    (1e-300, r"column 'q' varies by only 2e-300; variations below 1e-150 are too small for float64"),
])
def test_states_too_large_or_too_small_for_float64_are_refused_by_name(tmp_path, scale, match):
    t = 0.01 * np.arange(200)
    np.savez(tmp_path / "s.npz", t=t, q=scale * np.cos(2 * t), p=scale * -2 * np.sin(2 * t))
    with pytest.raises(ValueError, match="s.npz': " + match):
        load_measured(tmp_path / "s.npz")


def test_states_of_1e150_load():
    t = 0.01 * np.arange(200)
    x = 1e150 * np.column_stack([np.cos(2 * t), -2 * np.sin(2 * t)])
    c, sigma, kappa = normalization("hnn", x)
    assert np.all(np.isfinite(sigma)) and np.isfinite(kappa) and kappa > 0


@pytest.mark.parametrize("scale, match", [(1e300, "reaches 1e\\+300, too large for float64 arithmetic"),
                                          (1e-300, "varies by only 2e-300, too little for float64 arithmetic"),
                                          (0.0, "every state column must vary")])
def test_normalization_names_the_real_problem_of_a_state_column(scale, match):
    t = 0.01 * np.arange(200)
    x = np.column_stack([scale * np.cos(2 * t), 1.0 + np.sin(2 * t)])
    with pytest.raises(ValueError, match="state column 0 " * (scale != 0) + match):
        normalization("hnn", x)


def test_a_csv_that_is_not_utf8_is_refused_naming_the_file_and_line(tmp_path):
    path = write_csv(tmp_path / "latin1.csv", oscillator(1, T=10))
    path.write_bytes(path.read_bytes() + "# mesur\xe9 au labo\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.csv' is not UTF-8 text: byte 0xe9 on line 12 cannot be decoded"):
        load_measured(path, columns="q,p", trajectory="traj")


def test_a_csv_with_a_byte_order_mark_reads(tmp_path):
    rows = oscillator(1, T=20)
    path = write_csv(tmp_path / "bom.csv", rows)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as spreadsheets save UTF-8
    data = load_measured(path, columns="q,p", trajectory="traj")
    np.testing.assert_array_equal(data.t[0], rows[0][1])
