"""The trained model as one ONNX graph, built node by node with onnx.helper.

    image (N, 3, H, W) ──Conv(fine PCA)──Abs──AveragePool(s)──┐
          └──AveragePool(s)──Conv(coarse PCA)────────────────Concat── features (N, D, h, w)
    features ─Reshape/Transpose─ (N, P, D) ─Sub(mean)─Unsqueeze─MatMul(whiten)─ (N, P, 1, D)
             ─Mul(x, x)─ReduceSum─Sqrt─Reshape─ anomaly_map (N, 1, h, w) ─ReduceMax─ score (N,)

Outputs: "score" first (the onnx backend reads the first output; metadata names it too), then
"anomaly_map" for heat maps. The same builder without the Gaussian head gives the feature graph
training runs, so the features fitted are the features served.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from visionpipe.anomaly_model.features import FilterBank
from visionpipe.anomaly_model.gaussian import PatchGaussian

OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.10
INPUT_NAME = "image"
SCORE_NAME = "score"
MAP_NAME = "anomaly_map"
FEATURES_NAME = "features"


def _const(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(array), name=name)


def _feature_nodes(bank: FilterBank) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    s, pf, pc = bank.stride, bank.fine.kernel // 2, bank.coarse.kernel // 2
    initializers = [
        _const("fine_w", bank.fine.weights.astype(np.float32)),
        _const("fine_b", bank.fine.bias.astype(np.float32)),
        _const("coarse_w", bank.coarse.weights.astype(np.float32)),
        _const("coarse_b", bank.coarse.bias.astype(np.float32)),
    ]
    nodes = [
        helper.make_node(
            "Conv", [INPUT_NAME, "fine_w", "fine_b"], ["fine_resp"], pads=[pf] * 4, name="fine_conv"
        ),
        helper.make_node("Abs", ["fine_resp"], ["fine_energy"], name="fine_abs"),
        helper.make_node(
            "AveragePool", ["fine_energy"], ["fine"], kernel_shape=[s, s], strides=[s, s], name="fine_pool"
        ),
        helper.make_node(
            "AveragePool", [INPUT_NAME], ["pooled"], kernel_shape=[s, s], strides=[s, s], name="pool"
        ),
        helper.make_node(
            "Conv", ["pooled", "coarse_w", "coarse_b"], ["coarse"], pads=[pc] * 4, name="coarse_conv"
        ),
        helper.make_node("Concat", ["fine", "coarse"], [FEATURES_NAME], axis=1, name="concat"),
    ]
    return nodes, initializers


def _gaussian_nodes(gaussian: PatchGaussian) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    h, w = gaussian.grid
    d, p = gaussian.dim, h * w
    initializers = [
        _const("rows_shape", np.array([0, d, p], np.int64)),
        _const("map_shape", np.array([0, 1, h, w], np.int64)),
        _const("axis_2", np.array([2], np.int64)),
        _const("axes_23", np.array([2, 3], np.int64)),
        _const("gauss_mean", gaussian.mean.astype(np.float32)),
        _const("gauss_whiten", gaussian.whiten.astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Reshape", [FEATURES_NAME, "rows_shape"], ["cols"], name="flatten_grid"),
        helper.make_node("Transpose", ["cols"], ["rows"], perm=[0, 2, 1], name="to_rows"),
        helper.make_node("Sub", ["rows", "gauss_mean"], ["centred"], name="centre"),
        helper.make_node("Unsqueeze", ["centred", "axis_2"], ["centred_row"], name="as_row_vectors"),
        helper.make_node("MatMul", ["centred_row", "gauss_whiten"], ["whitened"], name="whiten"),
        helper.make_node("Mul", ["whitened", "whitened"], ["squared"], name="square"),
        helper.make_node("ReduceSum", ["squared", "axes_23"], ["distance2"], keepdims=0, name="sum_squares"),
        helper.make_node("Sqrt", ["distance2"], ["distance"], name="mahalanobis"),
        helper.make_node("Reshape", ["distance", "map_shape"], [MAP_NAME], name="to_map"),
        helper.make_node(
            "ReduceMax", [MAP_NAME], [SCORE_NAME], axes=[1, 2, 3], keepdims=0, name="image_score"
        ),
    ]
    return nodes, initializers


def build(
    bank: FilterBank, height: int, width: int, gaussian: PatchGaussian | None = None
) -> onnx.ModelProto:
    """The full model (score + anomaly_map), or only the feature extractor when gaussian is None."""
    h, w = bank.grid(height, width)
    nodes, initializers = _feature_nodes(bank)
    if gaussian is None:
        outputs = [helper.make_tensor_value_info(FEATURES_NAME, TensorProto.FLOAT, ["batch", bank.dim, h, w])]
        name = "visionpipe-anomaly-features"
    else:
        if gaussian.grid != (h, w) or gaussian.dim != bank.dim:
            raise ValueError(
                f"Gaussian fitted on a {gaussian.grid} x {gaussian.dim} grid, features are {(h, w)}"
            )
        head_nodes, head_initializers = _gaussian_nodes(gaussian)
        nodes, initializers = nodes + head_nodes, initializers + head_initializers
        outputs = [
            helper.make_tensor_value_info(SCORE_NAME, TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info(MAP_NAME, TensorProto.FLOAT, ["batch", 1, h, w]),
        ]
        name = "visionpipe-anomaly-padim-pca"
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, height, width])],
        outputs,
        initializer=initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="visionpipe train-anomaly",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def session(model: onnx.ModelProto, threads: int = 0):
    """An onnxruntime CPU session for an in-memory model."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
