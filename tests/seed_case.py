"""The seed case of the reference (section 1): SSD DetectionOutput rows of a 576x192 image, stride 8."""

from __future__ import annotations

import numpy as np

SEED_IMAGE = (576, 192)  # width x height of the seed detector's input
SEED_STRIDE = 8  # p3_conv is 72 x 24


def seed_detections(rng, real: int = 16, padding: int = 2) -> np.ndarray:
    """SSD DetectionOutput [1, 1, K, 7] float32, relative coordinates, padding rows of -1 at the end."""
    x1, y1 = rng.uniform(0.0, 0.8, real), rng.uniform(0.0, 0.7, real)
    x2 = np.minimum(x1 + rng.uniform(0.05, 0.35, real), 1.0)
    y2 = np.minimum(y1 + rng.uniform(0.1, 0.5, real), 1.0)
    x2[0], y2[0] = 1.0, 1.0  # one box touches the bottom-right corner
    rows = np.stack([np.zeros(real), rng.integers(1, 4, real), rng.uniform(0.3, 1.0, real), x1, y1, x2, y2], 1)
    return np.concatenate([rows, -np.ones((padding, 7))]).astype(np.float32)[None, None]


def hand_converted(detections: np.ndarray) -> np.ndarray:
    """The Caffe intent, by hand: batch, then relative coordinates times the image width and height."""
    rows = detections.reshape(-1, 7).astype(np.float64)
    rows = rows[rows[:, 0] != -1]
    width, height = SEED_IMAGE
    return np.stack(
        [rows[:, 0], rows[:, 3] * width, rows[:, 4] * height, rows[:, 5] * width, rows[:, 6] * height], axis=1
    )
