"""Regressions for the disagreements benchmarks/peer_fuzz.py found, from the fixtures made by
tests/fixtures/make_peer_fuzz_regressions.py, worked by hand, and live where the peer imports.

1. torchvision's MultiScaleRoIAlign clamps levels to [-log2(first scale), -log2(last scale)] and pools
   level k from map k - k_min: where the inferred scales repeat, the last map is never used; where they
   skip a level, a box mapped past the last map gets zeros.
2. OpenVINO's ROIPooling (max) computes bin edges in integers, so a float32 bin size that lands past a
   whole number does not add a pixel there (it does in torchvision's roi_pool); and it rounds box edges
   from the product x * s in double, not from its float32 value.
4. torchvision's ps_roi_align and roi_align(aligned=True), onnxruntime's and OpenVINO's RoIAlign compute
   x * s - 0.5 in float32 steps: with a scale that is not a power of 2 a whole-pixel width lands an ulp off.
3. OpenVINO's ROIAlign places sample i of bin p at start + p * bin + (bin / grid) * (i + 0.5) in float32;
   torchvision's ((i + 0.5) * bin) / grid rounds differently on large grids, and a max picks that up.
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


@pytest.mark.parametrize("aligned_mode", ["asymmetric", "half_pixel_for_nn", "half_pixel"])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_openvino_roi_align_sample_step(mode, aligned_mode):
    features, rois = FIXTURES["ov_align/features"], FIXTURES["ov_align/rois"]
    preset = "openvino-max" if mode == "max" else "openvino-half-pixel"
    got = roi_align(features, rois, (3, 2), 0.03125, 0, preset=preset, mode=mode,
                    options={"aligned_mode": aligned_mode}, backend="numpy")  # fmt: skip
    np.testing.assert_allclose(got, FIXTURES[f"ov_align/{mode}/{aligned_mode}"], rtol=0, atol=2e-6)


def test_sample_step_by_hand():
    """A box from y -7257.93 to 2884.54 at scale 1/32, one bin: 316.9519 feature pixels, 317 adaptive
    samples from -227.31017. OpenVINO's sample i is start + (bin / 317) * (i + 0.5), torchvision's
    start + ((i + 0.5) * bin) / 317: in float32 the two differ by an ulp (3e-5 here) at many samples."""
    from roialign_cli import geometry
    from roialign_cli.presets import resolve

    f32, ct = np.float32, np.dtype(np.float32)
    c1, c2 = np.array([-7257.92529296875]), np.array([2884.53564453125])
    for preset, step in (("openvino-max", "bin-over-grid"), ("torchvision", "offset-times-bin")):
        conv = resolve(preset)
        assert conv.sample_step == step
        geo = geometry.axis_geometry(c1, c2, 13, 0.03125, 1, conv, ct, 0)
        start, bin_, grid = geo.start[0], geo.bin[0], int(geo.grid[0])
        positions = geometry.sample_positions(geo, np.array([0]), 1, 13, conv, ct)[0, 0]
        i = np.arange(grid, dtype=f32) + f32(0.5)
        expected = start + (bin_ / f32(grid)) * i if step == "bin-over-grid" else start + (i * bin_) / f32(grid)
        np.testing.assert_array_equal(positions, expected)
    ov_order = start + (bin_ / f32(grid)) * i
    assert (ov_order != start + (i * bin_) / f32(grid)).sum() > 10


def test_openvino_roi_align_huge_boxes_live():
    ov = pytest.importorskip("openvino")
    import openvino.opset9 as ops

    rng = np.random.default_rng(3)
    features = (rng.standard_normal((1, 3, 13, 9)) * 3).astype(np.float32)
    k = 30
    lo = rng.uniform(-8000, 0, (k, 2))
    rois = np.concatenate([np.zeros((k, 1)), lo, lo + rng.uniform(2000, 12000, (k, 2))], axis=1).astype(np.float32)
    data = ops.parameter(list(features.shape), np.float32)
    boxes = ops.parameter([k, 4], np.float32)
    batch = ops.parameter([k], np.int32)
    for aligned_mode in ("asymmetric", "half_pixel"):
        node = ops.roi_align(data, boxes, batch, pooled_h=2, pooled_w=3, sampling_ratio=0, spatial_scale=0.03125,
                             mode="max", aligned_mode=aligned_mode)  # fmt: skip
        compiled = ov.Core().compile_model(
            ov.Model([node], [data, boxes, batch]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
        )
        expected = compiled([features, rois[:, 1:], np.zeros(k, np.int32)])[0]
        got = roi_align(features, rois, (2, 3), 0.03125, 0, preset="openvino-max",
                        options={"aligned_mode": aligned_mode}, backend="numpy")  # fmt: skip
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-6)


@pytest.mark.parametrize("scale", ["0.3", "0.7"])
def test_openvino_roi_pooling_rounds_the_exact_product(scale):
    features = FIXTURES["ov_pool/features"]
    rois, expected = FIXTURES[f"ov_pool/round/{scale}/rois"], FIXTURES[f"ov_pool/round/{scale}/output"]
    value = float(np.float32(scale))
    got = roi_align(features, rois, (3, 4), value, preset="openvino-roi-pooling", backend="numpy")
    np.testing.assert_array_equal(got, expected)


def test_exact_product_rounding_by_hand():
    """x = 14.999999 (float32 14.999999046...), s = float32(0.3) = 0.30000001192...: x * s = 4.49999989 in
    double, rounding to 4; its float32 value is 4.5, rounding (half away) to 5. A ramp 0..9 read by one bin
    shows the box end."""
    ramp = np.arange(10, dtype=np.float32).reshape(1, 1, 1, 10)
    rois = np.array([[0, 5.0, 0, 14.999999, 0]], np.float32)
    scale = float(np.float32(0.3))
    assert np.float32(rois[0, 3]) * np.float32(scale) == np.float32(4.5)
    exact = roi_align(ramp, rois, 1, scale, preset="openvino-roi-pooling", backend="numpy")
    rounded_float = roi_align(ramp, rois, 1, scale, preset="torchvision-roi-pool", backend="numpy")
    assert exact.item() == 4.0 and rounded_float.item() == 5.0


def test_ps_roi_align_scales_in_float32():
    got = roi_align(FIXTURES["ps/features"], FIXTURES["ps/rois"], (5, 1), float(np.float32(0.3)),
                    preset="torchvision-ps-roi-align", backend="numpy")  # fmt: skip
    np.testing.assert_allclose(got, FIXTURES["ps/output"], rtol=0, atol=1e-6, equal_nan=True)


def test_float32_scaling_by_hand():
    """x1 = 3.4908509, x2 = 13.49085, s = float32(0.3): float32 steps give x1 * s - 0.5 = 0.5472553 and
    3.5472555, a width of 3.0000002 (ceil: 4 samples); in double, rounded once, 0.54725534 and 3.5472553,
    a width of 3.0 (3 samples)."""
    from roialign_cli import geometry
    from roialign_cli.presets import resolve

    f32, ct = np.float32, np.dtype(np.float32)
    c1, c2 = np.array([3.4908509254455566]), np.array([13.490850448608398])
    ps = geometry.axis_geometry(c1, c2, 20, float(f32(0.3)), 1, resolve("torchvision-ps-roi-align"), ct, 1)
    in_double = resolve("torchvision-aligned").with_(scale_in_compute_dtype=False)
    once = geometry.axis_geometry(c1, c2, 20, float(f32(0.3)), 1, in_double, ct, 1)
    assert ps.start[0] == f32(0.5472553) and ps.end[0] == f32(3.5472555) and ps.grid[0] == 4
    assert once.start[0] == f32(0.54725534) and once.end[0] == f32(3.5472553) and once.grid[0] == 3


def test_ps_roi_align_odd_scales_live():
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")

    rng = np.random.default_rng(5)
    features = rng.standard_normal((2, 12, 15, 11)).astype(np.float32)
    for scale in (float(np.float32(0.3)), float(np.float32(0.7)), float(np.float32(1 / 3))):
        k = 1000
        # whole feature pixels wide from a random start: in float32 steps the width lands an ulp off
        start = rng.uniform(-2, 12, (k, 2)) / scale
        corners = np.concatenate([start, start + rng.integers(1, 6, (k, 2)) / scale], axis=1)
        rois = np.concatenate([rng.integers(0, 2, (k, 1)), corners], axis=1).astype(np.float32)
        expected = ops.ps_roi_align(torch.from_numpy(features), torch.from_numpy(rois), (3, 4), scale).numpy()
        got = roi_align(features, rois, (3, 4), scale, preset="torchvision-ps-roi-align", backend="numpy")
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, equal_nan=True)


def test_torchvision_aligned_scales_in_float32():
    got = roi_align(FIXTURES["aligned/features"], FIXTURES["aligned/rois"], (3, 4), float(np.float32(0.3)), 0,
                    aligned=True, backend="numpy")  # fmt: skip
    np.testing.assert_allclose(got, FIXTURES["aligned/output"], rtol=0, atol=1e-6)


def _whole_width_rois(rng, scale, k=1000):
    start = rng.uniform(-2, 12, (k, 2)) / scale
    boxes = np.concatenate([start, start + rng.integers(1, 6, (k, 2)) / scale], axis=1)
    return np.concatenate([rng.integers(0, 2, (k, 1)), boxes], axis=1).astype(np.float32)


@pytest.mark.parametrize("scale", [0.3, 0.7])
def test_onnxruntime_half_pixel_float32_steps_live(scale):
    pytest.importorskip("onnxruntime")
    from test_presets_onnxruntime import run_onnxruntime

    rng = np.random.default_rng(int(scale * 10))
    features = rng.standard_normal((2, 3, 15, 11)).astype(np.float32)
    value = float(np.float32(scale))
    rois = _whole_width_rois(rng, value)
    expected = run_onnxruntime(features, rois, 16, output_height=3, output_width=4, spatial_scale=value,
                               sampling_ratio=0, coordinate_transformation_mode="half_pixel")  # fmt: skip
    got = roi_align(features, rois, (3, 4), value, 0, preset="onnxruntime", backend="numpy")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("aligned_mode", ["half_pixel_for_nn", "half_pixel"])
def test_openvino_half_pixel_float32_steps_live(aligned_mode):
    pytest.importorskip("openvino")
    from test_presets_openvino import openvino_roi_align

    rng = np.random.default_rng(len(aligned_mode))
    features = rng.standard_normal((2, 3, 15, 11)).astype(np.float32)
    value = float(np.float32(0.3))
    rois = _whole_width_rois(rng, value)
    expected = openvino_roi_align(features, rois, (3, 4), value, 0, "avg", aligned_mode)
    got = roi_align(features, rois, (3, 4), value, 0, preset="openvino-half-pixel",
                    options={"aligned_mode": aligned_mode}, backend="numpy")  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
