"""``python tests/_tiny_cli.py ARGS``: the command line of hnn_np with one more experiment, ``tiny``.

``tiny`` is best-analytic on 8 trajectories and a (2, 8, 8, 1) network, so
that a real ``hnn-np train`` process trains thousands of steps a second.
It is registered as any user's own experiment is (:func:`hnn_np.catalog.register`);
everything else is the package's command line as ``python -m hnn_np`` runs it.
"""

import sys
from dataclasses import replace

from hnn_np import catalog, cli
from hnn_np.paper import experiments as X

TINY = replace(X.get_experiment("best-analytic"), name="tiny", title="a tiny spring",
               data=replace(X.BEST_DATA, n_traj=8, n_obs=16),
               train=replace(X.BEST_TRAIN, sizes=(2, 8, 8, 1), batch_size=16, steps=4000, refit_output=False))


def runner(out, **kw):
    return X.run_experiment(TINY, out, **kw)


if __name__ == "__main__":
    catalog.register("tiny", TINY.title, runner)
    sys.exit(cli.main(sys.argv[1:]))
