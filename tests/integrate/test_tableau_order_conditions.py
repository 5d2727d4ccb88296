"""The tableaux themselves: consistency, order conditions on rooted trees, dense output.

Order conditions (Hairer, Norsett & Wanner, Solving ODEs I, Section II.2): a
Runge-Kutta method with weights b has order p iff for every rooted tree t with
|t| <= p nodes

    b . Phi(t) = 1 / gamma(t),

where Phi(leaf) = 1 (all ones), Phi([t_1, ..., t_m]) = prod_i (A Phi(t_i))
(elementwise) and gamma(t) = |t| prod_i gamma(t_i). A continuous extension
b(theta) has order p* iff b(theta) . Phi(t) = theta^|t| / gamma(t) for
|t| <= p* (Section II.6).
"""

from functools import lru_cache

import numpy as np
import pytest
import scipy.integrate._ivp.dop853_coefficients as scipy_dop853
from scipy.integrate._ivp.rk import RK45 as ScipyRK45

from hnn_np.integrate import METHODS
from hnn_np.integrate.dop853_coefficients import BHH

# Number of rooted trees with n nodes (OEIS A000081).
N_TREES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 9, 6: 20, 7: 48, 8: 115}


@lru_cache(maxsize=None)
def forests(n_nodes):
    """All multisets of rooted trees with n_nodes nodes in total, as sorted tuples."""
    if n_nodes == 0:
        return ((),)
    found = set()
    for first in range(1, n_nodes + 1):
        for tree in trees(first):
            for rest in forests(n_nodes - first):
                found.add(tuple(sorted((tree,) + rest)))
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def trees(n_nodes):
    """All rooted trees with n_nodes nodes; a tree is the sorted tuple of its root's subtrees."""
    if n_nodes == 1:
        return ((),)
    return forests(n_nodes - 1)


def size(tree):
    return 1 + sum(size(child) for child in tree)


def density(tree):
    """gamma(t) = |t| prod gamma(children)."""
    return size(tree) * np.prod([density(child) for child in tree])


def elementary_weights(tree, A):
    """Phi(t), shape (S,): the elementwise product of A Phi(child) over the children."""
    phi = np.ones(A.shape[0])
    for child in tree:
        phi = phi * (A @ elementary_weights(child, A))
    return phi


def order_defects(b, A, max_order, theta=1.0):
    """max |b . Phi(t) - theta^|t| / gamma(t)| over the trees of each order 1..max_order."""
    return {
        n: max(abs(b @ elementary_weights(t, A) - theta**n / density(t)) for t in trees(n))
        for n in range(1, max_order + 1)
    }


def dense_weights(tab, theta):
    """b(theta), shape (S,): y(t + theta h) = y + h sum_j b_j(theta) k_j for the interpolant.

    From Q_1 = h B.k, Q_2 = h k_0 - Q_1, Q_3 = Q_1 - h k_s - Q_2, Q_{4+r} = h D_r.k
    and the nested form of :func:`hnn_np.integrate.rk.dense_eval` with Q_0 -> 0.
    """
    n_ext, s = tab.A.shape[0], tab.n_stages
    unit = np.eye(n_ext)
    W1 = np.zeros(n_ext)
    W1[:s] = tab.B
    W2 = unit[0] - W1
    W3 = W1 - unit[s] - W2
    rows = [np.zeros(n_ext), W1, W2, W3, *tab.D]
    b = rows[-1]
    for r in range(len(rows) - 2, -1, -1):
        b = rows[r] + (theta if r % 2 == 0 else 1.0 - theta) * b
    return b


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tableau_is_consistent(name):
    tab = METHODS[name]
    s = tab.n_stages
    assert np.all(np.triu(tab.A) == 0), "A must be strictly lower triangular"
    np.testing.assert_allclose(tab.A.sum(axis=1), tab.C, atol=1e-15)
    assert tab.B.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(tab.A[s, :s], tab.B)  # the FSAL row
    assert tab.C[s] == 1.0
    assert tab.E.shape == (s + 1,)
    assert tab.E.sum() == pytest.approx(0.0, abs=1e-15)
    if tab.E3.size:
        assert tab.E3.sum() == pytest.approx(0.0, abs=1e-15)
    assert tab.D.shape[1] == tab.A.shape[0]
    assert not tab.A.flags.writeable


@pytest.mark.parametrize("name", sorted(METHODS))
def test_tree_enumeration_matches_known_counts(name):
    assert {n: len(trees(n)) for n in N_TREES} == N_TREES


@pytest.mark.parametrize("name, order", [("DOP853", 8), ("RK45", 5)])
def test_B_satisfies_all_order_conditions(name, order):
    tab = METHODS[name]
    s = tab.n_stages
    defects = order_defects(tab.B, tab.A[:s, :s], order + 1)
    assert max(defects[n] for n in range(1, order + 1)) < 1e-12
    assert defects[order + 1] > 1e-6  # and not one order more


@pytest.mark.parametrize("name, weights, order", [
    ("RK45", "B - E", 4),      # the embedded 4th-order solution of dopri5
    ("DOP853", "B - E", 5),    # dop853's 5th-order estimator err5
    ("DOP853", "BHH", 3),      # dop853's 3rd-order estimator err3
])  # fmt: skip
def test_embedded_weights_have_their_order(name, weights, order):
    tab = METHODS[name]
    s = tab.n_stages
    A = tab.A[: s + 1, : s + 1]  # stages 0..s, with the FSAL stage
    B = np.append(tab.B, 0.0)
    b_hat = B - tab.E if weights == "B - E" else BHH
    defects = order_defects(b_hat, A, order + 1)
    assert max(defects[n] for n in range(1, order + 1)) < 1e-12
    assert defects[order + 1] > 1e-6


@pytest.mark.parametrize("name, order", [("DOP853", 7), ("RK45", 4)])
@pytest.mark.parametrize("theta", [0.1, 0.37, 0.5, 0.9])
def test_dense_output_has_its_order(name, order, theta):
    tab = METHODS[name]
    defects = order_defects(dense_weights(tab, theta), tab.A, order + 1, theta)
    assert max(defects[n] for n in range(1, order + 1)) < 1e-11
    assert defects[order + 1] > 1e-8


@pytest.mark.parametrize("name", sorted(METHODS))
def test_dense_output_interpolates_the_step_ends(name):
    tab = METHODS[name]
    np.testing.assert_allclose(dense_weights(tab, 0.0), 0.0, atol=1e-15)
    np.testing.assert_allclose(dense_weights(tab, 1.0)[: tab.n_stages], tab.B, atol=1e-13)


def test_dop853_coefficients_equal_scipys():
    tab = METHODS["DOP853"]
    np.testing.assert_array_equal(tab.A, scipy_dop853.A)
    np.testing.assert_array_equal(tab.B, scipy_dop853.B)
    np.testing.assert_array_equal(tab.C, scipy_dop853.C)
    np.testing.assert_array_equal(tab.E, scipy_dop853.E5)
    np.testing.assert_array_equal(tab.E3, scipy_dop853.E3)
    np.testing.assert_array_equal(tab.D, scipy_dop853.D)


def test_rk45_coefficients_equal_scipys():
    tab = METHODS["RK45"]
    np.testing.assert_array_equal(tab.A[:6, :5], ScipyRK45.A)
    np.testing.assert_array_equal(tab.B, ScipyRK45.B)
    np.testing.assert_array_equal(tab.C[:6], ScipyRK45.C)
    np.testing.assert_allclose(tab.E, -ScipyRK45.E, rtol=1e-15)  # scipy's sign is y4 - y5
