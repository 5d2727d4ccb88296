"""The right-hand side as the compiled driver calls it: one narrow function pointer.

The driver (:mod:`.driver`) is compiled once per method and kept in Numba's
disk cache, so it cannot know ``fun``: it calls, through a pointer, a function
of one fixed signature (:data:`NARROW`)::

    rhs(t, n, y, dy_dt, p, n_p)       float64, int64, float64*, float64*, float64*, int64

which writes f(t, y) into the n values at ``dy_dt``; ``p`` holds the n_p
numbers that carry fun's extra arguments. Scalars and raw pointers only: a
call passes six machine words (an array would pass seven words for each of
y, dy_dt and every array argument). Behind the pointer sits a small adapter
compiled for each user ``fun`` (:mod:`.adapters`), which rebuilds y, dy_dt and
``args`` from these words and calls ``fun`` directly, so that the compiler can
inline it. The call uses Numba's own calling convention, so an exception
raised in ``fun`` reaches the caller of solve_ivp.

What crosses the pointer, and the four pieces that build and read it:

* :func:`call_rhs` -- ``fun(t, y, dy_dt, address, p)`` as the controller
  calls every right-hand side: the function at ``address`` called with the
  arrays' data pointers (and :func:`data_pointer`); :func:`call_event` the
  same for event functions, ``g(t, n, y, p, n_p) -> float64`` (:data:`EVENT`);
* :func:`pack` (Python) and :func:`unpack` (compiled) -- ``args`` as the
  vector ``p``: a float64 parameter vector ``(params,)`` is ``p`` itself;
  anything else (floats, integers, booleans, arrays of any dtype and layout,
  tuples of them) is written as words, a number as its value (float) or its
  bits (integer), an array as its address, shape and strides. The arrays
  rebuilt from those words are views without a reference count; the arrays of
  ``args`` are held by the caller of solve_ivp until it returns.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

__all__ = ["NARROW", "EVENT", "PARAMS", "data_pointer", "call_rhs", "call_event", "pack", "unpack"]

_POINTER = types.CPointer(types.float64)
NARROW = types.void(types.float64, types.int64, _POINTER, _POINTER, _POINTER, types.int64)
EVENT = types.float64(types.float64, types.int64, _POINTER, _POINTER, types.int64)  # g(t, n, y, p, n_p)
PARAMS = types.UniTuple(types.Array(types.float64, 1, "C"), 1)  # args = (params,): p is params itself


@intrinsic
def data_pointer(typingctx, array):
    """The address of array[0] (a C-contiguous array), typed as a pointer to its dtype."""

    def codegen(context, builder, signature, values):
        return context.make_array(signature.args[0])(context, builder, values[0]).data

    return types.CPointer(array.dtype)(array), codegen


@intrinsic
def call_rhs(typingctx, t, y, dy_dt, address, p):
    """dy_dt = f(t, y): the function at ``address`` (:data:`NARROW`) called with the data pointers of y, dy_dt, p.

    The ``fun`` the driver hands the controller, with ``args = (address, p)``.
    A call with Numba's calling convention: an exception raised behind the
    pointer is raised here. (An intrinsic, so that the call is emitted where
    the step calls ``fun``, and only the six words cross.)
    """

    def codegen(context, builder, signature, values):
        t_value, y_value, dy_dt_value, address_value, p_value = values
        y_array = context.make_array(signature.args[1])(context, builder, y_value)
        dy_dt_array = context.make_array(signature.args[2])(context, builder, dy_dt_value)
        p_array = context.make_array(signature.args[4])(context, builder, p_value)
        function_type = context.call_conv.get_function_type(types.none, NARROW.args)
        function = builder.inttoptr(address_value, function_type.as_pointer())
        words = [t_value, builder.extract_value(y_array.shape, 0), y_array.data, dy_dt_array.data, p_array.data,
                 builder.extract_value(p_array.shape, 0)]  # fmt: skip
        status, _ = context.call_conv.call_function(builder, function, types.none, NARROW.args, words)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return types.none(types.float64, y, dy_dt, types.int64, p), codegen


@intrinsic
def call_event(typingctx, e, t, y, addresses, p):
    """g_e(t, y): the event function at ``addresses[e]`` (:data:`EVENT`), called as :func:`call_rhs` calls fun.

    The ``g`` of the driver's :class:`..events.Events`, ``args = (addresses, p)``.
    """

    def codegen(context, builder, signature, values):
        e_value, t_value, y_value, addresses_value, p_value = values
        y_array = context.make_array(signature.args[2])(context, builder, y_value)
        addresses_array = context.make_array(signature.args[3])(context, builder, addresses_value)
        p_array = context.make_array(signature.args[4])(context, builder, p_value)
        address = builder.load(builder.gep(addresses_array.data, [e_value]))
        function_type = context.call_conv.get_function_type(types.float64, EVENT.args)
        function = builder.inttoptr(address, function_type.as_pointer())
        words = [t_value, builder.extract_value(y_array.shape, 0), y_array.data, p_array.data,
                 builder.extract_value(p_array.shape, 0)]  # fmt: skip
        status, value = context.call_conv.call_function(builder, function, types.float64, EVENT.args, words)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return value

    return types.float64(types.int64, types.float64, y, addresses, p), codegen


def pack(args: tuple) -> np.ndarray:
    """The vector p that carries ``args`` (not ``(params,)``) to :func:`unpack`: values, bits, addresses."""
    floats: list = []
    ints: list = []  # positions and values of the words that are integers

    def add(value):
        if type(value) is tuple:
            for item in value:
                add(item)
        elif isinstance(value, np.ndarray):
            ints.append((len(floats), value.__array_interface__["data"][0]))
            floats.append(0.0)
            for size in (*value.shape, *value.strides):
                ints.append((len(floats), size))
                floats.append(0.0)
        elif isinstance(value, (float, np.floating)):
            floats.append(float(value))
        else:  # int, bool, NumPy integers and booleans (the adapter's type says which)
            ints.append((len(floats), int(value)))
            floats.append(0.0)

    add(args)
    p = np.array(floats)
    bits = p.view(np.int64)
    for position, value in ints:
        bits[position] = value
    return p


@intrinsic
def unpack(typingctx, p, args_type):
    """``args`` of the type ``args_type`` from the vector p written by :func:`pack` (or ``(p,)``: :data:`PARAMS`)."""
    target = args_type.instance_type

    def codegen(context, builder, signature, values):
        if target == PARAMS:
            return impl_ret_borrowed(context, builder, target, context.make_tuple(builder, target, [values[0]]))
        data = context.make_array(signature.args[0])(context, builder, values[0]).data  # double*
        int64 = ir.IntType(64)
        bits = builder.bitcast(data, int64.as_pointer())
        position = [0]

        def word(pointer):
            position[0] += 1
            return builder.load(builder.gep(pointer, [ir.Constant(int64, position[0] - 1)]))

        def build(ty):
            if isinstance(ty, types.BaseTuple):
                return context.make_tuple(builder, ty, [build(item) for item in ty])
            if isinstance(ty, types.Array):
                element = context.get_data_type(ty.dtype)
                view = context.make_array(ty)(context, builder)
                address = builder.inttoptr(word(bits), element.as_pointer())
                shape = [word(bits) for _ in range(ty.ndim)]
                strides = [word(bits) for _ in range(ty.ndim)]
                itemsize = context.get_constant(types.intp, context.get_abi_sizeof(element))
                context.populate_array(view, data=address, shape=shape, strides=strides, itemsize=itemsize,
                                       meminfo=None)  # fmt: skip
                return view._getvalue()
            if isinstance(ty, types.Float):
                value = word(data)
                return value if ty.bitwidth == 64 else builder.fptrunc(value, context.get_value_type(ty))
            if isinstance(ty, types.Boolean):
                return builder.icmp_unsigned("!=", word(bits), ir.Constant(int64, 0))
            if isinstance(ty, types.Integer):
                value = word(bits)
                return value if ty.bitwidth == 64 else builder.trunc(value, context.get_value_type(ty))
            raise TypeError(f"cannot pass {ty} to a jitted fun through solve_ivp's args")

        return build(target)

    return target(p, args_type), codegen
