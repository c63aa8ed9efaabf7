"""Record every request and reply to JSONL, and answer from such files without tokens.

A reply is keyed by a hash of (model, messages, temperature, sample index). The sample index
counts the replies given so far to the same (model, messages, temperature), so a search that
asks the same question twice (a round re-sampled because nothing compiled) gets new replies
the second time, on recording and on replay alike.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import time
from pathlib import Path

from eureka_jax.llm.openai_client import LLMError


def _canonical(messages) -> str:
    return json.dumps(messages, sort_keys=True, ensure_ascii=False)


def request_key(model: str, messages: list[dict], temperature: float, sample_index: int) -> str:
    payload = json.dumps([model, _canonical(messages), round(float(temperature), 6),
                          int(sample_index)])
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class _Counter:
    def __init__(self):
        self.seen: dict[str, int] = {}

    def take(self, model, messages, temperature, n) -> list[int]:
        h = hashlib.sha256(f"{model}|{temperature}|{_canonical(messages)}".encode()).hexdigest()
        start = self.seen.get(h, 0)
        self.seen[h] = start + n
        return list(range(start, start + n))


def append_jsonl(path: Path, records: list[dict]) -> None:
    """Appends whole lines with one write and fsync, so a killed run leaves no partial line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _load(path: Path) -> dict[str, dict]:
    records = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            records[record["key"]] = record
    return records


class RecordingProposer:
    """Wraps a proposer; appends every reply (with its request) to ``path``.

    Replies already in ``path`` (a resumed run) are answered from it without asking the
    wrapped proposer, so a resumed run repeats no finished LLM call. A proposer that makes
    several requests for one call (an endpoint that caps ``n``) and says so
    (``saves_each_request``) has each request's replies written as it arrives, so a run
    killed between them asks only for the rest.
    """

    def __init__(self, inner, path, model: str, temperature: float):
        self.inner, self.path = inner, Path(path)
        self.model, self.temperature = model, float(temperature)
        self.counter = _Counter()
        self.recorded = _load(self.path) if self.path.is_file() else {}

    def propose(self, messages: list[dict], n: int) -> list[str]:
        indices = self.counter.take(self.model, messages, self.temperature, n)
        keys = [request_key(self.model, messages, self.temperature, i) for i in indices]
        cached = [self.recorded[k]["reply"] for k in keys if k in self.recorded]
        if cached and hasattr(self.inner, "replayed"):
            self.inner.replayed(messages, cached)  # keep a stateful proposer's state as if asked
        if len(cached) == n:
            return cached
        usage = getattr(self.inner, "usage", None)
        state = {"written": 0, "usage": usage.summary() if usage else None}
        fresh_indices = indices[len(cached):]

        def save(batch: list[str]) -> None:
            """Appends one request's replies at once: a run killed later keeps them."""
            batch = batch[:len(fresh_indices) - state["written"]]
            after = usage.summary() if usage else None
            call_usage = None
            if state["usage"] and after:
                call_usage = {k: after[k] - state["usage"][k]
                              for k in ("calls", "prompt_tokens", "completion_tokens",
                                        "unknown_calls")}
            state["usage"] = after
            start = state["written"]
            records = [
                {"key": request_key(self.model, messages, self.temperature, i),
                 "model": self.model, "temperature": self.temperature, "sample_index": i,
                 "time": time.time(), "usage": call_usage if j == 0 else None,
                 "messages": messages, "reply": reply}
                for j, (i, reply) in enumerate(zip(fresh_indices[start:], batch))
            ]
            append_jsonl(self.path, records)
            self.recorded.update({r["key"]: r for r in records})
            state["written"] += len(records)

        if getattr(self.inner, "saves_each_request", False):
            fresh = self.inner.propose(messages, n - len(cached), on_replies=save)
        else:
            fresh = self.inner.propose(messages, n - len(cached))
        if state["written"] < len(fresh):
            save(fresh[state["written"]:])
        return cached + fresh


class ReplayProposer:
    """Answers from recorded JSONL files; never touches the network.

    Args:
      paths: JSONL files written by ``RecordingProposer``.
      model, temperature: must match the recording (they are part of the key).
    """

    def __init__(self, paths, model: str, temperature: float):
        self.model, self.temperature = model, float(temperature)
        self.records: dict[str, dict] = {}
        files = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        if not files:
            raise LLMError("llm=replay needs recorded files; pass replay=[PATH, ...].")
        for path in files:
            if not path.is_file():
                raise LLMError(f"replay file {path} does not exist; give the llm.jsonl of a "
                               "recorded run.")
            self.records.update(_load(path))
        self.counter = _Counter()

    def propose(self, messages: list[dict], n: int) -> list[str]:
        replies = []
        for i in self.counter.take(self.model, messages, self.temperature, n):
            key = request_key(self.model, messages, self.temperature, i)
            if key not in self.records:
                raise LLMError(self._missing(key, messages, i))
            replies.append(self.records[key]["reply"])
        return replies

    def _missing(self, key, messages, index) -> str:
        if not self.records:
            return f"no recorded reply for request {key}: the replay files are empty."
        text = _canonical(messages)

        def closeness(record):
            return (record["model"] == self.model,
                    record["temperature"] == self.temperature,
                    difflib.SequenceMatcher(None, _canonical(record["messages"]), text,
                                            autojunk=False).quick_ratio(),
                    -abs(record["sample_index"] - index))

        nearest = max(self.records.values(), key=closeness)
        differences = []
        if nearest["model"] != self.model:
            differences.append(f"model {nearest['model']!r} vs {self.model!r}")
        if nearest["temperature"] != self.temperature:
            differences.append(f"temperature {nearest['temperature']} vs {self.temperature}")
        if _canonical(nearest["messages"]) != text:
            differences.append("messages differ"
                               + _first_difference(nearest["messages"], messages))
        if nearest["sample_index"] != index:
            differences.append(f"sample {nearest['sample_index']} vs {index} (the recording "
                               "has fewer samples of this request)")
        return (f"replay has no reply for request {key} (sample {index}); nearest recorded is "
                f"{nearest['key']} ({'; '.join(differences)}). Replay with the recorded "
                "settings, or record this request with llm=openai.")


def _first_difference(recorded, asked) -> str:
    for i, (a, b) in enumerate(zip(recorded, asked)):
        if a != b:
            ca, cb = a.get("content", ""), b.get("content", "")
            at = next((j for j, (x, y) in enumerate(zip(ca, cb)) if x != y), min(len(ca), len(cb)))
            return f" from message {i} ({b.get('role')}), character {at}"
    return f" in length ({len(recorded)} vs {len(asked)} messages)"
