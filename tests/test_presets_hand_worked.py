"""Presets against small cases worked out by hand from each framework's source.

The map is 4 rows x 5 columns with X[y, x] = 10*y + x, so that inside the map a bilinear sample
at (y, x) is exactly 10*y + x and every expected number below is arithmetic on the box. The
expected values are written out, never computed by the engine under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from roialign_cli import roi_align

H, W = 4, 5
RAMP = (10 * np.arange(H)[:, None] + np.arange(W)[None, :]).astype(np.float32)[None, None]  # [1, 1, 4, 5]


def pool(rois, preset, output_size=(2, 2), spatial_scale=1.0, features=RAMP, **kwargs):
    rois = np.asarray(rois, dtype=np.float64)
    return roi_align(features, rois, output_size, spatial_scale, preset=preset, backend="numpy", **kwargs)[:, 0]


# ---------------------------------------------------------------------------------------------
# caffe-ssd-roialign (UrwLee/Experience .../roi_align_layer.cpp, CPU): boxes relative, times the
# FEATURE size (W = 5, H = 4); start clamped >= 0, end clamped <= W-1 / H-1; size = end - start + 1
# (>= 1); bin = size / 2; one sample at start + (p + 0.5) * bin, clamped to [0, W-1]; neighbours
# x0 = floor(c), x1 = min(x0 + 1, W-1) with weights c - x0 (to x1) and x1 - c (to x0): a centre on
# the last column (x = 4) or row (y = 3) has both weights 0, so its output is 0.
CAFFE_SSD = [
    # A: (0, 0, 0.4, 0.5) -> x: 0..2, y: 0..2; size 3, bin 1.5; centres 0.75, 2.25 on both axes
    ([0, 0.0, 0.0, 0.4, 0.5], [[7.5 + 0.75, 7.5 + 2.25], [22.5 + 0.75, 22.5 + 2.25]]),
    # B, touching the bottom-right border: (0.5, 0.5, 1, 1) -> x: 2.5..5 clamped to 4, size 2.5,
    # bin 1.25, centres 3.125 and 4.375 -> 4 (last column); y: 2..4 clamped to 3, size 2, bin 1,
    # centres 2.5 and 3.5 -> 3 (last row). Only (2.5, 3.125) is away from the border: 25 + 3.125.
    ([0, 0.5, 0.5, 1.0, 1.0], [[28.125, 0.0], [0.0, 0.0]]),
    # C, partly outside: (-0.2, -0.25, 0.3, 0.25) -> x: -1 -> 0 .. 1.5, size 2.5, bin 1.25, centres
    # 0.625, 1.875; y: -1 -> 0 .. 1, size 2, bin 1, centres 0.5, 1.5
    ([0, -0.2, -0.25, 0.3, 0.25], [[5 + 0.625, 5 + 1.875], [15 + 0.625, 15 + 1.875]]),
    # D, a point: (0.25, 0.25, 0.25, 0.25) -> x: 1.25, size 1, bin 0.5, centres 1.5, 2.0;
    # y: 1.0, centres 1.25, 1.75
    ([0, 0.25, 0.25, 0.25, 0.25], [[12.5 + 1.5, 12.5 + 2.0], [17.5 + 1.5, 17.5 + 2.0]]),
]


@pytest.mark.parametrize("roi, expected", CAFFE_SSD)
def test_caffe_ssd_roialign(roi, expected):
    # spatial_scale is unused by the layer: a scale of 1/8 must change nothing
    out = pool([roi], "caffe-ssd-roialign", spatial_scale=0.125)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-5)


def test_caffe_ssd_roialign_gpu_inter_times_4():
    """The GPU kernel with inter_times 4: the max of 2x2 samples at (p + 1/4) and (p + 3/4) of a bin.
    Box A again: bin 1.5, so bin 0 samples 0.375, 1.125 and bin 1 samples 1.875, 2.625 per axis;
    on the ramp the max sits at the largest y and x of each bin."""
    out = pool([CAFFE_SSD[0][0]], "caffe-ssd-roialign", options={"inter_times": "4"})
    expected = [[11.25 + 1.125, 11.25 + 2.625], [26.25 + 1.125, 26.25 + 2.625]]
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# caffe-roialignment (nqanh/affordance-net .../roi_alignment_layer.cpp, CPU), spatial_scale 0.5:
# start = x1*s; size = max(x2*s - x1*s + 1, 1); bin = size / 2; bin edges start + p*bin and
# start + (p+1)*bin, each clamped to [0, W-1]; one sample at the middle of the clamped edges;
# neighbours floor and ceil clamped to the map, ratio c - floor(c).
CAFFE_ROIALIGNMENT = [
    # A: (0, 0, 4, 4) -> 0..2, size 3, bin 1.5; edges [0, 1.5] and [1.5, 3]: centres 0.75, 2.25
    ([0, 0, 0, 4, 4], [[7.5 + 0.75, 7.5 + 2.25], [22.5 + 0.75, 22.5 + 2.25]]),
    # B, touching the bottom-right border: (6, 4, 8, 6) -> x: 3..4, size 2, bin 1, edges [3, 4] and
    # [4, 5 -> 4]: centres 3.5 and 4 (the last column, read as is); y: 2..3, edges [2, 3] and
    # [3, 4 -> 3]: centres 2.5 and 3 (the last row)
    ([0, 6, 4, 8, 6], [[25 + 3.5, 25 + 4], [30 + 3.5, 30 + 4]]),
    # C, partly outside: (-4, -2, 2, 2) -> x: -2..1, size 4, bin 2, edges [-2, 0] -> [0, 0] and
    # [0, 2]: centres 0 and 1; y: -1..1, size 3, bin 1.5, edges [-1, 0.5] -> [0, 0.5] and [0.5, 2]:
    # centres 0.25 and 1.25
    ([0, -4, -2, 2, 2], [[2.5 + 0, 2.5 + 1], [12.5 + 0, 12.5 + 1]]),
    # D, a point: (2, 2, 2, 2) -> 1, size 1, bin 0.5: centres 1.25, 1.75 on both axes
    ([0, 2, 2, 2, 2], [[12.5 + 1.25, 12.5 + 1.75], [17.5 + 1.25, 17.5 + 1.75]]),
]


@pytest.mark.parametrize("roi, expected", CAFFE_ROIALIGNMENT)
def test_caffe_roialignment(roi, expected):
    out = pool([roi], "caffe-roialignment", spatial_scale=0.5)
    np.testing.assert_allclose(out[0], expected, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# What distinguishes the presets that have no peer here.


def test_mmcv_max_is_the_max_of_interpolated_samples():
    """mmcv (aligned): box (0.5, 0.5, 4.5, 2.5), one bin, 2x2 samples: x 0..4 -> samples 1, 3;
    y 0..2 -> samples 0.5, 1.5. The max of 10*y + x is 15 + 3 = 18. onnxruntime's corner-max of the
    same samples: at (1.5, 3) the corners weigh 0.5 (y = 1, 2) and 1 (x = 3): max(0.5*13, 0.5*23) = 11.5."""
    roi = [[0, 0.5, 0.5, 4.5, 2.5]]
    assert pool(roi, "mmcv", (1, 1), mode="max", sampling_ratio=2).item() == pytest.approx(18.0)
    assert pool(roi, "onnxruntime", (1, 1), mode="max", sampling_ratio=2).item() == pytest.approx(11.5)
    assert pool(roi, "mmcv", (1, 1), sampling_ratio=2).item() == pytest.approx((5 + 15) / 2 + (1 + 3) / 2)


def test_mmcv_max_counts_outside_samples_as_zero_and_empty_bins_as_minus_flt_max():
    """On a map of -5: box x -3..1, y 1..3 (aligned: x -3.5..0.5, samples -2.5 (outside [-1, W]:
    0) and -0.5 (clamped to 0: -5); y samples 1, 2). max(0, -5) = 0; the average is -2.5.
    A box of zero width has an empty adaptive grid: mmcv's CUDA max leaves -FLT_MAX."""
    negative = np.full((1, 1, H, W), -5.0, np.float32)
    roi = [[0, -3, 1, 1, 3]]
    assert pool(roi, "mmcv", (1, 1), features=negative, mode="max", sampling_ratio=2).item() == 0.0
    assert pool(roi, "mmcv", (1, 1), features=negative, sampling_ratio=2).item() == pytest.approx(-2.5)
    empty = pool([[0, 1, 1, 1, 3]], "mmcv", (1, 1), mode="max")
    assert empty.item() == np.float32(-3.4028234663852886e38)


def test_openvino_max_starts_at_zero():
    """OpenVINO's running max starts at 0: on an all-negative map every bin gives 0 (mmcv: -5)."""
    negative = np.full((1, 1, H, W), -5.0, np.float32)
    roi = [[0, 0, 0, 3, 2]]
    assert np.all(pool(roi, "openvino-max", features=negative) == 0.0)
    assert np.all(pool(roi, "mmcv", features=negative, mode="max") == -5.0)
    assert np.all(pool(roi, "openvino-half-pixel", features=negative, mode="max") == 0.0)


def test_openvino_half_pixel_offsets_before_scaling():
    """spatial_scale 0.5, box (2, 2, 4, 4), one bin, one sample. OpenVINO half_pixel:
    start (2 + 0.5)*0.5 - 0.5 = 0.75, end (4 + 0.5)*0.5 - 0.5 = 1.75, sample 1.25: 12.5 + 1.25.
    torchvision aligned (= OpenVINO half_pixel_for_nn): start 0.5, end 1.5, sample 1.0: 11."""
    roi = [[0, 2, 2, 4, 4]]
    kw = dict(output_size=(1, 1), spatial_scale=0.5, sampling_ratio=1)
    assert pool(roi, "openvino-half-pixel", **kw).item() == pytest.approx(13.75)
    assert pool(roi, "torchvision-aligned", **kw).item() == pytest.approx(11.0)
    for_nn = pool(roi, "openvino-half-pixel", options={"aligned_mode": "half_pixel_for_nn"}, **kw)
    assert for_nn.item() == pytest.approx(11.0)


def test_mmdet_v1_adds_one_to_the_end():
    """mmdetection v1: box (0, 0, 1, 1) ends at (1 + 1)*1 = 2, one bin, one sample at 1.0: 10 + 1.
    torchvision aligned=False: end 1, sample at 0.5: 5 + 0.5. A box with x2 = x1 - 1 has size 0:
    an empty adaptive grid, 0/0 = NaN."""
    assert pool([[0, 0, 0, 1, 1]], "mmdet-v1", (1, 1), sampling_ratio=1).item() == pytest.approx(11.0)
    assert pool([[0, 0, 0, 1, 1]], "caffe2", (1, 1), sampling_ratio=1).item() == pytest.approx(5.5)
    assert math.isnan(pool([[0, 2, 0, 1, 1]], "mmdet-v1", (1, 1)).item())


def test_tensorrt_empty_grid_is_nan_in_avg_and_zero_in_max():
    """ROIAlign_TRT divides by grid_h * grid_w without a floor: a zero-width box (half pixel mode,
    adaptive) gives 0/0 = NaN; its max keeps 0. onnxruntime floors the count at 1: 0."""
    roi = [[0, 2, 1, 2, 3]]
    assert math.isnan(pool(roi, "tensorrt", (1, 1)).item())
    assert pool(roi, "tensorrt", (1, 1), mode="max").item() == 0.0
    assert pool(roi, "onnxruntime", (1, 1)).item() == 0.0
