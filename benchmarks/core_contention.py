"""How much slower is one worker's kernel when N run at once? The machine's own ceiling, no harness.

N spawned processes each run the same images through the kernel (or only dlib's HOG detector, about
nine tenths of it), released together by a barrier after their models and images are loaded: no
dispatch, no store, no recording, no cold start inside the clock. The per-image time at N workers
against one worker bounds the parallel efficiency that any executor can reach on this machine; what an
executor loses beyond that is its own. On a VM whose vCPUs are hyperthreads, or whose clock drops as
more cores turn busy, the bound is well under 1.

    python benchmarks/core_contention.py                            # kernel, synthetic faces, 1..cores
    python benchmarks/core_contention.py --stage detect --workers 1,2,4,8,16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

from bench.run.contention import per_image_s
from pipelines.datasets import load_dataset


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="synthetic:48")
    parser.add_argument("--list", default=None, help="list file, as for facebench run")
    parser.add_argument("--images", type=int, default=48, help="images each worker runs")
    parser.add_argument("--stage", choices=("kernel", "detect"), default="kernel")
    parser.add_argument("--workers", default=None, help="comma-separated (default 1..cores)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset, args.list)
    blobs = [(dataset.root / key).read_bytes() for key in dataset.keys[: args.images]]
    cores = os.cpu_count() or 1
    levels = [int(w) for w in args.workers.split(",")] if args.workers else list(range(1, cores + 1))
    rows, base = [], None
    print(f"{args.stage}, {len(blobs)} images per worker, {cores} cores, median of {args.repeats} repeats")
    print(f"{'workers':>7} {'ms/image':>9} {'slowdown':>9} {'efficiency bound':>17}")
    for workers in levels:
        runs = [statistics.mean(per_image_s(args.stage, blobs, workers)) for _ in range(args.repeats)]
        ms = 1000 * statistics.median(runs)
        base = base or ms
        rows.append(dict(stage=args.stage, workers=workers, cores=cores, ms_per_image=ms, slowdown=ms / base))
        print(f"{workers:>7} {ms:>9.2f} {ms / base:>9.3f} {base / ms:>17.3f}", flush=True)
    if args.json:  # with what made it, as versus_pool.py records it
        import subprocess
        import sys

        from bench.run.environment import describe

        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        out = {"command": " ".join(sys.argv), "commit": commit.stdout.strip(), "machine": describe(),
               "images_per_worker": len(blobs), "repeats": args.repeats, "rows": rows}  # fmt: skip
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
