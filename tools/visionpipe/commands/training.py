"""`visionpipe training upload-source`: put the script-mode training code where rounds find it."""

from __future__ import annotations

import argparse

import boto3

from visionpipe.detector_model.source import SOURCE_KEY, upload_source


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "training",
        help="the retraining job's code (SageMaker script mode)",
        description="Uploads sourcedir.tar.gz (train_hog.py, train_ssd.py and the packages they import) "
        "to the model bucket; every round's training job names it in sagemaker_submit_directory. Run it "
        "once after each deploy that changes the training code.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    upload = actions.add_parser("upload-source", help="upload sourcedir.tar.gz to the model bucket")
    upload.add_argument("--bucket", required=True, help="ModelBucketName from the stack outputs")
    upload.add_argument("--key", default=SOURCE_KEY, help=f"object key (default {SOURCE_KEY})")
    upload.add_argument("--endpoint-url", help="S3 endpoint (the local stack's, or AWS's by default)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    s3 = boto3.client("s3", endpoint_url=args.endpoint_url)
    print(f"uploaded {upload_source(s3, args.bucket, args.key)}")
    return 0
