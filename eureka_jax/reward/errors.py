"""The error a rejected reward program produces; its message is the LLM's feedback."""

from eureka_jax.errors import EurekaError

CATEGORIES = (
    "extraction",  # no reward function found in the reply
    "syntax",  # not valid Python
    "forbidden",  # uses something the policy does not allow
    "binding",  # an argument is not a reward input of the task
    "exception",  # the code raised while being executed or traced
    "output",  # wrong return structure, shape or dtype
    "non-finite",  # NaN or inf on real transitions
    "timeout",  # executing/tracing/probing exceeded the wall-clock limit
    "resource",  # too much memory, arrays too large, unbounded loops
    "cost",  # one call costs too much compared with an environment step
)


class RewardError(EurekaError):
    """A reward program was rejected.

    Attributes:
      category: one of ``CATEGORIES``.
      message: what is wrong, where, and what to do instead; written for an LLM to act on.
      line: 1-based line in the extracted source, when known.
    """

    def __init__(self, category: str, message: str, line: int | None = None):
        assert category in CATEGORIES, category
        super().__init__(f"[{category}] {message}")
        self.category = category
        self.message = message
        self.line = line
