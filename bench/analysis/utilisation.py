"""How the workers' time was used, from the workers' own clocks in the tasks table.

``tail_idle_s`` is the worker-seconds left idle at the end of a case: every slot that finished its
last image before the case's last image ended waited for it. It is the part of the dispatch
overhead that smaller chunks near the end (bench/executors/chunking.py) are there to remove.
"""

from __future__ import annotations

import pandas as pd


def tail_idle_s(tasks: pd.DataFrame, workers: int) -> float:
    """Worker-seconds idle at the tail of one case and repeat (a slot that ran nothing counts whole)."""
    ran = tasks[tasks["worker"].notna() & (tasks["worker"].astype(str) != "")]
    if ran.empty:
        return 0.0
    end = float(ran["t_end"].max())
    last = ran.groupby("worker")["t_end"].max()
    unused = max(0, workers - len(last)) * (end - float(ran["t_submit"].min()))
    return float((end - last).clip(lower=0).sum()) + unused
