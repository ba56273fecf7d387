"""Tiny real ONNX models built with onnx.helper, run by the real onnxruntime."""

import json

import onnx
from onnx import TensorProto, helper


def mean_brightness_model(height: int = 32, width: int = 32, input_name: str = "image") -> bytes:
    """score = mean of the (already scaled) input: bright images score high."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", [input_name], ["score"], keepdims=0)],
        "mean_brightness",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def brightness_metadata(version: str = "test-1", threshold: float = 0.5, size: int = 32) -> bytes:
    return json.dumps(
        {
            "model_version": version,
            "input_width": size,
            "input_height": size,
            "layout": "NCHW",
            "scale": 1 / 255,
            "threshold": threshold,
            "score_spread": 0.05,
        }
    ).encode()


def brightness_map_model(size: int = 64, stride: int = 8) -> bytes:
    """A model that also says where: anomaly_map = brightness per stride x stride patch (N, 1, h, w);
    score = max of its 3x3 mean (the served PatchCore graph's shape of outputs)."""
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["grey"], axes=[1], keepdims=1),
            helper.make_node(
                "AveragePool",
                ["grey"],
                ["anomaly_map"],
                kernel_shape=[stride, stride],
                strides=[stride, stride],
            ),
            helper.make_node(
                "AveragePool",
                ["anomaly_map"],
                ["smoothed"],
                kernel_shape=[3, 3],
                pads=[1, 1, 1, 1],
                count_include_pad=0,
            ),
            helper.make_node("ReduceMax", ["smoothed"], ["score"], axes=[1, 2, 3], keepdims=0),
        ],
        "brightness_map",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, [1]),
            helper.make_tensor_value_info(
                "anomaly_map", TensorProto.FLOAT, [1, 1, size // stride, size // stride]
            ),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def brightness_map_metadata(version: str = "map-1", threshold: float = 0.5, size: int = 64) -> bytes:
    return json.dumps(
        {
            "model_version": version,
            "input_width": size,
            "input_height": size,
            "scale": 1 / 255,
            "threshold": threshold,
            "score_spread": 0.05,
            "output_name": "score",
            "map_output_name": "anomaly_map",
        }
    ).encode()
