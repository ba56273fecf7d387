"""SSD / SageMaker object-detection output parsing on outputs built here."""

import numpy as np
import pytest
from visionpipe_edge.detections import Box
from visionpipe_edge.detectors.ssd_output import output_rows, parse_detections

LABELS = ("thumbs-up", "thumbs-down")


def test_opencv_ssd_rows_1x1xNx7():
    output = np.array(
        [
            [
                [
                    [0, 1, 0.93, 0.10, 0.20, 0.50, 0.60],  # class 1 with background at 0 -> thumbs-up
                    [0, 2, 0.40, 0.00, 0.00, 0.30, 0.30],  # below threshold
                    [0, 2, 0.81, 0.50, 0.50, 1.20, 0.90],  # xmax past the edge: clipped
                ]
            ]
        ],
        dtype=np.float32,
    )
    found = parse_detections(output, LABELS, 0.5, (300, 300), "auto", class_id_offset=1)
    assert [(d.label, d.class_id, round(d.score, 2)) for d in found] == [
        ("thumbs-up", 0, 0.93),
        ("thumbs-down", 1, 0.81),
    ]
    assert found[0].box == Box(30, 60, 150, 180)
    assert found[1].box == Box(150, 150, 300, 270)


def test_sagemaker_rows_class_score_xmin_ymin_xmax_ymax():
    # The SageMaker object-detection algorithm: {"prediction": [[class, score, x0, y0, x1, y1], ...]}
    prediction = [[0.0, 0.97, 0.25, 0.25, 0.75, 0.5], [-1.0, 0.99, 0, 0, 1, 1], [1.0, 0.2, 0, 0, 0.5, 0.5]]
    found = parse_detections(prediction, LABELS, 0.3, (512, 512), "sagemaker")
    assert len(found) == 1  # padding row (class -1) and low score skipped
    assert found[0].label == "thumbs-up" and found[0].box == Box(128, 128, 384, 256)


def test_batch_dimension_and_auto_layout():
    rows, layout = output_rows(np.zeros((1, 4, 6)), "auto")
    assert rows.shape == (4, 6) and layout == "sagemaker"
    rows, layout = output_rows(np.zeros((1, 1, 3, 7)), "auto")
    assert rows.shape == (3, 7) and layout == "ssd"


def test_threshold_is_inclusive_and_results_sorted_by_score():
    prediction = [[0, 0.5, 0.1, 0.1, 0.2, 0.2], [1, 0.9, 0.3, 0.3, 0.4, 0.4]]
    found = parse_detections(prediction, LABELS, 0.5, (100, 100), "sagemaker")
    assert [d.score for d in found] == [0.9, 0.5]


def test_unknown_classes_and_empty_boxes_are_skipped():
    prediction = [[7, 0.9, 0.1, 0.1, 0.2, 0.2], [0, 0.9, 0.3, 0.3, 0.3, 0.5]]
    assert parse_detections(prediction, LABELS, 0.1, (100, 100), "sagemaker") == []


def test_wrong_row_width_is_an_error():
    with pytest.raises(ValueError):
        parse_detections(np.zeros((2, 5)), LABELS, 0.5, (100, 100), "auto")
    with pytest.raises(ValueError):
        parse_detections(np.zeros((2, 7)), LABELS, 0.5, (100, 100), "sagemaker")


def test_empty_output():
    assert parse_detections(np.zeros((0, 6)), LABELS, 0.5, (100, 100)) == []
