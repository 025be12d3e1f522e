"""How many interleaved rounds a run makes: a fixed count, or ``auto`` (the default of ``facebench run``).

``auto`` repeats rounds until every case's 95% interval of its median wall time is within +-5% of
the median (``TARGET``), or until the time budget would run out: a round is started only if the
rounds so far, at their average pace, say it ends within the budget, and the first round always
runs. It makes at least ``AUTO_MIN_ROUNDS`` (7) before judging: 6 are the fewest that give a median
an interval, 7 also give the speedup one (bench/analysis/statistics.py), and the speedup is what the
run's answer is about. The budget counts the measured rounds only (not the warm-up nor the training),
and a resumed run goes on from what its manifest says was spent.
"""

from __future__ import annotations

import pandas as pd

from bench.analysis.statistics import MIN_REPEATS_SPEEDUP, interval_widths

AUTO = "auto"
TARGET = 0.05
AUTO_MIN_ROUNDS = MIN_REPEATS_SPEEDUP
# The README's main job (synthetic:120, four executors at 1..2 workers, then a short training) in
# about 5 minutes on 2 cores: a round there takes about 30 s, so 7 rounds fit in 240 s.
DEFAULT_BUDGET_S = 240.0


class Rounds:
    """The stopping rule of one run, and what it decided (``to_json``, for the manifest)."""

    def __init__(self, repeats: int | str, budget_s: float, recorded: dict | None = None) -> None:
        self.repeats = repeats
        self.budget_s = budget_s
        recorded = recorded or {}
        self.spent_s = float(recorded.get("spent_s", 0.0))  # measured rounds, before a resume too
        self.rounds = int(recorded.get("rounds", 0))
        self.stopped: str | None = None  # "converged" or "budget"
        self.unsettled: dict[str, float] = {}  # auto, stopped by the budget: case -> interval width

    def another(self, repeat: int, runs: pd.DataFrame) -> bool:
        """Whether to start round ``repeat`` (0-based), given the runs table so far."""
        if self.repeats != AUTO:
            return repeat < int(self.repeats)
        if repeat == 0:
            return True
        widths = interval_widths(runs)
        if repeat >= AUTO_MIN_ROUNDS and bool((widths <= TARGET).all()):
            self.stopped = "converged"
            return False
        if self.spent_s + self.spent_s / max(repeat, 1) > self.budget_s:
            self.stopped = "budget"
            self.unsettled = {c: w for c, w in widths.items() if not w <= TARGET}
            return False
        return True

    def ended(self, seconds: float) -> None:
        """A round ended after ``seconds``."""
        self.spent_s += seconds
        self.rounds += 1

    def to_json(self) -> dict:
        return {
            "asked": self.repeats,
            "budget_s": self.budget_s if self.repeats == AUTO else None,
            "target": TARGET if self.repeats == AUTO else None,
            "rounds": self.rounds,
            "spent_s": self.spent_s,
            "stopped": self.stopped,
            "unsettled": self.unsettled,
        }

    def note(self) -> str | None:
        """One line when the budget stopped an auto run: which cases did not reach the target."""
        if self.stopped != "budget":
            return None
        if not self.unsettled:
            return (
                f"the time budget ({self.budget_s:g} s) stopped the repeats after {self.rounds} round(s): "
                f"every case is within +-{TARGET:.0%}, but the speedup's interval needs "
                f"{AUTO_MIN_ROUNDS} rounds; give --budget SECONDS for more rounds, or --repeats N"
            )
        cases = ", ".join(
            f"{case} ({'no interval yet' if pd.isna(w) else f'+-{w:.0%}'})"
            for case, w in self.unsettled.items()
        )
        return (
            f"the time budget ({self.budget_s:g} s) stopped the repeats after {self.rounds} round(s) before "
            f"every case's 95% interval was within +-{TARGET:.0%} of its median: {cases}; give --budget "
            f"SECONDS for more rounds, or --repeats N"
        )
