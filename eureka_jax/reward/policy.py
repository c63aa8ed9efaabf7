"""What LLM-written reward code may use: allowlists, as data, in one place.

Reward code is untrusted. It is checked statically here (its syntax tree) against allowlists:
the modules it may import, the names it may use from each, the builtins, and the attributes it
may read on values (arrays, tracers, dicts, lists, strings). Everything else is rejected with a
message that says what is allowed. It is then executed, traced and probed only in a separate,
resource-limited process forked afresh for each program (``worker.py``), whose traced program
(jaxpr) is inspected and exported (StableHLO); the trainer runs that exported program and never
executes the reward's Python itself.

The same data builds the namespace the code runs in (``sandbox.py``: module proxies with only
the allowed names), the prompt's list of modules (``llm/prompts.py``) and the Isaac Gym
runtime's (``bridges/isaacgym``).

To widen the policy on purpose, build a ``Policy`` with larger sets, e.g.
``dataclasses.replace(DEFAULT_POLICY, builtins=DEFAULT_POLICY.builtins | {"sorted"})``, and
pass it to ``compile_reward(..., policy=...)``. Every entry is a deliberate decision: a name
that hands out the interpreter (``getattr``, ``type``, ``__import__``), the filesystem
(``open``, ``jnp.save``), the JAX runtime (an array's ``device``, ``lax``'s primitive objects)
or host callbacks (``jax.pure_callback``) must never be added.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass, field


def _names(text: str) -> frozenset:
    return frozenset(text.split())


# ---- modules, and what reward code may use from each -----------------------------------------
# Every jax.numpy function except: I/O (load, save, savez, fromfile, frombuffer, fromstring,
# fromiter, from_dlpack), global state (printoptions, set_/get_printoptions), classes and index
# tricks with a wide attribute surface (ufunc, generic, object_, c_, r_, s_, mgrid, ogrid,
# index_exp), host-side string forms (array_repr, array_str) and Python-callable wrappers
# (frompyfunc, fromfunction).
JAX_NUMPY = _names("""
    abs absolute acos acosh add all allclose amax amin angle any append apply_along_axis
    apply_over_axes arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin
    argpartition argsort argwhere around array array_equal array_equiv array_split asarray asin
    asinh astype atan atan2 atanh atleast_1d atleast_2d atleast_3d average bartlett bfloat16
    bincount bitwise_and bitwise_count bitwise_invert bitwise_left_shift bitwise_not bitwise_or
    bitwise_right_shift bitwise_xor blackman block bool bool_ broadcast_arrays broadcast_shapes
    broadcast_to can_cast cbrt ceil choose clip column_stack complex128 complex64 compress concat
    concatenate conj conjugate convolve copy copysign corrcoef correlate cos cosh count_nonzero
    cov cross cumprod cumsum cumulative_prod cumulative_sum deg2rad degrees delete diag
    diag_indices diag_indices_from diagflat diagonal diff digitize divide divmod dot dsplit dstack
    dtype e ediff1d einsum empty empty_like equal euler_gamma exp exp2 expand_dims expm1 extract
    eye fabs fill_diagonal finfo flatnonzero flip fliplr flipud float16 float32 float64
    float_power floating floor floor_divide fmax fmin fmod frexp full full_like gcd geomspace
    gradient greater greater_equal hamming hanning heaviside histogram histogram_bin_edges hsplit
    hstack hypot i0 identity iinfo imag indices inf inner insert int16 int32 int64 int8 int_
    integer interp intersect1d invert isclose iscomplex isfinite isin isinf isnan isneginf
    isposinf isreal isscalar issubdtype kaiser kron lcm ldexp left_shift less less_equal lexsort
    linalg linspace log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or
    logical_xor logspace matmul matrix_transpose matvec max maximum mean median meshgrid min
    minimum mod modf moveaxis multiply nan nan_to_num nanargmax nanargmin nancumprod nancumsum
    nanmax nanmean nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum nanvar
    ndarray ndim negative newaxis nextafter nonzero not_equal number ones ones_like outer pad
    partition percentile permute_dims pi piecewise polyadd polyder polyint polymul polysub
    polyval positive pow power prod promote_types ptp put_along_axis quantile rad2deg radians
    ravel ravel_multi_index real reciprocal remainder repeat reshape result_type right_shift rint
    roll rollaxis rot90 round searchsorted select sign signbit sin sinc sinh size sort spacing
    split sqrt square squeeze stack std subtract sum swapaxes take take_along_axis tan tanh
    tensordot tile trace transpose trapezoid tri tril triu true_divide trunc uint16 uint32 uint64
    uint8 unravel_index unstack unwrap vander var vdot vecdot vecmat vectorize vsplit vstack where
    zeros zeros_like fft
""")
JAX_NUMPY_LINALG = _names("""
    cholesky cond cross det diagonal eig eigh eigvals eigvalsh inv lstsq matmul matrix_norm
    matrix_power matrix_rank matrix_transpose multi_dot norm outer pinv qr slogdet solve svd
    svdvals tensordot trace vecdot vector_norm
""")
JAX_NUMPY_FFT = _names("""
    fft fft2 fftfreq fftn fftshift ifft ifft2 ifftn ifftshift irfft irfft2 irfftn rfft rfft2
    rfftfreq rfftn
""")
# jax.lax's functions (never its primitive objects, `add_p` ..., whose methods change how JAX
# traces for the whole process), without collectives, random bits, tokens, sharding, host
# transfer, `while_loop` (unbounded) and the general `reduce`/`custom_root`, which take
# Python computations.
JAX_LAX = _names("""
    abs acos acosh add argmax argmin asin asinh associative_scan atan atan2 atanh batch_matmul
    bessel_i0e bessel_i1e betainc bitwise_and bitwise_not bitwise_or bitwise_xor broadcast
    broadcast_in_dim broadcast_to_rank broadcasted_iota cbrt ceil clamp collapse complex
    concatenate cond conj conv conv_general_dilated conv_with_general_padding
    convert_element_type cos cosh cumlogsumexp cummax cummin cumprod cumsum digamma div dot
    dot_general dynamic_index_in_dim dynamic_slice dynamic_slice_in_dim
    dynamic_update_index_in_dim dynamic_update_slice dynamic_update_slice_in_dim eq erf erf_inv
    erfc exp exp2 expand_dims expm1 floor fori_loop full full_like gather ge gt igamma igammac
    imag index_in_dim index_take integer_pow iota is_finite le lgamma log log1p logistic lt map
    max min mul ne neg nextafter pad polygamma pow real reciprocal reduce_and reduce_max
    reduce_min reduce_or reduce_precision reduce_prod reduce_sum reduce_window reduce_xor rem
    reshape rev round rsqrt scan scatter scatter_add scatter_max scatter_min scatter_mul
    scatter_sub select select_n shift_left shift_right_arithmetic shift_right_logical sign sin
    sinh slice slice_in_dim sort sort_key_val split sqrt square squeeze stop_gradient sub switch
    tan tanh top_k transpose zeta Precision GatherDimensionNumbers ScatterDimensionNumbers
    GatherScatterMode
""")
JAX_NN = _names("""
    celu elu gelu glu hard_sigmoid hard_silu hard_swish hard_tanh identity leaky_relu log1mexp
    log_sigmoid log_softmax logmeanexp logsumexp mish one_hot relu relu6 selu sigmoid silu
    soft_sign softmax softplus sparse_plus sparse_sigmoid squareplus standardize swish tanh
""")
# the pure functions of jax.tree_util / jax.tree (not the process-wide pytree registry)
JAX_TREE_UTIL = _names("""
    tree_map tree_leaves tree_structure tree_flatten tree_unflatten tree_reduce tree_all
    tree_transpose tree_map_with_path tree_leaves_with_path tree_flatten_with_path keystr
""")
JAX_TREE = _names("""
    map leaves structure flatten unflatten reduce all transpose map_with_path leaves_with_path
    flatten_with_path
""")
JAX = _names("""
    numpy lax nn tree_util tree jit vmap grad value_and_grad jacfwd jacrev hessian Array
""")
MATH = _names("""
    acos acosh asin asinh atan atan2 atanh cbrt ceil comb copysign cos cosh degrees dist e erf
    erfc exp exp2 expm1 fabs floor fmod frexp fsum gamma gcd hypot inf isclose isfinite isinf
    isnan isqrt lcm ldexp lgamma log log10 log1p log2 modf nan nextafter perm pi pow prod
    radians remainder sin sinh sqrt tan tanh tau trunc ulp factorial
""")
# only what annotations name (annotations are never evaluated anyway)
TYPING = _names("Tuple Dict List Optional Any Union Callable Sequence Mapping")

# module -> the names reward code may use from it (submodules are modules of their own here)
MODULES = {
    "jax": JAX,
    "jax.numpy": JAX_NUMPY,
    "jax.numpy.linalg": JAX_NUMPY_LINALG,
    "jax.numpy.fft": JAX_NUMPY_FFT,
    "jax.lax": JAX_LAX,
    "jax.nn": JAX_NN,
    "jax.tree_util": JAX_TREE_UTIL,
    "jax.tree": JAX_TREE,
    "math": MATH,
    "typing": TYPING,
}

# ---- attributes reward code may read on values ------------------------------------------------
# Arrays and tracers (shape facts, conversions, the arithmetic and reduction methods,
# `.at[...]` updates), the results of jnp.finfo/iinfo, complex numbers, and the plain methods of
# dicts, lists and strings. Not: an array's device, sharding, buffers or host copies (they reach
# the running JAX runtime), a jitted function's lower/trace (they compile), str.format (it looks
# up attributes by name); not str.lower/upper either, whose names a jitted function's
# `.lower` (compile) shares.
VALUE_ATTRIBUTES = _names("""
    shape dtype ndim size T mT at astype reshape ravel flatten squeeze transpose swapaxes sum
    mean max min prod std var argmax argmin argsort sort cumsum cumprod clip round dot any all
    conj conjugate real imag take repeat diagonal trace ptp copy
    set add subtract multiply divide power get
    eps tiny resolution bits smallest_normal
    items keys values update pop setdefault append extend insert index count
    join startswith endswith strip replace split
""")

BUILTINS = _names("""
    abs min max range len float int bool dict list tuple zip enumerate sum round isinstance
    print True False None reversed all any map filter sorted str ValueError TypeError
    Exception AssertionError
""")

# Bare names that would hand out the interpreter, the filesystem or the process: not builtins
# here anyway, rejected by name for a clearer message.
FORBIDDEN_NAMES = frozenset({
    "getattr", "setattr", "delattr", "hasattr", "eval", "exec", "compile", "open", "globals",
    "locals", "vars", "dir", "__import__", "input", "breakpoint", "help", "memoryview", "type",
    "object", "super", "id", "hash", "classmethod", "staticmethod", "property", "exit", "quit",
    "__builtins__", "__loader__", "__spec__",
})

HINTS = {
    "torch": "use jax.numpy (jnp) instead of torch: rewards run inside a JAX program",
    "numpy": "use jax.numpy (import jax.numpy as jnp) instead of numpy",
    "while_loop": "use jax.lax.fori_loop or jax.lax.scan with a fixed number of steps",
    "format": "use an f-string",
    "format_map": "use an f-string",
}

# Syntax that reward code never needs and that opens doors (classes carry dunders, generators
# carry frames, global/nonlocal reach outside the function, with/async run hidden protocols,
# sets iterate in an order that differs between processes).
FORBIDDEN_NODES = {
    ast.ClassDef: "class definitions",
    ast.Global: "`global`",
    ast.Nonlocal: "`nonlocal`",
    ast.Yield: "generators (`yield`)",
    ast.YieldFrom: "generators (`yield from`)",
    ast.Await: "`await`",
    ast.AsyncFunctionDef: "async functions",
    ast.AsyncFor: "async loops",
    ast.AsyncWith: "async `with`",
    ast.With: "`with` blocks",
    ast.Try: "`try` blocks",
    ast.TryStar: "`try` blocks",
    ast.While: "`while` loops (use a `for` loop over a fixed range)",
    ast.Delete: "`del`",
    ast.Set: "sets (their order differs between processes; use a tuple or list)",
    ast.SetComp: "set comprehensions (their order differs between processes; use a list)",
}


def _freeze(modules: dict) -> tuple:
    return tuple(sorted((name, frozenset(names)) for name, names in modules.items()))


@dataclass(frozen=True)
class Policy:
    """The rules a reward program is checked against.

    Attributes:
      modules: ((module, allowed names), ...): what may be imported and used from each.
      builtins: builtin names available to the code.
      value_attributes: attributes that may be read on values (arrays, dicts, ...).
      forbidden_names: bare names rejected wherever they appear.
      max_source_chars: longer programs are rejected before parsing.
      max_reply_chars: longer LLM replies are rejected before code is looked for.
      max_intermediate_elements: any array in the traced program larger than this is rejected.
      max_constant_elements: arrays the program captures (module-level arrays, default
        argument values, closures; embedded in every compiled training program), in all.
      max_cost_ratio: a reward call may cost at most this many environment steps (flops
        counted on the jaxprs, ``eureka_jax.reward.cost``).
      max_flops_without_reference: the bound when the task has no JAX step to compare with
        (Isaac Gym tasks), in flops per environment and call.
      max_components / max_component_name_chars: the reward's components: how many, and how
        long each name (a Python identifier) may be.
      trace_timeout_s: wall-clock limit for executing, tracing and probing one candidate.
      memory_limit_bytes: address-space limit of the checker processes.
      program_memory_bytes: what executing, tracing and probing one program may add to the
        checker's address space.
    """

    modules: tuple = _freeze(MODULES)
    builtins: frozenset = BUILTINS
    value_attributes: frozenset = VALUE_ATTRIBUTES
    forbidden_names: frozenset = FORBIDDEN_NAMES
    forbidden_primitives: frozenset = field(
        default=frozenset({"while", "pure_callback", "io_callback", "debug_callback",
                           "callback", "infeed", "outfeed", "custom_call"})
    )
    max_source_chars: int = 50_000
    max_reply_chars: int = 200_000
    max_intermediate_elements: int = 1_000_000
    max_constant_elements: int = 100_000
    max_cost_ratio: float = 10.0
    max_flops_without_reference: float = 1e6
    max_components: int = 32
    max_component_name_chars: int = 48
    trace_timeout_s: float = 20.0
    memory_limit_bytes: int = 6 << 30
    program_memory_bytes: int = 1 << 30

    @property
    def imports(self) -> frozenset:
        """The module names reward code may import."""
        return frozenset(name for name, _ in self.modules)

    def module_names(self, module: str) -> frozenset:
        """The names reward code may use from ``module`` (empty for a module not allowed)."""
        return dict(self.modules).get(module, frozenset())


DEFAULT_POLICY = Policy()
ALLOWED_IMPORTS = DEFAULT_POLICY.imports


def policy_for(cfg) -> Policy:
    """The default policy with the limits a config sets (``reward_cost_ratio``)."""
    ratio = float(cfg.get("reward_cost_ratio", DEFAULT_POLICY.max_cost_ratio))
    if not ratio > 0:
        from eureka_jax.errors import EurekaError

        raise EurekaError(f"reward_cost_ratio={ratio:g} must be > 0 (how many environment "
                          "steps one reward call may cost; default 10).")
    if ratio == DEFAULT_POLICY.max_cost_ratio:
        return DEFAULT_POLICY
    return Policy(max_cost_ratio=ratio)


@dataclass(frozen=True)
class Violation:
    line: int
    what: str
    instead: str


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside annotations: never evaluated (PEP 563), so `x: torch.Tensor`
    is harmless text and is not checked."""
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(n) for root in roots for n in ast.walk(root)}


def _suggest(name: str, allowed) -> str:
    close = difflib.get_close_matches(name, sorted(allowed), n=3, cutoff=0.8)
    return f" (did you mean {', '.join(close)}?)" if close else ""


class _Checker:
    """One pass over a program: which names are modules, and whether each use of a module or
    a value's attribute is allowed."""

    def __init__(self, tree: ast.AST, policy: Policy):
        self.policy = policy
        self.modules = dict(policy.modules)
        self.found: list[Violation] = []
        self.aliases: dict[str, str] = {}  # local name -> module it names
        self.skip = _annotation_nodes(tree)
        self.tree = tree

    def add(self, node, what, instead=""):
        self.found.append(Violation(getattr(node, "lineno", 0), what, instead))

    def allowed_list(self, module: str) -> str:
        names = sorted(self.modules.get(module, ()))
        return f"the names reward code may use from {module} are listed in " \
               f"eureka_jax/reward/policy.py ({len(names)}, e.g. {', '.join(names[:8])})"

    # -- imports ------------------------------------------------------------------------------
    def import_module(self, node, module: str, alias: str | None) -> None:
        if module not in self.modules:
            root = module.split(".")[0]
            self.add(node, f"importing `{module}` is not allowed",
                     HINTS.get(root, "allowed imports: " + ", ".join(sorted(self.modules))))
            return
        if alias:
            self.aliases[alias] = module
        else:  # `import jax.numpy` binds `jax`
            self.aliases[module.split(".")[0]] = module.split(".")[0]

    def import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self.add(node, "relative imports are not allowed", "import jax, jax.numpy or math")
            return
        if module not in self.modules:
            self.import_module(node, module, None)
            return
        for alias in node.names:
            if alias.name == "*":
                self.add(node, "`import *` is not allowed", "import names explicitly")
            elif f"{module}.{alias.name}" in self.modules:
                self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            elif alias.name not in self.modules[module]:
                self.add(node, f"`from {module} import {alias.name}` is not allowed"
                         + _suggest(alias.name, self.modules[module]),
                         HINTS.get(alias.name, self.allowed_list(module)))

    # -- uses ---------------------------------------------------------------------------------
    def resolve(self, node) -> str | None:
        """The module an expression names (``jnp``, ``jax.numpy.linalg``), or None for a
        value. Reports attributes that are not allowed."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if not isinstance(node, ast.Attribute):
            return None
        module = self.resolve(node.value)
        attr = node.attr
        if module is not None:
            if attr not in self.modules[module]:
                self.add(node, f"`{module}.{attr}` is not allowed"
                         + _suggest(attr, self.modules[module]),
                         HINTS.get(attr, self.allowed_list(module)))
                return None
            sub = f"{module}.{attr}"
            return sub if sub in self.modules else None
        if attr.startswith("_"):
            self.add(node, f"attribute `.{attr}` is not allowed (no `_` attributes)",
                     "rewards compute from their inputs only")
        elif attr not in self.policy.value_attributes:
            self.add(node, f"attribute `.{attr}` is not allowed on values"
                     + _suggest(attr, self.policy.value_attributes),
                     HINTS.get(attr, "on values (arrays, dicts, lists, strings) use only .shape, "
                               ".dtype, .ndim, .size, .T, .at[...], .astype, .reshape, the "
                               "reductions (.sum, .mean, .max, ...), .items/.keys/.values, "
                               ".append (the full list: VALUE_ATTRIBUTES in "
                               "eureka_jax/reward/policy.py); call jnp functions for anything "
                               "else"))
        return None

    def run(self) -> list[Violation]:
        tree = self.tree
        for node in ast.walk(tree):  # imports first: aliases are module-wide
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.import_module(node, alias.name, alias.asname)
            elif isinstance(node, ast.ImportFrom):
                self.import_from(node)
        bound = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add((node.id, node))
            elif isinstance(node, ast.arg):
                bound.add((node.arg, node))
            elif isinstance(node, ast.FunctionDef):
                bound.add((node.name, node))
        for name, node in bound:
            if name in self.aliases:
                self.add(node, f"`{name}` names the module {self.aliases[name]} and cannot be "
                         "rebound", "use another name for the variable")
        bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(tree):
            if id(node) in self.skip:
                continue
            kind = FORBIDDEN_NODES.get(type(node))
            if kind:
                self.add(node, f"{kind} are not allowed", "write plain functions and expressions")
            elif isinstance(node, ast.Name):
                if node.id in self.policy.forbidden_names or node.id.startswith("__"):
                    self.add(node, f"the name `{node.id}` is not allowed",
                             "use jax.numpy functions and plain arithmetic")
                elif node.id in self.aliases and id(node) not in bases:
                    self.add(node, f"the module `{node.id}` may only be used as "
                             f"`{node.id}.<name>`, not passed around as a value")
            elif isinstance(node, ast.Attribute):
                if isinstance(node.ctx, ast.Store | ast.Del):
                    self.add(node, f"assigning or deleting an attribute (`.{node.attr}`) is not "
                             "allowed", "compute new values in local variables")
                elif isinstance(node.value, ast.Attribute | ast.Name) and id(node) in bases:
                    continue  # checked with the outermost attribute of its chain
                else:
                    module = self.resolve(node)
                    if module is not None and id(node) not in bases:
                        self.add(node, f"the module `{module}` may only be used as "
                                 f"`{module}.<name>`, not passed around as a value")
            elif isinstance(node, ast.FunctionDef | ast.Lambda):
                args = node.args
                if args.vararg or args.kwarg:
                    self.add(node, "`*args`/`**kwargs` are not allowed",
                             "name each reward input as its own argument")
        return sorted(self.found, key=lambda v: v.line)


def check_tree(tree: ast.AST, policy: Policy = DEFAULT_POLICY) -> list[Violation]:
    """Every policy violation in a parsed reward program (empty list: allowed)."""
    return _Checker(tree, policy).run()
