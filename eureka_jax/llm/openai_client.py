"""Proposer over any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama,
LM Studio, llama.cpp server, ...), through the official ``openai`` client.

Retries: the ``openai`` client already retries 429 (honouring Retry-After), 5xx, timeouts and
connection errors with exponential backoff and jitter, up to ``max_retries``; we rely on it.
What it cannot know is handled here: replies that are malformed (no choices, empty content,
cut off by the token limit) are skipped with a logged reason and asked for again, up to a
bound; endpoints that cap or ignore ``n`` are asked again for the rest (and the cap is
remembered); fatal errors (bad key, unknown model, bad request) stop with one sentence.
"""

from __future__ import annotations

import json
import logging
import os

import openai

from eureka_jax.errors import EurekaError
from eureka_jax.llm.base import Usage

log = logging.getLogger(__name__)


class LLMError(EurekaError):
    """The endpoint could not be used; the message says why and what to do."""


class OpenAIProposer:
    """Samples reward programs from a chat-completions endpoint.

    Args:
      model: model name as the endpoint knows it.
      base_url: endpoint (``OPENAI_BASE_URL`` if None; OpenAI's if neither).
      api_key: key (``OPENAI_API_KEY`` if None; local servers accept any non-empty string).
      temperature: sampling temperature.
      max_retries: retries of the ``openai`` client per request (429/5xx/timeouts).
      timeout: seconds per request.
      max_samples_per_request: most ``n`` to ask for in one request (None: all at once;
        lowered automatically when the endpoint returns fewer choices than asked).
      max_bad_rounds: requests in a row that yield no usable reply before giving up.
      usage: where token counts are added (a new ``Usage`` if None).
    """

    saves_each_request = True  # propose(..., on_replies=) reports each request's replies

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 temperature: float = 1.0, max_retries: int = 5, timeout: float = 120.0,
                 max_samples_per_request: int | None = None, max_bad_rounds: int = 3,
                 usage: Usage | None = None):
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise LLMError("no API key for llm=openai; set OPENAI_API_KEY (any non-empty value "
                           "for a local server) or use llm=offline.")
        self.model = model
        self.temperature = float(temperature)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self.client = openai.OpenAI(api_key=key, base_url=self.base_url,
                                    max_retries=max_retries, timeout=timeout)
        self.max_retries = max_retries
        self.max_samples_per_request = max_samples_per_request
        self.max_bad_rounds = max_bad_rounds
        self.usage = usage or Usage()
        self.skipped: list[str] = []

    def propose(self, messages: list[dict], n: int, on_replies=None) -> list[str]:
        """``n`` replies to ``messages``, in as many requests as the endpoint needs;
        ``on_replies(texts)`` is called after each request that brought replies (the recording
        saves them there, so a search killed between requests keeps what it got)."""
        replies: list[str] = []
        bad_rounds = 0
        while len(replies) < n:
            want = n - len(replies)
            if self.max_samples_per_request:
                want = min(want, self.max_samples_per_request)
            got = self._request(messages, want)
            if 0 < len(got["choices"]) < want:
                # the endpoint caps or ignores n: ask for at most what it gives from now on
                self.max_samples_per_request = max(1, len(got["choices"]))
            replies.extend(got["texts"][:n - len(replies)])
            if on_replies is not None and got["texts"]:
                on_replies(got["texts"][:want])
            bad_rounds = 0 if got["texts"] else bad_rounds + 1
            if bad_rounds > self.max_bad_rounds:
                raise LLMError(
                    f"{self.base_url} returned no usable reply in {bad_rounds} requests in a row "
                    f"(last reasons: {'; '.join(self.skipped[-3:])}); check the model and "
                    "max_tokens, or try again later."
                )
        return replies[:n]

    def _request(self, messages, want: int) -> dict:
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, temperature=self.temperature, n=want
            )
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise LLMError(f"{self.base_url} rejected the API key ({e.status_code}); set a "
                           "valid OPENAI_API_KEY or api_key=...") from None
        except openai.NotFoundError:
            raise LLMError(f"model '{self.model}' is not served by {self.base_url} (404); "
                           "check model=... and base_url=...") from None
        except openai.BadRequestError as e:
            raise LLMError(f"{self.base_url} refused the request (400: {_short(e)}); check "
                           "model, temperature and the endpoint's limits.") from None
        except openai.APITimeoutError:
            raise LLMError(f"{self.base_url} did not answer within the timeout after "
                           f"{self.max_retries} retries; raise timeout=... or check the "
                           "server.") from None
        except openai.APIConnectionError:
            raise LLMError(f"cannot connect to {self.base_url} after {self.max_retries} "
                           "retries; check base_url=... and that the server is running.") from None
        except openai.RateLimitError:
            raise LLMError(f"{self.base_url} kept rate-limiting (429) after "
                           f"{self.max_retries} retries; wait, or lower sample=...") from None
        except openai.APIStatusError as e:
            raise LLMError(f"{self.base_url} failed with {e.status_code} after "
                           f"{self.max_retries} retries; try again later.") from None
        except (openai.APIResponseValidationError, json.JSONDecodeError) as e:
            self._skip(f"malformed response ({_short(e)})")
            return {"choices": [], "texts": []}
        return self._parse(response)

    def _parse(self, response) -> dict:
        choices = list(getattr(response, "choices", None) or [])
        if not choices:
            self._skip("response without choices")
        usage = getattr(response, "usage", None)
        self.usage.add(getattr(usage, "prompt_tokens", None),
                       getattr(usage, "completion_tokens", None), len(choices))
        texts = []
        for choice in choices:
            content = getattr(getattr(choice, "message", None), "content", None)
            if choice.finish_reason == "length":
                self._skip("reply cut off by the token limit (finish_reason=length)")
            elif not content or not content.strip():
                self._skip("empty reply")
            else:
                texts.append(content)
        return {"choices": choices, "texts": texts}

    def _skip(self, reason: str) -> None:
        self.skipped.append(reason)
        log.warning("LLM reply skipped: %s", reason)


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) < 200 else text[:200] + " ..."
