"""Physical facts for the LLM's context, generated from the task's MuJoCo model (or, for Isaac
Gym tasks, from the task's YAML): bodies with masses and sizes, joints, actuators, gravity,
the physics timestep and control period, the episode length and termination rule.

Generated, not written per task: a new task folder gets its summary for free. A reward that
needs a natural frequency, a torque limit or a control rate can then compute with the real
numbers instead of guessing them.
"""

from __future__ import annotations

import numpy as np

MAX_BODIES = 40  # bigger models (hands) list the first ones and say how many were left out
JOINT_TYPES = {0: "free", 1: "ball", 2: "slide", 3: "hinge"}
GEOM_TYPES = {0: "plane", 1: "heightfield", 2: "sphere", 3: "capsule", 4: "ellipsoid",
              5: "cylinder", 6: "box", 7: "mesh", 8: "sdf"}


def _fmt(x) -> str:
    return f"{float(x):.4g}"


def _vec(v) -> str:
    return "(" + ", ".join(_fmt(x) for x in np.asarray(v).ravel()) + ")"


def _gravity(g) -> str:
    """Gravity with components below 0.1 % of its magnitude shown as 0, saying so: some model
    files nudge a component (Brax's double pendulum: x = 1e-05) to break a symmetry, a value
    that reads as a real sideways pull where it is not one."""
    g = np.asarray(g, float).ravel()
    tiny = (np.abs(g) < 1e-3 * np.linalg.norm(g)) & (g != 0)
    if not tiny.any():
        return f"gravity {_vec(g)} m/s^2"
    nudged = ", ".join(f"{'xyz'[i]} = {_fmt(g[i])}" for i in np.flatnonzero(tiny))
    return (f"gravity {_vec(np.where(tiny, 0.0, g))} m/s^2 (the model file sets {nudged}: a "
            "numerical nudge, negligible)")


def _name(model, kind, i) -> str:
    import mujoco

    return mujoco.mj_id2name(model, kind, i) or f"#{i}"


def _geom(model, g) -> str:
    kind = GEOM_TYPES.get(int(model.geom_type[g]), "geom")
    size = model.geom_size[g]
    if kind == "sphere":
        return f"sphere r={_fmt(size[0])}"
    if kind in ("capsule", "cylinder"):
        return f"{kind} r={_fmt(size[0])} half-length={_fmt(size[1])}"
    if kind in ("box", "ellipsoid"):
        return f"{kind} half-sizes {_vec(size)}"
    return kind


def model_summary(model, control_dt: float | None, episode_length: int,
                  termination: str | None = None) -> str:
    """A short, readable account of a ``mujoco.MjModel`` (SI units)."""
    import mujoco

    obj = mujoco.mjtObj
    lines = ["Physical model (generated from the MuJoCo model; SI units):"]
    timestep = float(model.opt.timestep)
    period = f"physics timestep {_fmt(timestep)} s"
    if control_dt:
        substeps = max(1, round(control_dt / timestep))
        period += (f" x {substeps} substeps = control period {_fmt(control_dt)} s "
                   f"({_fmt(1.0 / control_dt)} Hz); an episode is {episode_length} control "
                   f"steps = {_fmt(episode_length * control_dt)} s")
    else:
        period += f"; an episode is {episode_length} steps"
    lines.append(f"- {_gravity(model.opt.gravity)}; {period}")
    lines.append("- episode end: " + (termination.strip() if termination else
                                      f"none before the {episode_length}-step time limit"))
    lines.append(f"- bodies (mass, centre of mass and principal inertia in the body's frame; "
                 f"geoms), {model.nbody - 1} besides the world:")
    for b in range(1, min(model.nbody, MAX_BODIES + 1)):
        geoms = [g for g in range(model.ngeom) if model.geom_bodyid[g] == b]
        shown = "; ".join(_geom(model, g) for g in geoms[:3])
        more = f"; +{len(geoms) - 3} geoms" if len(geoms) > 3 else ""
        lines.append(f"  - {_name(model, obj.mjOBJ_BODY, b)}: {_fmt(model.body_mass[b])} kg, "
                     f"com {_vec(model.body_ipos[b])}, inertia {_vec(model.body_inertia[b])}"
                     + (f"; {shown}{more}" if geoms else ""))
    if model.nbody - 1 > MAX_BODIES:
        lines.append(f"  - ... {model.nbody - 1 - MAX_BODIES} more bodies")
    lines.append(f"- joints (type, axis, position in its body's frame, range, damping), "
                 f"{model.njnt}:")
    for j in range(model.njnt):
        kind = JOINT_TYPES.get(int(model.jnt_type[j]), "joint")
        dof = model.jnt_dofadr[j]
        unit = "m" if kind == "slide" else "rad"
        parts = [kind]
        if kind in ("slide", "hinge"):
            parts.append(f"axis {_vec(model.jnt_axis[j])} at {_vec(model.jnt_pos[j])}")
            if model.jnt_limited[j]:
                parts.append(f"range [{_fmt(model.jnt_range[j][0])}, "
                             f"{_fmt(model.jnt_range[j][1])}] {unit}")
        damping = float(model.dof_damping[dof])
        if damping:
            parts.append(f"damping {_fmt(damping)}")
        lines.append(f"  - {_name(model, obj.mjOBJ_JOINT, j)}: {', '.join(parts)}")
    lines.append(f"- actuators (what it drives, control range, gear), {model.nu}:")
    for a in range(model.nu):
        target = int(model.actuator_trnid[a][0])
        drives = (_name(model, obj.mjOBJ_JOINT, target)
                  if int(model.actuator_trntype[a]) == 0 else f"transmission #{target}")
        parts = [f"drives {drives}"]
        if model.actuator_ctrllimited[a]:
            lo, hi = model.actuator_ctrlrange[a]
            parts.append(f"control range [{_fmt(lo)}, {_fmt(hi)}]")
        gear = float(model.actuator_gear[a][0])
        if int(model.actuator_biastype[a]) == 0:  # a motor: force = gain * gear * control
            gain = float(model.actuator_gainprm[a][0])
            parts.append(f"motor, force/torque = {_fmt(gain * gear)} x control")
        else:
            parts.append(f"position servo, kp={_fmt(model.actuator_gainprm[a][0])}, "
                         f"gear {_fmt(gear)}")
        if model.actuator_forcelimited[a]:
            lo, hi = model.actuator_forcerange[a]
            parts.append(f"force limited to [{_fmt(lo)}, {_fmt(hi)}]")
        lines.append(f"  - {_name(model, obj.mjOBJ_ACTUATOR, a)}: {', '.join(parts)}")
    return "\n".join(lines) + "\n"


def env_model_summary(env, episode_length: int, termination: str | None = None) -> str | None:
    """``model_summary`` of a task environment (a Playground wrapper or an ``MjxEnv``); None
    when it has no MuJoCo model."""
    model = getattr(env, "mj_model", None)
    if model is None:
        return None
    control_dt = getattr(env, "dt", None)
    return model_summary(model, float(control_dt) if control_dt else None, episode_length,
                         termination)
