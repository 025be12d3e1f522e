"""What a reader needs to judge a run's figures: the machine, the software, the code's version."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import psutil

PACKAGES = (
    "facebench",
    "dlib-bin",
    "face-recognition-models",
    "opencv-python-headless",
    "numpy",
    "pandas",
    "pyarrow",
    "dask",
    "distributed",
    "lithops",
    "ibm-cos-sdk",
    "moto",
    "tensorflow-cpu",
    "tensorflow",
)


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo; empty where there is none (not Linux)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_signature() -> str | None:
    """Family, model and stepping: cloud VMs name every host "Intel(R) Xeon(R) Processor", yet hosts of
    different generations differ in speed, and a run's figures belong to its host (docs/benchmarks.md)."""
    info = _cpuinfo()
    if not {"cpu family", "model", "stepping"} <= info.keys():
        return None
    simd = [f for f in ("avx2", "avx512f", "amx_tile") if f in info.get("flags", "").split()]
    return f"family {info['cpu family']} model {info['model']} stepping {info['stepping']}; {' '.join(simd)}"


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def provenance(argv: list[str] | None = None) -> dict:
    """What a committed benchmark result names: the command as run, the commit, the machine."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    commit = git_commit()
    return {
        "command": " ".join([Path(sys.argv[0]).as_posix(), *args]),
        "commit": commit[:7] if commit else None,
        "machine": describe(),
    }


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def vcpu_count() -> int:
    """The vCPUs this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def describe() -> dict:
    return {
        "cpu_model": cpu_model(),
        "cpu_signature": cpu_signature(),
        "cpu_count": os.cpu_count(),
        "vcpus_usable": vcpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "hostname": platform.node(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "git_commit": git_commit(),
    }
