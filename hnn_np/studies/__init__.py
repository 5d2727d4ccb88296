"""Beyond the paper: spring studies and other physical systems.

:mod:`.spring` (long rollouts, radius, numerical derivatives, noise; figures
and tables in :mod:`.spring_report`, closed-form floors in :mod:`.targets`)
:mod:`.systems` (pendulums, HNN against baseline), :mod:`.two_body` (the
HNN on exact Kepler states), :mod:`.henon_heiles` (Poincaré sections of a
learned flow against the true one; crossings, distances and the chaos
indicator in :mod:`.sections`) and
:mod:`.dissipative` (the D-HNN on the damped pendulum, and how its field
splits into J grad H and grad D). ``make studies`` runs them.
"""
