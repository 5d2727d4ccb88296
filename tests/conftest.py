"""Shared test set-up: Hypothesis profiles and a one-time Numba warm-up.

Profiles (chosen by the HYPOTHESIS_PROFILE environment variable):

* ``ci``  -- derandomized, no deadline (the first call of a Numba kernel
  compiles), a moderate number of examples. The default.
* ``dev`` -- random, more examples, no deadline.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def warm_numba_kernels():
    """Compile (or load from cache) every jitted kernel once per session."""
    from hnn_np import fast

    fast.warm_up()
