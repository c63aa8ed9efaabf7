"""The offline proposer: programs compile through the same path as an LLM's, and vary (that
its first proposals compile for every task: tests/test_tasks.py, beside the tests that build
every task's env in the same process)."""

import pytest

from eureka_jax.llm.offline import GENOME_TAG, OfflineProposer, _genome_in
from eureka_jax.reward import compile_reward


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
