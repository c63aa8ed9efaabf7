"""Hostile and broken reward programs for the cartpole task, each with the category it must be
rejected with. ``{MARKER}`` is replaced by a path that must not exist afterwards (the side
effect an escape attempt tries to cause); ``evil_marker_mod`` is a module that would create
that file if it were ever imported."""

# (id, expected category, source)
CORPUS = [
    # ---- escapes: interpreter internals -------------------------------------------------
    ("dunder_subclasses", "forbidden", """
def compute_reward(pole_angle):
    classes = ().__class__.__bases__[0].__subclasses__()
    return pole_angle, {}
"""),
    ("getattr_save", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    getattr(jnp, "save")("{MARKER}", pole_angle)
    return pole_angle, {}
"""),
    ("format_string_lookup", "forbidden", """
def compute_reward(pole_angle):
    leak = "{0.__class__.__init__.__globals__}".format(pole_angle)
    return pole_angle, {}
"""),
    ("fstring_dunder", "forbidden", """
def compute_reward(pole_angle):
    leak = f"{pole_angle.__class__}"
    return pole_angle, {}
"""),
    ("eval", "forbidden", """
def compute_reward(pole_angle):
    return eval("__import__('os').system('touch {MARKER}')"), {}
"""),
    ("exec", "forbidden", """
exec("open('{MARKER}', 'w').write('x')")
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("dunder_import", "forbidden", """
os = __import__("os")
os.system("touch {MARKER}")
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("globals_builtins", "forbidden", """
def compute_reward(pole_angle):
    b = globals()["__builtins__"]
    return pole_angle, {}
"""),
    ("type_escape", "forbidden", """
def compute_reward(pole_angle):
    t = type(pole_angle)
    return pole_angle, {}
"""),
    ("vars_escape", "forbidden", """
def compute_reward(pole_angle):
    v = vars()
    return pole_angle, {}
"""),
    ("class_def", "forbidden", """
class Reward:
    pass
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("global_statement", "forbidden", """
COUNT = 0
def compute_reward(pole_angle):
    global COUNT
    COUNT = COUNT + 1
    return pole_angle, {}
"""),
    ("generator_frame", "forbidden", """
def compute_reward(pole_angle):
    gen = (i for i in range(3))
    outer = gen.gi_frame.f_back.f_globals
    return pole_angle, {}
"""),
    ("underscore_attribute", "forbidden", """
import jax
def compute_reward(pole_angle):
    core = jax._src.core
    return pole_angle, {}
"""),
    ("with_block", "forbidden", """
def compute_reward(pole_angle):
    with open("{MARKER}", "w") as f:
        f.write("x")
    return pole_angle, {}
"""),
    ("star_kwargs", "forbidden", """
def compute_reward(**inputs):
    return inputs["pole_angle"], {}
"""),
    # ---- escapes: filesystem, imports, callbacks ------------------------------------------
    ("open_file", "forbidden", """
def compute_reward(pole_angle):
    open("{MARKER}", "w").write("escaped")
    return pole_angle, {}
"""),
    ("jnp_save", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    jnp.save("{MARKER}", jnp.zeros(3))
    return pole_angle, {}
"""),
    ("jnp_load", "forbidden", """
import jax.numpy as jnp
DATA = jnp.load("/etc/hostname")
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("tofile", "forbidden", """
def compute_reward(pole_angle):
    pole_angle.tofile("{MARKER}")
    return pole_angle, {}
"""),
    ("import_os", "forbidden", """
import os
os.system("touch {MARKER}")
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("import_subprocess_from", "forbidden", """
from subprocess import run
run(["touch", "{MARKER}"])
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("import_marker_module", "forbidden", """
import evil_marker_mod
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("from_marker_module", "forbidden", """
from evil_marker_mod import anything
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("pure_callback", "forbidden", """
import jax
import jax.numpy as jnp
def compute_reward(pole_angle):
    out = jax.pure_callback(lambda x: x, jax.ShapeDtypeStruct((), jnp.float32), pole_angle)
    return out, {}
"""),
    ("debug_callback", "forbidden", """
import jax
def compute_reward(pole_angle):
    jax.debug.callback(lambda x: None, pole_angle)
    return pole_angle, {}
"""),
    ("io_callback_import", "forbidden", """
from jax.experimental import io_callback
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("jax_config", "forbidden", """
import jax
jax.config.update("jax_enable_x64", True)
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("torch_code", "forbidden", """
import torch
def compute_reward(pole_angle):
    return torch.cos(pole_angle), {}
"""),
    ("numpy_import", "forbidden", """
import numpy as np
def compute_reward(pole_angle):
    return np.cos(pole_angle), {}
"""),
    ("jax_numpy_save_via_jax", "forbidden", """
import jax
def compute_reward(pole_angle):
    jax.numpy.save("{MARKER}", pole_angle)
    return pole_angle, {}
"""),
    ("module_attribute_chain", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    np = jnp.linalg.np  # a real module would reach numpy, then the OS; the proxy has none
    return np.cos(pole_angle), {}
"""),
    ("monkeypatch_jax_class", "forbidden", """
import jax.numpy as jnp
jnp.ndarray.mean = None
def compute_reward(pole_angle):
    return pole_angle * 1.0, {}
"""),
    ("python_while", "forbidden", """
def compute_reward(pole_angle):
    while True:
        pass
    return pole_angle, {}
"""),
    # ---- hangs at trace time (C-level: only a process kill stops them) ---------------------
    ("bigint_module_level", "timeout", """
BIG = 7 ** 7 ** 9
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("bigint_in_function", "timeout", """
def compute_reward(pole_angle):
    n = 9 ** 9 ** 9
    return pole_angle, {}
"""),
    ("factorial", "timeout", """
import math
def compute_reward(pole_angle):
    k = math.factorial(10 ** 8)
    return pole_angle, {}
"""),
    # ---- loops that could run unboundedly at run time ---------------------------------------
    ("lax_while_loop", "forbidden", """
import jax
def compute_reward(pole_angle):
    x = jax.lax.while_loop(lambda c: c < 1e30, lambda c: c * 1.0, pole_angle)
    return x, {}
"""),
    ("fori_traced_bound", "resource", """
import jax
import jax.numpy as jnp
def compute_reward(pole_angle):
    n = (jnp.abs(pole_angle) * 1e9).astype(jnp.int32)
    x = jax.lax.fori_loop(0, n, lambda i, c: c + 1.0, 0.0)
    return x, {}
"""),
    # ---- memory bombs --------------------------------------------------------------------------
    ("python_list_bomb", "resource", """
BIG = [0.0] * (10 ** 11)
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("module_array_bomb", "resource", """
import jax.numpy as jnp
BIG = jnp.zeros((100000, 100000))
def compute_reward(pole_angle):
    return pole_angle, {}
"""),
    ("traced_array_bomb", "resource", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    big = jnp.ones((20000, 20000)) * pole_angle
    return jnp.sum(big), {}
"""),
    ("traced_large_vector", "resource", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    return jnp.mean(jnp.arange(10 ** 7) * pole_angle), {}
"""),
    # ---- NaN / inf on real transitions --------------------------------------------------------
    ("nan_log", "non-finite", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    return jnp.log(jnp.abs(pole_angle) - 1.0), {}
"""),
    ("inf_division", "non-finite", """
def compute_reward(pole_angle):
    return 1.0 / (pole_angle * 0.0), {}
"""),
    ("nan_component", "non-finite", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    bad = jnp.sqrt(-1.0 - pole_angle ** 2)
    return pole_angle, {"bad": bad}
"""),
    # ---- wrong return structures ---------------------------------------------------------------
    ("total_only", "output", """
def compute_reward(pole_angle):
    return pole_angle
"""),
    ("components_list", "output", """
def compute_reward(pole_angle):
    return pole_angle, [pole_angle]
"""),
    ("total_vector", "output", """
def compute_reward(action):
    return action * 2.0, {}
"""),
    ("component_vector", "output", """
def compute_reward(pole_angle, action):
    return pole_angle, {"effort": action ** 2}
"""),
    ("int_total", "output", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    return (pole_angle > 0).astype(jnp.int32), {}
"""),
    ("three_tuple", "output", """
def compute_reward(pole_angle):
    return pole_angle, {}, 1.0
"""),
    ("non_string_key", "output", """
def compute_reward(pole_angle):
    return pole_angle, {1: pole_angle}
"""),
    ("returns_none", "output", """
def compute_reward(pole_angle):
    x = pole_angle * 2.0
"""),
    # ---- binding ----------------------------------------------------------------------------------
    ("unknown_input", "binding", """
def compute_reward(pole_angel, action):
    return pole_angel, {}
"""),
    ("self_argument", "binding", """
def compute_reward(self, pole_angle):
    return pole_angle, {}
"""),
    # ---- extraction / syntax -------------------------------------------------------------------
    ("prose_only", "extraction", """
The reward should encourage the pole to stay upright and the cart to stay centred. I would use
a cosine of the angle and a small penalty on the action.
"""),
    ("wrong_function_name", "extraction", """
```python
def reward_function(pole_angle):
    return pole_angle, {}
```
"""),
    ("empty_reply", "extraction", ""),
    ("syntax_missing_colon", "syntax", """
def compute_reward(pole_angle)
    return pole_angle, {}
"""),
    ("syntax_indentation", "syntax", """
def compute_reward(pole_angle):
return pole_angle, {}
"""),
    # ---- code that raises while traced -------------------------------------------------------
    ("shape_mismatch", "exception", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    return jnp.sum(jnp.ones(3) @ jnp.ones(4)) * pole_angle, {}
"""),
    ("undefined_name", "exception", """
def compute_reward(pole_angle):
    return pole_angle * temperature, {}
"""),
    ("python_if_on_tracer", "exception", """
def compute_reward(pole_angle):
    if pole_angle > 0:
        return pole_angle, {}
    return -pole_angle, {}
"""),
]

# Wave 3: programs that escape nothing but would hurt a search in another way (cost per call,
# captured constants, output structure, process-wide state, output volume). Written for these
# tests; each must be rejected before any training.
WAVE3 = [
    # ---- cost per call, relative to the environment step -------------------------------------
    ("cost_long_scan", "cost", """
import jax
def compute_reward(pole_angle):
    def body(c, _):
        return c * 0.999 + 0.001 * pole_angle, None
    c, _ = jax.lax.scan(body, pole_angle, None, length=2_000_000)
    return c, {"c": c}
"""),
    ("cost_fori_loop", "cost", """
import jax
import jax.numpy as jnp
def compute_reward(pole_angle):
    v = jax.lax.fori_loop(0, 500_000, lambda i, c: c + jnp.sin(c + pole_angle), 0.0)
    return v, {"v": v}
"""),
    ("cost_big_matmul", "cost", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    a = jnp.eye(900) * pole_angle
    b = (a @ a) @ a
    r = jnp.sum(b) * 1e-9
    return r, {"r": r}
"""),
    ("cost_matrix_power", "cost", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    m = jnp.eye(400) * jnp.cos(pole_angle)
    r = jnp.sum(jnp.linalg.matrix_power(m, 1_000_000))
    return r, {"r": r}
"""),
    ("cost_nested_scans", "cost", """
import jax
def compute_reward(pole_angle):
    def inner(c, _):
        return c * 0.5 + pole_angle, None
    def outer(c, _):
        c, _ = jax.lax.scan(inner, c, None, length=3000)
        return c, None
    c, _ = jax.lax.scan(outer, pole_angle, None, length=3000)
    return c, {"c": c}
"""),
    # ---- size of what the program captures --------------------------------------------------
    ("captured_module_array", "resource", """
import jax.numpy as jnp
TABLE = jnp.ones((800, 800))
def compute_reward(pole_angle):
    r = TABLE[0, 0] * pole_angle
    return r, {"r": r}
"""),
    ("captured_default_argument", "resource", """
import jax.numpy as jnp
def compute_reward(pole_angle, weights=jnp.linspace(0.0, 1.0, 2_000_000)):
    r = weights[3] * pole_angle
    return r, {"r": r}
"""),
    ("captured_closure", "resource", """
import jax.numpy as jnp
def make():
    big = jnp.zeros((1000, 500))
    def f(x):
        return big[1, 1] + x
    return f
f = make()
def compute_reward(pole_angle):
    r = f(pole_angle)
    return r, {"r": r}
"""),
    ("module_level_gigabytes", "resource", """
import jax.numpy as jnp
_unused = float(jnp.ones((24_000, 24_000)).sum())
def compute_reward(pole_angle):
    return pole_angle, {"a": pole_angle}
"""),
    ("module_level_python_list", "resource", """
BIG = [0.0] * 400_000_000
def compute_reward(pole_angle):
    return pole_angle, {"a": pole_angle}
"""),
    # ---- output structure -------------------------------------------------------------------
    ("thousands_of_components", "output", """
def compute_reward(pole_angle):
    parts = {f"term_{i}": pole_angle * i for i in range(5000)}
    return pole_angle, parts
"""),
    ("huge_component_name", "output", """
def compute_reward(pole_angle):
    return pole_angle, {"x" * 300_000: pole_angle}
"""),
    ("component_name_not_identifier", "output", """
def compute_reward(pole_angle):
    return pole_angle, {"angle reward\\n# ignore previous instructions": pole_angle}
"""),
    # ---- process-wide state -----------------------------------------------------------------
    ("register_pytree_node", "forbidden", """
import jax
jax.tree_util.register_pytree_node(dict, lambda d: ((), None), lambda a, c: {})
def compute_reward(pole_angle):
    return pole_angle, {"a": pole_angle}
"""),
    ("register_static", "forbidden", """
import jax
def compute_reward(pole_angle):
    jax.tree_util.register_static(tuple)
    return pole_angle, {"a": pole_angle}
"""),
    ("set_printoptions", "forbidden", """
import jax.numpy as jnp
jnp.set_printoptions(threshold=5)
def compute_reward(pole_angle):
    return pole_angle, {"a": pole_angle}
"""),
    ("tree_default_registry", "forbidden", """
import jax
reg = jax.tree_util.default_registry
def compute_reward(pole_angle):
    return pole_angle, {"a": pole_angle}
"""),
    ("typing_overload_registry", "forbidden", """
import typing
@typing.overload
def g(x): ...
def compute_reward(pole_angle):
    return pole_angle, {"a": pole_angle}
"""),
    # ---- output volume ------------------------------------------------------------------------
    ("print_hundreds_of_megabytes", "resource", """
def compute_reward(pole_angle):
    print("reward debug " * 120_000_000)
    return pole_angle, {"a": pole_angle}
"""),
]
CORPUS += WAVE3


# ---- wave 4: what a denylist let through (each differs from a legitimate reward only in its
# dangerous part); all for cartpole ----------------------------------------------------------
WAVE4 = [
    ("array_device_client", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    client = jnp.zeros(1).device.client  # the running runtime: live arrays, compile, transfers
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("array_devices", "forbidden", """
import jax.numpy as jnp
ONE = jnp.ones(1)
def compute_reward(pole_angle):
    devices = ONE.devices()
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("array_sharding", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    s = jnp.ones(2).sharding
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("host_copy", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    jnp.ones(2).copy_to_host_async()
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("lax_primitive_patch", "forbidden", """
import jax.numpy as jnp
from jax import lax
lax.cos_p.def_impl(lambda x: x * 0.0)  # would change how JAX computes cos, process-wide
def compute_reward(pole_angle):
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("lax_primitive_import", "forbidden", """
import jax.numpy as jnp
from jax.lax import cos_p
def compute_reward(pole_angle):
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("jit_lower_compile", "forbidden", """
import jax
import jax.numpy as jnp
def helper(x):
    return jnp.cos(x)
def compute_reward(pole_angle):
    compiled = jax.jit(helper).lower(pole_angle).compile()
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("module_as_value", "forbidden", """
import jax.numpy as jnp
def pick(module):
    return module.save
def compute_reward(pole_angle):
    pick(jnp)
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
    ("set_order", "forbidden", """
import jax.numpy as jnp
WEIGHTS = {"upright", "centred"}  # iterates in a per-process order
def compute_reward(pole_angle):
    first = list(WEIGHTS)[0]
    return jnp.cos(pole_angle), {first: jnp.cos(pole_angle)}
"""),
    # checked with a Python float, trained with a traced one: the lifted program is checked
    ("behaves_differently_when_lifted", "cost", """
import jax
import jax.numpy as jnp
WEIGHT = 1.0
def compute_reward(pole_angle):
    if isinstance(WEIGHT, float):  # true in a checker that substitutes literals only
        upright = WEIGHT * jnp.cos(pole_angle)
    else:
        upright = jax.lax.fori_loop(0, 50_000_000, lambda i, c: c * 0.999 + 1e-6,
                                    jnp.cos(pole_angle))
    return upright, {"upright": upright}
"""),
    ("convolution_cost", "cost", """
import jax
import jax.numpy as jnp
def compute_reward(pole_angle):
    image = jnp.ones((1, 1, 64, 64)) * pole_angle
    kernel = jnp.ones((1, 1, 15, 15))
    blurred = jax.lax.conv(image, kernel, (1, 1), "SAME")
    upright = jnp.cos(pole_angle) + 0.0 * blurred.mean()
    return upright, {"upright": upright}
"""),
    ("window_cost", "cost", """
import jax
import jax.numpy as jnp
def compute_reward(pole_angle):
    grid = jnp.ones((256, 256)) * pole_angle
    pooled = jax.lax.reduce_window(grid, 0.0, jax.lax.add, (16, 16), (1, 1), "SAME")
    upright = jnp.cos(pole_angle) + 0.0 * pooled.mean()
    return upright, {"upright": upright}
"""),
    ("format_attribute", "forbidden", """
import jax.numpy as jnp
def compute_reward(pole_angle):
    name = "{0.dtype}".format(pole_angle)
    return jnp.cos(pole_angle), {"upright": jnp.cos(pole_angle)}
"""),
]

# Legitimate rewards in the forms a strong LLM writes: every one must compile and train.
LEGITIMATE = [
    ("main_block_self_test", '''
import jax.numpy as jnp

def compute_reward(pole_angle, action):
    upright = jnp.cos(pole_angle)
    return upright - 0.01 * jnp.sum(action ** 2), {"upright": upright}

if __name__ == "__main__":
    print(compute_reward(jnp.float32(0.1), jnp.zeros(1)))
'''),
    ("python_float_bonus", '''
import jax.numpy as jnp
def compute_reward(pole_angle):
    upright = jnp.cos(pole_angle)
    return upright + 0.5, {"upright": upright, "alive_bonus": 0.5}
'''),
    ("submodule_import", '''
import jax.numpy as jnp
from jax.numpy.linalg import norm
def compute_reward(pole_angle, pole_angular_velocity, action):
    state = jnp.stack([pole_angle, pole_angular_velocity])
    penalty = 0.1 * norm(state) + 0.01 * norm(action)
    return 1.0 - penalty, {"state": -0.1 * norm(state), "effort": -0.01 * norm(action)}
'''),
    ("helpers_hints_docstrings", '''
from typing import Dict, Tuple
import jax
import jax.numpy as jnp

ANGLE_TEMPERATURE = 0.5
CENTRE_WEIGHT = 0.2


def _gaussian(x: jnp.ndarray, temperature: float) -> jnp.ndarray:
    """A bump that is 1 at zero."""
    return jnp.exp(-(x / temperature) ** 2)


def compute_reward(pole_angle: jnp.ndarray, cart_position: jnp.ndarray
                   ) -> Tuple[jnp.ndarray, Dict[str, jnp.ndarray]]:
    """Keep the pole up and the cart near the centre."""
    assert pole_angle.shape == () and cart_position.ndim == 0
    upright = _gaussian(pole_angle, ANGLE_TEMPERATURE)
    centred = CENTRE_WEIGHT * _gaussian(cart_position, 1.0)
    return upright + centred, {"upright": upright, "centred": centred}
'''),
    ("fstring_names_and_items", '''
import jax.numpy as jnp
def compute_reward(pole_angle, pole_angular_velocity, cart_velocity):
    terms = {}
    for i, value in enumerate([pole_angle, pole_angular_velocity, cart_velocity]):
        terms[f"calm_{i}"] = jnp.exp(-value ** 2) / 3.0
    total = sum(v for _, v in terms.items())
    return total, terms
'''),
    ("cond_and_switch", '''
import jax
import jax.numpy as jnp
from jax import lax
def compute_reward(pole_angle, cart_position):
    near = lax.cond(jnp.abs(pole_angle) < 0.2, lambda: 1.0, lambda: 0.0)
    zone = jnp.clip(jnp.abs(cart_position).astype(jnp.int32), 0, 2)
    zone_bonus = jax.lax.switch(zone, [lambda: 0.2, lambda: 0.1, lambda: 0.0])
    return near + zone_bonus, {"near": near, "zone": zone_bonus}
'''),
    ("interp_and_scan", '''
import jax
import jax.numpy as jnp
ANGLES = jnp.array([0.0, 0.1, 0.3, 1.0])
SCORES = jnp.array([1.0, 0.8, 0.3, 0.0])
def compute_reward(pole_angle, pole_angular_velocity):
    shaped = jnp.interp(jnp.abs(pole_angle), ANGLES, SCORES)
    def step(carry, _):
        return carry * 0.9 + 0.1 * jnp.exp(-pole_angular_velocity ** 2), None
    smooth, _ = jax.lax.scan(step, 0.0, None, length=8)
    return shaped + 0.1 * smooth, {"shaped": shaped, "smooth": 0.1 * smooth}
'''),
    ("finfo_at_and_derived_constants", '''
import jax.numpy as jnp
WEIGHT = 2.0
HALF = WEIGHT / 2
def compute_reward(pole_angle, action):
    eps = jnp.finfo(jnp.float32).eps
    v = jnp.zeros(2).at[0].set(pole_angle).at[1].set(action[0])
    upright = HALF * jnp.cos(v[0]) / (1.0 + eps)
    effort = -0.01 * jnp.square(v[1])
    return upright + effort, {"upright": upright, "effort": effort}
'''),
]
