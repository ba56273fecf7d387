"""PaDiM's per-position Gaussian: where each grid cell's feature vector of a normal part lies.

For every grid position p the normal features are modelled as N(mean_p, cov_p). The covariance is
estimated from the position and its neighbours (a 3 x 3 window: more samples, still local) and shrunk
towards the covariance pooled over all positions (the texture is largely the same everywhere), plus
a small ridge: with ~100 training images a raw 28 x 28 covariance per position would be noisy.

The anomaly of a feature vector f at p is its Mahalanobis distance sqrt((f - mean_p)^T cov_p^-1 (f - mean_p)),
computed as || (f - mean_p) @ whiten_p || with whiten_p = inverse(cholesky(cov_p))^T, which is what the
ONNX graph runs (one small MatMul per position).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchGaussian:
    mean: np.ndarray  # (P, D) float32
    whiten: np.ndarray  # (P, D, D) float32, row vector @ whiten -> whitened
    grid: tuple[int, int]  # (h, w), P = h * w

    @property
    def dim(self) -> int:
        return int(self.mean.shape[1])

    def distance_map(self, features: np.ndarray) -> np.ndarray:
        """(N, D, h, w) features -> (N, 1, h, w) Mahalanobis distances (numpy reference)."""
        n, d, h, w = features.shape
        rows = features.reshape(n, d, h * w).transpose(0, 2, 1).astype(np.float64) - self.mean
        whitened = np.einsum("npd,pde->npe", rows, self.whiten.astype(np.float64))
        return np.sqrt((whitened**2).sum(axis=2)).reshape(n, 1, h, w).astype(np.float32)


def _neighbourhood_mean(per_position: np.ndarray, grid: tuple[int, int], radius: int) -> np.ndarray:
    """Average (P, ...) arrays over a (2r+1)^2 window of grid neighbours (edges use what exists)."""
    h, w = grid
    values = per_position.reshape(h, w, -1)
    padded = np.pad(values, ((radius, radius), (radius, radius), (0, 0)))
    ones = np.pad(np.ones((h, w, 1)), ((radius, radius), (radius, radius), (0, 0)))
    total, count = np.zeros_like(values), np.zeros((h, w, 1))
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            total += padded[dy : dy + h, dx : dx + w]
            count += ones[dy : dy + h, dx : dx + w]
    return (total / count).reshape(per_position.shape)


def fit(
    features: np.ndarray, shrinkage: float = 0.3, ridge: float = 0.01, neighbourhood: int = 1
) -> PatchGaussian:
    """Fit per-position Gaussians to normal features (N, D, h, w).

    shrinkage: weight of the pooled covariance (0 = purely local, 1 = one covariance everywhere);
    ridge: added to the diagonal, relative to the pooled covariance's mean variance.
    """
    n, d, h, w = features.shape
    if n < 2:
        raise ValueError("need at least 2 normal images to fit the Gaussians")
    rows = features.reshape(n, d, h * w).transpose(0, 2, 1).astype(np.float64)  # (N, P, D)
    mean = rows.mean(axis=0)
    centred = rows - mean
    by_position = np.ascontiguousarray(centred.transpose(1, 0, 2))  # (P, N, D)
    local = np.matmul(by_position.transpose(0, 2, 1), by_position) / (n - 1)  # (P, D, D), batched BLAS
    if neighbourhood:
        local = _neighbourhood_mean(local, (h, w), neighbourhood)
    pooled = local.mean(axis=0)
    covariance = (1.0 - shrinkage) * local + shrinkage * pooled
    covariance += np.eye(d) * (ridge * np.trace(pooled) / d)
    cholesky = np.linalg.cholesky(covariance)  # cov = L L^T
    inverse = np.linalg.inv(cholesky)  # L^-1: whitened column = L^-1 x
    whiten = inverse.transpose(0, 2, 1)  # row form: x @ (L^-1)^T
    return PatchGaussian(mean=mean.astype(np.float32), whiten=whiten.astype(np.float32), grid=(h, w))
