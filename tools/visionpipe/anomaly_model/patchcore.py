"""PatchCore: a memory bank of normal patch features; a patch's anomaly is its distance to the bank.

    image (N, 3, H, W) ─ backbone (frozen ONNX, pretrained) ─ features_s8 (N, C0, H/8, W/8) ─────┐
                                                     └─ features_s16 ─ Resize(bilinear, x2) ──────Concat
    ─ (N, D, h, w) ─ x per-channel scale (1 / training std) ─ Reshape/Transpose ─ patches (N, h*w, D)
    ─ squared distance to every bank row (|f|^2 - 2 f.m + |m|^2, one MatMul) ─ ReduceMin ─ Sqrt
    ─ anomaly_map (N, 1, h, w)
      ─ AveragePool 3x3 (smooths single-patch noise) ─ ReduceMax ─ score (N,)

Fitting is numpy on features from the backbone run by onnxruntime: every training patch is a
candidate; a greedy coreset (k-center: repeatedly take the patch farthest from those chosen,
measured in a fixed random projection for speed) picks a bank that covers them all, so the nearest
bank row is close to the nearest training patch at a fraction of the size and time.
The served graph is built with onnx.helper from the backbone's own graph plus these nodes.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from visionpipe.anomaly_model.backbone import Backbone

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "image"
SCORE_NAME = "score"
MAP_NAME = "anomaly_map"
FEATURES_NAME = "patch_features"
_PREFIX = "backbone/"


def _const(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(array), name=name)


def _backbone_nodes(backbone: Backbone) -> tuple[list, list, list[str]]:
    """The backbone's nodes and initializers, renamed under a prefix; its input becomes INPUT_NAME."""
    graph = backbone.proto.graph

    def rename(name: str) -> str:
        if not name:
            return name
        return INPUT_NAME if name == backbone.input_name else _PREFIX + name

    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = _PREFIX + node.name
        copy.input[:] = [rename(n) for n in node.input]
        copy.output[:] = [rename(n) for n in node.output]
        for attribute in copy.attribute:
            if attribute.g.node:  # subgraphs (If/Loop) are not expected in a feature extractor
                raise ValueError("backbones with subgraphs are not supported")
        nodes.append(copy)
    initializers = []
    for tensor in graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.name = rename(tensor.name)
        initializers.append(copy)
    return nodes, initializers, [rename(o) for o in backbone.output_names]


def feature_graph(backbone: Backbone) -> onnx.ModelProto:
    """Backbone + resize/concat: (N, 3, H, W) -> patch features (N, D, H/s0, W/s0). Training runs this."""
    nodes, initializers, outputs = _backbone_nodes(backbone)
    nodes = list(nodes)
    initializers = list(initializers)
    aligned = [outputs[0]]
    shape_name = "grid_shape"
    nodes.append(helper.make_node("Shape", [outputs[0]], ["s0_shape"], name="s0_shape"))
    initializers += [_const("hw_start", np.array([2], np.int64)), _const("hw_end", np.array([4], np.int64))]
    nodes.append(helper.make_node("Slice", ["s0_shape", "hw_start", "hw_end"], ["s0_hw"], name="s0_hw"))
    for i, name in enumerate(outputs[1:], start=1):
        nodes.append(helper.make_node("Shape", [name], [f"tap{i}_shape"], name=f"tap{i}_shape"))
        initializers.append(_const(f"nc_start_{i}", np.array([0], np.int64)))
        initializers.append(_const(f"nc_end_{i}", np.array([2], np.int64)))
        nodes.append(
            helper.make_node(
                "Slice", [f"tap{i}_shape", f"nc_start_{i}", f"nc_end_{i}"], [f"tap{i}_nc"], name=f"tap{i}_nc"
            )
        )
        nodes.append(
            helper.make_node("Concat", [f"tap{i}_nc", "s0_hw"], [f"{shape_name}_{i}"], axis=0, name=f"sz{i}")
        )
        nodes.append(
            helper.make_node(
                "Resize",
                [name, "", "", f"{shape_name}_{i}"],
                [f"tap{i}_resized"],
                mode="linear",
                coordinate_transformation_mode="half_pixel",
                name=f"tap{i}_resize",
            )
        )
        aligned.append(f"tap{i}_resized")
    nodes.append(helper.make_node("Concat", aligned, [FEATURES_NAME], axis=1, name="features_concat"))
    graph = helper.make_graph(
        nodes,
        "patchcore_features",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info(FEATURES_NAME, TensorProto.FLOAT, ["N", "D", "h", "w"])],
        initializers,
    )
    return _model(graph, backbone)


def _model(graph: onnx.GraphProto, backbone: Backbone) -> onnx.ModelProto:
    opset = max([OPSET] + [o.version for o in backbone.proto.opset_import if o.domain in ("", "ai.onnx")])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="visionpipe"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def served_graph(
    backbone: Backbone, bank: np.ndarray, height: int, width: int, scale: np.ndarray
) -> onnx.ModelProto:
    """One graph: backbone + bank + nearest-neighbour distance -> score (N,), anomaly_map (N, 1, h, w).

    scale (D,) multiplies each feature channel first (the bank rows are already scaled).
    """
    features = feature_graph(backbone).graph  # nodes and initializers reused below
    nodes = list(features.node)
    bank = bank.astype(np.float32)
    initializers = list(features.initializer) + [
        _const("feature_scale", scale.astype(np.float32).reshape(1, -1, 1, 1)),
        _const("bank_t", np.ascontiguousarray(bank.T)),  # (D, M)
        _const("bank_sq", (bank.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)),  # (M,)
        _const("minus_two", np.array(-2.0, np.float32)),
        _const("zero", np.array(0.0, np.float32)),
        _const("axis_last", np.array([-1], np.int64)),
    ]
    nodes += [
        helper.make_node("Mul", [FEATURES_NAME, "feature_scale"], ["scaled"], name="scaled"),
        helper.make_node("Shape", ["scaled"], ["f_shape"], name="f_shape"),
        helper.make_node("Constant", [], ["nd_idx"], value=_const("nd_idx_v", np.array([0, 1], np.int64))),
        helper.make_node("Gather", ["f_shape", "nd_idx"], ["f_nd"], axis=0, name="f_nd"),
        helper.make_node("Constant", [], ["minus_one"], value=_const("m1", np.array([-1], np.int64))),
        helper.make_node("Concat", ["f_nd", "minus_one"], ["flat_shape"], axis=0, name="flat_shape"),
        helper.make_node("Reshape", ["scaled", "flat_shape"], ["f_flat"], name="f_flat"),  # (N, D, P)
        helper.make_node("Transpose", ["f_flat"], ["patches"], perm=[0, 2, 1], name="patches"),  # (N, P, D)
        helper.make_node("Mul", ["patches", "patches"], ["p_sq_e"], name="p_sq_e"),
        helper.make_node("ReduceSum", ["p_sq_e", "axis_last"], ["p_sq"], keepdims=1, name="p_sq"),  # (N,P,1)
        helper.make_node("MatMul", ["patches", "bank_t"], ["dots"], name="dots"),  # (N, P, M)
        helper.make_node("Mul", ["dots", "minus_two"], ["dots_m2"], name="dots_m2"),
        helper.make_node("Add", ["dots_m2", "bank_sq"], ["partial"], name="partial"),
        helper.make_node("ReduceMin", ["partial"], ["nearest"], axes=[-1], keepdims=1, name="nearest"),
        helper.make_node("Add", ["nearest", "p_sq"], ["d2"], name="d2"),
        helper.make_node("Max", ["d2", "zero"], ["d2_pos"], name="d2_pos"),  # rounding can dip below 0
        helper.make_node("Sqrt", ["d2_pos"], ["dist"], name="dist"),  # (N, P, 1)
        helper.make_node("Shape", [FEATURES_NAME], ["f_shape2"], name="f_shape2"),
        helper.make_node("Constant", [], ["hw_idx"], value=_const("hw_idx_v", np.array([2, 3], np.int64))),
        helper.make_node("Gather", ["f_shape2", "hw_idx"], ["f_hw"], axis=0, name="f_hw"),
        helper.make_node("Constant", [], ["n1"], value=_const("n1_v", np.array([-1, 1], np.int64))),
        helper.make_node("Concat", ["n1", "f_hw"], ["map_shape"], axis=0, name="map_shape"),
        helper.make_node("Reshape", ["dist", "map_shape"], [MAP_NAME], name="anomaly_map"),
        helper.make_node(
            "AveragePool",
            [MAP_NAME],
            ["smoothed"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            count_include_pad=0,
            name="smooth",
        ),
        helper.make_node("ReduceMax", ["smoothed"], [SCORE_NAME], axes=[1, 2, 3], keepdims=0, name="score"),
    ]
    graph = helper.make_graph(
        nodes,
        "patchcore",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, height, width])],
        [
            helper.make_tensor_value_info(SCORE_NAME, TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info(MAP_NAME, TensorProto.FLOAT, ["N", 1, "h", "w"]),
        ],
        initializers,
    )
    return _model(graph, backbone)


def greedy_coreset(
    patches: np.ndarray, size: int, rng: np.random.Generator, projection_dim: int = 128
) -> np.ndarray:
    """Indices of `size` patches chosen by greedy k-center (farthest point first) selection.

    Distances are measured after a fixed Gaussian random projection (Johnson-Lindenstrauss keeps them
    roughly), which makes each step a (P, d) pass instead of (P, D).
    """
    n, d = patches.shape
    if size >= n:
        return np.arange(n)
    if d > projection_dim:
        projection = rng.normal(0.0, 1.0 / np.sqrt(projection_dim), (d, projection_dim)).astype(np.float32)
        reduced = patches @ projection
    else:
        reduced = patches.astype(np.float32)
    chosen = np.empty(size, np.int64)
    chosen[0] = int(rng.integers(n))
    nearest = ((reduced - reduced[chosen[0]]) ** 2).sum(axis=1)
    for i in range(1, size):
        chosen[i] = int(np.argmax(nearest))
        np.minimum(nearest, ((reduced - reduced[chosen[i]]) ** 2).sum(axis=1), out=nearest)
    return chosen


def nearest_distances(patches: np.ndarray, bank: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """(P, D) patches -> (P,) Euclidean distance to the nearest bank row (numpy reference)."""
    bank = bank.astype(np.float32)
    bank_sq = (bank**2).sum(axis=1)
    out = np.empty(len(patches), np.float32)
    for start in range(0, len(patches), chunk):
        p = patches[start : start + chunk].astype(np.float32)
        d2 = (p**2).sum(axis=1, keepdims=True) - 2.0 * (p @ bank.T) + bank_sq
        out[start : start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def image_scores(features: np.ndarray, bank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D, h, w) features -> scores (N,) and maps (N, 1, h, w), as the served graph computes them."""
    n, d, h, w = features.shape
    patches = features.transpose(0, 2, 3, 1).reshape(-1, d)
    maps = nearest_distances(patches, bank).reshape(n, 1, h, w)
    padded = np.pad(maps, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ones = np.pad(np.ones((h, w), np.float32), 1)
    total = sum(padded[:, :, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    count = sum(ones[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    return (total / count).reshape(n, -1).max(axis=1), maps
