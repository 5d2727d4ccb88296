"""Mutants: a function with one piece of its code changed, to show that a test can fail.

A test that passes on the code and on a deliberately broken copy of it tests
nothing. :func:`mutate` makes the broken copy from the real source, so the
mutant follows the code as it changes. The piece to change is found in the
syntax tree (:mod:`ast`), not in the text: a statement or expression is
matched whatever its spacing, line breaks, redundant parentheses or comments,
so reformatting the source cannot break a mutant; if the code it breaks is
renamed or rewritten, :func:`mutate` raises instead of silently testing the
original.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap

__all__ = ["mutate", "mutated_source", "without_tanh_second_term"]


def _parse_piece(code: str, what: str):
    """``code`` as one statement or one expression; -> (node, kind)."""
    try:
        return ast.parse(code.strip(), mode="eval").body, ast.expr
    except SyntaxError:
        pass
    body = ast.parse(textwrap.dedent(code).strip()).body
    if len(body) != 1:
        raise ValueError(f"{what} must be one statement or one expression; got {code!r}")
    return body[0], ast.stmt


class _Replace(ast.NodeTransformer):
    def __init__(self, old, kind, new):
        self.target, self.kind, self.new, self.count = ast.dump(old), kind, new, 0

    def visit(self, node):
        if isinstance(node, self.kind) and ast.dump(node) == self.target:
            self.count += 1
            return ast.copy_location(self.new, node)
        return self.generic_visit(node)


def mutated_source(source: str, old: str, new: str, name: str = "the source") -> str:
    """``source`` with the one statement or expression equal to ``old`` (as syntax) replaced by ``new``.

    Raises ``ValueError`` unless ``old`` occurs exactly once, or if ``old``
    and ``new`` are not one statement or expression each, of the same kind.
    """
    old_node, kind = _parse_piece(old, "old")
    new_node, new_kind = _parse_piece(new, "new")
    if new_kind is not kind:
        raise ValueError(f"old and new must both be statements or both expressions; got {old!r}, {new!r}")
    tree = ast.parse(textwrap.dedent(source))
    replace = _Replace(old_node, kind, new_node)
    tree = ast.fix_missing_locations(replace.visit(tree))
    if replace.count != 1:
        raise ValueError(f"{old!r} occurs {replace.count} times in {name}; expected once")
    return ast.unparse(tree)


def mutate(function, old: str, new: str):
    """``function`` recompiled with the one statement or expression ``old`` of its source replaced by ``new``.

    The copy runs in (a copy of) the function's module namespace, so it sees
    the same helpers. Raises ``ValueError`` unless ``old`` occurs exactly once.
    """
    source = mutated_source(inspect.getsource(function), old, new, function.__qualname__)
    namespace = dict(vars(sys.modules[function.__module__]))
    exec(compile(source, f"<mutant of {function.__qualname__}>", "exec"), namespace)
    return namespace[function.__name__]


def without_tanh_second_term():
    """:func:`hnn_np.hnn.loss_and_grad` without the tanh'' term of its Step 2.

    The classic double-backprop slip: ``a_bar`` keeps only the path through
    the next layer, so ``z_bar = s1 * (z_bar[l+1] @ W[l+1].T)`` and the
    ``s2 * g * d_bar`` term is lost.
    """
    from .. import hnn

    return mutate(hnn.loss_and_grad, "a_bar = -2 * a[l + 1] * s1_bar[l]", "a_bar = 0 * s1_bar[l]")
