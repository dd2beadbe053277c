"""Cases from the peers' own unit tests, with the values those tests assert (facts, restated here):

- mmcv `tests/test_ops/test_roi_align.py`: three inputs pooled 2x2 at scale 1, sampling ratio 2, avg,
  aligned=True, and the gradient of the summed output (mmcv asserts both to atol 1e-3); and
  `test_roi_pool.py`: the same inputs through RoIPool (Caffe's, as torchvision's `roi_pool`), with gradients;
- OpenVINO `src/plugins/template/tests/functional/op_reference/roi_align.cpp` (ROIAlign-3 and -9 on two 8x8
  maps, avg and max, each aligned mode it lists) and `experimental_detectron_roi_feature_extractor.cpp` (one
  level at stride 4, 3x3, sampling ratio 2, not aligned); half_pixel_for_nn's values are printed to two
  decimals there;
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
from roialign_cli.presets import resolve
from roialign_cli.pyramid import pool_pyramid

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


MMCV_ROI_POOL_OUTPUTS = [
    ([[[[1.0, 2.0], [3.0, 4.0]]]], [[[[1.0, 1.0], [1.0, 1.0]]]]),
    ([[[[1.0, 2.0], [3.0, 4.0]], [[4.0, 3.0], [2.0, 1.0]]]], [[[[1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]]]),
    (
        [[[[4.0, 8.0], [12.0, 16.0]]]],
        [[[[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]]],
    ),
]


# mmcv's tests of both ops run on MMCV_INPUTS: (expected outputs and gradients, the call that is mmcv's op)
MMCV_OPS = {
    "roi_align": (MMCV_OUTPUTS, dict(sampling_ratio=2, aligned=True, preset="mmcv")),
    "roi_pool": (MMCV_ROI_POOL_OUTPUTS, dict(preset="torchvision-roi-pool")),
}


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("case", range(len(MMCV_INPUTS)))
@pytest.mark.parametrize("op", MMCV_OPS)
def test_mmcv_cases(op, case, dtype, backend):
    outputs, options = MMCV_OPS[op]
    features, rois = (np.array(a, dtype=dtype) for a in MMCV_INPUTS[case])
    expected_output, expected_grad = (np.array(a) for a in outputs[case])
    call = dict(output_size=(2, 2), spatial_scale=1.0, backend=backend, **options)
    output = roi_align(features, rois, **call)
    np.testing.assert_allclose(output.astype(np.float64), expected_output, atol=1e-3)
    grad = roi_align_backward(np.ones_like(output), rois, features.shape, features=features, **call)
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


OPENVINO_MAPS = np.array(
    [0, 1, 8, 5, 5, 2, 0, 7, 7, 10, 4, 5, 9, 0, 0, 5, 7, 0, 4, 0, 4, 7, 6, 10, 9, 5, 1, 7, 4, 7, 10, 8,
     2, 0, 8, 3, 6, 8, 10, 4, 2, 10, 7, 8, 7, 0, 6, 9, 2, 4, 8, 5, 2, 3, 3, 1, 5, 9, 10, 0, 9, 5, 5, 3,
     10, 5, 2, 0, 10, 0, 5, 4, 3, 10, 5, 5, 10, 0, 8, 8, 9, 1, 0, 7, 9, 6, 8, 7, 10, 9, 2, 3, 3, 5, 6, 9,
     4, 9, 2, 4, 5, 5, 3, 1, 1, 6, 8, 0, 5, 5, 10, 8, 6, 9, 6, 9, 1, 2, 7, 1, 1, 3, 0, 4, 0, 7, 10, 2],
    dtype=np.float32,
).reshape(2, 1, 8, 8)  # fmt: skip
OPENVINO_MAX = [4.375, 4.9375, 5.6875, 5.625, 4.625, 7.125, 3.3125, 4.3125]
OPENVINO_CASES = [
    ("avg", "asymmetric", [3, 3.75, 4.75, 5, 3, 5.5, 2.75, 3.75], 1e-6),
    ("max", "asymmetric", OPENVINO_MAX, 1e-6),
    ("avg", "half_pixel_for_nn", [3.14, 2.16, 2.86, 5.03, 1.83, 5.84, 2.77, 3.44], 5e-3),
    ("max", "half_pixel", OPENVINO_MAX, 1e-6),
]


@pytest.mark.parametrize(
    "mode, aligned_mode, expected, atol", OPENVINO_CASES, ids=[f"{c[0]}-{c[1]}" for c in OPENVINO_CASES]
)
def test_openvino_roi_align_reference_cases(mode, aligned_mode, expected, atol):
    rois = np.array([[0, 2, 2, 4, 4], [1, 2, 2, 4, 4]], np.float32)
    preset = "openvino-max" if mode == "max" else "openvino-half-pixel"
    output = roi_align(
        OPENVINO_MAPS, rois, (2, 2), 1.0, 2, preset=preset, mode=mode, options={"aligned_mode": aligned_mode}
    )
    np.testing.assert_allclose(output.ravel(), expected, rtol=0, atol=atol)


def test_openvino_experimental_detectron_roi_feature_extractor_reference_case():
    boxes = np.array([[0, 1, 2, 3], [4, 5, 6, 7]], np.float32)
    level = np.arange(12, dtype=np.float32).reshape(1, 2, 2, 3)
    rois = np.concatenate([np.zeros((2, 1), np.float32), boxes], axis=1)
    result = pool_pyramid(
        [level], rois, 3, resolve("caffe2", sampling_ratio=2), mapper="openvino-experimental-detectron",
        spatial_scales=[1 / 4], backend="numpy",
    )  # fmt: skip
    expected = [
        1.416667, 1.75, 2.083333, 2.416667, 2.75, 3.083333, 3.166667, 3.5, 3.833333,
        7.416667, 7.75, 8.083333, 8.416667, 8.75, 9.083334, 9.166666, 9.5, 9.833334,
        4.166667, 4.5, 4.833333, 4.166667, 4.5, 4.833333, 2.083333, 2.25, 2.416667,
        10.16667, 10.5, 10.83333, 10.16667, 10.5, 10.83333, 5.083333, 5.25, 5.416667,
    ]  # fmt: skip
    np.testing.assert_allclose(result.output.ravel(), expected, rtol=0, atol=1e-5)
