"""The numbers behind `diff --plot`: the same errors as `compare`, per roi and channel."""

from __future__ import annotations

import numpy as np
import pytest

from roialign_cli.compare import compare
from roialign_cli.error_map import DECADE_STEPS, error_map
from roialign_cli.errors import InputError


def pair(rng, shape=(6, 5, 3, 3)):
    b = rng.standard_normal(shape)
    a = b + rng.standard_normal(shape) * 10.0 ** rng.integers(-7, 0, shape)
    return a, b


def test_cells_are_the_max_error_of_each_roi_and_channel(rng):
    a, b = pair(rng)
    emap = error_map(a, b)
    np.testing.assert_array_equal(emap.cells, np.abs(a - b).max(axis=(2, 3)))


def test_worst_cells_agree_with_compares_worst_rois_and_channels(rng):
    a, b = pair(rng)
    emap = error_map(a, b)
    report = compare(a, b, top=6)
    assert [e.index for e in report.worst_axis0] == list(np.argsort(-emap.cells.max(axis=1), kind="stable"))
    assert report.worst_axis1[0].max_abs_error == emap.cells.max(axis=0).max()
    roi, channel, value = emap.worst(1)[0]
    assert (roi, value) == (report.worst_axis0[0].index, report.worst_axis0[0].max_abs_error)
    assert report.worst_elements[0].index[:2] == (roi, channel)


def test_non_finite_mismatches_rank_first_and_matching_ones_count_as_equal(rng):
    a, b = pair(rng)
    a[2, 3, 0, 0] = np.nan  # NaN on one side only: an infinite error
    a[4, 1, 1, 1] = b[4, 1, 1, 1] = np.nan  # NaN facing NaN matches
    a[0, 0, 2, 2] = b[0, 0, 2, 2] = np.inf
    emap = error_map(a, b)
    assert np.isinf(emap.cells[2, 3]) and emap.worst(1)[0][:2] == (2, 3)
    assert emap.nonfinite == 1
    finite = np.isfinite(a) & np.isfinite(b)
    assert emap.exact + emap.counts.sum() == finite.sum()
    assert np.isfinite(emap.cells[4, 1]) and np.isfinite(emap.cells[0, 0])


def test_the_histogram_counts_every_positive_error_in_its_decade_step(rng):
    a, b = pair(rng)
    b[0, 0] = a[0, 0]  # some exact pairs
    emap = error_map(a, b)
    errors = np.abs(a - b)
    assert emap.exact == np.count_nonzero(errors == 0)
    assert emap.counts.sum() == np.count_nonzero(errors > 0)
    np.testing.assert_allclose(np.log10(emap.edges[1:]) - np.log10(emap.edges[:-1]), 1 / DECADE_STEPS)
    largest = errors.max()
    assert emap.edges[-2] <= largest <= emap.edges[-1]


def test_blocks_of_rois_give_the_same_map(rng):
    a, b = pair(rng, (9, 4, 2, 2))
    whole, blocks = error_map(a, b), error_map(a, b, chunk_elements=20)  # 20 elements: one roi (16) a block
    np.testing.assert_array_equal(whole.cells, blocks.cells)
    np.testing.assert_array_equal(whole.counts, blocks.counts)


def test_identical_arrays_have_no_worst_cells(rng):
    a, _ = pair(rng)
    emap = error_map(a, a.copy())
    assert emap.worst(5) == [] and emap.counts.size == 0 and emap.exact == a.size


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4, 4), (2, 3, 4, 5))])
def test_it_needs_two_4d_arrays_of_one_shape(shapes):
    with pytest.raises(InputError, match="needs two"):
        error_map(np.zeros(shapes[0]), np.zeros(shapes[1]))
