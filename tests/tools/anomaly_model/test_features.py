"""The PCA filter bank and the numpy reference features."""

import numpy as np
import pytest

from visionpipe.anomaly_model.features import (
    ConvBranch,
    avg_pool,
    conv_same,
    extract,
    learn_filters,
    pca_branch,
)


def test_avg_pool_matches_block_means():
    batch = np.arange(2 * 1 * 4 * 6, dtype=np.float64).reshape(2, 1, 4, 6)
    pooled = avg_pool(batch, 2)
    assert pooled.shape == (2, 1, 2, 3)
    assert pooled[1, 0, 1, 2] == pytest.approx(batch[1, 0, 2:4, 4:6].mean())


def test_conv_same_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    batch = rng.normal(size=(1, 3, 6, 7))
    branch = ConvBranch(
        weights=rng.normal(size=(2, 3, 3, 3)).astype(np.float32), bias=np.array([0.5, -1], np.float32)
    )
    out = conv_same(batch, branch)
    padded = np.pad(batch, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for o in range(2):
        for y in range(6):
            for x in range(7):
                expected = (padded[0, :, y : y + 3, x : x + 3] * branch.weights[o]).sum() + branch.bias[o]
                assert out[0, o, y, x] == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_pca_filters_are_orthonormal_ordered_and_centre_responses():
    rng = np.random.default_rng(1)
    # Patches with most variance along one known direction.
    direction = rng.normal(size=12)
    direction /= np.linalg.norm(direction)
    patches = rng.normal(size=(5000, 1)) * 5 * direction + rng.normal(size=(5000, 12)) * 0.3 + 2.0
    branch = pca_branch(patches, channels=4, k=2)
    flat = branch.weights.reshape(4, 12).astype(np.float64)
    assert np.allclose(flat @ flat.T, np.eye(4), atol=1e-5)
    assert abs(flat[0] @ direction) > 0.99
    responses = patches @ flat.T + branch.bias
    assert np.allclose(responses.mean(axis=0), 0.0, atol=1e-3)
    variances = responses.var(axis=0)
    assert np.all(np.diff(variances) <= 1e-9)


def test_learn_filters_and_extract_shapes_and_determinism():
    rng = np.random.default_rng(2)
    batch = rng.random((6, 3, 24, 32)).astype(np.float32)
    bank = learn_filters(
        batch, np.random.default_rng(5), fine_channels=6, coarse_channels=4, patches_per_image=50
    )
    again = learn_filters(
        batch, np.random.default_rng(5), fine_channels=6, coarse_channels=4, patches_per_image=50
    )
    assert np.array_equal(bank.fine.weights, again.fine.weights)
    assert bank.dim == 10 and bank.grid(24, 32) == (6, 8)
    feats = extract(batch, bank)
    assert feats.shape == (6, 10, 6, 8) and feats.dtype == np.float32
    assert np.all(feats[:, :6] >= 0)  # the fine branch is an energy (Abs) before pooling
