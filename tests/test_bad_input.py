"""Bad input at the public boundaries: a ValueError that names the argument.

Each row is one call a careful user could make by mistake, with the message
expected.
"""

import json

import numpy as np
import pytest

from hnn_np import data, mlp, optim
from hnn_np.integrate import leapfrog, solve_ivp, solve_ivp_batch
from hnn_np.model import Model, load_model
from hnn_np.refine import fit_output_layer
from hnn_np.systems import MassSpring
from hnn_np.train import TrainConfig, TrainingDiverged, fit

P = mlp.init_params((2, 8, 1), seed=0)
X = np.random.default_rng(0).normal(size=(5, 2))
Y = np.random.default_rng(1).normal(size=(5, 2))
SMALL = TrainConfig(sizes=(2, 8, 1), steps=3, finetune_steps=0, batch_size=2)
DS = data.make_dataset(n_traj=4, n_obs=5)


def f(t, y):
    return np.array([y[1], -y[0]])


def adam_step(grads):
    params = mlp.init_params((2, 4, 1))
    optim.Adam(params).step(grads(params))


LF = dict(dH_dq=lambda q: q, dH_dp=lambda p: p, t_span=(0, 1), q0=[1.0], p0=[0.0])

CASES = {
    # mlp
    "init_params seed=2.9": (lambda: mlp.init_params((2, 4, 1), seed=2.9), "seed must be an integer; got 2.9"),
    "init_params seed=True": (lambda: mlp.init_params((2, 4, 1), seed=True), "seed must be an integer; got True"),
    "init_params seed=-1": (lambda: mlp.init_params((2, 4, 1), seed=-1), "seed must be >= 0"),
    "init_params dtype='junk'": (lambda: mlp.init_params((2, 4, 1), dtype="junk"), "dtype must be float32 or float64"),
    "init_params sizes with 2.9": (lambda: mlp.init_params((2, 2.9, 1)), "sizes must be a sequence of positive integers"),
    # optim.Adam
    "Adam lr='1e-3'": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), lr="1e-3"), "lr must be a real number"),
    "Adam lr=True": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), lr=True), "lr must be a real number; got True"),
    "Adam lr=None": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), lr=None), "lr must be a real number; got None"),
    "Adam betas=0.9": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), betas=0.9), r"betas must be a pair"),
    "Adam betas=(0.9, 'a')": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), betas=(0.9, "a")),
                              r"betas\[1\] must be a real number"),
    "Adam betas=(0.9, 1.0)": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), betas=(0.9, 1.0)),
                              r"betas\[1\] must be in \[0, 1\)"),
    "Adam eps=inf": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), eps=np.inf), "eps must be finite"),
    "Adam weight_decay=inf": (lambda: optim.Adam(mlp.init_params((2, 4, 1)), weight_decay=np.inf),
                              "weight_decay must be finite"),
    "Adam NaN weights": (lambda: optim.Adam([(np.full((2, 1), np.nan), np.zeros(1))]),
                         r"params\[0\] W has non-finite values"),
    "Adam.step NaN grads": (lambda: adam_step(lambda p: [(np.full_like(W, np.nan), b) for W, b in p]),
                            r"grads\[0\] has non-finite values"),
    "Adam.step grads=None": (lambda: adam_step(lambda p: None), "grads must be a list"),
    "Adam.step grads as lists": (lambda: adam_step(lambda p: [(W.tolist(), b.tolist()) for W, b in p]),
                                 r"grads\[0\] must be a pair of numpy arrays"),
    "Adam.load_state_dict {}": (lambda: optim.Adam(mlp.init_params((2, 4, 1))).load_state_dict({}),
                                "state lacks the keys"),
    # data
    "make_dataset n_traj=2.9": (lambda: data.make_dataset(n_traj=2.9, n_obs=5), "n_traj must be an integer; got 2.9"),
    "make_dataset n_obs=True": (lambda: data.make_dataset(n_traj=2, n_obs=True), "n_obs must be an integer; got True"),
    "make_dataset seed=True": (lambda: data.make_dataset(n_traj=2, n_obs=5, seed=True), "seed must be an integer"),
    "make_dataset radius='1'": (lambda: data.make_dataset(n_traj=2, n_obs=5, radius="1"), "radius must be a real number"),
    "make_dataset noise_std=True": (lambda: data.make_dataset(n_traj=2, n_obs=5, noise_std=True),
                                    "noise_std must be a real number; got True"),
    "make_dataset t_span of strings": (lambda: data.make_dataset(n_traj=2, n_obs=5, t_span=("0", "1")),
                                       r"t_span\[0\] must be a real number"),
    "make_dataset rtol=True": (lambda: data.make_dataset(n_traj=2, n_obs=5, rtol=True), "rtol must be a real number"),
    "make_dataset log_energy='no'": (lambda: data.make_dataset(n_traj=2, n_obs=5, log_energy="no"),
                                     "log_energy must be True or False"),
    "make_dataset system='spring'": (lambda: data.make_dataset(system="spring", n_traj=2, n_obs=5),
                                     "system must be a hnn_np.systems.System"),
    "make_dataset dtype='junk'": (lambda: data.make_dataset(n_traj=2, n_obs=5, dtype="junk"),
                                  "dtype must be float32 or float64"),
    "train_test_split ds='x'": (lambda: data.train_test_split("x"), "ds must be a Dataset"),
    "train_test_split test_fraction='0.5'": (lambda: data.train_test_split(DS, "0.5"), "test_fraction must be a real"),
    "train_test_split seed=2.9": (lambda: data.train_test_split(DS, 0.5, seed=2.9), "seed must be an integer"),
    "finite_difference order=2.0": (lambda: data.finite_difference(np.zeros((6, 2)), 0.1, 2.0),
                                    r"order must be one of the integers \(2, 4, 6\); got 2.0"),
    "finite_difference dt=True": (lambda: data.finite_difference(np.zeros((6, 2)), True, 2), "dt must be a real number"),
    "finite_difference complex x": (lambda: data.finite_difference(np.zeros((6, 2)) + 1j, 0.1, 2),
                                    "x must be a real numeric array"),
    "finite_difference bool x": (lambda: data.finite_difference(np.zeros((6, 2), bool), 0.1, 2),
                                 "x must be a real numeric array"),
    "finite_difference NaN x": (lambda: data.finite_difference(np.full((6, 2), np.nan), 0.1, 2), "x has non-finite"),
    "finite_difference overflow": (lambda: data.finite_difference(np.array([[1e308], [0], [-1e308]]), 1e-300, 2),
                                   "overflow float64"),
    "Scale s=True": (lambda: data.Scale(True), "s must be a real number; got True"),
    "Scale s='1'": (lambda: data.Scale("1"), "s must be a real number"),
    "Scale.fit empty": (lambda: data.Scale.fit(np.zeros((0, 2))), r"x must have shape \(N, 2n\) with N >= 1"),
    "Scale.fit complex": (lambda: data.Scale.fit(np.ones((3, 2)) + 1j), "x must be a real numeric array"),
    "Dataset t complex": (lambda: data.Dataset(DS.x, DS.dx_dt, DS.t + 0j, DS.traj, DS.energy, "s"),
                          "t must be a float array"),
    "Dataset x a list": (lambda: data.Dataset(DS.x.tolist(), DS.dx_dt, DS.t, DS.traj, DS.energy, "s"),
                         "x must be a numpy.ndarray"),
    "Dataset meta a list": (lambda: data.Dataset(DS.x, DS.dx_dt, DS.t, DS.traj, DS.energy, "s", []),
                            "meta must be a dict"),
    "save_dataset ds='x'": (lambda: data.save_dataset("unused.npz", "x"), "ds must be a Dataset"),
    "load_dataset path=None": (lambda: data.load_dataset(None), "path of the dataset file must be a str"),
    # train (already strict)
    "TrainConfig steps=2.9": (lambda: TrainConfig(steps=2.9), "steps must be an integer; got 2.9"),
    "TrainConfig steps=True": (lambda: TrainConfig(steps=True), "steps must be an integer; got True"),
    "TrainConfig batch_size=2.5": (lambda: TrainConfig(batch_size=2.5), "batch_size must be an integer"),
    "TrainConfig batch_size=True": (lambda: TrainConfig(batch_size=True), "batch_size must be an integer"),
    "TrainConfig sizes (2, 2.5, 1)": (lambda: TrainConfig(sizes=(2, 2.5, 1)), "sizes must be a sequence"),
    "TrainConfig seed=True": (lambda: TrainConfig(seed=True), "seed must be an integer; got True"),
    "TrainConfig eval_every=0": (lambda: TrainConfig(eval_every=0), "eval_every must be >= 1"),
    "fit checkpoint_every=0": (lambda: fit(X, Y, SMALL, checkpoint_every=0), "checkpoint_every must be >= 1"),
    "fit checkpoint_every=-3": (lambda: fit(X, Y, SMALL, checkpoint_every=-3), "checkpoint_every must be >= 1"),
    "fit checkpoint_every=2.5": (lambda: fit(X, Y, SMALL, checkpoint_every=2.5), "checkpoint_every must be an integer"),
    "fit complex x": (lambda: fit(X + 1j, Y, SMALL), "x must be a real numeric array"),
    "fit bool dxdt": (lambda: fit(X, Y > 0, SMALL), "dxdt must be a real numeric array"),
    # model (already strict where not marked)
    "Model NaN weights": (lambda: Model("hnn", [(W * np.nan, b) for W, b in P]), r"params\[0\] W has non-finite"),
    "Model scale=True": (lambda: Model("hnn", P, scale=True), "scale must be a positive finite number"),
    "Model.energy bool x": (lambda: Model("hnn", P).energy(X > 0), "x must be a real numeric array"),
    "load_model path=None": (lambda: load_model(None), "path of the model file must be a str"),
    # integrate (already strict where not marked)
    "solve_ivp complex y0": (lambda: solve_ivp(f, (0, 1), np.array([1 + 1j, 0])), "y0 must be real"),
    "solve_ivp bool y0": (lambda: solve_ivp(f, (0, 1), np.array([True, False])), "y0 must be real"),
    "solve_ivp empty y0": (lambda: solve_ivp(f, (0, 1), np.zeros(0)), "y0 must be a non-empty array"),
    "solve_ivp max_steps=2.9": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], max_steps=2.9), "max_steps must be a positive"),
    "solve_ivp_batch 1-D y0s": (lambda: solve_ivp_batch(f, (0, 1), np.ones(2), [0.5]), "y0s must be a non-empty"),
    "leapfrog n_steps=2.9": (lambda: leapfrog(**LF, n_steps=2.9), "n_steps must be a positive integer"),
    "leapfrog complex q0": (lambda: leapfrog(**{**LF, "q0": [1j]}, n_steps=2), "q0 must be real"),
}


# Calls into the refit, the model and the integrators, refused like the rest.
for _name, (_call, _match) in {
    "Model config=5": (lambda: Model("hnn", P, config=5), "config must be a dict"),
    "Model config='ab'": (lambda: Model("hnn", P, config="ab"), "config must be a dict"),
    "fit_output_layer kind='foo'": (lambda: fit_output_layer("foo", mlp.init_params((2, 8, 1)), X, Y), "kind must be one of"),
    "fit_output_layer complex x": (lambda: fit_output_layer("hnn", mlp.init_params((2, 8, 1)), X + 1j, Y), "x must be a numeric array"),
    "fit_output_layer NaN weights": (lambda: fit_output_layer("hnn", [(W * np.nan, b) for W, b in P], X, Y), "non-finite"),
    "fit_output_layer negative row weights": (
        lambda: fit_output_layer("hnn", mlp.init_params((2, 8, 1)), X, Y, -np.ones(5)), "weights must be finite and >= 0"),
    "fit_output_layer dxdt rows": (lambda: fit_output_layer("hnn", mlp.init_params((2, 8, 1)), X, Y[:2]), "dxdt has 2 rows"),
    "solve_ivp t_span=(0, True)": (lambda: solve_ivp(f, (0, True), [1.0, 0.0]), r"t_span\[1\] must be a finite real"),
    "solve_ivp complex t_eval": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], t_eval=np.array([0.5 + 1j])), "t_eval must be real"),
    "solve_ivp t_eval of strings": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], t_eval=["0.5"]), "t_eval must be real"),
    "solve_ivp_batch complex t_eval": (
        lambda: solve_ivp_batch(f, (0, 1), np.ones((2, 2)), np.array([0.5 + 1j])), "t_eval must be real"),
    "solve_ivp rtol='1e-6'": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], rtol="1e-6"), "rtol must be"),
    "solve_ivp complex rtol": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], rtol=1e-6 + 1j), "rtol must be"),
    "solve_ivp atol=True": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], atol=True), "atol must be"),
    "solve_ivp max_steps=True": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], max_steps=True), "max_steps must be"),
    "solve_ivp first_step=True": (lambda: solve_ivp(f, (0, 1), [1.0, 0.0], first_step=True), "first_step must be"),
    "leapfrog n_steps=True": (lambda: leapfrog(**LF, n_steps=True), "n_steps must be a positive integer"),
    "leapfrog dt=True": (lambda: leapfrog(**LF, dt=True), "dt must be a positive number"),
    "leapfrog complex dt": (lambda: leapfrog(**LF, dt=0.1j), "dt must be a positive number"),
    "leapfrog dt='0.1'": (lambda: leapfrog(**LF, dt="0.1"), "dt must be a positive number"),
    "leapfrog complex gradient": (lambda: leapfrog(**{**LF, "dH_dq": lambda q: q * 1j}, n_steps=2), "dH_dq must return real values"),
}.items():
    CASES[_name] = (_call, _match)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_by_name(case, tmp_path, monkeypatch):
    call, match = CASES[case]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=match):
        call()
