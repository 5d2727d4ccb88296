"""What :func:`.solve_ivp` and :func:`.solve_ivp_batch` return, and the dense-output callable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .controller import DONE, MAX_STEPS, NON_FINITE, NON_FINITE_START, STEP_TOO_SMALL, TERMINATED
from .dense import dense_eval_many

__all__ = ["OdeResult", "BatchResult", "DenseSolution", "message"]


class DenseSolution:
    """The continuous solution y(t) of an integration: one interpolant per accepted step.

    On step i, which starts at ``t_start[i]`` with size ``h[i]``, y(t) is
    Hairer's continuous extension with coefficients Q[i] at
    theta = (t - t_start[i]) / h[i] (order 7 for DOP853, 4 for RK45; see
    :mod:`.dense`). Outside the integration interval the first or last
    step's polynomial is extrapolated, as scipy's ``OdeSolution`` does.
    A zero-length t_span has one "step" with h = 0 and Q = (y0, 0, ..., 0):
    y(t) = y0 for every t (scipy's ``ConstantDenseOutput``).

    Parameters
    ----------
    t_start : ndarray, shape (k,)
    h : ndarray, shape (k,)
        Signed step sizes (negative when integrating backwards).
    Q : ndarray, shape (k, 4 + R, n)
    """

    def __init__(self, t_start, h, Q):
        self.t_start = t_start
        self.h = h
        self.Q = Q
        self.direction = 1.0 if h[0] > 0 else -1.0

    def __call__(self, t):
        """y at time(s) t.

        Parameters
        ----------
        t : float or array_like, shape (m,)

        Returns
        -------
        y : ndarray, shape (n,) for a scalar t, else (n, m)
        """
        t = np.asarray(t, dtype=np.float64)
        t_flat = np.atleast_1d(t)  # (m,)
        # Step i holds t_start[i] <= t < t_start[i + 1] (reversed when backwards).
        i = np.searchsorted(self.direction * self.t_start, self.direction * t_flat, side="right") - 1
        i = np.clip(i, 0, self.t_start.shape[0] - 1)  # (m,)
        h = self.h[i]  # (m,); 0 for the constant solution of a zero-length t_span
        theta = np.divide(t_flat - self.t_start[i], h, out=np.zeros_like(t_flat), where=h != 0)  # (m,)
        y = dense_eval_many(self.Q[i], theta)  # (n, m)
        return y[:, 0] if t.ndim == 0 else y


@dataclass
class OdeResult:
    """The result of :func:`.solve_ivp`, with the fields of scipy's.

    Attributes
    ----------
    t : ndarray, shape (m,)
        Every accepted step (starting with t0), or ``t_eval``.
    y : ndarray, shape (n, m)
    sol : DenseSolution or None
        The continuous solution when ``dense_output=True``.
    nfev : int
        Calls of ``fun`` made by the integrator.
    naccepted, nrejected : int
        Accepted and rejected steps, counted as Hairer's Fortran does
        (rejections before the first accepted step are not counted).
    nsteps : int
        All steps tried (dop853.f's NSTEP), including those first rejections.
    status : int
        0: reached the end of the interval; 1: a terminal event ended it;
        -1: failed.
    message : str
    success : bool
        ``status >= 0``.
    t_events : list of ndarray or None
        With ``events``: for each event function, the times (m_e,) of its
        zeros (up to the terminal one); None without events.
    y_events : list of ndarray or None
        The states (m_e, n) at those times.
    """

    t: np.ndarray
    y: np.ndarray
    sol: DenseSolution | None
    nfev: int
    naccepted: int
    nrejected: int
    nsteps: int
    status: int
    message: str
    success: bool
    t_events: list | None = None
    y_events: list | None = None


@dataclass
class BatchResult:
    """The result of :func:`.solve_ivp_batch`: B trajectories at the same times.

    Attributes
    ----------
    t : ndarray, shape (m,)
    y : ndarray, shape (B, n, m)
        NaN at the times a failed trajectory did not reach (scipy's order per
        trajectory; :attr:`states` gives the rows-first (B, m, n) view).
    nfev, naccepted, nrejected, nsteps : ndarray of int, shape (B,)
    status : ndarray of int, shape (B,)
        0 where the trajectory reached the end, 1 where a terminal event
        ended it (NaN in y after that time), -1 where it failed.
    messages : list of str, length B
    success : bool
        True when no trajectory failed.
    t_events, y_events : list or None
        With ``events``: for each trajectory b, ``t_events[b]`` and
        ``y_events[b]`` as :class:`OdeResult`'s; None without events.
    """

    t: np.ndarray
    y: np.ndarray
    nfev: np.ndarray
    naccepted: np.ndarray
    nrejected: np.ndarray
    nsteps: np.ndarray
    status: np.ndarray
    messages: list
    success: bool
    t_events: list | None = None
    y_events: list | None = None

    @property
    def states(self) -> np.ndarray:
        """``y`` as rows of states, shape (B, m, n): the axis order of every module above this one."""
        return np.transpose(self.y, (0, 2, 1))

    @property
    def message(self) -> str:
        """One line: all succeeded, or how many failed and the first failure."""
        failed = np.flatnonzero(self.status < 0)
        if failed.size == 0:
            ended = int(np.count_nonzero(self.status == 1))
            if ended:
                return f"No trajectory failed; a termination event ended {ended} of {self.status.size}."
            return f"All {self.status.size} trajectories reached the end of the interval."
        first = int(failed[0])
        return f"{failed.size} of {self.status.size} trajectories failed; #{first}: {self.messages[first]}"


def message(status: int, t_stop: float, h_stop: float, max_steps: int) -> str:
    """The message of a run that ended with the controller's exit code ``status`` (:mod:`.controller`)."""
    if status == DONE:
        return "The solver successfully reached the end of the integration interval."
    if status == TERMINATED:
        return "A termination event occurred."
    if status == MAX_STEPS:
        return f"More than max_steps = {max_steps} steps are needed: stopped at t = {t_stop!r}."
    too_small = f"Step size too small at t = {t_stop!r}: h = {h_stop!r} (0.1 |h| <= |t| uround)"
    if status == STEP_TOO_SMALL:
        return too_small + "."
    if status == NON_FINITE:
        return (too_small + ", below the resolution of t; the steps tried from there gave non-finite values "
                "(fun returned inf or NaN, or the solution overflowed).")  # fmt: skip
    if status == NON_FINITE_START:
        return f"fun(t0, y0) is not finite at t0 = {t_stop!r}: no step can be taken."
    raise AssertionError(f"unknown exit code {status}")
