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
            budget_note: str | None = None, watch: dict | None = None) -> str:
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
      watch: label -> [C] the task's behaviour statistics (what the policy does), if any.

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
    shown = {k: v for k, v in (watch or {}).items() if np.isfinite(np.asarray(v, float)).any()}
    if shown:
        lines.append("What the policy does (evaluation episodes; NaN-free checkpoints):")
        lines += ["- " + _line(label, values) for label, values in shown.items()]
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
    watch = {}
    specs = getattr(task, "watch", None) or []
    if runs.watch is not None and specs:
        values = np.asarray(runs.watch, float)  # [n, C, W]
        for j, w in enumerate(specs[:values.shape[-1]]):
            column = values[:, :, j]
            finite = np.isfinite(column)
            count = finite.sum(0)
            mean = np.where(count > 0, np.where(finite, column, 0.0).sum(0)
                            / np.maximum(count, 1), np.nan)  # over seeds, NaN-aware
            watch[f"{w['name']} ({w.get('description', w['input'])})"] = mean
    return reflect(np.asarray(runs.fitness).mean(0), np.asarray(runs.episode_length).mean(0),
                   components, task.fitness_description, task.episode_length,
                   seed_scores=seed_scores, score_kind=score_kind, budget_note=budget_note,
                   watch=watch)


CHARS_PER_TOKEN = 4  # budgeting estimate (English prose and code run 3.5-4.5 characters/token)


def population_text(population: list[dict], round_number, best_index: int | None,
                    max_tokens: int = 1500, parent_components=None,
                    best_so_far: dict | None = None, round_best_source: str | None = None) -> str:
    """The whole round as the LLM reads it: every candidate's score or fate, and how the
    round compares with the best so far.

    Args:
      population: one dict per candidate of the round (proposal order): ``index``,
        ``status`` ("trained", "failed" or "rejected"), ``score``, ``std``, ``num_seeds``,
        ``variants`` (constant variants it trained as, best shown; ``tune=``),
        ``components`` (names), ``failed_at`` (checkpoint), ``category``/``message``
        (rejections).
      round_number: the round's number as shown.
      best_index: the round's best candidate (index), if any trained.
      max_tokens: the text's budget (estimated at ``CHARS_PER_TOKEN``): candidates are
        listed best first until it is spent, then summarised in one line.
      parent_components: component names of the reward the round's prompt showed, to say
        what the round's best changed.
      best_so_far: ``{"round", "score", "std", "num_seeds"}`` of the best reward before this
        round; when the round did not beat it, the text says so and shows the round's best
        (``round_best_source``) anyway.
    """
    budget = max_tokens * CHARS_PER_TOKEN

    def score(c):
        tuned = (f", the best of {c['variants']} variants of its constants"
                 if c.get("variants", 1) > 1 else "")
        if c.get("num_seeds", 1) > 1:
            return f"{c['score']:.3g} ± {c['std']:.2g} over {c['num_seeds']} seeds{tuned}"
        return f"{c['score']:.3g} (1 seed{tuned})"

    def line(c):
        name = f"candidate {c['index']}"
        comps = ", ".join(c.get("components") or ()) or "none"
        if c["status"] == "trained":
            mark = "  <- best of this round" if c["index"] == best_index else ""
            return f"- {name}: {score(c)}; components: {comps}{mark}"
        if c["status"] == "failed":
            where = (f" at checkpoint {c['failed_at']}" if c.get("failed_at", -1) >= 0 else "")
            return f"- {name}: training went NaN/inf{where} (no score); components: {comps}"
        message = " ".join(str(c.get("message", "")).split())
        return f"- {name}: rejected before training [{c.get('category')}]: {message[:160]}"

    # the round's best first, then the other raced leaders (scored on fresh seeds), then the
    # one-seed scores (optimistic: the luck of that seed is in them), each by score
    trained = sorted((c for c in population if c["status"] == "trained"),
                     key=lambda c: (c["index"] != best_index, c.get("num_seeds", 1) < 2,
                                    -c["score"]))
    others = [c for c in population if c["status"] != "trained"]
    counts = {s: sum(c["status"] == s for c in population)
              for s in ("trained", "failed", "rejected")}
    raced = any(c.get("num_seeds", 1) > 1 for c in trained)
    lines = [(f"Round {round_number}: {len(population)} candidates ({counts['trained']} trained, "
              f"{counts['failed']} failed in training, {counts['rejected']} rejected), best first"
              + ("; the leaders trained again on fresh seeds and were ranked by those, so a "
                 "one-seed score is optimistic" if raced else "") + ":")]
    used = len(lines[0])
    shown = 0
    for c in trained + others:
        text = line(c)
        if used + len(text) > budget * 0.7 and shown:
            break
        lines.append(text)
        used += len(text) + 1
        shown += 1
    rest = (trained + others)[shown:]
    if rest:
        scores = ", ".join(f"{c['score']:.3g}" for c in rest if c["status"] == "trained")
        lines.append(f"- ... {len(rest)} more (scores {scores or 'none'})")
    best = next((c for c in population if c["index"] == best_index), None)
    if best is not None and parent_components is not None:
        added = [n for n in best.get("components", ()) if n not in parent_components]
        dropped = [n for n in parent_components if n not in best.get("components", ())]
        if added or dropped:
            lines.append("Compared with the reward shown to you for this round, its best "
                         + ("adds " + ", ".join(added) if added else "")
                         + ("; " if added and dropped else "")
                         + ("drops " + ", ".join(dropped) if dropped else "") + ".")
        else:
            lines.append("This round's best keeps the components of the reward shown to you.")
    if best is not None and best_so_far is not None and best["score"] <= best_so_far["score"]:
        lines.append(f"This round did not beat the best reward so far (round "
                     f"{best_so_far['round']}: {best_so_far['score']:.3g}); that reward stays "
                     f"the one shown below. This round's best scored {score(best)}:")
        if round_best_source:
            room = int(budget - used - 200)
            code = round_best_source.strip()
            if len(code) > room:
                code = code[:max(room, 0)] + "\n# ... (cut to fit the reflection's budget)"
            lines.append(f"```python\n{code}\n```")
    elif best is None:
        lines.append("No candidate of this round trained to a score.")
    return "\n".join(lines) + "\n"
