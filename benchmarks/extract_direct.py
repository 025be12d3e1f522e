"""Extract published direct invocations into results/published/direct_{jobs,calls}.csv.

The source is the data of "Benchmarking Parallelism in FaaS Platforms" (Barcelona-Pons and
García-López, 2020; github.com/danielBCN/faas-parallelism-benchmark): a client fires N synchronous
invocations at once (N = 1 to 200) of a Python function in the provider's own runtime that computes
pi from 5,000,000 random points, at 256 MB (``work``) and 2,048 MB (``work2g``), on AWS Lambda
(us-east-1) and IBM Cloud Functions (us-east), with fresh functions and with warm ones
(``*_warm``, IBM only). Each result file holds one record per call: the client's send and receive
times, the function's own start, end and duration, and the platform's cold-start sign (IBM: the
``initTime`` annotation OpenWhisk sets on a cold activation; AWS: the microVM's ``/proc/uptime``,
under 60 s for one booted for the call). Nothing here is typed by hand.

    python benchmarks/extract_direct.py /path/to/danielBCN+faas-parallelism-benchmark/repo

The jobs are kept apart from results/published/{jobs,tasks}.csv: the price book is calibrated on
none of them (bench/model/published.py, validate_direct).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

REPO = "danielBCN/faas-parallelism-benchmark"
OUT = Path(__file__).resolve().parents[1] / "results" / "published"
PLATFORMS = {"aws": ("aws_lambda", "us-east-1"), "ibm": ("ibm_cloud_functions", "us-east")}
#: experiment name -> function memory (MB) and whether the functions were warmed first
EXPERIMENTS = {"work": (256, False), "work_warm": (256, True), "work2g": (2048, False)}
EXPERIMENTS["work2g_warm"] = (2048, True)
SIZES = (1, 10, 50, 100, 200)
COLD_UPTIME_S = 60.0


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _records(text: str) -> list[dict]:
    """The result files are JSON objects each followed by a comma, no brackets."""
    body = text.strip().rstrip(",")
    return json.loads(f"[{body}]") if body else []


def _cold(folder: str, record: dict) -> bool:
    if folder == "ibm":
        return (record.get("init_time") or 0) > 0
    return float(record["func_data"]["uptime"]) < COLD_UPTIME_S


def extract(repo: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per job and one per call, client times in seconds from the job's first send."""
    files = set(_git(repo, "ls-tree", "-r", "--name-only", "HEAD").split())
    jobs, calls = [], []
    for folder, (platform, region) in PLATFORMS.items():
        for name, (memory, warmed) in EXPERIMENTS.items():
            for size in SIZES:
                path = f"{folder}/run-experiment/results/{name}_size={size}.json"
                if path not in files:
                    continue
                commit = _git(repo, "log", "-1", "--format=%H", "--", path).strip()
                records = _records(_git(repo, "show", f"{commit}:{path}"))
                t0 = min(r["pystart_ms"] for r in records)
                date = datetime.fromtimestamp(t0 / 1000, tz=UTC).date().isoformat()  # when it ran
                job_id = f"{folder}-{name.replace('_', '-')}-{size}"
                for i, r in enumerate(records):
                    calls.append(
                        {
                            "job_id": job_id,
                            "call": i,
                            "seconds": r["func_data"]["duration_ms"] / 1000,
                            "cold_start": _cold(folder, r),
                            "send_s": (r["pystart_ms"] - t0) / 1000,
                            "receive_s": (r["pyend_ms"] - t0) / 1000,
                        }
                    )
                jobs.append(
                    {
                        "job_id": job_id,
                        "platform": platform,
                        "region": region,
                        "runtime": "native",
                        "memory_mb": memory,
                        "warmed": warmed,
                        "calls": len(records),
                        "end_to_end_s": (max(r["pyend_ms"] for r in records) - t0) / 1000,
                        "date": date,
                        "source": f"https://github.com/{REPO}/blob/{commit}/{path}",
                        "repo": REPO,
                        "path": path,
                        "commit": commit,
                    }
                )
    return pd.DataFrame(jobs), pd.DataFrame(calls)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: extract_direct.py PATH_TO_REPO", file=sys.stderr)
        return 2
    jobs, calls = extract(Path(argv[0]))
    OUT.mkdir(parents=True, exist_ok=True)
    jobs.to_csv(OUT / "direct_jobs.csv", index=False)
    calls.to_csv(OUT / "direct_calls.csv", index=False, float_format="%.4f")
    print(f"{len(jobs)} jobs, {len(calls)} calls -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
