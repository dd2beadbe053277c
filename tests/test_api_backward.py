"""`roi_align_backward`: the convention arguments of `roi_align`, validation, and the engine it picks."""

import numpy as np
import pytest

from roialign_cli import roi_align, roi_align_backward
from roialign_cli.errors import InputError


@pytest.fixture
def case(rng):
    features = rng.standard_normal((2, 4, 9, 11))
    rois = np.array([[0, 1.5, 2.0, 30.0, 25.0], [1, -4.0, 3.0, 12.0, 40.0], [0, 8.0, 8.0, 9.0, 8.5]])
    grad = rng.standard_normal((3, 4, 2, 3))
    return features, rois, grad


def test_backward_is_the_adjoint_of_roi_align_for_a_preset(case):
    features, rois, grad = case
    out = roi_align(features, rois, (2, 3), 0.25, preset="caffe-roialignment", backend="numpy")
    back = roi_align_backward(grad, rois, features.shape, spatial_scale=0.25, preset="caffe-roialignment",
                              backend="numpy")  # fmt: skip
    assert back.shape == features.shape and back.dtype == np.float64
    assert np.vdot(out, grad) == pytest.approx(np.vdot(features, back), rel=1e-12)


def test_backend_choice_and_output_size(case):
    features, rois, grad = case
    numpy_grad = roi_align_backward(grad, rois, features.shape, (2, 3), 0.25, 2, True, backend="numpy")
    reference = roi_align_backward(grad, rois, features.shape, (2, 3), 0.25, 2, True, backend="reference")
    np.testing.assert_allclose(numpy_grad, reference, rtol=1e-12, atol=1e-12)


def test_max_mode_needs_the_features(case):
    features, rois, grad = case
    with pytest.raises(InputError, match="needs the features"):
        roi_align_backward(grad, rois, features.shape, preset="mmcv", mode="max", backend="numpy")
    got = roi_align_backward(grad, rois, features.shape, preset="mmcv", mode="max", features=features, backend="numpy")
    assert np.abs(got).sum() > 0


@pytest.mark.parametrize(
    "change,message",
    [
        ({"grad_output": np.zeros((3, 5, 2, 3))}, r"must be \[K, 4, PH, PW\]"),
        ({"grad_output": np.zeros((2, 4, 2, 3))}, "3 rois but the output's gradient has 2"),
        ({"output_size": (7, 7)}, "output size 7x7 differs"),
        ({"features_shape": (2, 4, 9)}, "features must be 4-d"),
        ({"rois": np.array([[5, 0, 0, 1, 1.0]] * 3)}, "batch index 5"),
        ({"features": np.zeros((1, 4, 9, 11))}, "features have shape"),
    ],
)
def test_bad_input_is_an_input_error(case, change, message):
    features, rois, grad = case
    arguments = {"grad_output": grad, "rois": rois, "features_shape": features.shape, "backend": "numpy"} | change
    with pytest.raises(InputError, match=message):
        roi_align_backward(**arguments)
