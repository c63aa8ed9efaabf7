"""Reward reflection: the text that tells the LLM how training with its reward went.

A pure function of the trainer's curves (Eureka's structure, our wording): the task score
curve, the episode length curve, one line per reward component, each as about ten values
subsampled over training with max/mean/min, then notes on what to change.
"""

from __future__ import annotations

import numpy as np

NUM_VALUES = 10


def _line(label: str, values) -> str:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]  # checkpoints without an evaluation rollout
    idx = np.unique(np.linspace(0, len(values) - 1, min(NUM_VALUES, len(values))).round()
                    .astype(int))
    shown = ", ".join(f"{v:.3g}" for v in values[idx])
    return (f"{label}: values [{shown}] | max {np.nanmax(values):.3g}, "
            f"mean {np.nanmean(values):.3g}, min {np.nanmin(values):.3g}")


def reflect(fitness, episode_length, components: dict, fitness_description: str,
            episode_limit: int, seed_scores=None, score_kind: str = "best over training",
            budget_note: str | None = None) -> str:
    """Reflection text for one candidate.

    Args:
      fitness: [C] task score per checkpoint (already averaged over seeds).
      episode_length: [C] mean episode length per checkpoint.
      components: name -> [C] per-step mean of that reward component.
      fitness_description: what the task score measures.
      episode_limit: the maximum episode length.
      seed_scores: the candidate's score on each seed it trained with, if known.
      score_kind: what a seed's score is (the selection statistic).
      budget_note: set when the training budget, not the reward, likely explains a flat score;
        said instead of telling the LLM to write a different reward.

    Returns:
      The text, one item per line.
    """
    fitness = np.asarray(fitness, float)
    lines = []
    if seed_scores is not None and len(seed_scores):
        v = np.asarray(seed_scores, float)
        spread = f" ± {np.std(v, ddof=1):.3g} (std)" if len(v) > 1 else ""
        lines.append(f"Task score over {len(v)} seed(s), {score_kind}: mean {np.mean(v):.3g}"
                     f"{spread}; per seed " + ", ".join(f"{x:.3g}" for x in v))
    lines += [
        _line(f"Task score ({fitness_description})", fitness),
        _line(f"Episode length (limit {episode_limit})", episode_length),
        "Reward components (per-step mean over episodes):",
    ]
    lines += ["- " + _line(f"component '{name}'", values) for name, values in components.items()]
    notes = []
    if np.nanmax(np.abs(fitness)) < 1e-3:
        if budget_note:
            notes.append("The task score stayed at zero throughout training. " + budget_note)
        else:
            notes.append("The task score stayed at zero throughout training: the reward does "
                         "not lead the agent towards the goal; write a different reward rather "
                         "than re-tune this one.")
    means = {k: abs(float(np.nanmean(v))) for k, v in components.items()}
    for name, values in components.items():
        values = np.asarray(values, float)
        spread = float(np.nanmax(values) - np.nanmin(values))
        scale = max(means.values()) if means else 0.0
        if scale > 0 and spread < 0.02 * scale:
            notes.append(f"'{name}' hardly changed during training, so it gives the agent "
                         "little signal: rescale it, change its temperature, or remove it.")
    if len(means) > 1:
        top = max(means, key=means.get)
        rest = max(v for k, v in means.items() if k != top)
        if rest > 0 and means[top] > 5 * rest:
            notes.append(f"'{top}' is about {means[top] / rest:.0f} times larger than any other "
                         "component and drowns them out: scale it down or the others up.")
    if notes:
        lines.append("Notes:")
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def reflect_runs(runs, component_names, task, seed_scores=None,
                 score_kind: str = "best over training", budget_note: str | None = None) -> str:
    """Reflection of one candidate from all of its runs (``TrainingCurves`` with arrays
    [n, C]: every seed it trained with, curves averaged over them)."""
    components = {name: np.asarray(runs.components)[:, :, j].mean(0)
                  for j, name in enumerate(component_names)}
    return reflect(np.asarray(runs.fitness).mean(0), np.asarray(runs.episode_length).mean(0),
                   components, task.fitness_description, task.episode_length,
                   seed_scores=seed_scores, score_kind=score_kind, budget_note=budget_note)
