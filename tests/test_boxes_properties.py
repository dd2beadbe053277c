"""Property tests: every pair of box formats and every pair of coordinate spaces round-trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from roialign_cli import boxes
from roialign_cli.box_formats import FORMATS, SPACES
from roialign_cli.coordinates import Frame

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)

coordinates = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def some_boxes(draw, space="absolute", sorted_batches=False):
    count = draw(st.integers(0, 6))
    xyxy = draw(arrays(np.float64, (count, 4), elements=coordinates))
    batch = draw(arrays(np.int64, count, elements=st.integers(0, 3))).astype(np.float64)
    if sorted_batches:  # per-image lists keep the boxes of one image together
        batch = np.sort(batch)
    scores = draw(arrays(np.float64, count, elements=st.floats(0, 1)))
    labels = draw(arrays(np.int64, count, elements=st.integers(0, 20)))
    return boxes.Boxes(batch, xyxy, space, scores=scores, labels=labels)


frames = st.builds(
    Frame,
    image_size=st.tuples(st.integers(2, 4096), st.integers(2, 4096)),
    spatial_scale=st.sampled_from([1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 3, 0.3, 2.0]),
)


def through(original: boxes.Boxes, fmt: str) -> boxes.Boxes:
    """Write `original` as `fmt` and read it back, handing over the batch indices (K,4) formats lack."""
    separate = FORMATS[fmt].batch == "separate"
    written = boxes.write(original, fmt)
    batch_indices = original.batch.astype(np.int64) if separate else None
    return boxes.read(fmt, written, space=original.space, batch_indices=batch_indices).boxes


def assert_close_boxes(actual: boxes.Boxes, expected: boxes.Boxes) -> None:
    assert actual.space == expected.space
    np.testing.assert_array_equal(actual.batch, expected.batch)
    scale = max(1.0, float(np.abs(expected.xyxy).max(initial=0)))
    np.testing.assert_allclose(actual.xyxy, expected.xyxy, rtol=1e-9, atol=1e-12 * scale)


@PROPERTY_SETTINGS
@given(
    original=some_boxes(sorted_batches=True),
    first=st.sampled_from(list(FORMATS)),
    second=st.sampled_from(list(FORMATS)),
)
def test_every_pair_of_formats_round_trips(original, first, second):
    start = through(original, first)
    back = through(through(start, second), first)
    assert_close_boxes(back, start)
    if first == second == "ssd":
        np.testing.assert_array_equal(back.labels, start.labels)
        np.testing.assert_array_equal(back.scores, start.scores)


@PROPERTY_SETTINGS
@given(original=some_boxes(), fmt=st.sampled_from(list(FORMATS)))
def test_read_of_write_is_the_identity(original, fmt):
    if fmt == "per-image":
        order = np.argsort(original.batch, kind="stable")
        original = original.take(order)
    back = through(original, fmt)
    assert_close_boxes(back, original)
    if fmt == "ssd":
        np.testing.assert_array_equal(back.labels, original.labels)
        np.testing.assert_array_equal(back.scores, original.scores)


@PROPERTY_SETTINGS
@given(data=st.data(), source=st.sampled_from(list(SPACES)), target=st.sampled_from(list(SPACES)), frame=frames)
def test_every_pair_of_spaces_round_trips(data, source, target, frame):
    original = data.draw(some_boxes(space=source))
    there = original.to_space(target, frame)
    assert there.space == target
    assert_close_boxes(there.to_space(source, frame), original)


@pytest.mark.parametrize("fmt", [name for name, f in FORMATS.items() if f.layout in ("xyxy", "yxyx")])
def test_formats_that_only_reorder_columns_keep_every_bit(fmt):
    rng = np.random.default_rng(7)
    original = boxes.Boxes(np.zeros(5), rng.uniform(0, 1, (5, 4)) / 3, "absolute")
    assert np.array_equal(through(original, fmt).xyxy, original.xyxy)
