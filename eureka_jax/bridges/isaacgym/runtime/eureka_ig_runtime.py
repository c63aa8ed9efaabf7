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
import importlib
import types

import jax
import jax.dlpack  # `import jax` does not import it on JAX 0.4.13
import jax.numpy as jnp
import torch
import torch.utils.dlpack


def _proxies(module_names):
    """{module: namespace with only the allowed names} from ``module_names`` ({module: [names]},
    eureka-jax's reward policy): an allowed submodule is the proxy of its own."""
    proxies = {}

    def build(name):
        if name not in proxies:
            try:
                module = importlib.import_module(name)
            except ImportError:  # one this JAX lacks (jax.tree before 0.4.25): it has no names
                module = None
            namespace = types.SimpleNamespace()
            for attr in module_names[name]:
                sub = name + "." + attr
                if sub in module_names:
                    setattr(namespace, attr, build(sub))
                elif hasattr(module, attr):
                    setattr(namespace, attr, getattr(module, attr))
            proxies[name] = namespace
        return proxies[name]

    for name in module_names:
        build(name)
    return proxies


def _allowed_import(modules, module_names=None):
    """An ``__import__`` that imports only ``modules`` (the checker's allowlist, sent with the
    reward), with the ordinary binding: ``import jax.lax`` binds ``jax``, ``from jax import
    numpy`` takes the attribute. With ``module_names`` ({module: [names]}) it hands out
    proxies with only those names, as eureka-jax's sandbox does."""
    proxies = _proxies(module_names) if module_names else None

    def _import(name, globals=None, locals=None, fromlist=(), level=0):
        if level or name not in modules:
            raise ImportError("reward programs may import only " + ", ".join(sorted(modules))
                              + ", not " + repr(name))
        if proxies is not None:
            return proxies[name] if fromlist else proxies[name.partition(".")[0]]
        module = importlib.import_module(name)
        return module if fromlist else importlib.import_module(name.partition(".")[0])

    return _import


def load_function(source, entry, modules, builtin_names, module_names=None):
    """Executes ``source`` with only the allowed ``modules`` importable (as proxies with only
    the allowed ``module_names`` when given) and the allowed ``builtin_names``; returns the
    function ``entry``. All come from eureka-jax's reward policy in the reward's JSON, so what
    the checker accepted runs here."""
    safe = {name: getattr(builtins, name) for name in builtin_names if hasattr(builtins, name)}
    safe["__import__"] = _allowed_import(frozenset(modules), module_names)
    safe["print"] = lambda *args, **kwargs: None  # as in eureka-jax's sandbox: output dropped
    namespace = {"__builtins__": safe, "__name__": "eureka_reward"}
    # the source passed eureka-jax's compiler (policy, tracing, probe) before it got here
    exec(compile(source, "<eureka reward>", "exec"), namespace)  # noqa: S102
    fn = namespace.get(entry)
    if not callable(fn):
        raise TypeError("the reward program defines no function " + repr(entry))
    return fn


def _version(text):
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


# JAX >= 0.4.15 speaks the DLPack protocol both ways (its arrays have __dlpack__ and
# __dlpack_device__, and it takes any object with them, synchronising streams itself). JAX
# 0.4.13 (the last for Python 3.8) exchanges capsules only, with no stream handshake. Decided
# once, not per tensor: this runs every environment step.
DLPACK_PROTOCOL = _version(jax.__version__) >= (0, 4, 15)


def torch_to_jax(tensor):
    """A torch tensor as a JAX array on the same memory (DLPack; a non-contiguous tensor is
    made contiguous first, which copies)."""
    tensor = tensor.contiguous()
    if DLPACK_PROTOCOL:
        return jax.dlpack.from_dlpack(tensor)
    if tensor.is_cuda:  # no stream handshake: torch's pending kernels must finish first
        torch.cuda.current_stream(tensor.device).synchronize()
    return jax.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(tensor))


def jax_to_torch(array):
    """A JAX array as a torch tensor on the same memory (DLPack)."""
    if DLPACK_PROTOCOL:
        return torch.utils.dlpack.from_dlpack(array)
    array.block_until_ready()  # no stream handshake: the result must exist before torch reads
    return torch.utils.dlpack.from_dlpack(jax.dlpack.to_dlpack(array))


class TorchReward:
    """A checked JAX reward applied to batched torch tensors.

    ``modules`` and ``builtin_names`` are what the program may import and call (eureka-jax's
    reward policy). ``reward(inputs)`` takes ``{name: tensor}`` (at least ``input_names``; per-environment
    inputs with a leading ``num_envs`` axis, the ``shared_names`` without one) and returns
    ``(total [num_envs], {component: [num_envs]})`` as torch tensors, computed by the
    per-environment reward vmapped over the batch (``in_axes=None`` for shared inputs) and
    jitted once per input shape.
    """

    def __init__(self, source, entry, input_names, component_names, shared_names, modules,
                 builtin_names, module_names=None):
        self.source = source
        self.entry = entry
        self.input_names = tuple(input_names)
        self.component_names = tuple(component_names)
        self.shared_names = tuple(n for n in shared_names if n in self.input_names)
        fn = load_function(source, entry, modules, builtin_names, module_names)
        names = self.component_names

        def per_env(*args):
            total, parts = fn(*args)
            comps = [jnp.asarray(parts[n], jnp.float32) for n in names]
            return (jnp.asarray(total, jnp.float32),
                    jnp.stack(comps) if comps else jnp.zeros((0,), jnp.float32))

        axes = tuple(None if n in self.shared_names else 0 for n in self.input_names)
        self._batched = jax.jit(jax.vmap(per_env, in_axes=axes))

    @classmethod
    def from_spec(cls, spec):
        """From the JSON the launcher writes: source, entry, input_names, component_names,
        shared_names, and the policy's allowed modules and builtins."""
        return cls(spec["source"], spec["entry"], spec["input_names"], spec["component_names"],
                   spec.get("shared_names", ()), spec["modules"], spec["builtins"],
                   spec.get("module_names"))

    def __call__(self, inputs):
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise KeyError("reward inputs missing: " + ", ".join(missing))
        # shared inputs that are Python numbers (max_episode_length) go to the device of the
        # per-environment tensors: JAX refuses arguments on two devices
        device = next((inputs[n].device for n in self.input_names
                       if isinstance(inputs[n], torch.Tensor) and n not in self.shared_names),
                      None)
        args = [torch_to_jax(torch.as_tensor(inputs[n], dtype=torch.float32, device=device))
                for n in self.input_names]
        total, comps = self._batched(*args)
        total_t = jax_to_torch(total)
        comps_t = jax_to_torch(comps)
        return total_t, {n: comps_t[:, i] for i, n in enumerate(self.component_names)}


class EurekaRewardMixin:
    """Mixed in before an IsaacGymEnvs ``VecTask`` subclass: its reward becomes ours.

    The task's own ``compute_reward`` still runs first (it also does the task's bookkeeping:
    resets, goal resets, successes); its reward is kept as ``extras["gt_reward"]``. Then, by
    ``eureka_mode``:

    - ``"reward"``: ``rew_buf`` is overwritten with the LLM reward (inputs bound by name to the
      task's attributes: ``self.object_rot`` for an argument ``object_rot``;
      ``action``/``actions`` is the action tensor); its mean is logged as ``gpt_reward`` and
      ``eureka/total``, each component's as ``eureka/<name>``. With ``success_bonus`` (the
      name of the attribute holding the bonus, e.g. ``reach_goal_bonus``) and
      ``success_event`` (the attribute that is 1 where the goal was reached this step, e.g.
      ``reset_goal_buf``), the bonus is added on every goal reached, as Eureka's hand tasks do
      (``eureka/success_bonus`` logs its mean);
    - ``"human"``: the task's own reward is kept;
    - ``"sparse"``: the reward is ``success_event`` (1 per goal reached).

    The task's success metric (``success_attr``) is logged as ``consecutive_successes`` (the
    name Eureka and IsaacGymEnvs use), which eureka-jax reads back as the fitness.
    """

    eureka_reward = None  # a TorchReward, set on the class by with_eureka_reward
    eureka_mode = "reward"
    success_attr = "consecutive_successes"
    success_bonus = None
    success_event = None

    def _eureka_input(self, name, actions):
        if name in ("action", "actions"):
            if actions is None:
                raise AttributeError(
                    type(self).__name__ + ".compute_reward is given no actions and the task keeps "
                    "no `actions` attribute; leave `" + name + "` out of the reward's arguments")
            return actions
        if hasattr(self, name):
            return getattr(self, name)
        raise AttributeError(
            "reward input '" + name + "' is not an attribute of " + type(self).__name__
            + "; use the tensor attributes listed in the task context")

    def _eureka_event(self):
        if not self.success_event:
            raise AttributeError(type(self).__name__ + " has no success event configured "
                                 "(success_event in the task spec)")
        return getattr(self, self.success_event).float()

    def compute_reward(self, *args):
        """Both signatures IsaacGymEnvs' tasks use: ``compute_reward(self, actions)`` (the hand
        tasks, Ant, Humanoid) and ``compute_reward(self)`` (Cartpole, BallBalance, Quadcopter,
        AnymalTerrain, ...; the actions are then the task's ``actions`` attribute)."""
        parent = super()
        if hasattr(parent, "compute_reward"):
            parent.compute_reward(*args)
            self.extras["gt_reward"] = self.rew_buf.mean()
        actions = args[0] if args else getattr(self, "actions", None)
        if self.eureka_mode == "sparse":
            self.rew_buf[:] = self._eureka_event().to(self.rew_buf.device)
        elif self.eureka_mode == "reward":
            inputs = {n: self._eureka_input(n, actions) for n in self.eureka_reward.input_names}
            total, comps = self.eureka_reward(inputs)
            total = total.to(self.rew_buf.device)
            self.extras["gpt_reward"] = total.mean()
            self.extras["eureka/total"] = total.mean()
            for name, value in comps.items():
                self.extras["eureka/" + name] = value.mean()
            if self.success_bonus:
                bonus = float(getattr(self, self.success_bonus)) * self._eureka_event().to(
                    total.device)
                self.extras["eureka/success_bonus"] = bonus.mean()
                total = total + bonus
            self.rew_buf[:] = total
        if hasattr(self, self.success_attr):
            success = getattr(self, self.success_attr)
            self.extras["consecutive_successes"] = (
                success.float().mean() if hasattr(success, "float") else success)


def with_eureka_reward(task_class, reward, success_attr="consecutive_successes", mode="reward",
                       success_bonus=None, success_event=None):
    """A subclass of ``task_class`` whose reward is ``reward`` (no task source is rewritten)."""
    if mode not in ("reward", "human", "sparse"):
        raise ValueError("mode must be reward, human or sparse, not " + repr(mode))
    if mode == "reward" and reward is None:
        raise ValueError("mode reward needs a reward")
    return type(task_class.__name__, (EurekaRewardMixin, task_class),
                {"eureka_reward": reward, "eureka_mode": mode, "success_attr": success_attr,
                 "success_bonus": success_bonus, "success_event": success_event})


def from_spec(task_class, spec):
    """The subclass the launcher's JSON asks for (``mode``, reward, success settings)."""
    mode = spec.get("mode", "reward")
    reward = TorchReward.from_spec(spec) if mode == "reward" else None
    return with_eureka_reward(task_class, reward, spec.get("success_attr",
                                                          "consecutive_successes"),
                              mode, spec.get("success_bonus"), spec.get("success_event"))


def fresh_checkpoint(source, target):
    """A copy of an rl_games checkpoint whose epoch and frame counters start at 0.

    rl_games from the package index (what IsaacGymEnvs installs) restores the epoch counter
    with the weights, so a fine-tuning stage given the same ``max_iterations`` stops after one
    epoch; Eureka's rl_games fork does not restore it. Starting both counters at 0 makes a
    stage train exactly ``max_iterations`` epochs under either, logged from frame 0.
    """
    try:  # our own stage's checkpoint: trusted, and it holds optimizer and env state
        state = torch.load(source, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only (and loads everything)
        state = torch.load(source, map_location="cpu")
    state["epoch"] = 0
    state["frame"] = 0
    torch.save(state, target)
    return target
