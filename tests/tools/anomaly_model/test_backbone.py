"""The shipped backbone: the committed file is the recorded one, follows its contract, is pretrained."""

import numpy as np
import onnx
import onnxruntime
import pytest
from PIL import Image
from skimage import data

from visionpipe.anomaly_model import backbone


def test_shipped_file_matches_recorded_sha256():
    digests = backbone.shipped_digests()
    assert set(digests) == {backbone.DEFAULT_BACKBONE.name}
    assert backbone.sha256_of(backbone.DEFAULT_BACKBONE) == digests[backbone.DEFAULT_BACKBONE.name]


def test_shipped_backbone_follows_the_contract():
    b = backbone.load()
    assert b.output_names == ("features_s8", "features_s16")
    assert b.mean == (127.0, 127.0, 127.0) and b.std == (128.0, 128.0, 128.0)
    session = onnxruntime.InferenceSession(str(b.path), providers=["CPUExecutionProvider"])
    for size in (128, 256):
        x = np.zeros((2, 3, size, size), np.float32)
        s8, s16 = session.run(None, {b.input_name: x})
        assert s8.shape == (2, 40, size // 8, size // 8)
        assert s16.shape == (2, 112, size // 16, size // 16)


def test_backbone_features_tell_photographs_apart():
    """Pretrained features: two crops of the same photograph are closer than crops of different ones."""
    b = backbone.load()
    session = onnxruntime.InferenceSession(str(b.path), providers=["CPUExecutionProvider"])

    def embed(pixels):
        rgb = Image.fromarray(pixels).convert("RGB").resize((128, 128))
        x = (np.asarray(rgb, np.float32) - np.float32(127.0)) / np.float32(128.0)
        s8, _ = session.run(None, {b.input_name: x.transpose(2, 0, 1)[None]})
        return s8.mean(axis=(2, 3))[0]

    moon, coins = data.moon(), data.coins()
    a, a2, c = embed(moon[:200, :200]), embed(moon[250:450, 250:450]), embed(coins[:200, :200])
    assert np.linalg.norm(a - a2) < np.linalg.norm(a - c)


def test_load_rejects_a_file_outside_the_contract(tmp_path):
    four_channels = onnx.helper.make_model(
        onnx.helper.make_graph(
            [onnx.helper.make_node("Identity", ["x"], ["y"])],
            "g",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 4, "h", "w"])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 4, "h", "w"])],
        )
    )
    path = tmp_path / "bad.onnx"
    onnx.save(four_channels, str(path))
    with pytest.raises(ValueError, match=r"input must be \(N, 3, H, W\)"):
        backbone.load(path)
    with pytest.raises(FileNotFoundError):
        backbone.load(tmp_path / "missing.onnx")
