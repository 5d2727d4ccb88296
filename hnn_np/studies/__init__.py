"""Beyond the paper: spring studies and other physical systems.

:mod:`.spring` (long rollouts, radius, numerical derivatives, noise; figures
and tables in :mod:`.spring_report`, closed-form floors in :mod:`.targets`)
and :mod:`.systems` (pendulums and two-body). ``make studies`` runs them.
"""
