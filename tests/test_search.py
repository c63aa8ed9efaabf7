"""The search: reflection text, scores, and end-to-end runs of `eureka-jax search`."""

import json
import re
import subprocess

import jax
import matplotlib.pyplot as plt
import numpy as np
import pytest

from tests.conftest import REPO, SEARCH_TINY, cli_argv, run_cli

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

TINY = SEARCH_TINY


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
