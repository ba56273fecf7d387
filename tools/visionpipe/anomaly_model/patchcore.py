"""PatchCore: a memory bank of normal patch features; a patch's anomaly is its distance to the bank.

    image (N, 3, H, W) ─ backbone (frozen ONNX, pretrained; only the nodes the used outputs need)
                  │       ─ features_s8 (N, C0, H/8, W/8) [─ further outputs, Resize(bilinear) to it] ─┐
                  └─ pixels ─ AveragePool(8) ─ 3x3 mean ─ chroma (2) + relative luminance (1) ──────Concat
    ─ (N, D, h, w) ─ Reshape/Transpose ─ patches (N, h*w, D) ─ x whitening (D, D) + offset
    ─ squared distance to every bank row (|f|^2 - 2 f.m + |m|^2, one MatMul) ─ ReduceMin ─ Sqrt
    ─ anomaly_map (N, 1, h, w)
      ─ AveragePool 3x3 (smooths single-patch noise) ─ ReduceMax ─ score (N,)

Why the extras beyond the pretrained features (measured on the development photographs, see
devset.py): ImageNet features barely tell a smooth colour stain from the part around it (stain
AUROC 0.6-0.7 on moon and cell); three colour channels that ignore overall brightness lift it to
0.98-1.00. By default only the backbone's first (stride-8) output is used: with the colour channels
and whitening it measured as well as or better than adding the stride-16 one on every development
texture, at about half the backbone's time. Whitening the patch features with the training patches'
covariance (shrunk towards its largest eigenvalue, so rare directions count without amplifying noise)
makes the distance a Mahalanobis one: a feature that barely varies on normal parts counts when it does.

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
COLOR_CHANNELS = ("chroma_red_green", "chroma_yellow_blue", "relative_luminance")
_COLOR_OFFSET = 30.0  # added to R+G+B so chroma stays calm in near-black pixels


def _const(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(array), name=name)


def _needed(graph: onnx.GraphProto, outputs: list[str]) -> tuple[list, set[str]]:
    """The nodes (in order) and tensor names that `outputs` depend on: the rest of the backbone never runs."""
    wanted, kept = set(outputs), []
    for node in reversed(graph.node):
        if wanted.intersection(node.output):
            kept.append(node)
            wanted.update(n for n in node.input if n)
    return kept[::-1], wanted


def _backbone_nodes(backbone: Backbone, taps: int) -> tuple[list, list, list[str]]:
    """The nodes and initializers the first `taps` outputs need, renamed under a prefix; input: INPUT_NAME."""
    graph = backbone.proto.graph
    if not 1 <= taps <= len(backbone.output_names):
        raise ValueError(
            f"backbone {backbone.name} has {len(backbone.output_names)} outputs, asked for {taps}"
        )
    outputs = list(backbone.output_names[:taps])
    needed_nodes, needed_names = _needed(graph, outputs)

    def rename(name: str) -> str:
        if not name:
            return name
        return INPUT_NAME if name == backbone.input_name else _PREFIX + name

    nodes = []
    for node in needed_nodes:
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
    for tensor in (t for t in graph.initializer if t.name in needed_names):
        copy = onnx.TensorProto()
        copy.CopyFrom(tensor)
        copy.name = rename(tensor.name)
        initializers.append(copy)
    return nodes, initializers, [rename(o) for o in outputs]


def finest_stride(backbone: Backbone) -> int:
    """The stride of the backbone's first output (the patch grid), found by running it once."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        backbone.proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    side = 128
    first = session.run(
        [backbone.output_names[0]], {backbone.input_name: np.zeros((1, 3, side, side), np.float32)}
    )
    return side // int(first[0].shape[2])


def _color_nodes(backbone: Backbone, stride: int) -> tuple[list, list, str]:
    """Colour on the patch grid: (N, 3, H, W) normalised input -> (N, 3, H/stride, W/stride).

    Chroma (R-G and R+G-2B over R+G+B) does not change with overall brightness; luminance is
    relative to the image's own mean, so a brighter or darker shot of a normal part stays normal.
    """
    initializers = [
        _const("color_std", np.asarray(backbone.std, np.float32).reshape(1, 3, 1, 1)),
        _const("color_mean", np.asarray(backbone.mean, np.float32).reshape(1, 3, 1, 1)),
        _const(
            "color_opponent",
            np.array([[1, -1, 0], [1, 1, -2], [1 / 3, 1 / 3, 1 / 3]], np.float32).reshape(3, 3, 1, 1),
        ),
        _const("color_offset", np.array(_COLOR_OFFSET, np.float32)),
        _const("color_one", np.array(1.0, np.float32)),
        _const("color_axis_c", np.array([1], np.int64)),
        _const("color_c0", np.array([0], np.int64)),
        _const("color_c2", np.array([2], np.int64)),
        _const("color_c3", np.array([3], np.int64)),
    ]
    nodes = [
        helper.make_node("Mul", [INPUT_NAME, "color_std"], ["color_px0"], name="color_px0"),
        helper.make_node("Add", ["color_px0", "color_mean"], ["color_px"], name="color_px"),
        helper.make_node(
            "AveragePool",
            ["color_px"],
            ["color_cells"],
            kernel_shape=[stride, stride],
            strides=[stride, stride],
            name="color_cells",
        ),
        helper.make_node(
            "AveragePool",
            ["color_cells"],
            ["color_local"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            count_include_pad=0,
            name="color_local",
        ),
        helper.make_node("Conv", ["color_local", "color_opponent"], ["color_opp"], name="color_opp"),
        helper.make_node(
            "ReduceSum", ["color_local", "color_axis_c"], ["color_sum0"], keepdims=1, name="color_sum0"
        ),
        helper.make_node("Add", ["color_sum0", "color_offset"], ["color_sum"], name="color_sum"),
        helper.make_node(
            "Slice", ["color_opp", "color_c0", "color_c2", "color_axis_c"], ["color_ch"], name="color_ch"
        ),
        helper.make_node("Div", ["color_ch", "color_sum"], ["color_chroma"], name="color_chroma"),
        helper.make_node(
            "Slice", ["color_opp", "color_c2", "color_c3", "color_axis_c"], ["color_lum"], name="color_lum"
        ),
        helper.make_node(  # opset 17: axes is an attribute
            "ReduceMean", ["color_lum"], ["color_lum_mean0"], axes=[2, 3], keepdims=1, name="color_lum_mean0"
        ),
        helper.make_node("Add", ["color_lum_mean0", "color_one"], ["color_lum_mean"], name="color_lum_mean"),
        helper.make_node("Div", ["color_lum", "color_lum_mean"], ["color_rel_lum"], name="color_rel_lum"),
        helper.make_node(
            "Concat", ["color_chroma", "color_rel_lum"], ["color_features"], axis=1, name="color_cat"
        ),
    ]
    return nodes, initializers, "color_features"


def feature_graph(backbone: Backbone, stride: int | None = None, taps: int = 1) -> onnx.ModelProto:
    """First `taps` backbone outputs + colour: (N, 3, H, W) -> (N, D, H/s0, W/s0). Training runs this."""
    nodes, initializers, outputs = _backbone_nodes(backbone, taps)
    nodes = list(nodes)
    initializers = list(initializers)
    color_nodes, color_initializers, color_name = _color_nodes(backbone, stride or finest_stride(backbone))
    nodes += color_nodes
    initializers += color_initializers
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
    aligned.append(color_name)
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


def fit_whitening(patches: np.ndarray, shrinkage: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """(P, D) training patches -> (transform (D, D), offset (D,)) with patches @ transform + offset white.

    Channels are first scaled to unit spread (so no channel's units dominate the covariance); the
    covariance's eigenvalues are floored at `shrinkage` x the largest, so directions that never vary
    on normal parts count strongly without dividing by ~0.
    """
    patches = np.asarray(patches, np.float64)
    scale = 1.0 / (patches.std(axis=0) + 1e-3)
    scaled = patches * scale
    mean = scaled.mean(axis=0)
    covariance = np.cov(scaled - mean, rowvar=False)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, shrinkage * float(eigenvalues.max()))
    whitening = eigenvectors / np.sqrt(eigenvalues)
    transform = scale[:, None] * whitening
    return transform.astype(np.float32), (-(mean @ whitening)).astype(np.float32)


def transform_patches(features: np.ndarray, transform: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(N, D, h, w) features -> (N, K, h, w) in the bank's space (numpy reference of the served graph)."""
    n, d, h, w = features.shape
    flat = features.transpose(0, 2, 3, 1).reshape(-1, d) @ transform + offset
    return flat.reshape(n, h, w, -1).transpose(0, 3, 1, 2).astype(np.float32)


def served_graph(
    backbone: Backbone,
    bank: np.ndarray,
    height: int,
    width: int,
    transform: np.ndarray,
    offset: np.ndarray,
    stride: int | None = None,
    taps: int = 1,
) -> onnx.ModelProto:
    """One graph: backbone + bank + nearest-neighbour distance -> score (N,), anomaly_map (N, 1, h, w).

    Each patch's features f (D,) become f @ transform + offset (K,) first; the bank rows (M, K) are
    already in that space.
    """
    features = feature_graph(backbone, stride, taps).graph  # nodes and initializers reused below
    nodes = list(features.node)
    bank = bank.astype(np.float32)
    initializers = list(features.initializer) + [
        _const("feature_transform", np.asarray(transform, np.float32)),  # (D, K)
        _const("feature_offset", np.asarray(offset, np.float32)),  # (K,)
        _const("bank_t", np.ascontiguousarray(bank.T)),  # (D, M)
        _const("bank_sq", (bank.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)),  # (M,)
        _const("minus_two", np.array(-2.0, np.float32)),
        _const("zero", np.array(0.0, np.float32)),
        _const("axis_last", np.array([-1], np.int64)),
    ]
    nodes += [
        helper.make_node("Shape", [FEATURES_NAME], ["f_shape"], name="f_shape"),
        helper.make_node("Constant", [], ["nd_idx"], value=_const("nd_idx_v", np.array([0, 1], np.int64))),
        helper.make_node("Gather", ["f_shape", "nd_idx"], ["f_nd"], axis=0, name="f_nd"),
        helper.make_node("Constant", [], ["minus_one"], value=_const("m1", np.array([-1], np.int64))),
        helper.make_node("Concat", ["f_nd", "minus_one"], ["flat_shape"], axis=0, name="flat_shape"),
        helper.make_node("Reshape", [FEATURES_NAME, "flat_shape"], ["f_flat"], name="f_flat"),  # (N, D, P)
        helper.make_node(
            "Transpose", ["f_flat"], ["raw_patches"], perm=[0, 2, 1], name="raw_patches"
        ),  # (N,P,D)
        helper.make_node("MatMul", ["raw_patches", "feature_transform"], ["moved"], name="moved"),
        helper.make_node("Add", ["moved", "feature_offset"], ["patches"], name="patches"),  # (N, P, K)
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
