"""Where the time of a compiled DOP853 trajectory goes: per output point, per call of fun, per step.

The spring setting of ``bench_integrate.py`` (100 trajectories, 8 steps and
122 calls of fun each, rtol = atol = 1e-10), timed on the compiled entry
itself (no Python around it), the variants interleaved:

* per output point: the same batch with 201 and with 2 output times (the
  steps and calls are the same), the difference over 199 points;
* per call of fun: the pointer call of the controller (``call_rhs``) with
  the spring's adapter behind it, in a compiled loop of its own;
* per step: what is left of a trajectory with 2 output times after its
  calls of fun, over its 8 steps (with the per-trajectory start: HINIT, the
  first call, the record).

Usage: ``python benchmarks/profile_integrate.py [repeats]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from numba import njit

from bench_integrate import N_EVAL, T_END, TOL, initial_states


def run(repeats: int = 1500, verbose: bool = True) -> dict:
    from hnn_np.integrate._compiled.rhs import call_rhs
    from hnn_np.integrate.ivp import _driver
    from hnn_np.systems import MassSpring

    spring = MassSpring(k=2.0, m=2.0)
    conventions = {"in place": (*spring.ode_inplace(), True), "returning": (*spring.ode(), False)}
    x0s = initial_states(spring, 100)
    entry, compiled_rhs, _ = _driver()
    one = entry("DOP853")
    no_events, none = np.zeros(0, dtype=np.int64), np.zeros(0)
    tol = np.full(2, TOL)
    calls = {}
    for name, (fun, args, inplace) in conventions.items():
        address, p = compiled_rhs(fun, inplace, args)
        for m in (N_EVAL, 2):
            t_eval, y = np.linspace(0.0, T_END, m), np.empty((x0s.shape[0], m, 2))
            calls[(name, m)] = (lambda a=address, p=p, te=t_eval, y=y: one(
                a, no_events, none, none, p, 0.0, T_END, x0s, te, tol, tol, 0.0, np.inf, 100000, False, y))
    counts = calls[("in place", N_EVAL)]()[0]
    steps, nfev = counts[2].mean(), counts[1].mean()
    times = {key: [] for key in calls}
    for _ in range(repeats):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append((time.perf_counter() - start) / x0s.shape[0])
    us = {key: 1e6 * float(np.median(t)) for key, t in times.items()}

    @njit
    def loop(address, p, y, dy_dt, count):
        total = 0.0
        for _ in range(count):
            call_rhs(0.1, y, dy_dt, address, p)
            total += dy_dt[0]
            y[0] = 1e-9 * dy_dt[1]
        return total

    out = {"steps_per_trajectory": float(steps), "nfev_per_trajectory": float(nfev)}
    for name, (fun, args, inplace) in conventions.items():
        address, p = compiled_rhs(fun, inplace, args)
        y, dy_dt = np.array([1.0, 0.5]), np.zeros(2)
        loop(address, p, y, dy_dt, 10)
        per_call = []
        for _ in range(20):
            start = time.perf_counter()
            loop(address, p, y, dy_dt, 100000)
            per_call.append((time.perf_counter() - start) / 100000)
        call_ns = 1e9 * float(np.median(per_call))
        point_ns = 1e3 * (us[(name, N_EVAL)] - us[(name, 2)]) / (N_EVAL - 2)
        step_ns = (1e3 * us[(name, 2)] - nfev * call_ns) / steps
        out[name] = dict(us_per_trajectory=us[(name, N_EVAL)], us_per_trajectory_2_outputs=us[(name, 2)],
                         ns_per_output_point=point_ns, ns_per_call=call_ns, ns_per_step_without_calls=step_ns,
                         us_outputs=N_EVAL * point_ns / 1e3, us_calls=nfev * call_ns / 1e3,
                         us_steps=steps * step_ns / 1e3)  # fmt: skip
    if verbose:
        print(f"spring, {steps:g} steps and {nfev:g} calls of fun per trajectory, {N_EVAL} output times; medians")
        for name in conventions:
            r = out[name]
            print(f"{name:9} {r['us_per_trajectory']:.2f} us/traj = outputs {r['us_outputs']:.2f} "
                  f"({r['ns_per_output_point']:.2f} ns per point) + calls {r['us_calls']:.2f} "
                  f"({r['ns_per_call']:.2f} ns per call) + steps {r['us_steps']:.2f} "
                  f"({r['ns_per_step_without_calls']:.0f} ns per step, without its calls)")
    return out


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1500)
