"""ODE integrators written from scratch: Hairer's DOP853 and DOPRI5, and leapfrog.

* :func:`solve_ivp`, :func:`solve_ivp_batch` -- scipy's interface; the steps
  are those of Hairer's Fortran codes dop853.f / dopri5.f; compiled by Numba
  when ``fun`` is jitted.
* :func:`leapfrog` -- fixed-step Stormer-Verlet, the symplectic reference.

The readable layers, each using only the ones before it: :mod:`.tableau`
(the coefficient layout), :mod:`.dop853_coefficients` and
:mod:`.rk45_coefficients` (the numbers), :mod:`.rk` (one step, error norm,
initial step, as loops over the tableau), :mod:`.dense` (dense output),
:mod:`.record` (what a run keeps), :mod:`.controller` (Hairer's step-size
loop), :mod:`.calling` (returning and in-place right-hand sides),
:mod:`.checks`, :mod:`.results`, :mod:`.ivp` (the public functions),
:mod:`.leapfrog`, :mod:`.fixed_step` (for convergence tests). Inside
``with hnn_np.readable():`` solve_ivp and solve_ivp_batch run exactly these
(:func:`.controller.integrate` calling :mod:`.rk` and :mod:`.dense`).

:mod:`._compiled` holds what makes it fast: the step written out from the
tableau (:mod:`._compiled.unrolled`), the compiled driver and its disk cache
(:mod:`._compiled.driver`), the right-hand side as a function pointer
(:mod:`._compiled.functions`, :mod:`._compiled.adapters`,
:mod:`._compiled.rhs`), borrowed views (:mod:`._compiled.borrow`) and the
loading of Numba (:mod:`._compiled.jit`). Importing this package does not
import Numba.
"""

from .checks import METHODS
from .ivp import solve_ivp, solve_ivp_batch
from .leapfrog import LeapfrogResult, leapfrog
from .results import BatchResult, DenseSolution, OdeResult

__all__ = [
    "METHODS", "solve_ivp", "solve_ivp_batch", "leapfrog",
    "OdeResult", "BatchResult", "DenseSolution", "LeapfrogResult",
]  # fmt: skip
