"""The reward pruner: an environment's module source with its reward code removed, as the LLM
reads it (Playground envs through ``env.PlaygroundTask``, Isaac Gym tasks through
``bridges/isaacgym/context.py``). Works on the syntax tree: reward methods, imports and
statements go; names left unbound become None or 0.0; blocks left empty get ``pass``; helpers
only the reward used are dropped. The result always parses.
"""

from __future__ import annotations

import ast


def _mentions_reward(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        name = getattr(sub, "id", None) or getattr(sub, "attr", None) or getattr(sub, "name", None)
        if isinstance(name, str) and "reward" in name.lower():
            return True
        if isinstance(sub, ast.Constant) and str(sub.value).startswith("reward/"):
            return True
        if isinstance(sub, ast.alias) and "reward" in sub.name.lower():
            return True
    return False


class _RewardPruner(ast.NodeTransformer):
    """Removes reward methods/imports/statements; a remaining ``reward`` name becomes 0.0."""

    def _drop_if_reward(self, node):
        return None if _mentions_reward(node) else node

    def visit_FunctionDef(self, node):
        if "reward" in node.name.lower():
            return None
        self.generic_visit(node)
        if not node.body:
            node.body = [ast.Pass()]
        return node

    def visit_Call(self, node):  # `config_dict.create(..., reward_config=...)` loses that part
        node.keywords = [k for k in node.keywords if not (k.arg and "reward" in k.arg.lower())]
        self.generic_visit(node)
        return node

    def visit_For(self, node):  # `for k in config.reward_config.scales: ...` logs rewards
        if _mentions_reward(node.iter):
            return None
        self.generic_visit(node)
        return node

    def visit_Import(self, node):
        return self._drop_if_reward(node)

    def visit_ImportFrom(self, node):
        node.names = [a for a in node.names if "reward" not in a.name.lower()]
        return node if node.names else None

    def visit_Assign(self, node):
        for target in node.targets:  # `reward, done = ...` keeps `done`
            if isinstance(target, ast.Tuple):
                target.elts = [
                    ast.Name("_", ast.Store()) if _mentions_reward(e) else e for e in target.elts
                ]
        self.generic_visit(node)  # `metrics = {"reward/x": ..., "y": ...}` keeps `{"y": ...}`
        return self._drop_if_reward(node)

    def visit_AugAssign(self, node):
        return self._drop_if_reward(node)

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant):
            return node  # docstrings stay
        return self._drop_if_reward(node)

    def visit_Name(self, node):
        if node.id == "reward" and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(0.0), node)
        return node

    def visit_Dict(self, node):
        self.generic_visit(node)
        keep = [
            (k, v)
            for k, v in zip(node.keys, node.values)
            if not (k is not None and _mentions_reward(k))
        ]
        node.keys = [k for k, _ in keep]
        node.values = [v for _, v in keep]
        return node


_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
           ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)


def _stored_names(tree: ast.AST) -> set[str]:
    """Every name a tree binds: assignments, arguments, imports, defs, loop targets."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                               ast.ExceptHandler)) and node.name:
            names.add(node.name)
    return names


def _reads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _known(tree: ast.AST, bound_before: set[str]) -> set[str]:
    """Names a read may use: bound now, or never bound in the source (globals, builtins)."""
    return _stored_names(tree) | (_reads(tree) - bound_before)


def _drop_dangling(tree: ast.Module, bound_before: set[str]) -> bool:
    """Removes what reads a name that the source bound but nothing binds any more (its
    definition was a reward computation): dict entries, then simple statements. Returns
    whether anything went."""
    known = _known(tree, bound_before)
    dropped = False
    for node in ast.walk(tree):  # entries first, so a dict keeps what it can
        if isinstance(node, ast.Dict):
            keep = [(k, v) for k, v in zip(node.keys, node.values) if not _reads(v) - known]
            dropped |= len(keep) != len(node.keys)
            node.keys, node.values = [k for k, _ in keep], [v for _, v in keep]
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            keep = [stmt for stmt in stmts if not (
                isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr))
                and _reads(stmt) - known)]
            dropped |= len(keep) != len(stmts)
            setattr(node, field, keep)
    return dropped


class _NoneForUnbound(ast.NodeTransformer):
    """Last resort: a name still read but no longer bound (e.g. in a ``return``) -> None."""

    def __init__(self, known):
        self.known = known

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id not in self.known:
            return ast.copy_location(ast.Constant(None), node)
        return node


def _fill_empty_blocks(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, _BLOCKS) and not node.body:
            node.body = [ast.Pass()]
        if isinstance(node, ast.Try) and not node.handlers and not node.finalbody:
            node.finalbody = [ast.Pass()]


def _defined_names(stmt: ast.stmt) -> set[str]:
    """Names a module-level constant assignment or function definition binds."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if all(isinstance(t, ast.Name) for t in targets):
            return {t.id for t in targets}
    return set()


def _drop_unused_definitions(tree: ast.Module, read_before: set[str]) -> bool:
    """Removes module-level constants and helper functions that the source read somewhere but
    nothing reads any more: what only the removed reward code used (e.g. a reward's bounds and
    margins). Returns whether anything went."""
    read_now = _reads(tree)
    keep = []
    for stmt in tree.body:
        names = _defined_names(stmt)
        if names and not any(n.startswith("__") for n in names) and names <= read_before \
                and not names & read_now:
            continue
        keep.append(stmt)
    dropped = len(keep) != len(tree.body)
    tree.body = keep
    return dropped


def prune_reward_code(source: str) -> str:
    """Returns ``source`` with every reward computation removed, as Eureka prunes task files.

    Removed: functions and methods whose name mentions "reward", imports of reward
    modules, statements that compute or log rewards (``metrics["reward/..."]``), then the
    statements that read what those computed, and the module-level constants and helpers
    only the removed code used; a reward value passed on to a ``State``
    becomes ``0.0``; a block left empty gets ``pass``. The result always parses. Comments
    are not kept (the source is re-printed from its syntax tree); docstrings are.
    """
    original = ast.parse(source)
    bound_before = _stored_names(original)
    read_before = _reads(original)
    tree = _RewardPruner().visit(original)
    while _drop_dangling(tree, bound_before) | _drop_unused_definitions(tree, read_before):
        pass
    tree = _NoneForUnbound(_known(tree, bound_before)).visit(tree)
    _fill_empty_blocks(tree)
    text = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    ast.parse(text)  # a SyntaxError here is our bug, not the task author's
    return text
