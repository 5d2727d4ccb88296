"""Tools for testing gradients and fields, the project's own and a user's.

* :func:`check_grads` (:mod:`.gradients`) -- a hand-written gradient of a
  scalar function against central finite differences along random
  directions, for an array or for a network's ``(W, b)`` parameters. It needs
  only NumPy.
* :mod:`.strategies` -- Hypothesis strategies (``networks``, ``states``,
  ``hnn_and_states``, sizes, dtypes) and finite-difference oracles. It imports
  Hypothesis, a test-time dependency (``pip install hnn_np[test]``), and is
  not imported by this package: ``import hnn_np.testing.strategies`` when
  you want it.
* :mod:`.mutants` -- deliberately broken copies of a function, made from its
  source, to show that a test can fail.

A user's own network, property-tested in a few lines::

    from hypothesis import given
    from hnn_np import hnn
    from hnn_np.testing import check_grads
    from hnn_np.testing.strategies import hnn_and_states

    @given(hnn_and_states(with_targets=True))
    def test_my_gradient(case):
        params, x, dxdt = case
        check_grads(lambda p: hnn.loss_and_grad(p, x, dxdt)[0],
                    lambda p: hnn.loss_and_grad(p, x, dxdt)[1], params)
"""

from .gradients import check_grads

__all__ = ["check_grads"]
