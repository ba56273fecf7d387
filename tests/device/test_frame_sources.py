"""Frame sources: video files (written here), camera indices, URLs, awscam."""

import sys
import types

import numpy as np
import pytest
from visionpipe_edge.frame_sources import AwscamSource, FrameSourceError, OpenCvSource, open_source

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
