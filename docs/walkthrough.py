# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # hnn_np, run by hand
#
# A walk from the paper's Eqs. (1)-(3) to working code, with numbers small
# enough to follow. Every step ends in an `assert`: if this script runs to the
# end, every check in it passed. It runs as a plain script,
#
#     python docs/walkthrough.py
#
# and opens as a notebook where jupytext is installed
# (`jupytext --to notebook docs/walkthrough.py`). Figures go to the folder named
# by the environment variable `HNN_WALKTHROUGH_OUT`, or to a new temporary
# folder (printed at the end). The derivations behind each step are in
# `docs/derivation.md`.

# %%
import os
import tempfile
import time

import matplotlib

if os.environ.get("MPLBACKEND") is None:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import hnn_np
from hnn_np import hnn, mlp
from hnn_np.integrate import leapfrog, solve_ivp
from hnn_np.symplectic import J_matrix, apply_J, apply_J_T
from hnn_np.testing import check_grads
from hnn_np.testing.mutants import without_tanh_second_term

OUT = os.environ.get("HNN_WALKTHROUGH_OUT") or tempfile.mkdtemp(prefix="hnn_walkthrough_")
os.makedirs(OUT, exist_ok=True)
np.set_printoptions(precision=6, suppress=True)
T_START = time.perf_counter()

# %% [markdown]
# ## 1. A 2-3-1 tanh network by hand
#
# Two inputs $x = (q, p)$, three tanh units, one linear output $H$:
#
# $$z_0 = x W_0 + b_0,\quad a_1 = \tanh z_0,\quad H = a_1 W_1 + b_1 .$$
#
# Its input gradient is one backward sweep: $g_1 = w$ (the output column),
# $d_0 = g_1 \odot (1 - a_1^2)$, $\partial H/\partial x = d_0 W_0^\top$.

# %%
W0 = np.array([[0.5, -0.3, 0.8],
               [0.2, 0.7, -0.4]])  # (2, 3)
b0 = np.array([0.1, -0.2, 0.0])  # (3,)
W1 = np.array([[1.0], [-0.5], [0.3]])  # (3, 1)
b1 = np.array([0.05])  # (1,)
params = [(W0, b0), (W1, b1)]
x = np.array([[0.6, -0.4]])  # one state (q, p) = (0.6, -0.4)

z0 = x @ W0 + b0  # (1, 3)
a1 = np.tanh(z0)  # (1, 3)
H = a1 @ W1 + b1  # (1, 1)
print("z0 =", z0, " a1 =", a1, " H =", H)
for j in range(3):  # unit by unit, as on paper
    print(f"unit {j}: z = {x[0, 0]}*{W0[0, j]} + {x[0, 1]}*{W0[1, j]} + {b0[j]} = {z0[0, j]:.6f}, "
          f"tanh(z) = {a1[0, j]:.6f}")
assert np.allclose(H, mlp.forward(params, x), rtol=1e-15, atol=0)

s1 = 1 - a1**2  # tanh'(z0)                        (1, 3)
g1 = W1[:, 0][None, :]  # dH/da1 = w                  (1, 3)
d0 = g1 * s1  # dH/dz0                               (1, 3)
dH_dx = d0 @ W0.T  # dH/dx                           (1, 2)
print("dH/dx by hand:        ", dH_dx)
print("mlp.input_gradient:   ", mlp.input_gradient(params, x))
assert np.allclose(dH_dx, mlp.input_gradient(params, x), rtol=1e-14, atol=0)

# %% [markdown]
# A central difference of the forward pass knows nothing about the sweep, so it
# is an independent check: $\partial H/\partial x_i \approx
# (H(x + e\,\hat e_i) - H(x - e\,\hat e_i)) / 2e$, with error $O(e^2)$.

# %%
e = 1e-5
fd = np.array([[(mlp.forward(params, x + e * np.eye(2)[i])[0, 0]
                 - mlp.forward(params, x - e * np.eye(2)[i])[0, 0]) / (2 * e) for i in range(2)]])
print("central differences:  ", fd, " max |error| =", np.abs(fd - dH_dx).max())
assert np.abs(fd - dH_dx).max() < 1e-9

# %% [markdown]
# The HNN's field is $S = J\,\partial H/\partial x = (\partial H/\partial p,
# -\partial H/\partial q)$, Eq. (2) with $H_\theta$ in place of $H$.

# %%
S = apply_J(dH_dx)
print("S = (dH/dp, -dH/dq) =", S)
assert np.array_equal(S, hnn.vector_field(params, x))
assert np.array_equal(S, dH_dx @ J_matrix(1).T)
assert abs(float(np.sum(dH_dx * S))) < 1e-15  # S is orthogonal to dH/dx: H is constant along S

# %% [markdown]
# ## 2. The second-order backprop of a one-hidden-layer HNN, inline
#
# The loss (Eq. 3, as a mean square) $L = \mathrm{mean}((S - \dot x)^2)$
# depends on the weights only through $\partial H/\partial x$. Backprop runs
# backwards through the sweep (Step 1), then through the forward pass (Step 2).
# The names are those of `hnn.loss_and_grad`.

# %%
X = np.array([[0.6, -0.4], [-1.1, 0.3], [0.2, 0.9]])  # three states         (3, 2)
Y = np.array([[0.5, 0.1], [-0.2, 0.7], [0.3, -0.6]])  # their "observed" dx/dt (3, 2)


def one_hidden_layer_loss_and_grad(params, x, dxdt, tanh_second_term=True):
    """loss and [(dL_dW0, dL_db0), (dL_dW1, dL_db1)], written out for L = 2 layers."""
    (W0, b0), (W1, b1) = params
    a1 = np.tanh(x @ W0 + b0)  # forward                   (N, m)
    s1 = 1 - a1**2  # tanh'(z0)                               (N, m)
    g1 = np.repeat(W1[:, 0][None, :], len(x), axis=0)  # g[1] = w  (N, m)
    d0 = g1 * s1  # d[0] = g[1] * s1                          (N, m)
    g0 = d0 @ W0.T  # g[0] = dH/dx                             (N, 2)
    S = apply_J(g0)  # S = J dH/dx                            (N, 2)
    r = S - dxdt
    loss = float(np.mean(r**2))
    # Step 0: the loss
    S_bar = 2 * r / r.size  # dL/dS                           (N, 2)
    g0_bar = apply_J_T(S_bar)  # dH_dx_bar = J.T S_bar           (N, 2)
    # Step 1: backwards through the sweep
    d0_bar = g0_bar @ W0  # from g[0] = d[0] @ W0.T            (N, m)
    dL_dW0 = g0_bar.T @ d0  #   ... and W0's use in the sweep  (2, m)
    g1_bar = d0_bar * s1  # from d[0] = g[1] * s1             (N, m)
    s1_bar = d0_bar * g1  #   ... and s1's use                (N, m)
    dL_dW1 = g1_bar.sum(axis=0)[:, None]  # from g[1] = w, for every row  (m, 1)
    dL_db1 = np.zeros_like(b1)  # H itself does not enter the loss
    # Step 2: backwards through the forward pass
    a1_bar = -2 * a1 * s1_bar if tanh_second_term else 0 * s1_bar  # s1 = 1 - a1**2
    z0_bar = a1_bar * s1  # a1 = tanh(z0)                     (N, m)
    dL_dW0 = dL_dW0 + x.T @ z0_bar  # z0 = x @ W0 + b0          (2, m)
    dL_db0 = z0_bar.sum(axis=0)  #                             (m,)
    return loss, [(dL_dW0, dL_db0), (dL_dW1, dL_db1)]


loss, grads = one_hidden_layer_loss_and_grad(params, X, Y)
loss_ref, grads_ref = hnn.loss_and_grad(params, X, Y)
print(f"loss inline {loss:.12f}, hnn.loss_and_grad {loss_ref:.12f}")
for (dW, db), (dW_ref, db_ref), l in zip(grads, grads_ref, range(2)):
    print(f"dL/dW[{l}] =\n{dW}\ndL/db[{l}] = {db}")
    assert np.allclose(dW, dW_ref, rtol=1e-13, atol=1e-16) and np.allclose(db, db_ref, rtol=1e-13, atol=1e-16)
assert np.all(grads[1][1] == 0)  # the output bias: no gradient, ever

# %% [markdown]
# `check_grads` (from `hnn_np.testing`) compares $\langle \nabla L, v\rangle$
# with a central difference of $L$ along random unit directions $v$ in the
# space of all parameters. It returns the worst relative error, or raises.

# %%
loss_of = lambda p: one_hidden_layer_loss_and_grad(p, X, Y)[0]  # noqa: E731
err = check_grads(loss_of, lambda p: one_hidden_layer_loss_and_grad(p, X, Y)[1], params)
print(f"inline backprop: worst relative error {err:.2e} over 10 directions")
assert err < 1e-7

# %% [markdown]
# ## 3. Without the tanh'' term
#
# $a_1$ reaches the loss twice: through the next layer and through
# $s_1 = 1 - a_1^2$, the derivative the sweep used. Dropping the second path
# (`a1_bar = 0` here; there is no next layer) is the classic double-backprop
# slip. Its gradient is wrong, and the check says so.

# %%
try:
    check_grads(loss_of, lambda p: one_hidden_layer_loss_and_grad(p, X, Y, tanh_second_term=False)[1], params)
except AssertionError as failure:
    print("without the tanh'' term:", failure)
else:
    raise AssertionError("check_grads accepted a gradient without the tanh'' term")

# the same slip, made in the package's own loss_and_grad (hnn_np.testing.mutants), on a deeper network
deep = [(1.5 * W, 1.5 * b) for W, b in mlp.init_params((2, 8, 8, 1), seed=0)]
loss_deep = lambda p: hnn.loss_and_grad(p, X, Y)[0]  # noqa: E731
print("hnn.loss_and_grad, 2-8-8-1:", f"{check_grads(loss_deep, lambda p: hnn.loss_and_grad(p, X, Y)[1], deep):.2e}")
mutant = without_tanh_second_term()
try:
    check_grads(loss_deep, lambda p: mutant(p, X, Y)[1], deep)
except AssertionError as failure:
    print("mutant:", failure)
else:
    raise AssertionError("check_grads accepted the tanh''-less mutant")

# %% [markdown]
# ### What ReLU does
#
# For ReLU, $s_1$ is a step function of $z$, so its derivative $s_2$ is zero
# almost everywhere: the whole of Step 2 vanishes. Then $\bar z = 0$, so **every
# bias gets zero gradient** and each weight keeps only its Step-1 term
# $\bar g^\top d$ (the weights do still learn, through their place in the
# sweep). Central differences of a ReLU HNN's loss confirm both.

# %%
def relu_hnn_loss(params, x, dxdt):
    (W0, b0), (W1, _) = params
    step = (x @ W0 + b0 > 0).astype(float)  # relu'(z0); relu'' = 0 away from z0 = 0
    dH_dx = (step * W1[:, 0]) @ W0.T
    return float(np.mean((apply_J(dH_dx) - dxdt) ** 2))


def relu_step1_only_grad(params, x, dxdt):
    (W0, b0), (W1, b1) = params
    step = (x @ W0 + b0 > 0).astype(float)
    d0 = step * W1[:, 0]
    r = apply_J(d0 @ W0.T) - dxdt
    g0_bar = apply_J_T(2 * r / r.size)
    g1_bar = (g0_bar @ W0) * step
    return [(g0_bar.T @ d0, np.zeros_like(b0)), (g1_bar.sum(axis=0)[:, None], np.zeros_like(b1))]


z_min = np.abs(X @ W0 + b0).min()
assert z_min > 1e-2  # no unit sits at its kink, so small steps do not cross one
err_relu = check_grads(lambda p: relu_hnn_loss(p, X, Y), lambda p: relu_step1_only_grad(p, X, Y), params,
                       eps=1e-4)
print(f"ReLU: biases zero, weights from Step 1 only: worst relative error {err_relu:.2e}")
assert err_relu < 1e-7
dL_db0_fd = [(relu_hnn_loss([(W0, b0 + 1e-4 * np.eye(3)[j]), (W1, b1)], X, Y)
              - relu_hnn_loss([(W0, b0 - 1e-4 * np.eye(3)[j]), (W1, b1)], X, Y)) / 2e-4 for j in range(3)]
print("ReLU dL/db0 by central differences:", np.array(dL_db0_fd))
assert np.all(np.array(dL_db0_fd) == 0.0)
assert np.abs(relu_step1_only_grad(params, X, Y)[0][0]).max() > 1e-3  # W0 does learn

# %% [markdown]
# ## 4. Training an HNN on the spring (the readable path)
#
# The paper's system, $H = k q^2/2 + p^2/2m$ with $k = m = 2$ (its Eq. 4).
# States on 20 orbits, their exact time derivatives, and a small HNN trained by
# `hnn_np.fit(..., reference=True)`: `hnn.loss_and_grad` and `optim.Adam`, the
# code derived in `docs/derivation.md`.

# %%
spring = hnn_np.MassSpring()
rng = np.random.default_rng(0)
radii = rng.uniform(0.2, 1.0, 20)  # initial states 0.2 .. 1 from the origin
phases = rng.uniform(0, 2 * np.pi, 20)
x0 = np.stack([radii * np.cos(phases), radii * np.sin(phases)], axis=1)  # (20, 2)
t_obs = np.linspace(0, 2 * np.pi, 25, endpoint=False)  # one period (omega = 1)
x_train = spring.exact_solution(x0, t_obs).reshape(-1, 2)  # (500, 2)
dxdt_train = spring.time_derivative(x_train)  # (500, 2)

config = hnn_np.TrainConfig(sizes=(2, 32, 32, 1), steps=1500, finetune_steps=0, batch_size=64, lr=3e-3,
                            seed=0)
t0 = time.perf_counter()
model = hnn_np.fit(x_train, dxdt_train, config, reference=True, progress=False)
loss_curve = model.history["train_loss"]
print(f"trained in {time.perf_counter() - t0:.1f} s: loss {loss_curve[0]:.3e} at step 1, "
      f"{loss_curve[-100:].mean():.3e} over the last 100 steps")
assert loss_curve[-100:].mean() < loss_curve[0] / 100

q, p = np.meshgrid(np.linspace(-1.1, 1.1, 45), np.linspace(-2.1, 2.1, 85))
grid = np.stack([q.ravel(), p.ravel()], axis=1)
H_true = spring.energy(grid)
H_learned = model.energy(grid)  # defined up to an additive constant
inside = H_true <= spring.energy(x_train).max()  # the part of the plane the orbits cover
H_learned = H_learned - H_learned[inside].mean() + H_true[inside].mean()
rel_rms = np.sqrt(np.mean((H_learned - H_true)[inside] ** 2)) / np.std(H_true[inside])
print(f"learned energy inside the outermost orbit: rms error {rel_rms:.2%} of the energy's spread")
assert rel_rms < 0.05

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.semilogy(model.history["step"], loss_curve)
ax0.set(xlabel="step", ylabel="training loss (minibatch)", title="HNN on the spring")
levels = np.linspace(0.05, spring.energy(x_train).max(), 8)
ax1.contour(q, p, H_true.reshape(q.shape), levels, colors="k", linewidths=0.8)
ax1.contour(q, p, H_learned.reshape(q.shape), levels, colors="C1", linestyles="--")
ax1.plot(x_train[:, 0], x_train[:, 1], ".", ms=2, color="C0")
ax1.set(xlabel="q", ylabel="p", title="energy: true (black), learned (dashed)")
fig.tight_layout()
fig.savefig(os.path.join(OUT, "hnn_spring.png"), dpi=100)
plt.close(fig)

# %% [markdown]
# ## 5. DOP853 against RK45 on one trajectory's energy
#
# The paper's Fig. 3 in a form that can fail: the true spring from
# $(q, p) = (1, 0)$ to $t = 100$ (about 16 periods), integrated by both methods
# at the same tolerance (`atol = rtol / 1000`). The energy should be constant;
# how far it moves is the integrator's error. Neither method is symplectic, so
# for both the error grows with time; at a tolerance of 1e-6 or tighter DOP853
# keeps it smaller *and* spends fewer evaluations of the field. At scipy's loose
# default `rtol=1e-3` the comparison can go the other way: the first printed
# row shows it.

# %%
def spring_rhs(t, y):
    return np.array([y[1] / spring.m, -spring.k * y[0]])  # (dH/dp, -dH/dq)


t_eval = np.linspace(0, 100, 1001)
energy_error, nfev = {}, {}
for rtol in (1e-3, 1e-6, 1e-8):
    for method in ("RK45", "DOP853"):
        sol = solve_ivp(spring_rhs, (0, 100), np.array([1.0, 0.0]), method=method, t_eval=t_eval,
                        rtol=rtol, atol=rtol * 1e-3)
        E = spring.energy(sol.y.T)
        energy_error[method, rtol], nfev[method, rtol] = np.abs(E / E[0] - 1), sol.nfev
        err_E = energy_error[method, rtol]
        print(f"rtol {rtol:.0e} {method:>6}: {sol.nfev:5d} evaluations, |E/E0 - 1| = {err_E[100]:.2e} "
              f"at t = 10, {err_E[-1]:.2e} at t = 100")
for rtol in (1e-6, 1e-8):
    assert energy_error["DOP853", rtol].max() < energy_error["RK45", rtol].max()
    assert nfev["DOP853", rtol] < nfev["RK45", rtol] / 2
    assert energy_error["RK45", rtol][-1] > 5 * energy_error["RK45", rtol][100]  # a drift, growing with t

fig, ax = plt.subplots(figsize=(6, 3.5))
for (method, rtol), err_E in energy_error.items():
    if rtol == 1e-6:
        ax.semilogy(t_eval[1:], err_E[1:], label=f"{method} ({nfev[method, rtol]} evaluations)")
ax.set(xlabel="t", ylabel="|E/E0 - 1|", title="spring, rtol=1e-6, atol=1e-9")
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(OUT, "dop853_vs_rk45.png"), dpi=100)
plt.close(fig)

# %% [markdown]
# ## 6. Leapfrog: symplectic, with a bounded energy error
#
# One step of Stormer-Verlet on the spring is a linear map $M$; it is
# symplectic, $M^\top J M = J$, to round-off. Its energy error does not drift:
# it oscillates at $O(h^2)$, because leapfrog exactly conserves a nearby
# *modified* energy, for the spring
# $\tilde H = p^2/2m + (k q^2/2)(1 - h^2\omega^2/4)$.

# %%
k, m = spring.k, spring.m
dH_dq = lambda q: k * q  # noqa: E731
dH_dp = lambda p: p / m  # noqa: E731
h = 0.1
M = np.column_stack([np.concatenate(leapfrog(dH_dq, dH_dp, (0, h), col[:1], col[1:], n_steps=1)[1:3], axis=1)[1]
                     for col in np.eye(2)])  # columns: one step from (1, 0) and from (0, 1)
print("one leapfrog step M =\n", M, "\nM.T J M - J =\n", M.T @ J_matrix(1) @ M - J_matrix(1))
assert np.abs(M.T @ J_matrix(1) @ M - J_matrix(1)).max() < 1e-15

max_err = {}
for h in (0.1, 0.05):
    run = leapfrog(dH_dq, dH_dp, (0, 2000), np.array([1.0]), np.array([0.3]), dt=h)
    qs, ps = run.q[:, 0], run.p[:, 0]
    E = 0.5 * k * qs**2 + ps**2 / (2 * m)
    E_mod = 0.5 * k * qs**2 * (1 - h**2 * (k / m) / 4) + ps**2 / (2 * m)
    err_E = np.abs(E / E[0] - 1)
    half = len(E) // 2
    max_err[h] = err_E.max()
    print(f"h = {h}: {len(E) - 1} steps, max |E/E0 - 1| = {err_E.max():.3e} "
          f"(first half {err_E[:half].max():.3e}, second half {err_E[half:].max():.3e}); "
          f"modified energy moves by {np.ptp(E_mod) / E_mod[0]:.1e}")
    assert err_E[half:].max() < 1.01 * err_E[:half].max()  # no drift
    assert np.ptp(E_mod) / E_mod[0] < 1e-12  # the modified energy is conserved
    if h == 0.1:
        t_lf, err_lf = run.t, err_E
ratio = max_err[0.1] / max_err[0.05]
print(f"halving h divides the energy error by {ratio:.3f} (order 2: 4)")
assert 3.9 < ratio < 4.1

rk = solve_ivp(spring_rhs, (0, 2000), np.array([1.0, 0.3]), method="RK45", t_eval=t_lf[::10], rtol=1e-6,
               atol=1e-9)
E_rk = spring.energy(rk.y.T)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(t_lf[1::10], err_lf[1::10], label="leapfrog, h = 0.1")
ax.semilogy(rk.t[1:], np.abs(E_rk / E_rk[0] - 1)[1:], label="RK45, rtol=1e-6")
ax.set(xlabel="t", ylabel="|E/E0 - 1|", title="bounded against drifting energy error")
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(OUT, "leapfrog_energy.png"), dpi=100)
plt.close(fig)

# %%
print(f"walkthrough done in {time.perf_counter() - T_START:.1f} s; figures in {OUT}")
