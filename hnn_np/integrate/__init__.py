"""ODE integrators written from scratch: Hairer's DOP853 and DOPRI5, and leapfrog.

* :func:`solve_ivp`, :func:`solve_ivp_batch` -- scipy's interface; the steps
  are those of Hairer's Fortran codes dop853.f / dopri5.f; compiled by Numba
  when ``fun`` is jitted.
* :func:`leapfrog` -- fixed-step Stormer-Verlet, the symplectic reference.

The readable layers, each using only the ones before it: :mod:`.tableau`
(the coefficient layout), :mod:`.dop853_coefficients` and
:mod:`.rk45_coefficients` (the numbers), :mod:`.rk` (one step, error norm,
initial step, as loops over the tableau), :mod:`.dense` (dense output),
:mod:`.record` (what a run keeps), :mod:`.events` (zeros of event
functions), :mod:`.controller` (Hairer's step-size loop), :mod:`.calling`
(returning and in-place right-hand sides), :mod:`.checks`, :mod:`.results`,
:mod:`.ivp` (the public functions), :mod:`.leapfrog`, :mod:`.fixed_step`
(for convergence tests). Inside ``with hnn_np.readable():`` solve_ivp and
solve_ivp_batch run exactly these (:func:`.controller.integrate` calling
:mod:`.rk` and :mod:`.dense`).

:mod:`._compiled` holds what makes it fast: the step, error, dense output and
interpolant written out from the tableau into ``dop853_kernels.py`` and
``rk45_kernels.py`` (by :mod:`._compiled.write_kernels`), the compiled entry
and its disk cache (:mod:`._compiled.driver`), the right-hand side behind a
narrow function pointer (:mod:`._compiled.rhs`) to a small adapter of its own
(:mod:`._compiled.adapters`), and the loading of Numba (:mod:`._compiled.jit`).
Importing this package does not import Numba.

The path of ``fun``
-------------------
From ``solve_ivp`` to the step loop, one line per hop (``file:function``, in
hnn_np/integrate/ or its _compiled/; a test checks that each function is in
its file, and follows the hops in a run). A Numba-jitted ``fun`` (outside
``hnn_np.readable()``; events, if any, jitted too)::

    ivp.py:solve_ivp -- checks the arguments; a fun checked before with the same convention, size and args skips check_fun
    checks.py:check_fun -- calls fun once at (t0, y0) and checks what it writes or returns
    ivp.py:_run -- the compiled branch: the adapter of fun, then the method's entry
    ivp.py:_driver -- imports Numba and the compiled layer on first use
    adapters.py:compiled_rhs -- (address, p): the adapter's address and args packed into the vector p
    adapters.py:_find -- the adapter compiled, or loaded from the disk cache, once per fun, convention and kind of args
    driver.py:entry -- the method's compiled entry, made once per process (loaded from the disk cache)
    driver.py:_entry_function.entry -- compiled from here on: checks y0s and t_eval, allocates work arrays and record
    driver.py:integrate_borrowed -- borrowed views of every array; fun = rhs.py:call_rhs with args = (address, p)
    controller.py:integrate_batch -- the loop over the rows of y0s
    controller.py:integrate -- Hairer's step-size controller
    dop853_kernels.py:dop853_step -- the 12 stages written out (rk45_kernels.py:rk45_step for RK45)
    rhs.py:call_rhs -- one indirect call with six words: t, n and the pointers to y, dy_dt and p, n_p
    adapters.py:_adapter.adapter -- y, dy_dt and p as arrays again (a separate machine function, one per fun)
    adapters.py:_call_user.call_inplace -- args rebuilt from p, fun(t, y, dy_dt, *args) (call_returning: the copy)
    fun

From ``integrate_borrowed`` to ``call_rhs`` it is one machine function (the
controller, the kernels and the pointer call inlined into it); the adapter is
another, one per ``fun``, into which LLVM may inline ``fun``. ``solve_ivp_batch``
enters at ``ivp.py:_run`` after its own checks (from ``solve_ivp_batch.block``,
once per block of rows, in several threads with ``workers``).

A Python ``fun`` (or any ``fun`` inside ``hnn_np.readable()``), the same
controller run as Python::

    ivp.py:solve_ivp -- checks the arguments
    checks.py:check_fun -- calls fun once; a returning fun is wrapped by calling.py:as_inplace
    ivp.py:_run -- the Python branch: the written-out kernels (controller.py:loops inside readable())
    controller.py:integrate_batch -- the loop over the rows of y0s
    controller.py:integrate -- Hairer's step-size controller
    dop853_kernels.py:dop853_step -- the 12 stages written out (rk.py:rk_step inside readable())
    calling.py:as_inplace.fun_inplace -- dy_dt[:] = fun(t, y, *args), checked (an in-place fun is called directly)
    fun
"""

from .checks import METHODS
from .ivp import solve_ivp, solve_ivp_batch
from .leapfrog import LeapfrogResult, leapfrog
from .results import BatchResult, DenseSolution, OdeResult

__all__ = [
    "METHODS", "solve_ivp", "solve_ivp_batch", "leapfrog",
    "OdeResult", "BatchResult", "DenseSolution", "LeapfrogResult",
]  # fmt: skip
