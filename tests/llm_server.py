"""A small OpenAI-compatible chat-completions server for tests (127.0.0.1, random port).

``script`` is a list of actions consumed one per request; when it is empty, requests are
answered with ``default_replies`` (cycled), honouring ``n``. Every request body is kept in
``requests``. Actions:
  ("reply", [texts])             200 with these choices (``n`` ignored)
  ("status", code, headers)      an error status with an OpenAI-style error body
  ("sleep", seconds)             answer late (past a client timeout), then reply normally
  ("malformed",)                 200 with a body that is not JSON
  ("no_choices",)                200 with "choices": []
  ("empty",)                     200 with one choice whose content is ""
  ("length",)                    200 with one choice cut off (finish_reason "length")
  ("no_usage", [texts])          200 with these choices and no "usage" field
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedLLM:
    def __init__(self, default_replies, cap_n: int | None = None):
        self.default_replies = itertools.cycle(default_replies)
        self.cap_n = cap_n
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _next_action(self):
        with self.lock:
            return self.script.pop(0) if self.script else None

    def _completion(self, texts, finish="stop"):
        return {
            "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
            "model": "scripted",
            "choices": [{"index": i, "finish_reason": finish,
                         "message": {"role": "assistant", "content": t}}
                        for i, t in enumerate(texts)],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50 * len(texts),
                      "total_tokens": 100 + 50 * len(texts)},
        }

    def _handler(self):
        llm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, body, headers=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with llm.lock:
                    llm.requests.append(body)
                action = llm._next_action()
                if action and action[0] == "sleep":
                    time.sleep(action[1])
                    action = None
                if action is None:
                    n = int(body.get("n") or 1)
                    if llm.cap_n:
                        n = min(n, llm.cap_n)
                    with llm.lock:
                        texts = [next(llm.default_replies) for _ in range(n)]
                    return self._send(200, llm._completion(texts))
                kind = action[0]
                if kind == "reply":
                    return self._send(200, llm._completion(action[1]))
                if kind == "no_usage":
                    body = llm._completion(action[1])
                    del body["usage"]
                    return self._send(200, body)
                if kind == "status":
                    code, headers = action[1], (action[2] if len(action) > 2 else {})
                    return self._send(code, {"error": {"message": f"scripted {code}",
                                                       "type": "test", "code": code}}, headers)
                if kind == "malformed":
                    return self._send(200, b"{not json")
                if kind == "no_choices":
                    return self._send(200, llm._completion([]))
                if kind == "empty":
                    return self._send(200, llm._completion([""]))
                if kind == "length":
                    return self._send(200, llm._completion(["def compute_reward(x"], "length"))
                raise AssertionError(f"unknown action {action}")

        return Handler
