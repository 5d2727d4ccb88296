"""Backpropagation through the integrator: one trajectory window against one derivative step.

The window: :func:`hnn_np.trajectory.loss_and_grad` with K = 1, RK4, one
substep, on the paper's HNN (2, 400, 400, 400, 400, 400, 1), N = 64 windows,
float64 -- four field evaluations forward, four backward passes -- and its
fast twin :class:`hnn_np.fast.RK4Workspace`. The derivative step: the loss
and gradient of the same network on N = 64 rows, readable
(:func:`hnn_np.hnn.loss_and_grad`) and fast
(:class:`hnn_np.fast.StepWorkspace`), and the fast training step (with
:class:`hnn_np.fast.Adam`). All run interleaved; times are medians.

Where the window's time goes is measured by timing its parts in the same
run: the four field evaluations (``vjp.field``), the four backward passes
(``vjp.field_vjp``), and the rest (the stage combinations, the gradient
accumulation, the checks).

    python benchmarks/bench_trajectory.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hnn_np import fast, hnn, mlp, trajectory, vjp

SIZES = (2, 400, 400, 400, 400, 400, 1)
N = 64
GOAL = 5.0  # the window costs at most GOAL derivative steps


def _times(fns, reps):
    """Median wall time (s) of each function, called in turn ``reps`` times (interleaved)."""
    times = {k: [] for k in fns}
    for f in fns.values():  # warm: first calls, caches, BLAS threads
        f()
    for _ in range(reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def run(quick=False):
    """The medians (ms), their ratios and the window's parts, as a dict."""
    fast.warm_up()
    reps = 10 if quick else 40
    params = mlp.init_params(SIZES, seed=0)
    p_fast = mlp.init_params(SIZES, seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, N, 2))  # K = 1: X[0] the starts, X[1] the observed next states
    x, dxdt = X[0], rng.standard_normal((N, 2))
    ws, opt = fast.StepWorkspace(p_fast, N), fast.Adam(p_fast)
    rk4 = fast.RK4Workspace(params, N)
    h = 0.1
    _, caches = trajectory.rk4_step("hnn", params, x, h)
    S_bar = rng.standard_normal((N, 2))

    def window():
        trajectory.loss_and_grad(params, X, h)

    def fields():  # the forward's four field evaluations (at one state: the cost is the same)
        for _ in range(4):
            vjp.field("hnn", params, x)

    def backward_passes():
        for c in caches:
            vjp.field_vjp("hnn", params, c, S_bar)

    t = _times({
        "window": window, "fast_window": lambda: rk4.loss_and_grad(X, h),
        "ref_step": lambda: hnn.loss_and_grad(params, x, dxdt),
        "fast_loss_and_grad": lambda: ws.loss_and_grad(x, dxdt),
        "fast_step": lambda: opt.step(ws.loss_and_grad(x, dxdt)[1]),
        "four_fields": fields, "four_backward": backward_passes,
    }, reps)
    ms = {k: 1e3 * v for k, v in t.items()}
    out = {f"{k}_ms": v for k, v in ms.items()}
    out.update(
        N=N, sizes=SIZES, reps=reps,
        window_vs_ref_step=ms["window"] / ms["ref_step"],
        window_vs_fast_loss_and_grad=ms["window"] / ms["fast_loss_and_grad"],
        window_vs_fast_step=ms["window"] / ms["fast_step"],
        fast_window_vs_fast_loss_and_grad=ms["fast_window"] / ms["fast_loss_and_grad"],
        fast_window_vs_fast_step=ms["fast_window"] / ms["fast_step"],
        rest_ms=ms["window"] - ms["four_fields"] - ms["four_backward"],
    )
    return out


def print_report(r):
    print(f"one window (K=1, RK4, N={r['N']}, paper HNN, float64) against one derivative step, "
          f"medians of {r['reps']} interleaved calls (ms):")
    print(f"  window forward + adjoint        {r['window_ms']:8.2f}")
    print(f"    4 field evaluations            {r['four_fields_ms']:8.2f}")
    print(f"    4 backward passes (field_vjp)  {r['four_backward_ms']:8.2f}")
    print(f"    the rest (stages, sums, checks){r['rest_ms']:8.2f}")
    print(f"  hnn.loss_and_grad (readable)    {r['ref_step_ms']:8.2f}   window / it = {r['window_vs_ref_step']:.2f}")
    print(f"  fast loss_and_grad              {r['fast_loss_and_grad_ms']:8.2f}   window / it = "
          f"{r['window_vs_fast_loss_and_grad']:.2f}")
    print(f"  fast step (+ Adam)              {r['fast_step_ms']:8.2f}   window / it = {r['window_vs_fast_step']:.2f}")
    print(f"  fast window (RK4Workspace)      {r['fast_window_ms']:8.2f}   / fast loss_and_grad = "
          f"{r['fast_window_vs_fast_loss_and_grad']:.2f}, / fast step = {r['fast_window_vs_fast_step']:.2f}")


def goals(r) -> list:
    """The target rows of run.py: the window against the readable and the fast derivative step."""
    why = (f"readable: 4 field evaluations {r['four_fields_ms']:.1f} ms + 4 backward passes "
           f"{r['four_backward_ms']:.1f} ms + {r['rest_ms']:.1f} ms of stage sums, gradient sums and checks; "
           f"four stages are four steps' products at least")
    rows = []
    for label, key in (("readable window <= {}x hnn.loss_and_grad", "window_vs_ref_step"),
                       ("fast window <= {}x fast training step", "fast_window_vs_fast_step")):
        rows.append(dict(goal="trajectory K=1 RK4 N=64: " + label.format(f"{GOAL:g}"),
                         value=f"{r[key]:.2f}x", target=f"{GOAL:g}x", met=r[key] <= GOAL,
                         by=f"{r[key] / GOAL:.2f}x the goal", why=why))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args(argv)
    r = run(quick=args.quick)
    print_report(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
