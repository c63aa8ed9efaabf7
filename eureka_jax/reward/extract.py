"""Finding the reward program in an LLM reply."""

from __future__ import annotations

import ast
import re

from eureka_jax.reward.errors import RewardError

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3", "jax"}
_CODE_START = re.compile(r"^(import |from |def |@|[A-Z_][A-Z0-9_]* *=)", re.MULTILINE)


def check_bounds(text: str, limit: int, what: str) -> None:
    """The checks that come before any parsing: ``text`` (a reply, a reward, a program) is
    at most ``limit`` characters and holds no NUL byte; else a one-sentence rejection."""
    if len(text) > limit:
        raise RewardError("resource", f"the {what} is {len(text):,} characters long; the limit "
                          f"is {limit:,}. Keep it to one short Python program.")
    if "\x00" in text:
        raise RewardError("syntax", f"the {what} contains a NUL character (code 0), which "
                          "Python source cannot; remove it.")


def extract_code(reply: str, entry: str = "compute_reward", max_chars: int = 200_000) -> str:
    """Returns the Python source of a reward program found in ``reply``.

    Accepts a reply that is only code, one or several fenced blocks (```python, ```py or
    bare ```), and prose around the code. All Python blocks are kept in order, so helper
    functions and constants defined in earlier blocks survive; if a later block redefines
    ``entry``, Python's own rule (the last definition wins) applies. Prose without a block is
    searched for the first line that starts code (import/def/decorator/constant).

    A top-level ``if __name__ == "__main__":`` block (a self-test an LLM likes to add) is
    dropped. The work is bounded before any parsing: a reply longer than ``max_chars`` is
    rejected, and trailing prose is trimmed in a bounded number of parses.

    Raises:
      RewardError: category "extraction" when no code defining ``entry`` is found, "resource"
        when the reply is too long, "syntax" for a NUL byte.
    """
    check_bounds(reply, max_chars, "reply")
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
            return drop_main_blocks(code.strip("\n") + "\n")
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


MAX_TRIMS = 20


def _trim_trailing_prose(code: str):
    """Shorter and shorter versions of ``code``, each cut just before the line where the
    previous one stopped parsing (prose after the code): at most ``MAX_TRIMS`` parses."""
    lines = code.rstrip().splitlines()
    for _ in range(MAX_TRIMS):
        yield "\n".join(lines)
        try:
            ast.parse("\n".join(lines))
            return
        except SyntaxError as e:
            end = (e.lineno or len(lines)) - 1
        except (ValueError, RecursionError, MemoryError):
            return
        end = min(end, len(lines) - 1)
        if end <= 0:
            return
        lines = lines[:end]


def drop_main_blocks(code: str) -> str:
    """``code`` without its top-level ``if __name__ == "__main__":`` blocks."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code
    drop = set()
    for node in tree.body:
        test = node.test if isinstance(node, ast.If) else None
        if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
                and test.left.id == "__name__" and len(test.comparators) == 1
                and isinstance(test.comparators[0], ast.Constant)
                and test.comparators[0].value == "__main__"):
            drop.update(range(node.lineno, node.end_lineno + 1))
    if not drop:
        return code
    lines = code.splitlines(keepends=True)
    return "".join(line for i, line in enumerate(lines, 1) if i not in drop)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
