"""Real video files for tests, benchmarks and demos, written by a real encoder.

OpenCV's pip build has no H.264 encoder, so clips are made with the static ffmpeg that
imageio-ffmpeg ships (libx264 + AAC): the same codecs a phone writes, decoded by the same
FFmpeg the frame-capture engine uses. Content is ffmpeg's moving test pattern, so every frame
differs and a frame taken at the wrong time can be told apart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


def ffmpeg_exe() -> str:
    """The ffmpeg binary: imageio-ffmpeg's static build, else one on PATH."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        found = shutil.which("ffmpeg")
        if not found:
            raise RuntimeError("no ffmpeg: pip install imageio-ffmpeg") from None
        return found


@dataclass(frozen=True)
class ClipSpec:
    seconds: float
    width: int = 320
    height: int = 240
    fps: int = 30
    audio: bool = True
    codec: str = "h264"  # h264 | vp9 | mpeg4 | mjpeg
    gop_frames: int = 60  # a keyframe every 2 s at 30 fps, as phones do
    faststart: bool = False  # phones usually write the index (moov) last
    rotate_degrees: int = 0  # display-matrix rotation, as a phone held upright records
    bitrate: str = ""  # e.g. "300k"; default: quality-based
    preset: str = "ultrafast"


_VIDEO_CODECS = {
    "h264": ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "high"],
    "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p"],
    "mpeg4": ["-c:v", "mpeg4", "-q:v", "5"],
    "mjpeg": ["-c:v", "mjpeg", "-q:v", "5"],
}


def write_clip(path: Path, spec: ClipSpec) -> Path:
    """Encode a clip to path (container from the suffix: .mp4 .mov .m4v .mkv .webm .avi)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    video = f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}"
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", video]
    if spec.audio:
        command += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    command += ["-t", f"{spec.seconds}", *_VIDEO_CODECS[spec.codec]]
    if spec.codec == "h264":
        command += ["-preset", spec.preset, "-g", str(spec.gop_frames)]
    elif spec.codec == "vp9":
        command += ["-g", str(spec.gop_frames)]
    if spec.bitrate:
        command += ["-b:v", spec.bitrate]
    if spec.audio:
        audio_codec = "libopus" if path.suffix.lower() == ".webm" else "aac"
        command += ["-c:a", audio_codec, "-b:a", "96k", "-ac", "2"]
    if spec.faststart and path.suffix.lower() in (".mp4", ".mov", ".m4v"):
        command += ["-movflags", "+faststart"]
    if spec.rotate_degrees:
        # Written as the container's display matrix, the way phones record portrait video.
        # (-display_rotation is an input option: it goes before the video's -f lavfi -i).
        command[5:5] = ["-noautorotate", "-display_rotation", str(spec.rotate_degrees)]
    command.append(str(path))
    subprocess.run(command, check=True, capture_output=True)
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An MP4 with an AAC track and no video stream at all."""
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        f"{seconds}",
        "-c:a",
        "aac",
        str(path),
    ]
    subprocess.run(command, check=True, capture_output=True)
    return Path(path)


def encode_frames(path: Path, frames: list, fps: int, audio: bool = True) -> Path:
    """Encode RGB uint8 frames as H.264 (+ a quiet AAC track) in .mp4, deterministically.

    One encoder thread and bit-exact flags: the same frames give the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    seconds = len(frames) / fps
    command = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
    if audio:
        command += ["-f", "lavfi", "-i", "sine=frequency=100:sample_rate=16000"]
    command += ["-t", f"{seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p"]
    command += ["-preset", "veryfast", "-crf", "18", "-threads", "1", "-g", str(fps * 2)]
    if audio:
        command += ["-c:a", "aac", "-b:a", "48k", "-ac", "1"]
    command += ["-fflags", "+bitexact", "-flags", "+bitexact", "-map_metadata", "-1", str(path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    _, errors = process.communicate(b"".join(frame.tobytes() for frame in frames))
    if process.returncode:
        raise RuntimeError(f"ffmpeg failed to encode {path.name}: {errors.decode(errors='replace')}")
    return path


_STREAM = re.compile(r"Stream #\d+:\d+.*?: (?P<kind>Video|Audio): (?P<codec>\w+)")


def stream_codecs(path: Path) -> dict[str, str]:
    """{"Video": "h264", "Audio": "aac"}: the codecs ffmpeg finds in a file."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return {m["kind"]: m["codec"] for m in _STREAM.finditer(result.stderr)}
