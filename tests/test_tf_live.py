"""`tf-crop-and-resize` against TensorFlow itself, where tensorflow(-cpu) is installed: random
images and boxes (partly outside, flipped, degenerate), both methods, crop sizes 1 and more,
channels-last in and out. Skipped without TensorFlow (the committed fixtures cover CI)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from roialign_cli import roi_align

tf = pytest.importorskip("tensorflow")


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
@pytest.mark.parametrize("crop", [(1, 1), (1, 4), (6, 5), (16, 11)])
def test_matches_tensorflow(method, crop):
    rng = np.random.default_rng(zlib.crc32(f"{method} {crop}".encode()))
    image = rng.standard_normal((2, 11, 8, 5)).astype(np.float32)
    k = 40
    boxes = rng.uniform(-0.4, 1.4, (k, 4)).astype(np.float32)
    boxes[:5] = np.round(boxes[:5] * 4) / 4  # on quarter pixels of the normalized grid
    boxes[5, 2:] = boxes[5, :2]  # a point
    indices = rng.integers(0, 2, k).astype(np.int32)
    expected = tf.image.crop_and_resize(image, boxes, indices, crop, method=method, extrapolation_value=-0.5).numpy()
    y1, x1, y2, x2 = boxes.T.astype(np.float64)
    rois = np.stack([indices, x1, y1, x2, y2], axis=1)
    options = {"method": method, "extrapolation_value": "-0.5"}
    ours = roi_align(image, rois, crop, preset="tf-crop-and-resize", options=options, backend="numpy", layout="nhwc")
    tolerance = 0 if method == "nearest" else 1e-5
    np.testing.assert_allclose(ours, expected, rtol=0, atol=tolerance)
