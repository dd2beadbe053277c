"""Conventions that together set every switch the presets use, and random cases to run them on.

Shared by the engine-parity tests (host build of the CUDA kernel, and the GPU). The list is
written out switch by switch, not only read from the registry, so that a convention a preset
will need is covered before the preset exists; the registry's presets are added on top.
"""

from __future__ import annotations

import math

import numpy as np

from roialign_cli.conventions import Convention
from roialign_cli.presets import PRESETS

_ALIGNED = dict(sample_offset=0.5, min_size=None)
_TF = dict(coordinates="tf-normalized", min_size=None, grid="corners", border="fill")

EXPLICIT = {
    "caffe2": Convention(),
    "caffe2-fixed-sampling": Convention(sampling_ratio=2),
    "caffe2-fill-value": Convention(fill_value=1.5),
    "torchvision-aligned": Convention(**_ALIGNED),
    "mmcv-max": Convention(**_ALIGNED, pooling="max"),
    "onnx-half-pixel-corner-max": Convention(**_ALIGNED, pooling="corner-max"),
    "onnx-output-half-pixel-corner-max": Convention(pooling="corner-max"),
    "tensorrt-sampling-1-nan-empty": Convention(
        **_ALIGNED, pooling="corner-max", sampling_ratio=1, empty_value=math.nan
    ),
    "openvino-half-pixel": Convention(pixel_offset=0.5, sample_offset=0.5, min_size=None),
    "openvino-max": Convention(pooling="max", max_floor=0.0),
    "mmdet-v1": Convention(end_plus_one="coordinate", min_size=0.0),
    "tf-crop-and-resize": Convention(**_TF),
    "tf-fill-value": Convention(**_TF, fill_value=-2.5),
    "tf-max": Convention(**_TF, pooling="max", fill_value=0.75),
    "caffe-ssd-roialign": Convention(
        coordinates="relative-feature",
        clip_box=True,
        end_plus_one="size",
        min_size=1.0,
        sampling_ratio=1,
        border="caffe-ssd",
    ),
    "caffe-roialignment": Convention(end_plus_one="size", clip_bins=True, sampling_ratio=1, border="clamp"),
    "aligned-nan-empty": Convention(**_ALIGNED, empty_value=math.nan),
    "clamp-border-adaptive": Convention(**_ALIGNED, border="clamp"),
    "clip-bins-adaptive-max": Convention(clip_bins=True, border="clamp", pooling="max"),
    "tf-nearest": Convention(**_TF, interpolation="nearest"),
    "tf-nearest-fill-max": Convention(**_TF, interpolation="nearest", pooling="max", fill_value=-1.25),
    "caffe2-nearest": Convention(interpolation="nearest"),
    "aligned-nearest-clamp-sr2": Convention(**_ALIGNED, interpolation="nearest", border="clamp", sampling_ratio=2),
    "caffe-ssd-nearest": Convention(border="caffe-ssd", interpolation="nearest", sampling_ratio=1),
    "per-axis-sampling-adaptive-y": Convention(sampling_ratio=(0, 3)),
    "per-axis-sampling-adaptive-x-max": Convention(**_ALIGNED, sampling_ratio=(2, 0), pooling="max"),
    "per-axis-sampling-fixed-nearest": Convention(**_ALIGNED, sampling_ratio=(1, 4), interpolation="nearest"),
    # exact whole-pixel bin edges: on rounded boxes (OpenVINO ROIPooling) and on fractional ones
    "roi-pool-exact-bins": Convention(
        box_rounding="after-scale", end_plus_one="size", grid="pixels-exact", pooling="max"
    ),
    "roi-pool-exact-rounding": Convention(
        box_rounding="after-scale-exact", end_plus_one="size", grid="pixels-exact", pooling="max"
    ),
    "aligned-float32-scaling": Convention(**_ALIGNED, scale_in_compute_dtype=True, pixel_offset=0.5),
    "openvino-step-adaptive-max": Convention(pooling="max", max_floor=0.0, sample_step="bin-over-grid"),
    "bin-over-grid-fixed-aligned": Convention(**_ALIGNED, sampling_ratio=(3, 5), sample_step="bin-over-grid"),
    "psroi-exact-bins-avg": Convention(
        box_rounding="before-scale", end_plus_one="coordinate", min_size=0.1, grid="pixels-exact"
    ),
}


def all_conventions() -> dict[str, Convention]:
    """The explicit list plus every registered preset, in its average and (where it has one) max mode."""
    cases = dict(EXPLICIT)
    for preset in PRESETS:
        cases[f"preset-{preset.name}"] = preset.convention
        if preset.max_mode:
            cases[f"preset-{preset.name}-max"] = preset.convention.with_(**preset.max_mode)
    return cases


OUTPUT_SIZES = ((7, 7), (1, 2), (3, 5))
# Engines sum in different orders; half results are rounded to half precision after.
TOLERANCE = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-11}


def assert_matches(actual, expected, dtype) -> None:
    tolerance = TOLERANCE[str(np.dtype(dtype))]
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=tolerance,
        atol=tolerance,
        equal_nan=True,
    )


def random_case(rng, conv: Convention, dtype, channels: int = 37, on_grid: float = 0.3, per_axis_scale=False):
    """(features, rois, spatial_scale) with rois inside, across and outside the map, inverted and
    degenerate ones, and a share `on_grid` of coordinates on exact feature-pixel boundaries.
    With `per_axis_scale` the scale is a (y, x) pair whose axes usually differ."""
    n, h, w = int(rng.integers(1, 3)), int(rng.integers(5, 20)), int(rng.integers(5, 20))
    features = rng.standard_normal((n, channels, h, w)).astype(dtype)
    absolute = conv.coordinates == "absolute"
    sy, sx = (float(rng.choice([1.0, 0.5, 0.25])) for _ in range(2)) if absolute else (1.0, 1.0)
    scale = (sy, sx) if per_axis_scale else sx
    extent = np.array([w / sx, h / (sy if per_axis_scale else sx)]) if absolute else np.ones(2)
    k = 24
    corners = rng.uniform(-0.3, 1.3, (k, 2, 2)) * extent  # [roi, point, axis]
    x1, x2 = np.sort(corners[:, :, 0], axis=1).T
    y1, y2 = np.sort(corners[:, :, 1], axis=1).T
    rois = np.stack([rng.integers(0, n, k).astype(np.float64), x1, y1, x2, y2], axis=1)
    inverted = rng.random(k) < 0.15
    rois[inverted] = rois[inverted][:, [0, 3, 4, 1, 2]]
    degenerate = rng.random(k) < 0.1
    rois[degenerate, 3] = rois[degenerate, 1]  # zero width
    snap = rng.random((k, 4)) < on_grid  # samples on pixel edges: floors must agree exactly
    step = np.tile(extent / np.array([w, h]), 2)
    rois[:, 1:] = np.where(snap, np.round(rois[:, 1:] / step) * step, rois[:, 1:])
    return features, rois, scale
