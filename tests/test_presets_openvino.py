"""The OpenVINO ROIAlign presets against OpenVINO's CPU plugin, live where openvino is installed: every
aligned_mode, avg and max, fixed and adaptive sampling, on boxes inside, across and outside the map and
boxes of zero size (whose empty bins OpenVINO's average gives as 0/0 = NaN)."""

from __future__ import annotations

import numpy as np
import pytest

from roialign_cli import roi_align

ov = pytest.importorskip("openvino")


def openvino_roi_align(features, rois, size, scale, sampling_ratio, mode, aligned_mode):
    import openvino.opset9 as ops

    data = ops.parameter(list(features.shape), np.float32)
    boxes = ops.parameter([len(rois), 4], np.float32)
    batch = ops.parameter([len(rois)], np.int32)
    node = ops.roi_align(data, boxes, batch, pooled_h=size[0], pooled_w=size[1], sampling_ratio=sampling_ratio,
                         spatial_scale=scale, mode=mode, aligned_mode=aligned_mode)  # fmt: skip
    # f32: the CPU plugin otherwise computes in bf16 where the processor has it
    model = ov.Core().compile_model(ov.Model([node], [data, boxes, batch]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return model([features, rois[:, 1:], rois[:, 0].astype(np.int32)])[0]


@pytest.mark.parametrize("aligned_mode", ["asymmetric", "half_pixel_for_nn", "half_pixel"])
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_matches_openvino(aligned_mode, mode, sampling_ratio):
    rng = np.random.default_rng(len(aligned_mode) * 10 + sampling_ratio)
    n, c, h, w = 2, 3, 11, 14
    features = rng.standard_normal((n, c, h, w)).astype(np.float32)
    k, scale = 12, 0.5
    corners = np.sort(rng.uniform(-0.2, 1.2, (k, 2, 2)), axis=1) * np.array([w, h]) / scale
    rois = np.concatenate([rng.integers(0, n, (k, 1)), corners.reshape(k, 4)], 1).astype(np.float32)
    rois[0, 3:] = rois[0, 1:3]  # zero size
    preset = "openvino-max" if mode == "max" else "openvino-half-pixel"
    got = roi_align(features, rois, (3, 4), scale, sampling_ratio, preset=preset, mode=mode,
                    options={"aligned_mode": aligned_mode})  # fmt: skip
    expected = openvino_roi_align(features, rois, (3, 4), scale, sampling_ratio, mode, aligned_mode)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, equal_nan=True)
