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

from eureka_jax.evaluate import human_normalized
from eureka_jax.reflect import reflect
from tests.conftest import REPO, cli_argv, run_cli

# compiles training programs or runs the CLI: not in the fast tier (-m 'not slow')
pytestmark = pytest.mark.slow

TINY = ["max_iterations=4", "train.num_envs=16", "train.unroll_length=16",
        "train.num_minibatches=2", "seeds=1"]


def _gif_frames(path):
    from PIL import Image, ImageSequence

    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_reflection_on_handmade_curves():
    c = 40
    text = reflect(
        fitness=np.linspace(0.0, 0.8, c),
        episode_length=np.linspace(20, 400, c),
        components={"upright": np.linspace(0.2, 0.9, c), "effort": np.full(c, -0.001),
                    "bonus": np.full(c, 50.0) + np.linspace(0, 5, c)},
        fitness_description="fraction of time upright", episode_limit=500,
    )
    lines = text.splitlines()
    assert lines[0].startswith("Task score (fraction of time upright): values [0, ")
    assert "max 0.8, mean 0.4, min 0" in lines[0]
    assert len(lines[0].split("[")[1].split("]")[0].split(", ")) == 10  # ~10 values
    assert "Episode length (limit 500)" in lines[1]
    assert "- component 'upright': values [0.2," in text and "max 0.9" in text
    assert "'effort' hardly changed" in text
    assert "'bonus' is about" in text and "drowns them out" in text
    assert "stayed at zero" not in text
    zero = reflect(np.zeros(5), np.full(5, 10.0), {"x": np.linspace(0, 1, 5)}, "score", 100)
    assert "The task score stayed at zero" in zero


def test_reflection_reports_what_the_policy_does():
    from eureka_jax.reflect import reflect_runs
    from eureka_jax.task import load_task
    from eureka_jax.train.ppo import TrainingCurves

    task = load_task("pendulum_swingup")  # watch: speed_when_upright, pole_height, speed
    c = 4
    watch = np.zeros((2, c, 3))
    watch[..., 0] = [[np.nan, 9.0, 11.0, 12.0], [np.nan, 7.0, 9.0, 10.0]]  # spinning through
    watch[..., 1], watch[..., 2] = 0.1, 5.0
    runs = TrainingCurves(fitness=np.full((2, c), 0.19), episode_return=np.ones((2, c)),
                          episode_length=np.full((2, c), 1000.0),
                          components=np.ones((2, c, 1)), env_steps=np.arange(c)[None],
                          failed=np.zeros(2, bool), failed_at=np.full(2, -1), watch=watch)
    text = reflect_runs(runs, ("upright",), task)
    assert "What the policy does" in text
    line = next(x for x in text.splitlines() if x.startswith("- speed_when_upright"))
    assert "while within the upright window" in line and "values [8, 10, 11]" in line


def test_round_reflection_lists_the_whole_population_within_its_budget():
    from eureka_jax.reflect import CHARS_PER_TOKEN, population_text

    population = [
        {"index": 0, "status": "trained", "score": 0.19, "std": 0.01, "num_seeds": 3,
         "components": ["upright", "effort"]},
        {"index": 1, "status": "failed", "failed_at": 4, "components": ["energy"],
         "num_seeds": 1},
        {"index": 2, "status": "rejected", "category": "non-finite",
         "message": "the reward is NaN or infinite on real transitions: `total`"},
        {"index": 3, "status": "trained", "score": 0.05, "std": 0.0, "num_seeds": 1,
         "components": ["upright"]},
    ]
    text = population_text(population, 3, 0, parent_components=["upright", "spin"],
                           best_so_far={"round": 2, "score": 0.21, "std": 0.02, "num_seeds": 3},
                           round_best_source="def compute_reward(pole_angle):\n    ...")
    assert "Round 3: 4 candidates (2 trained, 1 failed in training, 1 rejected)" in text
    assert "candidate 0: 0.19 ± 0.01 over 3 seeds; components: upright, effort" in text
    assert text.index("candidate 0") < text.index("candidate 3")  # best first
    assert "candidate 1: training went NaN/inf at checkpoint 4" in text
    assert "candidate 2: rejected before training [non-finite]" in text
    assert "adds effort; drops spin" in text
    assert "did not beat the best reward so far (round 2: 0.21)" in text
    assert "def compute_reward(pole_angle)" in text  # the round's best, shown anyway
    # K = 16 within a small budget: the tail is summarised in one line
    many = [{"index": i, "status": "trained", "score": i / 100, "std": 0.01, "num_seeds": 2,
             "components": ["a_long_component_name", "another_one", "and_a_third"]}
            for i in range(16)]
    short = population_text(many, 1, 15, max_tokens=200)
    assert len(short) <= 200 * CHARS_PER_TOKEN and "more (scores" in short
    assert "candidate 15: 0.15" in short  # the best is never cut
    full = population_text(many, 1, 15)
    assert all(f"candidate {i}:" in full for i in range(16))


def test_human_normalized_score():
    assert human_normalized(0.9, 0.8, 0.2) == pytest.approx(7 / 6)
    assert human_normalized(0.2, 0.8, 0.2) == 0.0
    assert human_normalized(0.5, 0.3, 0.3) is None


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
    return cli_argv("search", "task=cartpole", "iteration=3", "sample=2", "llm=openai",
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
    assert len(summary["rounds"]) == 3  # target_fitness=null: every round runs
    assert _decisions(summary) == _decisions(reference)
    assert summary["best"]["source"] == reference["best"]["source"]
    assert summary["best"]["fitness"] == reference["best"]["fitness"]

    # killed inside a round, between its first pass and its seed race: the resume trains the
    # race only, and ends where the uninterrupted run did
    for name in ("round.json", "race_curves.npz", "race_curves.json"):
        (run / "iter_02" / name).unlink()
    first_pass = (run / "iter_02/curves.npz").stat().st_mtime_ns
    out = subprocess.run(cli_argv("search", "--resume", str(run), "iteration=3"),
                         capture_output=True, text=True, cwd=REPO, timeout=900, check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    assert (run / "iter_02/curves.npz").stat().st_mtime_ns == first_pass
    again = json.loads((run / "summary.json").read_text())
    assert _decisions(again) == _decisions(reference)
    # killed during the first round's training (its replies recorded and compiled, nothing
    # trained, no later round): the resume asks the endpoint for nothing (it is gone: any
    # request would fail the run), since every later prompt repeats the uninterrupted run's
    for name in ("round.json", "curves.npz", "curves.json", "race_curves.npz",
                 "race_curves.json"):
        (run / "iter_00" / name).unlink()
    for name in ("iter_01", "iter_02"):
        shutil.rmtree(run / name)
    for name in ("summary.json", "best_reward.py", "report.md"):
        (run / name).unlink()
    out = subprocess.run(cli_argv("search", "--resume", str(run)), capture_output=True,
                         text=True, cwd=REPO, timeout=900, check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    again = json.loads((run / "summary.json").read_text())
    assert _decisions(again) == _decisions(reference)
    assert again["best"]["source"] == reference["best"]["source"]
    # a setting that decides what was trained cannot change on resume, in one sentence
    out = subprocess.run(cli_argv("search", "--resume", str(run), "sample=5"),
                         capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert out.returncode == 2 and "sample" in out.stderr and "Traceback" not in out.stderr


def test_bad_settings_are_one_sentence_and_leave_no_run_directory(tmp_path):
    for args, message in ((["sample=0"], "sample=0 is too small"),
                          (["train.num_envs=30"], "must divide train.num_envs"),
                          (["target_fitness=high"], "target_fitness=high is not a number"),
                          (["select=mean"], "select=mean is not known")):
        out = subprocess.run(cli_argv("search", "task=cartpole", "llm=offline",
                                  f"runs_dir={tmp_path / 'runs'}", *args),
                             capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
        assert out.returncode == 2, out.stdout + out.stderr
        assert message in out.stderr and "Traceback" not in out.stderr
        assert not (tmp_path / "runs").exists()
