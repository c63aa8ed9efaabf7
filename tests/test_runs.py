"""Run records: a round's decision is a typed record whose JSON reads back every version."""

from eureka_jax.runs import SUMMARY_FIELDS, RoundRecord, read_json, write_json

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
