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
