"""Ctrl-C and SIGTERM: a training run stops between two steps, saves where it stands, and says how to go on.

While a :class:`Deferred` is active (:func:`hnn_np.fit` holds one around its
loop), SIGINT and SIGTERM only set a flag. After each step the loop looks at
it; if set, it saves a checkpoint at the step reached (when it has a
checkpoint path) and raises :class:`Interrupted`, a ``KeyboardInterrupt``
that carries the step and the checkpoint. A second signal while the first
is being honoured stops at once (a plain ``KeyboardInterrupt``).

A handler is replaced only where it is Python's default (SIGINT's
``KeyboardInterrupt``, SIGTERM's immediate exit, or :func:`terminate_as_interrupt`'s),
and only in the main thread; elsewhere a :class:`Deferred` changes nothing.

:func:`terminate_as_interrupt` makes SIGTERM raise ``KeyboardInterrupt``
outside the loop too, so that the command line ends a terminated run as it
ends a Ctrl-C: cleanups run, one line is printed, exit status 130.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["Interrupted", "Deferred", "terminate_as_interrupt"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(signal.Signals(signum).name)


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal after ``step`` of ``total`` steps.

    ``checkpoint`` is the file that holds step ``saved`` (None: the run had
    no checkpoint, nothing was saved).
    """

    def __init__(self, signum, step, total, checkpoint=None, saved=None):
        self.signum, self.step, self.total = signum, int(step), int(total)
        self.checkpoint, self.saved = checkpoint, saved
        name = signal.Signals(signum).name if signum is not None else "interrupt"
        if checkpoint is None:
            where = "nothing was saved"
        else:
            where = f"the checkpoint {str(checkpoint)!r} holds step {saved}: pass it as resume= to continue"
        super().__init__(f"{name} at step {self.step} of {self.total}; {where}")


def _ours_to_replace(signum, handler) -> bool:
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    return handler in (signal.SIG_DFL, _raise_interrupt)


class Deferred:
    """From construction to :meth:`restore`, SIGINT and SIGTERM set :attr:`signum` instead of stopping the code.

    Usable as ``with Deferred() as stop:`` too. A signal that arrives after
    the code's last look (:meth:`interrupted` not called) is delivered again
    by :meth:`restore`, to the handler it had before.
    """

    def __init__(self):
        self.signum, self._consumed, self._saved = None, False, {}
        if threading.current_thread() is not threading.main_thread():
            return
        for s in SIGNALS:
            handler = signal.getsignal(s)
            if _ours_to_replace(s, handler):
                self._saved[s] = handler
                signal.signal(s, self._handle)

    def _handle(self, signum, frame):
        if self.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt(signal.Signals(signum).name)
        self.signum = signum

    @property
    def requested(self) -> bool:
        """True once a signal has arrived."""
        return self.signum is not None

    def interrupted(self, step, total, checkpoint=None, saved=None) -> Interrupted:
        """The exception to raise: stopped after ``step`` of ``total``, ``checkpoint`` holding step ``saved``."""
        self._consumed = True
        return Interrupted(self.signum, step, total, checkpoint, saved)

    def restore(self):
        """Put the previous handlers back (and deliver a signal the code did not look at)."""
        for s, handler in self._saved.items():
            if signal.getsignal(s) == self._handle:
                signal.signal(s, handler)
        self._saved = {}
        if self.requested and not self._consumed:
            self._consumed = True
            signal.raise_signal(self.signum)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()
        return False


@contextmanager
def terminate_as_interrupt():
    """Within the block SIGTERM raises ``KeyboardInterrupt`` (if its handler was the default)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
