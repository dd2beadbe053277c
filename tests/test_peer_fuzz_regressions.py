"""Regressions for the disagreements benchmarks/peer_fuzz.py found, from the fixtures made by
tests/fixtures/make_peer_fuzz_regressions.py, worked by hand, and live where the peer imports.

1. torchvision's MultiScaleRoIAlign clamps levels to [-log2(first scale), -log2(last scale)] and pools
   level k from map k - k_min: where the inferred scales repeat, the last map is never used; where they
   skip a level, a box mapped past the last map gets zeros.
2. OpenVINO's ROIPooling (max) computes bin edges in integers, so a float32 bin size that lands past a
   whole number does not add a pixel there (it does in torchvision's roi_pool).
"""

from pathlib import Path

import numpy as np
import pytest

from roialign_cli import roi_align
from roialign_cli.api import multi_scale_roi_align
from roialign_cli.level_mappers import get_mapper
from roialign_cli.pyramid import assign_levels, make_pyramid

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "peer_fuzz_regressions.npz", allow_pickle=False)


def _pyramid_case(name):
    count = sum(1 for key in FIXTURES.files if key.startswith(f"{name}/map"))
    maps = [FIXTURES[f"{name}/map{i}"] for i in range(count)]
    return maps, FIXTURES[f"{name}/rois"], tuple(int(v) for v in FIXTURES[f"{name}/image_size"])


@pytest.mark.parametrize("name", ["repeated", "gap"])
def test_multiscale_levels_follow_torchvisions_scale_clamp(name):
    maps, rois, image_size = _pyramid_case(name)
    pyramid = make_pyramid([m.shape for m in maps], image_size)
    assert pyramid.scales == tuple(FIXTURES[f"{name}/scales"])
    levels = assign_levels(rois, get_mapper("torchvision"), pyramid)
    expected = FIXTURES[f"{name}/levels"]
    # torchvision's index k - k_min; one past the last map is pooled from none (-1 here)
    np.testing.assert_array_equal(levels, np.where(expected >= len(maps), -1, expected))
    got = multi_scale_roi_align(maps, rois, (3, 2), image_size=image_size, sampling_ratio=2, backend="numpy")
    np.testing.assert_allclose(got, FIXTURES[f"{name}/output"], rtol=0, atol=1e-5)


def test_repeated_scales_by_hand():
    """Maps of heights 5, 3, 2 under a 33-pixel image: 2**round(log2(h / 33)) = 1/8, 1/8, 1/16, so
    k_min = 3, k_max = 4 and a 2000-pixel box (level floor(4 + log2(2000 / 224)) = 7 -> 4) takes map 1."""
    pyramid = make_pyramid([(1, 1, 5, 14), (1, 1, 3, 7), (1, 1, 2, 4)], (107, 33))
    assert pyramid.scales == (0.125, 0.125, 0.0625)
    rois = np.array([[0, 0, 0, 2000, 2000], [0, 0, 0, 10, 10]], np.float32)
    np.testing.assert_array_equal(assign_levels(rois, get_mapper("torchvision"), pyramid), [1, 0])


def test_skipped_level_pools_nothing():
    """Scales 1/4 and 1/16: levels 2..4 over two maps; sqrt-area 160 is level 3 (map 1), 600 level 4 (none)."""
    pyramid = make_pyramid([(1, 1, 64, 64), (1, 1, 16, 16)], (256, 256))
    rois = np.array([[0, 0, 0, 160, 160], [0, 0, 0, 600, 600]], np.float32)
    np.testing.assert_array_equal(assign_levels(rois, get_mapper("torchvision"), pyramid), [1, -1])


@pytest.mark.parametrize("size", ["13x10", "10x13", "7x11"])
def test_openvino_roi_pooling_exact_bins(size):
    ph, pw = (int(v) for v in size.split("x"))
    features, rois = FIXTURES["ov_pool/features"], FIXTURES["ov_pool/rois"]
    got = roi_align(features, rois, (ph, pw), 1.0, preset="openvino-roi-pooling", backend="numpy")
    np.testing.assert_allclose(got, FIXTURES[f"ov_pool/{size}"], rtol=0, atol=0)


def test_exact_bins_by_hand():
    """A roi 7 pixels wide (x 0..6, +1) over 13 bins: bin 12 spans [12 * 7 / 13, 13 * 7 / 13) = [6.46, 7),
    pixels 6 only. In float32 13 * (7 / 13) = 7.0000005, whose ceil 8 adds pixel 7 (torchvision's roi_pool)."""
    features = np.zeros((1, 1, 1, 8), np.float32)
    features[0, 0, 0, 7] = 5.0  # only the extra pixel is non-zero
    rois = np.array([[0, 0, 0, 6, 0]], np.float32)
    exact = roi_align(features, rois, (1, 13), 1.0, preset="openvino-roi-pooling", backend="numpy")
    float_bins = roi_align(features, rois, (1, 13), 1.0, preset="torchvision-roi-pool", backend="numpy")
    assert np.float32(13) * (np.float32(7) / np.float32(13)) > 7
    assert exact[0, 0, 0, 12] == 0.0 and float_bins[0, 0, 0, 12] == 5.0
    np.testing.assert_array_equal(exact[0, 0, 0, :12], float_bins[0, 0, 0, :12])


def test_openvino_roi_pooling_live():
    ov = pytest.importorskip("openvino")
    import openvino.opset2 as ops

    rng = np.random.default_rng(7)
    features = rng.standard_normal((2, 3, 9, 13)).astype(np.float32)
    k = 40
    corners = np.sort(rng.integers(-3, 16, (k, 2, 2)), axis=1).astype(np.float32)
    rois = np.concatenate([rng.integers(0, 2, (k, 1)), corners.reshape(k, 4)], axis=1).astype(np.float32)
    data = ops.parameter(list(features.shape), np.float32)
    coords = ops.parameter(list(rois.shape), np.float32)
    for size in ((13, 10), (11, 7), (3, 13)):
        node = ops.roi_pooling(data, coords, output_roi=list(size), spatial_scale=1.0, method="max")
        compiled = ov.Core().compile_model(ov.Model([node], [data, coords]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        got = roi_align(features, rois, size, 1.0, preset="openvino-roi-pooling", backend="numpy")
        np.testing.assert_allclose(got, compiled([features, rois])[0], rtol=0, atol=0)


def test_multiscale_live():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    from collections import OrderedDict

    rng = np.random.default_rng(11)
    for w, h in ((107, 33), (70, 41), (300, 40)):
        maps = [rng.standard_normal((1, 2, -(-h // s), -(-w // s))).astype(np.float32) for s in (4, 8, 16, 32)]
        # boxes larger than these small images, so that they reach the coarse levels, starting inside
        corner = rng.uniform(0, 20, (20, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(100, 600, (20, 2))], 1).astype(np.float32)
        pooler = ops.MultiScaleRoIAlign([f"p{i}" for i in range(4)], 7, 2)
        x = OrderedDict((f"p{i}", torch.from_numpy(m)) for i, m in enumerate(maps))
        expected = pooler(x, [torch.from_numpy(boxes)], [(h, w)]).numpy()
        rois = np.concatenate([np.zeros((20, 1), np.float32), boxes], axis=1)
        got = multi_scale_roi_align(maps, rois, 7, image_size=(w, h), sampling_ratio=2, backend="numpy")
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
