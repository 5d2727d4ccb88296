"""What makes the integrator fast; none of it changes a number.

:mod:`.unrolled` (the step, error, dense output and interpolant written out
from the tableau), :mod:`.driver` (the controller compiled once per method,
cached on disk), :mod:`.functions` (the right-hand side as a first-class
function pointer), :mod:`.adapters` and :mod:`.rhs` (``args`` and the
returning convention brought to what the driver calls), :mod:`.borrow`
(array views without reference counting), :mod:`.jit` (loading Numba on
first use). Only :mod:`.unrolled` is imported with the integrator; the rest
imports Numba and is loaded when a jitted ``fun`` is first integrated.
"""
