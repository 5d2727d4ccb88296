"""The paper's experiments, ours, the ablation, and the paper's figures.

:mod:`.experiments` names every run (data and :class:`~hnn_np.train.TrainConfig`)
and runs it; :mod:`.ablation` measures each change of the ``best-*`` recipes
one at a time; :mod:`.figures` trains them all and draws every figure from the
saved runs (``make figures``).
"""
