"""OpenCV engine against real videos written by a real encoder (libx264/AAC, VP9/Opus, MJPEG).

S3 is moto; frames are decoded back with OpenCV and compared with the source frames at the
capture times, so a frame taken at the wrong moment is caught.
"""

import io
import tempfile
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer
from PIL import Image

from visionpipe.synthetic_video import ClipSpec, write_audio_only, write_clip
from visionpipe_common.anomaly.frames import frame_source
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.opencv_engine import OpenCvEngine, PartialCapture
from visionpipe_common.frame_capture.settings import CaptureSettings, OpenCvSettings

VIDEO_BUCKET = "visionpipe-videos-test"
IMAGE_BUCKET = "visionpipe-images-test"
DOWNLOAD = OpenCvSettings(read_mode="download")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    phone = write_clip(folder / "phone clip 01.mp4", ClipSpec(seconds=20))  # H.264 + AAC, index last
    faststart = write_clip(folder / "faststart.mp4", ClipSpec(seconds=20, faststart=True))
    data = faststart.read_bytes()
    (folder / "cut_faststart.mp4").write_bytes(data[: len(data) // 2])
    data = phone.read_bytes()
    (folder / "cut_index_last.mp4").write_bytes(data[: len(data) // 2])
    write_clip(folder / "short.mp4", ClipSpec(seconds=1.5))
    write_clip(folder / "portrait.mp4", ClipSpec(seconds=1, width=160, height=96, rotate_degrees=90))
    write_audio_only(folder / "audio_only.mp4")
    return folder


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=VIDEO_BUCKET)
        client.create_bucket(Bucket=IMAGE_BUCKET)
        client.put_bucket_versioning(Bucket=VIDEO_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def upload(s3, key: str, body: bytes) -> S3Object:
    response = s3.put_object(Bucket=VIDEO_BUCKET, Key=key, Body=body)
    return S3Object(
        bucket=VIDEO_BUCKET,
        key=key,
        size=len(body),
        etag=response["ETag"].strip('"'),
        version_id=response.get("VersionId", ""),
    )


def engine(s3, capture=None, opencv=DOWNLOAD) -> OpenCvEngine:
    return OpenCvEngine(s3, IMAGE_BUCKET, capture or CaptureSettings(), opencv)


def frame_image(s3, key: str) -> tuple[np.ndarray, dict]:
    response = s3.get_object(Bucket=IMAGE_BUCKET, Key=key)
    data = response["Body"].read()
    assert response["ContentType"] == "image/jpeg" and data[:3] == b"\xff\xd8\xff"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), response["Metadata"]


def source_frames_at(path: Path, seconds: list[float], size=(500, 500)) -> list[np.ndarray]:
    """Reference: decode the file start to end and keep the frames at the given times, resized."""
    video = cv2.VideoCapture(str(path))
    fps = video.get(cv2.CAP_PROP_FPS)
    wanted = {round(t * fps): t for t in seconds}
    frames, number = {}, 0
    while True:
        ok, frame = video.read()
        if not ok:
            break
        if number in wanted:
            rgb = cv2.cvtColor(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            frames[wanted[number]] = rgb
        number += 1
    return [frames[t] for t in seconds]


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_twenty_second_phone_clip_yields_four_frames_at_0_5_10_15_seconds(s3, clips):
    path = clips / "phone clip 01.mp4"
    video = upload(s3, "video_inputs/line 3/phone clip 01.mp4", path.read_bytes())

    summary = engine(s3).capture(video)

    keys = [f"video_inputs/line 3/phone clip 01.mp4/phone clip 01_frame.{i:07d}.jpg" for i in range(4)]
    assert [f["key"] for f in summary["frames"]] == keys
    assert [f["time_seconds"] for f in summary["frames"]] == [0, 5, 10, 15]
    assert summary["source"] == {
        "width": 320,
        "height": 240,
        "fps": 30.0,
        "frame_count": 600,
        "duration_seconds": 20.0,
    }
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=IMAGE_BUCKET)["Contents"])
    assert listed == keys

    expected = source_frames_at(path, [0, 5, 10, 15])
    neighbours = source_frames_at(path, [1, 6, 11, 16])
    for key, want, other, seconds in zip(keys, expected, neighbours, (0, 5, 10, 15), strict=True):
        pixels, metadata = frame_image(s3, key)
        assert pixels.shape == (500, 500, 3)  # stretched to the configured size, like MediaConvert
        assert difference(pixels, want) < 6 < difference(pixels, other), f"frame at {seconds}s"
        assert metadata == {
            "source-bucket": VIDEO_BUCKET,
            "source-key": video.key,
            "frame-time": f"{seconds}",
        }
        # detect_anomaly maps the frame back to the clip either way: from metadata or from the key alone.
        for meta in (metadata, {}):
            source = frame_source(key, meta, VIDEO_BUCKET, interval_seconds=5)
            assert (source.video_key, source.frame_time) == (video.key, seconds)


def test_size_quality_interval_and_max_captures_are_configurable(s3, clips):
    video = upload(s3, "video_inputs/phone clip 01.mp4", (clips / "phone clip 01.mp4").read_bytes())
    fine = CaptureSettings(interval_seconds=2, max_captures=3, width=128, height=64, jpeg_quality=95)
    rough = CaptureSettings(interval_seconds=2, max_captures=3, width=128, height=64, jpeg_quality=20)

    fine_summary = engine(s3, fine).capture(video)
    fine_bytes = [f["bytes"] for f in fine_summary["frames"]]
    rough_bytes = [f["bytes"] for f in engine(s3, rough).capture(video)["frames"]]

    assert [f["time_seconds"] for f in fine_summary["frames"]] == [0, 2, 4]
    pixels, metadata = frame_image(s3, fine_summary["frames"][2]["key"])
    assert pixels.shape == (64, 128, 3) and metadata["frame-time"] == "4"
    assert all(f > r for f, r in zip(fine_bytes, rough_bytes, strict=True))


def test_video_shorter_than_one_interval_still_yields_its_first_frame(s3, clips):
    video = upload(s3, "video_inputs/short.mp4", (clips / "short.mp4").read_bytes())
    summary = engine(s3).capture(video)
    assert [(f["index"], f["time_seconds"]) for f in summary["frames"]] == [(0, 0)]


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("Clip.MOV", ClipSpec(seconds=6, width=160, height=120)),
        ("clip.M4v", ClipSpec(seconds=6, width=160, height=120)),
        ("clip.MKV", ClipSpec(seconds=6, width=160, height=120)),
        ("clip.WebM", ClipSpec(seconds=6, width=160, height=120, codec="vp9")),
        ("clip.AVI", ClipSpec(seconds=6, width=160, height=120, codec="mjpeg", audio=False)),
    ],
)
def test_every_supported_container_in_any_letter_case(s3, tmp_path, name, spec):
    path = write_clip(tmp_path / name, spec)
    video = upload(s3, f"video_inputs/{name}", path.read_bytes())
    summary = engine(s3).capture(video)
    stem = name.rsplit(".", 1)[0]
    assert [f["key"] for f in summary["frames"]] == [
        f"video_inputs/{name}/{stem}_frame.0000000.jpg",
        f"video_inputs/{name}/{stem}_frame.0000001.jpg",
    ]


def test_portrait_phone_video_is_captured_upright(s3, clips):
    video = upload(s3, "video_inputs/portrait.mp4", (clips / "portrait.mp4").read_bytes())
    summary = engine(s3, CaptureSettings(width=96, height=160)).capture(video)
    assert (summary["source"]["width"], summary["source"]["height"]) == (96, 160)  # rotation applied


def test_streams_from_a_presigned_url_without_a_local_copy(clips, tmp_path, monkeypatch):
    """Through a real HTTP server (moto's), FFmpeg reads with range requests; /tmp stays empty."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://{host}:{port}")
        client.create_bucket(Bucket=VIDEO_BUCKET)
        client.create_bucket(Bucket=IMAGE_BUCKET)
        video = upload(client, "video_inputs/phone clip 01.mp4", (clips / "phone clip 01.mp4").read_bytes())

        summary = engine(client, opencv=OpenCvSettings(read_mode="url")).capture(video)

        assert summary["read_via"] == "url" and len(summary["frames"]) == 4
        assert list(tmp_path.iterdir()) == []
    finally:
        server.stop()


def test_local_copy_is_removed_after_capture(s3, clips, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    video = upload(s3, "video_inputs/short.mp4", (clips / "short.mp4").read_bytes())
    assert engine(s3).capture(video)["read_via"] == "tmp"
    assert list(tmp_path.iterdir()) == []


def test_unreachable_stream_falls_back_to_a_local_copy(s3, clips, monkeypatch):
    video = upload(s3, "video_inputs/short.mp4", (clips / "short.mp4").read_bytes())
    monkeypatch.setattr(s3, "generate_presigned_url", lambda *a, **k: "http://127.0.0.1:9/unreachable.mp4")
    summary = engine(s3, opencv=OpenCvSettings(read_mode="url")).capture(video)
    assert summary["read_via"] == "tmp" and len(summary["frames"]) == 1


@pytest.mark.parametrize(
    ("file", "reason"),
    [
        ("cut_index_last.mp4", "truncated: the 'mdat' box runs past the end"),
        ("audio_only.mp4", "no decodable video stream"),
    ],
)
def test_unusable_video_is_rejected_with_a_reason(s3, clips, file, reason):
    video = upload(s3, f"video_inputs/{file}", (clips / file).read_bytes())
    with pytest.raises(RejectedInput, match=reason):
        engine(s3).capture(video)
    assert "Contents" not in s3.list_objects_v2(Bucket=IMAGE_BUCKET)


def test_zero_duration_video_is_rejected(s3, tmp_path):
    path = write_clip(tmp_path / "zero.mp4", ClipSpec(seconds=0, audio=False))
    video = upload(s3, "video_inputs/zero.mp4", path.read_bytes())
    with pytest.raises(RejectedInput, match="zero duration"):
        engine(s3).capture(video)


def test_video_cut_off_mid_stream_keeps_the_frames_it_has_and_says_what_is_missing(s3, clips):
    video = upload(s3, "video_inputs/cut.mp4", (clips / "cut_faststart.mp4").read_bytes())
    with pytest.raises(
        PartialCapture, match=r"truncated or damaged: 2 of 4 frames captured; no decodable frame at 10s, 15s"
    ) as caught:
        engine(s3).capture(video)
    assert [f["time_seconds"] for f in caught.value.summary["frames"]] == [0, 5]
    assert len(s3.list_objects_v2(Bucket=IMAGE_BUCKET)["Contents"]) == 2


def test_absurd_resolution_is_refused_before_decoding(s3, clips):
    video = upload(s3, "video_inputs/short.mp4", (clips / "short.mp4").read_bytes())
    limited = OpenCvSettings(read_mode="download", max_video_pixels=320 * 240 - 1)
    with pytest.raises(RejectedInput, match=r"resolution 320x240 is over the limit of 76799 pixels"):
        engine(s3, opencv=limited).capture(video)


def test_video_too_large_to_copy_after_streaming_failed_is_refused(s3, clips, monkeypatch):
    video = upload(s3, "video_inputs/short.mp4", (clips / "short.mp4").read_bytes())
    monkeypatch.setattr(s3, "generate_presigned_url", lambda *a, **k: "http://127.0.0.1:9/unreachable.mp4")
    settings = OpenCvSettings(read_mode="url", max_download_bytes=1000)
    with pytest.raises(RejectedInput, match="could not be streamed"):
        engine(s3, opencv=settings).capture(video)


def test_non_ascii_key_is_left_out_of_metadata_and_found_from_the_frame_key(s3, clips):
    key = "video_inputs/Überprüfung café.mp4"
    video = upload(s3, key, (clips / "short.mp4").read_bytes())
    (frame,) = engine(s3).capture(video)["frames"]
    _, metadata = frame_image(s3, frame["key"])
    assert "source-key" not in metadata
    assert frame_source(frame["key"], metadata, VIDEO_BUCKET, 5).video_key == key


class LandsAt:
    """A decoder whose seeks land at a fixed time (as a truncated file makes FFmpeg do)."""

    def __init__(self, landed_seconds: float):
        self.landed_ms = landed_seconds * 1000.0

    def get(self, prop):
        return self.landed_ms if prop == cv2.CAP_PROP_POS_MSEC else 1.0

    def set(self, prop, value):
        return True

    def read(self):
        return True, np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize(("landed", "kept"), [(10.0, True), (10.9, True), (8.9, False), (5.67, False)])
def test_a_frame_is_kept_only_when_the_seek_landed_at_its_time(s3, landed, kept):
    frame = engine(s3)._read_at(LandsAt(landed), 10.0)
    assert (frame is not None) is kept
