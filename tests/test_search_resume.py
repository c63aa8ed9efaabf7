"""A search that a scripted LLM feeds broken programs, killed mid-round and resumed: it ends
with the same decisions as one that ran through (in its own file so that pytest-xdist's
per-file scheduling can run it beside the other long search test)."""

import json
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import REPO, SEARCH_TINY, cli_argv

# runs the CLI several times: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

PROGRAMS = [
    "```python\nimport jax.numpy as jnp\ndef compute_reward(pole_angle, alive):\n"
    f"    upright = jnp.exp(-jnp.abs(pole_angle) / {t})\n"
    "    return upright + alive, {'upright': upright, 'alive': alive}\n```"
    for t in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
]
BROKEN = ["```python\ndef compute_reward(pole_angel):\n    return pole_angel, {}\n```",
          "Sorry, I cannot write code today."]


def _scripted_search(server, runs, *extra):
    return cli_argv("search", "task=cartpole", "iteration=2", "sample=2", "llm=openai",
                "model=scripted", f"base_url={server.base_url}", "api_key=test", "num_eval=0",
                "target_fitness=null",
                f"runs_dir={runs}", *SEARCH_TINY, *extra)


def _decisions(summary):
    return [(r["name"], r["status"], r["scores"], r["seed_scores"], r["best_candidate"])
            for r in summary["rounds"]]


def test_errors_are_fed_back_and_a_killed_search_resumes_to_the_same_result(tmp_path):
    from tests.llm_server import ScriptedLLM

    # Reference: the same scripted LLM, uninterrupted.
    with ScriptedLLM(PROGRAMS) as server:
        server.script.append(("reply", BROKEN))
        ref = subprocess.run(_scripted_search(server, tmp_path / "ref"), capture_output=True,
                             text=True, cwd=REPO, timeout=900, check=False)
        assert ref.returncode == 0, ref.stderr + ref.stdout
        # nothing in round 1 compiled: the re-ask carries the compiler's message
        retry = server.requests[1]["messages"][-1]["content"]
        assert "[binding]" in retry and "'pole_angel'" in retry and "pole_angle" in retry
        assert "def compute_reward(pole_angel)" in retry
        # round 2's prompt carries the whole round-1 population, every score
        round2 = server.requests[2]["messages"][-1]["content"]
    ref_run = next((tmp_path / "ref").glob("cartpole/search-*"))
    population = json.loads((ref_run / "iter_00/round.json").read_text())["population"]
    assert len(population) == 2 and "Round 1: 2 candidates" in round2
    for c in population:
        shown = (f"candidate {c['index']}: {c['score']:.3g}" if c["status"] == "trained"
                 else f"candidate {c['index']}: training went NaN")
        assert shown in round2, (shown, round2)
    assert "Training budget:" in server.requests[0]["messages"][1]["content"]
    reference = json.loads((ref_run / "summary.json").read_text())

    with ScriptedLLM(PROGRAMS) as server:
        server.script.append(("reply", BROKEN))
        proc = subprocess.Popen(_scripted_search(server, tmp_path / "killed"), cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 600
        first_round = None
        while time.time() < deadline and proc.poll() is None:
            found = list(tmp_path.glob("killed/cartpole/search-*/iter_00/round.json"))
            if found:
                first_round = found[0]
                break
            time.sleep(0.2)
        assert first_round is not None, proc.communicate()[1]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        run = first_round.parents[1]
        curves_mtime = (run / "iter_00/curves.npz").stat().st_mtime_ns
        out = subprocess.run(cli_argv("search", "--resume", str(run)), capture_output=True,
                             text=True, cwd=REPO, timeout=900, check=False)
        assert out.returncode == 0, out.stderr + out.stdout
        requests = len(server.requests)
    summary = json.loads((run / "summary.json").read_text())
    assert (run / "iter_00/curves.npz").stat().st_mtime_ns == curves_mtime  # not retrained
    keys = [json.loads(line)["key"] for line in (run / "llm.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)), "an LLM reply was requested twice"
    assert requests == len(summary["rounds"]) + 1  # one per round, plus round 1's re-ask
    assert len(summary["rounds"]) == 2  # target_fitness=null: every round runs
    assert _decisions(summary) == _decisions(reference)
    assert summary["best"]["source"] == reference["best"]["source"]
    assert summary["best"]["fitness"] == reference["best"]["fitness"]

    # killed inside a round, between its first pass and its seed race: the resume trains the
    # race only, and ends where the uninterrupted run did
    for name in ("round.json", "race_curves.npz", "race_curves.json"):
        (run / "iter_01" / name).unlink()
    first_pass = (run / "iter_01/curves.npz").stat().st_mtime_ns
    out = subprocess.run(cli_argv("search", "--resume", str(run), "iteration=2"),
                         capture_output=True, text=True, cwd=REPO, timeout=900, check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    assert (run / "iter_01/curves.npz").stat().st_mtime_ns == first_pass
    again = json.loads((run / "summary.json").read_text())
    assert _decisions(again) == _decisions(reference)
    # killed during the first round's training (its replies recorded and compiled, nothing
    # trained, no later round): the resume asks the endpoint for nothing (it is gone: any
    # request would fail the run), since every later prompt repeats the uninterrupted run's
    for name in ("round.json", "curves.npz", "curves.json", "race_curves.npz",
                 "race_curves.json"):
        (run / "iter_00" / name).unlink()
    shutil.rmtree(run / "iter_01")
    for name in ("summary.json", "best_reward.py", "report.md"):
        (run / name).unlink()
    out = subprocess.run(cli_argv("search", "--resume", str(run)), capture_output=True,
                         text=True, cwd=REPO, timeout=900, check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    again = json.loads((run / "summary.json").read_text())
    assert _decisions(again) == _decisions(reference)
    assert again["best"]["source"] == reference["best"]["source"]
    # a setting that decides what was trained cannot change on resume, in one sentence (the
    # check `search --resume` makes before anything runs; the CLI turns an EurekaError into
    # exit code 2 and that sentence: tests/test_cli.py)
    from eureka_jax.cli.search import _search_settings
    from eureka_jax.config import load_config
    from eureka_jax.errors import EurekaError

    with pytest.raises(EurekaError, match=r"sample decides what it has already trained"):
        _search_settings(load_config([f"resume={run}", "sample=5"]))
    resumed, where = _search_settings(load_config([f"resume={run}", "iteration=4"]))
    assert where == run and resumed.iteration == 4 and resumed.sample == 2
