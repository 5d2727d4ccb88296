"""Dataset generation: our compiled DOP853 (solve_ivp_batch) against scipy's solve_ivp.

The setting of the mass-spring experiments: k = m = 2, 100 trajectories with
energies uniform in [E_max / 100, E_max] (E_max = H(q=100, p=0), "radius
100"), uniform phases, t in [0, 2] with 201 output times, rtol = atol = 1e-10.

Rows of the table (all ours take the same steps, with the same nfev, and give
bit-identical results):

* ours, in place: ``solve_ivp_batch`` with the in-place right-hand side of
  ``MassSpring().ode_inplace()`` (``inplace=True``: the stages are written
  straight into the stage matrix) -- one compiled call for all trajectories,
  on one thread. The headline number.
* ours, in place, 2 threads: the same with ``workers=2`` (two blocks of
  trajectories at once, one per core; scipy has no such option).
* ours, returning fun: scipy's calling convention, ``MassSpring().ode()``,
  which allocates the returned array at every call.
* ours, one call per trajectory: ``solve_ivp`` (in place) called for each
  initial state, as one would call scipy's; each call pays some Python
  (argument checks, the result object) on top of the integration.
* scipy: ``scipy.integrate.solve_ivp(method="DOP853")`` per trajectory, with
  the same jitted (returning) right-hand side (calling it costs scipy less
  than a NumPy expression would).
* ours, interpreted: the same driver as plain Python (a Python ``fun``), on
  a few trajectories, to show what compilation buys.

The first calls compile or load the driver from Numba's disk cache
(reported apart). The timed calls alternate (one
batch of each of ours, then 1/repeats of the trajectories with scipy), so
that all see the same load of the shared machine; speed-ups are ratios of
medians per trajectory.

Accuracy is the largest and the root-mean-square |y - exact| over all
trajectories, output times and components.
The two DOP853 codes take different steps in general: ours follows Hairer's
Fortran controller, scipy's has its own (other safety and step-ratio limits);
here they need about the same number of evaluations per trajectory.

The Lorenz system of numbalsoda's benchmark (sigma, rho, beta = 10, 28, 8/3,
y0 = (1, 0, 0), t in [0, 100], 1001 output times, rtol = atol = 1e-8;
:func:`run_lorenz`): one ``solve_ivp`` with an in-place jitted fun against
scipy's DOP853 with the same fun returning, alternated.

Usage: ``python benchmarks/bench_integrate.py`` prints the tables; ``run()``
and ``run_lorenz()`` return the numbers as dicts for bench.json.
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

N_EVAL = 201
T_END = 2.0
TOL = 1e-10
RADIUS = 100.0


LORENZ = (10.0, 28.0, 8.0 / 3.0)  # sigma, rho, beta


@njit(cache=True)
def lorenz_into(t, y, dy_dt, sigma, rho, beta):
    dy_dt[0] = sigma * (y[1] - y[0])
    dy_dt[1] = y[0] * (rho - y[2]) - y[1]
    dy_dt[2] = y[0] * y[1] - beta * y[2]


@njit(cache=True)
def lorenz(t, y, sigma, rho, beta):
    return np.array([sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]])


def run_lorenz(repeats: int = 5, verbose: bool = True) -> dict:
    """One Lorenz trajectory, ours (in place and returning) against scipy, alternated; medians in ms."""
    import scipy.integrate

    from hnn_np.integrate import solve_ivp

    y0, t_eval = np.array([1.0, 0.0, 0.0]), np.linspace(0.0, 100.0, 1001)
    options = dict(t_eval=t_eval, rtol=1e-8, atol=1e-8, args=LORENZ)
    calls = {
        "in place": lambda: solve_ivp(lorenz_into, (0.0, 100.0), y0, inplace=True, **options),
        "returning": lambda: solve_ivp(lorenz, (0.0, 100.0), y0, **options),
        "scipy": lambda: scipy.integrate.solve_ivp(lorenz, (0.0, 100.0), y0, method="DOP853", **options),
    }
    results = {name: call() for name, call in calls.items()}  # compiles, or loads from the cache
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            for _ in range(1 if name == "scipy" else 20):
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    ms = {name: 1e3 * float(np.median(t)) for name, t in times.items()}
    ours, theirs = results["in place"], results["scipy"]
    out = {
        "setting": "Lorenz (10, 28, 8/3), y0 = (1, 0, 0), t in [0, 100], 1001 t_eval, rtol = atol = 1e-8",
        "ours_ms": ms["in place"], "ours_returning_ms": ms["returning"], "scipy_ms": ms["scipy"],
        "speedup_vs_scipy": ms["scipy"] / ms["in place"], "speedup_vs_scipy_returning": ms["scipy"] / ms["returning"],
        "ours_nfev": int(ours.nfev), "scipy_nfev": int(theirs.nfev),
        "identical_conventions": bool(np.array_equal(ours.y, results["returning"].y)),
        "max_abs_difference_to_scipy_t_le_20": float(np.abs(ours.y - theirs.y)[:, t_eval <= 20].max()),
    }  # fmt: skip
    if verbose:
        print(out["setting"])
        print(f"ours in place {out['ours_ms']:.3f} ms ({out['speedup_vs_scipy']:.0f}x), returning "
              f"{out['ours_returning_ms']:.3f} ms ({out['speedup_vs_scipy_returning']:.0f}x), scipy "
              f"{out['scipy_ms']:.1f} ms; nfev {out['ours_nfev']} vs {out['scipy_nfev']}; both conventions identical: "
              f"{out['identical_conventions']}; |ours - scipy| up to t = 20: "
              f"{out['max_abs_difference_to_scipy_t_le_20']:.1e} (the flow is chaotic)")  # fmt: skip
    return out


def run_fortran_peer(repeats: int = 20, verbose: bool = True) -> dict | None:
    """Hairer's DOP853 compiled from Fortran (numbalsoda's translation, dense output at t_eval) as a peer.

    numbalsoda (never a dependency; ``make bench PEERS=1`` builds it into
    .venv-peers when gfortran is installed) integrates the spring setting of
    :func:`run` one trajectory at a time inside one compiled loop, and the
    Lorenz setting of :func:`run_lorenz`; timed alternately with ours and
    with scipy, medians. None when numbalsoda is not installed.
    """
    try:
        import numba
        from numbalsoda import dop853, lsoda_sig
    except ImportError:
        return None
    import scipy.integrate

    from hnn_np.integrate import solve_ivp, solve_ivp_batch
    from hnn_np.systems import MassSpring

    @numba.cfunc(lsoda_sig, boundscheck=False)
    def spring_c(t, y_, dy_dt_, p_):
        y, p = numba.carray(y_, (2,)), numba.carray(p_, (2,))
        dy_dt_[0] = y[1] / p[1]
        dy_dt_[1] = -p[0] * y[0]

    @numba.cfunc(lsoda_sig, boundscheck=False)
    def lorenz_c(t, y_, dy_dt_, p_):
        y, p = numba.carray(y_, (3,)), numba.carray(p_, (3,))
        dy_dt_[0] = p[0] * (y[1] - y[0])
        dy_dt_[1] = y[0] * (p[1] - y[2]) - y[1]
        dy_dt_[2] = y[0] * y[1] - p[2] * y[2]

    spring_address, lorenz_address = spring_c.address, lorenz_c.address

    @numba.njit
    def fortran_batch(x0s, t_eval, p, tol):
        y = np.empty((x0s.shape[0], 2, t_eval.shape[0]))
        for b in range(x0s.shape[0]):
            y[b] = dop853(spring_address, x0s[b], t_eval, p, rtol=tol, atol=tol)[0].T
        return y

    @numba.njit
    def fortran_lorenz(y0, t_eval, p):
        return dop853(lorenz_address, y0, t_eval, p, rtol=1e-8, atol=1e-8)[0]

    spring = MassSpring(k=2.0, m=2.0)
    fun, args = spring.ode()
    fun_inplace, args_inplace = spring.ode_inplace()
    x0s = initial_states(spring, 100)
    t_eval = np.linspace(0.0, T_END, N_EVAL)
    p = np.array([spring.k, spring.m])
    calls = {
        "fortran": lambda: fortran_batch(x0s, t_eval, p, TOL),
        "ours": lambda: solve_ivp_batch(fun_inplace, (0.0, T_END), x0s, t_eval, rtol=TOL, atol=TOL,
                                        args=args_inplace, inplace=True).y,
    }  # fmt: skip
    y = {name: call() for name, call in calls.items()}  # compiles
    times = {"fortran": [], "ours": [], "scipy": []}
    n_scipy = max(1, len(x0s) // repeats)
    for r in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) / len(x0s))
        for x0 in x0s[r * n_scipy : (r + 1) * n_scipy]:
            start = time.perf_counter()
            scipy.integrate.solve_ivp(fun, (0.0, T_END), x0, method="DOP853", t_eval=t_eval, rtol=TOL, atol=TOL,
                                      args=args)  # fmt: skip
            times["scipy"].append(time.perf_counter() - start)
    us = {name: 1e6 * float(np.median(t)) for name, t in times.items()}

    y0, t_lorenz, p_lorenz = np.array([1.0, 0.0, 0.0]), np.linspace(0.0, 100.0, 1001), np.array(LORENZ)
    lorenz_calls = {
        "fortran": lambda: fortran_lorenz(y0, t_lorenz, p_lorenz),
        "ours": lambda: solve_ivp(lorenz_into, (0.0, 100.0), y0, t_eval=t_lorenz, rtol=1e-8, atol=1e-8, args=LORENZ,
                                  inplace=True),
    }  # fmt: skip
    for call in lorenz_calls.values():
        call()
    lorenz_times = {name: [] for name in lorenz_calls}
    for _ in range(repeats):
        for name, call in lorenz_calls.items():
            start = time.perf_counter()
            call()
            lorenz_times[name].append(time.perf_counter() - start)
    ms = {name: 1e3 * float(np.median(t)) for name, t in lorenz_times.items()}
    out = {
        "peer": "numbalsoda.dop853 (Hairer's DOP853 in Fortran, dense output at t_eval)",
        "spring_fortran_us_per_traj": us["fortran"], "spring_ours_us_per_traj": us["ours"],
        "spring_scipy_us_per_traj": us["scipy"], "spring_fortran_speedup_vs_scipy": us["scipy"] / us["fortran"],
        "spring_ours_speedup_vs_scipy": us["scipy"] / us["ours"], "spring_ours_vs_fortran": us["fortran"] / us["ours"],
        "spring_max_abs_difference": float(np.abs(y["fortran"] - y["ours"]).max()),
        "lorenz_fortran_ms": ms["fortran"], "lorenz_ours_ms": ms["ours"], "lorenz_ours_vs_fortran": ms["fortran"] / ms["ours"],
    }  # fmt: skip
    if verbose:
        print(f"spring, per trajectory: Fortran {us['fortran']:.2f} us ({out['spring_fortran_speedup_vs_scipy']:.0f}x "
              f"scipy), ours in place {us['ours']:.2f} us ({out['spring_ours_speedup_vs_scipy']:.0f}x), scipy "
              f"{us['scipy']:.1f} us; |Fortran - ours| <= {out['spring_max_abs_difference']:.1e}")
        print(f"Lorenz: Fortran {ms['fortran']:.3f} ms, ours in place {ms['ours']:.3f} ms "
              f"(ours {out['lorenz_ours_vs_fortran']:.2f}x as fast)")
    return out


def initial_states(system, n_traj, seed=0):
    """(n_traj, 2) states with H uniform in [E_max/100, E_max] and uniform phase."""
    rng = np.random.default_rng(seed)
    e_max = system.radius_to_energy(RADIUS)
    energy = e_max * rng.uniform(0.01, 1.0, n_traj)  # (B,)
    phase = rng.uniform(0.0, 2.0 * np.pi, n_traj)  # (B,)
    q = np.sqrt(2.0 * energy / system.k) * np.cos(phase)  # H = k q^2 / 2 + p^2 / (2 m)
    p = np.sqrt(2.0 * system.m * energy) * np.sin(phase)
    return np.ascontiguousarray(np.column_stack([q, p]))


def run(n_traj: int = 100, repeats: int = 20, verbose: bool = True) -> dict:
    """Time and check both integrators; returns a JSON-ready dict (times in microseconds)."""
    import scipy.integrate

    from hnn_np.integrate import solve_ivp, solve_ivp_batch
    from hnn_np.systems import MassSpring

    spring = MassSpring(k=2.0, m=2.0)
    fun, args = spring.ode()
    fun_inplace, args_inplace = spring.ode_inplace()
    x0s = initial_states(spring, n_traj)
    t_eval = np.linspace(0.0, T_END, N_EVAL)
    exact = spring.exact_solution(x0s, t_eval)  # (B, T, 2)
    options = dict(rtol=TOL, atol=TOL, args=args)
    in_place = dict(rtol=TOL, atol=TOL, args=args_inplace, inplace=True)
    ours = {
        "in place": lambda: solve_ivp_batch(fun_inplace, (0.0, T_END), x0s, t_eval, **in_place),
        "in place, 2 threads": lambda: solve_ivp_batch(fun_inplace, (0.0, T_END), x0s, t_eval, workers=2, **in_place),
        "returning fun": lambda: solve_ivp_batch(fun, (0.0, T_END), x0s, t_eval, **options),
    }  # fmt: skip

    compile_seconds, batches = {}, {}
    for name, call in ours.items():  # the first call of each compiles (the 2-thread one reuses the 1-thread one)
        start = time.perf_counter()
        batches[name] = call()
        compile_seconds[name] = time.perf_counter() - start
    reference = batches["in place"]
    def one_call_each():
        return [solve_ivp(fun_inplace, (0.0, T_END), x0, t_eval=t_eval, **in_place) for x0 in x0s]

    singles = one_call_each()
    identical = all(np.array_equal(b.y, reference.y) and np.array_equal(b.nfev, reference.nfev)
                    for b in batches.values())  # fmt: skip
    identical &= all(np.array_equal(r.y, reference.y[b]) and r.nfev == reference.nfev[b] for b, r in enumerate(singles))
    ours_error = np.abs(reference.y.transpose(0, 2, 1) - exact)  # (B, T, 2)

    def scipy_one(x0):
        return scipy.integrate.solve_ivp(fun, (0.0, T_END), x0, method="DOP853", t_eval=t_eval, **options)

    scipy_nfev, scipy_error = [], np.empty_like(ours_error)
    for b, x0 in enumerate(x0s):
        sol = scipy_one(x0)
        scipy_nfev.append(sol.nfev)
        scipy_error[b] = np.abs(sol.y.T - exact[b])

    # Timings interleaved (a batch of each of ours, then a few scipy runs, in
    # turn), so that all see the same load of the shared machine.
    times = {name: [] for name in ours}
    single_times, scipy_times = [], []
    n_scipy = max(1, n_traj // repeats)  # per repeat: every trajectory once over the run
    for r in range(repeats):
        for name, call in ours.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) / n_traj)
        start = time.perf_counter()
        one_call_each()
        single_times.append((time.perf_counter() - start) / n_traj)
        for x0 in x0s[r * n_scipy : (r + 1) * n_scipy]:
            start = time.perf_counter()
            scipy_one(x0)
            scipy_times.append(time.perf_counter() - start)

    around = python_around(fun_inplace, args_inplace, x0s[0], t_eval)

    n_plain = min(5, n_traj)
    start = time.perf_counter()
    for x0 in x0s[:n_plain]:
        solve_ivp(fun.py_func, (0.0, T_END), x0, t_eval=t_eval, **options)
    plain_per_traj = (time.perf_counter() - start) / n_plain

    per_traj = {name: float(np.median(t)) for name, t in times.items()}
    scipy_per_traj = float(np.median(scipy_times))
    result = {
        "setting": f"mass-spring k=m=2, radius {RADIUS:g}, t in [0, {T_END:g}], {N_EVAL} t_eval, rtol=atol={TOL:g}",
        "n_traj": n_traj,
        "ours_us_per_traj": 1e6 * per_traj["in place"],
        "ours_2threads_us_per_traj": 1e6 * per_traj["in place, 2 threads"],
        "ours_returning_us_per_traj": 1e6 * per_traj["returning fun"],
        "ours_one_call_each_us_per_traj": 1e6 * float(np.median(single_times)),
        "ours_batch_ms": 1e3 * per_traj["in place"] * n_traj,
        "compile_inplace_s": compile_seconds["in place"],
        "compile_returning_s": compile_seconds["returning fun"],
        "scipy_us_per_traj": 1e6 * scipy_per_traj,
        "ours_plain_python_us_per_traj": 1e6 * plain_per_traj,
        "speedup_vs_scipy": scipy_per_traj / per_traj["in place"],
        "speedup_vs_scipy_2threads": scipy_per_traj / per_traj["in place, 2 threads"],
        "speedup_vs_scipy_returning": scipy_per_traj / per_traj["returning fun"],
        "speedup_vs_scipy_one_call_each": scipy_per_traj / float(np.median(single_times)),
        "ours_nfev_mean": float(reference.nfev.mean()),
        "scipy_nfev_mean": float(np.mean(scipy_nfev)),
        "ours_naccepted_mean": float(reference.naccepted.mean()),
        "ours_identical_across_variants": bool(identical),
        "ours_max_abs_error": float(ours_error.max()),
        "scipy_max_abs_error": float(scipy_error.max()),
        "ours_rms_abs_error": float(np.sqrt(np.mean(ours_error**2))),
        "scipy_rms_abs_error": float(np.sqrt(np.mean(scipy_error**2))),
        "all_succeeded": bool(all(b.success for b in batches.values())),
        **around,
    }
    if verbose:
        print_table(result)
    return result


def python_around(fun, args, x0, t_eval, calls: int = 3000) -> dict:
    """solve_ivp on one trajectory against the compiled integration alone, interleaved (microseconds).

    The integration alone: the compiled entry that solve_ivp calls, with the
    arguments it would pass, prepared once. The difference is the Python
    around it: argument checks, finding the compiled code, the result object.
    """
    from hnn_np.integrate import solve_ivp
    from hnn_np.integrate.ivp import _driver

    entry, compiled_rhs, _ = _driver()
    one = entry("DOP853")
    address, p = compiled_rhs(fun, True, args)
    no_events, none = np.zeros(0, dtype=np.int64), np.zeros(0)
    rtol, atol = np.full(x0.size, TOL), np.full(x0.size, TOL)
    y0s, y = x0[None, :], np.empty((1, t_eval.size, x0.size))

    def alone():
        one(address, no_events, none, none, p, 0.0, T_END, y0s, t_eval, rtol, atol, 0.0, np.inf, 100000, False, y)

    def whole():
        solve_ivp(fun, (0.0, T_END), x0, t_eval=t_eval, rtol=TOL, atol=TOL, args=args, inplace=True)

    times = {"alone": [], "whole": []}
    for f in (alone, whole):
        f()
    for _ in range(calls):
        for name, f in (("alone", alone), ("whole", whole)):
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    alone_us, whole_us = (1e6 * float(np.median(times[k])) for k in ("alone", "whole"))
    return {"solve_ivp_one_us": whole_us, "integration_alone_us": alone_us, "python_around_us": whole_us - alone_us}


def print_table(r: dict) -> None:
    print(r["setting"], f"({r['n_traj']} trajectories)")
    print(f"{'':34} {'us/traj':>9} {'vs scipy':>9} {'nfev':>7} {'max |y - exact|':>16}")
    rows = [("ours, in place (1 thread)", r["ours_us_per_traj"], r["ours_nfev_mean"], r["ours_max_abs_error"]),
            ("ours, in place, 2 threads", r["ours_2threads_us_per_traj"], r["ours_nfev_mean"], r["ours_max_abs_error"]),
            ("ours, returning fun", r["ours_returning_us_per_traj"], r["ours_nfev_mean"], r["ours_max_abs_error"]),
            ("ours, solve_ivp per trajectory", r["ours_one_call_each_us_per_traj"], r["ours_nfev_mean"],
             r["ours_max_abs_error"]),
            ("scipy solve_ivp DOP853", r["scipy_us_per_traj"], r["scipy_nfev_mean"], r["scipy_max_abs_error"])]
    for name, us, nfev, err in rows:
        print(f"{name:34} {us:9.2f} {r['scipy_us_per_traj'] / us:8.0f}x {nfev:7.1f} {err:16.2e}")
    print(f"{'ours, plain Python':34} {r['ours_plain_python_us_per_traj']:9.1f}")
    print(f"our four variants give identical results: {r['ours_identical_across_variants']}; "
          f"rms |y - exact|: ours {r['ours_rms_abs_error']:.2e}, scipy {r['scipy_rms_abs_error']:.2e}")
    print(f"solve_ivp on one trajectory: {r['solve_ivp_one_us']:.1f} us, of which the compiled integration "
          f"{r['integration_alone_us']:.1f} us and the Python around it {r['python_around_us']:.1f} us")
    print(f"first call in this process (compile, or load from the disk cache): in place "
          f"{r['compile_inplace_s']:.2f} s, returning fun {r['compile_returning_s']:.2f} s")


if __name__ == "__main__":
    import json
    import sys

    out = run()
    out["lorenz"] = run_lorenz()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump(out, f, indent=1)
