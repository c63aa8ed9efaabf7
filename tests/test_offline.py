"""The offline proposer: programs compile through the same path as an LLM's, and vary."""

import pytest

from eureka_jax.llm.offline import GENOME_TAG, OfflineProposer, _genome_in
from eureka_jax.reward import compile_reward
from tests.conftest import TASK_NAMES


@pytest.mark.slow  # builds every task's env
@pytest.mark.parametrize("name", TASK_NAMES)
def test_fresh_proposals_compile_for_every_task(tasks, name):
    task = tasks[name]
    for reply in OfflineProposer(task, seed=1).propose([], 2):
        reward_fn = compile_reward(reply, task)
        assert reward_fn.component_names
        goals = {g["input"] for g in task.goals}
        assert goals <= set(reward_fn.input_names)


@pytest.mark.slow  # compiles nine offline programs (~5 s)
def test_mutations_vary_the_best_program_and_follow_the_reflection(tasks):
    task = tasks["cartpole"]
    proposer = OfflineProposer(task, seed=0)
    best = proposer.propose([], 1)[0]
    genome = _genome_in(best)
    flat = f"{genome[0]['input']}_{genome[0]['want']}"
    reflection = (f"- component '{flat}': values [0.5, 0.5] | max 0.5, mean 0.5, min 0.5\n"
                  + best)
    children = proposer.propose([{"role": "user", "content": reflection}], 8)
    kids = [_genome_in(c) for c in children]
    assert all(k != genome for k in kids), "every child differs from its parent"
    first = [k[0] for k in kids if k[0]["input"] == genome[0]["input"]]
    changed = [t for t in first if (t["temperature"], t["transform"]) !=
               (genome[0]["temperature"], genome[0]["transform"])]
    assert changed, "the flat component was never retuned"
    for child in children:
        assert GENOME_TAG in child
        compile_reward(child, task)


def test_same_seed_same_proposals(tasks):
    a = OfflineProposer(tasks["cartpole"], seed=5).propose([], 3)
    b = OfflineProposer(tasks["cartpole"], seed=5).propose([], 3)
    assert a == b
