"""Physics parameters a domain-randomization configuration may change, and the env that
draws them at every reset.

A task declares its randomizable parameters in ``task.yaml``::

    randomize:
      - {name: pole_mass, field: body_mass, of: pole, bounds: [0.02, 0.5]}
      - {name: gravity, field: gravity, of: z, bounds: [-15.0, -5.0]}

``field`` is one of ``FIELDS`` (a field of the MJX model), ``of`` names the body, joint,
actuator or geom it belongs to (a gravity axis for ``gravity``), ``bounds`` the physically
valid range a configuration may use, ``test`` (optional, inside the bounds; default the
bounds) the range of the held-out perturbation set; the nominal value is read from the
model. A changed body mass scales the body's rotational inertia with it (the
same shape at another density), so mass and inertia stay consistent.

A configuration's ranges are a table ``[n, 3]`` (low, high, log-uniform flag) per row of a
batch, traced: K configurations x S seeds train in one compiled program, and a parameter that
a configuration leaves alone has low = high = its nominal value. ``Randomized`` wraps a task
env: ``reset_with(rng, values)`` starts an episode with the model those values give and keeps
them in ``state.info["physics"]``, and ``step`` steps with that model, so every env keeps its
own physics for the whole episode and draws new physics when it resets.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from eureka_jax.errors import EurekaError

PHYSICS = "physics"
DRAW_STREAM = 0x5EED  # ``fold_in`` stream of the physics draws (apart from the reset's own)  # the key of an env state's physics values in ``state.info``

# field -> (what ``of`` names, unit, description)
FIELDS = {
    "body_mass": ("body", "kg", "mass of the body (its inertia scales with it)"),
    "dof_damping": ("joint", ("N s/m", "N m s/rad"), "viscous damping of the joint"),
    "dof_frictionloss": ("joint", ("N", "N m"), "dry friction of the joint"),
    "dof_armature": ("joint", ("kg", "kg m^2"), "armature inertia of the joint"),
    "jnt_stiffness": ("joint", ("N/m", "N m/rad"), "spring stiffness of the joint"),
    "actuator_gear": ("actuator", "N or N m per unit action",
                      "gear of the actuator (force or torque per unit of action)"),
    "geom_friction": ("geom", "1", "sliding friction coefficient of the geom"),
    "gravity": ("axis", "m/s^2", "gravity along one world axis"),
}
DISTRIBUTIONS = ("uniform", "loguniform")
AXES = {"x": 0, "y": 1, "z": 2}


@dataclass(frozen=True)
class Parameter:
    """One randomizable physics parameter of a task (resolved against its model)."""

    name: str
    field: str
    of: str
    index: int  # row of the model array (the body, dof, actuator or geom; the gravity axis)
    nominal: float
    low: float  # physically valid bounds
    high: float
    unit: str
    description: str
    test: tuple = ()  # (low, high) of the held-out perturbation set (default: the bounds)

    def text(self) -> str:
        return (f"- {self.name}: {self.description} ({self.of}), nominal {self.nominal:g} "
                f"{self.unit}, valid range [{self.low:g}, {self.high:g}]")


def parameters(task) -> tuple[Parameter, ...]:
    """The task's declared ``randomize:`` parameters, resolved against its model; () when
    it declares none. A declaration that does not fit the model is a clear error."""
    import mujoco

    where = f"{task.path / 'task.yaml'}: randomize"
    declared = list(getattr(task, "randomize", None) or [])
    if not declared:
        return ()
    model = _mj_model(task.env)
    objects = {"body": mujoco.mjtObj.mjOBJ_BODY, "joint": mujoco.mjtObj.mjOBJ_JOINT,
               "actuator": mujoco.mjtObj.mjOBJ_ACTUATOR, "geom": mujoco.mjtObj.mjOBJ_GEOM}
    out, seen = [], set()
    for i, entry in enumerate(declared):
        if not isinstance(entry, dict) or not {"name", "field", "of", "bounds"} <= set(entry):
            raise EurekaError(f"{where} entry {i + 1} needs name, field, of and bounds; got "
                              f"{entry!r}.")
        name, fld, of = str(entry["name"]), str(entry["field"]), str(entry["of"])
        if fld not in FIELDS:
            raise EurekaError(f"{where} '{name}': field '{fld}' is not one of "
                              f"{', '.join(FIELDS)}.")
        if name in seen:
            raise EurekaError(f"{where}: '{name}' is declared twice; give each parameter its "
                              f"own name.")
        seen.add(name)
        kind, unit, description = FIELDS[fld]
        if kind == "axis":
            if of not in AXES:
                raise EurekaError(f"{where} '{name}': of must be x, y or z for gravity.")
            index = AXES[of]
            nominal = float(model.opt.gravity[index])
        else:
            found = mujoco.mj_name2id(model, objects[kind], of)
            if found < 0:
                raise EurekaError(f"{where} '{name}': the model has no {kind} named '{of}'.")
            index = int(model.jnt_dofadr[found]) if fld.startswith("dof_") else int(found)
            joint = found if kind == "joint" else None
            if (kind == "actuator"
                    and model.actuator_trntype[found] == mujoco.mjtTrn.mjTRN_JOINT):
                joint = int(model.actuator_trnid[found, 0])  # the joint it drives
                unit = ("N", "N m")
            if isinstance(unit, tuple):  # (slide joint, hinge or ball joint)
                unit = unit[0] if model.jnt_type[joint] == mujoco.mjtJoint.mjJNT_SLIDE \
                    else unit[1]
                unit += " per unit action" if kind == "actuator" else ""
            array = np.asarray(getattr(model, fld))
            nominal = float(array[index] if array.ndim == 1 else array[index, 0])
        bounds = entry["bounds"]
        if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                or not all(isinstance(b, (int, float)) for b in bounds)
                or not bounds[0] <= nominal <= bounds[1]):
            raise EurekaError(f"{where} '{name}': bounds must be [low, high] around the "
                              f"nominal value {nominal:g}; got {bounds!r}.")
        test = entry.get("test", bounds)
        if (not isinstance(test, (list, tuple)) or len(test) != 2
                or not bounds[0] <= test[0] <= test[1] <= bounds[1]):
            raise EurekaError(f"{where} '{name}': test (the held-out perturbation range) "
                              f"must be [low, high] inside the bounds {bounds!r}; got {test!r}.")
        out.append(Parameter(name=name, field=fld, of=of, index=index, nominal=nominal,
                             low=float(bounds[0]), high=float(bounds[1]),
                             test=(float(test[0]), float(test[1])),
                             unit=str(entry.get("unit", unit)),
                             description=str(entry.get("description", description))))
    return tuple(out)


def parameters_text(params) -> str:
    """The parameter list as the LLM reads it."""
    return "\n".join(p.text() for p in params)


def nominal_values(params) -> np.ndarray:
    return np.asarray([p.nominal for p in params], np.float32)


def nominal_table(params) -> np.ndarray:
    """[n, 3] the table of no randomization: every range is the nominal value."""
    values = nominal_values(params)
    return np.stack([values, values, np.zeros_like(values)], -1)


def draw(key, table) -> jax.Array:
    """[n] physics values from a configuration's table [n, 3] (low, high, log flag)."""
    u = jax.random.uniform(key, table.shape[:1])
    low, high, log = table[:, 0], table[:, 1], table[:, 2] > 0
    linear = low + u * (high - low)
    safe_low, safe_high = jnp.where(log, low, 1.0), jnp.where(log, high, 1.0)
    logarithmic = jnp.exp(jnp.log(safe_low) + u * (jnp.log(safe_high) - jnp.log(safe_low)))
    return jnp.where(log, logarithmic, linear)


def apply(model, params, values):
    """The MJX model with each parameter set to its value (``values`` [n], traced)."""
    updates = {}
    get = lambda name: updates.get(name, getattr(model, name) if name != "gravity"
                                   else model.opt.gravity)
    for i, p in enumerate(params):
        v = values[i]
        if p.field == "body_mass":
            ratio = v / p.nominal if p.nominal > 0 else 1.0
            updates["body_inertia"] = jnp.asarray(get("body_inertia")).at[p.index].multiply(ratio)
            updates["body_mass"] = jnp.asarray(get("body_mass")).at[p.index].set(v)
        elif p.field in ("actuator_gear", "geom_friction"):
            updates[p.field] = jnp.asarray(get(p.field)).at[p.index, 0].set(v)
        else:
            updates[p.field] = jnp.asarray(get(p.field)).at[p.index].set(v)
    gravity = updates.pop("gravity", None)
    if gravity is not None:
        model = model.replace(opt=model.opt.replace(gravity=gravity))
    return model.replace(**updates) if updates else model


def _holder(env):
    """The object whose ``_mjx_model`` the env steps with (through wrappers)."""
    seen = env
    for _ in range(8):
        if hasattr(seen, "_mjx_model"):
            return seen
        seen = getattr(seen, "_env", None) or getattr(seen, "env", None)
        if seen is None:
            break
    raise EurekaError(f"{type(env).__name__} does not step an MJX model (no _mjx_model); "
                      "domain randomization needs an MJX task environment.")


def _mj_model(env):
    return _holder(env)._mj_model


@contextlib.contextmanager
def _model_as(env, model):
    """While tracing: the env steps with ``model`` (traced arrays) instead of its own."""
    holder = _holder(env)
    own = holder._mjx_model
    holder._mjx_model = model
    try:
        yield
    finally:
        holder._mjx_model = own


class Randomized:
    """A task env whose every episode runs with its own physics values (``Parameter``s)."""

    def __init__(self, env, params):
        self._env, self.params = env, tuple(params)
        self._base = _holder(env)._mjx_model
        self._nominal = nominal_values(self.params)

    def __getattr__(self, name):
        return getattr(self._env, name)

    @property
    def unwrapped(self):
        return self._env

    def reset(self, rng):
        """An episode at the nominal physics."""
        return self.reset_with(rng, jnp.asarray(self._nominal))

    def reset_with(self, rng, values):
        with _model_as(self._env, apply(self._base, self.params, values)):
            state = self._env.reset(rng)
        return state.replace(info={**state.info, PHYSICS: values})

    def reset_drawn(self, rng, table):
        """An episode with physics drawn from a configuration's table [n, 3]."""
        # the reset's key is the one an unrandomized reset gets: a table that randomizes
        # nothing trains exactly as the nominal physics does
        return self.reset_with(rng, draw(jax.random.fold_in(rng, DRAW_STREAM), table))

    def step(self, state, action):
        values = state.info[PHYSICS]
        with _model_as(self._env, apply(self._base, self.params, values)):
            nxt = self._env.step(state, action)
        return nxt.replace(info={**nxt.info, PHYSICS: values})

    def reward_inputs(self, state, action, next_state):
        return self._env.reward_inputs(state, action, next_state)


# ---- configurations (what the LLM writes) --------------------------------------------------

def parse_configuration(text: str, params) -> tuple[list[dict] | None, str | None]:
    """A configuration from an LLM reply: a YAML (or JSON) list of
    ``{parameter, distribution, range: [low, high]}`` in a fenced block or bare.

    Returns (entries, None), or (None, a message the LLM can act on).
    """
    import re

    import yaml

    # fenced blocks in order (so a closing fence never opens one); the last YAML/JSON/bare one
    blocks = [body for lang, body in re.findall(r"```([A-Za-z]*)[ \t]*\n(.*?)```", text,
                                                 re.DOTALL)
              if lang.lower() in ("yaml", "yml", "json", "")]
    body = blocks[-1] if blocks else text
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError as e:
        return None, f"the configuration is not valid YAML ({str(e).splitlines()[0]})."
    if isinstance(data, dict) and "randomize" in data:
        data = data["randomize"]
    if not isinstance(data, list) or not data:
        return None, ("the reply holds no configuration: write a YAML list of entries "
                      "'- {parameter: NAME, distribution: uniform, range: [LOW, HIGH]}'.")
    by_name = {p.name: p for p in params}
    entries, seen = [], set()
    for i, entry in enumerate(data):
        where = f"entry {i + 1}"
        if not isinstance(entry, dict) or "parameter" not in entry or "range" not in entry:
            return None, (f"{where} needs 'parameter' and 'range' (and optionally "
                          f"'distribution'); got {entry!r}.")
        name = str(entry["parameter"])
        if name not in by_name:
            return None, (f"{where}: unknown parameter '{name}'; the parameters are "
                          f"{', '.join(by_name)}.")
        if name in seen:
            return None, f"{where}: '{name}' appears twice; give each parameter once."
        seen.add(name)
        p = by_name[name]
        dist = str(entry.get("distribution", "uniform"))
        if dist not in DISTRIBUTIONS:
            return None, (f"{where} ({name}): distribution '{dist}' is not one of "
                          f"{', '.join(DISTRIBUTIONS)}.")
        rng = entry["range"]
        if (not isinstance(rng, (list, tuple)) or len(rng) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                           for x in rng)):
            return None, f"{where} ({name}): range must be two numbers [low, high]; got {rng!r}."
        low, high = float(rng[0]), float(rng[1])
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            return None, (f"{where} ({name}): range [{low:g}, {high:g}] must be finite with "
                          f"low <= high.")
        if low < p.low or high > p.high:
            return None, (f"{where} ({name}): range [{low:g}, {high:g}] leaves the valid "
                          f"range [{p.low:g}, {p.high:g}] {p.unit}; keep inside it.")
        if dist == "loguniform" and low <= 0:
            return None, (f"{where} ({name}): a loguniform range needs low > 0; got {low:g}; "
                          f"use uniform or a positive low.")
        entries.append({"parameter": name, "distribution": dist, "range": [low, high]})
    return entries, None


def configuration_table(entries, params) -> np.ndarray:
    """[n, 3] the table of a parsed configuration (parameters it leaves out stay nominal)."""
    table = nominal_table(params)
    index = {p.name: i for i, p in enumerate(params)}
    for e in entries:
        i = index[e["parameter"]]
        table[i] = (e["range"][0], e["range"][1], 1.0 if e["distribution"] == "loguniform"
                    else 0.0)
    return table


def configuration_text(entries) -> str:
    """A configuration as YAML (what a report and a prompt show)."""
    if not entries:
        return "(no randomization)"
    return "\n".join(f"- {{parameter: {e['parameter']}, distribution: {e['distribution']}, "
                     f"range: [{e['range'][0]:g}, {e['range'][1]:g}]}}" for e in entries)
