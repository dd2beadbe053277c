"""Live peer test: onnxruntime's RoiAlign (CPU provider) against the `onnxruntime` preset.

One-node models built with onnx.helper at opset 10 (output_half_pixel only) and opset 16 (both
coordinate modes), avg and max (onnxruntime's corner-max), sampling ratio 0 (adaptive), 1 and 2,
over boxes inside, partly outside and far outside the map, tiny, empty and inverted ones.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ort.set_default_logger_severity(3)  # its max mode warns about corner-max on every session

from onnx_models import one_node_model  # noqa: E402
from roialign_cli import roi_align  # noqa: E402

OUTPUT_SIZE = (5, 4)
SCALE = 0.25


def run_onnxruntime(features, rois, opset: int, **attributes) -> np.ndarray:
    node = onnx.helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], **attributes)
    session = ort.InferenceSession(one_node_model(node, opset).SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = {"X": features, "rois": rois[:, 1:].astype(np.float32), "batch_indices": rois[:, 0].astype(np.int64)}
    return session.run(None, inputs)[0]


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(20260510)
    features = rng.standard_normal((2, 3, 13, 17)).astype(np.float32)
    k = 40
    x1 = rng.uniform(-20, 70, k)
    y1 = rng.uniform(-20, 50, k)
    x2 = x1 + rng.uniform(0, 50, k)
    y2 = y1 + rng.uniform(0, 40, k)
    rois = np.stack([rng.integers(0, 2, k), x1, y1, x2, y2], axis=1)
    special = np.array(
        [
            [0, 0, 0, 68, 52],  # the whole map at scale 1/4
            [1, 10, 12, 11, 12.5],  # smaller than a feature pixel
            [0, 30, 30, 30, 30],  # a point: empty adaptive grid in half_pixel mode
            [1, 40, 30, 20, 10],  # inverted
            [0, -40, -40, -10, -8],  # wholly above-left of the map
            [1, 60, 40, 90, 70],  # over the bottom-right border
        ]
    )
    rois = np.concatenate([rois, special]).astype(np.float32).astype(np.float64)
    return features, rois


MODELS = [
    (10, "output_half_pixel"),
    (16, "output_half_pixel"),
    (16, "half_pixel"),
]


@pytest.mark.parametrize("sampling_ratio", [0, 1, 2])
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("opset, ctm", MODELS)
def test_matches_onnxruntime(case, opset, ctm, mode, sampling_ratio):
    features, rois = case
    attributes = dict(
        mode=mode,
        output_height=OUTPUT_SIZE[0],
        output_width=OUTPUT_SIZE[1],
        sampling_ratio=sampling_ratio,
        spatial_scale=SCALE,
    )
    if opset >= 16:
        attributes["coordinate_transformation_mode"] = ctm
    expected = run_onnxruntime(features, rois, opset, **attributes)
    ours = roi_align(
        features,
        rois,
        OUTPUT_SIZE,
        SCALE,
        sampling_ratio=sampling_ratio,
        mode=mode,
        preset="onnxruntime",
        options={"coordinate_transformation_mode": ctm},
        backend="numpy",
    )
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)


def test_corner_max_is_about_a_quarter_midway_between_pixels():
    """The named trap: on a constant map of 2, one sample at (2.5, 2.5) has four weights of 1/4,
    so corner-max reads 2/4 = 0.5 where the interpolated value is 2."""
    features = np.full((1, 1, 8, 8), 2.0, np.float32)
    rois = np.array([[0, 2.0, 2.0, 3.0, 3.0]])  # output_half_pixel: one bin [2, 3], its centre 2.5
    attributes = dict(mode="max", output_height=1, output_width=1, sampling_ratio=1, spatial_scale=1.0)
    peer = run_onnxruntime(features, rois, 10, **attributes)
    ours = roi_align(
        features,
        rois,
        (1, 1),
        1.0,
        sampling_ratio=1,
        mode="max",
        preset="onnxruntime",
        options={"coordinate_transformation_mode": "output_half_pixel"},
        backend="numpy",
    )
    assert peer.item() == pytest.approx(0.5)
    assert ours.item() == pytest.approx(0.5)
