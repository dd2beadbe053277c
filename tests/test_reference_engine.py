"""The NumPy engine (as the engine registry gives it, with the position-sensitive mapping) against the
reference engine, for every switch combination the presets use, every precision and output sizes from
1x2 to 7x7, on boxes inside, across and outside the map."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from roialign_cli import engines
from roialign_cli.engines import reference_engine
from switch_cases import OUTPUT_SIZES, all_conventions, assert_matches, random_case

CONVENTIONS = all_conventions()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_numpy_engine_matches_reference(name, dtype):
    conv = CONVENTIONS[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}/{dtype}".encode()))
    sensitive = conv.channel_mapping == "position-sensitive"
    for size in OUTPUT_SIZES:
        # position-sensitive: two output channels of PH * PW input channels each
        channels = 2 * size[0] * size[1] if sensitive else 5
        features, rois, scale = random_case(rng, conv, dtype, channels=channels)
        expected = reference_engine.pool(features, rois, size, scale, conv)
        got = engines.get("numpy").pool(features, rois, size, scale, conv)
        assert got.shape == expected.shape == (len(rois), 2 if sensitive else 5, *size)
        assert got.dtype == expected.dtype
        assert_matches(got, expected, dtype)


def test_reference_engine_by_hand():
    """caffe2 on a 1x1 output over a 2x2 map: samples at (0.5, 0.5) +- 0.25 (adaptive grid 1x1 for a 1-pixel
    box at scale 1: one sample at the box centre (0.5, 0.5), the mean of the four pixels)."""
    features = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    rois = np.array([[0, 0.0, 0.0, 1.0, 1.0]])
    from roialign_cli.conventions import Convention

    out = reference_engine.pool(features, rois, (1, 1), 1.0, Convention())
    assert out[0, 0, 0, 0] == pytest.approx(2.5)
    # corner-max: the largest of 0.25 * (1, 2, 3, 4)
    out = reference_engine.pool(features, rois, (1, 1), 1.0, Convention(pooling="corner-max"))
    assert out[0, 0, 0, 0] == pytest.approx(1.0)
