"""`visionpipe device run` on a video of real photographs, against moto's S3 server (local stack stand-in)."""

import argparse
import json
import logging
import urllib.request
from types import SimpleNamespace

import boto3
import pytest
from moto.server import ThreadedMotoServer
from visionpipe_edge.__main__ import run_on_greengrass

from visionpipe import cli

KINDS = ("images/", "json/", "latest/", "frames_resized/", "raw_images/", "training_annotation/")


@pytest.fixture
def moto_s3():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()  # moto's state is process-wide: start empty
    s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
    s3.create_bucket(Bucket="visionpipe-detections-0a1b2c3d")
    yield port, s3
    urllib.request.urlopen(reset, timeout=10).close()
    server.stop()


def test_device_run_writes_all_six_kinds_to_the_local_detections_bucket(face_video, moto_s3, capsys):
    port, s3 = moto_s3
    argv = ["device", "run", "--source", str(face_video), "--local-port", str(port)]
    argv += ["--device-name", "laptop-cam", "--interval", "0", "--log-level", "WARNING"]
    assert cli.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bucket"] == "visionpipe-detections-0a1b2c3d"
    assert summary["frames"] == 5 and summary["frames_with_detections"] == 3
    assert summary["dropped"] == 0 and summary["failed"] == 0
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="visionpipe-detections-0a1b2c3d")["Contents"]]
    for kind in KINDS:
        assert any(k.startswith(kind) for k in keys), kind
    for record_key in (k for k in keys if k.startswith("json/")):
        record = json.loads(
            s3.get_object(Bucket="visionpipe-detections-0a1b2c3d", Key=record_key)["Body"].read()
        )
        stamp = record["timestamp"]
        assert record_key == f"json/record_laptop-cam_{stamp}.json"
        assert record["image_key"] in keys
        assert f"raw_images/raw_laptop-cam_{stamp}.jpg" in keys
        assert f"frames_resized/resized_laptop-cam_{stamp}.jpg" in keys
        annotation = json.loads(
            s3.get_object(
                Bucket="visionpipe-detections-0a1b2c3d",
                Key=f"training_annotation/raw_laptop-cam_{stamp}.json",
            )["Body"].read()
        )
        boxes = [o["box"] for o in record["objects"]]
        assert [
            {
                "xmin": a["left"],
                "ymin": a["top"],
                "xmax": a["left"] + a["width"],
                "ymax": a["top"] + a["height"],
            }
            for a in annotation["annotations"]
        ] == boxes


def test_no_upload_mode_writes_nothing(face_video, moto_s3, capsys):
    port, s3 = moto_s3
    assert cli.main(["device", "run", "--source", str(face_video), "--no-upload", "--max-frames", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bucket"] is None and summary["frames"] == 1
    assert "Contents" not in s3.list_objects_v2(Bucket="visionpipe-detections-0a1b2c3d")


def test_help_documents_every_option():
    parser = cli.build_parser()
    device = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["device"]
    run = next(a for a in device._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    options = [a for a in run._actions if a.option_strings]
    assert len(options) > 30
    for action in options:
        assert action.help, f"{action.option_strings} has no help"
    text = run.format_help()
    for option in (
        "--source",
        "--bucket",
        "--local-port",
        "--device-name",
        "--detector",
        "--max-frames",
        "--duration",
    ):
        assert option in text


def test_component_entry_point_on_a_core(face_video, model_dir, s3_bucket, fake_ipc, monkeypatch):
    """`python -m visionpipe_edge` under Greengrass: settings over IPC, uploads, publishes."""
    monkeypatch.setenv("AWS_IOT_THING_NAME", "core-1")
    monkeypatch.setenv("VISIONPIPE_MODEL_DIR", str(model_dir))
    client = fake_ipc(
        {
            "frameSource": str(face_video),
            "bucket": "visionpipe-detections-test",
            "uploadIntervalSeconds": 0,
            "mjpegPort": -1,
            "detector": "",
            "labels": [],
        }
    )
    assert run_on_greengrass(client) == 0
    assert len(client.published) == 3
    assert {m["topic"] for m in client.published} == {"visionpipe/core-1/detections"}
    keys = [o["Key"] for o in s3_bucket.list_objects_v2(Bucket="visionpipe-detections-test")["Contents"]]
    for kind in KINDS:
        assert any(k.startswith(kind + ("image_core-1" if kind == "images/" else "")) for k in keys), kind
    assert client.closed


def test_a_missing_source_is_a_clear_error_not_a_traceback(tmp_path, capsys):
    assert cli.main(["device", "run", "--source", str(tmp_path / "none.mp4"), "--no-upload"]) == 2
    assert "video file not found" in capsys.readouterr().err


def test_on_a_core_an_unavailable_camera_is_retried(fake_ipc, monkeypatch, face_video, model_dir):
    import visionpipe_edge.__main__ as entry

    monkeypatch.setenv("VISIONPIPE_MODEL_DIR", str(model_dir))
    client = fake_ipc(
        {"frameSource": str(face_video) + ".missing", "mjpegPort": -1, "uploadIntervalSeconds": 0}
    )
    sleeps = []

    def fake_sleep(seconds):
        sleeps.append(seconds)
        client.configuration["frameSource"] = str(face_video)  # the camera comes back
        client.update(frameSource=str(face_video))

    monkeypatch.setattr(entry.time, "sleep", fake_sleep)
    assert entry.run_on_greengrass(client) == 0
    assert sleeps == [1.0]
    assert len(client.published) == 3


def test_on_a_core_a_camera_closed_to_the_component_user_stops_with_the_fix(fake_ipc, monkeypatch, caplog):
    """Retrying cannot help (a process's groups are fixed at start): log the fix once and exit, so the
    nucleus reports the component broken instead of it retrying silently forever."""
    import visionpipe_edge.__main__ as entry
    from visionpipe_edge import frame_sources

    monkeypatch.setenv("VISIONPIPE_MODEL_DIR", "")
    error = frame_sources.CameraAccessError(
        "cannot open camera:0: ... Fix: `sudo usermod -aG video ggc_user`"
    )
    monkeypatch.setattr(frame_sources.cv2, "VideoCapture", lambda *_: SimpleNamespace(isOpened=lambda: False))
    monkeypatch.setattr(frame_sources, "camera_error", lambda index: error)
    monkeypatch.setattr(entry.time, "sleep", lambda seconds: pytest.fail("a permission error was retried"))
    client = fake_ipc({"frameSource": "0", "mjpegPort": -1})
    with caplog.at_level(logging.ERROR, logger="visionpipe_edge"):
        assert entry.run_on_greengrass(client) == 1
    assert "usermod -aG video ggc_user" in caplog.text
    assert client.closed
