"""The edge camera's demo footage: real photographs, a face in four of every five frames, decoded
again by OpenCV and seen by the device's own cascade detector."""

import cv2

from visionpipe.demo.edge import FPS, write_footage
from visionpipe.face_footage import MODEL_INPUT, cascade


def test_footage_is_seconds_long_with_a_face_in_four_of_five_frames(tmp_path):
    video = write_footage(tmp_path / "faces.avi", seconds=2)
    capture = cv2.VideoCapture(str(video))
    assert capture.get(cv2.CAP_PROP_FPS) == FPS
    with_face = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        assert frame.shape == (960, 1280, 3)
        found = cascade().detect(cv2.resize(frame, MODEL_INPUT, interpolation=cv2.INTER_AREA), 0.5)
        with_face.append(bool(found))
    capture.release()
    assert with_face == [True, True, True, True, False] * 2
