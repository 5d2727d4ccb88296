r"""An ensemble of networks as one network: block-diagonal weights, averaged outputs.

K MLPs of the same sizes ``(n_0, n_1, ..., n_L)``, with parameters
``(W_k[l], b_k[l])``, are one MLP of sizes ``(n_0, K n_1, ..., K n_{L-1}, n_L)``
whose output is the mean of theirs::

    W[0]   = [W_1[0] | W_2[0] | ... | W_K[0]]               (n_0, K n_1)    every member reads x
    W[l]   = blockdiag(W_1[l], ..., W_K[l])                  (K n_l, K n_{l+1}),  0 < l < L-1
    b[l]   = [b_1[l], ..., b_K[l]]                           (K n_{l+1},)
    W[L-1] = [W_1[L-1]; ...; W_K[L-1]] / K                   (K n_{L-1}, n_L)
    b[L-1] = mean_k b_k[L-1]                                  (n_L,)

so the hidden units of member k see only member k's units, and
``out(x) = mean_k out_k(x)``. Every field of this package is linear in the
output (an HNN's S = J dH/dx, a D-HNN's S = J dH/dx + dD/dx, a baseline's
S = out), so the stacked network's field is the mean of the members' fields,
its H (and D) the mean of theirs: an ensemble of HNNs is an HNN, of D-HNNs a
D-HNN, and it is saved, loaded and rolled out as one.

Averaging members trained from different seeds removes much of what each
learned by chance where the data say little (between training orbits, for
example), and none of what the data fix.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_params

__all__ = ["stack_params", "stack_models"]


def stack_params(members):
    """One MLP whose output is the mean of the outputs of ``members`` (a list of params lists).

    Parameters
    ----------
    members : sequence of list of (W, b)
        K >= 1 MLPs of equal sizes and dtype.

    Returns
    -------
    list of (W, b)
        Sizes ``(n_0, K n_1, ..., K n_{L-1}, n_L)``; see the module docstring.
    """
    members = list(members) if isinstance(members, (list, tuple)) else None
    if not members:
        raise ValueError("members must be a non-empty list of MLP parameter lists")
    dtypes = [check_params(p) for p in members]
    sizes = [tuple([p[0][0].shape[0]] + [W.shape[1] for W, _ in p]) for p in members]
    if len(set(sizes)) > 1 or len(set(dtypes)) > 1:
        raise ValueError(f"members must have equal sizes and dtype; got sizes {sorted(set(sizes))} and dtypes "
                         f"{sorted(set(map(str, dtypes)))}")
    K, L = len(members), len(members[0])
    if L == 1:  # no hidden layer: the mean of the affine maps
        return [(np.mean([p[0][0] for p in members], axis=0), np.mean([p[0][1] for p in members], axis=0))]
    stacked = []
    for l in range(L):
        Ws, bs = [p[l][0] for p in members], [p[l][1] for p in members]
        if l == 0:
            W, b = np.concatenate(Ws, axis=1), np.concatenate(bs)  # every member reads the input
        elif l < L - 1:
            n_in, n_out = Ws[0].shape
            W = np.zeros((K * n_in, K * n_out), dtype=Ws[0].dtype)
            for k, Wk in enumerate(Ws):
                W[k * n_in:(k + 1) * n_in, k * n_out:(k + 1) * n_out] = Wk  # member k's block
            b = np.concatenate(bs)
        else:
            W, b = np.concatenate(Ws, axis=0) / K, np.mean(bs, axis=0)  # the mean of the outputs
        stacked.append((np.ascontiguousarray(W), np.ascontiguousarray(b)))
    return stacked


def stack_models(models, **extra):
    """One :class:`~hnn_np.model.Model` whose field, H and D are the means of those of ``models``.

    The members must be of one kind, sizes and input scale. ``extra``
    (config, metrics, history) goes to the new Model.
    """
    from .model import Model

    models = list(models) if isinstance(models, (list, tuple)) else None
    if not models or not all(isinstance(m, Model) for m in models):
        raise ValueError("models must be a non-empty list of hnn_np Models")
    kinds, scales = {m.kind for m in models}, {m.scale for m in models}
    if len(kinds) > 1 or len(scales) > 1:
        raise ValueError(f"models must share one kind and one input scale; got kinds {sorted(kinds)}, "
                         f"scales {sorted(scales)}")
    return Model(models[0].kind, stack_params([m.params for m in models]), models[0].scale, **extra)
