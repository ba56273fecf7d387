"""`visionpipe upload IMAGE ...`: put images into the stack's image bucket and print each verdict.

Each image goes to image_inputs/<file name> of the ImageBucketName output; the verdict is the
ResultsTable item for that upload (found through the ImageIndex by file name), waited for.
Works against the local stack (--outputs from `visionpipe local outputs`) and a deployed one
(--stack-name).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from boto3.dynamodb.conditions import Key

from visionpipe.stack_outputs import UserError, add_stack_options, resolve

PREFIX = "image_inputs/"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upload",
        help="upload images to the stack and print each verdict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help=".jpg, .jpeg or .png files")
    add_stack_options(parser)
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait per verdict (default 60)"
    )
    parser.set_defaults(func=run)


def wait_for_verdict(table, name: str, key: str, version: str | None, timeout: float) -> dict | None:
    deadline = time.monotonic() + timeout
    while True:
        items = table.query(IndexName="ImageIndex", KeyConditionExpression=Key("Image").eq(name))["Items"]
        mine = [i for i in items if i.get("Key") == key and (not version or i.get("VersionId") == version)]
        if mine:
            return max(mine, key=lambda i: i["Date"])
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        raise UserError(f"no such file: {', '.join(missing)}")
    stack = resolve(args)
    bucket = stack.require("ImageBucketName")
    table = stack.resource("dynamodb").Table(stack.require("ResultsTableName"))
    s3 = stack.client("s3")
    late = 0
    for path in args.images:
        key = PREFIX + path.name
        put = s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        item = wait_for_verdict(table, path.name, key, put.get("VersionId"), args.timeout)
        if item is None:
            late += 1
            print(f"{path.name}: no verdict within {args.timeout:.0f} s (s3://{bucket}/{key})")
        elif item.get("Status") == "OK":
            verdict = "ANOMALOUS" if item.get("DetectAnomalyResult") == "True" else "normal"
            print(f"{path.name}: {verdict} (confidence {float(item['Confidence']):.2f}, {item['RequestID']})")
        else:
            print(f"{path.name}: {item.get('Status')}: {item.get('Reason', '')}")
    return 1 if late else 0
