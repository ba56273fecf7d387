"""Running the loop off a Greengrass core: options, wiring, summary.

Shared by `python -m visionpipe_edge` (off a core) and `visionpipe device run` (dev tooling).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from typing import Any

from visionpipe_edge.config import DEFAULT_TOPIC, EdgeSettings
from visionpipe_edge.detectors.cascade_detector import CascadeFormatError
from visionpipe_edge.detectors.hog_detector import HogModelError
from visionpipe_edge.frame_sources import FrameSourceError
from visionpipe_edge.loop import DetectionLoop, LoopStats
from visionpipe_edge.mjpeg import FrameBuffer, MjpegServer
from visionpipe_edge.publishers import LogPublisher
from visionpipe_edge.uploader import BackgroundUploader

LOG = logging.getLogger(__name__)
DETECTIONS_BUCKET_PREFIX = "visionpipe-detections-"


def default_model_dir() -> str:
    """$VISIONPIPE_MODEL_DIR: the model component's files (the recipe sets it on a core)."""
    return os.environ.get("VISIONPIPE_MODEL_DIR", "")


def add_options(parser: argparse.ArgumentParser, model_dir: str | None = None) -> None:
    """The loop's options; model_dir: the --model-dir default (None: $VISIONPIPE_MODEL_DIR)."""
    d = EdgeSettings()
    model_dir = default_model_dir() if model_dir is None else model_dir
    shown_model_dir = (model_dir or "none: OpenCV's bundled cascades").replace("%", "%%")
    where = parser.add_argument_group("input and output")
    where.add_argument(
        "--source",
        required=True,
        help="frame source: a camera index (0), a video file, an rtsp:// or http(s):// URL, or 'awscam'",
    )
    target = where.add_mutually_exclusive_group()
    target.add_argument("--bucket", help="detections bucket to write to (real AWS, or --endpoint-url)")
    target.add_argument(
        "--local-port",
        type=int,
        metavar="N",
        help="the local stack on 127.0.0.1:N (visionpipe local up); its visionpipe-detections-* bucket",
    )
    where.add_argument("--endpoint-url", help="S3 endpoint (default: $AWS_ENDPOINT_URL, else AWS)")
    where.add_argument("--region", help="S3 region (default: the AWS SDK's, e.g. $AWS_REGION)")
    where.add_argument("--no-upload", action="store_true", help="detect, stream and log only; write nothing")
    where.add_argument("--loop", action="store_true", help="restart a video file at its end")
    where.add_argument("--realtime", action="store_true", help="pace a video file to its own frame rate")
    where.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    where.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")

    naming = parser.add_argument_group("device")
    naming.add_argument("--device-name", help="name used in keys and records (default: --thing-name)")
    naming.add_argument(
        "--thing-name",
        default=os.environ.get("AWS_IOT_THING_NAME", "local-device"),
        help="IoT thing name (default: $AWS_IOT_THING_NAME or local-device)",
    )
    naming.add_argument(
        "--topic",
        default=DEFAULT_TOPIC,
        help="topic records would be published to ({iot:thingName} is replaced); logged off a core",
    )

    model = parser.add_argument_group("detector")
    model.add_argument(
        "--detector", choices=("cascade", "dnn", "hog"), default=d.detector, help="default: cascade"
    )
    model.add_argument(
        "--model-dir",
        default=model_dir,
        help=f"directory of the model files (default: {shown_model_dir})",
    )
    model.add_argument(
        "--model-file",
        default=d.model_file,
        help="cascade XML (also found in cv2.data.haarcascades) or weights (.onnx, .caffemodel, .pb)",
    )
    model.add_argument("--model-config-file", default="", help="Caffe .prototxt or TensorFlow .pbtxt, if any")
    model.add_argument("--model-name", default=d.model_name, help="written to each record's model.name")
    model.add_argument(
        "--model-version", default=d.model_version, help="written to each record's model.version"
    )
    model.add_argument(
        "--labels", default=",".join(d.labels), help="comma-separated class names (default: face)"
    )
    model.add_argument(
        "--class-id-offset",
        type=int,
        default=0,
        help="model class id minus this indexes --labels (1: background=0)",
    )
    model.add_argument(
        "--output-format",
        choices=("auto", "ssd", "sagemaker"),
        default="auto",
        help="DNN output rows: ssd [id,class,score,x0,y0,x1,y1] or sagemaker [class,score,x0,y0,x1,y1]",
    )
    model.add_argument(
        "--input-size",
        default=f"{d.input_width}x{d.input_height}",
        help="model input WxH; frames are resized to it (default 320x240)",
    )
    model.add_argument(
        "--threshold", type=float, default=d.threshold, help="minimum confidence (default 0.5)"
    )
    model.add_argument("--dnn-scale", type=float, default=1.0, help="DNN blob scale factor (e.g. 0.007843)")
    model.add_argument("--dnn-mean", default="0,0,0", help="DNN blob mean B,G,R (e.g. 127.5,127.5,127.5)")
    model.add_argument("--no-swap-rb", action="store_true", help="feed BGR to the network instead of RGB")
    model.add_argument(
        "--cascade-scale-factor", type=float, default=d.cascade_scale_factor, help="pyramid step"
    )
    model.add_argument(
        "--cascade-min-neighbors", type=int, default=d.cascade_min_neighbours, help="votes needed per object"
    )
    model.add_argument(
        "--cascade-min-size", type=int, default=d.cascade_min_size, help="smallest object, input pixels"
    )

    rates = parser.add_argument_group("uploads and stream")
    rates.add_argument(
        "--interval",
        type=float,
        default=d.upload_interval,
        help="at most one upload per S seconds (default 10)",
    )
    rates.add_argument(
        "--queue-size",
        type=int,
        default=d.upload_queue_size,
        help="upload queue bound; oldest dropped (default 8)",
    )
    rates.add_argument(
        "--jpeg-quality", type=int, default=d.jpeg_quality, help="JPEG quality 1-100 (default 90)"
    )
    rates.add_argument(
        "--mjpeg-port",
        type=int,
        default=-1,
        help="serve annotated frames as MJPEG on this port (0: any; default off)",
    )
    rates.add_argument("--mjpeg-bind", default="127.0.0.1", help="MJPEG bind address (default 127.0.0.1)")
    rates.add_argument(
        "--drain-timeout", type=float, default=60.0, help="seconds to wait for queued uploads at the end"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")


def settings_from_args(args: argparse.Namespace, bucket: str = "") -> EdgeSettings:
    width, _, height = args.input_size.lower().partition("x")
    return EdgeSettings(
        device_name=args.device_name or "",
        thing_name=args.thing_name,
        threshold=args.threshold,
        upload_interval=args.interval,
        bucket=bucket,
        region=args.region or "",
        topic=args.topic,
        source=str(args.source),
        loop_source=args.loop,
        realtime=args.realtime,
        detector=args.detector,
        model_dir=args.model_dir,
        model_file=args.model_file,
        model_config_file=args.model_config_file,
        model_name=args.model_name,
        model_version=args.model_version,
        output_format=args.output_format,
        labels=tuple(label.strip() for label in args.labels.split(",") if label.strip()),
        class_id_offset=args.class_id_offset,
        input_width=int(width),
        input_height=int(height),
        dnn_scale=args.dnn_scale,
        dnn_mean=tuple(float(v) for v in args.dnn_mean.split(",")),
        dnn_swap_rb=not args.no_swap_rb,
        cascade_scale_factor=args.cascade_scale_factor,
        cascade_min_neighbours=args.cascade_min_neighbors,
        cascade_min_size=args.cascade_min_size,
        mjpeg_port=args.mjpeg_port,
        mjpeg_bind=args.mjpeg_bind,
        upload_queue_size=args.queue_size,
        jpeg_quality=args.jpeg_quality,
    )


def s3_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    import boto3  # imported here: detection alone needs no AWS SDK

    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)


def find_detections_bucket(s3: Any) -> str:
    """The stack's detections bucket (template: visionpipe-detections-<stack id suffix>)."""
    names = sorted(b["Name"] for b in s3.list_buckets().get("Buckets", []))
    matches = [n for n in names if n.startswith(DETECTIONS_BUCKET_PREFIX)]
    if len(matches) != 1:
        raise SystemExit(
            f"expected one {DETECTIONS_BUCKET_PREFIX}* bucket at the endpoint, found {matches or 'none'}; "
            "pass --bucket (the stack's DetectionsBucketName output)"
        )
    return matches[0]


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uploader = None
    bucket = ""
    if not args.no_upload:
        endpoint = args.endpoint_url or (f"http://127.0.0.1:{args.local_port}" if args.local_port else None)
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
        s3 = s3_client(endpoint, args.region)
        bucket = args.bucket or (find_detections_bucket(s3) if args.local_port or endpoint else "")
        if not bucket:
            raise SystemExit("no bucket: pass --bucket, --local-port or --no-upload")
    settings = settings_from_args(args, bucket)
    if bucket:
        uploader = BackgroundUploader(s3, bucket, max_queue=settings.upload_queue_size)
    try:
        stats = run_loop(
            settings, uploader, LogPublisher(), args.max_frames, args.duration, args.drain_timeout
        )
    except (FrameSourceError, FileNotFoundError, CascadeFormatError, HogModelError) as error:
        print(f"visionpipe device run: {error}", file=sys.stderr)
        return 2
    summary = {
        "bucket": bucket or None,
        "device_id": settings.device_id,
        "frames": stats.frames,
        "frames_with_detections": stats.frames_with_detections,
        "detections": stats.detections,
        "uploads_queued": stats.uploads_queued,
        "fps": round(stats.fps, 2),
        "records": stats.records[-10:],
    }
    if uploader is not None:
        summary.update(
            uploaded=uploader.stats.uploaded,
            objects_written=uploader.stats.objects,
            dropped=uploader.stats.dropped,
            failed=uploader.stats.failed,
        )
    print(json.dumps(summary, indent=2))
    return 1 if uploader is not None and uploader.stats.failed else 0


def run_loop(
    settings: EdgeSettings,
    uploader: BackgroundUploader | None,
    publisher: Any,
    max_frames: int | None = None,
    duration: float | None = None,
    drain_timeout: float = 60.0,
    settings_provider: Any = None,
) -> LoopStats:
    """Start the stream (if configured), run the loop, stop cleanly on SIGTERM/SIGINT, flush uploads."""
    buffer = server = None
    if settings.mjpeg_port >= 0:
        buffer = FrameBuffer()
        server = MjpegServer(buffer, settings.mjpeg_bind, settings.mjpeg_port).start()
        print(f"MJPEG stream: {server.url}", flush=True)
    loop = DetectionLoop(settings_provider or (lambda: settings), uploader, publisher, buffer)
    previous = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: loop.stop())
    except ValueError:  # not the main thread: the caller stops the loop itself
        previous = {}
    try:
        return loop.run(max_frames=max_frames, duration=duration)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if uploader is not None:
            uploader.close(timeout=drain_timeout)
        if server is not None:
            server.stop()
