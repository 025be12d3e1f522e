"""Extract published serverless map jobs into results/published/{jobs,tasks}.csv.

The source is Lithops' own published benchmark results (github.com/lithops-cloud/applications,
``benchmarks/flops`` and ``benchmarks/object_storage``): each job is a pickle written by the
benchmark script with the client's end-to-end ``total_time`` and Lithops' per-call ``stats``
(submission, start, function start and end, status and result times). Only the jobs on platforms
the model knows (IBM Cloud Functions, AWS Lambda) are taken; configuration (memory, region, date)
is read from the README beside each pickle and the benchmark scripts.

    python benchmarks/extract_published.py /path/to/lithops-cloud+applications/repo

The pickles are read with an unpickler that refuses every class: they hold plain dicts, lists and
numbers, and nothing else is loaded.
"""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = "lithops-cloud/applications"
OUT = Path(__file__).resolve().parents[1] / "results" / "published"

# (job_id, platform, storage, region, benchmark, folder under benchmarks/, file, date as the README states)
IBM, AWS = ("ibm_cloud_functions", "ibm_cos", "us-east"), ("aws_lambda", "s3", "eu-west-1")
COS, S3 = "object_storage/ibm_cos", "object_storage/aws_s3"
JOBS = [
    ("ibm-flops-100", *IBM, "flops", "flops/ibm_cf", "100_flops.pickle", "2022-06-13"),
    ("ibm-flops-1000", *IBM, "flops", "flops/ibm_cf", "1000_flops.pickle", "2022-06-13"),
    ("ibm-cos-write-100", *IBM, "storage-write", COS, "100_write.pickle", "2022-06-13"),
    ("ibm-cos-read-100", *IBM, "storage-read", COS, "100_read.pickle", "2022-06-13"),
    ("ibm-cos-write-1000", *IBM, "storage-write", COS, "1000_write.pickle", "2022-06-13"),
    ("ibm-cos-read-1000", *IBM, "storage-read", COS, "1000_read.pickle", "2022-06-13"),
    ("aws-flops-100", *AWS, "flops", "flops/aws_lambda", "100_flops.pickle", "2022-06-11"),
    ("aws-flops-1000", *AWS, "flops", "flops/aws_lambda", "1000_flops.pickle", "2022-06-11"),
    ("aws-s3-write-100", *AWS, "storage-write", S3, "100_write.pickle", "2022-06-10"),
    ("aws-s3-read-100", *AWS, "storage-read", S3, "100_read.pickle", "2022-06-10"),
    ("aws-s3-write-1000", *AWS, "storage-write", S3, "1000_write.pickle", "2022-06-10"),
    ("aws-s3-read-1000", *AWS, "storage-read", S3, "1000_read.pickle", "2022-06-10"),
]
#: Both benchmark scripts ran with 1,024 MB functions (their READMEs; os_benchmark.py hard-codes it).
MEMORY_MB = 1024


class _PlainOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> None:
        raise pickle.UnpicklingError(f"refused {module}.{name}: only plain data is read")


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def extract(repo: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per job and one per call, times in seconds from the job's start on the client."""
    jobs, tasks = [], []
    for job_id, platform, storage, region, bench, folder, name, date in JOBS:
        path, readme = f"benchmarks/{folder}/{name}", f"benchmarks/{folder}/README.md"
        commit = _git(repo, "log", "-1", "--format=%H", "--", path).decode().strip()
        data = _PlainOnly(io.BytesIO(_git(repo, "show", f"{commit}:{path}"))).load()
        t0, stats = float(data["start_time"]), data["worker_stats"]
        for i, s in enumerate(stats):
            tasks.append(
                {
                    "job_id": job_id,
                    "call": i,
                    "seconds": s["worker_func_exec_time"],
                    "cold_start": bool(s["worker_cold_start"]),
                    "submit_s": s["host_submit_tstamp"] - t0,
                    "start_s": s["worker_start_tstamp"] - t0,
                    "func_start_s": s["worker_func_start_tstamp"] - t0,
                    "func_end_s": s["worker_func_end_tstamp"] - t0,
                    "end_s": s["worker_end_tstamp"] - t0,
                    "status_done_s": s["host_status_done_tstamp"] - t0,
                    "result_done_s": s["host_result_done_tstamp"] - t0,
                }
            )
        jobs.append(
            {
                "job_id": job_id,
                "platform": platform,
                "storage": storage,
                "region": region,
                "benchmark": bench,
                "calls": len(stats),
                "chunk_size": 1,
                "memory_mb": MEMORY_MB,
                "end_to_end_s": round(float(data["total_time"]), 3),
                "date": date,
                "source": f"https://github.com/{REPO}/blob/{commit}/{path}",
                "repo": REPO,
                "path": path,
                "commit": commit,
                "config": f"https://github.com/{REPO}/blob/{commit}/{readme}",
            }
        )
    task_table = pd.DataFrame(tasks)
    for col in task_table.columns:
        if col.endswith("_s") or col == "seconds":
            task_table[col] = task_table[col].astype(float).round(4)
    return pd.DataFrame(jobs), task_table


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    jobs, tasks = extract(Path(argv[0]))
    OUT.mkdir(parents=True, exist_ok=True)
    jobs.to_csv(OUT / "jobs.csv", index=False)
    tasks.to_csv(OUT / "tasks.csv", index=False)
    print(jobs[["job_id", "calls", "end_to_end_s", "date"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
