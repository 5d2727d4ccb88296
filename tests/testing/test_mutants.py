"""hnn_np.testing.mutants: the piece of code a mutant breaks is found by its syntax, whatever the formatting."""

import inspect
import textwrap

import numpy as np
import pytest

from hnn_np import hnn, mlp
from hnn_np.testing.mutants import mutate, mutated_source, without_tanh_second_term

TANH_LINE = "a_bar = -2 * a[l + 1] * s1_bar[l]"
REFORMATTED = """a_bar = (  # the tanh'' term, reformatted as a formatter might
            -2*a[l+1]
            * s1_bar[l]
        )"""


def loss_and_grad_source():
    return textwrap.dedent(inspect.getsource(hnn.loss_and_grad))


def compiled(source):
    namespace = dict(vars(hnn))
    exec(compile(source, "<mutant>", "exec"), namespace)
    return namespace["loss_and_grad"]


def test_the_mutant_is_found_in_reformatted_source():
    """A formatter's rewrap of the tanh'' line leaves the mutant the same function, bit for bit."""
    source = loss_and_grad_source()
    assert source.count(TANH_LINE) == 1
    reformatted = source.replace(TANH_LINE, REFORMATTED)
    assert TANH_LINE not in reformatted  # a text match would no longer find it
    compile(reformatted, "<reformatted>", "exec")  # still valid Python
    mutant = mutated_source(reformatted, TANH_LINE, "a_bar = 0 * s1_bar[l]")
    assert mutant == mutated_source(source, TANH_LINE, "a_bar = 0 * s1_bar[l]")
    params = mlp.init_params((2, 8, 8, 1), seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2))
    _, expected = without_tanh_second_term()(params, x, x)
    _, got = compiled(mutant)(params, x, x)
    _, real = hnn.loss_and_grad(params, x, x)
    for (W, b), (W_e, b_e), (W_r, _) in zip(got, expected, real):
        assert W.tobytes() == W_e.tobytes() and b.tobytes() == b_e.tobytes()
    assert any(np.abs(W - W_r).max() > 1e-3 * np.abs(W_r).max() for (W, _), (W_r, _) in zip(got, real[:-1]))


def test_an_expression_is_replaced_where_it_stands():
    """An expression inside a statement (here the right-hand side of S = ...) is matched on its own."""
    mutant = mutate(hnn.loss_and_grad, "apply_J(g[0])", "0 * apply_J(g[0])")
    params = mlp.init_params((2, 8, 1), seed=0)
    x = np.random.default_rng(1).standard_normal((4, 2))
    loss, _ = mutant(params, x, x)
    assert loss == pytest.approx(float(np.mean(x**2)), rel=1e-14)  # S = 0: the loss is mean(dxdt**2)


@pytest.mark.parametrize("old, new, match", [
    ("a_bar = -3 * a[l + 1] * s1_bar[l]", "a_bar = 0", "occurs 0 times"),
    ("s1 = 1 - a[l + 1] ** 2", "s1 = 1", "occurs 2 times"),  # once per step
    (TANH_LINE, "0 * s1_bar[l]", "both be statements or both expressions"),
    ("x = 1\ny = 2", "x = 1", "one statement or one expression"),
], ids=["missing", "twice", "statement for expression", "two statements"])
def test_a_mutant_that_does_not_find_exactly_one_target_refuses(old, new, match):
    with pytest.raises(ValueError, match=match):
        mutate(hnn.loss_and_grad, old, new)
