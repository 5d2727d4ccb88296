"""The right-hand side as a first-class function: an address, not part of the driver's type.

Why. A jitted ``fun`` handed to a compiled function as a Numba dispatcher
becomes part of that function's type, so the driver was compiled again for
every ``fun`` and could not be cached on disk. Here ``fun`` reaches the driver
as two machine addresses of its compiled code (numbers, looked up once per
``fun`` in Python), and the driver turns them into a value of Numba's
first-class function type ``numba.types.FunctionType(sig)``: its type
depends only on the signature ``sig``, so the driver is compiled once per
method and kind of ``args``, and loaded from Numba's disk cache afterwards.
A call through the pointer costs more than an inlined call (see
``benchmarks/README.md``), and saves compiling the driver for every ``fun``.

Two signatures (0-based arguments; ``vector`` is a C-contiguous float64
array, shape (n,)):

* in place: ``void(float64 t, vector y, vector dy_dt, *args)``;
* returning: ``vector(float64 t, vector y, *args)``.

:func:`rhs_function` builds the function value from the two addresses (the
native entry, with Numba's own calling convention, so exceptions raised in
``fun`` still reach the caller, and the C wrapper). For the adapters of
:mod:`.adapters`, :func:`header_function` makes an intrinsic that reads them
from the first two words of a float64 vector, :func:`scalars_function` one
that reads the numbers after them, and :func:`tail` views the rest of that
vector. :func:`addresses` looks the two addresses up for a dispatcher and a
signature.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.experimental.function_type import _get_jit_address, _get_wrapper_address
from numba.extending import intrinsic

__all__ = ["VECTOR", "inplace_signature", "returning_signature", "addresses", "rhs_function",
           "header_function", "scalars_function", "tail"]  # fmt: skip

VECTOR = types.Array(types.float64, 1, "C")


def inplace_signature(arg_types) -> types.FunctionType:
    """``void(float64, vector, vector, *arg_types)``."""
    return types.void(types.float64, VECTOR, VECTOR, *arg_types)


def returning_signature(arg_types) -> types.FunctionType:
    """``vector(float64, vector, *arg_types)``."""
    return VECTOR(types.float64, VECTOR, *arg_types)


def addresses(fun, signature) -> tuple[int, int]:
    """(C wrapper, native) addresses of ``fun`` compiled for ``signature`` (compiled now if new).

    Raises TypeError when ``fun`` compiled for these arguments returns
    another type than the signature says.
    """
    fun.compile(signature.args)
    returned = fun.overloads[tuple(signature.args)].signature.return_type
    if returned != signature.return_type:
        raise TypeError(f"fun returns {returned}, not {signature.return_type}")
    return _get_wrapper_address(fun, signature), _get_jit_address(fun, signature)


def _function_value(context, builder, function_type, c_addr, jit_addr):
    value = cgutils.create_struct_proxy(function_type)(context, builder)
    pointer = context.get_value_type(types.voidptr)
    value.c_addr = builder.inttoptr(c_addr, pointer)
    value.py_addr = ir.Constant(pointer, None)
    value.jit_addr = builder.inttoptr(jit_addr, pointer)
    return value._getvalue()


@intrinsic
def rhs_function(typingctx, c_addr, jit_addr, args):
    """The in-place right-hand side ``fun(t, y, dy_dt, *args)`` at the addresses (c_addr, jit_addr)."""
    function_type = types.FunctionType(inplace_signature(args.types))

    def codegen(context, builder, signature, values):
        return _function_value(context, builder, function_type, values[0], values[1])

    return function_type(c_addr, jit_addr, args), codegen


def header_function(extra_types, returning: bool):
    """An intrinsic ``header(q)``: the function whose addresses are q[0] and q[1] (as int64 bits).

    Its signature: in place (or ``returning``) with the extra arguments
    ``extra_types``.
    """
    make = returning_signature if returning else inplace_signature
    function_type = types.FunctionType(make(tuple(extra_types)))

    @intrinsic
    def header(typingctx, q):
        def codegen(context, builder, signature, values):
            words = _words(context, builder, signature.args[0], values[0])
            c_addr = builder.load(words)
            jit_addr = builder.load(builder.gep(words, [ir.Constant(ir.IntType(64), 1)]))
            return _function_value(context, builder, function_type, c_addr, jit_addr)

        return function_type(q), codegen

    return header


def _words(context, builder, array_type, array):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(data, ir.IntType(64).as_pointer())


def scalars_function(k: int):
    """An intrinsic ``scalars(q)``: the tuple (q[2], ..., q[k + 1])."""

    @intrinsic
    def scalars(typingctx, q):
        tuple_type = types.UniTuple(types.float64, k)

        def codegen(context, builder, signature, values):
            data = context.make_array(signature.args[0])(context, builder, values[0]).data
            items = [builder.load(builder.gep(data, [ir.Constant(ir.IntType(64), 2 + i)])) for i in range(k)]
            return context.make_tuple(builder, tuple_type, items)

        return tuple_type(q), codegen

    return scalars


@intrinsic
def tail(typingctx, p, start):
    """p[start:] as a C-contiguous view without a reference count (p outlives it)."""

    def codegen(context, builder, signature, values):
        array_type = signature.args[0]
        source = context.make_array(array_type)(context, builder, values[0])
        view = context.make_array(array_type)(context, builder)
        n = builder.extract_value(source.shape, 0)
        length = builder.sub(n, values[1])
        data = builder.gep(source.data, [values[1]])
        context.populate_array(view, data=data, shape=[length], strides=[source.itemsize],
                               itemsize=source.itemsize, meminfo=None)  # fmt: skip
        return view._getvalue()

    return p(p, start), codegen
