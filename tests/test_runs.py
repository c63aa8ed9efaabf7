"""Run records: a round's decision is a typed record whose JSON reads back every version."""

from eureka_jax.runs import (
    SUMMARY_FIELDS,
    Evaluation,
    RoundRecord,
    Summary,
    read_json,
    write_json,
)

# a round.json as an earlier version wrote it: no "round", no "error_source", and a key this
# version does not know
EARLIER = {"name": "iter_01", "status": "trained", "attempts": 1, "candidates": [0, 2, 3],
           "scores": [0.2, None, 0.5], "seed_scores": [[0.2], [None], [0.4, 0.6]],
           "seeds": [[0], [0], [0, 7]], "confirmed": [3], "confirmed_rows": [2],
           "failed": [False, True, False], "best_candidate": 3, "best_row": 2,
           "best_fitness": 0.5, "best_std": 0.14, "best_num_seeds": 2,
           "best_source": "def compute_reward(inputs): ...", "reflection": "r",
           "summary": "s", "compile_seconds": 1.0, "run_seconds": 2.0, "env_steps": 100,
           "errors": {}, "slow_batch": None,
           "population": [{"index": 3, "components": ["upright", "speed"], "num_seeds": 2}],
           "a_key_from_elsewhere": {"kept": True}}


def test_an_earlier_round_json_reads_back_and_writes_back_what_it_had(tmp_path):
    record = RoundRecord.from_json(EARLIER)
    assert record.trained and record.round is None and record.error_source is None
    # the best's score is the mean of its raced seeds
    assert record.best_seed_scores() == [0.4, 0.6]
    assert record.components_of(3) == ("upright", "speed") and record.components_of(0) == ()
    write_json(tmp_path / "round.json", record.to_json())
    again = read_json(tmp_path / "round.json")
    assert {k: again[k] for k in EARLIER} == EARLIER
    assert RoundRecord.from_json(again) == record


def test_a_round_that_compiled_nothing_is_not_trained_and_the_summary_keeps_its_fields():
    record = RoundRecord(name="iter_00", status="nothing compiled", attempts=3)
    assert not record.trained and record.best_seed_scores() == []
    row = record.to_json(SUMMARY_FIELDS)
    assert set(row) == set(SUMMARY_FIELDS) and row["status"] == "nothing compiled"
    assert RoundRecord.from_json(row).attempts == 3


def test_an_earlier_evaluation_reads_back_and_a_baselines_only_one_writes_no_best_fields():
    earlier = {"num_eval": 2, "statistic": "fitness, best evaluation over training",
               "rewards": {"best": {"fitness_per_seed": [0.7, 0.5], "mean": 0.6, "std": 0.14}},
               "best_minus_human": {"mean": 0.1, "low": None, "high": None, "seeds": 1},
               "wall_seconds": 12.0}  # a benchmark suite's key
    evaluation = Evaluation.from_json(earlier)
    assert evaluation.task == "" and evaluation.human_minus_sparse is None
    assert evaluation.best_minus_human["mean"] == 0.1
    assert evaluation.to_json()["wall_seconds"] == 12.0
    baselines = Evaluation(num_eval=2, statistic="s", rewards={}, task="cartpole", seeds=[1, 2],
                           human_minus_sparse={"mean": 0.2, "low": 0.1, "high": 0.3, "seeds": 2})
    written = baselines.to_json()
    assert "best_minus_human" not in written and "human_normalized_score" not in written
    assert Evaluation.from_json(written) == baselines


def test_a_summary_reads_back_with_its_rounds_best_and_evaluation(tmp_path):
    earlier = {"task": "cartpole", "run_dir": "/runs/x",
               "rounds": [{"round": 1, "name": "iter_00", "status": "trained", "attempts": 1,
                           "scores": [0.2], "best_fitness": 0.2},
                          {"round": 2, "name": "iter_01", "status": "nothing compiled"}],
               "best": {"round": 1, "candidate": 0, "fitness": 0.2, "source": "def f(): ..."},
               "evaluation": {"num_eval": 2, "statistic": "s", "rewards": {}}}
    summary = Summary.from_json(earlier)
    assert summary.best.std == 0.0 and summary.best.num_seeds == 1  # not written then
    assert summary.rounds[0].trained and not summary.rounds[1].trained
    assert summary.evaluation.num_eval == 2
    write_json(tmp_path / "summary.json", summary.to_json())
    assert Summary.from_json(read_json(tmp_path / "summary.json")) == summary
    assert Summary.from_json({"task": "cartpole", "rounds": []}).best is None


def test_a_candidate_writes_only_what_it_has_and_reads_back_typed():
    from eureka_jax.runs import Candidate

    rejected = Candidate(index=2, status="rejected", category="binding", message="no 'x'")
    assert rejected.to_json() == {"index": 2, "status": "rejected", "category": "binding",
                                  "message": "no 'x'"}
    trained = {"index": 0, "status": "trained", "score": 0.4, "std": 0.1, "num_seeds": 3,
               "components": ["upright"], "variants": 3, "behaviour": {"steps": 1},
               "from_a_later_version": 1}
    c = Candidate.from_json(trained)
    assert c.components == ("upright",) and c.variants == 3 and c.failed_at == -1
    assert c.to_json() == trained
    record = RoundRecord.from_json({**EARLIER, "population": [trained, rejected.to_json()]})
    assert [type(x) for x in record.population] == [Candidate, Candidate]
    assert record.to_json()["population"] == [trained, rejected.to_json()]
