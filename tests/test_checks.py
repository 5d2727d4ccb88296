"""hnn_np._checks: bad input is stopped at the door with a message that names it.

Every public function that takes ``params`` and a batch ``x`` runs the same
checks, so each bad input below is tried on all of them: a shape or dtype
slip must raise ``ValueError`` naming the argument, never surface later as a
broadcasting error deep inside a matrix product (or, worse, as a silently
wrong number).
"""

import numpy as np
import pytest

from hnn_np import baseline, hnn, mlp
from hnn_np._checks import check_array, check_params, check_sizes, check_weights

N = 4  # rows of the valid batch


def _with_targets(loss_and_grad):
    """A loss_and_grad(params, x) with a valid dxdt of N rows, so only x or params can be wrong."""
    return lambda params, x: loss_and_grad(params, x, np.zeros((N, 2)))


# (name, function of (params, x), output size of a valid network)
ENTRY_POINTS = [
    ("mlp.forward", mlp.forward, 1),
    ("mlp.input_gradient", mlp.input_gradient, 1),
    ("mlp.input_hessian", mlp.input_hessian, 1),
    ("hnn.vector_field", hnn.vector_field, 1),
    ("hnn.loss_and_grad", _with_targets(hnn.loss_and_grad), 1),
    ("baseline.predict", baseline.predict, 2),
    ("baseline.loss_and_grad", _with_targets(baseline.loss_and_grad), 2),
]
entry_points = pytest.mark.parametrize("fn, n_out", [(f, n) for _, f, n in ENTRY_POINTS],
                                       ids=[name for name, _, _ in ENTRY_POINTS])


def nan_in_row(row, value=np.nan):
    x = np.zeros((N, 2))
    x[row, 1] = value
    return x


BAD_X = {
    "1-D": (np.zeros(2), r"x must have shape \(N, 2\); got \(2,\)"),
    "3-D": (np.zeros((N, 2, 1)), r"x must have shape \(N, 2\)"),
    "wrong columns": (np.zeros((N, 3)), r"x must have shape \(N, 2\); got \(4, 3\)"),
    "no rows": (np.zeros((0, 2)), "x is empty"),
    "nan": (nan_in_row(2), "x has non-finite values in row 2"),
    "-inf": (nan_in_row(0, -np.inf), "x has non-finite values in row 0"),
    "float32 x": (np.zeros((N, 2), np.float32), "x has dtype float32 but params are float64"),
    "strings": (np.full((N, 2), "a"), "x must be a numeric array"),
    "bool": (np.zeros((N, 2), bool), "x must be a numeric array of real floats or integers; got dtype bool"),
    "complex": (np.zeros((N, 2), complex), "x must be a numeric array of real floats or integers; got dtype complex"),
    "object": (np.zeros((N, 2)).astype(object), "x must be a numeric array of real floats or integers; got dtype object"),
    "ragged list": ([[0.0, 1.0], [0.0]], "x must be a rectangular numeric array"),
    "None": (None, "x is required"),
}


@entry_points
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_x_is_rejected_with_its_name(fn, n_out, case):
    """x must be a finite (N, n_0) real array of the params' dtype; the message says which rule broke."""
    x, match = BAD_X[case]
    params = mlp.init_params((2, 4, n_out), seed=0)
    with pytest.raises(ValueError, match=match):
        fn(params, x)


def _params(*layers, dtype=np.float64):
    """Hand-made (W, b) layers from (n_in, n_out) pairs, zeros."""
    return [(np.zeros((i, o), dtype), np.zeros(o, dtype)) for i, o in layers]


def _mixed_b(n_out):
    """float64 everywhere but b[0]."""
    p = _params((2, 4), (4, n_out))
    p[0] = (p[0][0], p[0][1].astype(np.float32))
    return p


def _mixed_layers(n_out):
    """A float64 first layer under a float32 second one."""
    p = _params((2, 4), (4, n_out))
    p[1] = tuple(a.astype(np.float32) for a in p[1])
    return p


BAD_PARAMS = {
    "array": (lambda n: np.zeros((2, n)), "params must be a non-empty list"),
    "empty": (lambda n: [], "params must be a non-empty list"),
    "not a pair": (lambda n: [(np.zeros((2, n)),)], r"params\[0\] must be a \(W, b\) pair"),
    "1-D W": (lambda n: [(np.zeros(2), np.zeros(n))], r"params\[0\] W must be a 2-D array"),
    "b shape": (lambda n: [(np.zeros((2, n)), np.zeros(n + 1))], r"params\[0\] b must have shape"),
    "chain": (lambda n: _params((2, 4), (5, n)),
              r"params\[1\] W has 5 input rows but layer 0 has 4 outputs"),
    "int W": (lambda n: [(np.zeros((2, n), int), np.zeros(n))], r"params\[0\] W must be float32 or float64"),
    "float16": (lambda n: _params((2, n), dtype=np.float16), r"params\[0\] W must be float32 or float64"),
    "mixed W, b": (_mixed_b, r"params mix dtypes: params\[0\] b is float32"),
    "mixed layers": (_mixed_layers, r"params mix dtypes: params\[1\] W is float32"),
    "NaN in W": (lambda n: _with(_params((2, 4), (4, n)), 0, 0, np.nan),
                 r"params\[0\] W has non-finite values \(NaN or inf\); expected finite weights"),
    "inf in the output bias": (lambda n: _with(_params((2, 4), (4, n)), 1, 1, np.inf),
                               r"params\[1\] b has non-finite values"),
    "-inf in b": (lambda n: _with(_params((2, 4), (4, n)), 0, 1, -np.inf), r"params\[0\] b has non-finite"),
    "empty hidden layer": (lambda n: _params((2, 0), (0, n)), r"params\[0\] W has an empty axis, shape \(2, 0\)"),
    "np.matrix W": (lambda n: [(_matrix(n), np.zeros(n))],
                    r"params\[0\] W must be a numpy.ndarray; got matrix"),
    "list W": (lambda n: [(np.zeros((2, n)).tolist(), np.zeros(n))], r"params\[0\] W must be a numpy.ndarray; got list"),
    "W, b flat": (lambda n: [np.zeros((2, n)), np.zeros(n)], r"params\[0\] must be a \(W, b\) pair; got ndarray"),
}


def _with(params, layer, part, value):
    """``params`` with entry 0 of W (part 0) or b (part 1) of ``layer`` set to ``value``."""
    params[layer][part].flat[0] = value
    return params


@entry_points
@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_are_rejected_with_their_position(fn, n_out, case):
    """params must be a chain of (W, b) of one float dtype; the message gives the layer at fault."""
    make, match = BAD_PARAMS[case]
    params = make(n_out)
    with pytest.raises(ValueError, match=match):
        fn(params, np.zeros((N, 2)))


def _steep(n_out):
    """A 2-4-n_out tanh network whose output weights 1.7e308 make dH/dx overflow at x = 0.25."""
    return [(np.ones((2, 4)), np.zeros(4)), (np.full((4, n_out), 1.7e308), np.zeros(n_out))]


HUGE_X = np.full((N, 2), 1.7e308)
OVERFLOWS = {
    "mlp.forward, huge x": lambda: mlp.forward([(np.ones((2, 1)), np.zeros(1))], HUGE_X),
    "baseline.predict, huge x": lambda: baseline.predict([(np.ones((2, 2)), np.zeros(2))], HUGE_X),
    "baseline.loss_and_grad, huge x": lambda: baseline.loss_and_grad([(np.ones((2, 2)), np.zeros(2))], HUGE_X,
                                                                     np.zeros((N, 2))),
    "hnn.loss_and_grad, huge targets": lambda: hnn.loss_and_grad(mlp.init_params((2, 4, 1)), np.ones((N, 2)),
                                                                 np.full((N, 2), 1e200)),
    "baseline.loss_and_grad, huge targets": lambda: baseline.loss_and_grad(
        mlp.init_params((2, 4, 2)), np.ones((N, 2)), np.full((N, 2), 1e200)),
    "hnn.loss_and_grad, huge row weights": lambda: hnn.loss_and_grad(
        mlp.init_params((2, 4, 1)), np.ones((N, 2)), np.ones((N, 2)), np.full(N, 1e308)),
    "mlp.input_gradient, huge weights": lambda: mlp.input_gradient(_steep(1), np.full((N, 2), 0.25)),
    "mlp.input_hessian, huge weights": lambda: mlp.input_hessian(_steep(1), np.full((N, 2), 0.25)),
    "hnn.vector_field, huge weights": lambda: hnn.vector_field(_steep(1), np.full((N, 2), 0.25)),
}


@pytest.mark.parametrize("case", list(OVERFLOWS))
def test_a_result_that_overflows_is_refused_not_returned(case):
    """Finite input can overflow float64 inside the network: refused by name, never returned as inf/NaN."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning escapes
        with pytest.raises(ValueError, match=case.split(",")[0].replace(".", r"\.")
                           + " overflowed float64: its result has non-finite values"):
            OVERFLOWS[case]()


def test_complex_x_is_rejected():
    """A complex x is not a state: casting it to float would drop the imaginary part without a word."""
    params = mlp.init_params((2, 4, 1), seed=0)
    with pytest.raises(ValueError, match="x"):
        mlp.forward(params, np.full((N, 2), 1 + 1j))


@entry_points
def test_float64_x_with_float32_params_is_rejected(fn, n_out):
    """Mixing precisions is refused in the other direction too (no silent upcast of a float32 model)."""
    params = mlp.init_params((2, 4, n_out), seed=0, dtype=np.float32)
    with pytest.raises(ValueError, match="x has dtype float64 but params are float32"):
        fn(params, np.zeros((N, 2)))


# --- the helpers themselves -----------------------------------------------------------

def test_check_array_converts_integers_and_returns_contiguous():
    """Non-floating input is cast to the params' dtype; strided views come back C-contiguous."""
    x = check_array([[1, 2], [3, 4]], "x", 2, np.dtype(np.float32))
    assert x.dtype == np.float32 and x.tolist() == [[1, 2], [3, 4]]
    strided = np.arange(16.0).reshape(4, 4)[:, ::2]
    out = check_array(strided, "x", 2, np.dtype(np.float64))
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, strided)


def test_check_array_names_its_argument():
    """The name passed in is the name in the message, so dxdt errors say dxdt."""
    with pytest.raises(ValueError, match="dxdt must have shape"):
        check_array(np.zeros(3), "dxdt", 2, np.dtype(np.float64))
    with pytest.raises(ValueError, match="dxdt has 3 rows but x has 5"):
        check_array(np.zeros((3, 2)), "dxdt", 2, np.dtype(np.float64), n_rows=5)


def test_check_params_returns_the_common_dtype():
    """A valid chain passes and reports its dtype, which every input is then held to."""
    assert check_params(mlp.init_params((2, 3, 1), dtype=np.float32)) == np.float32
    assert check_params(mlp.init_params((4, 3, 3, 4))) == np.float64


def test_check_sizes_normalizes_integer_types():
    """Sizes may be any integer type (numpy ints too) and come back as a tuple of Python ints."""
    sizes = check_sizes([np.int64(2), 400, np.int32(1)])
    assert sizes == (2, 400, 1) and all(type(s) is int for s in sizes)


def test_check_weights_none_and_conversion():
    """None means unweighted; integer weights are cast to x's dtype; a list is accepted."""
    x = np.zeros((3, 2), np.float32)
    assert check_weights(None, x) is None
    w = check_weights([1, 0, 2], x)
    assert w.dtype == np.float32 and w.tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match="weights must be finite and >= 0; row 0"):
        check_weights([np.nan, 1, 1], x.astype(np.float64))


@pytest.mark.parametrize("weights, match", [
    (np.ones(3, complex), "weights must be real numbers .*; got dtype complex128"),
    (np.ones(3, bool), "weights must be real numbers .*; got dtype bool"),
    (np.array(["1", "1", "1"]), "weights must be real numbers .*; got dtype <U1"),
    (np.ones(3).astype(object), "weights must be real numbers .*; got dtype object"),
    ([1.0, [1.0], 1.0], "weights must be a rectangular numeric array"),
    (np.ones(4), r"weights must have shape \(3,\)"),
])
def test_check_weights_refuses_what_is_not_real_numbers(weights, match):
    with pytest.raises(ValueError, match=match):
        check_weights(weights, np.zeros((3, 2)))


def _matrix(n):
    """An np.matrix W (NumPy warns that the subclass is discouraged; that warning is not under test)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.asmatrix(np.zeros((2, n)))
