"""`make bench`: every benchmark of hnn_np in one run, printed and saved to bench.json.

1. The training step (benchmarks/bench_step.py): reference and fast path,
   N in {64, 1024, 5000} x {float64, float32}, GFLOP/s against a GEMM roofline
   measured in the same run, the BLAS kernel in use, peak memory.
2. DOP853 dataset generation against scipy's solve_ivp (benchmarks/bench_integrate.py).
3. The wall time of `make figures QUICK=1` (into a temporary folder).

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


def main():
    import bench_step

    if "--no-native-blas" not in sys.argv:
        bench_step._reexec_without_blas_pins()  # restart without OPENBLAS_CORETYPE/L2_SIZE (this process only)
    import bench_integrate

    out = {"python": sys.version.split()[0]}
    print("== training step ==")
    out["step"] = bench_step.run()
    bench_step.print_report(out["step"])
    print("\n== DOP853 dataset generation vs scipy ==")
    out["integrate"] = bench_integrate.run()
    print("\n== make figures QUICK=1 ==")
    out["figures_quick_seconds"] = time_quick_figures()
    print(f"make figures QUICK=1: {out['figures_quick_seconds']:.1f} s")
    path = os.path.join(os.path.dirname(HERE), "bench.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2, default=float)
    os.replace(tmp, path)
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
