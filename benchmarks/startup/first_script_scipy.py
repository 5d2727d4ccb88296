"""first_script.py with scipy: the same four integrations, plain Python right-hand sides."""
import json
import time

T0 = time.perf_counter()
import numpy as np
from scipy.integrate import solve_ivp

T_IMPORT = time.perf_counter()
k, m = 2.0, 2.0
r1 = solve_ivp(lambda t, y: np.array([y[1] / m, -k * y[0]]), (0.0, 10.0), np.array([1.0, 0.0]), method="DOP853",
               rtol=1e-9, atol=1e-9)
T_SYSTEM = time.perf_counter()


def damped(t, y, gamma):
    return np.array([y[1], -y[0] - gamma * y[1]])


y0s = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]])
t_eval = np.linspace(0.0, 10.0, 11)
r2 = solve_ivp(damped, (0.0, 10.0), y0s[0], method="DOP853", t_eval=t_eval, args=(0.1,))
r3 = [solve_ivp(damped, (0.0, 10.0), y0, method="DOP853", t_eval=t_eval, args=(0.1,)) for y0 in y0s]
r4 = [solve_ivp(damped, (0.0, 10.0), y0, method="DOP853", t_eval=t_eval, args=(0.1,)) for y0 in y0s]
T_END = time.perf_counter()
assert r1.success and r2.success
print(json.dumps(dict(import_s=T_IMPORT - T0, first_system_solve_ivp_s=T_SYSTEM - T_IMPORT,
                      import_to_last_result_s=T_END - T0)))
