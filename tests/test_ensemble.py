"""The stacked ensemble: one network whose output, field, H and D are the means of its members'."""

import numpy as np
import pytest

from hnn_np import baseline, dhnn, hnn
from hnn_np.ensemble import stack_models, stack_params
from hnn_np.mlp import forward, init_params
from hnn_np.model import Model

FIELDS = {"hnn": hnn.vector_field, "dhnn": dhnn.vector_field, "baseline": baseline.predict}
N_OUT = {"hnn": 1, "dhnn": 2, "baseline": 4}


def members(kind, K=3, hidden=(7, 5), dtype=np.float64):
    return [init_params((4, *hidden, N_OUT[kind]), seed=k, dtype=dtype) for k in range(K)]


@pytest.mark.parametrize("kind", sorted(FIELDS))
@pytest.mark.parametrize("hidden", [(7,), (7, 5), (6, 6, 3)])
def test_the_stacked_field_is_the_mean_of_the_members_fields(kind, hidden):
    parts = members(kind, hidden=hidden)
    stacked = stack_params(parts)
    x = np.random.default_rng(9).normal(size=(11, 4))
    assert [W.shape[1] for W, _ in stacked] == [3 * h for h in hidden] + [N_OUT[kind]]
    np.testing.assert_allclose(forward(stacked, x), np.mean([forward(p, x) for p in parts], axis=0),
                               rtol=1e-13, atol=1e-15)  # fmt: skip
    field = FIELDS[kind]
    np.testing.assert_allclose(field(stacked, x), np.mean([field(p, x) for p in parts], axis=0),
                               rtol=1e-12, atol=1e-14)  # fmt: skip


def test_a_stacked_model_has_the_mean_energy_and_dissipation_in_float32_too():
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        models = [Model("dhnn", p, scale=2.0) for p in members("dhnn", dtype=dtype)]
        model = stack_models(models, metrics={"note": 1.0})
        x = np.random.default_rng(1).normal(size=(6, 4))
        assert model.dtype == dtype and model.scale == 2.0 and model.metrics == {"note": 1.0}
        for name in ("energy", "dissipation", "time_derivative"):
            mean = np.mean([getattr(m, name)(x) for m in models], axis=0)
            np.testing.assert_allclose(getattr(model, name)(x), mean, rtol=tol, atol=tol)


def test_one_member_is_itself_and_no_hidden_layer_is_the_mean_map():
    (single,) = members("hnn", K=1)
    for (W, b), (W1, b1) in zip(stack_params([single]), single):
        np.testing.assert_array_equal(W, W1)
        np.testing.assert_array_equal(b, b1)
    linear = [init_params((4, 4), seed=k) for k in range(2)]
    (W, b), = stack_params(linear)
    np.testing.assert_allclose(W, (linear[0][0][0] + linear[1][0][0]) / 2)


@pytest.mark.parametrize("bad, match", [
    ([], "non-empty list"),
    ("params", "non-empty list"),
    ([init_params((4, 5, 1)), init_params((4, 6, 1))], "equal sizes and dtype"),
    ([init_params((4, 5, 1)), init_params((4, 5, 1), dtype=np.float32)], "equal sizes and dtype"),
])  # fmt: skip
def test_stack_params_rejects_bad_members(bad, match):
    with pytest.raises(ValueError, match=match):
        stack_params(bad)


def test_stack_models_rejects_mixed_kinds_scales_and_non_models():
    h = Model("hnn", init_params((2, 5, 1)))
    with pytest.raises(ValueError, match="one kind and one input scale"):
        stack_models([h, Model("dhnn", init_params((2, 5, 2)))])
    with pytest.raises(ValueError, match="one kind and one input scale"):
        stack_models([h, Model("hnn", init_params((2, 5, 1)), scale=3.0)])
    with pytest.raises(ValueError, match="list of hnn_np Models"):
        stack_models([h, init_params((2, 5, 1))])
