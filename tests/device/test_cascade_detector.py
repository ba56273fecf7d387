"""OpenCV's cascade classifier on real photographs: the detector the component runs with no model."""

import cv2
import pytest
from visionpipe_edge.detectors.cascade_detector import CascadeDetector, CascadeFormatError, find_cascade

from tests.device.photos import photograph
from visionpipe.components import SHIPPED_MODEL_DIR

FACE_CASCADE = "haarcascade_frontalface_default.xml"


@pytest.fixture(scope="module")
def faces():
    return CascadeDetector(SHIPPED_MODEL_DIR / FACE_CASCADE, label="face", scale_factor=1.1, min_size=30)


def test_finds_the_astronauts_face(faces):
    image = photograph("astronaut")
    (face,) = faces.detect(image, threshold=0.5)
    x0, y0, x1, y1 = face.box.xmin, face.box.ymin, face.box.xmax, face.box.ymax
    assert face.label == "face" and 0.5 <= face.score < 1.0
    # The face is in the upper middle of the 512x512 photograph.
    assert 150 < (x0 + x1) / 2 < 300 and 60 < (y0 + y1) / 2 < 200 and 60 < x1 - x0 < 140


def test_no_face_in_a_photograph_of_coffee(faces):
    assert faces.detect(photograph("coffee"), threshold=0.5) == []


def test_threshold_filters_weak_votes(faces):
    assert faces.detect(photograph("astronaut"), threshold=0.99) == []


def test_cascade_is_found_in_the_model_dir_or_opencvs_own_data(tmp_path):
    assert find_cascade(FACE_CASCADE, SHIPPED_MODEL_DIR) == SHIPPED_MODEL_DIR / FACE_CASCADE
    assert find_cascade("haarcascade_eye.xml").parent.samefile(cv2.data.haarcascades)
    with pytest.raises(FileNotFoundError, match="not found"):
        find_cascade("no_such_cascade.xml", tmp_path)


def test_a_file_that_is_not_a_cascade_is_refused(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<opencv_storage><nothing/></opencv_storage>")
    with pytest.raises(CascadeFormatError, match="not a cascade"):
        CascadeDetector(path, label="face")
