"""Measured trajectories: load them, difference them, split them, learn them, roll them out.

A file of measurements holds a time column and state columns, for one or
more trajectories (a trajectory column numbers them; each trajectory's rows
are contiguous and its times strictly increasing with one constant step dt,
up to the rounding of the stamps: :mod:`hnn_np.time_grid`).
:func:`load_measured` reads an ``.npz`` (one 1-D array per column) or a CSV
(a header line of column names, then one row of numbers per sample).

Targets are central finite differences of every state column
(:mod:`hnn_np.differences`, re-exported here): :func:`derivative_targets`,
and :func:`velocities_from_positions` for data whose recorded velocities
should be replaced by differences of the positions.

Learning in a normalized frame. States are centred and scaled,
x~ = (x - c) / sigma, and the network learns dx~/dt = (dx/dt) / sigma (time
is not rescaled). The affine map is then folded into the weights, so the
saved :class:`~hnn_np.model.Model` takes and returns data units (scale 1)::

    first layer:  a1 = tanh(x~ @ W0 + b0) = tanh(x @ (W0 / sigma[:, None]) + (b0 - (c / sigma) @ W0))
    baseline:     dx/dt = sigma * f(x~)                 ->  W_L * sigma[None, :],  b_L * sigma
    HNN:          H(x) = kappa H~(x~)                    ->  W_L * kappa,          b_L * kappa

For an HNN the fold is exact when sigma_{q_i} sigma_{p_i} = kappa for every
degree of freedom i (then dq_i/dt = sigma_{q_i} dH~/dp~_i = dH/dp_i, and the
same for p_i), so :func:`normalization` takes sigma_{q_i} = std(q_i) and
sigma_{p_i} = kappa / std(q_i), kappa the geometric mean of the products
std(q_i) std(p_i). A field with a gradient part (the D-HNN's J grad H + grad D)
keeps its form only under one scale for all coordinates: sigma = max std,
and both of its outputs are multiplied by kappa = sigma**2.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from .differences import derivative_targets, velocities_from_positions
from .npz import Npz
from .time_grid import RELATIVE_SPREAD, uniform_step

__all__ = ["Measured", "load_measured", "derivative_targets", "velocities_from_positions", "split", "normalization",
           "fold_normalization", "rollout_rms", "SPLITS"]

SPLITS = ("trajectory", "time")
_HUGE = 1e151  # |state| above which a sum of squares over 1e6 rows overflows: sqrt(1.8e308 / 1e6) = 1.3e151
_TINY = 1e-150  # a state column's variation below which its squares underflow (2.2e-308, the smallest normal)


@dataclass(frozen=True)
class Measured:
    """Trajectories of measured states.

    t : tuple of arrays (T_k,), strictly increasing with a constant step;
    x : tuple of arrays (T_k, d), the states; columns : the d state names;
    ids : the trajectory numbers (from the file's trajectory column, or 0..K-1);
    source : where the data came from (for messages).
    """

    t: tuple
    x: tuple
    columns: tuple
    ids: tuple
    source: str = "data"

    def __len__(self):
        return len(self.t)

    @property
    def dt(self) -> float:
        """The common time step of every trajectory."""
        return float(np.mean(np.diff(self.t[0])))

    def subset(self, keep):
        """The trajectories at positions ``keep``."""
        keep = list(keep)
        return Measured(tuple(self.t[k] for k in keep), tuple(self.x[k] for k in keep), self.columns,
                        tuple(self.ids[k] for k in keep), self.source)


def _parse_names(value, what):
    if value is None:
        return None
    names = [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{what} must be distinct non-empty column names; got {value!r}")
    return names


def _read_csv(path):
    """{name: float column} of a CSV with a header line; every cell must be a number."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise ValueError(f"data file {path!r} is not UTF-8 text: byte {raw[e.start]:#04x} on line {line} "
                         "cannot be decoded; save it as UTF-8") from None
    lines = text.splitlines()
    lines = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not lines:
        raise ValueError(f"data file {path!r} is empty; expected a header line of column names")
    names = [s.strip() for s in lines[0][1].split(",")]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"data file {path!r}: the header must name every column once; got {names}")
    rows = []
    for n, line in lines[1:]:
        cells = line.split(",")
        if len(cells) != len(names):
            raise ValueError(f"data file {path!r} line {n}: expected {len(names)} values, got {len(cells)}")
        row = []
        for name, cell in zip(names, cells):
            try:
                row.append(float(cell))
            except ValueError:
                raise ValueError(f"data file {path!r} line {n} column {name!r}: expected a number, "
                                 f"got {cell.strip()!r}") from None
        rows.append(row)
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    return {name: table[:, j] for j, name in enumerate(names)}


def _read_npz(path, time, columns, trajectory):
    """({name: array}, every column's name, the state columns) of an .npz; only the columns used are read.

    Without ``columns``, the state columns are the other 1-D float members of
    the time column's length, found from the members' headers alone.
    """
    with Npz(path, "data file") as z:
        if columns is None and time in z and len(z.info(time)[0]) == 1:
            columns = [k for k in z.names if k not in (time, trajectory)
                       and z.info(k)[0] == z.info(time)[0] and z.info(k)[1].kind == "f"]
        used = [k for k in (time, *(columns or ()), trajectory) if k is not None and k in z]
        return {k: z[k] for k in used}, list(z.names), columns


def load_measured(path, time="t", columns=None, trajectory=None) -> Measured:
    """Read measured trajectories from an ``.npz`` or a ``.csv`` file.

    Parameters
    ----------
    path : path
        ``*.npz`` (1-D arrays by name) or ``*.csv`` (header line, then numbers).
    time : str
        The time column.
    columns : str or list of str, optional
        The state columns in order (q_1..q_n, p_1..p_n), e.g. ``"theta,omega"``;
        default: every other 1-D numeric column of the time column's length.
    trajectory : str, optional
        A column of trajectory numbers (integers); without it, one trajectory.

    Raises
    ------
    ValueError
        Naming the file and what was expected: a missing file or column, a
        file that is not a zip archive (.npz) or not UTF-8 text (.csv), a
        cell that is not a number, NaN or infinity, a state column too large
        (above 1e151) or varying too little (below 1e-150) for float64
        arithmetic, times that do not increase by one constant step within a
        trajectory, a trajectory whose rows are not contiguous.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"data file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".npz", ".csv"):
        raise ValueError(f"data file {path!r}: expected a .npz or .csv file")
    columns = _parse_names(columns, "columns")
    if ext == ".npz":
        table, names, columns = _read_npz(path, time, columns, trajectory)
    else:
        table = _read_csv(path)
        names = list(table)
    if not isinstance(time, str) or time not in table:
        raise ValueError(f"data file {path!r} has no time column {time!r}; its columns are {sorted(names)}")
    t_all = np.asarray(table[time])
    if t_all.ndim == 1 and len(t_all) < 3:
        raise ValueError(f"data file {path!r} has {len(t_all)} rows; expected at least 3 samples")
    if t_all.ndim != 1 or t_all.dtype.kind not in "fiu":
        raise ValueError(f"data file {path!r}: time column {time!r} must be 1-D numbers; got "
                         f"{t_all.dtype} {t_all.shape}")
    if trajectory is not None and trajectory not in table:
        raise ValueError(f"data file {path!r} has no trajectory column {trajectory!r}; "
                         f"its columns are {sorted(names)}")
    if columns is None:
        columns = [k for k, v in table.items() if k not in (time, trajectory) and np.ndim(v) == 1
                   and len(v) == len(t_all) and np.asarray(v).dtype.kind == "f"]
    missing = [c for c in columns if c not in table]
    if missing or not columns:
        raise ValueError(f"data file {path!r} has no state columns {missing or columns}; "
                         f"its columns are {sorted(names)}")
    x_all = []
    for name in (time, *columns) + ((trajectory,) if trajectory else ()):
        v = np.asarray(table[name])
        if v.shape != t_all.shape or v.dtype.kind not in "fiu":
            raise ValueError(f"data file {path!r}: column {name!r} must be numbers of shape "
                             f"{t_all.shape}; got {v.dtype} {v.shape}")
        bad = np.flatnonzero(~np.isfinite(v.astype(np.float64)))
        if bad.size:
            raise ValueError(f"data file {path!r}: column {name!r} has a non-finite value "
                             f"({v[bad[0]]}) in data row {bad[0]}")
        if name in columns:
            x_all.append(_check_scale(path, name, v.astype(np.float64)))
    x_all = np.column_stack(x_all)
    t_dtype, t_all = t_all.dtype, t_all.astype(np.float64)
    if trajectory is None:
        ids, starts = [0], [0]
    else:
        tr = np.asarray(table[trajectory], dtype=np.float64)
        if np.any(tr != np.round(tr)):
            raise ValueError(f"data file {path!r}: trajectory column {trajectory!r} must hold integers")
        starts = [0] + list(np.flatnonzero(np.diff(tr) != 0) + 1)
        ids = [int(tr[s]) for s in starts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"data file {path!r}: the rows of each trajectory must be contiguous")
    ends = starts[1:] + [len(t_all)]
    ts, xs, dts, slack = [], [], [], []
    for k, a, b in zip(ids, starts, ends):
        dt, dt_tolerance = uniform_step(t_all[a:b], t_dtype, f"data file {path!r}: trajectory {k}", a)
        ts.append(t_all[a:b])
        xs.append(np.ascontiguousarray(x_all[a:b]))
        dts.append(dt), slack.append(dt_tolerance)
    if max(dts) - min(dts) > RELATIVE_SPREAD * min(dts) + 2 * max(slack):
        raise ValueError(f"data file {path!r}: every trajectory must have the same time step; "
                         f"got {min(dts):g} to {max(dts):g}")
    return Measured(tuple(ts), tuple(xs), tuple(columns), tuple(ids), path)


def _check_scale(path, name, v):
    """``v``, if float64 arithmetic on it neither overflows (|v| <= 1e151) nor underflows (a variation >= 1e-150)."""
    i = int(np.argmax(np.abs(v)))
    if abs(v[i]) > _HUGE:
        raise ValueError(f"data file {path!r}: column {name!r} reaches {v[i]:.3g} (data row {i}); magnitudes "
                         f"above {_HUGE:.0e} are too large for float64 arithmetic (their squares overflow): "
                         "rescale the column, e.g. to other units")
    spread = float(np.max(v) - np.min(v))
    if 0 < spread < _TINY:
        raise ValueError(f"data file {path!r}: column {name!r} varies by only {spread:.3g}; variations below "
                         f"{_TINY:.0e} are too small for float64 arithmetic (their squares underflow to 0): "
                         "rescale the column, e.g. to other units")
    return v


def split(data: Measured, how="trajectory", validation=0.25):
    """(train, validation) by whole trajectories or by time, without shuffling.

    ``how="trajectory"``: the last round(validation * K) of the K trajectories
    (at least one) are held out; ``how="time"``: the last ``validation``
    fraction of every trajectory is. Either way the validation data lie after
    the training data, as a forecast would meet them.
    """
    if how not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {how!r}")
    if isinstance(validation, bool) or not isinstance(validation, (int, float)) or not 0 < validation < 1:
        raise ValueError(f"validation must be a fraction strictly between 0 and 1; got {validation!r}")
    if how == "trajectory":
        K = len(data)
        n_val = max(1, int(round(validation * K)))
        if K < 2 or n_val >= K:
            raise ValueError(f"a split by trajectory needs at least 2 trajectories and some left to "
                             f"train on; {data.source!r} has {K} (validation {validation})")
        return data.subset(range(K - n_val)), data.subset(range(K - n_val, K))
    tr_t, tr_x, va_t, va_x = [], [], [], []
    for t, x in zip(data.t, data.x):
        cut = int(round((1 - validation) * len(t)))
        if cut < 3 or len(t) - cut < 3:
            raise ValueError(f"a split by time of {data.source!r} leaves fewer than 3 samples on one side")
        tr_t.append(t[:cut]), tr_x.append(x[:cut]), va_t.append(t[cut:]), va_x.append(x[cut:])
    return (Measured(tuple(tr_t), tuple(tr_x), data.columns, data.ids, data.source),
            Measured(tuple(va_t), tuple(va_x), data.columns, data.ids, data.source))


def normalization(kind, x):
    """Centre c (d,), scales sigma (d,) and output factor kappa of the frame a ``kind`` learns in."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):  # named below, not warned about
        c = x.mean(axis=0)
        std = x.std(axis=0)
    if not np.all(np.isfinite(std)):
        j = int(np.argmin(np.isfinite(std)))
        raise ValueError(f"state column {j} reaches {np.max(np.abs(x[:, j])):.3g}, too large for float64 "
                         "arithmetic (its variance overflows): rescale it")
    if np.any(std <= 0):
        j = int(np.argmax(std <= 0))
        if np.ptp(x[:, j]) > 0:
            raise ValueError(f"state column {j} varies by only {np.ptp(x[:, j]):.3g}, too little for float64 "
                             "arithmetic (its variance underflows to 0): rescale it")
        raise ValueError("every state column must vary over the training data to be normalized")
    if kind == "baseline":
        return c, std, 1.0
    n = x.shape[1] // 2
    if kind == "hnn":
        kappa = math.exp(float(np.mean(np.log(std[:n] * std[n:]))))  # geometric mean of the products
        return c, np.concatenate([std[:n], kappa / std[:n]]), kappa
    sigma = float(std.max())  # a gradient part needs one scale for all coordinates
    return c, np.full(x.shape[1], sigma), sigma**2


def fold_normalization(kind, params, c, sigma, kappa):
    """Weights in data units from weights learned on x~ = (x - c) / sigma (module docstring)."""
    (W0, b0), (WL, bL) = params[0], params[-1]
    folded = [(W0 / sigma[:, None], b0 - (c / sigma) @ W0)] + [(W.copy(), b.copy()) for W, b in params[1:]]
    if len(params) == 1:
        WL, bL = folded[0]
    if kind == "baseline":
        WL, bL = WL * sigma[None, :], bL * sigma
    else:
        WL, bL = WL * kappa, bL * kappa
    folded[-1] = (np.ascontiguousarray(WL), np.ascontiguousarray(bL))
    return [(np.ascontiguousarray(W), np.ascontiguousarray(b)) for W, b in folded[:-1]] + folded[-1:]


def rollout_rms(field_rollout, data: Measured):
    """Roll a field out from each trajectory's first state over its times; RMS error per column.

    ``field_rollout(x0 (2n,), t (T,)) -> (T, 2n)``. Returns a list (one per
    trajectory) of ``(rms (d,), x_hat (T, d))``.
    """
    out = []
    for t, x in zip(data.t, data.x):
        x_hat = np.asarray(field_rollout(x[0], t))
        out.append((np.sqrt(np.mean((x_hat - x) ** 2, axis=0)), x_hat))
    return out


def learn(x, dx_dt, config, **fit_kw):
    """:func:`hnn_np.fit` in the normalized frame, returned as a Model in data units.

    ``config`` is a :class:`~hnn_np.train.TrainConfig` (its ``normalize`` is
    ignored: the frame here replaces it); ``fit_kw`` go to :func:`hnn_np.fit`
    (``x_test``/``dxdt_test`` in data units). The model's ``metrics`` record
    the frame (``center``, ``sigma``, ``kappa``).
    """
    from dataclasses import replace

    from .model import Model
    from .train import fit

    c, sigma, kappa = normalization(config.kind, x)
    for key in ("x_test", "dxdt_test"):
        if fit_kw.get(key) is not None:
            fit_kw[key] = (np.asarray(fit_kw[key], dtype=np.float64) - (c if key == "x_test" else 0)) / sigma
    model = fit((np.asarray(x, dtype=np.float64) - c) / sigma, np.asarray(dx_dt, dtype=np.float64) / sigma,
                replace(config, normalize=False), **fit_kw)
    params = fold_normalization(config.kind, model.params, c, sigma, kappa)
    frame = dict(center=c.tolist(), sigma=sigma.tolist(), kappa=float(kappa))
    return Model(model.kind, params, 1.0, config=model.config, metrics={**model.metrics, **frame},
                 history=model.history)


def linearization(field, x_guess, h=1e-5, iterations=20):
    """The equilibrium x* of ``field`` nearest ``x_guess`` (Newton) and the eigenvalues of its Jacobian.

    ``field`` maps states (N, d) to dx/dt (N, d); the Jacobian is taken by
    central differences of step h. For one degree of freedom with
    eigenvalues -g/2 +- i w_d, ``omega0 = sqrt(det DS)`` is the undamped
    small-amplitude frequency and ``omega_d = |Im lambda|`` the damped one.
    """
    x = np.asarray(x_guess, dtype=np.float64).copy()
    d = len(x)

    def jacobian(x):
        pts = np.concatenate([x + h * np.eye(d), x - h * np.eye(d)])  # (2d, d)
        f = np.asarray(field(pts), dtype=np.float64)
        return ((f[:d] - f[d:]) / (2 * h)).T  # DS[i, j] = dS_i / dx_j

    for _ in range(iterations):
        step = np.linalg.solve(jacobian(x), np.asarray(field(x[None]), dtype=np.float64)[0])
        x -= step
        if np.max(np.abs(step)) < 1e-12:
            break
    DS = jacobian(x)
    lam = np.linalg.eigvals(DS)
    out = dict(equilibrium=x.tolist(), eigenvalues_real=lam.real.tolist(), eigenvalues_imag=lam.imag.tolist())
    if d == 2:
        out.update(omega0=float(np.sqrt(max(np.linalg.det(DS), 0.0))), omega_d=float(np.max(np.abs(lam.imag))),
                   decay_rate=float(-np.trace(DS)))
    return out
