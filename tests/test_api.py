"""The Python API: dtypes, presets versus explicit switches, and the engine's memory bound."""

import numpy as np
import pytest

from roialign_cli import Convention, roi_align
from roialign_cli.errors import InputError
from roialign_cli.presets import resolve


@pytest.fixture
def case(rng):
    features = rng.standard_normal((2, 4, 9, 11))
    rois = np.array([[0, 1.5, 2.0, 30.0, 25.0], [1, -4.0, 3.0, 12.0, 40.0], [0, 8.0, 8.0, 9.0, 8.5]])
    return features, rois


def test_float64_is_computed_in_float64(case):
    features, rois = case
    out64 = roi_align(features, rois, (3, 3), 0.25, backend="numpy")
    out32 = roi_align(features.astype(np.float32), rois, (3, 3), 0.25, backend="numpy")
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, out32, atol=1e-5)
    assert np.abs(out64 - out32).max() > 0  # really a different precision


def test_float16_is_computed_in_float32_and_returned_as_float16(case):
    features, rois = case
    half = features.astype(np.float16)
    out = roi_align(half, rois, (3, 3), 0.25, backend="numpy")
    assert out.dtype == np.float16
    expected = roi_align(half.astype(np.float32), rois, (3, 3), 0.25, backend="numpy").astype(np.float16)
    np.testing.assert_array_equal(out, expected)


def test_preset_and_explicit_switches_agree(case):
    features, rois = case
    by_preset = roi_align(features, rois, (2, 3), 0.5, preset="detectron2", backend="numpy")
    by_flags = roi_align(features, rois, (2, 3), 0.5, aligned=True, backend="numpy")
    by_convention = roi_align(
        features, rois, (2, 3), 0.5, preset=Convention(sample_offset=0.5, min_size=None), backend="numpy"
    )
    np.testing.assert_array_equal(by_preset, by_flags)
    np.testing.assert_array_equal(by_preset, by_convention)
    assert not np.allclose(by_preset, roi_align(features, rois, (2, 3), 0.5, backend="numpy"))


def test_resolve_keeps_the_presets_own_unless_told():
    assert resolve("torchvision-aligned").sample_offset == 0.5
    assert resolve("torchvision-aligned", aligned=False).sample_offset == 0.0
    assert resolve("caffe2", sampling_ratio=-1).sampling_ratio == 0
    assert resolve("caffe2", sampling_ratio=3).sampling_ratio == 3
    assert resolve(None, mode="max").pooling == "max"
    with pytest.raises(InputError, match="no max mode"):
        resolve("caffe2", mode="max")
    with pytest.raises(InputError, match="unknown preset"):
        resolve("nope")


def test_an_int_output_size_means_square(case):
    features, rois = case
    assert roi_align(features, rois, 4, backend="numpy").shape == (3, 4, 4, 4)


def test_max_mode_is_the_max_over_bilinear_samples(rng):
    """One roi over a 2x2 map with two samples per bin axis: the max of the four interpolated samples."""
    features = np.array([[[[0.0, 4.0], [8.0, 12.0]]]])
    rois = np.array([[0, 0.0, 0.0, 1.0, 1.0]])  # aligned=False: roi 1x1 pixel, one bin
    out = roi_align(features, rois, (1, 1), 1.0, sampling_ratio=2, mode="max", backend="numpy")
    # samples at 0.25 and 0.75 on each axis; value = 8*y + 4*x; the largest is at (0.75, 0.75)
    assert out.item() == pytest.approx(8 * 0.75 + 4 * 0.75)
    avg = roi_align(features, rois, (1, 1), 1.0, sampling_ratio=2, backend="numpy")
    assert avg.item() == pytest.approx(8 * 0.5 + 4 * 0.5)


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("preset", [None, "torchvision-ps-roi-align"])
def test_pool_into_rows_of_a_larger_output(case, backend, preset, monkeypatch):
    """`into` (the pyramid's levels): the NumPy engine writes its rows in place, the others are
    copied there; either way the other rows stay as they were."""
    from roialign_cli import api, engines
    from roialign_cli.engines import numpy_engine

    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)  # the threaded path as well as the small one
    features, rois = case
    features = np.concatenate([features] * 2, axis=1)  # 8 channels: 2x2 bins of 2 position-sensitive channels
    conv = resolve(preset)
    alone, _ = api.pool(features, rois, (2, 2), 0.25, conv, backend)
    out = np.full((5, *alone.shape[1:]), 7.0)
    rows = np.array([4, 0, 2])
    written, _ = api.pool(features, rois, (2, 2), 0.25, conv, backend, into=(out, rows))
    assert written is out
    np.testing.assert_array_equal(out[rows], alone)
    assert (out[[1, 3]] == 7.0).all()
    assert engines.get(backend).pool(features, rois[:0], (2, 2), 0.25, conv, into=(out, rows[:0])) is out
