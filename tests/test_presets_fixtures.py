"""Presets against committed peer outputs (no peer needed to run): torchvision for `caffe2` and
`torchvision-aligned`, tf.image.crop_and_resize for `tf-crop-and-resize` (method bilinear and
nearest).

The scripts that made the fixtures sit next to them in tests/fixtures/.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from roialign_cli import roi_align

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# case name in torchvision_presets.npz -> (preset, spatial scale, sampling ratio, output size)
TORCHVISION_CASES = {
    "legacy_adaptive": ("caffe2", 0.25, -1, (5, 4)),
    "legacy_sr2": ("torchvision", 1.0, 2, (3, 3)),
    "aligned_adaptive": ("torchvision-aligned", 0.25, -1, (5, 4)),
    "aligned_sr2": ("detectron2", 1.0, 2, (3, 3)),
}

# case name in tf_crop_and_resize.npz -> (crop size, extrapolation value)
TF_CASES = {
    "crop5x4_fill0": ((5, 4), "0.0"),
    "crop5x4_fill_half": ((5, 4), "0.5"),
    "crop1x1_fill0": ((1, 1), "0"),
    "crop1x3_fill_neg": ((1, 3), "-2.5"),
}


# case name in tf_crop_and_resize_nearest.npz -> (crop size, extrapolation value)
TF_NEAREST_CASES = {
    "crop5x4_fill0": ((5, 4), "0.0"),
    "crop17x23_fill_half": ((17, 23), "0.5"),
    "crop1x1_fill0": ((1, 1), "0"),
    "crop1x3_fill_neg": ((1, 3), "-2.5"),
}


@pytest.fixture(scope="module")
def torchvision_fixture():
    return np.load(FIXTURES / "torchvision_presets.npz")


@pytest.fixture(scope="module")
def tf_fixture():
    return np.load(FIXTURES / "tf_crop_and_resize.npz")


@pytest.mark.parametrize("case", sorted(TORCHVISION_CASES))
def test_torchvision_presets(torchvision_fixture, case):
    preset, scale, sampling_ratio, size = TORCHVISION_CASES[case]
    data = torchvision_fixture
    ours = roi_align(
        data["features"], data["rois"], size, scale, sampling_ratio=sampling_ratio, preset=preset, backend="numpy"
    )
    np.testing.assert_allclose(ours, data[case], rtol=0, atol=1e-5)


def tf_rois(boxes_yxyx: np.ndarray, box_indices: np.ndarray) -> np.ndarray:
    """TF's [y1, x1, y2, x2] boxes and separate indices -> rois (batch, x1, y1, x2, y2), still normalized."""
    y1, x1, y2, x2 = boxes_yxyx.T
    return np.stack([box_indices, x1, y1, x2, y2], axis=1).astype(np.float64)


@pytest.mark.parametrize("case", sorted(TF_CASES))
def test_tf_crop_and_resize(tf_fixture, case):
    size, extrapolation = TF_CASES[case]
    data = tf_fixture
    features = np.ascontiguousarray(data["image_nhwc"].transpose(0, 3, 1, 2))
    rois = tf_rois(data["boxes_yxyx"], data["box_indices"])
    ours = roi_align(
        features,
        rois,
        size,
        preset="tf-crop-and-resize",
        options={"extrapolation_value": extrapolation},
        backend="numpy",
    )
    expected = data[case].transpose(0, 3, 1, 2)  # TF crops are [K, crop_h, crop_w, C]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-5)


def test_tf_fixture_exercises_the_fill_value(tf_fixture):
    """The non-zero extrapolation cases only test something if some points fall outside the image."""
    assert np.any(tf_fixture["crop5x4_fill_half"] == np.float32(0.5))
    assert np.any(tf_fixture["crop1x3_fill_neg"] == np.float32(-2.5))


@pytest.fixture(scope="module")
def tf_nearest_fixture():
    return np.load(FIXTURES / "tf_crop_and_resize_nearest.npz")


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("case", sorted(TF_NEAREST_CASES))
def test_tf_crop_and_resize_nearest(tf_nearest_fixture, case, backend):
    """Nearest reads one pixel per point: the crops agree exactly, channels-last in and out."""
    size, extrapolation = TF_NEAREST_CASES[case]
    data = tf_nearest_fixture
    ours = roi_align(
        data["image_nhwc"],
        tf_rois(data["boxes_yxyx"], data["box_indices"]),
        size,
        preset="tf-crop-and-resize",
        options={"extrapolation_value": extrapolation, "method": "nearest"},
        backend=backend,
        layout="nhwc",
    )
    np.testing.assert_array_equal(ours, data[case])


def test_tf_nearest_fixture_has_points_on_halves(tf_nearest_fixture):
    """The whole-image box with crop 17 x 23 puts points on exact halves (steps 8/16 and 11/22):
    rounding them half to even instead of up would read other pixels."""
    data = tf_nearest_fixture
    image, crop = data["image_nhwc"][0], data["crop17x23_fill_half"][0]  # box 0 of the edge boxes is [0, 0, 1, 1]
    k = len(data["boxes_yxyx"]) - 7
    assert data["boxes_yxyx"][k].tolist() == [0, 0, 1, 1]
    rows, cols = np.arange(17) * 0.5, np.arange(23) * 0.5
    half_up = image[np.floor(rows + 0.5).astype(int)][:, np.floor(cols + 0.5).astype(int)]
    half_even = image[np.round(rows).astype(int)][:, np.round(cols).astype(int)]
    crop = data["crop17x23_fill_half"][k]
    np.testing.assert_array_equal(crop, half_up)
    assert not np.array_equal(crop, half_even)
