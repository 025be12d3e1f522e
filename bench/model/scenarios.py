"""Named scenarios: a published job rebuilt from what it documents, never fitted to its result.

``pattern-2019``: the code pattern's preprocessing as it ran. What the pattern documents: PyWren for
IBM Cloud (pywren-ibm-cloud 1.0.9) with remote invocation (the client invokes one function, which
invokes the 1,584 image calls from inside the cloud: 1,585 activations), the dlib Docker runtime,
256 MB functions, the 68-point predictor downloaded from COS in every new container and the aligner
rebuilt in every call (the naive kernel, one image a call). What it runs on: the price book's IBM
Cloud Functions figures (limits as IBM published them; start latency, cold start of a custom Docker
runtime, storage round trips and bandwidth, polling as Lithops' published 2022 jobs measured them,
:mod:`bench.model.published`). The per-image service time is the naive kernel's, measured here.
The published 35 s is printed beside the prediction and used nowhere else.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.pattern import IMAGES, SERVERLESS_S
from bench.analysis.pricebook import PriceBook
from bench.model.calibration import Model
from bench.model.intervals import interval_text
from bench.model.platforms import platform_limits
from bench.model.workload import job_schedule

__all__ = ["SCENARIOS", "format_scenario", "pattern_2019"]

#: pywren-ibm-cloud 1.0.9 (github.com/lithops-cloud/lithops, commit e61d63b4, 2019-04-17):
#: executor.map(invoke_pool_threads=128, remote_invocation_groups=100), wrenconfig.py
#: RUNTIME_MEMORY_DEFAULT = 256, wait.py WAIT_DUR_SEC = 2.
PYWREN_1_0_9 = {"invoke_threads": 128, "memory_mb": 256, "poll_interval_s": 2.0}
#: shape_predictor_68_face_landmarks.dat as face-recognition-models 0.3.0 ships it (bytes).
PREDICTOR_BYTES = 99_693_937
ACTIVATIONS = IMAGES + 1  # the remote invoker and one call per image


def pattern_2019(model: Model, book: PriceBook, *, draws: int = 40, seed: int = 0) -> dict:
    """The pattern's 1,584 images on 256 MB IBM Cloud Functions, with the naive kernel's service time
    from ``model``; two CPU shares (the book's memory weight on a busy host, a whole core on an idle
    one), the first the prediction, the second a bound."""
    dist = model.dist("naive")
    base = platform_limits(book, "ibm_cloud_functions", PYWREN_1_0_9["memory_mb"])
    platform = replace(base, poll_interval_s=PYWREN_1_0_9["poll_interval_s"])
    # the remote invoker: invoked by the client, starts cold, downloads its function, sets up the job
    offset = platform.start_latency_s + platform.cold_start_s + platform.storage_in_s + platform.job_setup_s
    download_s = PREDICTOR_BYTES / 1e6 / platform.storage_mb_per_s
    image_io_s = (platform.storage_in_s + platform.storage_out_s) / 2  # one GET of the image, one PUT
    rows = []
    # at its concurrency the job fills its hosts: each function gets its CPU weight (Platform.share_at)
    busy = platform.share_at(platform.concurrency_cap - 1)
    shares = {"host busy: CPU weight": busy, "host idle: a whole core": platform.cpu_share_idle}
    for label, share in shares.items():
        rng = np.random.default_rng(seed)
        walls = []
        for _ in range(draws):
            compute = dist.resampled(rng).sample(IMAGES, rng)[0]
            job = job_schedule(
                compute / share + image_io_s,
                platform.concurrency_cap - 1,
                platform,
                rng,
                new_container_s=download_s,
                offset_s=offset,
                client_limit=(PYWREN_1_0_9["invoke_threads"], platform.invoke_latency_s),
            )
            walls.append(job.wall_s)
        rows.append(
            {
                "scenario": "pattern-2019",
                "cpu": label,
                "cpu_share": round(share, 4),
                "activations": ACTIVATIONS,
                "memory_mb": PYWREN_1_0_9["memory_mb"],
                "predicted_wall_s": float(np.median(walls)),
                "predicted_wall_s_low": float(np.quantile(walls, 0.05)),
                "predicted_wall_s_high": float(np.quantile(walls, 0.95)),
                "published_s": SERVERLESS_S,
                "rel_error": (float(np.median(walls)) - SERVERLESS_S) / SERVERLESS_S,
            }
        )
    terms = {
        "naive service time per image, median (s, one core here)": float(np.median(dist.compute_s)),
        "remote invoker before the first image call (s)": offset,
        "invocation pool threads (remote invoker)": PYWREN_1_0_9["invoke_threads"],
        "invocation request (s)": platform.invoke_latency_s,
        "start latency, warm (s)": platform.start_latency_s,
        "cold start, custom Docker runtime (s)": platform.cold_start_s,
        "predictor download per new container (s)": download_s,
        "storage round trips per call (s)": platform.storage_in_s + platform.storage_out_s + 2 * image_io_s,
        "concurrency cap (waves beyond it)": platform.concurrency_cap,
        "after the last call: poll, check, fetch (s, mean)": platform.poll_interval_s / 2
        + platform.status_check_s
        + platform.result_fetch_s
        + platform.job_setup_s,
    }
    return {"rows": pd.DataFrame(rows), "terms": terms, "sources": platform.sources}


SCENARIOS = {"pattern-2019": pattern_2019}


def format_scenario(result: dict, run_dir: Path) -> str:
    """``facebench project --scenario``'s text: the prediction and the bound, then every term used."""
    rows = result["rows"]
    shown = rows.assign(
        wall_s_5_95=interval_text(rows, "predicted_wall_s"),
        rel_error=rows["rel_error"].map(lambda v: f"{v:+.0%}"),
    )
    cols = ["scenario", "cpu", "cpu_share", "wall_s_5_95", "published_s", "rel_error"]
    lines = [shown[cols].to_string(index=False)]
    lines.append(f"\nnaive service time from {run_dir}; the first row is the prediction, the second a bound")
    for name, value in result["terms"].items():
        lines.append(f"  {name}: {value:.3g}" if isinstance(value, float) else f"  {name}: {value}")
    lines += [f"  {line}" for line in result["sources"]]
    return "\n".join(lines)
