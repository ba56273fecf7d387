"""`visionpipe dataset`: labelImg annotations -> SageMaker object-detection channels in S3."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3

from visionpipe.dataset.convert import DatasetError, convert_folder
from visionpipe.dataset.split import split_dataset
from visionpipe.dataset.upload import upload_channels
from visionpipe_common.retraining.annotations import InvalidAnnotation


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dataset",
        help="convert labelImg XML to SageMaker object-detection JSON, split, upload",
        description="labelImg (Pascal VOC XML) -> one SageMaker object-detection JSON per image -> "
        "train/validation split -> the four channels (train, validation, train_annotation, "
        "validation_annotation) under an S3 prefix.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    convert = actions.add_parser("convert", help="labelImg XML folder -> images/ + annotations/ + class map")
    convert.add_argument("source", type=Path, help="folder with labelImg .xml files (searched recursively)")
    convert.add_argument("--out", type=Path, required=True, help="output folder")
    convert.add_argument("--images", type=Path, help="folder holding the images (default: next to each XML)")
    convert.add_argument(
        "--class-map",
        type=Path,
        help="class map file to read and extend (default OUT/class_map.json); keeps ids stable",
    )
    convert.set_defaults(func=run_convert)

    split = actions.add_parser(
        "split", help="deterministic train/validation split into the four channel folders"
    )
    split.add_argument("converted", type=Path, help="the output folder of `dataset convert`")
    split.add_argument(
        "--out", type=Path, required=True, help="folder for train/, validation/, ..._annotation/"
    )
    split.add_argument(
        "--validation-fraction", type=float, default=0.1, help="share of images for validation"
    )
    split.add_argument("--seed", default="visionpipe", help="changes which images go to validation")
    split.set_defaults(func=run_split)

    upload = actions.add_parser("upload", help="upload the four channels (and class_map.json) to S3")
    upload.add_argument("channels", type=Path, help="the output folder of `dataset split`")
    upload.add_argument("--bucket", required=True, help="e.g. the stack's ModelBucketName")
    upload.add_argument("--prefix", default="datasets/base/", help="key prefix (default datasets/base/)")
    upload.add_argument("--endpoint-url", help="S3 endpoint (local mode)")
    upload.set_defaults(func=run_upload)


def _fail(exc: Exception) -> int:
    print(f"visionpipe dataset: error: {' '.join(str(exc).split())}", file=sys.stderr)
    return 2


def run_convert(args: argparse.Namespace) -> int:
    try:
        report = convert_folder(args.source, args.out, class_map_path=args.class_map, images_dir=args.images)
    except (DatasetError, InvalidAnnotation) as exc:
        return _fail(exc)
    print("\n".join(report.lines()))
    return 0


def run_split(args: argparse.Namespace) -> int:
    try:
        report = split_dataset(args.converted, args.out, args.validation_fraction, args.seed)
    except (DatasetError, InvalidAnnotation, ValueError) as exc:
        return _fail(exc)
    print("\n".join(report.lines()))
    print(f"num_training_samples: {report.num_training_samples}")
    return 0


def run_upload(args: argparse.Namespace) -> int:
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    try:
        report = upload_channels(s3, args.channels, args.bucket, args.prefix)
    except (DatasetError, InvalidAnnotation) as exc:
        return _fail(exc)
    print("\n".join(report.lines()))
    return 0
