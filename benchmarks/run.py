"""`make bench`: every benchmark of hnn_np in one run, printed and saved to bench.json.

1. The training step (benchmarks/bench_step.py): reference and fast path,
   N in {64, 1024, 5000} x {float64, float32}, GFLOP/s against a GEMM roofline
   measured in the same run, the BLAS kernel in use, peak memory.
2. DOP853 dataset generation against scipy, the Python around one
   solve_ivp, and one Lorenz trajectory against scipy
   (benchmarks/bench_integrate.py).
   Backpropagation through RK4: one trajectory window (K = 1, N = 64, the
   paper's HNN), readable and fast, against one derivative step
   (benchmarks/bench_trajectory.py).
3. Start-up in fresh processes: import, the first solve_ivp, a first script
   with the user's own jitted right-hand sides, against scipy
   (benchmarks/bench_startup.py).
4. The wall time of `make figures QUICK=1` (into a temporary folder).
5. The same training step with torch and jax as peers, when installed
   (never a dependency; `make bench PEERS=1` runs this script in a separate
   virtual environment, .venv-peers, that has jax), timed after the rest.
6. The targets, each with this run's value, whether it is met, by how much,
   and why when it is not (``goals``; the full `make figures` time is the
   last one recorded in figures/metrics.json).

By default the script restarts itself without OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE, for its own process only, so that OpenBLAS picks the CPU's
own kernel; the kernel that ran is printed (``--no-native-blas`` keeps them).

Timings are medians; the machine is shared, so only ratios measured in this
one run are meaningful.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def time_quick_figures():
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hnn_np", "figures", "--quick", "--quiet",
                        "--out", os.path.join(tmp, "figures"), "--runs", os.path.join(tmp, "runs")],
                       check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


# The targets, checked against this run's numbers.
JAX_REFERENCE_MS = {"float64": 5.7, "float32": 2.9}  # a jax.jit step at N = 64 measured elsewhere, used when jax is absent
STEP_VS_JAX = 0.8
ROOFLINE_GOAL = 0.8
SPEEDUP_GOAL = 300.0
RETURNING_SPEEDUP_GOAL = 150.0
LORENZ_SPEEDUP_GOAL = 250.0
FIGURES_GOAL_SECONDS = 600.0
STARTUP_FIRST_GOAL_S = 1.5  # first script, its functions new: import to the last result
STARTUP_LATER_GOAL_S = 1.5
IMPORT_GOAL_S = 0.3
FIRST_SOLVE_GOAL_S = 0.5
AROUND_GOAL_US = 10.0
POINTER_WHY = ("the step is one chain of dependent operations (the stage sums added in the order that keeps the "
               "bits, and a call of fun in each stage: ~300 ns per step for 2 components), plus ~7 ns per call of fun "
               "and 7-9 ns per output time (benchmarks/README.md, where a trajectory's time goes)")


def goals(out: dict) -> list:
    """Each target with this run's value, met or not, by how much, and why when missed."""
    steps = {(s["N"], s["dtype"]): s for s in out["step"]["steps"]}
    parts = {(p["N"], p["dtype"]): p for p in out["step"]["parts"]}
    peers = {(p["N"], p["dtype"]): p for p in out["step"]["peers"]}
    rows = []
    for dtype, reference_ms in JAX_REFERENCE_MS.items():
        s = steps.get((64, dtype))
        if s is None:
            continue
        peer = peers.get((64, dtype), {})
        jax_ms = peer.get("jax_ms")  # with the fast step timed beside it, interleaved
        fast_ms = peer["fast_ms"] if jax_ms else s["fast_ms"]
        target = STEP_VS_JAX * (jax_ms if jax_ms else reference_ms)
        needed = s["gflop"] / (target / 1e3)  # GFLOP/s that the products alone would need
        rows.append(dict(
            goal=f"step <= {STEP_VS_JAX} x jax.jit, N=64 {dtype}", value=f"{fast_ms:.2f} ms",
            target=f"{target:.2f} ms" + (" (jax here)" if jax_ms else " (jax elsewhere)"), met=fast_ms <= target,
            by=f"{fast_ms / target:.2f}x the target",
            why=f"the products alone need {needed:.0f} GFLOP/s at the target; this run's GEMM gave "
                f"{s['gemm_gflops']:.0f}"))
    for (N, dtype), s in steps.items():
        adam, passes = parts[(N, dtype)]["adam_fast_ms"], parts[(N, dtype)]["elementwise_ms"]
        cap = s["roofline_ms"] / (s["roofline_ms"] + adam + passes)  # the products at the roofline, plus these
        met = s["roofline_frac"] >= ROOFLINE_GOAL
        rows.append(dict(
            goal=f"roofline >= {ROOFLINE_GOAL}, N={N} {dtype}", value=f"{s['roofline_frac']:.2f}",
            target=f"{ROOFLINE_GOAL}", met=met,
            by=f"{abs(s['roofline_frac'] - ROOFLINE_GOAL):.2f} {'above' if met else 'short'}",
            why=f"{s['fast_ms'] - s['roofline_ms']:.1f} ms above the roofline; Adam ({adam:.2f} ms) and the "
                f"elementwise passes ({passes:.2f} ms) alone cap the fraction at {cap:.2f}; the products run "
                f"slower in the step than alone"))
    if "trajectory" in out:
        import bench_trajectory

        rows.extend(bench_trajectory.goals(out["trajectory"]))
    i = out["integrate"]
    rows.append(dict(
        goal=f"DOP853 dataset >= {SPEEDUP_GOAL:.0f}x scipy, nfev unchanged", value=f"{i['speedup_vs_scipy']:.0f}x",
        target=f"{SPEEDUP_GOAL:.0f}x", met=i["speedup_vs_scipy"] >= SPEEDUP_GOAL
        and i["ours_nfev_mean"] == i["scipy_nfev_mean"],
        by=f"{i['speedup_vs_scipy'] / SPEEDUP_GOAL:.2f}x the goal; nfev {i['ours_nfev_mean']:g} vs "
           f"{i['scipy_nfev_mean']:g}", why=POINTER_WHY))
    rows.append(dict(
        goal=f"DOP853, returning fun >= {RETURNING_SPEEDUP_GOAL:.0f}x scipy", value=f"{i['speedup_vs_scipy_returning']:.0f}x",
        target=f"{RETURNING_SPEEDUP_GOAL:.0f}x", met=i["speedup_vs_scipy_returning"] >= RETURNING_SPEEDUP_GOAL,
        by=f"{i['speedup_vs_scipy_returning'] / RETURNING_SPEEDUP_GOAL:.2f}x the goal", why=POINTER_WHY))
    lo = out.get("lorenz")
    if lo is not None:
        rows.append(dict(
            goal=f"Lorenz, one solve_ivp >= {LORENZ_SPEEDUP_GOAL:.0f}x scipy", value=f"{lo['speedup_vs_scipy']:.0f}x",
            target=f"{LORENZ_SPEEDUP_GOAL:.0f}x", met=lo["speedup_vs_scipy"] >= LORENZ_SPEEDUP_GOAL,
            by=f"{lo['speedup_vs_scipy'] / LORENZ_SPEEDUP_GOAL:.2f}x the goal ({lo['ours_ms']:.2f} ms)", why=POINTER_WHY))
    rows.append(dict(
        goal=f"Python around one solve_ivp <= {AROUND_GOAL_US:g} us", value=f"{i['python_around_us']:.1f} us",
        target=f"{AROUND_GOAL_US:g} us", met=i["python_around_us"] <= AROUND_GOAL_US,
        by=f"{i['python_around_us'] / AROUND_GOAL_US:.2f}x the goal",
        why=f"the checks of the arguments' types and the tolerances, finding the compiled code, the result "
            f"object, around a {i['integration_alone_us']:.1f} us integration (y0 and t_eval's values are "
            f"checked in it)"))
    st = out.get("startup")
    if st is not None:
        numba_note = ("most of it is Numba's own start: importing numba, and its first compilation or cache load "
                      "initialises the compiler (which imports scipy.linalg when scipy is installed)")
        for goal, value, target, why in (
            ("import hnn_np", st["import_hnn_np_s"], IMPORT_GOAL_S, "NumPy is imported"),
            ("first solve_ivp, built-in system, fresh process", st["later"]["first_system_solve_ivp_s"],
             FIRST_SOLVE_GOAL_S, numba_note + "; without scipy installed: "
             f"{st['later_without_scipy']['first_system_solve_ivp_s']:.2f} s"),
            ("first script, its functions new: import to last result", st["first_time"]["import_to_last_result_s"],
             STARTUP_FIRST_GOAL_S, numba_note + "; the user's two functions are compiled"),
            ("first script, later runs: import to last result", st["later"]["import_to_last_result_s"],
             STARTUP_LATER_GOAL_S, numba_note),
        ):  # fmt: skip
            rows.append(dict(goal=f"{goal} <= {target:g} s", value=f"{value:.2f} s", target=f"{target:g} s",
                             met=value <= target, by=f"{value / target:.2f}x the goal",
                             why=why + f" (scipy's script: {st['scipy']['import_to_last_result_s']:.2f} s)"))
    figures = out.get("figures_full_seconds")
    if figures is not None:
        rows.append(dict(
            goal=f"make figures <= {FIGURES_GOAL_SECONDS / 60:.0f} min", value=f"{figures / 60:.1f} min",
            target=f"{FIGURES_GOAL_SECONDS / 60:.0f} min", met=figures <= FIGURES_GOAL_SECONDS,
            by=f"{figures / FIGURES_GOAL_SECONDS:.2f}x the goal",
            why="(the last full run, from figures/metrics.json; this run timed QUICK=1 only)"))
    return rows


def print_goals(rows: list) -> None:
    print(f"{'goal':62} {'value':>10} {'target':>22} {'met':>4}  by")
    for r in rows:
        print(f"{r['goal']:62} {r['value']:>10} {r['target']:>22} {'yes' if r['met'] else 'NO':>4}  {r['by']}")
        if not r["met"] and r["why"]:
            print(f"{'':62}   why: {r['why']}")


def last_full_figures_seconds():
    """Wall time of the last full `make figures` (figures/metrics.json), or None."""
    path = os.path.join(os.path.dirname(HERE), "figures", "metrics.json")
    try:
        with open(path) as f:
            metrics = json.load(f)
    except (OSError, ValueError):
        return None
    return None if metrics.get("quick", True) else metrics.get("seconds")


def main():
    import bench_step

    if "--no-native-blas" not in sys.argv:
        bench_step._reexec_without_blas_pins()  # restart without OPENBLAS_CORETYPE/L2_SIZE (this process only)
    import bench_integrate
    import bench_startup
    import bench_trajectory

    out = {"python": sys.version.split()[0]}
    print("== training step ==")
    out["step"] = bench_step.run(peers=False)  # the peers last: their thread pools stay awake after them
    bench_step.print_report(out["step"])
    print("\n== backpropagation through RK4: one trajectory window vs one derivative step ==")
    out["trajectory"] = bench_trajectory.run()
    bench_trajectory.print_report(out["trajectory"])
    print("\n== DOP853 dataset generation vs scipy ==")
    out["integrate"] = bench_integrate.run()
    out["lorenz"] = bench_integrate.run_lorenz()
    print("\n== start-up, fresh processes ==")
    out["startup"] = bench_startup.run()
    print("\n== make figures QUICK=1 ==")
    out["figures_quick_seconds"] = time_quick_figures()
    print(f"make figures QUICK=1: {out['figures_quick_seconds']:.1f} s")
    print("\n== peers: the same step with torch / jax, when installed (make bench PEERS=1 installs jax) ==")
    out["step"]["peers"] = bench_step.run_peers()
    if out["step"]["peers"]:
        bench_step.print_peers(out["step"]["peers"])
    else:
        print("neither torch nor jax is installed: skipped")
    print("\n== peer: Hairer's DOP853 compiled from Fortran (numbalsoda), when installed ==")
    out["integrate_fortran_peer"] = bench_integrate.run_fortran_peer()
    if out["integrate_fortran_peer"] is None:
        print("numbalsoda is not installed: skipped (make bench PEERS=1 builds it when gfortran is installed)")
    out["figures_full_seconds"] = last_full_figures_seconds()
    print("\n== targets ==")
    out["goals"] = goals(out)
    print_goals(out["goals"])
    path = os.path.join(os.path.dirname(HERE), "bench.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2, default=float)
    os.replace(tmp, path)
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
