"""facebench data and facebench s3: staging a dataset into a store, fetching LFW, an S3 endpoint on
loopback."""

from __future__ import annotations

import argparse

from bench.errors import UserError


def add_data_parser(sub) -> None:
    data = sub.add_parser("data", help="stage a dataset into object storage; fetch LFW")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    stage = data_sub.add_parser("stage", help="upload a dataset as one object per image (idempotent)")
    stage.add_argument("--dataset", default="synthetic", help="synthetic[:N] or an LFW-layout folder")
    stage.add_argument("--list", help="file of image paths relative to the dataset folder, one per line")
    stage.add_argument("--store", required=True, help="s3://bucket/prefix (or a folder)")
    stage.add_argument("--endpoint", help="S3 endpoint URL (default AWS S3); credentials: the environment")
    stage.add_argument("--threads", type=int, default=16, help="parallel uploads (default 16)")
    stage.add_argument("--no-progress", action="store_true", help="no progress bar")
    stage.set_defaults(func=cmd_data_stage)
    fetch = data_sub.add_parser("fetch", help="download an LFW archive, check it, cache it, unpack it")
    fetch.add_argument(
        "source", help="lfw, lfw-funneled or lfw-deepfunneled, an http(s) URL, or a local .tgz file"
    )
    fetch.add_argument("--to", default="data", help="folder that receives the dataset folder (default data)")
    fetch.add_argument("--sha256", help="expected SHA-256 of the archive (known for the published ones)")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    fetch.set_defaults(func=cmd_data_fetch)


def add_s3_parser(sub) -> None:
    s3 = sub.add_parser("s3", help="an S3-compatible endpoint on loopback (moto), for offline runs")
    s3_sub = s3.add_subparsers(dest="s3_command", required=True)
    serve = s3_sub.add_parser("serve", help="serve S3 on 127.0.0.1 until Ctrl-C")
    from bench.stores.embedded import add_serve_arguments

    add_serve_arguments(serve)
    serve.set_defaults(func=cmd_s3_serve)


def cmd_data_stage(args: argparse.Namespace) -> int:
    from bench.stores import open_store
    from bench.stores.plan import EMBEDDED
    from bench.stores.staging import stage_dataset
    from pipelines.datasets import DatasetError, load_dataset

    if args.store.startswith(EMBEDDED):
        raise UserError(
            f"{EMBEDDED} lives for one run only; to stage into an endpoint that stays up, start "
            "`facebench s3 serve` and use --store s3://facebench/PREFIX --endpoint http://127.0.0.1:9000"
        )
    try:
        dataset = load_dataset(args.dataset, args.list)
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    store = open_store(args.store, args.endpoint, check=True)
    stage_dataset(dataset, store, threads=args.threads, progress=not args.no_progress)
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from bench.stores.fetch import fetch_archive

    folder = fetch_archive(args.source, args.to, args.sha256, progress=not args.no_progress)
    print(folder)
    return 0


def cmd_s3_serve(args: argparse.Namespace) -> int:
    from bench.stores import embedded as s3server

    buckets = args.bucket or [s3server.DEFAULT_BUCKET]

    def announce(endpoint: str) -> None:
        print(f"S3 endpoint {endpoint}, bucket(s) {', '.join(buckets)}", flush=True)
        print(f"emulated latency: {args.latency_ms:g} ms per request; objects live in memory only")
        where = f"--store s3://{buckets[0]}/synthetic --endpoint {endpoint}"
        print(f"  facebench data stage --dataset synthetic {where}")
        print(f"  facebench run --dataset synthetic {where}")
        print("Ctrl-C stops it.", flush=True)

    try:
        s3server.serve(args.port, args.latency_ms, buckets, announce)
    except KeyboardInterrupt:
        print("stopped")
    return 0
