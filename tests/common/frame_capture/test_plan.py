"""Which frames a video yields: the MediaConvert FRAME_CAPTURE rule both engines follow."""

import io
import struct

import pytest

from visionpipe_common.frame_capture.container_check import iso_bmff_problem
from visionpipe_common.frame_capture.plan import capture_count, capture_plan
from visionpipe_common.frame_capture.video_inputs import sniff_container


@pytest.mark.parametrize(
    ("duration", "interval", "max_captures", "count"),
    [
        (20.0, 5, 4, 4),  # 0, 5, 10, 15
        (300.0, 5, 4, 4),  # capped
        (15.0, 5, 4, 3),  # a frame at exactly 15 s would be past the end
        (15.033, 5, 4, 4),
        (1.5, 5, 4, 1),  # shorter than one interval: still the first frame
        (0.033, 5, 4, 1),  # a single frame
        (0.0, 5, 4, 0),
        (20.0, 0.5, 100, 40),
        (20.000000001, 5, 10, 4),  # float noise does not add a frame
    ],
)
def test_capture_count(duration, interval, max_captures, count):
    assert capture_count(duration, interval, max_captures) == count


def test_plan_names_and_times():
    plan = capture_plan("video_inputs/a/b c.mov", 12.0, 5, 4)
    assert [(t.index, t.time_seconds, t.key) for t in plan] == [
        (0, 0.0, "video_inputs/a/b c.mov/b c_frame.0000000.jpg"),
        (1, 5.0, "video_inputs/a/b c.mov/b c_frame.0000001.jpg"),
        (2, 10.0, "video_inputs/a/b c.mov/b c_frame.0000002.jpg"),
    ]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "iso-bmff"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "iso-bmff"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "iso-bmff"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
        (b"hello, this is text", None),
        (b"RIFF\x00\x10\x00\x00WEBPVP8 ", None),
    ],
)
def test_container_sniffing(head, kind):
    assert sniff_container(head) == kind


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mvhd(timescale: int, duration: int) -> bytes:
    return box(b"mvhd", b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, timescale, duration) + b"\x00" * 80)


def problem(data: bytes):
    return iso_bmff_problem(io.BytesIO(data), len(data))


def test_iso_bmff_diagnosis():
    ftyp = box(b"ftyp", b"isom\x00\x00\x02\x00")
    whole = ftyp + box(b"moov", mvhd(1000, 20_000)) + box(b"mdat", b"\x00" * 100)
    assert problem(whole) is None
    assert "zero duration" in problem(ftyp + box(b"moov", mvhd(1000, 0)))
    assert "no 'moov' index box" in problem(ftyp + box(b"mdat", b"\x00" * 100))
    assert "'mdat' box runs past the end" in problem(whole[:-10])
