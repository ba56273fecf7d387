"""Haar cascade classifiers evaluated with numpy.

OpenCV 5 dropped `cv2.CascadeClassifier` (and the pip wheels no longer ship `cv2.data` cascades), so
this module reads OpenCV's cascade XML format itself and evaluates it the way OpenCV 4's
`detectMultiScale` does: an image pyramid, a 24x24-style window slid over every level, the
variance-normalised Haar features of each boosted stage, then `groupRectangles`. Stump cascades
(`haarcascade_frontalface_default.xml`, `_alt`, eyes, bodies, cat faces) are supported; tilted
features and tree cascades are refused with a clear error.

Windows are evaluated in bulk: at each pyramid level every candidate window is a row, every weak
classifier of a stage a column, and windows that fail a stage are dropped before the next one.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - cascade files are local model artifacts
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

THRESHOLD_EPS = 1e-5  # OpenCV's tolerance on stage thresholds
MAX_GATHER = 4_000_000  # elements per bulk gather (bounds memory on the first, widest stages)


class CascadeFormatError(ValueError):
    """The cascade file is not a stump-based Haar cascade in OpenCV's XML format."""


@dataclass(frozen=True)
class _Stage:
    threshold: float
    feature_index: np.ndarray  # (K,) feature per weak classifier
    node_threshold: np.ndarray  # (K,)
    left: np.ndarray  # (K,) leaf value when feature < threshold * norm
    right: np.ndarray  # (K,)


@dataclass(frozen=True)
class Detection:
    x: int
    y: int
    width: int
    height: int
    neighbours: int


def _numbers(text: str | None) -> list[float]:
    return [float(v) for v in (text or "").split()]


class HaarCascade:
    """A stump-based Haar cascade read from OpenCV's XML format."""

    def __init__(self, path: str | Path):
        root = ET.parse(path).getroot()  # noqa: S314 - local artifact, not untrusted input
        cascade = root.find("cascade")
        if cascade is None:
            raise CascadeFormatError(f"{path}: no <cascade> element (old-format cascades are not supported)")
        if (cascade.findtext("featureType") or "").strip().upper() != "HAAR":
            raise CascadeFormatError(f"{path}: only HAAR cascades are supported")
        self.window = (int(cascade.findtext("width")), int(cascade.findtext("height")))
        # Features: up to three weighted rectangles, padded to three with zero weight.
        rects, weights = [], []
        for feature in cascade.find("features"):
            if (feature.findtext("tilted") or "0").strip() == "1":
                raise CascadeFormatError(f"{path}: tilted Haar features are not supported")
            boxes = [_numbers(r.text) for r in feature.find("rects")]
            boxes += [[0, 0, 0, 0, 0.0]] * (3 - len(boxes))
            rects.append([b[:4] for b in boxes])
            weights.append([b[4] for b in boxes])
        self._rects = np.asarray(rects, dtype=np.int64)  # (F, 3, 4) x, y, w, h
        self._weights = np.asarray(weights, dtype=np.float64)  # (F, 3)
        self.stages: list[_Stage] = []
        for stage in cascade.find("stages"):
            nodes, leaves = [], []
            for weak in stage.find("weakClassifiers"):
                internal = _numbers(weak.findtext("internalNodes"))
                if len(internal) != 4:
                    raise CascadeFormatError(f"{path}: tree cascades are not supported (stumps only)")
                nodes.append(internal)
                leaves.append(_numbers(weak.findtext("leafValues")))
            nodes_a, leaves_a = np.asarray(nodes), np.asarray(leaves)
            self.stages.append(
                _Stage(
                    threshold=float(stage.findtext("stageThreshold")),
                    feature_index=nodes_a[:, 2].astype(np.int64),
                    node_threshold=nodes_a[:, 3],
                    left=leaves_a[:, 0],
                    right=leaves_a[:, 1],
                )
            )

    # ------------------------------------------------------------------ evaluation
    def _corner_offsets(self, stride: int) -> np.ndarray:
        """Flat integral-image offsets (F, 3, 4) of each rectangle's corners, relative to a window."""
        x, y, w, h = (self._rects[..., i] for i in range(4))
        return np.stack(
            [y * stride + x, y * stride + x + w, (y + h) * stride + x, (y + h) * stride + x + w], -1
        )

    def _passing_windows(self, gray: np.ndarray, step: int) -> np.ndarray:
        """Top-left corners (N, 2) of the windows of one pyramid level that pass every stage."""
        win_w, win_h = self.window
        height, width = gray.shape
        integral, squared = cv2.integral2(gray, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
        stride = width + 1
        flat, flat_sq = integral.ravel(), squared.ravel()
        ys, xs = np.mgrid[0 : height - win_h + 1 : step, 0 : width - win_w + 1 : step]
        xs, ys = xs.ravel(), ys.ravel()
        base = ys * stride + xs
        # Variance normalisation over the window minus a one-pixel border (as OpenCV does).
        nr = np.array(
            [stride + 1, stride + win_w - 1, (win_h - 1) * stride + 1, (win_h - 1) * stride + win_w - 1]
        )
        area = (win_w - 2) * (win_h - 2)
        total = flat[base + nr[3]] - flat[base + nr[1]] - flat[base + nr[2]] + flat[base + nr[0]]
        total_sq = (
            flat_sq[base + nr[3]] - flat_sq[base + nr[1]] - flat_sq[base + nr[2]] + flat_sq[base + nr[0]]
        )
        norm = area * total_sq - total * total
        norm = np.where(norm > 0, np.sqrt(np.maximum(norm, 0)), 1.0)
        offsets = self._corner_offsets(stride)
        keep = np.arange(base.size)
        for stage in self.stages:
            if keep.size == 0:
                break
            stage_weights = self._weights[stage.feature_index]  # (K, 3)
            if keep.size * 2 > base.size:  # most windows still alive: strided slices beat gathers
                values = self._dense_values(integral, stage, xs.size and (ys.max() + 1, xs.max() + 1), step)
                values = values[keep]
                below = values < stage.node_threshold[None, :] * norm[keep, None]
                sums = np.where(below, stage.left, stage.right).sum(axis=1)
                keep = keep[sums >= stage.threshold - THRESHOLD_EPS]
                continue
            stage_offsets = offsets[stage.feature_index]  # (K, 3, 4)
            chunk = max(1, MAX_GATHER // stage_offsets.size)
            sums = np.empty(keep.size)
            for start in range(0, keep.size, chunk):
                idx = keep[start : start + chunk]
                corners = flat[base[idx, None, None, None] + stage_offsets[None]]  # (n, K, 3, 4)
                rect_sums = corners[..., 3] - corners[..., 1] - corners[..., 2] + corners[..., 0]
                values = np.einsum("nkr,kr->nk", rect_sums, stage_weights)
                below = values < stage.node_threshold[None, :] * norm[idx, None]
                sums[start : start + idx.size] = np.where(below, stage.left, stage.right).sum(axis=1)
            keep = keep[sums >= stage.threshold - THRESHOLD_EPS]
        return np.stack([xs[keep], ys[keep]], axis=1)

    def _dense_values(
        self, integral: np.ndarray, stage: _Stage, extent: tuple[int, int], step: int
    ) -> np.ndarray:
        """Feature values (windows, K) of one stage for every window of the level, row-major like the grid."""
        rows, cols = extent
        values = np.zeros(((rows + step - 1) // step * ((cols + step - 1) // step), stage.feature_index.size))
        for k, feature in enumerate(stage.feature_index):
            total = 0.0
            for (x, y, w, h), weight in zip(self._rects[feature], self._weights[feature], strict=True):
                if weight == 0:
                    continue

                def corner(dy: int, dx: int) -> np.ndarray:
                    return integral[dy : dy + rows : step, dx : dx + cols : step]  # noqa: B023

                total = total + weight * (
                    corner(y + h, x + w) - corner(y, x + w) - corner(y + h, x) + corner(y, x)
                )
            values[:, k] = np.ravel(total)
        return values

    def detect(
        self,
        gray: np.ndarray,
        scale_factor: float = 1.1,
        min_neighbours: int = 3,
        min_size: tuple[int, int] = (0, 0),
        max_size: tuple[int, int] | None = None,
    ) -> list[Detection]:
        """Objects in an 8-bit grayscale image, grouped like OpenCV's detectMultiScale."""
        if gray.ndim != 2:
            raise ValueError("detect() needs a single-channel image")
        if scale_factor <= 1.0:
            raise ValueError("scale_factor must be > 1")
        height, width = gray.shape
        win_w, win_h = self.window
        max_w, max_h = max_size or (width, height)
        candidates: list[tuple[int, int, int, int]] = []
        factor = 1.0
        while True:
            scaled_w, scaled_h = round(width / factor), round(height / factor)
            window_w, window_h = round(win_w * factor), round(win_h * factor)
            if scaled_w - win_w + 1 <= 0 or scaled_h - win_h + 1 <= 0 or window_w > max_w or window_h > max_h:
                break
            if window_w >= min_size[0] and window_h >= min_size[1]:
                level = (
                    gray
                    if factor == 1.0
                    else cv2.resize(gray, (scaled_w, scaled_h), interpolation=cv2.INTER_LINEAR)
                )
                step = 1 if factor > 2 else 2
                for x, y in self._passing_windows(level, step):
                    candidates.append((round(x * factor), round(y * factor), window_w, window_h))
            factor *= scale_factor
        return group_rectangles(candidates, min_neighbours)


def group_rectangles(
    rects: list[tuple[int, int, int, int]], threshold: int, eps: float = 0.2
) -> list[Detection]:
    """OpenCV's groupRectangles: cluster similar boxes, average each cluster, keep those above threshold."""
    if not rects:
        return []
    boxes = np.asarray(rects, dtype=np.float64)
    if threshold <= 0:
        return [Detection(int(x), int(y), int(w), int(h), 1) for x, y, w, h in boxes]
    x, y, w, h = boxes.T
    delta = eps * (np.minimum.outer(w, w) + np.minimum.outer(h, h)) * 0.5
    similar = (
        (np.abs(np.subtract.outer(x, x)) <= delta)
        & (np.abs(np.subtract.outer(y, y)) <= delta)
        & (np.abs(np.subtract.outer(x + w, x + w)) <= delta)
        & (np.abs(np.subtract.outer(y + h, y + h)) <= delta)
    )
    parent = list(range(len(rects)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(similar, 1)), strict=True):
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[rj] = ri
    clusters: dict[int, list[int]] = {}
    for i in range(len(rects)):
        clusters.setdefault(find(i), []).append(i)
    averaged = [
        (np.round(boxes[members].mean(axis=0)).astype(int), len(members)) for members in clusters.values()
    ]
    kept = []
    for i, (r1, n1) in enumerate(averaged):
        if n1 <= threshold:
            continue
        inside_bigger = False
        for j, (r2, n2) in enumerate(averaged):
            if j == i or n2 <= threshold:
                continue
            dx, dy = round(r2[2] * eps), round(r2[3] * eps)
            if (
                r1[0] >= r2[0] - dx
                and r1[1] >= r2[1] - dy
                and r1[0] + r1[2] <= r2[0] + r2[2] + dx
                and r1[1] + r1[3] <= r2[1] + r2[3] + dy
                and (n2 > max(3, n1) or n1 < 3)
            ):
                inside_bigger = True
                break
        if not inside_bigger:
            kept.append(Detection(int(r1[0]), int(r1[1]), int(r1[2]), int(r1[3]), n1))
    return kept
