"""The numpy Haar cascade evaluator on real photographs (OpenCV 5 has no CascadeClassifier)."""

import cv2
import numpy as np
import pytest
from visionpipe_edge.detectors.haar_cascade import CascadeFormatError, HaarCascade, group_rectangles

from tests.device.photos import photograph

# Where OpenCV 4.12's CascadeClassifier finds the astronaut's face with the same file and settings
# (detectMultiScale(gray, 1.1, 3, minSize=(30, 30)) -> [177, 66, 95, 95]), measured once with OpenCV 4.
OPENCV4_FACE = (177, 66, 95, 95)


@pytest.fixture(scope="module")
def cascade(request):
    from visionpipe_edge.cli import REPO_MODEL_DIR

    return HaarCascade(REPO_MODEL_DIR / "haarcascade_frontalface_default.xml")


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def test_reads_the_frontal_face_cascade(cascade):
    assert cascade.window == (24, 24)
    assert len(cascade.stages) == 25
    assert sum(stage.feature_index.size for stage in cascade.stages) == 2913


def test_finds_the_astronauts_face_where_opencv4_does(cascade):
    gray = cv2.cvtColor(photograph("astronaut"), cv2.COLOR_BGR2GRAY)
    found = cascade.detect(gray, 1.1, 3, min_size=(30, 30))
    assert len(found) == 1
    face = found[0]
    assert iou((face.x, face.y, face.width, face.height), OPENCV4_FACE) > 0.85
    assert face.neighbours > 3


def test_no_face_in_a_photo_of_coffee(cascade):
    gray = cv2.cvtColor(photograph("coffee"), cv2.COLOR_BGR2GRAY)
    assert cascade.detect(gray, 1.2, 3, min_size=(24, 24)) == []


def test_group_rectangles_merges_neighbours_and_drops_loners():
    cluster = [(100, 100, 50, 50), (102, 101, 50, 50), (98, 99, 52, 52), (101, 100, 49, 49)]
    loner = [(300, 300, 40, 40)]
    grouped = group_rectangles(cluster + loner, threshold=2)
    assert len(grouped) == 1
    assert grouped[0].neighbours == 4
    assert abs(grouped[0].x - 100) <= 1 and abs(grouped[0].width - 50) <= 1


def test_group_rectangles_drops_a_small_box_inside_a_stronger_big_one():
    big = [(100, 100, 100, 100)] * 6
    small_inside = [(120, 120, 40, 40)] * 3
    grouped = group_rectangles(big + small_inside, threshold=2)
    assert [(g.x, g.width) for g in grouped] == [(100, 100)]


def test_refuses_tilted_features(tmp_path):
    xml = """<?xml version="1.0"?><opencv_storage><cascade><stageType>BOOST</stageType>
    <featureType>HAAR</featureType><height>24</height><width>24</width><stages></stages>
    <features><_><rects><_>0 0 2 2 -1.</_></rects><tilted>1</tilted></_></features>
    </cascade></opencv_storage>"""
    path = tmp_path / "tilted.xml"
    path.write_text(xml)
    with pytest.raises(CascadeFormatError, match="tilted"):
        HaarCascade(path)


def test_refuses_non_haar_cascades(tmp_path):
    path = tmp_path / "lbp.xml"
    path.write_text("<opencv_storage><cascade><featureType>LBP</featureType></cascade></opencv_storage>")
    with pytest.raises(CascadeFormatError, match="HAAR"):
        HaarCascade(path)


def test_detect_needs_a_grayscale_image(cascade):
    with pytest.raises(ValueError):
        cascade.detect(np.zeros((50, 50, 3), np.uint8))
