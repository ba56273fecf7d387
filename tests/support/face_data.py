"""Camera-like training data from real photographs with real faces, labelled by the edge device's own
cascade and annotation writer: visionpipe.face_footage, shared with `visionpipe demo`."""

from visionpipe.face_footage import CAMERA_FRAME as FRAME
from visionpipe.face_footage import MODEL_INPUT, SCENES, Frame, camera_frames, write_channels

__all__ = ["FRAME", "MODEL_INPUT", "SCENES", "Frame", "camera_frames", "write_channels"]
