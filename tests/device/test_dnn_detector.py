"""OpenCV DNN on a tiny real ONNX network built here: SSD rows whose score is the image's brightness."""

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from visionpipe_edge.config import EdgeSettings
from visionpipe_edge.detections import Box
from visionpipe_edge.detectors import DnnDetector, build_detector

INPUT = (64, 48)  # w, h


def brightness_ssd(path, layout="ssd"):
    """output = rows + mean(input) * score_mask: one box scored by the mean pixel (blob in [0, 1])."""
    if layout == "ssd":
        rows = np.array([[[[0, 1, 0, 0.25, 0.5, 0.75, 1.0], [0, 2, 0.0, 0, 0, 0.5, 0.5]]]], np.float32)
        mask = np.zeros_like(rows)
        mask[..., 0, 2] = 1
    else:  # sagemaker
        rows = np.array([[[0, 0, 0.25, 0.5, 0.75, 1.0], [-1, 0, 0, 0, 0, 0]]], np.float32)
        mask = np.zeros_like(rows)
        mask[..., 0, 1] = 1
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["data"], ["mean"], keepdims=1),
            helper.make_node("Reshape", ["mean", "scalar_shape"], ["mean_flat"]),
            helper.make_node("Mul", ["mean_flat", "mask"], ["score"]),
            helper.make_node("Add", ["rows", "score"], ["detections"]),
        ],
        "brightness_ssd",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, INPUT[1], INPUT[0]])],
        [helper.make_tensor_value_info("detections", TensorProto.FLOAT, list(rows.shape))],
        initializer=[
            numpy_helper.from_array(rows, "rows"),
            numpy_helper.from_array(mask, "mask"),
            numpy_helper.from_array(np.array([1], np.int64), "scalar_shape"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def onnx_model(tmp_path):
    return brightness_ssd(tmp_path / "model.onnx")


def image(value):
    return np.full((INPUT[1], INPUT[0], 3), value, np.uint8)


def test_runs_a_real_onnx_network_and_parses_its_ssd_rows(onnx_model):
    detector = DnnDetector(onnx_model, ("thumbs-up",), INPUT, class_id_offset=1, scale=1 / 255)
    raw = detector.raw_output(image(204))
    assert raw.shape == (1, 1, 2, 7)
    assert raw[0, 0, 0, 2] == pytest.approx(0.8, abs=0.01)
    (found,) = detector.detect(image(204), threshold=0.5)
    assert found.label == "thumbs-up" and found.score == pytest.approx(0.8, abs=0.01)
    assert found.box == Box(16, 24, 48, 48)
    assert detector.detect(image(51), threshold=0.5) == []  # score 0.2


def test_sagemaker_layout_through_build_detector(tmp_path):
    brightness_ssd(tmp_path / "sm.onnx", layout="sagemaker")
    settings = EdgeSettings(
        detector="dnn",
        model_dir=str(tmp_path),
        model_file="sm.onnx",
        labels=("thumbs-up",),
        input_width=INPUT[0],
        input_height=INPUT[1],
        dnn_scale=1 / 255,
        output_format="sagemaker",
    )
    detector = build_detector(settings)
    (found,) = detector.detect(image(230), threshold=0.5)
    assert found.class_id == 0 and found.score == pytest.approx(0.9, abs=0.01)


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model file not found"):
        DnnDetector(tmp_path / "none.onnx", ("x",), INPUT)


def test_blob_is_resized_to_the_input_size(onnx_model):
    detector = DnnDetector(onnx_model, ("thumbs-up",), INPUT, class_id_offset=1, scale=1 / 255)
    big = cv2.resize(image(204), (640, 480))
    assert detector.raw_output(big).shape == (1, 1, 2, 7)
