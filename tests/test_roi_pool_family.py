"""The RoIPool family against its peers: torchvision's roi_pool and ps_roi_align (fixtures made by
tests/fixtures/make_roi_pool_fixtures.py), onnxruntime's MaxRoiPool live, and small cases worked out
by hand from the sources of OpenVINO's ROIPooling and R-FCN's PSROIPooling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from roialign_cli import roi_align
from roialign_cli.errors import InputError

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_roi_pool.npz", allow_pickle=False)
CASES = [row.split(",") for row in FIXTURES["index"]]
PRESET = {"roi_pool": "torchvision-roi-pool", "ps_roi_align": "torchvision-ps-roi-align"}


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("name,op,ratio,scale,ph,pw", CASES, ids=[c[0] for c in CASES])
def test_matches_torchvision(name, op, ratio, scale, ph, pw, backend):
    features, rois, expected = (FIXTURES[f"{name}/{part}"] for part in ("features", "rois", "output"))
    got = roi_align(features, rois, (int(ph), int(pw)), float(scale), int(ratio), preset=PRESET[op], backend=backend)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, equal_nan=True)


def test_fixtures_put_edges_on_half_pixels():
    """Half-pixel edges are where round-half-away (C) and round-half-even (NumPy) disagree."""
    name = next(c[0] for c in CASES if c[1] == "roi_pool" and c[3] == "1.0")
    edges = FIXTURES[f"{name}/rois"][:, 1:].astype(np.float64)
    assert (np.abs(edges - np.floor(edges) - 0.5) < 1e-6).sum() >= 8


def test_roi_pool_by_hand():
    """A 4x4 map of 0..15, box (0.5, 0.5)-(2.5, 2.5) at scale 1, 2x2 output. round() is half away: start 1,
    end 3, size 3, bin 1.5; rows [floor(0) + 1, ceil(1.5) + 1) = [1, 3) and [floor(1.5) + 1, ceil(3) + 1) = [2, 4).
    Half-to-even rounding would start at 0 and end at 2 instead."""
    features = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    rois = np.array([[0, 0.5, 0.5, 2.5, 2.5]])
    got = roi_align(features, rois, (2, 2), 1.0, preset="caffe-roi-pooling")
    # bins: rows 1-2 / cols 1-2 -> max 10; rows 1-2 / cols 2-3 -> 11;
    # rows 2-3 / cols 1-2 -> 14; rows 2-3 / cols 2-3 -> 15
    np.testing.assert_array_equal(got[0, 0], [[10, 11], [14, 15]])


def test_empty_bins_give_zero():
    features = np.full((1, 1, 4, 4), -5.0, dtype=np.float32)
    got = roi_align(features, np.array([[0, 10.0, 10.0, 12.0, 12.0]]), (2, 2), 1.0, preset="caffe-roi-pooling")
    np.testing.assert_array_equal(got, 0)


def test_rfcn_psroi_pooling_by_hand():
    """R-FCN: start round(0.4) * 1 = 0, end (round(2.6) + 1) * 1 = 4, size 4, bin 2 (2x2 output, 1 class).
    Bin (ph, pw) averages rows [2 ph, 2 ph + 2) and cols [2 pw, 2 pw + 2) of input channel ph * 2 + pw."""
    features = np.stack([np.arange(16, dtype=np.float32).reshape(4, 4) + 100 * c for c in range(4)])[None]
    got = roi_align(features, np.array([[0, 0.4, 0.4, 2.6, 2.6]]), (2, 2), 1.0, preset="rfcn-psroi-pooling")
    # channel 0, rows 0-1, cols 0-1: (0 + 1 + 4 + 5) / 4 = 2.5; channel 1, rows 0-1, cols 2-3: 100 + 4.5;
    # channel 2, rows 2-3, cols 0-1: 200 + 10.5; channel 3, rows 2-3, cols 2-3: 300 + 12.5
    np.testing.assert_allclose(got[0, 0], [[2.5, 104.5], [210.5, 312.5]])


def test_rfcn_rounds_before_scaling():
    """x1 = 2.6 at scale 1/2: R-FCN takes round(2.6) * 0.5 = 1.5 (bins from floor(1.5) = 1), where rounding
    after scaling would give round(1.3) = 1; the end is (round(5.4) + 1) * 0.5 = 3. One bin: cols [1, 3)."""
    features = np.zeros((1, 1, 4, 4), dtype=np.float32)
    features[0, 0, :, 1] = 7.0
    got = roi_align(features, np.array([[0, 2.6, 0.0, 5.4, 6.0]]), (1, 1), 0.5, preset="rfcn-psroi-pooling")
    # rows [0, ceil(3.5)) = [0, 4), cols [1, 3): 4 rows x 2 cols, column 1 is 7 -> mean 3.5
    assert got[0, 0, 0, 0] == pytest.approx(3.5)


def test_openvino_roi_pooling_bilinear_by_hand():
    """OpenVINO ROIPooling bilinear, 2x2 output over the normalized box (0, 0)-(1, 1) of a 3x3 map: points at
    0 and (H - 1) * 1.0 = 2 exactly (the last pinned to the box end), so the corners of the map."""
    features = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    got = roi_align(
        features,
        np.array([[0, 0.0, 0.0, 1.0, 1.0]]),
        (2, 2),
        1.0,
        preset="openvino-roi-pooling",
        options={"method": "bilinear"},
    )
    np.testing.assert_array_equal(got[0, 0], [[0, 2], [6, 8]])
    # one point: the centre, (0.25 + 0.75) / 2 * (H - 1) = 1 for the box (0.25, 0.25)-(0.75, 0.75)
    got = roi_align(
        features,
        np.array([[0, 0.25, 0.25, 0.75, 0.75]]),
        (1, 1),
        1.0,
        preset="openvino-roi-pooling",
        options={"method": "bilinear"},
    )
    assert got[0, 0, 0, 0] == pytest.approx(4.0)  # the centre pixel


def test_position_sensitive_needs_divisible_channels():
    features = np.zeros((1, 5, 4, 4), dtype=np.float32)
    with pytest.raises(InputError, match="divisible by PH \\* PW = 4"):
        roi_align(features, np.array([[0, 0, 0, 2, 2.0]]), (2, 2), 1.0, preset="torchvision-ps-roi-align")


def test_sampling_ratio_does_not_apply_to_whole_pixels():
    features = np.zeros((1, 1, 4, 4), dtype=np.float32)
    with pytest.raises(InputError, match="whole pixel"):
        roi_align(features, np.array([[0, 0, 0, 2, 2.0]]), (2, 2), 1.0, 2, preset="caffe-roi-pooling")


def _onnx_max_roi_pool(features, rois, size, scale):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    node = helper.make_node("MaxRoiPool", ["X", "rois"], ["Y"], pooled_shape=list(size), spatial_scale=scale)
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(features.shape)),
         helper.make_tensor_value_info("rois", TensorProto.FLOAT, list(rois.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": features, "rois": rois})[0]


@pytest.mark.parametrize("seed", range(6))
def test_matches_onnxruntime_max_roi_pool(seed):
    rng = np.random.default_rng(seed)
    n, c, h, w = 2, 3, int(rng.integers(5, 14)), int(rng.integers(5, 14))
    scale = float(rng.choice([1.0, 0.5, 0.25]))
    size = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    features = rng.standard_normal((n, c, h, w)).astype(np.float32)
    k = 12
    corners = np.sort(rng.uniform(-0.3, 1.3, (k, 2, 2)), axis=1) * np.array([w, h]) / scale
    rois = np.concatenate([rng.integers(0, n, (k, 1)), corners.reshape(k, 4)[:, [0, 1, 2, 3]]], 1)
    rois[:, 1:] = np.where(rng.random((k, 4)) < 0.4, (np.floor(rois[:, 1:] * scale) + 0.5) / scale, rois[:, 1:])
    rois = rois.astype(np.float32)
    expected = _onnx_max_roi_pool(features, rois, size, scale)
    got = roi_align(features, rois, size, scale, preset="onnx-maxroipool")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def _openvino_roi_pooling(features, rois, size, scale, method):
    ov = pytest.importorskip("openvino")
    import openvino.opset2 as ops

    data = ops.parameter(list(features.shape), np.float32)
    coords = ops.parameter(list(rois.shape), np.float32)
    node = ops.roi_pooling(data, coords, output_roi=list(size), spatial_scale=scale, method=method)
    # f32: the CPU plugin otherwise computes in bf16 where the processor has it
    compiled = ov.Core().compile_model(ov.Model([node], [data, coords]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled([features, rois])[0]


@pytest.mark.parametrize("method", ["max", "bilinear"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_openvino_roi_pooling(seed, method):
    """OpenVINO's CPU plugin, live where openvino is installed."""
    rng = np.random.default_rng(100 + seed)
    n, c, h, w = 2, 3, int(rng.integers(5, 14)), int(rng.integers(5, 14))
    size = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    features = rng.standard_normal((n, c, h, w)).astype(np.float32)
    k = 10
    if method == "max":
        scale = float(rng.choice([1.0, 0.5, 0.25]))
        extent = np.array([w, h]) / scale
    else:  # normalized boxes, some past the map, one the whole map
        scale, extent = 1.0, np.ones(2)
    corners = np.sort(rng.uniform(-0.2, 1.2, (k, 2, 2)), axis=1) * extent
    rois = np.concatenate([rng.integers(0, n, (k, 1)), corners.reshape(k, 4)], 1).astype(np.float32)
    if method == "bilinear":
        rois[0, 1:] = [0, 0, 1, 1]
    expected = _openvino_roi_pooling(features, rois, size, scale, method)
    got = roi_align(features, rois, size, scale, preset="openvino-roi-pooling", options={"method": method})
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


GRADS = np.load(Path(__file__).parent / "fixtures" / "torchvision_roi_pool_grad.npz", allow_pickle=False)
GRAD_CASES = [row.split(",") for row in GRADS["index"]]


@pytest.mark.parametrize("backend", ["numpy", "reference"])
@pytest.mark.parametrize("name,op,scale,ph,pw", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_torchvision(name, op, scale, ph, pw, backend):
    """RoIPool's gradient goes to each bin's arg-max pixel; ps_roi_align's to the taps of the channels each bin
    reads (tests/fixtures/make_roi_pool_grad_fixtures.py, torchvision's autograd)."""
    from roialign_cli import roi_align_backward

    features, rois, grad_output, expected = (
        GRADS[f"{name}/{part}"] for part in ("features", "rois", "grad_output", "grad")
    )
    got = roi_align_backward(grad_output, rois, features.shape, (int(ph), int(pw)), float(scale),
                             preset=PRESET[op], features=features, backend=backend)  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
