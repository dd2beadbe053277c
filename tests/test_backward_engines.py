"""The backward pass of the NumPy and reference engines: against each other for every switch combination the
presets use, against torchvision's autograd (fixtures from tests/fixtures/make_torchvision_grad.py, and live
where torchvision imports), as the adjoint of the forward pass, and on cases worked out by hand."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from roialign_cli.conventions import Convention
from roialign_cli.engines import numpy_engine, reference_engine
from roialign_cli.presets import resolve
from switch_cases import OUTPUT_SIZES, all_conventions, assert_matches, random_case

CONVENTIONS = all_conventions()
FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_grad.npz", allow_pickle=False)
CASES = [row.split(",") for row in FIXTURES["index"]]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_numpy_backward_matches_reference(name, dtype):
    conv = CONVENTIONS[name]
    rng = np.random.default_rng(zlib.crc32(f"backward {name}/{dtype}".encode()))
    features, rois, scale = random_case(rng, conv, dtype, channels=5)
    for size in OUTPUT_SIZES:
        grad = rng.standard_normal((len(rois), 5, *size)).astype(dtype)
        expected = reference_engine.pool_backward(grad, rois, features.shape, size, scale, conv, features=features)
        got = numpy_engine.pool_backward(grad, rois, features.shape, size, scale, conv, features=features)
        assert got.shape == features.shape and got.dtype == features.dtype
        assert np.abs(expected.astype(np.float64)).sum() > 0  # the case sends gradient somewhere
        assert_matches(got, expected, dtype)


@pytest.mark.parametrize("engine", [numpy_engine, reference_engine], ids=["numpy", "reference"])
@pytest.mark.parametrize("name,aligned,ratio,scale,ph,pw", CASES, ids=[c[0] for c in CASES])
def test_backward_matches_torchvision_autograd(engine, name, aligned, ratio, scale, ph, pw):
    features, rois = FIXTURES[f"{name}/features"], FIXTURES[f"{name}/rois"]
    conv = resolve(None, aligned=aligned == "1", sampling_ratio=int(ratio))
    got = engine.pool_backward(
        FIXTURES[f"{name}/grad_output"], rois.astype(np.float64), features.shape, (int(ph), int(pw)), float(scale), conv
    )
    assert got.dtype == features.dtype
    np.testing.assert_allclose(got, FIXTURES[f"{name}/grad_features"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_backward_matches_torchvision_live(aligned, sampling_ratio, rng):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    conv = resolve(None, aligned=aligned, sampling_ratio=sampling_ratio)
    features, rois, scale = random_case(rng, conv, "float64")
    grad = rng.standard_normal((len(rois), features.shape[1], 3, 4))
    x = torch.from_numpy(features).requires_grad_()
    ops.roi_align(x, torch.from_numpy(rois), (3, 4), scale, sampling_ratio, aligned).backward(torch.from_numpy(grad))
    got = numpy_engine.pool_backward(grad, rois, features.shape, (3, 4), scale, conv)
    np.testing.assert_allclose(got, x.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", [n for n, c in CONVENTIONS.items() if c.pooling == "avg"])
def test_average_backward_is_the_adjoint_of_forward(name, rng):
    """<pool(x) - pool(0), g> = <x, pool_backward(g)>: the forward is affine in x (fill values are its constant)."""
    conv = CONVENTIONS[name].with_(empty_value=0.0)
    features, rois, scale = random_case(rng, conv, "float64", channels=3)
    grad = rng.standard_normal((len(rois), 3, 3, 5))
    linear = numpy_engine.pool(features, rois, (3, 5), scale, conv) - numpy_engine.pool(
        0 * features, rois, (3, 5), scale, conv
    )
    back = numpy_engine.pool_backward(grad, rois, features.shape, (3, 5), scale, conv)
    assert np.vdot(linear, grad) == pytest.approx(np.vdot(features, back), rel=1e-12, abs=1e-12)


FOUR = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
ONE_PIXEL = np.array([[0, 0.0, 0.0, 1.0, 1.0]])  # caffe2: one sample at (0.5, 0.5), its taps the four pixels


@pytest.mark.parametrize("engine", [numpy_engine, reference_engine], ids=["numpy", "reference"])
def test_backward_by_hand(engine):
    def grad(conv, features=FOUR, rois=ONE_PIXEL, size=(1, 1)):
        g = np.full((len(rois), 1, *size), 2.0)
        return engine.pool_backward(g, rois, features.shape, size, 1.0, conv, features=features)[0, 0]

    # avg: each pixel weighs 0.25 in the one sample, so it gets 0.25 x 2
    np.testing.assert_array_equal(grad(Convention()), [[0.5, 0.5], [0.5, 0.5]])
    # max over one sample: the same taps
    np.testing.assert_array_equal(grad(Convention(pooling="max")), [[0.5, 0.5], [0.5, 0.5]])
    # corner-max: the largest weighted corner is 0.25 x 4, pixel (1, 1) alone
    np.testing.assert_array_equal(grad(Convention(pooling="corner-max")), [[0, 0], [0, 0.5]])
    # OpenVINO's floor 0 beats a negative map: the output is the floor, a constant
    np.testing.assert_array_equal(grad(Convention(pooling="max", max_floor=0.0), features=-FOUR), np.zeros((2, 2)))
    # a tie: a flat 3x3 map, one bin of 2x2 samples at 0.5 and 1.5 on each axis; all four are equal, the first
    # in scan order (0.5, 0.5) takes the gradient, spread over pixels (0..1, 0..1)
    flat = np.ones((1, 1, 3, 3))
    tie = grad(Convention(pooling="max", sampling_ratio=2), features=flat, rois=np.array([[0, 0.0, 0.0, 2.0, 2.0]]))
    np.testing.assert_array_equal(tie, [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 0]])


def test_empty_bins_and_samples_outside_send_nothing():
    # mmdet-v1 (minimum size 0): a zero-sized roi has no samples; a roi far outside the map reads nothing
    conv = Convention(end_plus_one="coordinate", min_size=0.0, empty_value=np.nan)
    rois = np.array([[0, 2.0, 2.0, 1.0, 1.0], [0, 50.0, 50.0, 60.0, 60.0]])
    grad = np.ones((2, 1, 2, 2))
    for engine in (numpy_engine, reference_engine):
        out = engine.pool_backward(grad, rois, (1, 1, 6, 6), (2, 2), 1.0, conv)
        np.testing.assert_array_equal(out, np.zeros((1, 1, 6, 6)))


def test_max_backward_needs_the_features():
    for engine in (numpy_engine, reference_engine):
        with pytest.raises(ValueError, match="needs the features"):
            engine.pool_backward(np.ones((1, 1, 1, 1)), ONE_PIXEL, FOUR.shape, (1, 1), 1.0, Convention(pooling="max"))


@pytest.mark.parametrize("name", ["caffe2", "torchvision-aligned", "mmcv-max", "onnx-half-pixel-corner-max"])
@pytest.mark.parametrize("split", ["threads", "many chunks in a wave", "a chunk per wave and small blocks"])
def test_chunks_waves_and_blocks_do_not_change_the_gradient(name, split, rng, monkeypatch):
    """The threaded path, with chunks of different padded widths stacked in one matrix, or one per wave."""
    conv = CONVENTIONS[name].with_(sampling_ratio=0)  # adaptive: rois of many sizes, rows of many widths
    features, rois, scale = random_case(rng, conv, "float64", channels=9)
    grad = rng.standard_normal((len(rois), 9, 3, 4))
    expected = reference_engine.pool_backward(grad, rois, features.shape, (3, 4), scale, conv, features=features)
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)
    if split != "threads":
        monkeypatch.setattr(numpy_engine, "MIN_CHUNK_BYTES", 1)
        monkeypatch.setattr(numpy_engine, "WORKING_BYTES", numpy_engine.MATRIX_BYTES + 20_000)
    if split == "a chunk per wave and small blocks":
        monkeypatch.setattr(numpy_engine, "MATRIX_BYTES", 1)
        monkeypatch.setattr(numpy_engine, "WORKING_BYTES", 20_000)
        plane = features.shape[2] * features.shape[3] * 8
        monkeypatch.setattr(numpy_engine, "IMAGE_BLOCK_BYTES", 2 * plane)
        monkeypatch.setattr(numpy_engine, "MAX_IMAGE_BLOCK_BYTES", 2 * plane)
    plan = numpy_engine._Plan(rois, features.shape, (3, 4), scale, conv, np.dtype(np.float64))
    if split != "threads":
        assert max(len(group) for group in plan.chunks(9, workers=2).values()) > 1
    got = numpy_engine.pool_backward(grad, rois, features.shape, (3, 4), scale, conv, features=features)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11)
