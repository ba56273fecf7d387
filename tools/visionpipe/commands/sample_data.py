"""`visionpipe sample-data OUT`: synthetic normal and defective parts plus an inspection video."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample-data",
        help="generate sample images (normal and defective parts) and an inspection video",
        description="Writes OUT/normal/ (defect-free brushed-steel parts, .jpg and .png), "
        "OUT/anomalous/<kind>_NNN.jpg (scratch, dent, stain, crack; some subtle), OUT/video/*.mp4 "
        "(the part panning under the camera, defects passing by) and OUT/manifest.json "
        "(every file -> label, kind and details). Same seed, same files.",
    )
    parser.add_argument("out", help="output folder (created if missing)")
    parser.add_argument("--normal", type=int, default=200, help="number of normal images (default 200)")
    parser.add_argument("--anomalous", type=int, default=60, help="number of anomalous images (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--no-video", action="store_true", help="skip the video")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from visionpipe.sample_data import generate

    if args.normal < 0 or args.anomalous < 0:
        print("visionpipe sample-data: error: --normal and --anomalous must be >= 0", file=sys.stderr)
        return 2
    started = time.perf_counter()
    manifest = generate(
        args.out, normal=args.normal, anomalous=args.anomalous, seed=args.seed, video=not args.no_video
    )
    kinds = Counter(item["kind"] for item in manifest["files"].values() if item["label"] == "anomalous")
    print(
        f"{args.normal} normal and {args.anomalous} anomalous images in {args.out} "
        f"({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items())) or 'no defects'})"
    )
    for name, item in manifest["files"].items():
        if item["label"] == "video":
            codecs = item["codec"] + (f" + {item['audio']}" if item["audio"] else "")
            timing = f"{item['duration_s']:.1f} s, {item['frame_count']} frames at {item['fps']} fps"
            print(f"video {name}: {timing}, {codecs}")
    print(f"manifest {Path(args.out) / 'manifest.json'} ({time.perf_counter() - started:.1f} s)")
    return 0
