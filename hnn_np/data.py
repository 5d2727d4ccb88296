"""Datasets of observed trajectories: states x and their time derivatives dx_dt.

The pipeline of :func:`make_dataset` (the paper, Sec. 4):

1. Energies E ~ U[lo E_max, hi E_max] (or log-uniform), E_max = H(R, 0) for a
   radius R (``system.radius_to_energy``), and phases phi ~ U[0, 2 pi); each
   (E, phi) becomes a state x0 on the level set H = E
   (:func:`sample_initial_states`).
2. Each x0 is integrated with DOP853 onto the grid t_j = t_0 + j dt
   (:func:`trajectories`).
3. Targets dx_dt: Hamilton's equations at the clean states ("analytic"), or
   central differences of the observed states of order 2, 4 or 6
   (:func:`finite_difference`):

       dx_dt(t_j) ~ sum_{s=1}^{h} c_s (x_{j+s} - x_{j-s}) / dt,   h = order / 2

   The grid is padded with h extra samples at each end, so every kept
   observation has the full centred stencil (no one-sided differences).

Rows of a :class:`Dataset` are trajectory-major: ``x.reshape(B, T, 2n)``
gives the trajectories back. Splitting is by trajectory
(:func:`train_test_split`); :class:`Scale` maps states into the unit ball.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_choice, check_dtype, check_int, check_pair, check_real, check_seed, check_states
from .integrate import solve_ivp_batch
from .io import save_npz
from .npz import read_header, read_npz
from .scale import Scale
from .systems import MassSpring, System, as_states

__all__ = [
    "Dataset", "Scale", "CENTRAL_WEIGHTS", "DERIVATIVES", "sample_initial_states", "trajectories",
    "finite_difference", "make_dataset", "train_test_split", "save_dataset", "load_dataset",
]

#: Weights c_s, s = 1..h, of the central difference of order 2h (Fornberg 1988, Table 1).
CENTRAL_WEIGHTS = {2: (1 / 2,), 4: (2 / 3, -1 / 12), 6: (3 / 4, -3 / 20, 1 / 60)}
DERIVATIVES = ("analytic", "fd2", "fd4", "fd6")
_ARRAYS = ("x", "dx_dt", "t", "traj", "energy")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Observations of B trajectories at T times each, N = B T rows.

    Attributes
    ----------
    x : ndarray, shape (N, 2n)
        Observed states (q, p) in physical units, noise included.
    dx_dt : ndarray, shape (N, 2n)
        Target time derivatives at those observations.
    t : ndarray, shape (T,)
        Observation times, shared by every trajectory.
    traj : ndarray of int64, shape (N,)
        Trajectory id of each row; ids survive :func:`train_test_split`.
    energy : ndarray, shape (N,)
        The sampled (noise-free) energy E of each row's trajectory.
    system : str
        ``repr`` of the system, e.g. ``"MassSpring(k=2.0, m=2.0)"``.
    meta : dict
        JSON-serialisable settings that produced the data.
    """

    x: np.ndarray
    dx_dt: np.ndarray
    t: np.ndarray
    traj: np.ndarray
    energy: np.ndarray
    system: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in _ARRAYS:
            value = getattr(self, name)
            if type(value) is not np.ndarray:
                raise ValueError(f"{name} must be a numpy.ndarray; got {type(value).__name__}")
        if self.x.ndim != 2 or len(self.x) == 0 or self.x.shape[1] % 2 or self.x.dtype.kind != "f":
            raise ValueError(f"x must be a non-empty float array (N, 2n); got {self.x.dtype} {self.x.shape}")
        N = len(self.x)
        if self.dx_dt.shape != self.x.shape or self.dx_dt.dtype != self.x.dtype:
            raise ValueError(f"dx_dt must match x ({self.x.shape}, {self.x.dtype}); "
                             f"got ({self.dx_dt.shape}, {self.dx_dt.dtype})")
        if self.t.ndim != 1 or len(self.t) == 0 or N % len(self.t):
            raise ValueError(f"t must be 1-D with a length dividing N = {N}; got {self.t.shape}")
        if self.t.dtype.kind != "f":
            raise ValueError(f"t must be a float array; got dtype {self.t.dtype}")
        if self.traj.shape != (N,) or self.traj.dtype.kind not in "iu":
            raise ValueError(f"traj must be integer ids of shape ({N},); got {self.traj.dtype} {self.traj.shape}")
        if self.energy.shape != (N,):
            raise ValueError(f"energy must have shape ({N},); got {self.energy.shape}")
        if self.energy.dtype.kind != "f":
            raise ValueError(f"energy must be a float array; got dtype {self.energy.dtype}")
        for name in ("x", "dx_dt", "t", "energy"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"{name} has non-finite values")
        if not isinstance(self.system, str):
            raise ValueError(f"system must be a string (the system's repr); got {type(self.system).__name__}")
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta must be a dict; got {type(self.meta).__name__}")


def sample_initial_states(system: System, n: int, rng: np.random.Generator,
                          radius: float = 100.0, energy_range=(0.01, 1.0),
                          log_energy: bool = False):
    """States with energies E in [lo E_max, hi E_max] and uniform phases.

    E_max = ``system.radius_to_energy(radius)``; E / E_max ~ U[lo, hi], or
    log E ~ U[log lo E_max, log hi E_max] if ``log_energy``; phi ~ U[0, 2 pi).
    ``system.sample_state(E, phi) -> (n, 2n)`` places the states if the system
    has it; otherwise H = a q^2/2 + b p^2/2 (one degree of freedom) is assumed,
    with a = 2 H(1, 0), b = 2 H(0, 1), and the level set is the ellipse

        q = sqrt(2 E / a) cos(phi),    p = sqrt(2 E / b) sin(phi)

    (for the spring a = k, b = 1/m). A system whose level sets need more than
    (E, phi) -- e.g. :class:`hnn_np.systems.TwoBody`, whose bound energies
    are negative and whose orbits also have an eccentricity -- may instead
    define ``sample_initial_states(n, rng, radius, energy_range, log_energy)
    -> (x0s, energies)``, which is then called in place of all of the above.
    Either way H(x0) = E is checked.

    Returns
    -------
    x0s : ndarray, shape (n, 2n)
    energies : ndarray, shape (n,)
    """
    _check_system(system)
    check_int(n, "n", 1)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    check_real(radius, "radius", positive=True)
    _check_bool(log_energy, "log_energy")
    lo, hi = check_pair(energy_range, "energy_range")
    if not (0 < lo <= hi < np.inf):
        raise ValueError(f"energy_range must be fractions 0 < lo <= hi of E_max; got {(lo, hi)}")
    if hasattr(system, "sample_initial_states"):  # the system's own sampler (e.g. TwoBody)
        x0s, energies = system.sample_initial_states(n, rng, radius, (lo, hi), log_energy)
    else:
        x0s, energies = _states_on_level_sets(system, n, rng, radius, lo, hi, log_energy)
    if not np.allclose(system.energy(x0s), energies, rtol=1e-9, atol=0):  # H(x0) = E
        raise ValueError(f"the states sampled for {system!r} do not have the requested energies")
    return x0s, energies


def _states_on_level_sets(system, n, rng, radius, lo, hi, log_energy):
    """Energies E / E_max in [lo, hi] and phases, placed by sample_state or on the ellipse."""
    E_max = system.radius_to_energy(radius)
    if log_energy:
        energies = np.exp(rng.uniform(np.log(lo * E_max), np.log(hi * E_max), n))  # (n,)
    else:
        energies = E_max * rng.uniform(lo, hi, n)  # (n,)
    phases = rng.uniform(0.0, 2 * np.pi, n)  # (n,)
    if hasattr(system, "sample_state"):
        x0s = system.sample_state(energies, phases)
    else:
        a, b = 2 * system.energy(np.eye(2)) if system.n_dof == 1 else (0.0, 0.0)  # k, 1/m
        if not (a > 0 and b > 0):
            raise ValueError(f"{system!r} is not a quadratic 1-DOF system; "
                             "give it a sample_state(energy, phase) method")
        x0s = np.stack([np.sqrt(2 * energies / a) * np.cos(phases),
                        np.sqrt(2 * energies / b) * np.sin(phases)], axis=1)  # (n, 2)
    return x0s, energies


def trajectories(system: System, x0s, t_eval, rtol: float = 1e-10,
                 atol: float | None = None) -> np.ndarray:
    """Integrate Hamilton's equations from each x0 with DOP853.

    Parameters
    ----------
    x0s : array_like, shape (B, 2n)
        States at time ``t_eval[0]``.
    t_eval : array_like, shape (T,)
        Increasing output times, T >= 2.
    rtol, atol : float
        Tolerances. ``atol`` defaults to rtol times the smallest trajectory
        size min_b max_i |x0s[b, i]|, so that each trajectory is accurate
        relative to its own size (states reach 100-200 at radius 100, but
        ~1 at E_max / 1e4); the extra steps cost little.

    Returns
    -------
    x : ndarray, shape (B, T, 2n), float64
    """
    _check_system(system)
    x0s = np.ascontiguousarray(as_states(x0s, system.n_dof, "x0s"), dtype=np.float64)
    rtol = check_real(rtol, "rtol", positive=True)
    if atol is not None:
        atol = check_real(atol, "atol", positive=True)
    t_eval = _real_array(t_eval, "t_eval").astype(np.float64)
    increasing = t_eval.ndim == 1 and len(t_eval) >= 2 and (np.diff(t_eval) > 0).all()
    if not (increasing and np.isfinite(t_eval).all()):
        raise ValueError(f"t_eval must be >= 2 finite, strictly increasing times; got {t_eval!r}")
    if atol is None:
        size = np.abs(x0s).max(axis=1)  # (B,)
        atol = rtol * (size[size > 0].min() if size.any() else 1.0)
    fun, args = system.ode_inplace()  # fun(t, y, dy_dt, *args): nothing allocated per call
    sol = solve_ivp_batch(fun, (t_eval[0], t_eval[-1]), x0s, t_eval, method="DOP853",
                          rtol=rtol, atol=atol, args=args, inplace=True)
    failed = np.flatnonzero(sol.status != 0)
    if failed.size:
        raise RuntimeError(f"DOP853 failed on {failed.size} trajectories: {failed[:5].tolist()}")
    return sol.states  # (B, T, 2n)


def finite_difference(x, dt: float, order: int) -> np.ndarray:
    """Central difference of ``order`` 2, 4 or 6 along the time axis -2.

    dx_dt[j] = sum_{s=1}^{h} c_s (x[j+h+s] - x[j+h-s]) / dt, h = order / 2,
    with c_s = ``CENTRAL_WEIGHTS[order]``; the error is O(dt**order).

    x : array, shape (..., T + 2h, d)  ->  dx_dt : array, shape (..., T, d)

    ``x`` must be real and finite; integer states are differenced in float64,
    floating ones in their own dtype.
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order not in CENTRAL_WEIGHTS:
        raise ValueError(f"order must be one of the integers {tuple(CENTRAL_WEIGHTS)}; got {order!r}")
    dt = check_real(dt, "dt", positive=True)
    x = _real_array(x, "x")
    if x.dtype.kind != "f":
        x = x.astype(np.float64)  # integer states
    if not np.isfinite(x).all():
        raise ValueError("x has non-finite values (NaN or inf); expected finite states")
    h = int(order) // 2
    if x.ndim < 2 or x.shape[-2] <= 2 * h:
        raise ValueError(f"x needs more than {2 * h} samples on axis -2 for order {order}; "
                         f"got shape {x.shape}")
    T = x.shape[-2] - 2 * h
    dx_dt = np.zeros(x.shape[:-2] + (T, x.shape[-1]), dtype=x.dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for s, c in enumerate(CENTRAL_WEIGHTS[int(order)], start=1):
            dx_dt += c * (x[..., h + s:h + s + T, :] - x[..., h - s:h - s + T, :])
        dx_dt = dx_dt / dt
    if not np.isfinite(dx_dt).all():
        raise ValueError(f"the differences of x over dt = {dt!r} overflow {x.dtype}; "
                         "expected states and a step of moderate size")
    return dx_dt


def make_dataset(system: System | None = None, n_traj: int = 100, n_obs: int = 50,
                 t_span=(0.0, 2 * np.pi), radius: float = 100.0, energy_range=(0.01, 1.0),
                 log_energy: bool = False, derivative: str = "analytic", noise_std: float = 0.0,
                 seed: int | None = 0, rtol: float = 1e-10, dtype=np.float64) -> Dataset:
    """Sample, integrate and differentiate ``n_traj`` trajectories.

    The grid is t_j = t_0 + j dt, j = 0..n_obs-1, dt = (t_1 - t_0) / n_obs
    (half-open [t_0, t_1)). The default span is one period 2 pi of the spring
    with k = m = 2: 50 evenly spaced phases of each orbit, none repeated
    (x(2 pi) = x(0)), dt = 2 pi / 50 ~ 0.126 (the paper's Fig. 2 uses 0.1).
    With ``derivative="fdK"`` the grid is padded with K/2 samples at each end
    and the sampled state sits at the first padded time t_0 - (K/2) dt.

    ``noise_std`` is an absolute std, in state units, of Gaussian noise on the
    observed states (for noise relative to the data, pass ``rel * radius``).
    Analytic targets come from the clean states (the model's exact field);
    finite-difference targets from the noisy ones, as from measurements.
    Integration and differencing run in float64; the result is cast to
    ``dtype``. The same ``seed`` gives bit-identical arrays, and the noise is
    drawn last, so it never changes the clean trajectories.
    """
    system = MassSpring() if system is None else system
    _check_system(system)
    check_int(n_traj, "n_traj", 1)
    check_int(n_obs, "n_obs", 2)
    t0, t1 = check_pair(t_span, "t_span")
    if not t1 > t0:
        raise ValueError(f"t_span must be finite with t_1 > t_0; got {t_span!r}")
    check_choice(derivative, "derivative", DERIVATIVES)
    check_real(noise_std, "noise_std", 0.0)
    check_real(rtol, "rtol", positive=True)
    dtype = check_dtype(dtype)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    x0s, energies = sample_initial_states(system, n_traj, rng, radius, energy_range, log_energy)
    h = 0 if derivative == "analytic" else int(derivative[2:]) // 2  # stencil half-width
    dt = (t1 - t0) / n_obs
    t_pad = t0 + dt * np.arange(-h, n_obs + h)  # (T + 2h,), x0s at t_pad[0]
    kept = slice(h, h + n_obs)  # the observations; the h samples each side feed the stencil
    x_clean = trajectories(system, x0s, t_pad, rtol=rtol)  # (B, T + 2h, 2n)
    x_obs = x_clean + noise_std * rng.standard_normal(x_clean.shape)  # (B, T + 2h, 2n)
    d = x_clean.shape[-1]
    if derivative == "analytic":
        dx_dt = system.time_derivative(x_clean[:, kept].reshape(-1, d))  # (N, 2n)
    else:
        dx_dt = finite_difference(x_obs, dt, 2 * h).reshape(-1, d)  # (N, 2n)
    meta = dict(n_traj=int(n_traj), n_obs=int(n_obs), t_span=[t0, t1], dt=dt,
                radius=float(radius), energy_range=list(check_pair(energy_range, "energy_range")),
                log_energy=bool(log_energy), derivative=derivative, noise_std=float(noise_std),
                seed=_json_seed(seed), rtol=float(rtol), dtype=np.dtype(dtype).name)
    return Dataset(x=x_obs[:, kept].reshape(-1, d).astype(dtype), dx_dt=dx_dt.astype(dtype),
                   t=t_pad[kept].astype(dtype), traj=np.repeat(np.arange(n_traj), n_obs),
                   energy=np.repeat(energies, n_obs).astype(dtype), system=repr(system), meta=meta)

def train_test_split(ds: Dataset, test_fraction: float = 0.5, seed: int | None = 0):
    """Split by trajectory: round(test_fraction B) random trajectories go to test.

    Both sides keep the row order and the trajectory ids of ``ds``.
    Returns ``(train, test)``.
    """
    if not isinstance(ds, Dataset):
        raise ValueError(f"ds must be a Dataset; got {type(ds).__name__}")
    test_fraction = check_real(test_fraction, "test_fraction")
    seed = check_seed(seed)
    ids = np.unique(ds.traj)
    n_test = round(test_fraction * len(ids)) if 0 < test_fraction < 1 else 0
    if not 0 < n_test < len(ids):
        raise ValueError(f"test_fraction={test_fraction!r} leaves no train or no test "
                         f"trajectory out of {len(ids)}; it must be in (0, 1)")
    test_ids = np.random.default_rng(seed).permutation(ids)[:n_test]
    is_test = np.isin(ds.traj, test_ids)  # (N,)

    def subset(rows, name):
        meta = {**ds.meta, "subset": name, "test_fraction": float(test_fraction),
                "split_seed": _json_seed(seed)}
        return Dataset(ds.x[rows], ds.dx_dt[rows], ds.t, ds.traj[rows], ds.energy[rows],
                       ds.system, meta)

    return subset(~is_test, "train"), subset(is_test, "test")


def save_dataset(path, ds: Dataset) -> None:
    """Write ``ds`` to ``path`` as .npz, atomically; ``ds.meta`` must be JSON-serialisable."""
    if not isinstance(ds, Dataset):
        raise ValueError(f"ds must be a Dataset; got {type(ds).__name__}")
    try:
        meta = json.dumps(ds.meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ds.meta must be JSON-serialisable (finite numbers, strings, lists, dicts): {e}") from None
    save_npz(path, {**{k: getattr(ds, k) for k in _ARRAYS}, "system": np.array(ds.system),
                    "meta": np.array(meta)})


def load_dataset(path) -> Dataset:
    """Read a :class:`Dataset` written by :func:`save_dataset`, validating it.

    Raises ``ValueError`` naming the file if it is not an ``.npz`` of a
    dataset: missing keys, a ``meta`` that is not a JSON object, arrays of
    the wrong shape or type (see :class:`Dataset`).
    """
    what = "dataset file"
    arrays = read_npz(path, what, keys=_ARRAYS + ("system", "meta"))  # other members are not decompressed
    missing = sorted(set(_ARRAYS + ("system", "meta")) - set(arrays))
    if missing:
        raise ValueError(f"{what} {path!r} lacks the dataset keys {missing}")
    meta = read_header(arrays, "meta", path, what)
    system = arrays["system"]
    if system.ndim != 0 or system.dtype.kind != "U":
        raise ValueError(f"{what} {path!r}: 'system' must be a string")
    try:
        return Dataset(**{k: arrays[k] for k in _ARRAYS}, system=str(system), meta=meta)
    except ValueError as e:
        raise ValueError(f"{what} {path!r}: {e}") from None


def _json_seed(seed):
    return None if seed is None else int(seed)


def _check_bool(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}")


def _check_system(system) -> None:
    if not isinstance(system, System):
        raise ValueError(f"system must be a hnn_np.systems.System; got {type(system).__name__}")


def _real_array(x, name: str) -> np.ndarray:
    """``x`` as an array of real numbers: floats or integers, not bool, complex, object or strings."""
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be a rectangular numeric array; {e}") from None
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be a real numeric array (floats or integers); got dtype {x.dtype}")
    return x
