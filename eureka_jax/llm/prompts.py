"""Prompt templates (plain text files, our own words) and the messages built from them.

The templates live in ``eureka_jax/llm/prompts/``; ``prompts_dir=PATH`` points at a folder of
the user's with any of the same file names to override them one by one.
"""

from __future__ import annotations

from pathlib import Path

from eureka_jax.errors import EurekaError

BUILTIN_DIR = Path(__file__).parent / "prompts"
NAMES = ("system", "task", "output_rules", "policy_feedback", "execution_error", "output_tip",
         "dr_task", "dr_feedback")


def allowed_modules_text() -> str:
    """``jax``, ``jax.lax``, ... as the prompts name them, from the default reward policy."""
    from eureka_jax.reward.policy import ALLOWED_IMPORTS

    names = [f"`{m}`" for m in sorted(ALLOWED_IMPORTS)]
    return ", ".join(names[:-1]) + " and " + names[-1]


def value_attributes_text() -> str:
    """The array attributes the reward policy allows, as the system prompt names them."""
    from eureka_jax.reward.policy import VALUE_ATTRIBUTES

    shown = [a for a in ARRAY_ATTRIBUTES if a in VALUE_ATTRIBUTES]
    return ", ".join(f"`.{a}`" for a in shown)


# the array attributes a prompt names (all of them allowed by the policy's VALUE_ATTRIBUTES;
# the rest of that list is dict/list/str methods, which need no mention)
ARRAY_ATTRIBUTES = ("shape", "dtype", "ndim", "size", "T", "at", "astype", "reshape", "sum",
                    "mean", "max", "min", "prod", "clip")


class Prompts:
    """The set of templates in use.

    Args:
      override_dir: optional folder with ``<name>.txt`` files replacing the built-in ones.
    """

    def __init__(self, override_dir: str | None = None):
        self.templates = {}
        folder = Path(override_dir).expanduser() if override_dir else None
        if folder is not None and not folder.is_dir():
            raise EurekaError(f"prompts_dir '{override_dir}' is not a folder; give a folder of "
                              f"template files named {', '.join(n + '.txt' for n in NAMES)}.")
        for name in NAMES:
            path = folder / f"{name}.txt" if folder and (folder / f"{name}.txt").is_file() \
                else BUILTIN_DIR / f"{name}.txt"
            self.templates[name] = path.read_text()

    def _fill(self, name: str, **values) -> str:
        text = self.templates[name]
        # the modules the reward policy lets a program import: the same list the checker
        # enforces and the Isaac Gym runtime allows
        values.setdefault("modules", allowed_modules_text())
        values.setdefault("value_attributes", value_attributes_text())
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text.strip() + "\n"

    def initial(self, task, budget: str | None = None) -> list[dict]:
        """The first request: system message and the task (description, model facts, env
        source, inputs, and the training budget when given)."""
        rules = self._fill("output_rules").strip()
        return [
            {"role": "system", "content": self._fill("system")},
            {"role": "user", "content": self._fill("task", task_context=task.context(budget),
                                                   output_rules=rules)},
        ]

    def feedback(self, task, code: str, reflection: str, training_summary: str,
                 budget: str | None = None) -> list[dict]:
        """The next request after a round: the best program so far and its reflection."""
        return self._follow_up(task, self._fill(
            "policy_feedback", code=code.strip(), reflection=reflection,
            training_summary=training_summary), budget)

    def execution_error(self, task, code: str, category: str, message: str,
                        budget: str | None = None) -> list[dict]:
        """The next request when no program of a round could be used."""
        return self._follow_up(task, self._fill(
            "execution_error", code=code.strip(), category=category, message=message), budget)

    def dr_initial(self, task, reward: str, parameters: str, prior: str) -> list[dict]:
        """The first request of the domain-randomization stage (``eureka_jax.dr``)."""
        text = self._fill("dr_task", description=task.description.strip(),
                          model_facts=task.model_facts(), reward=reward.strip(),
                          parameters=parameters, prior=prior)
        return [{"role": "user", "content": text}]

    def dr_feedback(self, task, reward: str, parameters: str, prior: str, results: str,
                    best: str, seeds: int) -> list[dict]:
        """A later request of the stage: what the configurations so far achieved."""
        return self.dr_initial(task, reward, parameters, prior) + [{
            "role": "user", "content": self._fill("dr_feedback", results=results, best=best,
                                                  seeds=seeds)}]

    def _follow_up(self, task, text: str, budget: str | None = None) -> list[dict]:
        tip = self._fill("output_tip", output_rules=self._fill("output_rules").strip())
        return self.initial(task, budget) + [{"role": "user", "content": text + "\n" + tip}]
