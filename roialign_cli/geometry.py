"""The specification of RoIAlign's geometry, for every convention: where a roi lies in feature
pixels, its bins, the sample points of each bin, and the two pixels (taps) and weights that each
sample reads along each axis under the border rule and the interpolation (bilinear: two
pixels; nearest: one pixel of weight 1, read twice with the second tap weighing 0, so that every
engine reads nearest sampling through the same two taps).

RoIPool is the same model on a quantized grid (`grid='pixels'`): rounded box edges, bins of
whole pixels, each pixel one sample read as it is.

Every engine and picture reads these functions: the reference engine loops over them per roi and
bin, the NumPy engine turns them into interpolation matrices, and kernels/roi_align.cu computes
the same numbers per thread. The two axes are independent, so each function works on one axis
of many rois at once (arrays over rois, bins and samples); the axis (Y or X) picks the
convention's sampling ratio and the spatial scale of that axis.

Geometry runs in the features' compute precision (float32 for float16 and float32 features, as
torchvision does), in the same order of operations as the reference kernels, so that floors and
adaptive grid sizes agree with them exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .conventions import Convention


def axis_scales(spatial_scale) -> tuple[float, float]:
    """A spatial scale as (y, x): one number serves both axes."""
    if isinstance(spatial_scale, (int, float, np.floating, np.integer)):
        return float(spatial_scale), float(spatial_scale)
    sy, sx = spatial_scale
    return float(sy), float(sx)


def compute_dtype(dtype) -> np.dtype:
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def round_half_away(v: np.ndarray) -> np.ndarray:
    """C's round(): halves away from zero (NumPy's round goes to even). v - trunc(v) is exact."""
    whole = np.trunc(v)
    return whole + np.copysign(np.abs(v - whole) >= 0.5, v).astype(v.dtype)


class AxisGeometry(NamedTuple):
    """Per-roi layout of one axis (K-sized arrays in the compute dtype; `grid` is int: samples per
    bin, or for whole-pixel bins an upper bound on the pixels of a bin)."""

    start: np.ndarray
    end: np.ndarray
    bin: np.ndarray
    grid: np.ndarray
    size: np.ndarray  # the roi's extent in feature pixels (after +1 and the minimum size)


def axis_geometry(c1, c2, length, spatial_scale, pooled, conv: Convention, ct, axis: int) -> AxisGeometry:
    """Where one axis (Y or X) of each roi starts and ends in feature pixels, its bin size and
    samples per bin. `spatial_scale` is that axis's scale.

    On the corner grid (TF) `start` is the first point (the centre when pooled is 1) and `bin`
    the step between points, computed in TensorFlow's order of operations (crop_and_resize_op.cc:
    `(y2 - y1) * (H - 1) / (crop_h - 1)` in float, and `0.5 * (y1 + y2) * (H - 1)` in double for a
    single point), so that nearest sampling rounds the positions TensorFlow rounds."""
    scale = {"absolute": spatial_scale, "relative-feature": length, "tf-normalized": length - 1}[conv.coordinates]
    end_extra = 1.0 if conv.end_plus_one == "coordinate" else 0.0
    # Coordinates are rounded to the compute dtype first, then scaled in double and rounded again,
    # as kernels with a double spatial_scale do; `scale_in_compute_dtype` rounds every step instead,
    # as kernels that take the scale as T do (torchvision aligned, onnxruntime, OpenVINO).
    c1 = c1.astype(ct).astype(np.float64)
    c2 = c2.astype(ct).astype(np.float64)
    if conv.box_rounding == "before-scale":
        c1, c2 = round_half_away(c1), round_half_away(c2)
    if conv.scale_in_compute_dtype:
        s, po, so = ct.type(scale), ct.type(conv.pixel_offset), ct.type(conv.sample_offset)
        start = (c1.astype(ct) + po) * s - so
        end = ((c2.astype(ct) + ct.type(end_extra)) + po) * s - so
    else:
        start = (c1 + conv.pixel_offset) * scale - conv.sample_offset
        end = (c2 + end_extra + conv.pixel_offset) * scale - conv.sample_offset
    if conv.box_rounding == "after-scale-exact":  # rounded before the product is
        start, end = round_half_away(start), round_half_away(end)
    start, end = start.astype(ct), end.astype(ct)
    if conv.box_rounding == "after-scale":
        start, end = round_half_away(start), round_half_away(end)
    if conv.clip_box:
        start = np.maximum(start, ct.type(0))
        end = np.minimum(end, ct.type(length - 1))
    size = end - start
    if conv.end_plus_one == "size":
        size = size + ct.type(1)
    if conv.min_size is not None:
        size = np.maximum(size, ct.type(conv.min_size))
    bin_ = size / ct.type(pooled)
    ratio = conv.sampling_ratios[axis]
    if conv.one_point_per_cell:
        grid = np.ones(len(start), dtype=np.int64)
        start, bin_ = _corner_points(start, c1, c2, end_extra, scale, pooled, conv, ct)
    elif conv.whole_pixels:
        grid = np.clip(np.ceil(bin_.astype(np.float64)) + 1, 1, length).astype(np.int64)
    elif ratio > 0:
        grid = np.full(len(start), ratio, dtype=np.int64)
    else:
        # an inverted roi (no minimum size) has a negative bin: no samples, as in the references
        grid = np.maximum(np.ceil(bin_), 0).astype(np.int64)
    return AxisGeometry(start, end, bin_, grid, size)


def _corner_points(start, c1, c2, end_extra, scale, pooled, conv: Convention, ct):
    """First point and step of the corner grid (see `axis_geometry`): `start` itself, or the centre
    for one point. c1, c2 are float64 copies of compute-dtype values; the offsets cancel in the step."""
    if pooled == 1:
        middle = (c1.astype(ct) + c2.astype(ct) + ct.type(end_extra)).astype(np.float64)
        centre = ((0.5 * middle + conv.pixel_offset) * scale - conv.sample_offset).astype(ct)
        return centre, np.zeros(len(c1), dtype=ct)
    extent = (c2.astype(ct) + ct.type(end_extra)) - c1.astype(ct)
    return start, (extent.astype(np.float64) * scale).astype(ct) / ct.type(pooled - 1)


class AxisTaps(NamedTuple):
    """Bilinear taps of every sample along one axis, for a chunk of rois: arrays [Kc, P, G]."""

    low: np.ndarray
    high: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray
    inside: np.ndarray  # the sample lies where the border rule reads the map (else: fill value)
    present: np.ndarray  # i < the samples of its bin (grids are ragged across rois, and bins of pixels)


def pixel_bins(geo: AxisGeometry, sel, pooled: int, length: int, conv: Convention, ct):
    """Whole-pixel bins along one axis: first and end (exclusive) pixel [Kc, P] of each bin, from
    floor(bin start) to ceil(bin end), clipped to the map. A rounded (integer) box start is added
    after the floor and ceil, as Caffe's ROIPooling does; a fractional one before (R-FCN).
    'pixels-exact' takes the edges from p * size / P in double: exact for whole-pixel sizes, where
    float32's size / P times p can land a hair past a whole number (size 7 over 13 bins: the last
    bin's end is ceil(13 * float32(7 / 13)) = 8, not 7)."""
    start, bin_ = geo.start[sel][:, None], geo.bin[sel][:, None]
    p = np.arange(pooled + 1, dtype=ct)[None, :] * bin_
    if conv.grid == "pixels-exact":
        p = np.arange(pooled + 1)[None, :] * geo.size[sel][:, None].astype(np.float64) / pooled
    if conv.rounds_after_scale:
        edges_lo, edges_hi = np.floor(p[:, :-1]) + start, np.ceil(p[:, 1:]) + start
    else:
        edges_lo, edges_hi = np.floor(p[:, :-1] + start), np.ceil(p[:, 1:] + start)
    lo = np.clip(edges_lo.astype(np.float64), 0, length).astype(np.int64)
    hi = np.clip(edges_hi.astype(np.float64), 0, length).astype(np.int64)
    return lo, np.maximum(hi, lo)


def bin_counts(geo: AxisGeometry, sel, pooled: int, length: int, conv: Convention, ct) -> np.ndarray:
    """Samples in each bin along one axis [Kc, P] (the same for every bin of a roi but whole-pixel bins)."""
    if conv.whole_pixels:
        lo, hi = pixel_bins(geo, sel, pooled, length, conv, ct)
        return hi - lo
    return np.broadcast_to(geo.grid[sel][:, None], (len(geo.grid[sel]), pooled))


def sample_positions(geo: AxisGeometry, sel, pooled: int, length: int, conv: Convention, ct) -> np.ndarray:
    """Sample coordinates [Kc, P, G] along one axis for the rois `sel` (beyond a bin's count: padding)."""
    start, bin_ = geo.start[sel][:, None], geo.bin[sel][:, None]
    p = np.arange(pooled, dtype=ct)[None, :]
    if conv.one_point_per_cell:
        points = start + p * bin_
        if conv.grid == "corners-pinned" and pooled > 1:
            points[:, -1:] = geo.end[sel][:, None]
        return points[:, :, None]
    if conv.whole_pixels:
        lo, hi = pixel_bins(geo, sel, pooled, length, conv, ct)
        width = max(int((hi - lo).max(initial=0)), 1)
        return (lo[:, :, None] + np.arange(width)).astype(ct)
    g_max = max(int(geo.grid[sel].max(initial=0)), 1)
    i = np.arange(g_max, dtype=ct)[None, None, :] + ct.type(0.5)
    grid = np.maximum(geo.grid[sel], 1).astype(ct)[:, None, None]
    if conv.clip_bins:
        lo = np.clip(start + p * bin_, 0, length - 1).astype(ct)
        hi = np.clip(start + (p + ct.type(1)) * bin_, 0, length - 1).astype(ct)
        return lo[:, :, None] + (i * (hi - lo)[:, :, None]) / grid
    if conv.sample_step == "bin-over-grid":
        return (start + p * bin_)[:, :, None] + (bin_[:, :, None] / grid) * i
    return (start + p * bin_)[:, :, None] + (i * bin_[:, :, None]) / grid


def axis_taps(positions: np.ndarray, counts: np.ndarray, length: int, conv: Convention, ct) -> AxisTaps:
    """The two pixels each sample reads along one axis and their weights, under the border rule
    and the interpolation; `counts` [Kc, P] are the samples of each bin (`bin_counts`)."""
    present = np.arange(positions.shape[2])[None, None, :] < counts[:, :, None]
    last = length - 1
    if conv.whole_pixels:  # a whole pixel, read as it is
        low = np.where(present, positions, 0).astype(np.int64)
        one, zero = np.ones(positions.shape, dtype=ct), np.zeros(positions.shape, dtype=ct)
        return AxisTaps(low, low, one, zero, np.ones(positions.shape, dtype=bool), present)
    if conv.border == "caffe2":
        inside = (positions >= -1) & (positions <= length)
        # beyond `length` a sample is outside and reads nothing; the clip keeps its floor an int64
        v = np.clip(positions, 0, length).astype(ct)
    elif conv.border == "fill":
        inside = (positions >= 0) & (positions <= last)
        v = np.clip(positions, 0, last).astype(ct)
    else:
        inside = np.ones(positions.shape, dtype=bool)
        v = np.clip(positions, 0, last).astype(ct)
    low = np.floor(v).astype(np.int64)
    if conv.interpolation == "nearest":
        # TF's roundf: halves away from zero, here upwards (v >= 0); v - floor(v) is exact
        near = np.minimum(low + (v - low.astype(ct) >= ct.type(0.5)), last)
        one = np.ones(v.shape, dtype=ct)
        return AxisTaps(near, near, one, np.zeros_like(one), inside, present)
    if conv.border == "caffe-ssd":
        high = np.minimum(low + 1, last)
        w_low, w_high = high.astype(ct) - v, v - low.astype(ct)
    elif conv.border == "fill":
        high = np.ceil(v).astype(np.int64)
        w_high = v - low.astype(ct)
        w_low = ct.type(1) - w_high
    else:
        edge = low >= last
        low = np.where(edge, last, low)
        high = np.where(edge, last, low + 1)
        w_high = np.where(edge, ct.type(0), v - low.astype(ct))
        w_low = ct.type(1) - w_high
    return AxisTaps(low, high, w_low.astype(ct), w_high.astype(ct), inside, present)


def sample_taps(geo: AxisGeometry, sel, pooled: int, length: int, conv: Convention, ct) -> AxisTaps:
    """The taps of every sample of every bin along one axis, for the rois `sel` [Kc, P, G]."""
    positions = sample_positions(geo, sel, pooled, length, conv, ct)
    return axis_taps(positions, bin_counts(geo, sel, pooled, length, conv, ct), length, conv, ct)
