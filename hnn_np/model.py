"""A trained model in physical units, and its one-file checkpoint format.

A :class:`Model` wraps the network parameters with the scale s the network
learned in (s = 1 without normalization; see :class:`hnn_np.data.Scale`)::

    x~ = x / s,    dx/dt = s * S~(x~),    H(x) = s**2 * H~(x~),    D(x) = s**2 * D~(x~)

so that :meth:`Model.energy`, :meth:`Model.dissipation` and
:meth:`Model.time_derivative` always take and return physical units. ``kind``
is ``"hnn"`` (the network is an energy, the field its symplectic gradient),
``"dhnn"`` (the network's two outputs are an energy H and a dissipation
potential D, the field J grad H + grad D; :mod:`hnn_np.dhnn`) or
``"baseline"`` (the network is the field).

Why s**2: the network sees x~ = x / s and predicts dx~/dt = S~(x~). With
H(x) = s**2 H~(x / s) the chain rule gives grad H(x) = s grad~ H~(x~), so
J grad H + grad D = s S~(x~) = dx/dt: the potentials that generate the
physical field are the scaled outputs times s**2 (times 1 / s from x~ = x / s,
times s from dx/dt = s dx~/dt).

A model is saved as one ``.npz``: the arrays ``W0, b0, W1, b1, ...``, and a
JSON header with the format version, kind, sizes, dtype, scale, the training
configuration and metrics. The file is written to a temporary name in the
same directory and renamed, so a crash never leaves half a file behind.
"""

from __future__ import annotations

import json
import numbers

import numpy as np

from . import baseline, dhnn, hnn, mlp
from ._checks import check_params
from .io import save_npz
from .npz import Npz

__all__ = ["Model", "load_model", "FORMAT_VERSION"]

FORMAT_VERSION = 1
KINDS = ("hnn", "baseline", "dhnn")


class Model:
    """A trained HNN, D-HNN or baseline, evaluated in physical units.

    Parameters
    ----------
    kind : {"hnn", "baseline", "dhnn"}
    params : list of (W, b)
    scale : float
        The normalization scale s (1.0 when trained on raw data).
    config, metrics : dict, optional
        JSON-serialisable training settings and evaluation results.
    history : dict of array, optional
        Loss curves (``step``, ``train_loss``, ``test_step``, ``test_loss``, ``lr``).
    """

    def __init__(self, kind, params, scale=1.0, config=None, metrics=None, history=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        check_params(params)
        for l, (W, b) in enumerate(params):
            if not (np.isfinite(W).all() and np.isfinite(b).all()):
                raise ValueError(f"params[{l}] has non-finite weights")
        n_in, n_out = params[0][0].shape[0], params[-1][0].shape[1]
        if n_in % 2:
            raise ValueError(f"a state (q, p) has an even size; params take {n_in} inputs")
        if kind == "hnn" and n_out != 1:
            raise ValueError(f"an HNN outputs one energy; params give {n_out} outputs")
        if kind == "dhnn" and n_out != 2:
            raise ValueError(f"a D-HNN outputs (H, D); params give {n_out} outputs")
        if kind == "baseline" and n_out != n_in:
            raise ValueError(f"a baseline outputs dx/dt of size {n_in}; params give {n_out}")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not (
                np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive finite number; got {scale!r}")
        for name, value in (("config", config), ("metrics", metrics), ("history", history)):
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{name} must be a dict or None; got {type(value).__name__}")
        self.kind = kind
        self.params = params
        self.scale = float(scale)
        self.config = dict(config or {})
        self.metrics = dict(metrics or {})
        self.history = dict(history or {})

    @property
    def dtype(self):
        return self.params[0][0].dtype

    @property
    def sizes(self):
        return [self.params[0][0].shape[0]] + [W.shape[1] for W, _ in self.params]

    @property
    def n_dof(self):
        return self.sizes[0] // 2

    def __repr__(self):
        return f"Model(kind={self.kind!r}, sizes={self.sizes}, dtype={self.dtype.name}, scale={self.scale:g})"

    def _scaled(self, x):
        x = np.asarray(x)
        if x.ndim == 1:
            x = x[None, :]
        if x.dtype.kind not in "fiu" or x.dtype == bool:
            raise ValueError(f"x must be a real numeric array of states; got dtype {x.dtype}")
        return (x / self.scale).astype(self.dtype)  # x~ = x / s

    def energy(self, x):
        """Learned energy H(x) = s**2 H~(x / s), up to an additive constant; x (N, 2n) -> (N,)."""
        if self.kind == "baseline":
            raise ValueError("a baseline model predicts dx/dt only; it has no energy")
        return self.scale**2 * mlp.forward(self.params, self._scaled(x))[:, 0]

    def dissipation(self, x):
        """A D-HNN's dissipation potential D(x) = s**2 D~(x / s), up to a constant; x (N, 2n) -> (N,)."""
        if self.kind != "dhnn":
            raise ValueError(f"only a D-HNN has a dissipation potential; this model is {self.kind!r}")
        return self.scale**2 * mlp.forward(self.params, self._scaled(x))[:, 1]

    def time_derivative(self, x):
        """Predicted dx/dt = s S~(x / s); x (N, 2n) -> (N, 2n)."""
        x_tilde = self._scaled(x)
        if self.kind == "hnn":
            return self.scale * hnn.vector_field(self.params, x_tilde)
        if self.kind == "dhnn":
            return self.scale * dhnn.vector_field(self.params, x_tilde)
        return self.scale * baseline.predict(self.params, x_tilde)

    def rollout(self, x0, t_eval, method="DOP853", rtol=1e-10, atol=1e-10):
        """Integrate the learned field from states x0 with our own integrator.

        The field compiled by Numba (:mod:`hnn_np.fast.fields`), or, inside
        ``with hnn_np.readable():``, :meth:`time_derivative` itself.

        Parameters
        ----------
        x0 : array_like, shape (B, 2n) or (2n,)
        t_eval : array_like, shape (T,)
            Increasing times; the integration starts at ``t_eval[0]``.

        Returns
        -------
        x : ndarray, shape (B, T, 2n)
        """
        from .rollout import rollout

        return rollout(self, x0, t_eval, method=method, rtol=rtol, atol=atol)

    # --- persistence ---------------------------------------------------------

    def save(self, path):
        """Write the model to one ``.npz`` file, atomically."""
        header = dict(format_version=FORMAT_VERSION, kind=self.kind, sizes=self.sizes,
                      dtype=self.dtype.name, scale=self.scale, config=self.config,
                      metrics=self.metrics)
        arrays = {"header": np.array(json.dumps(header))}
        for l, (W, b) in enumerate(self.params):
            arrays[f"W{l}"], arrays[f"b{l}"] = W, b
        for key, value in self.history.items():
            arrays[f"history_{key}"] = np.asarray(value)
        save_npz(path, arrays)


def load_model(path) -> Model:
    """Load a model written by :meth:`Model.save`.

    Raises
    ------
    ValueError
        If the file is missing, not an ``.npz``, of another format version,
        or its arrays do not match the sizes and dtype in its header, or hold
        non-finite weights.
    """
    what = "model file"
    with Npz(path, what) as data:  # only the members named below are decompressed
        return _read_model(data, data.path, what)


def _read_model(data: Npz, path, what) -> Model:
    header = data.header("header")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{what} {path!r} has format version {version!r}; this hnn_np reads version {FORMAT_VERSION}"
        )
    missing = [k for k in ("kind", "sizes", "dtype", "scale") if k not in header]
    if missing:
        raise ValueError(f"{what} {path!r} has a header without {missing}")
    sizes, dtype, scale = header["sizes"], header["dtype"], header["scale"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"{what} {path!r}: sizes must be a list of positive integers; got {sizes!r}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"{what} {path!r}: dtype must be 'float32' or 'float64'; got {dtype!r}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"{what} {path!r}: scale must be a positive finite number; got {scale!r}")
    for key in ("config", "metrics"):
        if not isinstance(header.get(key, {}), dict):
            raise ValueError(f"{what} {path!r}: {key} must be a JSON object")
    dtype = np.dtype(dtype)
    params = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if f"W{l}" not in data or f"b{l}" not in data:
            raise ValueError(f"{what} {path!r} lacks layer {l} (W{l}, b{l}) of sizes {sizes}")
        (W_shape, W_dtype), (b_shape, b_dtype) = data.info(f"W{l}"), data.info(f"b{l}")  # headers only
        if W_shape != (n_in, n_out) or b_shape != (n_out,):
            raise ValueError(
                f"{what} {path!r}: layer {l} has shapes {W_shape}, {b_shape}; "
                f"its header's sizes {sizes} need ({n_in}, {n_out}), ({n_out},)"
            )
        if W_dtype != dtype or b_dtype != dtype:
            raise ValueError(f"{what} {path!r}: layer {l} is {W_dtype}, its header says {dtype}")
        W, b = data[f"W{l}"], data[f"b{l}"]
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ValueError(f"{what} {path!r}: layer {l} has non-finite weights")
        params.append((np.ascontiguousarray(W), np.ascontiguousarray(b)))
    if f"W{len(sizes) - 1}" in data:
        raise ValueError(f"{what} {path!r} has more layers than its header's sizes {sizes}")
    history = {k[len("history_"):]: data[k] for k in data.names if k.startswith("history_")}
    try:
        return Model(header["kind"], params, float(scale), header.get("config"), header.get("metrics"),
                     history)
    except ValueError as e:
        raise ValueError(f"{what} {path!r}: {e}") from None
