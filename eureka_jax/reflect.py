"""Reward reflection: the text that tells the LLM how training with its reward went.

A pure function of the trainer's curves (Eureka's structure, our wording): the task score
curve, the episode length curve, one line per reward component, each as about ten values
subsampled over training with max/mean/min, then notes on what to change.
"""

from __future__ import annotations

import numpy as np

NUM_VALUES = 10


def _mean_over_runs(values) -> np.ndarray:
    """[n, C] -> [C]: each checkpoint's mean over the runs that have a finite value there
    (NaN where none has: a checkpoint without an evaluation)."""
    values = np.asarray(values, float)
    finite = np.isfinite(values)
    count = finite.sum(0)
    return np.where(count > 0, np.where(finite, values, 0.0).sum(0) / np.maximum(count, 1),
                    np.nan)


def _line(label: str, values) -> str:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]  # checkpoints without an evaluation rollout
    idx = np.unique(np.linspace(0, len(values) - 1, min(NUM_VALUES, len(values))).round()
                    .astype(int))
    shown = ", ".join(f"{v:.3g}" for v in values[idx])
    return (f"{label}: values [{shown}] | max {np.nanmax(values):.3g}, "
            f"mean {np.nanmean(values):.3g}, min {np.nanmin(values):.3g}")


def low_score(fitness, score: float | None = None, reference: dict | None = None) -> bool:
    """Whether a candidate's task score is low enough for a note about its reward's balance to
    be worth making: no better than the sparse reward's at this budget when that is known
    (``reference``), else a score curve that barely rose over training."""
    sparse = (reference or {}).get("sparse")
    if score is not None and sparse is not None and np.isfinite(score):
        return score <= sparse["mean"]
    values = np.asarray(fitness, float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return True
    scale = max(float(np.max(np.abs(values))), 1e-9)
    return float(np.max(values) - values[0]) <= 0.05 * scale


def reflect(fitness, episode_length, components: dict, fitness_description: str,
            episode_limit: int, seed_scores=None, score_kind: str = "best over training",
            budget_note: str | None = None, watch: dict | None = None, num_runs: int = 1,
            score_is_low: bool | None = None, outside_total=()) -> str:
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
      num_runs: how many runs (seeds) the curves are the mean of.
      score_is_low: whether the score is low enough for notes on the reward's balance (a
        dominating component is only worth flagging then); None: from the curve
        (``low_score``).
      outside_total: components the total is not computed from (reported only).

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
    evaluated = int(np.isfinite(fitness).sum())
    shown_values = min(NUM_VALUES, evaluated)
    source = (f"the mean over its {num_runs} runs (one per seed)" if num_runs > 1
              else "its one run")
    lines.append(f"Curves below: {source}, {shown_values} of its {evaluated} evaluated "
                 f"checkpoints shown (evenly spaced; max, mean and min over all {evaluated})."
                 + (" A seed's score is its own best checkpoint, so the mean curve can peak "
                    "below the mean score." if num_runs > 1 and score_kind.startswith("best")
                    else ""))
    lines += [
        _line(f"Task score ({fitness_description})", fitness),
        _line(f"Episode length (limit {episode_limit})", episode_length),
        "Reward components (per-step mean over episodes):",
    ]
    lines += ["- " + _line(f"component '{name}'" + (" (not part of the total)"
                                                     if name in outside_total else ""), values)
              for name, values in components.items()]
    shown = {k: v for k, v in (watch or {}).items() if np.isfinite(np.asarray(v, float)).any()}
    if shown:
        lines.append("What the policy does (evaluation episodes; NaN-free checkpoints):")
        lines += ["- " + _line(label, values) for label, values in shown.items()]
    notes = [f"'{name}' never enters the total: it is reported but rewards nothing; add it "
             "to the total or leave it out." for name in components if name in outside_total]
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
    if score_is_low is None:
        score_is_low = low_score(fitness)
    if len(means) > 1 and score_is_low:  # a large term doing the work is no fault
        top = max(means, key=means.get)
        rest = max(v for k, v in means.items() if k != top)
        if rest > 0 and means[top] > 5 * rest:
            notes.append(f"'{top}' is about {means[top] / rest:.0f} times larger than any other "
                         "component and the task score is low: the others may be drowned out; "
                         "scale it down or the others up.")
    if notes:
        lines.append("Notes:")
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def reflect_runs(runs, component_names, task, seed_scores=None,
                 score_kind: str = "best over training", budget_note: str | None = None,
                 reference: dict | None = None, outside_total=()) -> str:
    """Reflection of one candidate from all of its runs (``TrainingCurves`` with arrays
    [n, C]: every seed it trained with, curves averaged over them); ``reference``: the
    baselines' scores at this budget (``references.lookup``), if known."""
    components = {name: np.asarray(runs.components)[:, :, j].mean(0)
                  for j, name in enumerate(component_names)}
    watch = {}
    specs = getattr(task, "watch", None) or []
    if runs.watch is not None and specs:
        values = np.asarray(runs.watch, float)  # [n, C, W]
        for j, w in enumerate(specs[:values.shape[-1]]):
            watch[f"{w['name']} ({w.get('description', w['input'])})"] = _mean_over_runs(
                values[:, :, j])
    fitness = np.asarray(runs.fitness).mean(0)
    score = (float(np.nanmean(seed_scores)) if seed_scores is not None and len(seed_scores)
             and np.isfinite(np.asarray(seed_scores, float)).any() else None)
    return reflect(fitness, np.asarray(runs.episode_length).mean(0),
                   components, task.fitness_description, task.episode_length,
                   seed_scores=seed_scores, score_kind=score_kind, budget_note=budget_note,
                   watch=watch, num_runs=int(np.asarray(runs.fitness).shape[0]),
                   score_is_low=low_score(fitness, score, reference), outside_total=outside_total)


def behaviour(runs, component_names, task) -> dict | None:
    """One candidate's behaviour for the round's list: at its best checkpoint (by the mean
    fitness over its runs), each watch statistic (mean over runs) and each component's value
    there and at the first evaluated checkpoint. ``runs``: ``TrainingCurves`` [n, C]."""
    fitness = np.asarray(runs.fitness, float)
    if fitness.ndim != 2 or not np.isfinite(fitness).any():
        return None
    mean = _mean_over_runs(fitness)
    best = int(np.nanargmax(mean))
    first = int(np.flatnonzero(np.isfinite(mean))[0])
    comps = np.asarray(runs.components, float)  # [n, C, M]
    out = {"checkpoint": best + 1, "of": int(fitness.shape[1]), "watch": {},
           "components": {}}
    for j, name in enumerate(component_names):
        column = comps[:, :, j].mean(0)
        out["components"][name] = [float(column[first]), float(column[best])]
    specs = getattr(task, "watch", None) or []
    if runs.watch is not None and specs:
        values = np.asarray(runs.watch, float)  # [n, C, W]
        for j, w in enumerate(specs[:values.shape[-1]]):
            at = values[:, best, j]
            if np.isfinite(at).any():
                out["watch"][w["name"]] = float(np.mean(at[np.isfinite(at)]))
    return out


def behaviour_text(b: dict) -> str:
    """'at its best checkpoint (7 of 20, mean over its runs): pole_height 0.61, speed 7.2;
    components from the first checkpoint to there: energy 0.1 -> 0.42, ctrl -0.02 -> -0.02
    (flat)'"""
    head = f"at its best checkpoint ({b['checkpoint']} of {b['of']}, mean over its runs)"
    if b.get("watch"):
        head += ": " + ", ".join(f"{k} {v:.3g}" for k, v in b["watch"].items())
    moves = []
    for name, (start, there) in b.get("components", {}).items():
        scale = max(abs(start), abs(there), 1e-12)
        flat = " (flat)" if abs(there - start) <= 0.05 * scale else ""
        moves.append(f"{name} {start:.3g} -> {there:.3g}{flat}")
    if not moves:
        return head
    return head + "; components from the first checkpoint to there: " + ", ".join(moves)


CHARS_PER_TOKEN = 4  # budgeting estimate (English prose and code run 3.5-4.5 characters/token)


def population_text(population: list, round_number, best_index: int | None,
                    max_tokens: int = 1500, parent_components=None,
                    best_so_far: dict | None = None, round_best_source: str | None = None) -> str:
    """The whole round as the LLM reads it: every candidate's score or fate, and how the
    round compares with the best so far.

    Args:
      population: the round's ``runs.Candidate``s (proposal order; their JSON dicts are
        read too).
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
    from eureka_jax.runs import Candidate

    population = [Candidate.from_json(c) for c in population]
    budget = max_tokens * CHARS_PER_TOKEN

    def score(c):
        tuned = (f", the best of {c.variants} variants of its constants"
                 if c.variants > 1 else "")
        if c.num_seeds > 1:
            return f"{c.score:.3g} ± {c.std:.2g} over {c.num_seeds} seeds{tuned}"
        return f"{c.score:.3g} (1 seed{tuned})"

    def line(c):
        name = f"candidate {c.index}"
        comps = ", ".join(c.components) or "none"
        if c.outside_total:
            comps += f" ({', '.join(c.outside_total)} not in the total)"
        if c.status == "trained":
            mark = "  <- best of this round" if c.index == best_index else ""
            text = f"- {name}: {score(c)}; components: {comps}{mark}"
            if c.behaviour:
                text += "\n  " + behaviour_text(c.behaviour)
            return text
        if c.status == "failed":
            where = (f" at checkpoint {c.failed_at}" if c.failed_at >= 0 else "")
            return f"- {name}: training went NaN/inf{where} (no score); components: {comps}"
        message = " ".join(str(c.message or "").split())
        return f"- {name}: rejected before training [{c.category}]: {message[:160]}"

    # the round's best first, then the other raced leaders (scored on fresh seeds), then the
    # one-seed scores (optimistic: the luck of that seed is in them), each by score
    trained = sorted((c for c in population if c.status == "trained"),
                     key=lambda c: (c.index != best_index, c.num_seeds < 2,
                                    -c.score))
    others = [c for c in population if c.status != "trained"]
    counts = {s: sum(c.status == s for c in population)
              for s in ("trained", "failed", "rejected")}
    raced = any(c.num_seeds > 1 for c in trained)
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
        scores = ", ".join(f"{c.score:.3g}" for c in rest if c.status == "trained")
        lines.append(f"- ... {len(rest)} more (scores {scores or 'none'})")
    best = next((c for c in population if c.index == best_index), None)
    if best is not None and parent_components is not None:
        # names only: a term that kept its name may compute something else, so no claim of
        # what was added, dropped or kept
        lines.append("Component names of this round's best: "
                     + (", ".join(best.components) or "none")
                     + "; of the reward shown to you for this round: "
                     + (", ".join(parent_components) or "none")
                     + " (names only: a term of the same name may compute something else).")
    if best is not None and best_so_far is not None and best.score <= best_so_far["score"]:
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


def _pm(mean: float, std: float | None, n: int) -> str:
    return f"{mean:.3g} ± {std:.2g} ({n} seeds)" if n > 1 and std is not None else \
        f"{mean:.3g} ({n} seed)"


def welch_interval(a, b, level: float = 0.95) -> tuple[float, float, float] | None:
    """mean(a) - mean(b) with its Welch t interval (unpaired: the rounds' seeds differ);
    None with fewer than two values on either side."""
    from scipy import stats

    a = np.asarray([x for x in a if x is not None and np.isfinite(x)], float)
    b = np.asarray([x for x in b if x is not None and np.isfinite(x)], float)
    if a.size < 2 or b.size < 2:
        return None
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(a.mean() - b.mean())
    se = float(np.sqrt(va + vb))
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return diff, diff - half, diff + half


def reference_text(reference: dict | None) -> str:
    """The baselines' scores at this budget, for the budget paragraph of every prompt."""
    if not reference:
        return ""
    parts = [f"the {label} reward scores {_pm(r['mean'], r.get('std'), r['n'])}"
             for label, r in (("task's human-written", reference.get("human")),
                              ("sparse", reference.get("sparse"))) if r]
    return ("Reference points at this budget (" + reference.get("source", "measured") + "): "
            + "; ".join(parts) + ". The sparse reward is the task score itself, with no "
            "shaping: a candidate scoring no higher than it gained nothing from its shaping.\n")


def history_text(rounds: list[dict], reference: dict | None = None) -> str:
    """The search's memory, as the LLM reads it after the round list: each round's best, and
    whether it is told apart from the best before it and from the sparse reward.

    Args:
      rounds: one dict per finished round, in order: ``round``, ``score`` (its best's mean,
        None when nothing trained), ``std``, ``seed_scores`` (the best's score per seed).
      reference: ``{"human": {...}, "sparse": {...}, "source"}`` with each baseline's
        ``mean``, ``std`` and ``n`` at this budget (``references.lookup``).
    """
    lines = []
    sparse = (reference or {}).get("sparse")
    if rounds:
        lines.append("History of this search (each round's best, mean ± std over its seeds):")
        best = None  # the best round before each
        for r in rounds:
            if r.get("score") is None:
                lines.append(f"- round {r['round']}: no candidate trained to a score")
                continue
            text = f"- round {r['round']}: {_pm(r['score'], r.get('std'), len(r['seed_scores']))}"
            if sparse is not None:
                text += (" (above the sparse reward's " if r["score"] > sparse["mean"] else
                         " (not above the sparse reward's ") + f"{sparse['mean']:.3g})"
            if best is not None:
                d = welch_interval(r["seed_scores"], best["seed_scores"])
                if d is None:
                    text += (f"; vs the best before it (round {best['round']}, "
                             f"{best['score']:.3g}): too few seeds to tell apart")
                else:
                    verdict = ("better" if d[1] > 0 else "worse" if d[2] < 0
                               else "not distinguishable within noise")
                    text += (f"; vs the best before it (round {best['round']}, "
                             f"{best['score']:.3g}): {d[0]:+.3g} [95% interval {d[1]:+.3g}, "
                             f"{d[2]:+.3g}], {verdict}")
            lines.append(text)
            if best is None or r["score"] > best["score"]:
                best = r
    return "\n".join(lines) + "\n" if lines else ""
