"""`visionpipe device run`: the edge camera's detection loop on this machine.

The same loop the Greengrass component runs (visionpipe_edge, device/components/edge-detector),
fed from a camera index, a video file or a stream URL, writing the six detection objects to the
stack's detections bucket: --outputs FILE (`visionpipe local outputs > FILE`: the local stack's
endpoint and bucket), --stack-name (a deployed stack), --local-port, AWS_ENDPOINT_URL or --bucket.
Records that a core would publish to IoT Core are logged. The model folder defaults to the
shipped model component's (device/components/detector-model/model).
"""

from __future__ import annotations

import argparse
import os

from visionpipe_edge import cli as edge_cli

from visionpipe import components
from visionpipe.stack_outputs import LOCAL_CREDENTIALS, UserError, check_reachable, resolve

EPILOG = """examples:
  visionpipe device run --source 0 --outputs outputs.json --mjpeg-port 8080   # the local stack
  visionpipe device run --source demo.mp4 --interval 5 --stack-name visionpipe   # a deployed stack
  visionpipe device run --source rtsp://camera.local/stream --detector dnn --model-file ssd.onnx \\
      --labels thumbs-up --input-size 512x512 --output-format sagemaker --no-upload --mjpeg-port 8080

writes, per accepted detection (at most one per --interval):
  images/image_<D>_<T>.jpg, json/record_<D>_<T>.json, latest/latest.json,
  frames_resized/resized_<D>_<T>.jpg, raw_images/raw_<D>_<T>.jpg, training_annotation/raw_<D>_<T>.json
  (D = --device-name, T = UTC %Y%m%d-%H%M%S)"""


def register(subparsers: argparse._SubParsersAction) -> None:
    device = subparsers.add_parser(
        "device", help="run the edge camera's detection loop locally", description=__doc__.splitlines()[0]
    )
    actions = device.add_subparsers(dest="device_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="run the detection loop on a camera, video file or stream",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    edge_cli.add_options(run, model_dir=components.model_dir())
    stack = run.add_argument_group("which stack (instead of --bucket / --local-port)")
    stack.add_argument(
        "--outputs", help="`visionpipe local outputs > FILE`: its endpoint and DetectionsBucketName"
    )
    stack.add_argument("--stack-name", help="a deployed stack: its DetectionsBucketName output")
    run.set_defaults(func=run_device)


def run_device(args: argparse.Namespace) -> int:
    """The edge loop, aimed at the stack the options name; the bucket is checked before the loop starts."""
    if args.outputs or args.stack_name:
        if args.bucket or args.local_port:
            raise UserError("--outputs/--stack-name replace --bucket/--local-port: give one of them")
        stack = resolve(args)
        args.bucket = stack.require("DetectionsBucketName")
        args.endpoint_url = stack.endpoint_url
    elif args.local_port and not args.endpoint_url:
        args.endpoint_url = f"http://127.0.0.1:{args.local_port}"
    if args.no_upload:
        return edge_cli.run(args)
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        check_reachable(endpoint)
        if stack_credentials_missing():  # the local stack takes any credentials
            os.environ.setdefault("AWS_ACCESS_KEY_ID", LOCAL_CREDENTIALS["aws_access_key_id"])
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS["aws_secret_access_key"])
    if args.bucket:  # missing bucket or credentials: one message now, not a failed upload per frame
        edge_cli.s3_client(endpoint, args.region).head_bucket(Bucket=args.bucket)
    return edge_cli.run(args)


def stack_credentials_missing() -> bool:
    import boto3

    return boto3.Session().get_credentials() is None
