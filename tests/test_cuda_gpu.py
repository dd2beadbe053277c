"""The CUDA engine on a GPU, against the NumPy engine and torchvision's CUDA op.

Skipped as a whole where CuPy is missing or no GPU is usable (the reason is shown with -rs).
"""

from __future__ import annotations

import numpy as np
import pytest

from roialign_cli import api
from roialign_cli.conventions import Convention
from roialign_cli.engines import cuda_engine, numpy_engine
from switch_cases import OUTPUT_SIZES, all_conventions, assert_matches, random_case

cupy = pytest.importorskip("cupy")
_USABLE, _REASON = cuda_engine.availability()
pytestmark = pytest.mark.skipif(not _USABLE, reason=f"no usable GPU: {_REASON}")

CONVENTIONS = all_conventions()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_cuda_matches_numpy_engine(name, dtype, rng):
    conv = CONVENTIONS[name]
    for output_size in OUTPUT_SIZES:
        features, rois, scale = random_case(rng, conv, dtype, per_axis_scale=output_size != (7, 7))
        actual = cuda_engine.pool(features, rois, output_size, scale, conv)
        assert isinstance(actual, np.ndarray) and actual.dtype == features.dtype
        assert_matches(actual, numpy_engine.pool(features, rois, output_size, scale, conv), dtype)


@pytest.mark.parametrize("channels", [1, 5, 32, 33, 256])
def test_cuda_covers_every_channel(channels, rng):
    conv = Convention(sample_offset=0.5, min_size=None)
    features, rois, scale = random_case(rng, conv, "float32", channels=channels)
    actual = cuda_engine.pool(features, rois, (7, 7), scale, conv)
    assert_matches(actual, numpy_engine.pool(features, rois, (7, 7), scale, conv), "float32")


def test_cupy_in_cupy_out_on_the_same_device(rng):
    conv = Convention()
    features, rois, scale = random_case(rng, conv, "float32")
    expected = numpy_engine.pool(features, rois, (7, 7), scale, conv)
    for device_id in range(min(2, cupy.cuda.runtime.getDeviceCount())):
        with cupy.cuda.Device(device_id):
            on_device = cupy.asarray(features)
            device_rois = cupy.asarray(rois)
        out = api.roi_align(on_device, device_rois, (7, 7), scale, backend="auto")
        assert isinstance(out, cupy.ndarray) and out.device.id == device_id
        assert_matches(out.get(), expected, "float32")


def test_channels_last_features_are_read_in_place(rng):
    conv = Convention(sample_offset=0.5, min_size=None)
    features, rois, scale = random_case(rng, conv, "float32")
    channels_last = cupy.asarray(np.ascontiguousarray(features.transpose(0, 2, 3, 1))).transpose(0, 3, 1, 2)
    out = cuda_engine.pool(channels_last, rois, (7, 7), scale, conv)
    assert_matches(out.get(), numpy_engine.pool(features, rois, (7, 7), scale, conv), "float32")


def test_no_rois_and_no_channels(rng):
    features = cupy.asarray(rng.standard_normal((1, 4, 6, 6)).astype(np.float32))
    assert cuda_engine.pool(features, np.zeros((0, 5)), (2, 3), 1.0, Convention()).shape == (0, 4, 2, 3)
    assert cuda_engine.pool(features[:, :0], np.array([[0, 1, 1, 4, 4.0]]), (2, 3), 1.0, Convention()).shape == (
        1, 0, 2, 3,
    )  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 0, 2])
def test_cuda_matches_torchvision_cuda(dtype, aligned, sampling_ratio, rng):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    # off the pixel grid: torchvision's kernel contracts multiply-adds, so a sample exactly on
    # the map's edge could fall on the other side of its zero rule
    features, rois, scale = random_case(rng, Convention(), dtype, channels=64, on_grid=0.0)
    expected = ops.roi_align(
        torch.from_numpy(features).cuda(), torch.from_numpy(rois.astype(dtype)).cuda(), (7, 7), scale,
        sampling_ratio, aligned,
    ).cpu().numpy()  # fmt: skip
    actual = api.roi_align(cupy.asarray(features), rois, (7, 7), scale, sampling_ratio, aligned, backend="cuda")
    tolerance = {"float16": 1e-2, "float32": 1e-4, "float64": 1e-9}[dtype]
    np.testing.assert_allclose(actual.get().astype(np.float64), expected.astype(np.float64), rtol=tolerance,
                               atol=tolerance)  # fmt: skip


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic", "ordered"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_cuda_backward_matches_numpy_engine(name, dtype, deterministic, rng):
    conv = CONVENTIONS[name]
    for output_size in OUTPUT_SIZES:
        features, rois, scale = random_case(rng, conv, dtype)
        grad = rng.standard_normal((len(rois), features.shape[1], *output_size)).astype(dtype)
        expected = numpy_engine.pool_backward(grad, rois, features.shape, output_size, scale, conv, features=features)
        actual = cuda_engine.pool_backward(
            grad, rois, features.shape, output_size, scale, conv, deterministic, features
        )
        assert isinstance(actual, np.ndarray) and actual.dtype == features.dtype
        assert_matches(actual, expected, dtype)


def test_cuda_deterministic_backward_repeats_bit_for_bit(rng):
    conv = Convention(sample_offset=0.5, min_size=None, sampling_ratio=2)
    features, rois, scale = random_case(rng, conv, "float32", channels=64)
    rois = np.concatenate([rois] * 20)  # many rois on the same pixels: atomics would race
    grad = cupy.asarray(rng.standard_normal((len(rois), 64, 7, 7)).astype(np.float32))
    first = cuda_engine.pool_backward(grad, rois, features.shape, (7, 7), scale, conv, True)
    assert isinstance(first, cupy.ndarray)
    for _ in range(3):
        again = cuda_engine.pool_backward(grad, rois, features.shape, (7, 7), scale, conv, True)
        assert cupy.array_equal(first, again)


def test_torch_layer_on_cuda_matches_the_cpu(rng):
    torch = pytest.importorskip("torch")
    rt = pytest.importorskip("roialign_cli.torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    features = torch.from_numpy(rng.standard_normal((2, 8, 12, 15)))
    rois = torch.tensor([[0, 1.0, 2.0, 20.0, 18.0], [1, -3.0, 0.0, 9.0, 30.0]], dtype=torch.float64)
    outputs = []
    for device in ("cpu", "cuda"):
        x = features.to(device).requires_grad_()
        out = rt.roi_align(
            x, rois.to(device), (3, 4), 0.5, preset="caffe-ssd-roialign", switches={"coordinates": "absolute"}
        )
        out.square().sum().backward()
        assert out.device.type == device and x.grad.device.type == device
        outputs.append((out.detach().cpu().numpy(), x.grad.cpu().numpy()))
    for cpu, gpu in zip(*outputs):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-10)
