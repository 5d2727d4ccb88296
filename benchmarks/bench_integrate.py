"""Dataset generation: our compiled DOP853 (solve_ivp_batch) against scipy's solve_ivp.

The setting of the mass-spring experiments: k = m = 2, 100 trajectories with
energies uniform in [E_max / 100, E_max] (E_max = H(q=100, p=0), "radius
100"), uniform phases, t in [0, 2] with 50 output times, rtol = atol = 1e-10.

* ours: ``hnn_np.integrate.solve_ivp_batch`` with the jitted right-hand side
  of ``MassSpring().ode()``: one compiled call for all trajectories. The first
  calls of solve_ivp and solve_ivp_batch compile (reported apart).
* scipy: ``scipy.integrate.solve_ivp(method="DOP853")`` per trajectory, with
  the same jitted right-hand side (calling it costs scipy less than a NumPy
  expression would).

The timed calls alternate (one batch of ours, then 1/repeats of the
trajectories with scipy), so that both see the same load of the shared
machine; the speed-up is the ratio of the medians per trajectory.
* ours, interpreted: the same driver as plain Python (a Python ``fun``), on
  a few trajectories, to show what compilation buys.

Accuracy is the largest |y - exact| over all trajectories and output times.
The two DOP853 codes take different steps: ours follows Hairer's Fortran
controller, scipy's has its own (other safety and step-ratio limits), so nfev
differs somewhat for the same tolerance.

Usage: ``python benchmarks/bench_integrate.py`` prints the table; ``run()``
returns the numbers as a dict for bench.json.
"""

from __future__ import annotations

import time

import numpy as np

N_EVAL = 50
T_END = 2.0
TOL = 1e-10
RADIUS = 100.0


def initial_states(system, n_traj, seed=0):
    """(n_traj, 2) states with H uniform in [E_max/100, E_max] and uniform phase."""
    rng = np.random.default_rng(seed)
    e_max = system.radius_to_energy(RADIUS)
    energy = e_max * rng.uniform(0.01, 1.0, n_traj)  # (B,)
    phase = rng.uniform(0.0, 2.0 * np.pi, n_traj)  # (B,)
    q = np.sqrt(2.0 * energy / system.k) * np.cos(phase)  # H = k q^2 / 2 + p^2 / (2 m)
    p = np.sqrt(2.0 * system.m * energy) * np.sin(phase)
    return np.ascontiguousarray(np.column_stack([q, p]))


def median_seconds(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(n_traj: int = 100, repeats: int = 20, verbose: bool = True) -> dict:
    """Time and check both integrators; returns a JSON-ready dict (times in microseconds)."""
    import scipy.integrate

    from hnn_np.integrate import solve_ivp, solve_ivp_batch
    from hnn_np.systems import MassSpring

    spring = MassSpring(k=2.0, m=2.0)
    fun, args = spring.ode()
    x0s = initial_states(spring, n_traj)
    t_eval = np.linspace(0.0, T_END, N_EVAL)
    exact = spring.exact_solution(x0s, t_eval)  # (B, T, 2)

    def ours():
        return solve_ivp_batch(fun, (0.0, T_END), x0s, t_eval, rtol=TOL, atol=TOL, args=args)

    start = time.perf_counter()  # compile the driver for this fun ...
    solve_ivp(fun, (0.0, T_END), x0s[0], t_eval=t_eval, rtol=TOL, atol=TOL, args=args)
    compile_single = time.perf_counter() - start
    start = time.perf_counter()  # ... and the batch loop around it
    batch = ours()
    first_batch_call = time.perf_counter() - start
    ours_error = float(np.abs(batch.y.transpose(0, 2, 1) - exact).max())

    def scipy_one(x0):
        return scipy.integrate.solve_ivp(
            fun, (0.0, T_END), x0, method="DOP853", t_eval=t_eval, rtol=TOL, atol=TOL, args=args
        )

    scipy_nfev, scipy_error = [], 0.0
    for b, x0 in enumerate(x0s):
        sol = scipy_one(x0)
        scipy_nfev.append(sol.nfev)
        scipy_error = max(scipy_error, float(np.abs(sol.y.T - exact[b]).max()))

    # Timings interleaved (a batch of ours, then a few scipy runs, in turn), so
    # that both see the same load of the shared machine; medians per trajectory.
    ours_times, scipy_times = [], []
    n_scipy = max(1, n_traj // repeats)  # per repeat: every trajectory once over the run
    for r in range(repeats):
        start = time.perf_counter()
        ours()
        ours_times.append((time.perf_counter() - start) / n_traj)
        for x0 in x0s[r * n_scipy : (r + 1) * n_scipy]:
            start = time.perf_counter()
            scipy_one(x0)
            scipy_times.append(time.perf_counter() - start)
    ours_total = float(np.median(ours_times)) * n_traj

    n_plain = min(5, n_traj)
    start = time.perf_counter()
    for x0 in x0s[:n_plain]:
        solve_ivp(fun.py_func, (0.0, T_END), x0, t_eval=t_eval, rtol=TOL, atol=TOL, args=args)
    plain_per_traj = (time.perf_counter() - start) / n_plain

    ours_per_traj = float(np.median(ours_times))
    scipy_per_traj = float(np.median(scipy_times))
    result = {
        "setting": f"mass-spring k=m=2, radius {RADIUS:g}, t in [0, {T_END:g}], {N_EVAL} t_eval, rtol=atol={TOL:g}",
        "n_traj": n_traj,
        "ours_us_per_traj": 1e6 * ours_per_traj,
        "ours_batch_ms": 1e3 * ours_total,
        "compile_solve_ivp_s": compile_single,
        "compile_batch_s": first_batch_call - ours_total,
        "scipy_us_per_traj": 1e6 * scipy_per_traj,
        "ours_plain_python_us_per_traj": 1e6 * plain_per_traj,
        "speedup_vs_scipy": scipy_per_traj / ours_per_traj,
        "ours_nfev_mean": float(batch.nfev.mean()),
        "scipy_nfev_mean": float(np.mean(scipy_nfev)),
        "ours_naccepted_mean": float(batch.naccepted.mean()),
        "ours_max_abs_error": ours_error,
        "scipy_max_abs_error": scipy_error,
        "all_succeeded": bool(batch.success),
        "numba_cache_note": "the driver takes fun (a Numba dispatcher) as an argument, which Numba "
        "cannot cache on disk: it is compiled once per process for each fun",
    }
    if verbose:
        print_table(result)
    return result


def print_table(r: dict) -> None:
    print(r["setting"], f"({r['n_traj']} trajectories)")
    print(f"{'':24} {'us/traj':>10} {'nfev':>8} {'max |y - exact|':>16}")
    print(f"{'ours (compiled batch)':24} {r['ours_us_per_traj']:10.1f} {r['ours_nfev_mean']:8.1f} {r['ours_max_abs_error']:16.2e}")
    print(f"{'scipy solve_ivp DOP853':24} {r['scipy_us_per_traj']:10.1f} {r['scipy_nfev_mean']:8.1f} {r['scipy_max_abs_error']:16.2e}")
    print(f"{'ours (plain Python)':24} {r['ours_plain_python_us_per_traj']:10.1f}")
    print(f"speed-up vs scipy: {r['speedup_vs_scipy']:.0f}x")
    print(f"Numba compile, once per process and fun: solve_ivp {r['compile_solve_ivp_s']:.1f} s, "
          f"solve_ivp_batch {r['compile_batch_s']:.1f} s more")


if __name__ == "__main__":
    run()
