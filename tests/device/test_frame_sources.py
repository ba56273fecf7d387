"""Frame sources: video files (written here), camera indices, URLs, awscam."""

import grp
import sys
import types

import numpy as np
import pytest
from visionpipe_edge import frame_sources
from visionpipe_edge.frame_sources import (
    AwscamSource,
    CameraAccessError,
    FrameSourceError,
    OpenCvSource,
    camera_error,
    open_source,
)

from tests.device.photos import face_frames, write_video


def test_reads_every_frame_of_a_file_then_ends(tmp_path):
    video = write_video(tmp_path / "v.avi", face_frames())
    with open_source(str(video)) as source:
        frames = list(source)
    assert len(frames) == 3
    assert frames[0].shape == (960, 1280, 3) and frames[0].dtype == np.uint8
    assert np.abs(frames[0].astype(int) - face_frames()[0]).mean() < 4  # decoded MJPEG of the same photo


def test_loop_restarts_a_file(tmp_path):
    video = write_video(tmp_path / "v.avi", face_frames()[:2])
    source = open_source(str(video), loop=True)
    frames = [source.read() for _ in range(5)]
    source.close()
    assert all(f is not None for f in frames)


def test_kinds_from_the_spec(tmp_path):
    video = write_video(tmp_path / "v.avi", face_frames()[:1])
    assert OpenCvSource(str(video)).kind == "file"
    with pytest.raises(FrameSourceError, match="not found"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(FrameSourceError, match="cannot open stream:rtsp"):
        OpenCvSource("rtsp://127.0.0.1:1/none")


def test_awscam_is_used_where_it_exists(monkeypatch):
    frame = np.zeros((4, 4, 3), np.uint8)
    monkeypatch.setitem(sys.modules, "awscam", types.SimpleNamespace(getLastFrame=lambda: (True, frame)))
    source = open_source("awscam")
    assert isinstance(source, AwscamSource) and source.read() is frame


def test_awscam_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "awscam", None)
    with pytest.raises(FrameSourceError, match="DeepLens"):
        open_source("awscam")


# ---- a camera that does not open: the reason, from its device file ---------------------------------


def fake_video_device(dev, mode=0o660):
    """/dev/video0's stand-in: a file with the camera's usual mode, owned by this process's group."""
    path = dev / "video0"
    path.write_bytes(b"")
    path.chmod(mode)
    return path


def no_access(path, mode):
    return False  # as for a user outside the device's group (this test may run as root)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 device files")
def test_a_user_outside_the_cameras_group_is_told_the_fix(tmp_path):
    device = fake_video_device(tmp_path)
    group = grp.getgrgid(device.stat().st_gid).gr_name
    error = camera_error(0, tmp_path, access=no_access, groups=[], user="ggc_user")
    assert isinstance(error, CameraAccessError)
    message = str(error)
    assert f"{device} (-rw-rw----, group {group}) cannot be opened by user ggc_user" in message
    assert f"sudo usermod -aG {group} ggc_user" in message and "restart" in message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 device files")
def test_other_camera_failures_are_told_apart(tmp_path):
    missing = camera_error(0, tmp_path)
    assert type(missing) is FrameSourceError and "video0 does not exist" in str(missing)  # retried: unplugged
    device = fake_video_device(tmp_path, mode=0o600)
    in_group = camera_error(0, tmp_path, access=no_access, groups=[device.stat().st_gid], user="ggc_user")
    assert isinstance(in_group, CameraAccessError) and "ggc_user may not read and write" in str(in_group)
    assert type(camera_error(0, tmp_path, access=lambda p, m: True)) is FrameSourceError


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 device files")
def test_a_camera_index_that_does_not_open_raises_the_diagnosis(tmp_path, monkeypatch):
    fake_video_device(tmp_path)
    monkeypatch.setattr(
        frame_sources.cv2, "VideoCapture", lambda *_: types.SimpleNamespace(isOpened=lambda: False)
    )
    monkeypatch.setattr(
        frame_sources,
        "camera_error",
        lambda index: camera_error(index, tmp_path, access=no_access, groups=[], user="ggc_user"),
    )
    with pytest.raises(CameraAccessError, match="usermod -aG"):
        open_source("0")
