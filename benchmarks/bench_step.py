"""One HNN training step, reference against fast path, and the GEMM roofline of the same run.

A step is the loss with its gradient plus one Adam update, on the paper's
network (2, 400, 400, 400, 400, 400, 1), tanh:

* reference: ``hnn.loss_and_grad`` + ``optim.Adam.step``;
* fast:      ``fast.StepWorkspace.loss_and_grad`` + ``fast.Adam.step``.

Its matrix products are 24 of shape (N, 400) x (400, 400) -- forward, input
gradient, d_bar and z_bar @ W.T four times each, and two per weight gradient
-- plus the small first and last layers. The roofline is what those FLOPs
would take at the rate of ``np.matmul(A (N, 400), B (400, 400), out=C)``
measured in the same run: 24 such calls make one sample, interleaved with the
steps so that both see the same machine (other processes share its two
cores: only same-run ratios mean anything). Every time is a median over
repetitions; the fastest sample of each is reported beside it.

torch and jax steps of the same network are timed at the end, interleaved
with the fast step, only if they can be imported (they are not dependencies
of hnn_np).

Run as a script it prints a table; ``run(quick=False)`` returns the numbers.
By default the script re-executes itself without ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` (set before NumPy loads, for this process only), so that
OpenBLAS picks the CPU's own kernel; ``--no-native-blas`` keeps the
environment. The kernel that ran is reported either way (threadpoolctl).

    python benchmarks/bench_step.py [--quick] [--no-native-blas] [--batch N ...]
                                    [--blas-threads T] [--json PATH]
"""

from __future__ import annotations

import os
import sys

_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_UNSET_VAR = "HNN_BENCH_UNSET_BLAS_PINS"  # set by the re-exec: what it removed


def _reexec_without_blas_pins():
    """Restart this script with the OpenBLAS pins removed from its environment (before NumPy loads)."""
    if _UNSET_VAR in os.environ or not any(k in os.environ for k in _PINS):
        return
    env = {k: v for k, v in os.environ.items() if k not in _PINS}
    env[_UNSET_VAR] = ",".join(f"{k}={os.environ[k]}" for k in _PINS if k in os.environ)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


if __name__ == "__main__" and "--no-native-blas" not in sys.argv:
    _reexec_without_blas_pins()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from hnn_np import fast, hnn, mlp, optim  # noqa: E402

SIZES = (2, 400, 400, 400, 400, 400, 1)
BATCHES = (64, 1024, 5000)
DTYPES = (np.float64, np.float32)
WIDTH = 400


def step_flops(sizes, N):
    """Matrix-product FLOPs of one fast HNN step (2 per multiply-add).

    Per layer l < L-1: forward, input gradient, d_bar and the two
    weight-gradient terms; for l >= 1 also z_bar[l] @ W[l].T. For the paper's
    network: 24 * 2 N 400^2 plus the first layer's 5 * 2 N 2 * 400.
    """
    L = len(sizes) - 1
    return sum(2 * N * sizes[l] * sizes[l + 1] * (5 if l == 0 else 6) for l in range(L - 1))


def blas_info():
    """The BLAS libraries NumPy loaded, with the kernel (``architecture``) they run."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return [{"error": "threadpoolctl not installed"}]
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))  # site-packages: numpy.libs is NumPy's
    return [{"used_by": "numpy" if os.path.join(numpy_dir, "numpy") in d["filepath"] else "other (scipy?)",
             **{k: d[k] for k in keep if k in d}, "file": os.path.basename(d["filepath"])}
            for d in threadpool_info() if d.get("user_api") == "blas"]


def _batch(N, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, SIZES[0])).astype(dtype),
            rng.standard_normal((N, SIZES[0])).astype(dtype))


def _times(fns, reps):
    """Wall times of each function, calling them in turn ``reps`` times (interleaved)."""
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return times


def _median_times(fns, reps):
    """Median wall time of each function, interleaved as in :func:`_times`."""
    return {k: float(np.median(v)) for k, v in _times(fns, reps).items()}


def bench_step(N, dtype, reps):
    """Reference step, fast step and GEMM burst, interleaved; returns a row of the table."""
    x, dxdt = _batch(N, dtype)
    p_ref = mlp.init_params(SIZES, seed=0, dtype=dtype)
    p_fast = mlp.init_params(SIZES, seed=0, dtype=dtype)
    opt_ref, opt_fast = optim.Adam(p_ref), fast.Adam(p_fast)
    ws = fast.StepWorkspace(p_fast, N)
    rng = np.random.default_rng(1)
    A = rng.standard_normal((N, WIDTH)).astype(dtype)
    B = rng.standard_normal((WIDTH, WIDTH)).astype(dtype)
    C = np.empty((N, WIDTH), dtype)
    burst = 24  # GEMM calls per sample: the step's FLOPs, so a sample lasts as long as a step would

    def ref_step():
        opt_ref.step(hnn.loss_and_grad(p_ref, x, dxdt)[1])

    def fast_step():
        opt_fast.step(ws.loss_and_grad(x, dxdt)[1])

    def gemms():
        for _ in range(burst):
            np.matmul(A, B, out=C)

    for f in (ref_step, fast_step, gemms):  # warm: first calls, caches, BLAS threads
        f()
    times = _times({"ref": ref_step, "fast": fast_step, "gemm": gemms}, reps)
    t = {k: float(np.median(v)) for k, v in times.items()}
    gemm_rate = burst * 2 * N * WIDTH * WIDTH / t["gemm"]
    flops = step_flops(SIZES, N)
    roofline = flops / gemm_rate
    best = {k: min(v) for k, v in times.items()}  # the least disturbed sample of each
    return {
        "N": N, "dtype": np.dtype(dtype).name, "reps": reps,
        "ref_ms": 1e3 * t["ref"], "fast_ms": 1e3 * t["fast"], "speedup": t["ref"] / t["fast"],
        "gflop": flops / 1e9, "fast_gflops": flops / t["fast"] / 1e9, "gemm_gflops": gemm_rate / 1e9,
        "roofline_ms": 1e3 * roofline, "roofline_frac": roofline / t["fast"],
        "best_fast_ms": 1e3 * best["fast"], "best_ref_ms": 1e3 * best["ref"],
        "best_roofline_frac": flops / (burst * 2 * N * WIDTH * WIDTH / best["gemm"]) / best["fast"],
    }


QUIET_SECONDS = 0.3  # idle time before each block of peer timings (see _block_median_times)


def _block_median_times(fns, reps, blocks=5):
    """Median wall time of each function, timed in blocks taken in turn, each after a quiet pause.

    A framework's worker threads keep spinning for a while after its last call
    (OpenBLAS's for about 0.1 s, XLA's and torch's too), on these two cores:
    calls of two frameworks interleaved one by one slowed each other (jax's
    step ran 2x slower next to ours than alone). So each one runs a block of
    ``reps // blocks`` calls after ``QUIET_SECONDS`` of idleness, the blocks
    of all alternating, so that all still see the same load of the machine.
    """
    times = {k: [] for k in fns}
    for _ in range(blocks):
        for k, f in fns.items():
            time.sleep(QUIET_SECONDS)
            for _ in range(max(1, reps // blocks)):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def bench_peers(N, dtype, reps):
    """torch and jax steps, if importable, against the fast step in alternating blocks; {} if neither is.

    Run after every other measurement: their thread pools stay awake for a
    while after each step and compete with OpenBLAS's threads for the cores.
    """
    fns = {name: step for name, step in (("torch", _torch_step(N, dtype)), ("jax", _jax_step(N, dtype)))
           if step is not None}
    if not fns:
        return {}
    x, dxdt = _batch(N, dtype)
    params = mlp.init_params(SIZES, seed=0, dtype=dtype)
    ws, opt = fast.StepWorkspace(params, N), fast.Adam(params)
    fns["fast"] = lambda: opt.step(ws.loss_and_grad(x, dxdt)[1])
    for f in fns.values():  # warm: first calls, jit compilation
        f()
    return {"N": N, "dtype": np.dtype(dtype).name,
            **{k + "_ms": 1e3 * v for k, v in _block_median_times(fns, reps).items()}}


def bench_parts(N, dtype, reps):
    """Where the fast step's time goes: loss_and_grad, Adam (fast and reference kernel), the
    weight gradient as one stacked product (K = 2N) against two products and an add, and the
    step's 24 elementwise passes alone."""
    from hnn_np.fast import kernels
    x, dxdt = _batch(N, dtype)
    params = mlp.init_params(SIZES, seed=0, dtype=dtype)
    opt_fast, opt_ref = fast.Adam(params), optim.Adam(mlp.init_params(SIZES, seed=0, dtype=dtype))
    ws = fast.StepWorkspace(params, N)
    _, grads = ws.loss_and_grad(x, dxdt)
    rng = np.random.default_rng(2)
    P = rng.standard_normal((2 * N, WIDTH)).astype(dtype)
    Q = rng.standard_normal((2 * N, WIDTH)).astype(dtype)
    G, T = np.empty((WIDTH, WIDTH), dtype), np.empty((WIDTH, WIDTH), dtype)

    def stacked():
        np.matmul(P.T, Q, out=G)

    def two_and_add():
        np.matmul(P[:N].T, Q[:N], out=G)
        np.matmul(P[N:].T, Q[N:], out=T)
        np.add(G, T, out=G)

    # The elementwise passes of one fast HNN step of the paper's network (5 hidden layers), on arrays of the
    # step's shapes: bias and tanh per hidden layer; d[l] and g_bar[l+1] (4 each); the top adjoints; and
    # the second-order adjoint with its bias sum (4). hnn_np/fast.py, StepWorkspace._hnn, in that order.
    a, u, v, w_, out = (rng.uniform(-0.9, 0.9, (N, WIDTH)).astype(dtype) for _ in range(5))
    bias, W_top = rng.standard_normal(WIDTH).astype(dtype), rng.standard_normal((WIDTH, 1)).astype(dtype)
    dW_top, db = np.empty_like(W_top), np.empty_like(bias)
    hidden = len(SIZES) - 2

    def elementwise():
        for _ in range(hidden):
            kernels.add_bias(out, bias, out)
            np.tanh(out, out=out)
        kernels.top_mul_tanh_prime(W_top, a, out)
        for _ in range(2 * (hidden - 1)):
            kernels.mul_tanh_prime(u, a, out=out)
        kernels.top_adjoints(a, W_top, u, dW_top, out, db)
        for _ in range(hidden - 1):
            kernels.second_adjoint_sum(a, u, v, w_, out, db)

    fns = {"loss_and_grad": lambda: ws.loss_and_grad(x, dxdt), "adam_fast": lambda: opt_fast.step(grads),
           "adam_ref": lambda: opt_ref.step(grads), "wgrad_stacked": stacked, "wgrad_two_add": two_and_add,
           "elementwise": elementwise}
    for f in fns.values():
        f()
    return {"N": N, "dtype": np.dtype(dtype).name,
            **{k + "_ms": 1e3 * v for k, v in _median_times(fns, reps).items()}}


def bench_memory(N=64, steps=200):
    """Traced allocations over ``steps`` fast steps (float64): peak and growth; the reference's peak for one."""
    x, dxdt = _batch(N, np.float64)
    params = mlp.init_params(SIZES, seed=0)
    ws, opt = fast.StepWorkspace(params, N), fast.Adam(params)
    opt.step(ws.loss_and_grad(x, dxdt)[1])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(steps):
        opt.step(ws.loss_and_grad(x, dxdt)[1])
        if i == 9:  # growth is counted from here: the first steps leave a few Python objects
            after_10 = tracemalloc.get_traced_memory()[0]
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    ref_before = tracemalloc.get_traced_memory()[0]
    hnn.loss_and_grad(params, x, dxdt)
    ref_peak = tracemalloc.get_traced_memory()[1] - ref_before
    tracemalloc.stop()
    return {"N": N, "steps": steps, "workspace_MiB": ws.nbytes / 2**20,
            "fast_peak_traced_bytes": peak - before, "fast_growth_bytes": after - after_10,
            "ref_one_step_peak_MiB": ref_peak / 2**20,
            "maxrss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10}


def _torch_step(N, dtype):
    """One torch training step of the same network (double backprop + torch.optim.Adam), or None."""
    try:
        import torch
    except ImportError:
        return None
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    layers = [torch.nn.Linear(a, b).to(tdt) for a, b in zip(SIZES[:-1], SIZES[1:])]
    opt = torch.optim.Adam([p for lin in layers for p in lin.parameters()], lr=1e-3)
    x, dxdt = (torch.from_numpy(a) for a in _batch(N, dtype))

    def step():
        xx = x.clone().requires_grad_(True)
        h = xx
        for lin in layers[:-1]:
            h = torch.tanh(lin(h))
        (dH_dx,) = torch.autograd.grad(layers[-1](h).sum(), xx, create_graph=True)
        S = torch.cat([dH_dx[:, 1:], -dH_dx[:, :1]], dim=1)  # (dH/dp, -dH/dq), one degree of freedom
        loss = ((S - dxdt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _jax_step(N, dtype):
    """One jitted jax training step of the same network (grad of grad + Adam written out), or None."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    if dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in mlp.init_params(SIZES, seed=0, dtype=dtype)]
    x, dxdt = (jnp.asarray(a) for a in _batch(N, dtype))

    def H(p, X):  # (N,) energies of the rows of X
        h = X
        for W, b in p[:-1]:
            h = jnp.tanh(h @ W + b)
        return (h @ p[-1][0] + p[-1][1])[:, 0]

    def loss(p):
        # Rows are independent, so the gradient of the sum of H is dH/dx row by row: batched products
        # throughout. (jax.vmap of the per-row gradient is the same function, but XLA ran it 2x slower.)
        dH_dx = jax.grad(lambda X: H(p, X).sum())(x)
        S = jnp.concatenate([dH_dx[:, 1:], -dH_dx[:, :1]], axis=1)
        return jnp.mean((S - dxdt) ** 2)

    @jax.jit
    def step(p, m, v, t):
        g = jax.grad(loss)(p)
        m = jax.tree_util.tree_map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        p = jax.tree_util.tree_map(
            lambda p, m, v: p - 1e-3 / (1 - 0.9**t) * m / (jnp.sqrt(v / (1 - 0.999**t)) + 1e-8), p, m, v)
        return p, m, v

    state = [params, jax.tree_util.tree_map(jnp.zeros_like, params),
             jax.tree_util.tree_map(jnp.zeros_like, params), 1]

    def run_step():
        p, m, v = step(state[0], state[1], state[2], state[3])
        jax.block_until_ready(p)
        state[:3] = p, m, v
        state[3] += 1

    return run_step


def run(quick=False, batches=BATCHES, blas_threads=None, peers=True):
    """Every measurement as a dict (see the module docstring).

    ``blas_threads`` limits BLAS (for the steps and the roofline alike) with
    threadpoolctl; None keeps the library's default (2 on this machine).
    ``peers=False`` leaves out torch and jax (:func:`run_peers` times them).
    """
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits
        with threadpool_limits(blas_threads, user_api="blas"):
            return run(quick, batches, peers=peers)
    from hnn_np.fast import kernels
    kernels.warm_up()
    fast.warm_up()
    reps = {64: 20, 1024: 5, 5000: 2} if quick else {64: 100, 1024: 25, 5000: 9}
    result = {
        "sizes": SIZES,
        "blas": blas_info(),
        "blas_pins_unset": os.environ.get(_UNSET_VAR, ""),
        "blas_pins_in_env": {k: os.environ[k] for k in _PINS if k in os.environ},
        "loadavg_before": os.getloadavg(),
        "steps": [], "parts": [],
    }
    for N in batches:
        reps.setdefault(N, max(2, reps[64] * 64 // N))
        for dtype in DTYPES:
            result["steps"].append(bench_step(N, dtype, reps[N]))
            result["parts"].append(bench_parts(N, dtype, reps[N]))
    result["memory"] = bench_memory(steps=50 if quick else 200)
    result["peers"] = run_peers(quick, batches) if peers else []
    result["loadavg_after"] = os.getloadavg()
    return result


def run_peers(quick=False, batches=BATCHES):
    """torch and jax steps (those installed) against the fast step, for each N and dtype; [] if neither."""
    reps = {64: 20, 1024: 5, 5000: 2} if quick else {64: 100, 1024: 25, 5000: 9}
    return [p for N in batches for dtype in DTYPES if (p := bench_peers(N, dtype, reps.get(N, 2)))]


def print_report(r):
    for lib in r["blas"]:
        print("BLAS:", ", ".join(f"{k}={v}" for k, v in lib.items()))
    print("OpenBLAS pins unset for this process:", r["blas_pins_unset"] or "no",
          "| still set:", r["blas_pins_in_env"] or "none")
    print("load average before / after (other processes share the 2 cores):",
          " ".join(f"{x:.2f}" for x in r["loadavg_before"]), "/",
          " ".join(f"{x:.2f}" for x in r["loadavg_after"]))
    print()
    print("medians of interleaved repetitions; 'best' columns: the fastest sample of each")
    print(f"{'N':>5} {'dtype':>7} | {'ref ms':>8} {'fast ms':>8} {'speedup':>7} | {'GFLOP':>6} "
          f"{'fast GF/s':>9} {'GEMM GF/s':>9} {'roof ms':>8} {'roof/fast':>9} | {'best ref':>8} "
          f"{'best fast':>9} {'roof/fast':>9}")
    for s in r["steps"]:
        print(f"{s['N']:>5} {s['dtype']:>7} | {s['ref_ms']:8.2f} {s['fast_ms']:8.2f} {s['speedup']:7.2f} | "
              f"{s['gflop']:6.2f} {s['fast_gflops']:9.1f} {s['gemm_gflops']:9.1f} {s['roofline_ms']:8.2f} "
              f"{s['roofline_frac']:9.2f} | {s['best_ref_ms']:8.2f} {s['best_fast_ms']:9.2f} "
              f"{s['best_roofline_frac']:9.2f}")
    print()
    print(f"{'N':>5} {'dtype':>7} | {'loss+grad':>9} {'adam':>7} {'adam ref':>8} | "
          f"{'dW stacked K=2N':>15} {'two + add':>9} | {'elementwise':>11}   (ms)")
    for p in r["parts"]:
        print(f"{p['N']:>5} {p['dtype']:>7} | {p['loss_and_grad_ms']:9.3f} {p['adam_fast_ms']:7.3f} "
              f"{p['adam_ref_ms']:8.3f} | {p['wgrad_stacked_ms']:15.3f} {p['wgrad_two_add_ms']:9.3f} | "
              f"{p['elementwise_ms']:11.3f}")
    if r["peers"]:
        print()
        print_peers(r["peers"])
    m = r["memory"]
    print()
    print(f"memory (N={m['N']}, float64): workspace {m['workspace_MiB']:.1f} MiB; over {m['steps']} fast "
          f"steps traced peak {m['fast_peak_traced_bytes']} B, growth after step 10 {m['fast_growth_bytes']} B; "
          f"reference one step peak {m['ref_one_step_peak_MiB']:.1f} MiB; max RSS {m['maxrss_MiB']:.0f} MiB")


def print_peers(peers):
    print("peers against the fast step, in alternating blocks after a quiet pause, after the rest (ms):")
    for p in peers:
        print(f"{p['N']:>5} {p['dtype']:>7} | fast {p['fast_ms']:8.2f} | " + "  ".join(
            f"{k[:-3]} {p[k]:8.2f} (fast / {k[:-3]} {p['fast_ms'] / p[k]:.2f})"
            for k in ("torch_ms", "jax_ms") if k in p))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--no-native-blas", action="store_true",
                    help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE as the environment sets them")
    ap.add_argument("--json", help="also write the numbers to this file")
    ap.add_argument("--batch", type=int, action="append", help="batch size N (repeatable); "
                    f"default {' '.join(map(str, BATCHES))}")
    ap.add_argument("--blas-threads", type=int, help="limit BLAS threads (default: OpenBLAS's own)")
    args = ap.parse_args(argv)
    r = run(quick=args.quick, batches=tuple(args.batch or BATCHES), blas_threads=args.blas_threads)
    print_report(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)


if __name__ == "__main__":
    main()
