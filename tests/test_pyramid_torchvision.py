"""Pyramid pooling and torchvision's level mapper against torchvision.ops.MultiScaleRoIAlign, from
fixtures made by tests/fixtures/make_torchvision_pyramid.py, and live where torchvision imports."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from roialign_cli.api import multi_scale_roi_align
from roialign_cli.level_mappers import get_mapper
from roialign_cli.pyramid import infer_scale

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_pyramid.npz", allow_pickle=False)
CASES = [row.split(",") for row in FIXTURES["index"]]


def _case(name, count):
    return [FIXTURES[f"{name}/map{i}"] for i in range(int(count))], FIXTURES[f"{name}/rois"]


def _mapper(size, level):
    return replace(get_mapper("torchvision"), canonical_size=float(size), canonical_level=int(level))


@pytest.mark.parametrize("name,count,w,h,ratio,ph,pw,size,level", CASES, ids=[c[0] for c in CASES])
def test_matches_multiscale_roi_align(name, count, w, h, ratio, ph, pw, size, level):
    maps, rois = _case(name, count)
    got = multi_scale_roi_align(
        maps,
        rois,
        (int(ph), int(pw)),
        image_size=(int(w), int(h)),
        level_mapper=_mapper(size, level),
        sampling_ratio=int(ratio),
        backend="numpy",
    )
    assert got.shape == FIXTURES[f"{name}/output"].shape and got.dtype == np.float32
    np.testing.assert_allclose(got, FIXTURES[f"{name}/output"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name,count,w,h,ratio,ph,pw,size,level", CASES, ids=[c[0] for c in CASES])
def test_levels_and_scales_are_torchvisions(name, count, w, h, ratio, ph, pw, size, level):
    from roialign_cli.pyramid import assign_levels, make_pyramid

    maps, rois = _case(name, count)
    pyramid = make_pyramid([m.shape for m in maps], (int(w), int(h)))
    assert pyramid.scales == tuple(FIXTURES[f"{name}/scales"])
    np.testing.assert_array_equal(assign_levels(rois, _mapper(size, level), pyramid), FIXTURES[f"{name}/levels"])


def test_every_level_is_used_and_boundaries_are_in_the_fixture():
    levels = np.concatenate([FIXTURES[f"{c[0]}/levels"] for c in CASES if c[1] == "4"])
    assert set(levels.tolist()) == {0, 1, 2, 3}
    sides = np.sqrt(
        (FIXTURES["boundary/boxes"][:, 2] - FIXTURES["boundary/boxes"][:, 0])
        * (FIXTURES["boundary/boxes"][:, 3] - FIXTURES["boundary/boxes"][:, 1])
    )
    assert {112.0, 224.0, 448.0} <= set(sides.tolist())


def test_boundary_boxes_get_torchvisions_level_to_the_last_float32_step():
    boxes, expected = FIXTURES["boundary/boxes"], FIXTURES["boundary/levels"]
    np.testing.assert_array_equal(get_mapper("torchvision").assign(boxes, 4, 2) + 2, expected)


def test_eps_inside_the_log_would_differ_on_those_boxes():
    """The fixture tells torchvision's eps placement (outside the log) from maskrcnn-benchmark's (inside)."""
    inside = replace(get_mapper("torchvision"), eps_in_log=True)
    boxes, expected = FIXTURES["boundary/boxes"], FIXTURES["boundary/levels"]
    assert (inside.assign(boxes, 4, 2) + 2 != expected).any()


def test_infer_scale_rounds_the_log_of_the_height_ratio():
    # 48 / 190 = 0.2526 -> log2 -1.985 -> round -2 -> 1/4; 7 / 190 -> log2 -4.76 -> -5 -> 1/32
    assert infer_scale(48, 190) == 0.25
    assert infer_scale(7, 190) == 1 / 32


def test_live_multiscale_roi_align(rng):
    from collections import OrderedDict

    try:
        import torch
        from torchvision.ops import MultiScaleRoIAlign
    except (ImportError, RuntimeError) as exc:  # torchvision missing, or built for another torch
        pytest.skip(f"live check needs torchvision ({exc})")

    maps = [rng.standard_normal((1, 3, 200 // s, 320 // s)).astype(np.float32) for s in (4, 8, 16, 32)]
    xy = rng.uniform(0, 300, (200, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(4, 600, (200, 2))], axis=1).astype(np.float32)
    pooler = MultiScaleRoIAlign(["a", "b", "c", "d"], 5, 2)
    x = OrderedDict(zip("abcd", (torch.from_numpy(m) for m in maps)))
    expected = pooler(x, [torch.from_numpy(boxes)], [(200, 320)]).numpy()
    rois = np.concatenate([np.zeros((200, 1), np.float32), boxes], axis=1)
    got = multi_scale_roi_align(maps, rois, 5, image_size=(320, 200), sampling_ratio=2, backend="numpy")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
