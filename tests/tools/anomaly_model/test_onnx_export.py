"""The exported ONNX graph computes exactly the numpy reference model."""

import numpy as np
import onnx
import pytest
from PIL import Image

from visionpipe.anomaly_model import onnx_export
from visionpipe.anomaly_model.features import extract, learn_filters
from visionpipe.anomaly_model.gaussian import fit
from visionpipe.sample_data import render_image
from visionpipe_common.detectors.onnx_model import ModelMetadata, preprocess

H, W = 48, 64


@pytest.fixture(scope="module")
def reference():
    meta = ModelMetadata(model_version="t", input_width=W, input_height=H)
    normal = np.concatenate(
        [preprocess(Image.fromarray(render_image(4, "normal", i)[0]), meta) for i in range(12)]
    )
    probes = np.concatenate(
        [
            preprocess(Image.fromarray(render_image(4, "normal", 100)[0]), meta),
            preprocess(Image.fromarray(render_image(4, "anomalous", 0, "crack")[0]), meta),
            preprocess(Image.fromarray(render_image(4, "anomalous", 1, "stain")[0]), meta),
        ]
    )
    bank = learn_filters(
        normal, np.random.default_rng(0), fine_channels=8, coarse_channels=6, patches_per_image=100
    )
    gaussian = fit(extract(normal, bank))
    return bank, gaussian, probes


def test_feature_graph_matches_numpy(reference):
    bank, _, probes = reference
    session = onnx_export.session(onnx_export.build(bank, H, W))
    (onnx_features,) = session.run(None, {"image": probes})
    assert onnx_features.shape == (3, 14, H // 4, W // 4)
    np.testing.assert_allclose(onnx_features, extract(probes, bank), rtol=1e-4, atol=1e-4)


def test_full_graph_matches_numpy_map_and_score(reference):
    bank, gaussian, probes = reference
    model = onnx_export.build(bank, H, W, gaussian)
    session = onnx_export.session(model)
    assert [o.name for o in session.get_outputs()] == ["score", "anomaly_map"]
    score, anomaly_map = session.run(None, {"image": probes})
    expected_map = gaussian.distance_map(extract(probes, bank))
    np.testing.assert_allclose(anomaly_map, expected_map, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(score, expected_map.reshape(3, -1).max(axis=1), rtol=1e-3)
    # Batch of one (what the backend sends) gives the same numbers as the batch.
    (single,) = session.run(["score"], {"image": probes[1:2]})
    assert single[0] == pytest.approx(score[1], rel=1e-5)


def test_graph_is_valid_and_portable(reference, tmp_path):
    bank, gaussian, _ = reference
    model = onnx_export.build(bank, H, W, gaussian)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.ir_version == 8 and loaded.opset_import[0].version == 17
    ops = {node.op_type for node in loaded.graph.node}
    assert ops <= {
        "Conv",
        "Abs",
        "AveragePool",
        "Concat",
        "Reshape",
        "Transpose",
        "Sub",
        "Unsqueeze",
        "MatMul",
        "Mul",
        "ReduceSum",
        "Sqrt",
        "ReduceMax",
    }


def test_mismatched_gaussian_is_refused(reference):
    bank, gaussian, _ = reference
    with pytest.raises(ValueError):
        onnx_export.build(bank, H * 2, W, gaussian)
