"""Resumable training checkpoints that know what run they belong to.

A checkpoint holds everything :func:`hnn_np.train.fit` needs to continue --
the weights, Adam's moments and step, the batch generator's state, the
epoch's permutation and position, the loss history -- and a *fingerprint*:
the settings (every field of the :class:`~hnn_np.train.TrainConfig`, and
whether the readable or the fast path trains) and a SHA-256 digest of each
array the numbers depend on (the scaled training states, targets and row
weights, and the test set). Resuming with other data or other settings is
refused with an error that names what differs; resuming with the same ones
gives the uninterrupted run's weights bit for bit.

Every array read back is checked for its shape, dtype and finiteness, and
every counter for its range, so a damaged or foreign file gives a
``ValueError`` naming the file and the problem.
"""

from __future__ import annotations

import hashlib
import json
from typing import NamedTuple

import numpy as np

from .io import save_npz
from .npz import Npz

__all__ = ["LoopState", "fingerprint", "save", "load", "VERSION"]

VERSION = 2


class LoopState(NamedTuple):
    """Where the batch loop stands: the epoch's permutation (N,), the position in it, steps done."""

    order: np.ndarray
    pos: int
    step: int


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def fingerprint(cfg, reference, x, y, w, test=None) -> dict:
    """What a run's numbers depend on: its settings and digests of its (scaled) data."""
    return {"settings": {**cfg.to_dict(), "reference": bool(reference)},
            "data": {"training states x": _digest(x), "training targets dxdt": _digest(y),
                     "row weights": _digest(w),
                     "test set": _digest(*(test if test is not None else (None,)))}}


def save(path, fp, params, opt, rng, state: LoopState, hist):
    """Write a checkpoint atomically."""
    header = dict(version=VERSION, fingerprint=fp, step=int(state.step), pos=int(state.pos),
                  adam_t=int(opt.t), rng=rng.bit_generator.state,
                  test_step=[int(s) for s in hist["test_step"]],
                  test_loss=[float(v) for v in hist["test_loss"]])
    arrays = {"header": np.array(json.dumps(header)), "order": state.order,
              "train_loss": hist["train_loss"], "lr": hist["lr"]}
    for l, ((W, b), (mW, mb), (vW, vb)) in enumerate(zip(params, opt.m, opt.v)):
        arrays.update({f"W{l}": W, f"b{l}": b, f"mW{l}": mW, f"mb{l}": mb, f"vW{l}": vW, f"vb{l}": vb})
    save_npz(path, arrays)


def _differences(saved, mine) -> list[str]:
    out = []
    for key in sorted(set(saved) | set(mine)):
        if saved.get(key) != mine.get(key):
            out.append(f"{key} (checkpoint: {saved.get(key)!r}, now: {mine.get(key)!r})")
    return out


def load(path, fp, params, opt, rng, hist, n_rows) -> LoopState:
    """Restore a checkpoint into ``params``, ``opt``, ``rng`` and ``hist``; returns the loop state.

    Nothing is modified unless the whole file checks out. Only the members
    named here are read, each after its header matches the shape and dtype
    expected.
    """
    what = "checkpoint"
    with Npz(path, what) as data:
        return _restore(data, data.path, what, fp, params, opt, rng, hist, n_rows)


def _restore(data: Npz, path, what, fp, params, opt, rng, hist, n_rows) -> LoopState:
    header = data.header("header")
    if header.get("version") != VERSION:
        raise ValueError(f"{what} {path!r} has version {header.get('version')!r}; expected {VERSION}")
    saved_fp = header.get("fingerprint")
    if not isinstance(saved_fp, dict) or not all(isinstance(saved_fp.get(k), dict) for k in fp):
        raise ValueError(f"{what} {path!r} has no valid fingerprint")
    differ = _differences(saved_fp["settings"], fp["settings"])
    if differ:
        raise ValueError(f"{what} {path!r} was made with other settings: " + "; ".join(differ))
    differ = [k for k in fp["data"] if saved_fp["data"].get(k) != fp["data"][k]]
    if differ:
        raise ValueError(f"{what} {path!r} was made on other data: the {', '.join(differ)} differ")

    total = len(hist["train_loss"])
    missing = [k for k in ("step", "pos", "adam_t", "test_step", "test_loss", "rng") if k not in header]
    if missing:
        raise ValueError(f"{what} {path!r} has a bad header: it lacks {missing}")
    step, pos, adam_t = (header[k] for k in ("step", "pos", "adam_t"))
    test_step, test_loss, rng_state = header["test_step"], header["test_loss"], header["rng"]
    for name, value, hi in (("step", step, total), ("pos", pos, n_rows), ("adam_t", adam_t, total)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{what} {path!r}: {name} must be an integer; got {value!r}")
        if not 0 <= value <= hi:
            raise ValueError(f"{what} {path!r}: {name} = {value} is outside [0, {hi}]")
    if adam_t != step:
        raise ValueError(f"{what} {path!r}: Adam's step {adam_t} differs from the loop's {step}")
    if not (isinstance(test_step, list) and isinstance(test_loss, list)):
        raise ValueError(f"{what} {path!r}: test_step and test_loss must be lists")
    if len(test_step) != len(test_loss):
        raise ValueError(f"{what} {path!r}: test_step and test_loss differ in length")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in test_step) or \
            test_step != sorted(set(test_step)) or any(not 1 <= s <= step for s in test_step):
        raise ValueError(f"{what} {path!r}: test_step must be increasing integers in [1, step = {step}]; "
                         f"got {test_step!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in test_loss):
        raise ValueError(f"{what} {path!r}: test_loss must be numbers; got {test_loss!r}")

    def array(key, shape, dtype, finite=True):
        if key not in data:
            raise ValueError(f"{what} {path!r} is incomplete: it lacks {key!r}")
        a_shape, a_dtype = data.info(key)  # the header alone
        if a_shape != shape or a_dtype != dtype:
            raise ValueError(f"{what} {path!r}: {key!r} is {a_dtype} {a_shape}; expected {np.dtype(dtype)} {shape}")
        a = data[key]
        if finite and not np.isfinite(a).all():
            raise ValueError(f"{what} {path!r}: {key!r} has non-finite values")
        return a

    order_info = data.info("order") if "order" in data else None
    if order_info is None or order_info[0] != (n_rows,) or not np.issubdtype(order_info[1], np.integer):
        raise ValueError(f"{what} {path!r}: 'order' must be {n_rows} integers, one per training row")
    order = data["order"]
    if not np.array_equal(np.sort(order), np.arange(n_rows)):
        raise ValueError(f"{what} {path!r}: 'order' is not a permutation of the {n_rows} training rows")
    restored = []
    for l, ((W, b), (mW, mb), (vW, vb)) in enumerate(zip(params, opt.m, opt.v)):
        for dst, key in ((W, "W"), (b, "b"), (mW, "mW"), (mb, "mb"), (vW, "vW"), (vb, "vb")):
            restored.append((dst, array(f"{key}{l}", dst.shape, dst.dtype)))
            if key.startswith("v") and (restored[-1][1] < 0).any():
                raise ValueError(f"{what} {path!r}: '{key}{l}' has negative entries; a second moment is >= 0")
    if f"W{len(params)}" in data:
        raise ValueError(f"{what} {path!r} has more layers than the network's {len(params)}")
    train_loss = array("train_loss", (total,), np.float64, finite=False)
    lr = array("lr", (total,), np.float64, finite=False)
    if not (np.isfinite(train_loss[:step]).all() and np.isfinite(lr[:step]).all() and (lr[:step] > 0).all()):
        raise ValueError(f"{what} {path!r}: the first step = {step} entries of train_loss and lr must be "
                         "finite (and lr > 0)")
    try:
        probe = np.random.Generator(type(rng.bit_generator)())
        probe.bit_generator.state = rng_state
    except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as e:
        raise ValueError(f"{what} {path!r} has a bad generator state: {e!r}") from None

    for dst, src in restored:
        dst[...] = src
    opt.t = adam_t
    rng.bit_generator.state = rng_state
    hist["train_loss"][:] = train_loss
    hist["lr"][:] = lr
    hist["test_step"][:] = [int(s) for s in test_step]
    hist["test_loss"][:] = [float(v) for v in test_loss]
    return LoopState(order.astype(np.int64), pos, step)
