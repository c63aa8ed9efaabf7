"""Sharding the candidate x seed axis over devices (4 CPU devices forced in a subprocess)."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = r"""
import json, sys
import jax, numpy as np
from eureka_jax import load_task
from eureka_jax.compile_cache import enable_compilation_cache
from eureka_jax.reward import compile_reward
from eureka_jax.train import TrainConfig, train_candidates
from eureka_jax.train.batch import device_layout

enable_compilation_cache()
assert len(jax.devices()) == 4, jax.devices()
task = load_task("cartpole")
fns = [compile_reward(task.human_reward_source, task), compile_reward(task.sparse_reward_source, task),
       compile_reward("def compute_reward(pole_angle):\n    return -pole_angle ** 2, {'a': -pole_angle ** 2}\n", task)]
config = TrainConfig(num_envs=16, unroll_length=8, num_updates=4, num_checkpoints=2,
                     policy_hidden=(32, 32), value_hidden=(32, 32))
out = {}
for name, k, seeds in (("padded", 3, [0, 1]),):  # 3 candidates on 4 devices: padded to 4
    one = train_candidates(task, fns[:k], config, seeds=seeds, devices=jax.devices()[:1])
    four = train_candidates(task, fns[:k], config, seeds=seeds)
    out[name] = {
        "layout": device_layout(k),
        "fitness_close": bool(np.allclose(one.curves.fitness, four.curves.fitness, rtol=1e-5, atol=1e-6)),
        "return_close": bool(np.allclose(one.curves.episode_return, four.curves.episode_return, rtol=1e-4, atol=1e-5)),
        "params_close": all(np.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in
                            zip(jax.tree.leaves(one.params), jax.tree.leaves(four.params))),
        "shape": list(four.curves.fitness.shape),
    }
print("RESULT " + json.dumps(out))
"""


def test_four_devices_match_one_device_including_padding():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         cwd=REPO, env=env, timeout=900, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.split("RESULT ", 1)[1])
    padded = result["padded"]
    assert padded["layout"] == {"devices": 4, "candidates": 3, "padded_candidates": 4,
                                "per_device": 1}
    assert padded["shape"] == [3, 2, 2]  # the padding candidate is dropped
    assert padded["fitness_close"] and padded["return_close"] and padded["params_close"], padded
