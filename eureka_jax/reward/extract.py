"""Finding the reward program in an LLM reply."""

from __future__ import annotations

import ast
import re

from eureka_jax.reward.errors import RewardError

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "jax"}
_CODE_START = re.compile(r"^(import |from |def |@|[A-Z_][A-Z0-9_]* *=)", re.MULTILINE)


def extract_code(reply: str, entry: str = "compute_reward") -> str:
    """Returns the Python source of a reward program found in ``reply``.

    Accepts a reply that is only code, one or several fenced blocks (```python, ```py or
    bare ```), and prose around the code. All Python blocks are kept in order, so helper
    functions and constants defined in earlier blocks survive; if a later block redefines
    ``entry``, Python's own rule (the last definition wins) applies. Prose without a block is
    searched for the first line that starts code (import/def/decorator/constant).

    Raises:
      RewardError: category "extraction" when no code defining ``entry`` is found.
    """
    if not reply or not reply.strip():
        raise RewardError("extraction", "the reply is empty; answer with a Python code block.")
    blocks = [body for tag, body in _FENCE.findall(reply) if tag.lower() in _PYTHON_TAGS]
    candidates = []
    if blocks:
        candidates.append("\n\n".join(b.strip("\n") for b in blocks))
        candidates.extend(b for b in reversed(blocks) if f"def {entry}" in b)
    else:
        candidates.append(reply)
        start = _CODE_START.search(reply)
        if start:
            candidates.extend(_trim_trailing_prose(reply[start.start():]))
    for code in candidates:
        if f"def {entry}" in code and _parses(code):
            return code.strip("\n") + "\n"
    for code in candidates:  # something defines entry but does not parse: report syntax later
        if f"def {entry}" in code:
            return code.strip("\n") + "\n"
    found = sorted(set(re.findall(r"def\s+([A-Za-z_]\w*)\s*\(", reply)))
    what = f"functions found: {', '.join(found)}" if found else "no function definition found"
    raise RewardError(
        "extraction",
        f"no `def {entry}(...)` in the reply ({what}); define the reward as "
        f"`def {entry}(<reward inputs>)` in a ```python block.",
    )


def _trim_trailing_prose(code: str):
    lines = code.rstrip().splitlines()
    for end in range(len(lines), 0, -1):
        yield "\n".join(lines[:end])


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
