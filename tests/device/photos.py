"""Real photographs (scikit-image's bundled, offline data) and videos of them: visionpipe.face_footage,
shared with `visionpipe demo` and the device benchmark."""

from visionpipe.face_footage import PHOTO_FRAME_SIZE as FRAME_SIZE
from visionpipe.face_footage import face_frames, no_face_frames, photograph, place, write_video

__all__ = ["FRAME_SIZE", "face_frames", "no_face_frames", "photograph", "place", "write_video"]
