"""Command line: ``hnn-np`` or ``python -m hnn_np``.

    hnn-np list                                  every named experiment (hnn_np.catalog)
    hnn-np train EXPERIMENT --out DIR [...]      train, evaluate and save one experiment
    hnn-np fit DATA --kind hnn --out DIR [...]   learn measured trajectories (.npz or .csv) and
                                                 report rollouts on the held-out ones
    hnn-np evaluate MODEL [--radius R --n N]     metrics of a saved spring model, as JSON
    hnn-np figures [--quick] [--out DIR]         every figure of the paper
    hnn-np ablation [--out FILE]                 the measured effect of each change of best-*
    hnn-np studies [--quick] [--only PART]       beyond the paper: long rollouts, radius, stencils,
                                                 noise, pendulums, two-body, Henon-Heiles sections
                                                 and the real pendulum
                                                 (figures/studies/)

Every bad argument or file ends the command with one line on stderr and exit status 2, and so
does an output that would overwrite an input, an output folder that cannot be written, a folder
another run is writing into (its pid is named), or a size that would not fit in memory.
``train`` and ``fit`` refuse a folder that holds an earlier run's files unless ``--overwrite``
(``train --resume`` continues it); ``figures``, ``studies`` and ``ablation`` regenerate: they
replace their earlier files. A run's files are renamed into place together when it succeeds.
Ctrl-C or SIGTERM ends a command with one line and exit status 130; ``train`` first saves a
checkpoint at the step reached and names the command that continues it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import sys

__all__ = ["main"]


def _int_at_least(minimum, what):
    """An argparse type: an integer >= ``minimum``, refused with ``what`` it should be."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonnegative_int = _int_at_least(0, "an integer >= 0")
_grid_points = _int_at_least(3, "at least 3 grid points")


def _positive_real(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive finite number; got {text!r}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1; got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction strictly between 0 and 1; got {text!r}")
    return value


def _widths(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected hidden widths such as 64,64; got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive hidden widths such as 64,64; got {text!r}")
    return values


def _fit_parser(sub):
    f = sub.add_parser("fit", help="learn measured trajectories from a .npz or .csv file",
                       description="Learn dx/dt of measured trajectories (a time column and state columns "
                                   "q_1..q_n, p_1..p_n), hold some out, and roll the learned field out "
                                   "from each held-out trajectory's first state. Writes OUT/model.npz, "
                                   "OUT/metrics.json, OUT/rollouts.npz.")
    f.add_argument("data", help="a .npz (one 1-D array per column) or .csv (header line, then numbers)")
    f.add_argument("--kind", choices=["hnn", "baseline", "dhnn", "separable"], default="hnn",
                   help="the model (default hnn; separable: H = V(q) + T(p), with --target trajectory)")
    f.add_argument("--out", required=True, help="folder for model.npz, metrics.json, rollouts.npz")
    f.add_argument("--overwrite", action="store_true",
                   help="replace the files of an earlier run in OUT (without it such a folder is refused)")
    f.add_argument("--time", default="t", help="the time column (default t)")
    f.add_argument("--columns", help="state columns in order, e.g. theta,omega (default: every other column)")
    f.add_argument("--trajectory", help="a column numbering the trajectories (default: one trajectory)")
    f.add_argument("--order", type=int, choices=[2, 4, 6], default=4, help="central-difference order (default 4)")
    f.add_argument("--stride", type=_positive_int, default=1,
                   help="stencil step of STRIDE samples, STRIDE*dt (default 1)")
    f.add_argument("--every", type=_positive_int, help="keep a row every EVERY samples (default STRIDE)")
    f.add_argument("--velocities", choices=["recorded", "differences"], default="recorded",
                   help="velocity columns as recorded, or differences of the positions (default recorded)")
    f.add_argument("--members", type=_positive_int, default=1,
                   help="train MEMBERS networks from seeds SEED, SEED+1, ...; the model is their mean (default 1)")
    f.add_argument("--split", choices=["trajectory", "time"], default="trajectory",
                   help="hold out the last trajectories, or the end of each (default trajectory)")
    f.add_argument("--validation", type=_fraction, default=0.25, help="held-out fraction (default 0.25)")
    f.add_argument("--hidden", type=_widths, default=(64, 64), help="hidden widths (default 64,64)")
    f.add_argument("--steps", type=_nonnegative_int, default=3000, help="Adam steps (default 3000)")
    f.add_argument("--lr", type=_positive_real, default=3e-3, help="initial learning rate (default 3e-3)")
    f.add_argument("--batch-size", type=_positive_int, default=256, help="minibatch rows (default 256)")
    f.add_argument("--seed", type=_nonnegative_int, default=0, help="seed of the weights and batches")
    f.add_argument("--target", choices=["derivative", "trajectory"], default="derivative",
                   help="learn differences of the states, or the states themselves through the integrator "
                        "(with --velocities differences: from the positions alone) (default derivative)")
    f.add_argument("--method", choices=["rk4", "leapfrog"], default="rk4",
                   help="integrator of --target trajectory (leapfrog: --kind separable) (default rk4)")
    f.add_argument("--window", type=_positive_int, default=4, help="intervals per window (default 4)")
    f.add_argument("--substeps", type=_positive_int, default=1, help="integrator steps per interval (default 1)")
    f.add_argument("--learn-starts", action="store_true", help="learn each window's start with the network")
    f.add_argument("--quiet", action="store_true", help="no progress bar")


def _parser():
    p = argparse.ArgumentParser(prog="hnn-np", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="list every named experiment")

    t = sub.add_parser("train", help="train, evaluate and save one named experiment")
    t.add_argument("experiment", help="experiment name (see `hnn-np list`)")
    t.add_argument("--out", default="runs", help="parent folder; files go to OUT/EXPERIMENT/ (default: runs)")
    t.add_argument("--steps", type=_nonnegative_int, help="main-phase Adam steps (default: the experiment's)")
    t.add_argument("--seed", type=_nonnegative_int, help="seed of the weights and the batch order")
    t.add_argument("--dtype", choices=["float32", "float64"], help="floating type (default float64)")
    t.add_argument("--resume", action="store_true",
                   help="continue from OUT/EXPERIMENT/checkpoint.npz (refused if there is none)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the files of an earlier run in OUT/EXPERIMENT (without it, or --resume, "
                        "such a folder is refused)")
    t.add_argument("--quick", action="store_true", help="a few steps only: exercise the pipeline")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    _fit_parser(sub)

    e = sub.add_parser("evaluate", help="metrics of a saved spring model on the meshgrid, as JSON")
    e.add_argument("model", help="a model.npz written by `hnn-np train`")
    e.add_argument("--radius", type=_positive_real, default=100.0, help="grid half-width R (default 100)")
    e.add_argument("--n", type=_grid_points, default=201, help="grid points per axis (default 201)")
    e.add_argument("--json", help="also write the metrics to this file (replaced if it exists; never MODEL)")

    f = sub.add_parser("figures", help="train every experiment and draw every figure")
    f.add_argument("--quick", action="store_true", help="few steps: the whole pipeline in about a minute")
    f.add_argument("--out", default="figures",
                   help="folder for the PNGs and metrics.json, replaced at the end (default: figures)")
    f.add_argument("--runs", default="runs", help="folder for models and datasets, replaced (default: runs)")
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
    x.add_argument("--only", choices=["spring", "systems", "henon-heiles", "dissipative", "real-pendulum"],
                   help="only the spring studies, the systems (pendulums and two-body), the Poincare "
                        "sections of Henon-Heiles, the D-HNN on the damped pendulum, or the real pendulum")
    return p


def _run(args):
    if args.command == "list":
        from .catalog import catalog

        for name, entry in catalog().items():
            print(f"{name:24s} {entry.group:14s} {entry.title}")
    elif args.command == "train":
        from .catalog import run

        _, metrics = run(args.experiment, args.out, steps=args.steps, seed=args.seed, dtype=args.dtype,
                         quick=args.quick, resume=args.resume, progress=False if args.quiet else None,
                         overwrite=args.overwrite)
        print(json.dumps(metrics, indent=2, sort_keys=True))
    elif args.command == "fit":
        from .fit_data import fit_data

        report = fit_data(args.data, args.out, kind=args.kind, time=args.time, columns=args.columns,
                          trajectory=args.trajectory, order=args.order, stride=args.stride,
                          every=args.every,
                          split=args.split, validation=args.validation, hidden=args.hidden,
                          steps=args.steps, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                          velocities=args.velocities, members=args.members, progress=False if args.quiet else None,
                          target=args.target, method=args.method, window=args.window, substeps=args.substeps,
                          learn_starts=args.learn_starts, overwrite=args.overwrite)
        print(json.dumps(report, indent=2, sort_keys=True))
    elif args.command == "evaluate":
        from .evaluate import evaluate_model
        from .io import save_json
        from .model import load_model
        from .outputs import check_output_file
        from .paper.experiments import SPRING

        if args.json:
            check_output_file(args.json, [args.model], "--json file")
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
        from .outputs import check_output_file
        from .paper.ablation import run_ablation, write_ablation

        check_output_file(args.out, (), "--out file")
        write_ablation(args.out, run_ablation(args.runs))
    elif args.command == "studies":
        from .outputs import RunFolder

        with RunFolder(args.out, overwrite=True, what="--out") as run:  # the new files replace the old at the end
            _studies(args, run)


def _studies(args, run):
    if args.only in (None, "spring"):
        from .studies.spring_report import make_spring_studies

        make_spring_studies(run.stage, args.runs, quick=args.quick)
    if args.only in (None, "systems"):
        import shutil

        from .studies.systems import run_systems
        from .studies.two_body import run_two_body

        run_systems(run.stage, args.runs, quick=args.quick)
        run_two_body(args.runs, quick=args.quick, overwrite=True)  # the two-body experiment: its metrics and figure
        for src, dst in (("metrics.json", "two_body.json"), ("two_body.png", "two_body.png")):
            shutil.copyfile(os.path.join(args.runs, "two-body", src), run.path(dst))
    if args.only in (None, "henon-heiles"):
        import shutil

        from .io import save_text
        from .studies.henon_heiles import henon_heiles_table, run_henon_heiles

        _, metrics = run_henon_heiles(args.runs, quick=args.quick, overwrite=True)  # its metrics and figure, copied
        for src, dst in (("metrics.json", "henon_heiles.json"), ("henon_heiles.png", "henon_heiles.png")):
            shutil.copyfile(os.path.join(args.runs, "henon-heiles", src), run.path(dst))
        save_text(run.path("henon_heiles.md"), henon_heiles_table(metrics))
    if args.only in (None, "dissipative"):
        from .studies.dissipative import run_dissipative

        run_dissipative(run.stage, os.path.join(args.runs, "dissipative"), quick=args.quick)
    if args.only in (None, "real-pendulum"):
        from .studies.real_pendulum import run_all

        run_all(run.stage, args.runs, quick=args.quick, progress=False)


def _resume_command(args) -> str:
    """The command line that continues an interrupted ``train``."""
    words = ["hnn-np", "train", args.experiment, "--out", args.out]
    for flag, value in (("--steps", args.steps), ("--seed", args.seed), ("--dtype", args.dtype)):
        if value is not None:
            words += [flag, str(value)]
    words += ["--quick"] * bool(args.quick) + ["--quiet"] * bool(args.quiet) + ["--resume"]
    return " ".join(shlex.quote(w) for w in words)


def _interrupted(args, err) -> str:
    """One line: what stopped the command, where it was, what was kept, and how to go on."""
    from .interrupts import Interrupted

    at = ""
    signame = err.args[0] if err.args and str(err.args[0]).startswith("SIG") else "SIGINT"
    if isinstance(err, Interrupted):
        signame, at = signal.Signals(err.signum).name, f" at step {err.step} of {err.total}"
    line = f"hnn-np {args.command}: stopped by {signame}{at}; "
    if args.command == "train":
        from .catalog import CHECKPOINT

        checkpoint = os.path.join(args.out, args.experiment, CHECKPOINT)
        if os.path.isfile(checkpoint):
            step = f" holds step {err.saved}" if isinstance(err, Interrupted) and err.saved is not None else " is kept"
            return line + (f"{checkpoint}{step} (the other files are left as they were): "
                           f"continue with `{_resume_command(args)}`")
    return line + "nothing was written (the output folder keeps its earlier files)"


def main(argv=None) -> int:
    """Run one command; returns the exit status: 0, 2 after a one-line error, 130 after a one-line interruption."""
    args = _parser().parse_args(argv)
    from .interrupts import terminate_as_interrupt

    try:
        with terminate_as_interrupt():
            _run(args)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM (hnn_np.interrupts)
        print(_interrupted(args, err), file=sys.stderr)
        return 130
    except MemoryError as err:
        print(f"hnn-np {args.command}: error: out of memory{f' ({err})' if str(err) else ''}; "
              "choose smaller sizes", file=sys.stderr)
        return 2
    except (ValueError, FloatingPointError, OSError) as err:
        print(f"hnn-np {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0
