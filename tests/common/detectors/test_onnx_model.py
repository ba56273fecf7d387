"""The onnx backend's model contract: metadata parsing, preprocessing layouts, score and map outputs.

Every model here is a small real ONNX graph built with onnx.helper and run by onnxruntime.
"""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, preprocess, score_of, verdict_of


def _model(nodes, inputs, outputs, initializers=()) -> bytes:
    graph = helper.make_graph(nodes, "contract", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _meta(**fields) -> ModelMetadata:
    return ModelMetadata.from_json(json.dumps({"model_version": "v1", **fields}))


def _red_left_blue_right(width=8, height=4) -> Image.Image:
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (200, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 100)
    return Image.fromarray(pixels)


# ---------------------------------------------------------------- metadata


def test_defaults_fill_everything_but_the_version():
    meta = _meta()
    assert (meta.input_width, meta.input_height, meta.layout, meta.color_order) == (224, 224, "NCHW", "RGB")
    assert meta.scale == pytest.approx(1 / 255)
    assert (meta.mean, meta.std) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert (meta.output_kind, meta.threshold, meta.confidence, meta.score_spread) == (
        "score",
        0.5,
        "logistic",
        0.1,
    )
    assert meta.input_name is None and meta.output_name is None and meta.extra == {}


def test_version_is_required():
    with pytest.raises(ValueError, match="model_version"):
        ModelMetadata.from_json('{"threshold": 0.3}')


@pytest.mark.parametrize(
    ("field", "value"),
    [("layout", "CHW"), ("color_order", "GRAY"), ("output_kind", "boxes"), ("confidence", "softmax")],
)
def test_invalid_choices_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        _meta(**{field: value})


def test_unknown_keys_are_kept_and_round_trip():
    text = json.dumps(
        {"model_version": "v2", "mean": [0.485, 0.456, 0.406], "trained_on": "parts", "auroc": 0.99}
    )
    meta = ModelMetadata.from_json(text)
    assert meta.mean == (0.485, 0.456, 0.406)
    assert meta.extra == {"trained_on": "parts", "auroc": 0.99}
    again = ModelMetadata.from_json(meta.to_json())
    assert again == meta
    assert json.loads(meta.to_json())["trained_on"] == "parts"


# ---------------------------------------------------------------- preprocess


def test_preprocess_nchw_rgb_scale_mean_std():
    meta = _meta(input_width=8, input_height=4, mean=[0.5, 0.0, 0.0], std=[0.5, 1.0, 2.0])
    batch = preprocess(_red_left_blue_right(), meta)
    assert batch.shape == (1, 3, 4, 8) and batch.dtype == np.float32 and batch.flags["C_CONTIGUOUS"]
    # Red channel on the left: (200/255 - 0.5) / 0.5; blue on the right: (100/255 - 0) / 2.
    assert batch[0, 0, 0, 0] == pytest.approx((200 / 255 - 0.5) / 0.5, rel=1e-5)
    assert batch[0, 2, 0, 7] == pytest.approx((100 / 255) / 2.0, rel=1e-5)
    assert batch[0, 1].max() == 0.0


def test_preprocess_nhwc_and_bgr():
    meta = _meta(input_width=8, input_height=4, layout="NHWC", color_order="BGR", scale=1.0)
    batch = preprocess(_red_left_blue_right(), meta)
    assert batch.shape == (1, 4, 8, 3)
    assert tuple(batch[0, 0, 0]) == (0.0, 0.0, 200.0)  # BGR: red is the last channel
    assert tuple(batch[0, 0, 7]) == (100.0, 0.0, 0.0)


def test_preprocess_resizes_without_keeping_aspect_and_converts_modes():
    meta = _meta(input_width=16, input_height=16, scale=1.0)
    grey = Image.new("L", (64, 8), 80)
    rgba = Image.new("RGBA", (5, 40), (10, 20, 30, 0))
    assert preprocess(grey, meta).shape == (1, 3, 16, 16)
    assert np.allclose(preprocess(grey, meta), 80.0)
    assert tuple(preprocess(rgba, meta)[0, :, 3, 3]) == (10.0, 20.0, 30.0)


# ---------------------------------------------------------------- scores and verdicts


def test_score_of_single_value_and_map():
    assert score_of(np.array([0.7], np.float32), _meta()) == pytest.approx(0.7)
    assert score_of(np.array([[0.2, 0.9], [0.1, 0.3]]), _meta(output_kind="map")) == pytest.approx(0.9)
    # A multi-value output is reduced by max even when declared a score.
    assert score_of(np.array([0.1, 0.4]), _meta()) == pytest.approx(0.4)
    with pytest.raises(ValueError):
        score_of(np.array([]), _meta())


def test_verdicts_logistic_and_probability():
    meta = _meta(threshold=2.0, score_spread=0.5)
    at = verdict_of(2.0, meta)
    assert at.is_anomalous and at.confidence == pytest.approx(0.5)
    far = verdict_of(0.5, meta)  # 3 spreads below: 1 - 1/(1+e^3)
    assert not far.is_anomalous and far.confidence == pytest.approx(1 - 1 / (1 + np.exp(3.0)))
    probability = _meta(confidence="score", threshold=0.5)
    assert verdict_of(0.8, probability).confidence == pytest.approx(0.8)
    low = verdict_of(0.1, probability)
    assert not low.is_anomalous and low.confidence == pytest.approx(0.9)
    assert verdict_of(1.7, probability).confidence == 1.0  # clipped to a probability


# ---------------------------------------------------------------- OnnxModel with real graphs


def test_score_model_nchw_sees_the_preprocessed_channels():
    # score = mean of channel 0 (R in RGB, B in BGR).
    nodes = [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["first"]),
        helper.make_node("ReduceMean", ["first"], ["score"], keepdims=0),
    ]
    consts = [
        numpy_helper.from_array(np.array([0], np.int64), "starts"),
        numpy_helper.from_array(np.array([1], np.int64), "ends"),
        numpy_helper.from_array(np.array([1], np.int64), "axes"),
    ]
    model_bytes = _model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 8])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [])],
        consts,
    )
    image = _red_left_blue_right()
    rgb = OnnxModel(model_bytes, _meta(input_width=8, input_height=4, scale=1.0, threshold=50))
    bgr = OnnxModel(
        model_bytes, _meta(input_width=8, input_height=4, scale=1.0, threshold=50, color_order="BGR")
    )
    assert rgb.score(image) == pytest.approx(100.0)  # red 200 on half the pixels
    assert bgr.score(image) == pytest.approx(50.0)  # blue 100 on half
    assert rgb.judge(image).is_anomalous and rgb.judge(image).model_version == "v1"


def test_map_model_nhwc_takes_the_max_and_named_outputs():
    # Two outputs: "mean" (first) and "pixels" (the input itself, a map). The metadata names the map.
    nodes = [
        helper.make_node("ReduceMean", ["pixels_in"], ["mean"], keepdims=0),
        helper.make_node("Identity", ["pixels_in"], ["pixels"]),
    ]
    model_bytes = _model(
        nodes,
        [helper.make_tensor_value_info("pixels_in", TensorProto.FLOAT, [1, 4, 8, 3])],
        [
            helper.make_tensor_value_info("mean", TensorProto.FLOAT, []),
            helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 4, 8, 3]),
        ],
    )
    image = _red_left_blue_right()
    common = {"input_width": 8, "input_height": 4, "layout": "NHWC", "threshold": 0.5}
    as_map = OnnxModel(model_bytes, _meta(**common, output_kind="map", output_name="pixels"))
    first = OnnxModel(model_bytes, _meta(**common))
    assert as_map.output_name == "pixels" and first.output_name == "mean"
    assert as_map.input_name == "pixels_in"
    assert as_map.score(image) == pytest.approx(200 / 255, rel=1e-5)  # brightest value in the map
    assert first.score(image) == pytest.approx((200 + 100) / 255 / 2 / 3, rel=1e-5)
    assert as_map.judge(image).is_anomalous and not first.judge(image).is_anomalous


def test_wrong_input_size_fails_loudly():
    model_bytes = _model(
        [helper.make_node("ReduceMean", ["x"], ["score"], keepdims=0)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 8])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [])],
    )
    model = OnnxModel(model_bytes, _meta(input_width=16, input_height=16))
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        model.score(_red_left_blue_right())


def test_score_and_map_reads_the_named_map_output_and_rejects_a_missing_one():
    import numpy as np
    import onnx
    import pytest
    from onnx import TensorProto, helper
    from PIL import Image

    from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel

    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["x"], ["m"], kernel_shape=[8, 8], strides=[8, 8]),
            helper.make_node("ReduceMax", ["m"], ["s"], axes=[1, 2, 3], keepdims=0),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [
            helper.make_tensor_value_info("s", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info("m", TensorProto.FLOAT, [1, 3, 4, 4]),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    model_bytes = proto.SerializeToString()
    onnx.checker.check_model(proto)
    image = Image.new("RGB", (64, 64), (255, 0, 0))
    meta = ModelMetadata(model_version="m", input_width=32, input_height=32, extra={"map_output_name": "m"})
    score, amap = OnnxModel(model_bytes, meta).score_and_map(image)
    assert score == pytest.approx(1.0) and amap.shape[-2:] == (4, 4) and np.allclose(amap.max(), 1.0)
    score_only = OnnxModel(model_bytes, ModelMetadata(model_version="m", input_width=32, input_height=32))
    assert score_only.score_and_map(image) == (pytest.approx(1.0), None)
    with pytest.raises(ValueError, match="map output"):
        OnnxModel(model_bytes, ModelMetadata(model_version="m", extra={"map_output_name": "nope"}))
