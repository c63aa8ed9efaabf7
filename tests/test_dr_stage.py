"""The search's domain-randomization stage end to end, with an LLM over HTTP (issue 33; in
its own file so that the test runner spreads it apart from tests/test_randomize.py)."""

import json

import pytest

from tests.conftest import REPO, cli_argv

BAD_DR = ("```yaml\n- {parameter: pole_weight, distribution: uniform, range: [0.1, 0.2]}\n```")
DR = [f"```yaml\n- {{parameter: cart_mass, distribution: uniform, range: [{low}, 2.0]}}\n```"
      for low in (0.3, 0.5, 0.7, 0.9)]
REWARDS = [
    "```python\nimport jax.numpy as jnp\ndef compute_reward(pole_angle, alive):\n"
    f"    upright = jnp.exp(-jnp.abs(pole_angle) / {t})\n"
    "    return upright + alive, {'upright': upright, 'alive': alive}\n```"
    for t in (0.1, 0.3)]


@pytest.mark.slow
def test_search_with_a_dr_stage_end_to_end_with_an_llm_over_http(tmp_path):
    import subprocess

    from tests.llm_server import ScriptedLLM

    with ScriptedLLM(REWARDS) as server:
        server.script += [("reply", REWARDS), ("reply", [BAD_DR, DR[0]]), ("reply", [DR[1]]),
                          ("reply", DR[2:])]
        out = subprocess.run(cli_argv(
            "search", "task=cartpole", "iteration=1", "sample=2", "llm=openai",
            "model=scripted", f"base_url={server.base_url}", "api_key=test", "num_eval=2",
            "max_iterations=4", "train.num_envs=16", "train.unroll_length=16",
            "train.num_minibatches=2", "report_video=false", "references=off", f"runs_dir={tmp_path}",
            "dr_iteration=2", "dr_sample=2", "dr_seeds=2", "dr_models=4", "dr_episodes=1"),
            capture_output=True, text=True, cwd=REPO, timeout=900, check=False)
        requests = server.requests
    assert out.returncode == 0, out.stderr + out.stdout
    run = next(tmp_path.glob("cartpole/search-*"))
    dr = json.loads((run / "dr" / "dr.json").read_text())
    labels = [r["label"] for r in dr["rows"]]
    assert labels == ["no randomization", "uniform over the prior", "configuration 1",
                      "configuration 2", "configuration 3", "configuration 4"]
    assert [r["configuration"][0]["range"][0] for r in dr["rows"][2:]] == [0.3, 0.5, 0.7, 0.9]
    assert all(len(r["perturbed"]) == 2 for r in dr["rows"])
    assert dr["best"] in labels[2:]
    # the unknown parameter was rejected with its message, and the re-ask carried it
    assert "dr configuration rejected: entry 1: unknown parameter 'pole_weight'" in out.stdout
    assert "unknown parameter 'pole_weight'" in requests[2]["messages"][-1]["content"]
    # the first DR request carries the reward, the parameters and the prior; the second
    # round's the results so far
    first = requests[1]["messages"][-1]["content"]
    assert "def compute_reward" in first and "- push_gear:" in first
    assert "Physics prior" in first and "keeps at least 80%" in first
    feedback = requests[3]["messages"][-1]["content"]
    assert "configuration 2: nominal" in feedback
    assert "weakest on the perturbed models where" in feedback
    assert all(r.get("weakest") for r in dr["rows"])
    # round 1 compiled the program, round 2 reused it
    assert "dr round 2: 2 configuration(s) x 2 seed(s) trained (compile 0.0 s" in out.stdout
    assert (run / "dr" / "prior.png").is_file()
    md = (run / "dr" / "dr.md").read_text()
    assert "Confirmation: the most robust configuration" in md
    assert "best − no randomization, perturbed" in md
    confirmation = dr["confirmation"]
    # 4 rows wide: one per config and a padded one, so 1 x 2 fresh seeds each, apart from
    # the rounds' seeds; nothing compiled
    assert [r["label"] for r in confirmation["rows"]] == ["no randomization",
                                                          "uniform over the prior", dr["best"]]
    assert all(r["seeds"] == confirmation["seeds"] for r in confirmation["rows"])
    assert not set(confirmation["seeds"]) & set(dr["seeds"])
    assert "dr confirmation on 2 fresh seeds and a second held-out set: 3 configuration(s) x " \
        "2 seed(s) trained (compile 0.0 s" in out.stdout
    report = (run / "report.md").read_text()
    assert "## Domain randomization on cartpole" in report and "dr/prior.png" in report

    # the physics prior of another saved policy of the run, from the command line
    prior = subprocess.run(cli_argv("robustness", f"run={run}", "reward=human",
                                    "dr_tolerance=0.5", "dr_episodes=1"),
                           capture_output=True, text=True, cwd=REPO, timeout=600, check=False)
    assert prior.returncode == 0, prior.stderr + prior.stdout
    assert "human policy of" in prior.stdout and "keeps at least 50%" in prior.stdout
    assert "- pole_mass: [" in prior.stdout
    saved = json.loads((run / "robustness" / "prior_human.json").read_text())
    assert len(saved["nominal_fitness"]) == 2 and set(saved["parameters"]) >= {"gravity"}
    assert (run / "robustness" / "prior_human.png").is_file()
    missing = subprocess.run(cli_argv("robustness", f"run={tmp_path}"), capture_output=True,
                             text=True, cwd=REPO, timeout=600, check=False)
    assert missing.returncode == 2 and "keeps no policies" in missing.stderr
