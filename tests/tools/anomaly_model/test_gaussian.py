"""Per-position Gaussians: Mahalanobis distances against the textbook formula."""

import numpy as np
import pytest

from visionpipe.anomaly_model.gaussian import fit


def _features(rng, n=80, d=4, h=3, w=5):
    mixing = rng.normal(size=(d, d))
    base = rng.normal(size=(n, h * w, d)) @ mixing + np.arange(h * w)[None, :, None] * 0.1
    return base.transpose(0, 2, 1).reshape(n, d, h, w).astype(np.float32)


def test_distance_equals_textbook_mahalanobis_without_regularisation():
    rng = np.random.default_rng(0)
    feats = _features(rng)
    model = fit(feats, shrinkage=0.0, ridge=0.0, neighbourhood=0)
    probe = _features(np.random.default_rng(1), n=3)
    distances = model.distance_map(probe)
    assert distances.shape == (3, 1, 3, 5)
    rows = feats.reshape(80, 4, 15).transpose(0, 2, 1).astype(np.float64)
    for p in (0, 7, 14):
        mean = rows[:, p].mean(axis=0)
        cov = np.cov(rows[:, p], rowvar=False)
        x = probe.reshape(3, 4, 15)[:, :, p].astype(np.float64)
        expected = np.sqrt(np.einsum("nd,de,ne->n", x - mean, np.linalg.inv(cov), x - mean))
        assert distances.reshape(3, 15)[:, p] == pytest.approx(expected, rel=1e-4)


def test_training_data_is_whitened_and_shrinkage_blends_towards_pooled():
    rng = np.random.default_rng(2)
    feats = _features(rng, n=400)
    model = fit(feats, shrinkage=0.0, ridge=0.0, neighbourhood=0)
    rows = feats.reshape(400, 4, 15).transpose(0, 2, 1).astype(np.float64) - model.mean
    whitened = np.einsum("npd,pde->npe", rows, model.whiten.astype(np.float64))
    cov = np.einsum("npd,npe->pde", whitened, whitened) / 399
    assert np.allclose(cov, np.eye(4), atol=1e-3)
    # Full shrinkage: one covariance everywhere, so every position's whitening is the same.
    pooled = fit(feats, shrinkage=1.0, ridge=0.0, neighbourhood=0)
    assert np.allclose(pooled.whiten[0], pooled.whiten[9], atol=1e-6)


def test_an_outlier_scores_higher_than_inliers():
    rng = np.random.default_rng(3)
    feats = _features(rng)
    model = fit(feats)
    probe = feats[:2].copy()
    probe[1, :, 1, 2] += 25.0
    distances = model.distance_map(probe)
    assert distances[1, 0, 1, 2] > 5 * distances[0, 0].max()


def test_needs_two_images():
    with pytest.raises(ValueError):
        fit(np.zeros((1, 2, 2, 2), np.float32))
