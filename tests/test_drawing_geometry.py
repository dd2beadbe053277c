"""The numbers a picture draws are the engines' geometry.

Rebuilding the pooled output from nothing but a drawing's sample points, taps and weights gives the
reference engine's output for every preset; a few boxes are worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

from roialign_cli import drawing_geometry as dg
from roialign_cli.conventions import Convention
from roialign_cli.engines import reference_engine
from roialign_cli.errors import InputError
from roialign_cli.presets import PRESETS, get

TORCHVISION = get("torchvision").convention
ALIGNED = get("torchvision-aligned").convention
CAFFE_SSD = get("caffe-ssd-roialign").convention


def rebuilt(drawing: dg.Drawing, image: np.ndarray) -> np.ndarray:
    """A pooled [C, PH, PW] from the drawing alone: each sample's taps times their weights, pooled by the rule."""
    conv = drawing.convention
    values: dict[tuple[int, int], list[np.ndarray]] = {}
    for py, px, iy, ix, _, _ in drawing.samples().astype(int):
        tap = drawing.tap(py, px, iy, ix)
        if not tap.inside:
            value = np.full(image.shape[0], conv.fill_value)
        elif conv.pooling == "corner-max":
            value = np.max([w * image[:, y, x] for (x, y), w in tap.weighted().items()], axis=0)
        else:
            value = sum(w * image[:, y, x] for (x, y), w in tap.weighted().items())
        values.setdefault((py, px), []).append(value)
    out = np.full((image.shape[0], *drawing.output_size), conv.empty_value, dtype=np.float64)
    floor = -np.inf if conv.max_floor is None else conv.max_floor
    for (py, px), samples in values.items():
        floors = np.full(image.shape[0], floor)
        out[:, py, px] = np.mean(samples, axis=0) if conv.pooling == "avg" else np.max([*samples, floors], axis=0)
    return out


BOXES = (
    (1.3, 2.2, 9.7, 8.1),  # inside the map
    (-3.0, -2.0, 15.0, 12.0),  # past every border
    (0.1, 0.2, 0.9, 0.95),  # relative: what relative-feature and TF conventions read
    (6.0, 5.0, 4.0, 3.0),  # inverted
)


# every preset, and every max mode a preset has; position-sensitive pooling (R-FCN) has the same geometry,
# but which channel each bin reads is not part of a drawing, so it is left out of the rebuild
CONVENTIONS = {
    name: conv
    for p in PRESETS
    for name, conv in ((p.name, p.convention), (f"{p.name} max", p.convention.with_(**(p.max_mode or {}))))
    if (p.max_mode or name == p.name) and conv.channel_mapping == "none"
}


@pytest.mark.parametrize("name", CONVENTIONS)
@pytest.mark.parametrize("box", BOXES)
def test_a_drawing_rebuilds_the_reference_engines_output(name, box, rng):
    features = rng.standard_normal((1, 3, 11, 13)).astype(np.float32)
    conv = CONVENTIONS[name]
    drawing = dg.layout(box, (13, 11), (3, 4), 0.9, conv)
    expected = reference_engine.pool(features, np.array([[0, *box]]), (3, 4), 0.9, conv)[0]
    np.testing.assert_allclose(rebuilt(drawing, features[0].astype(np.float64)), expected, rtol=1e-5, atol=1e-6)


def test_torchvision_by_hand():
    # box 1..5 at scale 1, 2x2 bins of 2 pixels, one sample per bin at the bin centre: 2 and 4
    d = dg.layout((1, 1, 5, 5), (8, 8), (2, 2), 1.0, TORCHVISION.with_(sampling_ratio=1))
    assert d.given == d.read == (1, 1, 5, 5)
    np.testing.assert_array_equal(d.x.edges, [1, 3, 5])
    np.testing.assert_array_equal(d.samples()[:, 4:], [[2, 2], [4, 2], [2, 4], [4, 4]])
    tap = d.tap(0, 1, 0, 0)  # at (4, 2): exactly pixel (4, 2); its right and lower neighbours weigh 0
    assert tap.point == (4.0, 2.0) and tap.inside
    assert tap.weighted() == {(4, 2): 1.0, (5, 2): 0.0, (4, 3): 0.0, (5, 3): 0.0}


def test_aligned_reads_the_box_half_a_pixel_up_and_left():
    # sample_offset 0.5: start = 1 * 1 - 0.5, end = 5 - 0.5; the box as given stays at 1..5
    d = dg.layout((1, 1, 5, 5), (8, 8), (2, 2), 1.0, ALIGNED.with_(sampling_ratio=1))
    assert d.given == (1, 1, 5, 5)
    assert d.read == (0.5, 0.5, 4.5, 4.5)
    tap = d.tap(0, 0, 0, 0)  # at (1.5, 1.5): four pixels of a quarter each
    assert tap.point == (1.5, 1.5)
    assert tap.weighted() == {(1, 1): 0.25, (2, 1): 0.25, (1, 2): 0.25, (2, 2): 0.25}


def test_caffe_ssd_fork_by_hand():
    # relative box x 0.25..1, y 0.5..1 on an 8x4 map, read x the feature size: x 2..8, y 2..4 as given.
    # clip_box: the ends become min(8, 7) = 7 and min(4, 3) = 3; +1 size: x 2 + 6 = 8, y 2 + 2 = 4.
    d = dg.layout((0.25, 0.5, 1.0, 1.0), (8, 4), (2, 2), 1.0, CAFFE_SSD)
    assert d.given == (2, 2, 8, 4)
    assert d.read == (2, 2, 8, 4)
    # one sample per bin at its centre: x 2 + 1.5 = 3.5 and 6.5; y 2 + 0.5 = 2.5 and 3.5
    np.testing.assert_array_equal(d.samples()[:, 4:], [[3.5, 2.5], [6.5, 2.5], [3.5, 3.5], [6.5, 3.5]])
    # y 3.5 clamps to the last row 3, whose neighbour is min(3 + 1, 3) = 3: weights 3 - 3 = 0 and 3 - 3 = 0
    last_row = d.tap(1, 0, 0, 0)
    assert last_row.inside and set(last_row.weights) == {0.0}
    first_row = d.tap(0, 0, 0, 0)  # at (3.5, 2.5): neighbours 4 and 3, weights 0.5 each way
    assert first_row.weighted() == {(3, 2): 0.25, (4, 2): 0.25, (3, 3): 0.25, (4, 3): 0.25}


def test_bin_edges_of_a_clipping_convention_are_clipped():
    conv = get("caffe-roialignment").convention
    d = dg.layout((-4, 0, 6, 3), (8, 8), (2, 2), 1.0, conv)
    assert d.x.edges.min() >= 0
    np.testing.assert_allclose(d.x.edges, np.clip(d.x.read[0] + np.arange(3) * (d.x.read[1] - d.x.read[0]) / 2, 0, 7))


def test_a_corner_grid_has_points_and_no_bins():
    d = dg.layout((0.0, 0.0, 1.0, 1.0), (5, 5), (3, 3), 1.0, get("tf-crop-and-resize").convention)
    assert d.x.edges is None
    # TF normalized: 1.0 is pixel 4; three points end to end: 0, 2, 4
    np.testing.assert_array_equal(np.unique(d.samples()[:, 4]), [0, 2, 4])


def test_adaptive_sampling_counts_every_sample():
    # roi 8 x 4 pixels, 2x2 bins: ceil(8 / 2) = 4 samples across and ceil(4 / 2) = 2 down in each of 4 bins
    d = dg.layout((0, 0, 8, 4), (10, 10), (2, 2), 1.0, TORCHVISION)
    assert len(d.samples()) == 4 * 4 * 2
    np.testing.assert_array_equal(np.unique(d.samples()[:, 4]), np.arange(8) + 0.5)


def test_a_missing_sample_is_an_input_error():
    d = dg.layout((1, 1, 5, 5), (8, 8), (2, 2), 1.0, TORCHVISION.with_(sampling_ratio=1))
    with pytest.raises(InputError, match="has 1x1 samples"):
        d.tap(0, 0, 1, 0)
    with pytest.raises(InputError, match="outside the 2x2 output"):
        d.tap(2, 0, 0, 0)


def test_relative_boxes_are_multiplied_by_the_image_only_for_absolute_conventions():
    box = (0.25, 0.5, 1.0, 1.0)
    np.testing.assert_array_equal(dg.engine_box(TORCHVISION, box, (576, 192)), [144, 96, 576, 192])
    np.testing.assert_array_equal(dg.engine_box(CAFFE_SSD, box, (576, 192)), box)
    np.testing.assert_array_equal(dg.engine_box(TORCHVISION, box, None), box)


def test_layouts_read_one_box_each_way():
    # the seed scenario: x the image (576 x 192) at 1/8 and x the feature size (72 x 24) give the same box as given
    drawings = dg.layouts(
        (0.25, 0.5, 1.0, 1.0), [("A", TORCHVISION), ("B", CAFFE_SSD)], (72, 24), (7, 7), 1 / 8, (576, 192)
    )
    assert [d.label for d in drawings] == ["A", "B"]
    assert drawings[0].given == drawings[1].given == (18, 12, 72, 24)


def test_a_convention_without_a_minimum_size_draws_an_inverted_box_without_samples():
    d = dg.layout((6, 5, 4, 3), (8, 8), (2, 2), 1.0, Convention(min_size=None))
    assert len(d.samples()) == 0


def test_a_pyramid_view_marks_each_mappers_level_and_draws_the_first_ones():
    from roialign_cli.level_mappers import get_mapper

    # a 112 x 112 box: torchvision floor(4 + log2(112 / 224) + 1e-6) = P3; TensorRT's strict area
    # thresholds keep it on P2 (normalized area 112^2 / (576 * 192) is not > 224^2 / (576 * 192) / 4)
    shapes = [(1, 4, 48, 144), (1, 4, 24, 72), (1, 4, 12, 36), (1, 4, 6, 18)]
    mappers = [get_mapper("torchvision"), get_mapper("tensorrt-pyramid")]
    view = dg.pyramid_view((100, 40, 212, 152), shapes, None, (576, 192), mappers)
    assert view.level_names == ("P2", "P3", "P4", "P5")
    assert view.picks == {"torchvision": "P3", "tensorrt-pyramid": "P2"}
    assert (view.drawn, view.feature_size, view.spatial_scale) == (1, (72, 24), 1 / 8)
    assert "drawn on P3 (72x24, scale 1/8), torchvision's" in view.text()
