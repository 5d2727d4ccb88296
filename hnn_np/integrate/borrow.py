"""Borrowed arrays: views of an array's memory that Numba does not reference-count.

Why. Compiled by Numba, every array carries a pointer to a reference count
(its "meminfo"), and Numba adds 1 to it (an atomic, ~10 ns instruction)
whenever the array is passed to a function or bound to a variable, and
subtracts 1 again later. LLVM deletes such pairs only when nothing between them
could free memory, and in the integrator something always does: each call of
``fun`` returns a new array that is freed once copied into K. So the counting
stayed, about 20 atomic operations per call of ``fun``: half the run time.

An array made by ``numba.carray(pointer, shape)`` over memory it does not own
has no reference count at all (a null meminfo, for which Numba's increments
and decrements are a compare and return). :func:`borrowed` makes such a view
of an array; the compiled entry points of the driver borrow every array they
hand to the step loop.

The rule that keeps this safe: a borrowed view must not outlive the array it
was made from. Here the owners are the arguments of the compiled call, held by
the Python caller until the call returns, and no borrowed view is returned to
Python (the driver returns copies or arrays it allocated itself).

Called from Python (the interpreted twin) :func:`borrowed` returns its
argument unchanged.
"""

from __future__ import annotations

from numba import carray, types
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload, register_jitable

from .tableau import Tableau

__all__ = ["borrowed", "borrowed_tableau"]


@intrinsic
def _data_pointer(typingctx, array):
    """The address of an array's first element, as a typed pointer (for ``numba.carray``)."""
    signature = types.CPointer(array.dtype)(array)

    def codegen(context, builder, sig, args):
        return context.make_array(sig.args[0])(context, builder, args[0]).data

    return signature, codegen


def borrowed(array):
    """A view of a C-contiguous array without a reference count (Python: the array itself)."""
    return array


@overload(borrowed)
def _borrowed(array):
    if not (isinstance(array, types.Array) and array.layout == "C"):
        raise TypingError(f"borrowed() needs a C-contiguous array; got {array}")

    def impl(array):
        return carray(_data_pointer(array), array.shape)

    return impl


@register_jitable
def borrowed_tableau(tab):
    """``tab`` with borrowed coefficient arrays (they become writeable views: never written)."""
    return Tableau(
        borrowed(tab.A), borrowed(tab.B), borrowed(tab.C), borrowed(tab.E), borrowed(tab.E3), borrowed(tab.D),
        tab.n_stages, tab.order, tab.fsal_in_error, tab.safe, tab.fac1, tab.fac2, tab.beta, tab.expo1,
    )  # fmt: skip
