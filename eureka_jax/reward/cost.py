"""What a traced program costs per call: floating-point work counted on its jaxpr.

XLA's own cost analysis (``jax.jit(f).lower(x).cost_analysis()``) counts a loop's body once,
whatever its trip count: a ``lax.scan`` of 100,000 steps reads as 10 flops. Rewards run inside
every environment step of training, so a reward's cost must count every iteration. This
counts on the jaxpr instead: a ``scan`` costs its length times its body, a ``cond`` its most
expensive branch, a ``dot_general`` 2·M·N·K, a convolution 2·|out|·(kernel window × input
features, ×4), a windowed reduction |out|·|window|, a sort n·log n (×32; the multiples are
measured, see ``SORT_WEIGHT``), an FFT 5·n·log n, gathers and scatters their index sets and
slices, a reduction the size of its input, and any other operation the
size of its output (at least 1). A ``while`` loop, whose trip count is unknown,
counts one iteration (rewards cannot contain one; environment steps, e.g. MJX's solver, do, so
a step's count is a lower bound and a reward/step ratio errs on the reward's side).

The same counter runs on the reward (in the checker process) and on the task's environment
step (``Task.step_flops``), so the limit is a ratio measured in one unit.
"""

from __future__ import annotations

import math

import jax.extend.core

REDUCTIONS = frozenset({
    "reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or",
    "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp",
    "reduce_precision",
})
CUBIC = frozenset({"cholesky", "eigh", "eig", "svd", "lu", "qr", "triangular_solve", "schur",
                   "hessenberg", "tridiagonal"})


# Work that costs far more time than its flop count on XLA's CPU backend, measured against
# timed runs (benchmarks/results/reward_compile.md: a 4,096-element sort took 35x, a 15x15
# convolution 3.7x what n log n and 2·|out|·|kernel| predicted in env-step units): counted at
# these multiples, so that the limit errs on the side of the batch-mates' time.
SORT_WEIGHT = 32.0
CONV_WEIGHT = 4.0


def _size(var) -> int:
    return math.prod(getattr(getattr(var, "aval", None), "shape", ()) or ())


def sub_jaxprs(params):
    """The jaxprs inside an equation's parameters (bodies of scan, cond, pjit, ...)."""
    for value in params.values():
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            if isinstance(v, jax.extend.core.ClosedJaxpr):
                yield v.jaxpr
            elif isinstance(v, jax.extend.core.Jaxpr):
                yield v


def jaxpr_flops(jaxpr) -> float:
    """Estimated floating-point operations of one evaluation of ``jaxpr`` (a ``Jaxpr`` or
    ``ClosedJaxpr``); see the module docstring for the model."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        params = eqn.params
        if name == "scan":
            total += float(params["length"]) * jaxpr_flops(params["jaxpr"])
        elif name == "cond":
            total += max((jaxpr_flops(b) for b in params["branches"]), default=0.0)
        elif name == "while":
            total += jaxpr_flops(params["body_jaxpr"]) + jaxpr_flops(params["cond_jaxpr"])
        elif name == "dot_general":
            (lhs_contract, _), _ = params["dimension_numbers"]
            shape = eqn.invars[0].aval.shape
            k = math.prod(shape[d] for d in lhs_contract)
            total += 2.0 * _size(eqn.outvars[0]) * k
        elif name in CUBIC:
            shape = eqn.invars[0].aval.shape
            n = shape[-1] if shape else 1
            total += float(math.prod(shape[:-2]) if len(shape) > 2 else 1) * n ** 3
        elif name == "sort":
            n = max(_size(v) for v in eqn.invars)
            total += SORT_WEIGHT * n * max(1.0, math.log2(max(n, 2)))
        elif name in ("conv_general_dilated", "conv_general_dilated_local"):
            # every output element is a dot product over the kernel's window and input
            # features: 2 * |out| * |kernel| / out_features
            rhs = eqn.invars[1].aval.shape
            spec = getattr(params.get("dimension_numbers"), "rhs_spec", None)
            out_features = rhs[spec[0]] if spec else (rhs[0] if rhs else 1)
            total += (CONV_WEIGHT * 2.0 * _size(eqn.outvars[0]) * math.prod(rhs)
                      / max(out_features, 1))
        elif name.startswith(("reduce_window", "select_and_")):
            window = math.prod(params.get("window_dimensions", ()) or (1,))
            total += float(max(_size(v) for v in [*eqn.invars, *eqn.outvars])) * window
        elif name == "fft":
            n = math.prod(params.get("fft_lengths", ()) or (1,))
            total += 5.0 * _size(eqn.invars[0]) * max(1.0, math.log2(max(n, 2)))
        elif name == "top_k":
            n = _size(eqn.invars[0])
            total += SORT_WEIGHT * n * max(1.0, math.log2(max(int(params.get("k", 2)), 2)))
        elif name.startswith("scatter") or name == "gather":
            # the index set and the slices it moves
            total += float(sum(_size(v) for v in eqn.invars[1:]) + _size(eqn.outvars[0]))
        else:
            inner = list(sub_jaxprs(params))
            if inner:  # pjit, closed_call, remat, custom_jvp/vjp calls, ...
                total += sum(jaxpr_flops(j) for j in inner)
            elif name in REDUCTIONS:
                total += max([_size(v) for v in eqn.invars] + [1])
            else:
                total += max([_size(v) for v in eqn.outvars] + [1])
    return total


def constants_size(closed) -> tuple[int, int]:
    """(elements of the largest captured constant, elements of all of them) of a
    ``ClosedJaxpr``: arrays the program closes over (module-level arrays, default argument
    values, closures) that would be embedded in every compiled training program."""
    sizes = [math.prod(getattr(c, "shape", ()) or ()) for c in closed.consts]
    return max(sizes, default=0), sum(sizes)
