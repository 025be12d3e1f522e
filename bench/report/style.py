"""How every figure looks: the ``Plot`` it returns, its blank canvas, its style and its colours.

The figures are built without pyplot (``matplotlib.figure.Figure``), so they work under any backend,
leave no global figure state behind, and are safe headless; the report saves them with Agg. A figure
whose data the run does not hold is still a ``Plot``: a small one that says what is absent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import NamedTuple

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bench.executors import BUILTIN

_ABSENT = "absent"


class Plot(NamedTuple):
    """A figure and its one-line caption; ``fig, caption = plots.speedup(...)`` unpacks it."""

    figure: Figure
    caption: str

    @property
    def absent(self) -> bool:
        """True when the data for this figure is not in the run and the figure only says so."""
        return self.figure.get_label() == _ABSENT


def _order_key(executor: str) -> int:
    return list(BUILTIN).index(executor) if executor in BUILTIN else len(BUILTIN)


def _colours(executors: Iterable[str]) -> dict[str, tuple]:
    """The same colour for an executor in every figure."""
    palette = sns.color_palette("colorblind", 10)
    known = {name: palette[i] for i, name in enumerate(BUILTIN)}
    extra = sorted(e for e in executors if e not in known)
    known.update({e: palette[(len(BUILTIN) + i) % 10] for i, e in enumerate(extra)})
    return known


def _new_figure(width: float = 7.5, height: float = 4.5) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _styled(draw: Callable[..., Plot]) -> Callable[..., Plot]:
    """Run a drawing function under seaborn's style without touching the global rcParams for good."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> Plot:
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.85):
            return draw(*args, **kwargs)

    return wrapper


def _absent(title: str, message: str, caption: str) -> Plot:
    fig = Figure(figsize=(7.5, 1.6), layout="constrained")
    fig.set_label(_ABSENT)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title, loc="left")
    ax.text(0.0, 0.5, message, ha="left", va="center", wrap=True, transform=ax.transAxes)
    return Plot(fig, caption)


def _empty_runs(runs: pd.DataFrame, what: str) -> Plot | None:
    if runs.empty:
        return _absent(what, "This run has no finished cases.", f"{what}: the run has no finished cases.")
    return None
