"""PatchCore: the coreset, the served graph against its numpy reference, the threshold rule, end to end."""

import json

import numpy as np
import onnx
import onnxruntime
import pytest
from PIL import Image

from visionpipe.anomaly_model import backbone, patchcore
from visionpipe.anomaly_model.patchcore_training import MIN_TRUSTED_CALIBRATION, threshold_from_normals
from visionpipe.cli import main
from visionpipe.sample_data import render_image
from visionpipe_common.detectors.onnx_model import ModelMetadata, OnnxModel, preprocess


def _session(proto):
    return onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def test_greedy_coreset_covers_every_cluster():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 50, (5, 8)).astype(np.float32)
    # One big cluster and four small ones: random sampling would miss the small ones, k-center does not.
    sizes = [2000, 5, 5, 5, 5]
    points = np.concatenate(
        [c + rng.normal(0, 0.5, (n, 8)).astype(np.float32) for c, n in zip(centres, sizes, strict=True)]
    )
    chosen = patchcore.greedy_coreset(points, 5, np.random.default_rng(1), projection_dim=8)
    assert len(set(chosen.tolist())) == 5
    labels = np.repeat(np.arange(5), sizes)
    assert set(labels[chosen].tolist()) == {0, 1, 2, 3, 4}


def test_nearest_distances_match_brute_force():
    rng = np.random.default_rng(2)
    patches, bank = rng.normal(size=(300, 6)), rng.normal(size=(40, 6))
    expected = np.sqrt(((patches[:, None, :] - bank[None]) ** 2).sum(-1)).min(axis=1)
    np.testing.assert_allclose(
        patchcore.nearest_distances(patches, bank, chunk=64), expected, rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize(("taps", "channels"), [(1, 40), (2, 40 + 112)])
def test_served_graph_matches_the_numpy_reference(taps, channels):
    b = backbone.load()
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (2, 3, 128, 96)).astype(np.float32)
    features = _session(patchcore.feature_graph(b, taps=taps)).run(None, {"image": x})[0]
    d = channels + len(patchcore.COLOR_CHANNELS)
    assert features.shape == (2, d, 16, 12)
    transform, offset = patchcore.fit_whitening(features.transpose(0, 2, 3, 1).reshape(-1, d))
    moved = patchcore.transform_patches(features, transform, offset)
    flat = moved.transpose(0, 2, 3, 1).reshape(-1, d)
    bank = flat[rng.choice(len(flat), 50, replace=False)] + rng.normal(0, 0.1, (50, d)).astype(np.float32)
    served = patchcore.served_graph(b, bank, 128, 96, transform, offset, taps=taps)
    onnx.checker.check_model(served)
    score, amap = _session(served).run(None, {"image": x})
    want_score, want_map = patchcore.image_scores(moved, bank)
    assert amap.shape == (2, 1, 16, 12)
    np.testing.assert_allclose(amap, want_map, rtol=1e-3, atol=1e-2)
    np.testing.assert_allclose(score, want_score, rtol=1e-3, atol=1e-2)


def test_one_tap_keeps_only_the_backbone_nodes_it_needs():
    b = backbone.load()
    one, two = patchcore.feature_graph(b, 8, taps=1).graph, patchcore.feature_graph(b, 8, taps=2).graph
    assert len(one.node) < len(two.node) and len(one.initializer) < len(two.initializer)
    weights = sum(numpy_size(t) for t in one.initializer)
    assert weights < 0.5 * sum(numpy_size(t) for t in two.initializer)  # the stride-16 blocks are gone
    with pytest.raises(ValueError, match="outputs"):
        patchcore.feature_graph(b, 8, taps=3)


def numpy_size(tensor) -> int:
    return int(np.prod(tensor.dims))


def test_threshold_rule_uses_normals_only_and_flags_small_sets():
    normal = np.array([5.0, 5.5, 6.0, 6.5, 7.0])
    threshold, rule, calibration = threshold_from_normals(normal, 3.0)
    assert threshold == pytest.approx(6.0 + 3.0 * normal.std(ddof=1))
    assert threshold >= np.median(normal) and "out-of-fold normal" in rule
    assert calibration["trusted"] is False and "too" not in rule and "rough guess" in calibration["warning"]
    # One unusual normal among many widens the spread but does not set the threshold by itself.
    tailed = np.array([1.0, 1.2] * 10 + [9.0])
    threshold, _, calibration = threshold_from_normals(tailed, 2.5)
    assert threshold == pytest.approx(tailed.mean() + 2.5 * tailed.std(ddof=1))
    assert 1.2 < threshold < 9.0 and calibration["trusted"] is True and calibration["warning"] is None
    assert len(tailed) >= MIN_TRUSTED_CALIBRATION
    # Never below the median, whatever the spread.
    assert threshold_from_normals(np.array([3.0] * 25), 2.5)[0] == pytest.approx(3.0)
    with pytest.raises(ValueError):
        threshold_from_normals(np.array([1.0]), 3.0)


def test_patchcore_training_end_to_end(patchcore_trained):
    model_dir, report = patchcore_trained
    assert report.method == "patchcore"
    assert report.test["auroc"] >= 0.95
    assert report.test["recall"] >= 0.8 and report.test["false_positive_rate"] <= 0.1
    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    raw = json.loads((model_dir / "metadata.json").read_text())
    assert meta.output_name == "score" and raw["map_output_name"] == "anomaly_map"
    assert raw["model_type"] == "patchcore" and raw["map_stride"] == 8
    assert raw["calibration"]["normal_images"] == report.counts["calibration_normal"]
    assert "anomalous_recall" in raw["calibration"]  # checked on anomalies, not set by them
    assert raw["backbone"]["sha256"] == backbone.sha256_of(backbone.DEFAULT_BACKBONE)
    assert (model_dir / "model.onnx").stat().st_size < 20e6
    # The one served graph gives the score and the map for fresh images, through the backend's class.
    model = OnnxModel((model_dir / "model.onnx").read_bytes(), meta)
    image, details = render_image(123, "anomalous", 0, kind="crack")
    score, amap = model.session.run(
        ["score", "anomaly_map"], {"image": preprocess(Image.fromarray(image), meta)}
    )
    assert amap.shape == (1, 1, 32, 32) and float(score[0]) == pytest.approx(
        model.score(Image.fromarray(image))
    )
    # The map's hottest patch lies on the drawn crack (its box, in 256 x 256 input pixels).
    h, w = image.shape[:2]
    y, x = np.unravel_index(int(amap[0, 0].argmax()), (32, 32))
    x0, y0, x1, y1 = details["box"]
    cx, cy = (x + 0.5) * 8 * w / 256, (y + 0.5) * 8 * h / 256
    assert x0 - 0.1 * w <= cx <= x1 + 0.1 * w and y0 - 0.1 * h <= cy <= y1 + 0.1 * h


def test_cli_patchcore_says_when_calibration_is_too_small(small_set, tmp_path, capsys):
    data, _ = small_set
    few = tmp_path / "few"
    few.mkdir()
    for path in sorted((data / "normal").iterdir())[:12]:
        (few / path.name).write_bytes(path.read_bytes())
    assert main(["train-anomaly", str(few), "--out", str(tmp_path / "m"), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "patchcore" in printed and "WARNING: calibration set too small to trust" in printed
    raw = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert raw["calibration"]["trusted"] is False and raw["calibration"]["warning"]


def test_draft_decoding_agrees_with_full_decoding_on_real_photographs(tmp_path):
    """Large JPEG photos judged after draft (reduced) decoding score as after full decoding."""
    import io

    from skimage import data

    from visionpipe.anomaly_model import devset
    from visionpipe.anomaly_model.patchcore_training import PatchCoreConfig, train_patchcore
    from visionpipe_common.anomaly.images import decode_image

    root = devset.build(tmp_path, "retina", train=16, test_normal=0, per_kind=0, seed=2)
    model_dir = tmp_path / "model"
    train_patchcore(root / "train", model_dir, config=PatchCoreConfig(bank_size=256))
    meta = ModelMetadata.from_json((model_dir / "metadata.json").read_text())
    model = OnnxModel((model_dir / "model.onnx").read_bytes(), meta)
    source = data.retina()[300:1100, 300:1100]
    photos = []
    for i, (y, x) in enumerate([(0, 0), (200, 300), (400, 100)]):
        crop = np.array(source[y : y + 400, x : x + 400])
        if i == 2:  # one with a drawn hole
            rgb = crop.astype(np.float32)
            devset.hole(np.random.default_rng(0), rgb, (200.0, 200.0), 1.0)
            crop = np.clip(rgb, 0, 255).astype(np.uint8)
        big = Image.fromarray(crop).resize((2400, 2400), Image.Resampling.BICUBIC)  # a 5.8 MP photo
        buffer = io.BytesIO()
        big.save(buffer, format="JPEG", quality=90)
        photos.append(buffer.getvalue())
    for jpeg in photos:
        full = decode_image(jpeg, "p.jpg", 40_000_000)
        reduced = decode_image(jpeg, "p.jpg", 40_000_000, reduce_to=(meta.input_width, meta.input_height))
        assert reduced.pixels.size == (600, 600) and full.pixels.size == (2400, 2400)
        a, b = model.judge(full.pixels), model.judge(reduced.pixels)
        assert a.is_anomalous == b.is_anomalous
        assert abs(a.score - b.score) <= 0.1 * meta.threshold


def _color_features(pixels: np.ndarray) -> np.ndarray:
    """The colour channels of the feature graph for one RGB uint8 image (N=1)."""
    b = backbone.load()
    meta = ModelMetadata(
        model_version="t", input_width=pixels.shape[1], input_height=pixels.shape[0], scale=1.0,
        mean=b.mean, std=b.std, input_name="image", output_name="score", output_kind="score",
    )  # fmt: skip
    features = _session(patchcore.feature_graph(b)).run(
        None, {"image": preprocess(Image.fromarray(pixels), meta)}
    )[0]
    return features[0, -len(patchcore.COLOR_CHANNELS) :]


def test_color_channels_ignore_brightness_and_see_a_stain():
    from skimage import data

    gray = np.repeat(data.moon()[:128, :128, None], 3, axis=2)
    plain = _color_features(gray)
    assert plain.shape == (3, 16, 16)
    assert np.abs(plain[:2]).max() < 1e-3  # a gray part has no chroma
    brighter = _color_features(np.clip(gray.astype(np.float32) * 1.15, 0, 255).astype(np.uint8))
    np.testing.assert_allclose(brighter[2], plain[2], atol=0.03)  # relative luminance: brightness cancels
    stained = gray.astype(np.float32)
    stained[48:80, 48:80] = stained[48:80, 48:80] * 0.5 + np.array([200, 120, 40]) * 0.5  # an orange stain
    chroma = np.abs(_color_features(stained.astype(np.uint8))[:2]).sum(axis=0)
    y, x = np.unravel_index(int(chroma.argmax()), chroma.shape)
    assert 6 <= y <= 9 and 6 <= x <= 9 and chroma.max() > 0.1


def test_whitening_makes_training_patches_white_and_floors_rare_directions():
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(6, 6))
    patches = rng.normal(size=(5000, 6)) @ mixing * np.array([1, 2, 3, 4, 5, 6]) + 7.0
    patches[:, 5] = 0.5 * patches[:, 0]  # a direction with no variance of its own
    transform, offset = patchcore.fit_whitening(patches, shrinkage=1e-3)
    moved = patches @ transform + offset
    assert np.abs(moved.mean(axis=0)).max() < 1e-3
    eigenvalues = np.linalg.eigvalsh(np.cov(moved, rowvar=False))
    assert eigenvalues.max() == pytest.approx(1.0, abs=0.02)
    assert eigenvalues.min() < 0.01  # floored: the empty direction is not blown up to unit variance


def test_out_of_fold_scores_never_see_the_image_or_its_mirror_images():
    from visionpipe.anomaly_model.patchcore_training import PatchCoreConfig, _out_of_fold_scores

    rng = np.random.default_rng(7)
    distinct = rng.normal(0, 1, (12, 1, 6, 4, 4)).astype(np.float32)  # every image unlike the others
    views = np.concatenate([distinct, distinct, distinct], axis=1)  # its "mirror images" identical to it
    config = PatchCoreConfig(bank_size=10_000, calibration_folds=4)
    scores = _out_of_fold_scores(views, np.random.default_rng(0), config)
    # Had an image (or a view of it) been in its own fold's bank, its distance would be 0.
    assert scores.shape == (12,) and scores.min() > 0.5
    # The same images scored against a bank that holds them do score 0.
    from visionpipe.anomaly_model.patchcore_training import _fit_bank

    transform, offset, bank = _fit_bank(views, np.random.default_rng(0), config)
    own, _ = patchcore.image_scores(patchcore.transform_patches(views[:, 0], transform, offset), bank)
    assert own.max() < 1e-2
