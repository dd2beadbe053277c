"""roialign_cli.torch: gradcheck in float64 for every preset (avg and max, away from ties), the layer against
the NumPy engine and the seed's Caffe reference, torchvision's box lists, and no copies on the CPU.
Skipped where torch is not installed (CI installs it: see .ci/run)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from helpers import REPO
from roialign_cli import api, boxes
from roialign_cli.presets import PRESETS

torch = pytest.importorskip("torch")
rt = pytest.importorskip("roialign_cli.torch")

CASES = [(p.name, "avg") for p in PRESETS] + [(p.name, "max") for p in PRESETS if p.max_mode]


def _case(conv, seed):
    """Features [2, 2, 7, 8] ([2, 12, 7, 8] for position-sensitive pooling) and rois of at least a feature
    pixel (no empty bins: some presets make them NaN), inside and across the map's border, in the units the
    convention reads."""
    rng = np.random.default_rng(seed)
    channels = 2 * 3 * 2 if conv.channel_mapping == "position-sensitive" else 2  # a channel per (3, 2) bin
    features = torch.from_numpy(rng.standard_normal((2, channels, 7, 8))).requires_grad_()
    lo, size = rng.uniform(-0.1, 0.6, (5, 2)), rng.uniform(0.25, 0.6, (5, 2))
    corners = np.concatenate([lo, lo + size], axis=1)  # relative x1, y1, x2, y2
    scale = 0.5
    if conv.coordinates == "absolute":
        corners = corners * np.array([8, 7, 8, 7]) / scale
    rois = torch.from_numpy(np.concatenate([rng.integers(0, 2, (5, 1)), corners], axis=1))
    return features, rois, scale


@pytest.mark.parametrize(("preset", "mode"), CASES, ids=[f"{p}-{m}" for p, m in CASES])
def test_gradcheck_every_preset(preset, mode):
    conv = rt.convention_of(preset, mode=mode)
    features, rois, scale = _case(conv, zlib.crc32(f"{preset} {mode}".encode()))

    def layer(x):
        return rt.roi_align(x, rois, (3, 2), scale, preset=preset, mode=mode)

    out = layer(features)
    assert torch.isfinite(out).all()
    expected = api.pool(features.detach().numpy(), rois.numpy(), (3, 2), scale, conv, "numpy")[0]
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    assert torch.autograd.gradcheck(layer, (features,), eps=1e-6, atol=1e-8)


def test_module_takes_preset_options_and_switches():
    layer = rt.RoIAlign(7, 1 / 8, preset="onnxruntime", coordinate_transformation_mode="output_half_pixel",
                        switches={"border": "clamp"})  # fmt: skip
    conv = layer.convention
    assert (conv.sample_offset, conv.min_size, conv.border) == (0.0, 1.0, "clamp")
    assert "onnxruntime" in repr(layer)
    with pytest.raises(ValueError, match="switches"):
        rt.RoIAlign(7, switches={"pooling": "square"})


def test_box_lists_as_torchvision_takes_them(rng):
    features = torch.from_numpy(rng.standard_normal((2, 3, 9, 9)))
    first, second = torch.tensor([[1.0, 1.0, 6.0, 5.0]]), torch.tensor([[0.0, 2.0, 8.0, 8.0], [3.0, 3.0, 4.0, 7.0]])
    as_list = rt.roi_align(features, [first, second], 2)
    rois = torch.tensor([[0, 1.0, 1.0, 6.0, 5.0], [1, 0.0, 2.0, 8.0, 8.0], [1, 3.0, 3.0, 4.0, 7.0]])
    torch.testing.assert_close(as_list, rt.roi_align(features, rois, 2), rtol=0, atol=0)


def test_cpu_tensors_reach_the_engine_without_copies(rng):
    features = torch.from_numpy(rng.standard_normal((1, 2, 5, 5)).astype(np.float32))
    with rt._engine_view(features) as (view, backend):
        assert backend == "numpy" and np.shares_memory(view(features), features.numpy())
    out = rt.roi_align(features, torch.tensor([[0, 0.0, 0.0, 4.0, 4.0]]), 2)
    assert out.dtype == torch.float32


def test_boxes_get_no_gradient_and_float16_trains(rng):
    features = torch.from_numpy(rng.standard_normal((1, 2, 6, 6)).astype(np.float16)).requires_grad_()
    rois = torch.tensor([[0, 0.5, 0.5, 4.0, 5.0]], dtype=torch.float16, requires_grad=True)
    rt.roi_align(features, rois, 2, aligned=True).sum().backward()
    assert rois.grad is None and features.grad.dtype == torch.float16
    # every cell's average weighs 1 in all: 2 channels x 4 cells, all samples inside the map
    assert features.grad.float().sum().item() == pytest.approx(8.0, abs=1e-2)


def test_seed_caffe_layer_reproduces_the_reference():
    """The README's last step: the Caffe convention as a train-ready layer, equal to samples/reference.npy."""
    features = np.load(REPO / "samples" / "features.npy")
    rois = boxes.parse_rois(np.load(REPO / "samples" / "detections.npy")).rois
    layer = rt.RoIAlign(7, preset="caffe-ssd-roialign")
    out = layer(torch.from_numpy(features).requires_grad_(), torch.from_numpy(rois))
    np.testing.assert_allclose(out.detach().numpy(), np.load(REPO / "samples" / "reference.npy"), rtol=0, atol=1e-5)
    out.sum().backward()
