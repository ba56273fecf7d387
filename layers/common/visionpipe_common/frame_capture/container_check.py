"""Why a video file cannot be opened: a reason users can act on instead of "decoder failed".

Only consulted after FFmpeg (through OpenCV) has refused a file. For MP4/MOV/M4V the top-level
boxes tell a cut-off upload (a box running past the end, or no 'moov' index: phones write it
last) from a zero-duration one (mvhd duration 0). Only box headers and the moov box are read,
never the media data.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

GENERIC = "cannot be opened as a video: no decodable video stream, or the file is corrupt"
MAX_MOOV_BYTES = 64 * 1024 * 1024


def _top_level_boxes(f: BinaryIO, size: int):
    """(type, payload offset, box end, complete) of each top-level box."""
    offset = 0
    while offset + 8 <= size:
        f.seek(offset)
        length, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if length == 1:
            if offset + 16 > size:
                yield kind, offset + 8, size, False
                return
            length = struct.unpack(">Q", f.read(8))[0]
            header = 16
        elif length == 0:
            length = size - offset
        if length < header:
            yield kind, offset + header, size, False
            return
        complete = offset + length <= size
        yield kind, offset + header, min(offset + length, size), complete
        if not complete:
            return
        offset += length


def _mvhd_duration(moov: bytes) -> float | None:
    offset = 0
    while offset + 8 <= len(moov):
        length, kind = struct.unpack(">I4s", moov[offset : offset + 8])
        if length < 8:
            return None
        if kind == b"mvhd":
            body = moov[offset + 8 : offset + length]
            if len(body) >= 32 and body[0] == 1:
                timescale, duration = struct.unpack(">IQ", body[20:32])
            elif len(body) >= 20:
                timescale, duration = struct.unpack(">II", body[12:20])
            else:
                return None
            return duration / timescale if timescale else 0.0
        offset += length
    return None


def iso_bmff_problem(f: BinaryIO, size: int) -> str | None:
    """Reason an MP4/MOV file is unusable, judged from its top-level boxes (None: looks whole)."""
    moov = None
    for kind, payload, box_end, complete in _top_level_boxes(f, size):
        if not complete:
            return (
                f"truncated: the {kind.decode('latin-1')!r} box runs past the end of the file "
                f"({size} bytes): the upload was cut off"
            )
        if kind == b"moov":
            moov = (payload, box_end)
    if moov is None:
        return (
            "truncated or incomplete: no 'moov' index box "
            "(phones write it last, so the upload was likely cut off)"
        )
    payload, box_end = moov
    if box_end - payload <= MAX_MOOV_BYTES:
        f.seek(payload)
        duration = _mvhd_duration(f.read(box_end - payload))
        if duration is not None and duration <= 0:
            return "zero duration: the video's index (mvhd) says it lasts 0 seconds"
    return None


def unopenable_reason(path: Path, container: str) -> str:
    """Best reason for a file FFmpeg could not open."""
    if container == "iso-bmff":
        path = Path(path)
        with path.open("rb") as f:
            problem = iso_bmff_problem(f, path.stat().st_size)
        if problem:
            return problem
    return GENERIC
