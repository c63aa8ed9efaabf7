"""Compile LLM reward source into a ``RewardFn`` the trainer can vmap and jit."""

from __future__ import annotations

import ast
import atexit
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jax.numpy as jnp

from eureka_jax.reward.constants import Constant, find_constants, with_values
from eureka_jax.reward.errors import RewardError
from eureka_jax.reward.exported import per_env_function
from eureka_jax.reward.extract import check_bounds, extract_code
from eureka_jax.reward.policy import DEFAULT_POLICY, Policy, check_tree
from eureka_jax.reward.worker import Worker


@dataclass(frozen=True, eq=False)
class RewardFn:
    """A checked reward program.

    Call it on one environment's reward inputs (a dict with at least ``input_names``):
    ``total, components = reward_fn(inputs)``; batch with ``jax.vmap``.

    Attributes:
      source: the extracted program text.
      entry: the function's name.
      input_names: the reward inputs it takes, in argument order.
      component_names: the keys of its components dict, sorted.
      compile_seconds: wall time of extraction, checks, tracing and probing.
      flops: estimated floating-point work of one call, for one environment
        (``eureka_jax.reward.cost``).
      constants: its tunable constants (``eureka_jax.reward.constants``): named float
        literals that the trainer can pass as traced values instead.
      exported: the program as the checker traced and checked it (serialized StableHLO,
        ``eureka_jax.reward.exported``): what calling this object runs. The reward's Python
        is never executed in this process.
      input_dtypes: the dtype of each input, in ``input_names`` order.
      trusted_fn: instead of ``exported``, a Python function called directly: only for code
        of our own (tests, built-in rewards built in code), never for LLM-written code.
      outside_total: components the total is not computed from (reported, rewarding
        nothing; ``checks.components_outside_total``).
    """

    source: str
    entry: str
    input_names: tuple[str, ...]
    component_names: tuple[str, ...]
    exported: bytes = field(default=b"", repr=False)
    input_dtypes: tuple[str, ...] = ()
    compile_seconds: float = 0.0
    flops: float | None = None
    constants: tuple[Constant, ...] = ()
    policy: Policy = field(default=DEFAULT_POLICY, repr=False)
    trusted_fn: Callable | None = field(default=None, repr=False)
    outside_total: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.exported and self.trusted_fn is None:
            raise ValueError("a RewardFn runs either a checked export (build it with "
                             "compile_reward) or, for code of our own, a trusted_fn; it has "
                             "neither.")

    def __call__(self, inputs: dict, constants=None):
        """``constants``: None (the source's values) or one value per ``self.constants``
        (an array [n] or a sequence; traced values allowed)."""
        if self.trusted_fn is not None:
            return self.trusted_fn(**{name: inputs[name] for name in self.input_names})
        n = len(self.constants)
        if constants is None or not n:
            values = jnp.asarray(self.constant_values, jnp.float32).reshape(n)
        else:
            values = jnp.asarray(constants, jnp.float32)[:n]
        args = [jnp.asarray(inputs[name], dtype)
                for name, dtype in zip(self.input_names, self.input_dtypes, strict=True)]
        return self._program(values, *args)

    @functools.cached_property
    def _program(self):
        return per_env_function(self.exported)

    @property
    def constant_values(self) -> tuple[float, ...]:
        return tuple(c.value for c in self.constants)

    def with_values(self, values) -> str:
        """This program's source with its constants set to ``values`` (one per
        ``self.constants``), as text: a tuned program to read, save and compile again."""
        return with_values(self.source, {c.name: float(v)
                                         for c, v in zip(self.constants, values, strict=True)})


@functools.cache
def _worker(policy: Policy) -> Worker:
    worker = Worker(policy)
    atexit.register(worker.close)
    return worker


def as_text(source: str | bytes, policy: Policy = DEFAULT_POLICY) -> str:
    """A reward file's bytes (or text) as text, bounded in size first: too long, not UTF-8
    or with a NUL byte is a one-sentence rejection."""
    limit = policy.max_reply_chars
    if isinstance(source, bytes | bytearray):
        if len(source) > 4 * limit:
            raise RewardError("resource", f"the reward is {len(source):,} bytes long; the limit "
                              f"is {limit:,} characters.")
        try:
            source = bytes(source).decode("utf-8")
        except UnicodeDecodeError as e:
            raise RewardError("syntax", f"the reward is not UTF-8 text (byte {e.start} is "
                              f"{bytes(source)[e.start:e.start + 1]!r}); save it as UTF-8.") from None
    check_bounds(source, limit, "reward")
    return source


def parse_reward(source: str, entry: str = "compute_reward", policy: Policy = DEFAULT_POLICY):
    """Static checks only (no execution): syntax, policy, entry point. Returns the entry node."""
    check_bounds(source, policy.max_source_chars, "program")
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        text = (e.text or "").strip()
        where = f"line {e.lineno}: " if e.lineno else ""
        shown = f": `{text}`" if text else ""
        raise RewardError("syntax", f"{where}{e.msg}{shown}; fix the syntax.", e.lineno) from None
    except (RecursionError, MemoryError, ValueError) as e:
        raise RewardError("syntax", f"the program cannot be parsed ({type(e).__name__}); "
                          "simplify deeply nested expressions.") from None
    violations = check_tree(tree, policy)
    if violations:
        lines = source.splitlines()
        shown = []
        for v in violations[:5]:
            code = lines[v.line - 1].strip() if 0 < v.line <= len(lines) else ""
            shown.append(f"line {v.line}: {v.what}" + (f" (`{code}`)" if code else "")
                         + (f"; {v.instead}" if v.instead else ""))
        raise RewardError("forbidden", "; ".join(shown) + ".", violations[0].line)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    entries = [n for n in defs if n.name == entry]
    if not entries:
        found = ", ".join(n.name for n in defs) or "none"
        raise RewardError("extraction", f"no top-level function `{entry}` (functions found: "
                          f"{found}); define `def {entry}(<reward inputs>)`.")
    return entries[-1]


def compile_reward(source: str, task, *, entry: str = "compute_reward",
                   policy: Policy = DEFAULT_POLICY, extract: bool = True,
                   public_only: bool = False) -> RewardFn:
    """Turns an LLM reply (or a reward file's text) into a checked ``RewardFn``.

    Steps: extract the code from the reply; parse; check it against the policy; bind the
    entry's arguments by name to the task's reward inputs; then, in a resource-limited
    worker process with a wall-clock limit, execute it, trace it for one environment, check
    the returned structure (``(total, {name: component})``, float scalars), inspect the traced
    program (array sizes, no unbounded loops or callbacks), and run it on real transitions
    (finite outputs). Only then is it executed here.

    Args:
      source: an LLM reply or plain Python source.
      task: the ``Task`` whose reward inputs the function may take.
      entry: the reward function's name.
      policy: what the code may use, and the limits.
      extract: look for code inside prose/Markdown first.
      public_only: bind only the inputs an LLM is shown (not the task's ``baseline_inputs``,
        e.g. the reward a wrapped env computed): for searched rewards.

    Returns:
      The ``RewardFn``.

    Raises:
      RewardError: with ``.category`` and ``.message`` (written to be fed back to the LLM).
    """
    start = time.perf_counter()
    source = as_text(source, policy)
    code = extract_code(source, entry, policy.max_reply_chars) if extract else source
    node = parse_reward(code, entry, policy)
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    with_defaults = set(names[len(names) - len(args.defaults):] if args.defaults else ())
    with_defaults |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None}
    specs = task.reward_input_specs
    private = set(getattr(task, "baseline_inputs", ())) if public_only else set()
    if private:
        specs = {k: v for k, v in specs.items() if k not in private}
    unknown = [n for n in names if n not in specs and n not in with_defaults]
    if unknown:
        raise RewardError(
            "binding",
            f"`{entry}` takes {', '.join(repr(n) for n in unknown)}, which "
            f"{'is not a reward input' if len(unknown) == 1 else 'are not reward inputs'} of "
            f"task '{task.name}'; valid names: {', '.join(specs)}.",
            node.lineno,
        )
    bound = [n for n in names if n in specs]
    request = {
        "source": code,
        "entry": entry,
        "bound": bound,
        "specs": {n: (tuple(s.shape), str(s.dtype)) for n, s in specs.items()},
        "probe": {n: v for n, v in task.probe_inputs.items() if n in bound},
        "policy": policy,
        "step_flops": getattr(task, "step_flops", None),
        "platforms": _export_platforms(),
    }
    result = _worker(policy).run(request, policy.trace_timeout_s)
    if not result["ok"]:
        raise RewardError(result["category"], _with_line(result, code), result["line"])
    tunable = set(result.get("constants", ()))
    reward_fn = RewardFn(
        source=code,
        entry=entry,
        input_names=tuple(bound),
        component_names=tuple(result["components"]),
        exported=result["exported"],
        input_dtypes=tuple(str(specs[n].dtype) for n in bound),
        compile_seconds=time.perf_counter() - start,
        flops=result.get("flops"),
        constants=tuple(c for c in find_constants(code) if c.name in tunable),
        policy=policy,
        outside_total=tuple(result.get("outside_total", ())),
    )
    _trace_here(reward_fn, specs)
    return reward_fn


def _trace_here(reward_fn: RewardFn, specs) -> None:
    """Traces the exported program in this (the trainer's) process, on its own, as the
    trainer will (one environment, constants as traced values, under vmap): a program that
    cannot be traced here fails alone, before any batched program is built with it."""
    import jax

    one = {n: jax.ShapeDtypeStruct((2, *specs[n].shape), specs[n].dtype)
           for n in reward_fn.input_names}
    values = jax.ShapeDtypeStruct((2, len(reward_fn.constants)), jnp.float32)
    try:
        jax.eval_shape(jax.vmap(lambda x, c: reward_fn(x, c)), one, values)
    except Exception as e:  # noqa: BLE001 - e.g. an export for another platform
        raise RewardError("exception", "the checked program could not be traced by the "
                          f"trainer: {type(e).__name__}: {str(e).splitlines()[0][:300]}") from None


@functools.cache
def _export_platforms() -> tuple[str, ...]:
    """What checked programs are lowered for: this process's platform (where they train) and
    the CPU (where they are probed)."""
    import jax.export

    return tuple(dict.fromkeys(("cpu", jax.export.default_export_platform())))


def _with_line(result: dict, code: str) -> str:
    line = result.get("line")
    lines = code.splitlines()
    if line and 0 < line <= len(lines):
        return f"line {line} (`{lines[line - 1].strip()}`): {result['message']}"
    return result["message"]
