"""Command line: ``hnn-np`` or ``python -m hnn_np``.

    hnn-np list                                  the named experiments
    hnn-np train EXPERIMENT --out DIR [...]      train, evaluate and save one experiment
    hnn-np evaluate MODEL [--radius R --n N]     metrics of a saved spring model, as JSON
    hnn-np figures [--quick] [--out DIR]         every figure of the paper
    hnn-np ablation [--out FILE]                 the measured effect of each change of best-*
    hnn-np studies [--quick] [--only PART]       beyond the paper: long rollouts, radius, stencils,
                                                 noise, pendulums and two-body (figures/studies/)

Every bad argument or file ends the command with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

__all__ = ["main"]


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _nonnegative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0; got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0; got {text!r}")
    return value


def _positive_real(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number; got {text!r}")
    return value


def _grid_points(text):
    value = _positive_int(text)
    if value < 3:
        raise argparse.ArgumentTypeError(f"expected at least 3 grid points; got {text!r}")
    return value


def _parser():
    p = argparse.ArgumentParser(prog="hnn-np", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="list the named experiments")

    t = sub.add_parser("train", help="train, evaluate and save one named experiment")
    t.add_argument("experiment", help="experiment name (see `hnn-np list`)")
    t.add_argument("--out", default="runs", help="parent folder; files go to OUT/EXPERIMENT/ (default: runs)")
    t.add_argument("--steps", type=_nonnegative_int, help="main-phase Adam steps (default: the experiment's)")
    t.add_argument("--seed", type=_nonnegative_int, help="seed of the weights and the batch order")
    t.add_argument("--dtype", choices=["float32", "float64"], help="floating type (default float64)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/EXPERIMENT/checkpoint.npz")
    t.add_argument("--quick", action="store_true", help="a few steps only: exercise the pipeline")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    e = sub.add_parser("evaluate", help="metrics of a saved spring model on the meshgrid, as JSON")
    e.add_argument("model", help="a model.npz written by `hnn-np train`")
    e.add_argument("--radius", type=_positive_real, default=100.0, help="grid half-width R (default 100)")
    e.add_argument("--n", type=_grid_points, default=201, help="grid points per axis (default 201)")
    e.add_argument("--json", help="also write the metrics to this file")

    f = sub.add_parser("figures", help="train every experiment and draw every figure")
    f.add_argument("--quick", action="store_true", help="few steps: the whole pipeline in about a minute")
    f.add_argument("--out", default="figures", help="folder for the PNGs and metrics.json (default: figures)")
    f.add_argument("--runs", default="runs", help="folder for models and datasets (default: runs)")
    f.add_argument("--quiet", action="store_true", help="no progress bars")
    f.add_argument("--jobs", type=_positive_int, default=2,
                   help="experiments trained at once, one BLAS thread each (default 2; 1 = in turn)")
    a = sub.add_parser("ablation", help="train each variant of the best-* recipes, one change at a time")
    a.add_argument("--out", default="figures/ablation.json", help="JSON file of the results")
    a.add_argument("--runs", default="runs/ablation", help="folder for the variants' models")

    x = sub.add_parser("studies", help="beyond the paper: spring studies and more systems (figures/studies/)")
    x.add_argument("--quick", action="store_true", help="tiny settings: the whole pipeline in seconds")
    x.add_argument("--out", default="figures/studies", help="folder for the PNGs and tables")
    x.add_argument("--runs", default="runs/studies", help="folder for models (default: runs/studies)")
    x.add_argument("--only", choices=["spring", "systems"], help="only the spring studies or only the systems")
    return p


def _run(args):
    if args.command == "list":
        from .paper.experiments import EXPERIMENTS

        for name, exp in EXPERIMENTS.items():
            print(f"{name:22s} {exp.title}")
    elif args.command == "train":
        from .paper.experiments import run_experiment

        _, metrics = run_experiment(args.experiment, args.out, steps=args.steps, seed=args.seed,
                                    dtype=args.dtype, quick=args.quick, resume=args.resume,
                                    progress=False if args.quiet else None)
        print(json.dumps(metrics, indent=2, sort_keys=True))
    elif args.command == "evaluate":
        from .evaluate import evaluate_model
        from .io import save_json
        from .model import load_model
        from .paper.experiments import SPRING

        model = load_model(args.model)
        if model.n_dof != 1:
            raise ValueError(f"model {args.model!r} has {model.n_dof} degrees of freedom; "
                             "the spring's meshgrid needs 1")
        metrics = evaluate_model(model, SPRING, radius=args.radius, n=args.n)
        if args.json:
            save_json(args.json, metrics)
        print(json.dumps(metrics, indent=2, sort_keys=True))
    elif args.command == "figures":
        from .paper.figures import make_figures

        make_figures(args.out, args.runs, quick=args.quick, jobs=args.jobs,
                     progress=False if args.quiet else None)
    elif args.command == "ablation":
        from .paper.ablation import run_ablation, write_ablation

        write_ablation(args.out, run_ablation(args.runs))
    elif args.command == "studies":
        if args.only != "systems":
            from .studies.spring_report import make_spring_studies

            make_spring_studies(args.out, args.runs, quick=args.quick)
        if args.only != "spring":
            from .studies.systems import run_systems

            run_systems(args.out, args.runs, quick=args.quick)


def main(argv=None) -> int:
    """Run one command; returns the exit status (0, or 2 after a one-line error on stderr)."""
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except (ValueError, FloatingPointError, OSError) as err:
        print(f"hnn-np {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0
