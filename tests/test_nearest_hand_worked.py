"""`tf-crop-and-resize` with method=nearest against cases worked out by hand from TensorFlow's
tensorflow/core/kernels/image/crop_and_resize_op.cc, on every engine.

TF, per output point (float arithmetic):
    height_scale = crop_h > 1 ? (y2 - y1) * (H - 1) / (crop_h - 1) : 0
    in_y = crop_h > 1 ? y1 * (H - 1) + y * height_scale : 0.5 * (y1 + y2) * (H - 1)
    a point with in_y or in_x outside [0, H - 1] / [0, W - 1] is extrapolation_value, else
    image[roundf(in_y), roundf(in_x)]  (roundf: halves away from zero, 2.5 -> 3)
The image is 3 x 6 with value 10 * y + x, so that each output names the pixel it read.
"""

from __future__ import annotations

import numpy as np
import pytest

from host_kernel import build_host_kernel
from roialign_cli import roi_align
from roialign_cli.engines import numpy_engine, reference_engine
from roialign_cli.presets import resolve

IMAGE = (10.0 * np.arange(3)[:, None] + np.arange(6)[None, :]).astype(np.float32)[None, None]  # [1, 1, 3, 6]

# (TF box [y1, x1, y2, x2], crop size, extrapolation value, expected crop), worked out by hand
CASES = {
    # height_scale = 1 * 2 / 2 = 1: in_y = 0, 1, 2; width_scale = 1 * 5 / 2 = 2.5: in_x = 0, 2.5, 5 -> 0, 3, 5
    "whole image, halves round up": ([0, 0, 1, 1], (3, 3), 0.0, [[0, 3, 5], [10, 13, 15], [20, 23, 25]]),
    # flipped: height_scale = -1: in_y = 2, 1, 0; width_scale = -2.5: in_x = 5, 2.5, 0 -> 5, 3, 0
    # (2.5 still rounds to 3: the crop is not the mirror image of the one above)
    "flipped box": ([1, 1, 0, 0], (3, 3), 0.0, [[25, 23, 20], [15, 13, 10], [5, 3, 0]]),
    # crop 1x1: in_y = 0.5 * (0 + 0.5) * 2 = 0.5 -> 1; in_x = 0.5 * (0 + 0.5) * 5 = 1.25 -> 1
    "1x1 crop takes the centre": ([0, 0, 0.5, 0.5], (1, 1), 0.0, [[11]]),
    # height_scale = 1 * 2 / 2 = 1: in_y = -1 (outside: fill), 0, 1; width_scale = 1 * 5 / 1 = 5: in_x = 0, 5
    "extrapolation above": ([-0.5, 0, 0.5, 1], (3, 2), -1.0, [[-1, -1], [0, 5], [10, 15]]),
    # height_scale = 1 * 2 / 1 = 2: in_y = 0, 2; width_scale = 5: in_x = 2.5 -> 3, 7.5 (outside: fill)
    "extrapolation right": ([0, 0.5, 1, 1.5], (2, 2), 7.0, [[3, 7], [23, 7]]),
}


def host_pool(features, rois, size, scale, conv):
    pool = build_host_kernel()
    if pool is None:
        pytest.skip("g++ is not installed")
    return pool(features, rois, size, scale, conv)


ENGINES = {"numpy": numpy_engine.pool, "reference": reference_engine.pool, "host kernel": host_pool}


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("case", list(CASES))
def test_nearest_crops(case, engine):
    (y1, x1, y2, x2), size, fill, expected = CASES[case]
    conv = resolve("tf-crop-and-resize", options={"method": "nearest", "extrapolation_value": str(fill)})
    rois = np.array([[0, x1, y1, x2, y2]], dtype=np.float64)
    out = ENGINES[engine](IMAGE, rois, size, 1.0, conv)
    np.testing.assert_array_equal(out[0, 0], np.array(expected, dtype=np.float32))


def test_bilinear_stays_the_default():
    # the same whole-image crop, bilinear: in_x = 2.5 reads (2 + 3) / 2
    out = roi_align(IMAGE, [[0, 0, 0, 1, 1]], (3, 3), preset="tf-crop-and-resize", backend="numpy")
    np.testing.assert_allclose(out[0, 0, 0], [0, 2.5, 5])


def test_nearest_is_refused_with_corner_max():
    from roialign_cli.conventions import Convention

    with pytest.raises(ValueError, match="nearest"):
        Convention(interpolation="nearest", pooling="corner-max")
