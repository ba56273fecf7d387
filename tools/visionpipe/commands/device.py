"""`visionpipe device run`: the edge camera's detection loop on this machine.

The same loop the Greengrass component runs (visionpipe_edge, device/components/edge-detector),
fed from a camera index, a video file or a stream URL, writing the six detection objects to the
local stack's detections bucket (--local-port, or AWS_ENDPOINT_URL) or to a real bucket (--bucket).
Records that a core would publish to IoT Core are logged. The model folder defaults to the
shipped model component's (device/components/detector-model/model).
"""

from __future__ import annotations

import argparse

from visionpipe_edge import cli as edge_cli

from visionpipe import components

EPILOG = """examples:
  visionpipe device run --source 0 --local-port 5000 --mjpeg-port 8080
  visionpipe device run --source demo.mp4 --interval 5 --bucket "$(aws cloudformation describe-stacks \\
      --stack-name visionpipe --output text \\
      --query "Stacks[0].Outputs[?OutputKey=='DetectionsBucketName'].OutputValue")"
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
    run.set_defaults(func=edge_cli.run)
