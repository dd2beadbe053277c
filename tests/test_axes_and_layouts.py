"""Per-axis spatial scales and sampling ratios, channels-last layouts, and the `nnapi` preset:
the convention model, the API, and a case worked out by hand from Android NNAPI's reference
implementation (frameworks/ml/nn common/operations/RoiAlign.cpp, roiAlignNhwc)."""

from __future__ import annotations

import numpy as np
import pytest

from roialign_cli import Convention, roi_align
from roialign_cli.conventions import format_value, parse_switch
from roialign_cli.engines import cuda_engine, numpy_engine, reference_engine
from roialign_cli.errors import InputError
from roialign_cli.presets import option_scale, resolve


def test_sampling_ratio_has_one_spelling_per_convention():
    assert Convention(sampling_ratio=(2, 2)) == Convention(sampling_ratio=2)
    assert Convention(sampling_ratio=(2, 2)).sampling_ratio == 2
    assert Convention(sampling_ratio=(0, 4)).sampling_ratio == (0, 4)
    assert Convention(sampling_ratio=(0, 4)).sampling_ratios == (0, 4)
    assert Convention(sampling_ratio=3).sampling_ratios == (3, 3)
    assert hash(Convention(sampling_ratio=[1, 1])) == hash(Convention(sampling_ratio=1))
    assert Convention(sampling_ratio=(0, 4)).switches()["sampling_ratio"] == (0, 4)
    with pytest.raises(ValueError, match=">= 0"):
        Convention(sampling_ratio=(0, -1))
    with pytest.raises(ValueError, match="pair"):
        Convention(sampling_ratio=(1, 2, 3))


def test_switch_text_takes_and_gives_pairs():
    assert parse_switch("sampling_ratio=0,4") == ("sampling_ratio", (0, 4))
    assert parse_switch("sampling_ratio=2") == ("sampling_ratio", 2)
    assert parse_switch("interpolation=nearest") == ("interpolation", "nearest")
    assert format_value((0, 4)) == "0,4"


def test_resolve_sets_one_axis_and_keeps_the_other():
    assert resolve("caffe2", sampling_ratio=(0, 4)).sampling_ratios == (0, 4)
    assert resolve("caffe-ssd-roialign", sampling_ratio=(-1, 3)).sampling_ratios == (1, 3)
    assert resolve("caffe2", sampling_ratio=(-1, -1)) == resolve("caffe2")
    assert resolve("caffe2", sampling_ratio=np.array([0, 4])).sampling_ratios == (0, 4)  # NumPy integers too
    for bad in [(0, -2), ("a", "b"), (0.5, 1), (True, 1), (1, 2, 3)]:
        with pytest.raises(InputError, match="sampling ratio must be"):
            resolve("caffe2", sampling_ratio=bad)


def test_per_axis_scale_is_the_uniform_scale_on_each_axis(rng):
    # x scale 1 and y scale 1/2: the same as scale 1 on boxes whose y coordinates are halved first
    features = rng.standard_normal((1, 3, 12, 14)).astype(np.float64)
    rois = np.array([[0, 1.5, 3.0, 9.0, 20.0], [0, -2.0, 1.0, 13.0, 25.0]])
    halved = rois * [1, 1, 0.5, 1, 0.5]
    for engine in (numpy_engine.pool, reference_engine.pool):
        np.testing.assert_allclose(
            engine(features, rois, (3, 4), (0.5, 1.0), Convention()),
            engine(features, halved, (3, 4), 1.0, Convention()),
            rtol=0, atol=1e-12,
        )  # fmt: skip


def test_per_axis_sampling_is_the_uniform_ratio_on_each_axis(rng):
    # rois one pixel tall: a y ratio of 2 and of 3 give the same value on a map constant along x...
    features = np.repeat(rng.standard_normal((1, 2, 9, 1)), 10, axis=3)
    rois = np.array([[0, 0.5, 1.0, 8.0, 7.0]])
    by_pair = roi_align(features, rois, (2, 2), sampling_ratio=(3, 1), backend="numpy")
    np.testing.assert_allclose(by_pair, roi_align(features, rois, (2, 2), sampling_ratio=3, backend="numpy"))
    # ...and differ on one that varies along x (its x samples are 1 per bin, not 3)
    varying = rng.standard_normal((1, 2, 9, 10))
    assert not np.allclose(
        roi_align(varying, rois, (2, 2), sampling_ratio=(3, 1), backend="numpy"),
        roi_align(varying, rois, (2, 2), sampling_ratio=3, backend="numpy"),
    )


def test_channels_last_in_and_out(rng):
    features = rng.standard_normal((2, 5, 9, 11)).astype(np.float32)
    rois = np.array([[1, 2.0, 1.0, 30.0, 20.0], [0, 4.0, 4.0, 8.0, 33.0]])
    nchw = roi_align(features, rois, (3, 2), 0.25, backend="numpy")
    nhwc = roi_align(np.ascontiguousarray(features.transpose(0, 2, 3, 1)), rois, (3, 2), 0.25, backend="numpy",
                     layout="nhwc")  # fmt: skip
    assert nhwc.shape == (2, 3, 2, 5)
    np.testing.assert_array_equal(nhwc, nchw.transpose(0, 2, 3, 1))
    with pytest.raises(InputError, match="layout must be one of nchw, nhwc"):
        roi_align(features, rois, layout="chwn")
    with pytest.raises(InputError, match=r"\[N, H, W, C\]"):
        roi_align(features[0], rois, layout="nhwc")


def test_bad_spatial_scale_pairs_are_input_errors(rng):
    features = rng.standard_normal((1, 1, 4, 4))
    for scale in [(0.5, 0.0), (0.5, 1.0, 2.0), "half"]:
        with pytest.raises(InputError, match="spatial scale"):
            roi_align(features, [[0, 0, 0, 1, 1]], 2, scale, backend="numpy")


# NNAPI roiAlignNhwc on a 4 x 8 map with value 10 * y + x * x, box (x1, y1, x2, y2) = (0, 0, 4, 4),
# output 1 x 2, height_ratio 2 (y scale 1/2), width_ratio 1, sampling_points_height 1, width 2:
#   y: hRoiEnd = 4 / 2 = 2, hStepSize = 2, one sample at hStart + hBinSize / 2 = 1: the y part is 10
#   x: wRoiEnd = 4, wStepSize = 2, wBinSize = 1: samples 0.5, 1.5 (bin 0) and 2.5, 3.5 (bin 1); x*x
#      interpolated between pixels: 0.5 -> (0 + 1)/2, 1.5 -> (1 + 4)/2, 2.5 -> (4 + 9)/2, 3.5 -> (9 + 16)/2
#   bin 0: 10 + (0.5 + 2.5) / 2 = 11.5; bin 1: 10 + (6.5 + 12.5) / 2 = 19.5
NNAPI_MAP = (10.0 * np.arange(4)[:, None] + (np.arange(8) ** 2)[None, :])[None, :, :, None]  # NHWC [1, 4, 8, 1]
NNAPI_OPTIONS = {"height_ratio": "2", "width_ratio": "1", "sampling_points_height": "1", "sampling_points_width": "2"}


@pytest.mark.parametrize("backend", ["numpy", "reference"])
def test_nnapi_worked_by_hand(backend):
    out = roi_align(NNAPI_MAP, [[0, 0, 0, 4, 4]], (1, 2), preset="nnapi", options=NNAPI_OPTIONS, backend=backend,
                    layout="nhwc")  # fmt: skip
    assert out.shape == (1, 1, 2, 1)
    np.testing.assert_allclose(out[0, :, :, 0], [[11.5, 19.5]])


def test_nnapi_options_are_the_per_axis_arguments():
    conv = resolve("nnapi", options=NNAPI_OPTIONS)
    assert conv.sampling_ratios == (1, 2) and conv == Convention(sampling_ratio=(1, 2))
    assert option_scale("nnapi", NNAPI_OPTIONS, 1.0) == (0.5, 1.0)
    assert option_scale("nnapi", {"width_ratio": "4"}, (0.5, 1.0)) == (0.5, 0.25)  # x: the default 1, replaced
    assert option_scale("nnapi", NNAPI_OPTIONS, (0.5, 1.0)) == (0.5, 1.0)
    with pytest.raises(InputError, match="height_ratio=2 means spatial scale 0.5 on its axis, not 0.25"):
        option_scale("nnapi", NNAPI_OPTIONS, 0.25)
    for bad in ({"height_ratio": "0"}, {"sampling_points_width": "-1"}, {"sampling_points_height": "1.5"}):
        with pytest.raises(InputError, match="option"):
            roi_align(NNAPI_MAP, [[0, 0, 0, 4, 4]], 1, preset="nnapi", options=bad, backend="numpy", layout="nhwc")


def test_kernel_arguments_carry_each_axis():
    conv = Convention(sampling_ratio=(0, 4), interpolation="nearest")
    args = cuda_engine.kernel_arguments((1, 3, 8, 9), (2, 5), (0.5, 0.25), conv, 3)
    assert [float(v) for v in args[6:8]] == [0.5, 0.25]  # spatial_scale_y, spatial_scale_x
    assert [int(v) for v in args[16:18]] == [0, 4]  # sampling_ratio_y, sampling_ratio_x (after box_rounding)
    assert int(args[22]) == 1  # interpolation: nearest
