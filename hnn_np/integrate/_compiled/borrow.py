"""Borrowed arrays: views of an array's memory that Numba does not reference-count.

Why. Compiled by Numba, every array carries a pointer to a reference count
(its "meminfo"), and Numba adds 1 to it (an atomic instruction) whenever
the array is passed to a function or bound to a variable, and subtracts 1
again later. LLVM deletes such pairs only when nothing between them could
free memory, and in the integrator something always does (a returning
``fun`` makes a new array at every call, and a call through a function
pointer may do anything). So the counting stayed, many atomic operations
per call of ``fun``: a large part of the run time of a small system (see
``benchmarks/README.md``).

An array made by ``numba.carray(pointer, shape)`` over memory it does not own
has no reference count at all (a null meminfo, for which Numba's increments
and decrements are a compare and return). :func:`borrowed` makes such a view
of an array (its Numba type unchanged); the compiled batch
(:func:`.driver.integrate_batch_borrowed`) borrows every array it hands to the step
loop.

The rule that keeps this safe: a borrowed view must not outlive the array it
was made from. Here the owners are the arguments of the compiled function that
borrows them, held by its caller until it returns (never a local variable of
that function: Numba frees a local array after its last use, which may be the
call that borrows it), and no borrowed view is returned to Python (the
entries return arrays they allocated themselves).

Called from Python (the interpreted twin) :func:`borrowed` returns its
argument unchanged.
"""

from __future__ import annotations

from ..jitable import jitable
from ..tableau import Tableau

__all__ = ["borrowed", "borrowed_args", "borrowed_tableau", "register"]


def borrowed(array):
    """A view of a C-contiguous array without a reference count (Python: the array itself)."""
    return array


def borrowed_args(args):
    """``args`` (a tuple) with each C-contiguous array borrowed, the rest as it is (Python: ``args`` itself).

    The extra arguments of ``fun`` reach it at every call: owned, each array
    among them was counted up and down at every call.
    """
    return args


def register():
    """Teach Numba ``borrowed`` (called once, by :func:`.jit.load`).

    Compiled, borrowed(array) is typed and generated directly (Numba's
    low-level extension API, no separate compilation per array type): the same
    array structure (data pointer, shape, strides; same type) with its meminfo
    and parent pointers set to NULL, the representation Numba gives arrays made
    by numba.carray from a raw pointer.
    """
    from llvmlite import ir
    from numba import types
    from numba.core.imputils import impl_ret_borrowed
    from numba.extending import lower_builtin, type_callable

    @type_callable(borrowed)
    def _type_borrowed(context):
        def typer(array):
            if isinstance(array, types.Array) and array.layout == "C":
                return array

        return typer

    from numba.extending import overload

    @overload(borrowed_args)
    def _borrowed_args(args):
        if not isinstance(args, types.BaseTuple):
            return None
        items = [f"borrowed(args[{i}])" if isinstance(t, types.Array) and t.layout == "C" else f"args[{i}]"
                 for i, t in enumerate(args.types)]  # fmt: skip
        source = f"def impl(args):\n    return ({', '.join(items)}{',' if len(items) == 1 else ''})\n"
        namespace = {"borrowed": borrowed}
        exec(compile(source, "<hnn_np.integrate._compiled.borrow: borrowed_args>", "exec"), namespace)  # noqa: S102
        return namespace["impl"]

    @lower_builtin(borrowed, types.Array)
    def _lower_borrowed(context, builder, sig, args):
        view = context.make_array(sig.args[0])(context, builder, args[0])
        view.meminfo = ir.Constant(view.meminfo.type, None)
        view.parent = ir.Constant(view.parent.type, None)
        return impl_ret_borrowed(context, builder, sig.return_type, view._getvalue())


@jitable
def borrowed_tableau(tab):
    """``tab`` with borrowed coefficient arrays."""
    return Tableau(
        borrowed(tab.A), borrowed(tab.B), borrowed(tab.C), borrowed(tab.E), borrowed(tab.E3), borrowed(tab.D),
        tab.n_stages, tab.order, tab.fsal_in_error, tab.safe, tab.fac1, tab.fac2, tab.beta, tab.expo1, tab.key,
    )  # fmt: skip
