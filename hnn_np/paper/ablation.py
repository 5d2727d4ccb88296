"""What each change of the ``best-*`` recipes is worth, measured one at a time.

Every row starts from ``best-analytic`` (or ``best-numerical``) and changes one
thing back towards the paper, or forward beyond it; :func:`run_ablation`
trains each variant, evaluates it on the 201 x 201 grid and the test
trajectories, and returns one row of metrics per variant
(``hnn-np ablation`` writes them to ``figures/ablation.json``).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from ..io import save_json
from . import experiments as X

__all__ = ["VARIANTS", "run_ablation"]

# name: (base experiment, data changes, training changes, refit_output)
VARIANTS = {
    "best-analytic": ("best-analytic", {}, {}, True),
    "without least-squares output layer": ("best-analytic", {}, {}, False),
    "without relative loss weights": ("best-analytic", {}, {"loss_weighting": "none"}, True),
    "without cosine decay": ("best-analytic", {}, {"schedule": "constant"}, True),
    "paper data (100 traj., E in [E_max/100, E_max])": (
        "best-analytic", {"n_traj": 100, "energy_range": (0.01, 1.0), "log_energy": False}, {}, True),
    "no Adam at all (random features + least squares)": ("best-analytic", {}, {"steps": 0}, True),
    "paper recipe + least-squares output layer": ("normalized-analytic", {}, {}, True),
    "best-numerical (6th-order differences)": ("best-numerical", {}, {}, True),
    "best-numerical with 4th-order differences": ("best-numerical", {"derivative": "fd4"}, {}, True),
    "best-numerical with 2nd-order differences (paper's Eq. 5)": (
        "best-numerical", {"derivative": "fd2"}, {}, True),
}


def run_ablation(out="runs/ablation", names=None, log=print):
    """Train and evaluate each variant into ``out/ablation-.../`` (replacing an earlier run); returns the rows."""
    rows = []
    for name in names or VARIANTS:
        base, data_kw, train_kw, refit = VARIANTS[name]
        exp = X.get_experiment(base)
        key = "ablation-" + "".join(c if c.isalnum() else "-" for c in name.lower())[:60]
        variant = replace(exp, name=key, title=name, data=replace(exp.data, **data_kw),
                          train=replace(exp.train, **train_kw, refit_output=refit))
        t0 = time.perf_counter()
        _, m = X.run_experiment(variant, out, progress=False, overwrite=True)
        row = dict(variant=name, seconds=time.perf_counter() - t0,
                   within_1e3=m["grid_field_within_0.001"], within_5e4=m["grid_field_within_0.0005"],
                   median=m["grid_field_median"], p99=m["grid_field_p99"],
                   traj_energy_max=m.get("traj_energy_max"))
        rows.append(row)
        log(f"{name:60s} {100 * row['within_1e3']:6.2f} % {100 * row['within_5e4']:6.2f} %  "
            f"median {row['median']:.1e}  p99 {row['p99']:.1e}  E_max {row['traj_energy_max']:.1e}  "
            f"({row['seconds']:.0f} s)")
    return rows


def write_ablation(path, rows):
    save_json(path, {"rows": rows})
    return path


if __name__ == "__main__":  # pragma: no cover
    write_ablation(os.path.join("figures", "ablation.json"), run_ablation())
