"""The exercises' test set-up: Hypothesis profiles, and the package's code in the stubs' place.

``make exercises`` runs the tests on the stubs a learner fills in
(``ex1_tanh.py``, ...). With ``HNN_NP_SOLUTIONS=1`` (``make exercises
SOLUTIONS=1``) each exercise function is replaced, before any test module
imports it, by the implementation in hnn_np that the same tests must accept;
the table :data:`SOLUTIONS` says which. Where the package's function has
another signature, a thin wrapper below adapts it and adds no mathematics of
its own.
"""

import importlib
import os

import numpy as np
from hypothesis import HealthCheck, Phase, settings

from hnn_np import hnn, mlp
from hnn_np.integrate import dop853_coefficients, leapfrog
from hnn_np.integrate.rk import error_norm, rk_step
from hnn_np.optim import adam_update

# the profiles of tests/conftest.py, without the "explain" phase: on a stub every test fails at
# once, and explaining each failure by tracing the code would take seconds per test
PHASES = [phase for phase in Phase if phase is not Phase.explain]
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25, print_blob=True, phases=PHASES,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100, phases=PHASES,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --- thin wrappers: the package's functions under the exercises' signatures ---

def _one_unit(z):
    """The network H(x) = 1 * tanh(1 * x + 0) + 0, in z's dtype, and z as a column of inputs."""
    one, zero = np.ones((1, 1), dtype=z.dtype), np.zeros(1, dtype=z.dtype)
    return [(one, zero), (one.copy(), zero.copy())], z.reshape(-1, 1)


def tanh_prime(z):
    """tanh'(z) as the input gradient of H(x) = tanh(x) (``mlp.input_gradient``)."""
    z = np.asarray(z)
    params, x = _one_unit(z)
    return mlp.input_gradient(params, x).reshape(z.shape)


def tanh_second(z):
    """tanh''(z) as the input Hessian of H(x) = tanh(x) (``mlp.input_hessian``)."""
    z = np.asarray(z)
    params, x = _one_unit(z)
    return mlp.input_hessian(params, x).reshape(z.shape)


def adam_step(p, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """``optim.adam_update`` (in place) on copies, returning the new (p, m, v)."""
    p, m, v = np.array(p), np.array(m), np.array(v)
    adam_update(p, np.asarray(g), m, v, lr, beta1, beta2, eps, 0.0, t)
    return p, m, v


def dop853_step(f, t, y, h, atol, rtol):
    """``rk.rk_step`` and ``rk.error_norm`` with the DOP853 tableau, for ``f(t, y) -> dy/dt``."""
    tab = dop853_coefficients.DOP853
    y = np.asarray(y, dtype=np.float64)
    n = y.shape[0]
    K = np.zeros((tab.A.shape[0], n))
    K[0] = f(t, y)
    y_stage, y_new = np.empty(n), np.empty(n)

    def fun(t, y, dy_dt):  # the in-place convention of rk_step
        dy_dt[:] = f(t, y)

    rk_step(fun, t, y, h, K, y_stage, y_new, tab, ())
    err = error_norm(K, y, y_new, h, tab, np.full(n, float(atol)), np.full(n, float(rtol)))
    return y_new, err


def leapfrog_step(dV_dq, dT_dp, q, p, h):
    """One step of ``integrate.leapfrog`` over (0, h)."""
    out = leapfrog(dV_dq, dT_dp, (0.0, h), q, p, n_steps=1)
    return out.q[-1], out.p[-1]


def spring_step_matrix(h, k, m):
    """The columns of leapfrog's one-step matrix on the spring: its images of e_q and e_p."""
    step = [leapfrog_step(lambda q: k * q, lambda p: p / m, q, p, h) for q, p in (([1.0], [0.0]), ([0.0], [1.0]))]
    return np.array([[q[0], p[0]] for q, p in step]).T


SOLUTIONS = {  # exercise module -> {its function: the package's implementation}
    "ex1_tanh": {"tanh_prime": tanh_prime, "tanh_second": tanh_second},
    "ex2_input_gradient": {"input_gradient": mlp.input_gradient},
    "ex3_hnn_field": {"hnn_field": hnn.vector_field},
    "ex4_loss_and_grad": {"loss_and_grad": hnn.loss_and_grad},
    "ex5_adam": {"adam_step": adam_step},
    "ex6_dop853_step": {"dop853_step": dop853_step},
    "ex7_leapfrog": {"leapfrog_step": leapfrog_step, "spring_step_matrix": spring_step_matrix},
}

if os.environ.get("HNN_NP_SOLUTIONS", "0") not in ("", "0"):
    for module_name, functions in SOLUTIONS.items():
        module = importlib.import_module(module_name)
        for name, solution in functions.items():
            if not callable(getattr(module, name, None)):
                raise RuntimeError(f"{module_name}.py has no function {name} to stand in for")
            setattr(module, name, solution)
