"""Tools for testing gradients and fields, the project's own and a user's.

:mod:`.strategies` holds Hypothesis strategies (networks, states, dtypes) and
finite-difference oracles; it imports Hypothesis, a test-time dependency
(``pip install hnn_np[test]``). :mod:`.mutants` makes deliberately broken
copies of a function from its source, to show that a test can fail.
"""
