"""Matplotlib, set up once for every figure of the package, and an atomic PNG writer.

Figures are drawn from saved results only, never inside training code.
"""

from __future__ import annotations

import os

from .io import atomic_write

__all__ = ["pyplot", "save_png"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend with the package's style (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 9,
                         "axes.titlesize": 10})
    return plt


def save_png(fig, folder, name):
    """Save ``fig`` as ``folder/name`` atomically, then clear and close it."""
    try:
        atomic_write(os.path.join(folder, name),
                     lambda f: fig.savefig(f, format="png", bbox_inches="tight"))
    finally:
        fig.clf()
        import matplotlib.pyplot as plt

        plt.close(fig)  # pyplot keeps every figure it made until it is closed
