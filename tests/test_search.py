"""The search: reflection text, scores, and end-to-end runs of `eureka-jax search`."""

import json
import re
import shutil
import signal
import subprocess
import time

import jax
import matplotlib.pyplot as plt
import numpy as np
import pytest

from tests.conftest import REPO, cli_argv, run_cli

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

TINY = ["max_iterations=4", "train.num_envs=16", "train.unroll_length=16",
        "train.num_minibatches=2", "seeds=1"]


def _gif_frames(path):
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_search_offline_end_to_end_with_init_human_and_feedback(tmp_path):
    feedback = tmp_path / "notes.txt"
    feedback.write_text("Please keep the cart near the centre.")
    out = subprocess.run(
        cli_argv("search", "task=cartpole", "iteration=2", "sample=3", "llm=offline", "init=human",
             "feedback=human", f"feedback_file={feedback}", "num_eval=2", "target_fitness=0",
             f"runs_dir={tmp_path / 'runs'}", *TINY),
        capture_output=True, text=True, cwd=REPO, timeout=900, check=False,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    run = next((tmp_path / "runs" / "cartpole").glob("search-*"))
    for name in ("config.yaml", "llm.jsonl", "summary.json", "evaluation.json", "report.md",
                 "fitness.png", "best_reward.py", "iter_init/round.json",
                 "iter_00/round.json", "iter_00/curves.npz", "iter_00/attempt_0/prompt.json"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    rounds = summary["rounds"]
    # target_fitness=0 overrides the task's 0.95: the first round's best reaches it
    assert len(rounds) == 1 and rounds[0]["status"] == "trained"
    assert "target fitness 0 reached" in out.stdout
    # the best is the better of the human reward (init=human) and the searched rounds' bests
    init = json.loads((run / "iter_init/round.json").read_text())
    assert summary["best"]["fitness"] == pytest.approx(
        max([init["best_fitness"]] + [r["best_fitness"] for r in rounds]))
    # the first proposal round is told about the human reward and its training
    first_prompt = json.loads((run / "iter_00/attempt_0/prompt.json").read_text())
    assert "cart_still" in first_prompt[-1]["content"]
    assert "Task score (mean episode length" in first_prompt[-1]["content"]
    assert "Please keep the cart near the centre." in first_prompt[-1]["content"]
    # ... with the reference points (measured before the first round, kept in the run), the
    # learner's settings, the budget's verdict (TINY: under one episode per env), the human
    # reward's behaviour line and the history so far
    task_text, feedback_text = first_prompt[1]["content"], first_prompt[-1]["content"]
    reference = json.loads((run / "reference.json").read_text())
    assert f"the sparse reward scores {reference['sparse']['mean']:.3g}" in task_text
    assert "Reference points at this budget (measured by a search before its first round" \
        in task_text
    assert "Learner: PPO with discount 0.97" in task_text
    assert "Budget check: each training env completes at most 0.1 episode(s)" in task_text
    assert "- candidate 0: " in feedback_text and "at its best checkpoint (" in feedback_text
    assert "History of this search" in feedback_text
    assert "- round init (the human reward): " in feedback_text
    assert "reference points: human" in out.stdout
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert set(evaluation["rewards"]) == {"best", "human", "sparse"}
    assert len(evaluation["rewards"]["best"]["fitness_per_seed"]) == 2
    # the evaluation's policies are kept, every reward and seed, with what loads them
    from eureka_jax.config import load_config
    from eureka_jax.reward import compile_reward
    from eureka_jax.runs import load_params
    from eureka_jax.task import load_task
    from eureka_jax.train.config import training_settings

    meta = json.loads((run / "policies.json").read_text())
    assert meta["rewards"] == ["best", "human", "sparse"] and len(meta["seeds"]) == 2
    assert meta["observation_size"] == 4 and meta["train"]["policy_hidden"]
    task = load_task("cartpole")
    config, _ = training_settings(load_config(["task=cartpole", *TINY]), task)
    fn = compile_reward(task.human_reward_source, task)
    params = load_params(run / "policies.msgpack", task, config, [fn] * 3, 2)
    assert all(np.asarray(x).shape[:2] == (3, 2) for x in jax.tree.leaves(params))
    # honest scores: every seed, paired intervals, the normalized score with its caveat
    assert {"best_minus_human", "best_minus_sparse", "human_normalized_flag"} <= set(evaluation)
    assert json.loads((run / "summary.json").read_text())["evaluation"] == evaluation
    report = (run / "report.md").read_text()
    assert "human-normalized score" in report and "![components](components.png)" in report
    assert "best − human:" in report and "95% CI" in report
    for png in ("fitness.png", "components.png"):
        data = (run / png).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert plt.imread(run / png).shape[2] in (3, 4)  # decodes as an image
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    # the best policy is filmed for the report: a GIF whose frames decode and move
    frames = _gif_frames(run / "best.gif")
    assert len(frames) > 5 and frames[0].shape[2] == 3
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.01
    assert "![best policy](best.gif)" in report
    # play: a saved policy replays its final evaluation exactly (deterministic actions)
    out_play = run_cli("play", f"run={run}", "reward=human", "seed=1", "episodes=2", "video=mp4")
    assert out_play.returncode == 0, out_play.stderr
    replayed = re.search(r"fitness (\S+) \(the run recorded (\S+)\)", out_play.stdout)
    recorded = np.load(run / "evaluation_curves.npz")["fitness"][1, 1, -1]
    assert float(replayed.group(1)) == pytest.approx(recorded, abs=5e-4)
    assert float(replayed.group(2)) == pytest.approx(recorded, abs=5e-4)
    assert len(re.findall(r"episode \d: fitness", out_play.stdout)) == 2
    video = run / "play" / f"human-seed{evaluation['seeds'][1]}.mp4"
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(video))
    meta = next(reader)
    mp4 = [np.frombuffer(f, np.uint8) for f in reader]
    assert meta["size"] == (320, 240) and len(mp4) > 5 and np.any(mp4[0] != mp4[-1])
    assert "final evaluation (2 fresh seeds)" in out.stdout
    assert "best − sparse:" in out.stdout and "human-normalized score:" in out.stdout
    # the seed race: the leaders' extra seeds are in the round's record and on the console
    decision = json.loads((run / "iter_00/round.json").read_text())
    assert len(decision["confirmed"]) == 2 and (run / "iter_00/race_curves.npz").is_file()
    best = decision["candidates"].index(decision["best_candidate"])
    assert decision["best_candidate"] in decision["confirmed"]
    # its score is the mean of its race seeds (race_score=heldout): the first pass's left out
    raced = decision["seed_scores"][best][decision["first_pass_seeds"]:]
    assert decision["best_num_seeds"] == len(raced) >= 1
    assert decision["best_fitness"] == pytest.approx(np.mean(raced))
    assert "seed race: leaders" in out.stdout and "Task score over" in \
        json.loads((run / "iter_00/attempt_0/prompt.json").read_text())[-1]["content"]
    race = json.loads((run / "iter_00/race_curves.json").read_text())
    # every program of the first pass reused (physics, learner, rewards): nothing compiled
    assert race["compile_seconds"] == race["reward_compile_seconds"] == 0


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
                f"runs_dir={runs}", *TINY, *extra)


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


def test_bad_settings_are_one_sentence_and_leave_no_run_directory(tmp_path):
    # one bad value for each stage of the checks (the settings alone; the settings against the
    # task); every value's sentence is tested in-process in tests/test_settings.py
    for args, message in ((["sample=0"], "sample=0 is too small"),
                          (["train.num_envs=30"], "must divide train.num_envs")):
        out = subprocess.run(cli_argv("search", "task=cartpole", "llm=offline",
                                  f"runs_dir={tmp_path / 'runs'}", *args),
                             capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
        assert out.returncode == 2, out.stdout + out.stderr
        assert message in out.stderr and "Traceback" not in out.stderr
        assert not (tmp_path / "runs").exists()
