"""kernels/roi_align.cu built for the host (tests/host_kernel.py) against the NumPy engine, for
every switch combination the presets use, and against torchvision's CPU op where installed.
No GPU needed; skipped where g++ is missing."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from host_kernel import build_host_kernel
from roialign_cli.conventions import Convention
from roialign_cli.engines import numpy_engine
from switch_cases import OUTPUT_SIZES, all_conventions, assert_matches, random_case


@pytest.fixture(scope="session")
def host_pool():
    pool = build_host_kernel()
    if pool is None:
        pytest.skip("g++ is not installed")
    return pool


CONVENTIONS = all_conventions()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_host_build_matches_numpy_engine(host_pool, name, dtype):
    conv = CONVENTIONS[name]
    rng = np.random.default_rng(zlib.crc32(f"{name} {dtype}".encode()))
    for output_size in OUTPUT_SIZES:
        features, rois, scale = random_case(rng, conv, dtype)
        expected = numpy_engine.pool(features, rois, output_size, scale, conv)
        actual = host_pool(features, rois, output_size, scale, conv)
        assert actual.dtype == expected.dtype
        assert_matches(actual, expected, dtype)


@pytest.mark.parametrize("channels", [1, 5, 32, 33])
def test_host_build_covers_every_channel_and_bin(host_pool, channels, rng):
    # channel tiles narrower than a warp, exactly a warp, and one channel past it
    conv = Convention(sample_offset=0.5, min_size=None)
    features, rois, scale = random_case(rng, conv, "float32", channels=channels)
    actual = host_pool(features, rois, (7, 7), scale, conv)
    np.testing.assert_allclose(actual, numpy_engine.pool(features, rois, (7, 7), scale, conv), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "corner-max"])
def test_host_build_max_pooling_propagates_nan_as_numpy(host_pool, pooling, rng):
    conv = Convention(pooling=pooling)
    features, rois, scale = random_case(rng, conv, "float32", channels=4)
    features[:, 1, 2:4, 2:4] = np.nan
    expected = numpy_engine.pool(features, rois, (3, 3), scale, conv)
    assert np.isnan(expected).any()
    assert_matches(host_pool(features, rois, (3, 3), scale, conv), expected, "float32")


def test_host_build_with_no_rois_writes_nothing(host_pool, rng):
    features = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    out = host_pool(features, np.zeros((0, 5)), (2, 2), 1.0, Convention())
    assert out.shape == (0, 3, 2, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_host_build_matches_torchvision(host_pool, dtype, aligned, sampling_ratio):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    conv = Convention(sample_offset=0.5 if aligned else 0.0, min_size=None if aligned else 1.0,
                      sampling_ratio=max(sampling_ratio, 0))  # fmt: skip
    rng = np.random.default_rng(7 + aligned + sampling_ratio)
    features, rois, scale = random_case(rng, conv, dtype)
    expected = ops.roi_align(
        torch.from_numpy(features), torch.from_numpy(rois.astype(dtype)), (7, 7), scale, sampling_ratio, aligned
    ).numpy()
    assert_matches(host_pool(features, rois, (7, 7), scale, conv), expected, dtype)
