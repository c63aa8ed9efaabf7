"""A reward program's named numeric constants as parameters: find, vary, write back.

LLM rewards are full of named constants (``ANGLE_TEMPERATURE = 0.5``, ``ACTION_WEIGHT =
0.01``). Read as traced arguments instead of literals, W variants of one program train in the
same compiled program (``tune=W``, see ``eureka_jax.tune``).

What is a tunable constant: a module-level ``NAME = <float literal>`` (a sign allowed, e.g.
``-0.5`` or ``2e-3``), assigned once at module level, with a nonzero finite value. Integers
are left alone (they are often counts, indices or shapes; ``2.0`` makes one tunable), and so
is anything computed (``SCALE = 2 * WEIGHT`` follows ``WEIGHT`` when that one is tuned, since
the module's top level is re-run with the tuned values). A constant the program uses in a way
that needs a Python number (``if WEIGHT > 0:``, ``range(...)``, ``math.exp(WEIGHT)``) is found
when it is traced and stays a literal (``eureka_jax.reward.checks``).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np

# the name the lifted program reads its constants from; the policy rejects dunder names in
# reward code, so a program cannot read or shadow it itself
PARAMETERS = "__constants__"


@dataclass(frozen=True)
class Constant:
    """One tunable constant: its name, its value in the source and the line it is set on."""

    name: str
    value: float
    line: int


def _float_literal(node: ast.expr) -> float | None:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return sign * node.value
    return None


def _assigned_names(tree: ast.Module) -> dict[str, int]:
    """How often each name is bound in ``tree`` (assignments, loops, imports, ...; over-counting
    comprehension variables is harmless), so a constant set twice is not taken for a
    parameter."""
    counts: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            counts[node.id] = counts.get(node.id, 0) + 1
        elif isinstance(node, ast.alias):
            name = (node.asname or node.name).split(".")[0]
            counts[name] = counts.get(name, 0) + 1
    return counts


def _constant_nodes(tree: ast.Module) -> list[tuple[ast.stmt, Constant]]:
    counts = _assigned_names(_top_level_only(tree))
    found = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.simple and stmt.value is not None:
            target, value = stmt.target, stmt.value
        else:
            continue
        if not isinstance(target, ast.Name) or counts.get(target.id, 0) != 1:
            continue
        number = _float_literal(value)
        if number is None or number == 0.0 or not math.isfinite(number):
            continue
        found.append((stmt, Constant(target.id, number, stmt.lineno)))
    return found


def _top_level_only(tree: ast.Module) -> ast.Module:
    """The module without function and class bodies (their local names are not module
    names), keeping the definitions' own names."""
    body = []
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body.append(ast.Assign(targets=[ast.Name(stmt.name, ast.Store())],
                                   value=ast.Constant(None), lineno=stmt.lineno))
        else:
            body.append(stmt)
    return ast.Module(body=body, type_ignores=[])


def find_constants(source: str) -> tuple[Constant, ...]:
    """The program's tunable constants (see the module docstring), in source order."""
    return tuple(c for _, c in _constant_nodes(ast.parse(source)))


def lifted_tree(source: str, names) -> ast.Module:
    """The program's syntax tree with each named constant's literal replaced by a read of
    ``__constants__["NAME"]``: executing it with a mapping there sets those values (tracers
    included), and everything computed from them at the top level follows. Line numbers are
    kept, so errors still point at the program's lines."""
    tree = ast.parse(source)
    wanted = set(names)
    for stmt, constant in _constant_nodes(tree):
        if constant.name not in wanted:
            continue
        read = ast.Subscript(value=ast.Name(PARAMETERS, ast.Load()),
                             slice=ast.Constant(constant.name), ctx=ast.Load())
        stmt.value = ast.copy_location(read, stmt.value)
    return ast.fix_missing_locations(tree)


def format_value(value: float) -> str:
    """The shortest float literal that reads back as the same float32 (what training used),
    always with a decimal point or exponent, so it stays a tunable float constant."""
    v = np.float32(value)
    if v != 0 and not 1e-4 <= abs(v) < 1e7:
        return np.format_float_scientific(v, unique=True, trim="0")
    return np.format_float_positional(v, unique=True, trim="0")


def with_values(source: str, values: dict[str, float]) -> str:
    """The program's text with the named constants set to ``values`` (everything else,
    comments included, as it was): a tuned program a user can read and reuse.

    Raises:
      KeyError: a name that is not one of the program's tunable constants.
    """
    tree = ast.parse(source)
    nodes = {c.name: stmt.value for stmt, c in _constant_nodes(tree)}
    missing = [n for n in values if n not in nodes]
    if missing:
        raise KeyError(f"not tunable constants of this program: {', '.join(missing)}")
    lines = source.splitlines(keepends=True)
    # edit from the end, so earlier offsets stay valid
    for name in sorted(values, key=lambda n: (nodes[n].lineno, nodes[n].col_offset),
                       reverse=True):
        node = nodes[name]
        if node.lineno != node.end_lineno:
            raise ValueError(f"constant {name} spans several lines; cannot rewrite it")
        i = node.lineno - 1
        line = lines[i].encode()  # ast offsets are in UTF-8 bytes
        lines[i] = (line[:node.col_offset] + format_value(values[name]).encode()
                    + line[node.end_col_offset:]).decode()
    return "".join(lines)
