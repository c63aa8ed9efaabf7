"""The checks that execute reward code; they run inside the worker process (sandbox.py).

Each returns a plain dict so it crosses the process boundary: ``ok``, and either the
program's ``components`` or a failure ``category``/``message``/``line``.
"""

from __future__ import annotations

import contextlib
import math

import jax
import jax.export
import jax.extend.core
import jax.numpy as jnp
import numpy as np

from eureka_jax.reward.cost import constants_size, jaxpr_flops, sub_jaxprs
from eureka_jax.reward.policy import Policy
from eureka_jax.reward.sandbox import error_line, load_function


def _fail(category, message, line=None):
    return {"ok": False, "category": category, "message": message, "line": line}


def _short(exc: BaseException, limit: int = 400) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    first = " ".join(text.splitlines()[:3])
    return first if len(first) <= limit else first[:limit] + " ..."


def check_program(source: str, entry: str, bound: list, specs: dict, probe: dict,
                  policy: Policy, step_flops: float | None = None,
                  platforms: tuple = ("cpu",)) -> dict:
    """Executes, traces, checks, exports and probes one reward program.

    The program checked is the program trained: its tunable constants (``reward.constants``)
    are found first and lifted to traced arguments, as the trainer passes them; that function
    is traced, its jaxpr checked (sizes, loops, callbacks, captured arrays, cost), exported
    (StableHLO for ``platforms``, batched over a symbolic leading axis) and the exported
    program itself is run on real transitions. The trainer runs that exported program and
    never executes the reward's Python.

    Args:
      source: the program (already parsed and checked against the policy).
      entry: the reward function's name.
      bound: the reward inputs the function takes, in argument order.
      specs: input name -> (shape, dtype name), for one environment.
      probe: input name -> array ``[N, *shape]`` of real transitions.
      policy: limits (array sizes, captured constants, cost, components, primitives).
      step_flops: the environment step's cost in the same count, the unit of the cost limit
        (None: an absolute limit instead).
      platforms: what the exported program is lowered for (the trainer's platform).

    Runs under ``policy.program_memory_bytes`` more address space than the process had before.
    """
    with _memory_budget(policy.program_memory_bytes):
        return _check_program(source, entry, bound, specs, probe, policy, step_flops,
                              tuple(platforms))


@contextlib.contextmanager
def _memory_budget(extra: int):
    """Lowers this process's address-space limit to its current size + ``extra`` for the
    duration (the hard limit, set at start-up, stays)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[0]) * resource.getpagesize()
    limit = current + extra if hard == resource.RLIM_INFINITY else min(hard, current + extra)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _as_scalars(out):
    """A reward's output with plain Python numbers (a constant bonus, ``0.0``) as float32
    scalars: what every consumer of the reward expects."""
    def number(v):
        return jnp.float32(v) if type(v) in (int, float) else v

    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
        return number(out[0]), {k: number(v) for k, v in out[1].items()}
    return out


def _caller(source, entry, bound, policy, names=()):
    """``call(values [n], inputs) -> (total, components)``: the program with the constants
    ``names`` read from ``values`` (traced), its output checked for structure. Without
    constants the module is executed once, here (its arrays are captured constants); with
    them, in every trace, as the trainer traces it (what is computed from them follows)."""
    plain = None if names else load_function(source, entry, policy)

    def call(values, inputs):
        fn = plain or load_function(source, entry, policy, constants={
            n: values[i] for i, n in enumerate(names)})
        out = _as_scalars(fn(**{n: inputs[n] for n in bound}))
        problem = _check_output_structure(out, policy)
        if problem:
            raise _OutputProblem(problem)
        return out

    return call


def _guarded(step, policy: Policy):
    """Runs ``step()``; a failure of the program becomes the failure answer (a dict)."""
    try:
        return step()
    except _OutputProblem as e:
        return _fail("output", str(e))
    except MemoryError:
        return _fail("resource", "the program ran out of memory while being executed (the "
                     f"limit for one program is {policy.program_memory_bytes >> 20} MiB); do not build large arrays, lists "
                     "or strings.")
    except RecursionError as e:
        return _fail("exception", "the program recursed too deeply; remove the recursion.",
                     error_line(e))
    except Exception as e:  # noqa: BLE001 - whatever the LLM code raised is its feedback
        if "RESOURCE_EXHAUSTED" in str(e):
            return _fail("resource", "the program allocated too much memory (the limit for one "
                         f"program is {policy.program_memory_bytes >> 20} MiB); use small "
                         "arrays.")
        return _fail("exception", f"the program raised {_short(e)}", error_line(e))


def _check_program(source, entry, bound, specs, probe, policy, step_flops, platforms):
    abstract = {n: jax.ShapeDtypeStruct(tuple(specs[n][0]), specs[n][1]) for n in bound}
    no_values = jax.ShapeDtypeStruct((0,), jnp.float32)
    first = _guarded(lambda: jax.make_jaxpr(_caller(source, entry, bound, policy),
                                            return_shape=True)(no_values, abstract), policy)
    if isinstance(first, dict):
        return first
    components = sorted(first[1][1])
    tunable = _tunable(source, entry, bound, abstract, policy, components)
    call = _guarded(lambda: _caller(source, entry, bound, policy, tunable), policy)
    if isinstance(call, dict):
        return call
    values = jax.ShapeDtypeStruct((len(tunable),), jnp.float32)
    # the function the trainer runs, traced as it traces it: constants as traced values
    traced = _guarded(lambda: jax.make_jaxpr(call, return_shape=True)(values, abstract), policy)
    if isinstance(traced, dict):
        return traced
    closed, (total_abs, parts_abs) = traced
    if sorted(parts_abs) != components:
        return _fail("output", "the program returns different components when its constants "
                     "are traced; build the components dict the same way whatever the values.")

    problem = _check_jaxpr(closed.jaxpr, policy)
    if problem:
        return _fail("resource", problem)
    outside = components_outside_total(closed.jaxpr, components)
    largest, captured = constants_size(closed)
    if captured > policy.max_constant_elements:
        return _fail("resource", (
            f"the program captures arrays of {captured:,} elements (the largest {largest:,}) "
            "that it builds outside the reward call: module-level arrays, default argument "
            "values or closures, which are embedded in every compiled training program; the "
            f"limit is {policy.max_constant_elements:,}. Use scalar constants, or build small "
            "arrays inside the function."))
    flops = jaxpr_flops(closed)
    problem = _check_cost(flops, step_flops, policy)
    if problem:
        return _fail("cost", problem)

    exported = _guarded(lambda: _export(call, values, abstract, bound, platforms), policy)
    if isinstance(exported, dict):
        return exported

    from eureka_jax.reward.constants import find_constants

    source_values = {c.name: c.value for c in find_constants(source)}
    row = np.asarray([source_values[n] for n in tunable], np.float32)
    batch = {n: jnp.asarray(probe[n], specs[n][1]) for n in bound}
    size = len(next(iter(batch.values()))) if batch else 1
    try:
        program = jax.export.deserialize(exported)
        total, parts = jax.jit(program.call)(jnp.broadcast_to(row, (size, len(row))),
                                             *[batch[n] for n in bound])
    except Exception as e:  # noqa: BLE001 - whatever the LLM code raised is its feedback
        return _fail("exception", f"the program raised on real inputs: {_short(e)}", error_line(e))
    bad = _first_non_finite(np.asarray(total), {k: np.asarray(v) for k, v in parts.items()})
    if bad:
        name, index = bad
        example = ", ".join(
            f"{n}={_fmt(np.asarray(probe[n])[index])}" for n in bound if n != "action"
        )
        return _fail(
            "non-finite",
            f"the reward is NaN or infinite on real transitions: `{name}` at inputs "
            f"({example}); guard divisions, logs and square roots (e.g. add a small epsilon, "
            "use jnp.clip).",
        )
    return {"ok": True, "components": components, "outside_total": outside,
            "total_dtype": str(total_abs.dtype),
            "flops": flops, "constants": tunable, "exported": bytes(exported)}


def _export(call, values, abstract, bound, platforms) -> bytearray:
    """The program as serialized StableHLO: ``(values [b, n], *inputs [b, ...]) -> (total [b],
    {name: [b]})`` with a symbolic batch size ``b``."""
    (b,) = jax.export.symbolic_shape("b")

    def batched(values, *inputs):
        return jax.vmap(call)(values, dict(zip(bound, inputs)))

    args = [jax.ShapeDtypeStruct((b, *values.shape), values.dtype)]
    args += [jax.ShapeDtypeStruct((b, *abstract[n].shape), abstract[n].dtype) for n in bound]
    return jax.export.export(jax.jit(batched), platforms=platforms)(*args).serialize()


def _tunable(source, entry, bound, abstract, policy, components) -> list[str]:
    """The program's constants (``reward.constants``) that trace as arguments: greedily, in
    source order, each one kept if the program still traces to the same structure with it
    (and those before it) as a traced float32 scalar. One that needs a Python number
    (``if WEIGHT > 0:``, ``math.exp(WEIGHT)``, a shape) stays a literal."""
    from eureka_jax.reward.constants import find_constants

    kept: list[str] = []
    for constant in find_constants(source):
        names = [*kept, constant.name]
        values = jax.ShapeDtypeStruct((len(names),), jnp.float32)
        try:
            call = _caller(source, entry, bound, policy, names)
            _, parts = jax.eval_shape(call, values, abstract)
            traces = sorted(parts) == components
        except Exception:  # noqa: BLE001 - it needs a Python number: it stays a literal
            traces = False
        if traces:
            kept.append(constant.name)
    return kept


def _check_cost(flops: float, step_flops: float | None, policy: Policy) -> str | None:
    how = ("it runs in every environment step of training, for every environment, and in a "
           "batched round every candidate's reward runs for all of them; drop long loops "
           "(lax.scan/fori_loop over many steps), large matrix products and matrix powers, "
           "and compute each term once from the inputs")
    if step_flops:
        ratio = flops / step_flops
        if ratio > policy.max_cost_ratio:
            return (f"one call of the reward costs about {flops:.3g} floating-point operations, "
                    f"{ratio:,.0f} times one environment step ({step_flops:.3g}); the limit is "
                    f"{policy.max_cost_ratio:g} steps. {how[0].upper() + how[1:]}.")
    elif flops > policy.max_flops_without_reference:
        return (f"one call of the reward costs about {flops:.3g} floating-point operations; the "
                f"limit is {policy.max_flops_without_reference:.3g}. "
                f"{how[0].upper() + how[1:]}.")
    return None


def _fmt(value) -> str:
    value = np.asarray(value)
    return f"{float(value):.4g}" if value.ndim == 0 else np.array2string(value, precision=3)


class _OutputProblem(Exception):
    pass


def _check_output_structure(out, policy: Policy) -> str | None:
    how = ("return `total, {\"name\": component, ...}` where total and each component are "
           "float scalars (shape ()); reduce vectors with jnp.sum/jnp.mean")
    if not (isinstance(out, tuple) and len(out) == 2):
        kind = f"a tuple of {len(out)}" if isinstance(out, tuple) else type(out).__name__
        return f"the function returned {kind}; {how}."
    total, parts = out
    if not isinstance(parts, dict):
        return f"the second return value is a {type(parts).__name__}, not a dict; {how}."
    if not hasattr(total, "shape"):
        return f"the total is a {type(total).__name__}; {how}."
    if total.shape != ():
        return f"the total has shape {tuple(total.shape)}, not () (a scalar); {how}."
    if not jnp.issubdtype(total.dtype, jnp.floating):
        return f"the total has dtype {total.dtype}; make it a float (e.g. `* 1.0`)."
    if len(parts) > policy.max_components:
        return (f"the reward returns {len(parts):,} components; the limit is "
                f"{policy.max_components}. Return the few terms that matter, each under a short "
                "name.")
    for key, value in parts.items():
        if not isinstance(key, str):
            return f"component key {key!r} is not a string; name components with strings."
        if not key.isidentifier() or len(key) > policy.max_component_name_chars:
            shown = key if len(key) <= 40 else key[:40] + "..."
            return (f"component name {shown!r} ({len(key):,} characters) is not a short "
                    f"identifier; name each component like a Python variable (letters, digits, "
                    f"underscores), at most {policy.max_component_name_chars} characters.")
        if not hasattr(value, "shape") or isinstance(value, dict):
            return f"component '{key}' is a {type(value).__name__}; {how}."
        if value.shape != ():
            return f"component '{key}' has shape {tuple(value.shape)}, not (); {how}."
        if not jnp.issubdtype(value.dtype, jnp.floating):
            return f"component '{key}' has dtype {value.dtype}; make it a float (e.g. `* 1.0`)."
    return None


def components_outside_total(jaxpr, names: list[str]) -> list[str]:
    """The components (``names``: the program's outputs after the total, in order) that the
    total is not computed from: reported, but rewarding nothing. Equal computations count as
    one (a component recomputed with the same operations on the same inputs as a term of the
    total enters it), so only a value that no part of the total computes is named."""
    ids: dict = {}  # structural key of a value -> a small int (common subexpressions)
    key: dict = {}

    def of(v):
        if isinstance(v, jax.extend.core.Literal):
            return ids.setdefault(("literal", repr(v.val), str(v.aval)), len(ids))
        return key[v]

    for i, v in enumerate(jaxpr.invars):
        key[v] = ids.setdefault(("input", i), len(ids))
    for i, v in enumerate(jaxpr.constvars):
        key[v] = ids.setdefault(("captured", i), len(ids))
    made_by = {}
    for eqn in jaxpr.eqns:
        op = (eqn.primitive.name, str(sorted(eqn.params.items(), key=lambda kv: kv[0])),
              tuple(of(x) for x in eqn.invars))
        for j, out in enumerate(eqn.outvars):
            key[out] = ids.setdefault((op, j), len(ids))
            made_by[out] = eqn
    used, stack, seen = set(), [jaxpr.outvars[0]], set()
    while stack:
        v = stack.pop()
        used.add(of(v))
        if isinstance(v, jax.extend.core.Literal) or v in seen:
            continue
        seen.add(v)
        if v in made_by:
            stack.extend(made_by[v].invars)
    return [name for name, v in zip(names, jaxpr.outvars[1:]) if of(v) not in used]


def _check_jaxpr(jaxpr, policy: Policy) -> str | None:
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in policy.forbidden_primitives:
            if name == "while":
                return ("the program contains a loop whose length is only known at run time "
                        "(lax.while_loop, or fori_loop with traced bounds); use a fixed "
                        "number of iterations.")
            return f"the program uses `{name}`, which is not allowed in rewards."
        for var in eqn.outvars:
            size = math.prod(getattr(var.aval, "shape", ()))
            if size > policy.max_intermediate_elements:
                return (f"the program builds an array of {size:,} elements (shape "
                        f"{tuple(var.aval.shape)}) in `{name}`; the limit is "
                        f"{policy.max_intermediate_elements:,}. Rewards of one environment "
                        "need small arrays.")
        for sub in sub_jaxprs(eqn.params):
            problem = _check_jaxpr(sub, policy)
            if problem:
                return problem
    return None


def _first_non_finite(total, parts):
    for name, values in [("total", total), *parts.items()]:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            return name, int(bad[0])
    return None
