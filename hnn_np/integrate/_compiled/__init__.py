"""What makes the integrator fast; none of it changes a number.

* ``dop853_kernels.py``, ``rk45_kernels.py`` -- the step, error, dense output
  and interpolant of each method written out from its tableau by
  :mod:`.write_kernels` (:data:`KERNELS`); plain Python, run as such for a
  Python ``fun`` and compiled for a jitted one;
* :mod:`.driver` -- the controller compiled once per method, cached on disk;
* :mod:`.rhs` -- the narrow function pointer through which the driver calls
  the right-hand side, and ``args`` packed into one vector;
* :mod:`.adapters` -- one small adapter per user ``fun`` behind that pointer;
* :mod:`.jit` -- loading Numba on first use, and the sources' hash that keys
  the disk cache.

Only the kernels are imported with the integrator; the rest imports Numba and
is loaded when a jitted ``fun`` is first integrated.
"""

from .dop853_kernels import KERNELS as _DOP853
from .rk45_kernels import KERNELS as _RK45

KERNELS = {"DOP853": _DOP853, "RK45": _RK45}  # method -> its written-out kernels
