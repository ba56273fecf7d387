"""A feature extractor learned from the normal images themselves (no pretrained weights).

PCANet-style: the convolution filters are the principal components of image patches of normal
parts, so they span exactly the local patterns the part shows (brushing streaks, grain, lighting
gradients) and little else; a defect projects onto them unusually, or breaks their statistics.

Two branches, both ending on the same grid (one feature vector per `stride` x `stride` cell):
- fine:   Conv(k_fine, PCA filters on full-resolution patches) -> Abs -> AvgPool(stride)
          local energy of each pattern: thin scratches and cracks change it;
- coarse: AvgPool(stride) -> Conv(k_coarse, PCA filters on the pooled image) (linear)
          shading and colour over a wider area: dents and stains change it.
This module holds the learned filters, learns them, and computes the features in numpy (the
reference the ONNX export is tested against). Training computes features through the exported
ONNX feature graph, so what is fitted is exactly what serves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class ConvBranch:
    """PCA filters (C, 3, k, k) and biases (C,) that centre the responses on normal data."""

    weights: np.ndarray
    bias: np.ndarray

    @property
    def kernel(self) -> int:
        return int(self.weights.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.weights.shape[0])


@dataclass(frozen=True)
class FilterBank:
    fine: ConvBranch
    coarse: ConvBranch
    stride: int

    @property
    def dim(self) -> int:
        return self.fine.channels + self.coarse.channels

    def grid(self, height: int, width: int) -> tuple[int, int]:
        return height // self.stride, width // self.stride


def avg_pool(batch: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, H // size, W // size), non-overlapping means (ONNX AveragePool)."""
    n, c, h, w = batch.shape
    h2, w2 = h // size, w // size
    return batch[:, :, : h2 * size, : w2 * size].reshape(n, c, h2, size, w2, size).mean(axis=(3, 5))


def conv_same(batch: np.ndarray, branch: ConvBranch) -> np.ndarray:
    """Zero-padded 'same' convolution (ONNX Conv semantics: cross-correlation)."""
    k = branch.kernel
    pad = k // 2
    padded = np.pad(batch, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, (k, k), axis=(2, 3))  # (N, 3, H, W, k, k)
    out = np.einsum("nchwij,ocij->nohw", windows, branch.weights, optimize=True)
    return out + branch.bias[None, :, None, None]


def extract(batch: np.ndarray, bank: FilterBank) -> np.ndarray:
    """(N, 3, H, W) preprocessed images -> (N, D, H / stride, W / stride) features (numpy reference)."""
    batch = batch.astype(np.float64)
    fine = avg_pool(np.abs(conv_same(batch, bank.fine)), bank.stride)
    coarse = conv_same(avg_pool(batch, bank.stride), bank.coarse)
    return np.concatenate([fine, coarse], axis=1).astype(np.float32)


def _patches(batch: np.ndarray, k: int, per_image: int, rng: np.random.Generator) -> np.ndarray:
    """Random k x k x 3 patches, flattened in the (c, i, j) order of Conv weights: (M, 3*k*k)."""
    n, c, h, w = batch.shape
    windows = sliding_window_view(batch, (k, k), axis=(2, 3))  # (N, C, H-k+1, W-k+1, k, k)
    ys = rng.integers(0, h - k + 1, size=(n, per_image))
    xs = rng.integers(0, w - k + 1, size=(n, per_image))
    images = np.repeat(np.arange(n), per_image)
    picked = windows[images, :, ys.reshape(-1), xs.reshape(-1)]  # (M, C, k, k)
    return picked.reshape(len(images), c * k * k).astype(np.float64)


def pca_branch(patches: np.ndarray, channels: int, k: int) -> ConvBranch:
    """Top principal components of the patches as Conv filters; bias centres responses at 0."""
    mean = patches.mean(axis=0)
    centred = patches - mean
    covariance = centred.T @ centred / max(len(patches) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:channels]
    components = eigenvectors[:, order].T  # (C, 3*k*k)
    # Deterministic sign: the largest-magnitude coefficient of each filter is positive.
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components *= signs[:, None]
    weights = components.reshape(channels, 3, k, k).astype(np.float32)
    bias = (-components @ mean).astype(np.float32)
    return ConvBranch(weights=weights, bias=bias)


def learn_filters(
    batch: np.ndarray,
    rng: np.random.Generator,
    fine_channels: int = 16,
    fine_kernel: int = 5,
    coarse_channels: int = 12,
    coarse_kernel: int = 5,
    stride: int = 4,
    patches_per_image: int = 400,
) -> FilterBank:
    """Learn both branches' PCA filters from preprocessed normal images (N, 3, H, W)."""
    fine = pca_branch(_patches(batch, fine_kernel, patches_per_image, rng), fine_channels, fine_kernel)
    pooled = avg_pool(batch.astype(np.float64), stride)
    coarse = pca_branch(
        _patches(pooled, coarse_kernel, max(patches_per_image // 4, 16), rng), coarse_channels, coarse_kernel
    )
    return FilterBank(fine=fine, coarse=coarse, stride=stride)
