"""The OpenAI-compatible proposer against a real local HTTP server, and record/replay."""

import json

import pytest

from eureka_jax.llm.openai_client import LLMError, OpenAIProposer
from eureka_jax.llm.replay import RecordingProposer, ReplayProposer
from tests.llm_server import ScriptedLLM

REPLY = ("```python\nimport jax.numpy as jnp\n\ndef compute_reward(pole_angle):\n"
         "    upright = jnp.cos(pole_angle)\n    return upright, {'upright': upright}\n```")
MESSAGES = [{"role": "system", "content": "be a reward engineer"},
            {"role": "user", "content": "balance the pole"}]


@pytest.fixture
def server():
    with ScriptedLLM([REPLY + f"\n# sample {i}" for i in range(100)]) as s:
        yield s


def client(server, **kw):
    kw.setdefault("max_retries", 3)
    return OpenAIProposer("test-model", base_url=server.base_url, api_key="test-key", **kw)


def test_samples_n_in_one_request(server):
    replies = client(server).propose(MESSAGES, 4)
    assert len(replies) == 4 and all("def compute_reward" in r for r in replies)
    assert len(server.requests) == 1 and server.requests[0]["n"] == 4
    assert server.requests[0]["messages"] == MESSAGES


def test_usage_an_endpoint_does_not_report_is_unknown_not_zero(server):
    proposer = client(server)
    server.script += [("no_usage", [REPLY])]
    proposer.propose(MESSAGES, 1)
    assert proposer.usage.text() == ("tokens: unknown (the endpoint reported no usage for its "
                                     "1 call(s))")
    assert proposer.usage.cost is None
    proposer.propose(MESSAGES, 1)  # this one reports 100 + 50
    assert proposer.usage.text() == ("tokens: 100 prompt + 50 completion (plus 1 of 2 calls "
                                     "with no usage reported)")


def test_retries_429_with_retry_after_and_500(server):
    server.script += [("status", 429, {"Retry-After": "0.1"}), ("status", 500)]
    proposer = client(server)
    assert len(proposer.propose(MESSAGES, 2)) == 2
    assert len(server.requests) == 3  # 429, 500, then the answer


def test_timeout_is_retried(server):
    server.script += [("sleep", 1.5)]
    proposer = client(server, timeout=0.5)
    assert len(proposer.propose(MESSAGES, 1)) == 1
    assert len(server.requests) == 2


def test_endpoint_that_ignores_n_is_asked_again():
    with ScriptedLLM([REPLY], cap_n=1) as server:
        proposer = client(server)
        assert len(proposer.propose(MESSAGES, 3)) == 3
        assert [r["n"] for r in server.requests] == [3, 1, 1]
        assert proposer.usage.calls == 3 and proposer.usage.completion_tokens == 150


def test_chunks_when_configured(server):
    client(server, max_samples_per_request=2).propose(MESSAGES, 5)
    assert [r["n"] for r in server.requests] == [2, 2, 1]


def test_malformed_replies_are_skipped_with_reasons(server):
    server.script += [("malformed",), ("no_choices",), ("empty",), ("length",)]
    proposer = client(server, max_bad_rounds=4)
    replies = proposer.propose(MESSAGES, 1)
    assert len(replies) == 1 and "def compute_reward" in replies[0]
    reasons = " | ".join(proposer.skipped)
    for reason in ("malformed", "without choices", "empty reply", "finish_reason=length"):
        assert reason in reasons


def test_persistent_garbage_stops_with_a_sentence(server):
    server.script += [("empty",)] * 10
    with pytest.raises(LLMError, match="no usable reply in 3 requests"):
        client(server, max_bad_rounds=2).propose(MESSAGES, 1)


@pytest.mark.parametrize("code, message", [
    (401, "rejected the API key"),
    (404, "model 'test-model' is not served by"),
    (400, "refused the request"),
])
def test_fatal_errors_are_one_clear_sentence(server, code, message):
    server.script += [("status", code)]
    with pytest.raises(LLMError, match=message):
        client(server).propose(MESSAGES, 1)
    assert len(server.requests) == 1  # not retried


def test_server_errors_exhaust_retries(server):
    server.script += [("status", 503)] * 3
    with pytest.raises(LLMError, match="failed with 503 after 2 retries"):
        client(server, max_retries=2).propose(MESSAGES, 1)
    assert len(server.requests) == 3


def test_unreachable_endpoint():
    proposer = OpenAIProposer("m", base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=1,
                              timeout=1)
    with pytest.raises(LLMError, match="cannot connect to http://127.0.0.1:9/v1"):
        proposer.propose(MESSAGES, 1)


def test_missing_key_says_what_to_do(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMError, match="set OPENAI_API_KEY.*llm=offline"):
        OpenAIProposer("m")


def test_record_then_replay_reproduces_without_requests(server, tmp_path):
    path = tmp_path / "llm.jsonl"
    recorded = RecordingProposer(client(server), path, "test-model", 1.0)
    first = recorded.propose(MESSAGES, 3)
    again = recorded.propose(MESSAGES, 2)  # the same question asked again: new samples
    assert len(server.requests) == 2
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [rec["sample_index"] for rec in lines] == [0, 1, 2, 3, 4]
    assert lines[0]["usage"]["prompt_tokens"] == 100 and lines[1]["usage"] is None

    replay = ReplayProposer([path], "test-model", 1.0)
    assert replay.propose(MESSAGES, 3) == first
    assert replay.propose(MESSAGES, 2) == again
    assert len(server.requests) == 2  # replay cost no requests

    other = MESSAGES[:1] + [{"role": "user", "content": "balance the pole, please"}]
    with pytest.raises(LLMError) as info:
        ReplayProposer([path], "test-model", 1.0).propose(other, 1)
    text = str(info.value)
    assert "nearest recorded is" in text and lines[0]["key"] in text
    assert "from message 1 (user), character 16" in text


def test_a_call_interrupted_between_requests_asks_only_for_the_rest_on_resume(tmp_path):
    """An endpoint that gives one reply per request: a search killed after the first of a
    call's requests (here: the endpoint fails for good on the second) keeps that reply, and
    the resumed call asks only for the missing one, ending with the same replies."""
    messages = [{"role": "user", "content": "write a reward"}]
    path = tmp_path / "llm.jsonl"
    with ScriptedLLM(["first", "second", "third"], cap_n=1) as server:
        server.script.extend([None] + [("status", 400)])
        inner = OpenAIProposer("scripted", base_url=server.base_url, api_key="k",
                               max_retries=0)
        with pytest.raises(LLMError):
            RecordingProposer(inner, path, "scripted", 1.0).propose(messages, 2)
        assert len(path.read_text().splitlines()) == 1  # the first request's reply was kept
        asked = len(server.requests)
        inner = OpenAIProposer("scripted", base_url=server.base_url, api_key="k",
                               max_retries=0)
        replies = RecordingProposer(inner, path, "scripted", 1.0).propose(messages, 2)
        assert len(server.requests) == asked + 1  # only the missing sample
    assert replies[0] == "first" and len(replies) == 2


def test_the_config_picks_the_proposer_and_every_reply_is_recorded(server, tmp_path,
                                                                     monkeypatch):
    # llm/factory.py: llm=auto is openai only with a key; what it builds talks to base_url,
    # carries the config's model and temperature into the recording, and counts tokens
    from eureka_jax.config import load_config
    from eureka_jax.llm.factory import make_proposer, resolve_llm
    from eureka_jax.llm.offline import OfflineProposer
    from eureka_jax.task import load_task

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_llm(load_config([])) == "offline"
    assert resolve_llm(load_config(["api_key=k"])) == "openai"
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert resolve_llm(load_config([])) == "openai"
    assert resolve_llm(load_config(["llm=offline"])) == "offline"

    task = load_task("cartpole")
    cfg = load_config(["llm=openai", "model=test-model", f"base_url={server.base_url}",
                       "api_key=k", "temperature=0.5", "max_retries=1"])
    proposer, kind, usage = make_proposer(cfg, task, tmp_path / "llm.jsonl")
    assert kind == "openai" and len(proposer.propose(MESSAGES, 2)) == 2
    record = [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    assert [(r["model"], r["temperature"]) for r in record] == [("test-model", 0.5)] * 2
    assert usage.summary()["calls"] == 1 and usage.summary()["prompt_tokens"] == 100
    assert server.requests[-1]["model"] == "test-model"
    assert server.requests[-1]["temperature"] == 0.5

    offline, kind, _ = make_proposer(load_config(["llm=offline"]), task, None)
    assert kind == "offline" and isinstance(offline, OfflineProposer)
    replay, kind, _ = make_proposer(load_config(
        ["llm=replay", "model=test-model", "temperature=0.5",
         f"replay=[{tmp_path / 'llm.jsonl'}]"]), task, None)
    assert kind == "replay" and replay.propose(MESSAGES, 2) == [r["reply"] for r in record]
