"""What the commands print: the search's live view and the final evaluation."""

from __future__ import annotations

from rich.table import Table

from eureka_jax.cli.common import console


class SearchView:
    """A rich live view of a search in a terminal; plain progress lines otherwise."""

    def __init__(self, usage):
        self.usage, self.search, self.lines, self.live = usage, None, [], None

    def __enter__(self):
        if console.is_terminal:
            from rich.live import Live

            self.live = Live(self._render(), console=console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)

    def log(self, line: str) -> None:
        self.lines = (self.lines + [line])[-8:]
        if self.live is None:
            print(line, flush=True)
        else:
            self.live.update(self._render())

    def _render(self):
        from rich.console import Group
        from rich.text import Text

        status = self.search.status if self.search else {}
        table = Table(show_header=False, box=None)
        sps = status.get("env_steps_per_s")
        best = status.get("best")
        candidates = (f"{status.get('proposed', 0)} proposed, {status.get('compiled', 0)} "
                      f"compiled, {status.get('failed', 0)} failed")
        tokens = self.usage.text().removeprefix("tokens: ")
        for key, value in (
            ("round", status.get("round", "-")),
            ("now", status.get("phase", "starting")),
            ("candidates", candidates),
            ("training", "-" if sps is None else f"{sps:,.0f} env steps/s (last round)"),
            ("best fitness", "-" if best is None else f"{best:.3f}"),
            ("tokens", tokens),
        ):
            table.add_row(Text(key, style="bold"), str(value))
        return Group(table, Text("\n".join(self.lines), style="dim"))


def print_evaluation(evaluation) -> None:
    from eureka_jax.evaluate import format_difference, format_hns

    table = Table(title=f"final evaluation ({evaluation.num_eval} fresh seeds): "
                  f"{evaluation.statistic}")
    table.add_column("reward")
    table.add_column("per seed", overflow="fold")
    table.add_column("mean ± std", justify="right")
    for label, r in evaluation.rewards.items():
        cells = ", ".join("failed" if v is None else f"{v:.3f}" for v in r["fitness_per_seed"])
        mean = "-" if r["mean"] is None else f"{r['mean']:.3f} ± {r['std']:.3f}"
        table.add_row(label, cells, mean)
    console.print(table)
    for difference, text in ((evaluation.best_minus_human, "best − human"),
                             (evaluation.best_minus_sparse, "best − sparse")):
        print(f"{text}: {format_difference(difference)}")
    print("human-normalized score: " + format_hns(evaluation))
