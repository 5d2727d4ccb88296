"""``python -m hnn_np``: the command line of :mod:`hnn_np.cli`."""

import sys

from .cli import main

sys.exit(main())
