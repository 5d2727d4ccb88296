"""A first script: import, a built-in system, the user's own jitted right-hand sides (both conventions).

Run by benchmarks/bench_startup.py in fresh processes; prints the times it measured as JSON.
"""
import json
import time

T0 = time.perf_counter()
import numpy as np
from numba import njit

from hnn_np.integrate import solve_ivp, solve_ivp_batch
from hnn_np.systems import MassSpring

T_IMPORT = time.perf_counter()
spring = MassSpring()
fun, args = spring.ode()
r1 = solve_ivp(fun, (0.0, 10.0), np.array([1.0, 0.0]), rtol=1e-9, atol=1e-9, args=args)
T_SYSTEM = time.perf_counter()


@njit(cache=True)
def damped(t, y, gamma):
    dy = np.empty_like(y)
    dy[0] = y[1]
    dy[1] = -y[0] - gamma * y[1]
    return dy


@njit(cache=True)
def damped_into(t, y, dy, gamma):
    dy[0] = y[1]
    dy[1] = -y[0] - gamma * y[1]


y0s = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]])
t_eval = np.linspace(0.0, 10.0, 11)
r2 = solve_ivp(damped, (0.0, 10.0), y0s[0], t_eval=t_eval, args=(0.1,))
r3 = solve_ivp_batch(damped, (0.0, 10.0), y0s, t_eval, args=(0.1,))
r4 = solve_ivp_batch(damped_into, (0.0, 10.0), y0s, t_eval, args=(0.1,), inplace=True)
T_END = time.perf_counter()
assert r1.success and r2.success and r3.success and r4.success
assert np.array_equal(r3.y, r4.y) and np.array_equal(r3.y[0], r2.y)
print(json.dumps(dict(import_s=T_IMPORT - T0, first_system_solve_ivp_s=T_SYSTEM - T_IMPORT,
                      import_to_last_result_s=T_END - T0)))
