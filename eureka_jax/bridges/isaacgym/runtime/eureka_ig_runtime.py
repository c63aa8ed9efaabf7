"""eureka-jax's runtime inside an Isaac Gym interpreter.

This one module (and the entry script next to it) is all of eureka-jax that runs in the Isaac
Gym process: Python 3.8, torch, and an old JAX (0.4.13 is the last JAX for Python 3.8). It
must not import the rest of eureka_jax and must stay Python-3.8 compatible (the tests check it
with vermin). It loads a reward program that eureka-jax has already checked (policy, shapes,
finite outputs) and applies it to the task's torch tensors through DLPack: no copies when the
tensors and JAX live on the same device.

Run JAX next to Isaac Gym's torch with ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (the launcher
sets it): by default JAX takes 75% of GPU memory at start-up, leaving Isaac Gym too little.
"""

import builtins
import math

import jax
import jax.numpy as jnp
import torch
import torch.utils.dlpack

# what the (already checked) reward program may import, and the builtins it may call
_MODULES = {"jax": jax, "jax.numpy": jnp, "math": math}
_BUILTINS = ("abs", "min", "max", "sum", "len", "range", "float", "int", "bool", "dict",
             "list", "tuple", "zip", "enumerate", "isinstance", "round", "pow", "all", "any",
             "sorted", "reversed", "ValueError", "TypeError", "True", "False", "None")


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level or name not in _MODULES:
        raise ImportError("reward programs may import only jax, jax.numpy and math, not "
                          + repr(name))
    if name == "jax.numpy" and not fromlist:
        return jax  # `import jax.numpy as jnp` binds the top package, then takes .numpy
    return _MODULES[name]


def load_function(source, entry):
    """Executes ``source`` with only jax/jax.numpy/math and a few builtins; returns ``entry``."""
    safe = {name: getattr(builtins, name) for name in _BUILTINS if hasattr(builtins, name)}
    safe["__import__"] = _import
    namespace = {"__builtins__": safe, "__name__": "eureka_reward"}
    # the source passed eureka-jax's compiler (policy, tracing, probe) before it got here
    exec(compile(source, "<eureka reward>", "exec"), namespace)  # noqa: S102
    fn = namespace.get(entry)
    if not callable(fn):
        raise TypeError("the reward program defines no function " + repr(entry))
    return fn


def torch_to_jax(tensor):
    """A torch tensor as a JAX array on the same memory (DLPack; a non-contiguous tensor is
    made contiguous first, which copies)."""
    tensor = tensor.contiguous()
    if _JAX_TAKES_OBJECTS:
        return jax.dlpack.from_dlpack(tensor)
    return jax.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(tensor))


# JAX >= 0.4.14 imports any object with ``__dlpack__``; 0.4.13 wants a capsule (decided once,
# not per tensor: this runs every environment step)
_JAX_TAKES_OBJECTS = tuple(int(p) for p in jax.__version__.split(".")[:3] if p.isdigit()) >= (
    0, 4, 14)


def jax_to_torch(array):
    """A JAX array as a torch tensor on the same memory (DLPack)."""
    if hasattr(array, "__dlpack__"):
        return torch.utils.dlpack.from_dlpack(array)
    return torch.utils.dlpack.from_dlpack(jax.dlpack.to_dlpack(array))


class TorchReward:
    """A checked JAX reward applied to batched torch tensors.

    ``reward(inputs)`` takes ``{name: tensor [num_envs, ...]}`` (at least ``input_names``) and
    returns ``(total [num_envs], {component: [num_envs]})`` as torch tensors, computed by the
    per-environment reward vmapped over the batch and jitted once per input shape.
    """

    def __init__(self, source, entry, input_names, component_names):
        self.source = source
        self.entry = entry
        self.input_names = tuple(input_names)
        self.component_names = tuple(component_names)
        fn = load_function(source, entry)
        names = self.component_names

        def per_env(*args):
            total, parts = fn(*args)
            comps = [jnp.asarray(parts[n], jnp.float32) for n in names]
            return (jnp.asarray(total, jnp.float32),
                    jnp.stack(comps) if comps else jnp.zeros((0,), jnp.float32))

        self._batched = jax.jit(jax.vmap(per_env))

    @classmethod
    def from_spec(cls, spec):
        """From the JSON the launcher writes: source, entry, input_names, component_names."""
        return cls(spec["source"], spec["entry"], spec["input_names"], spec["component_names"])

    def __call__(self, inputs):
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise KeyError("reward inputs missing: " + ", ".join(missing))
        args = [torch_to_jax(inputs[n].float()) for n in self.input_names]
        total, comps = self._batched(*args)
        total_t = jax_to_torch(total)
        comps_t = jax_to_torch(comps)
        return total_t, {n: comps_t[:, i] for i, n in enumerate(self.component_names)}


class EurekaRewardMixin:
    """Mixed in before an IsaacGymEnvs ``VecTask`` subclass: its reward becomes ours.

    The task's own ``compute_reward`` still runs first (it also does the task's bookkeeping:
    resets, goal resets, successes); its reward is kept as ``extras["gt_reward"]`` and then
    ``rew_buf`` is overwritten with ours. Reward inputs are bound by name to the task's
    attributes (``self.object_rot`` for an argument ``object_rot``; ``action``/``actions`` is
    the action tensor). Each component's mean goes to ``extras["eureka/<name>"]`` and the
    task's success metric (``success_attr``) to ``extras["consecutive_successes"]``, so both
    reach the TensorBoard logs that eureka-jax reads back.
    """

    eureka_reward = None  # a TorchReward, set on the class by the entry script
    success_attr = "consecutive_successes"

    def compute_reward(self, actions):
        parent = super()
        if hasattr(parent, "compute_reward"):
            parent.compute_reward(actions)
            self.extras["gt_reward"] = self.rew_buf.mean()
        inputs = {}
        for name in self.eureka_reward.input_names:
            if name in ("action", "actions"):
                inputs[name] = actions
            elif hasattr(self, name):
                inputs[name] = getattr(self, name)
            else:
                raise AttributeError(
                    "reward input '" + name + "' is not an attribute of " + type(self).__name__
                    + "; use the tensor attributes listed in the task context")
        total, comps = self.eureka_reward(inputs)
        self.rew_buf[:] = total.to(self.rew_buf.device)
        for name, value in comps.items():
            self.extras["eureka/" + name] = value.mean()
        self.extras["eureka/total"] = total.mean()
        if hasattr(self, self.success_attr):
            success = getattr(self, self.success_attr)
            self.extras["consecutive_successes"] = (
                success.float().mean() if hasattr(success, "float") else success)


def with_eureka_reward(task_class, reward, success_attr="consecutive_successes"):
    """A subclass of ``task_class`` whose reward is ``reward`` (no task source is rewritten)."""
    return type(task_class.__name__, (EurekaRewardMixin, task_class),
                {"eureka_reward": reward, "success_attr": success_attr})
