"""Where a facebench run's CPU time goes, from a py-spy profile of it (``benchmarks/profile.sh``).

py-spy samples every process of the run (the client and its workers) and writes collapsed stacks, one
line per distinct stack with its sample count. Each sample is put in one bucket by the deepest frame
that belongs to the project: a line of the kernel (``pipelines/``) names a kernel stage, a line of the
harness (``bench/``) names the harness's own work, and a stack with neither is the interpreter,
imports, or a library's own threads. Shares are of all samples, so the client's and the workers'
CPU time add up.

    python benchmarks/profile_summary.py results/profile/seed-processes.txt
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (file suffix, function) -> bucket, tried on each frame from the deepest out; first match wins.
KERNEL_BUCKETS = {
    "align:detect": "kernel: detect (dlib HOG)",
    "align:landmarks": "kernel: landmarks (68-point predictor)",
    "align:warp": "kernel: warp",
    "Aligner.__init__": "kernel: model load",
    "decode": "kernel: decode",
    "_encode": "kernel: encode",
}
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")


def _align_stage(line: int, source: list[str]) -> str:
    """Which stage of Aligner.align a line number is in, from the timing assignments that end each."""
    text = "".join(source[line - 1 : line + 40])
    found = {stage: text.find(f'timings["{stage}"]') for stage in ("detect", "landmarks", "warp")}
    found = {stage: at for stage, at in found.items() if at >= 0}
    return min(found, key=found.get) if found else "warp"


def bucket(frames: list[str], sources: dict[str, list[str]]) -> str:
    for frame in reversed(frames):
        match = FRAME.match(frame.strip())
        if not match:
            continue
        func, file, line = match["func"], match["file"], int(match["line"] or 0)
        if "/pipelines/" in f"/{file}":
            name = func.split(".")[-1]
            if name == "align" and file in sources:
                return KERNEL_BUCKETS[f"align:{_align_stage(line, sources[file])}"]
            for key, label in KERNEL_BUCKETS.items():
                if func.endswith(key) or name == key:
                    return label
            continue  # the kernel's glue (process, _run): look at the caller's frame for more
        if "/bench/" in f"/{file}":
            module = file.rsplit("/", 1)[-1].removesuffix(".py")
            return f"harness: {module}.{func.split('.')[-1]}"
    return "interpreter, imports, library threads"


def summarize(path: str, top: int = 20) -> list[tuple[str, int, float]]:
    counts: Counter[str] = Counter()
    sources: dict[str, list[str]] = {}
    lines = Path(path).read_text().splitlines()
    for raw in lines:
        stack, _, n = raw.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        for frame in frames:
            match = FRAME.match(frame.strip())
            if match and "/pipelines/" in f"/{match['file']}" and match["file"] not in sources:
                try:
                    sources[match["file"]] = Path(match["file"]).read_text().splitlines(keepends=True)
                except OSError:
                    sources[match["file"]] = []
        counts[bucket(frames, sources)] += int(n)
    total = sum(counts.values()) or 1
    return [(name, n, n / total) for name, n in counts.most_common(top)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="py-spy --format raw output")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    rows = summarize(args.profile, args.top)
    total = sum(n for _, n, _ in rows)
    print(f"{'share':>7} {'samples':>8}  bucket")
    for name, n, share in rows:
        print(f"{share:>7.1%} {n:>8}  {name}")
    print(f"{'':>7} {total:>8}  (top {len(rows)} buckets)")


if __name__ == "__main__":
    main()
