"""The NumPy and reference engines against torchvision.ops.roi_align, from fixtures made by
tests/fixtures/make_torchvision_parity.py (no torch needed here)."""

from pathlib import Path

import numpy as np
import pytest

from roialign_cli import roi_align

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_parity.npz", allow_pickle=False)
CASES = [row.split(",") for row in FIXTURES["index"]]


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("name,aligned,ratio,scale,ph,pw", CASES, ids=[c[0] for c in CASES])
def test_matches_torchvision(name, aligned, ratio, scale, ph, pw, backend):
    features, rois = FIXTURES[f"{name}/features"], FIXTURES[f"{name}/rois"]
    expected = FIXTURES[f"{name}/output"]
    got = roi_align(features, rois, (int(ph), int(pw)), float(scale), int(ratio), aligned == "1", backend=backend)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_fixture_covers_the_matrix():
    """The fixture holds every aligned x sampling ratio x scale combination the issue names."""
    combos = {(a, r, s) for name, a, r, s, _, _ in CASES if name != "empty"}
    assert len(combos) == 2 * 5 * 5
    assert {float(s) for _, _, _, s, _, _ in CASES} >= {1.0, 0.25, 0.125, 0.0625, 0.03125}


def test_zero_rois_give_an_empty_batch_of_the_right_shape():
    got = roi_align(FIXTURES["empty/features"], FIXTURES["empty/rois"], (7, 7), 0.5, backend="numpy")
    assert got.shape == FIXTURES["empty/output"].shape == (0, 4, 7, 7)
