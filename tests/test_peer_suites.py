"""Cases from the peers' own unit tests, with the values those tests assert (facts, restated here):

- mmcv `tests/test_ops/test_roi_align.py`: three inputs pooled 2x2 at scale 1, sampling ratio 2, avg,
  aligned=True, and the gradient of the summed output (mmcv asserts both to atol 1e-3);
- detectron2 `tests/layers/test_roi_align.py` (its ROIAlign is torchvision's op): `test_forward_output`
  (a 5x5 ramp, box [1, 1, 3, 3], 4x4, aligned False and True), `test_resize` (pooling a map and its 2x
  downsampled copy with the box halved agree to 1e-4), `test_empty_box` (zeros, and a zero gradient) and
  `test_empty_batch`.

ONNX's own node cases are in tests/test_onnx_own_cases.py; torchvision's are its committed fixtures.
"""

from __future__ import annotations

import numpy as np
import pytest

from roialign_cli import roi_align
from roialign_cli.api import roi_align_backward

MMCV_INPUTS = [
    ([[[[1.0, 2.0], [3.0, 4.0]]]], [[0.0, 0.0, 0.0, 1.0, 1.0]]),
    ([[[[1.0, 2.0], [3.0, 4.0]], [[4.0, 3.0], [2.0, 1.0]]]], [[0.0, 0.0, 0.0, 1.0, 1.0]]),
    (
        [[[[1.0, 2.0, 5.0, 6.0], [3.0, 4.0, 7.0, 8.0], [9.0, 10.0, 13.0, 14.0], [11.0, 12.0, 15.0, 16.0]]]],
        [[0.0, 0.0, 0.0, 3.0, 3.0]],
    ),
]
MMCV_OUTPUTS = [
    ([[[[1.0, 1.25], [1.5, 1.75]]]], [[[[3.0625, 0.4375], [0.4375, 0.0625]]]]),
    (
        [[[[1.0, 1.25], [1.5, 1.75]], [[4.0, 3.75], [3.5, 3.25]]]],
        [[[[3.0625, 0.4375], [0.4375, 0.0625]], [[3.0625, 0.4375], [0.4375, 0.0625]]]],
    ),
    (
        [[[[1.9375, 4.75], [7.5625, 10.375]]]],
        [
            [
                [
                    [0.47265625, 0.42968750, 0.42968750, 0.04296875],
                    [0.42968750, 0.39062500, 0.39062500, 0.03906250],
                    [0.42968750, 0.39062500, 0.39062500, 0.03906250],
                    [0.04296875, 0.03906250, 0.03906250, 0.00390625],
                ]
            ]
        ],
    ),
]


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("case", range(len(MMCV_INPUTS)))
def test_mmcv_roi_align_cases(case, dtype, backend):
    features, rois = (np.array(a, dtype=dtype) for a in MMCV_INPUTS[case])
    expected_output, expected_grad = (np.array(a) for a in MMCV_OUTPUTS[case])
    call = dict(output_size=(2, 2), spatial_scale=1.0, sampling_ratio=2, aligned=True, preset="mmcv", backend=backend)
    output = roi_align(features, rois, **call)
    np.testing.assert_allclose(output.astype(np.float64), expected_output, atol=1e-3)
    grad = roi_align_backward(np.ones_like(output), rois, features.shape, **call)
    np.testing.assert_allclose(grad.astype(np.float64), expected_grad, atol=1e-3)


RAMP = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)


def simple_roi_align(image, box, size, sampling_ratio=0, aligned=True) -> np.ndarray:
    """detectron2's _simple_roialign: one box over one image at scale 1."""
    rois = np.array([[0, *box]], dtype=np.float32)
    return roi_align(image, rois, size, 1.0, sampling_ratio, aligned)[0, 0]


def test_detectron2_forward_output():
    old_results = [[7.5, 8, 8.5, 9], [10, 10.5, 11, 11.5], [12.5, 13, 13.5, 14], [15, 15.5, 16, 16.5]]
    correct_results = [[4.5, 5.0, 5.5, 6.0], [7.0, 7.5, 8.0, 8.5], [9.5, 10.0, 10.5, 11.0], [12.0, 12.5, 13.0, 13.5]]
    np.testing.assert_allclose(simple_roi_align(RAMP, [1, 1, 3, 3], (4, 4), aligned=False), old_results, atol=1e-6)
    np.testing.assert_allclose(simple_roi_align(RAMP, [1, 1, 3, 3], (4, 4), aligned=True), correct_results, atol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_detectron2_resize(seed):
    image = (np.random.default_rng(seed).random((1, 1, 30, 30)) * 100).astype(np.float32)
    # cv2.resize(INTER_LINEAR) to exactly half the size is the mean of each 2x2 block
    half = image.reshape(1, 1, 15, 2, 15, 2).mean(axis=(3, 5), dtype=np.float64).astype(np.float32)
    box = [10, 10, 20, 20]
    full = simple_roi_align(image, box, (5, 5), aligned=True)
    halved = simple_roi_align(half, [x / 2 for x in box], (5, 5), aligned=True)
    assert np.abs(halved - full).max() < 1e-4


def test_detectron2_empty_box_pools_and_backpropagates_zeros():
    image = np.random.default_rng(0).random((1, 1, 5, 5))
    rois = np.array([[0, 3, 4, 5, 4]], dtype=np.float64)
    output = roi_align(image, rois, (7, 7), 1.0, 0, True)
    assert output.shape == (1, 1, 7, 7) and (output == 0).all()
    grad = roi_align_backward(np.ones_like(output), rois, image.shape, (7, 7), 1.0, 0, True)
    assert (grad == 0).all()


def test_detectron2_empty_batch():
    output = roi_align(np.zeros((0, 3, 10, 10), np.float32), np.zeros((0, 5), np.float32), (7, 7), 1.0, 0, True)
    assert output.shape == (0, 3, 7, 7)
