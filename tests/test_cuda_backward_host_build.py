"""kernels/roi_align_backward.cu built for the host (tests/host_kernel.py), atomic and ordered, against the
NumPy engine's backward for every switch combination the presets use, and against torchvision's autograd
through the committed fixtures. No GPU needed; skipped where g++ is missing."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from host_kernel import build_host_backward
from roialign_cli.conventions import Convention
from roialign_cli.engines import cuda_engine, kernel_source, numpy_engine
from roialign_cli.presets import resolve
from switch_cases import OUTPUT_SIZES, all_conventions, assert_matches, random_case

CONVENTIONS = all_conventions()
FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_grad.npz", allow_pickle=False)


@pytest.fixture(scope="session")
def host_backward():
    backward = build_host_backward()
    if backward is None:
        pytest.skip("g++ is not installed")
    return backward


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic", "ordered"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_host_backward_matches_numpy_engine(host_backward, name, dtype, deterministic):
    conv = CONVENTIONS[name]
    rng = np.random.default_rng(zlib.crc32(f"host backward {name} {dtype}".encode()))
    for output_size in OUTPUT_SIZES:
        features, rois, scale = random_case(rng, conv, dtype, channels=7)
        grad = rng.standard_normal((len(rois), 7, *output_size)).astype(dtype)
        expected = numpy_engine.pool_backward(grad, rois, features.shape, output_size, scale, conv, features=features)
        got = host_backward(grad, rois, features.shape, output_size, scale, conv, deterministic, features)
        assert got.dtype == expected.dtype and got.shape == features.shape
        assert_matches(got, expected, dtype)


@pytest.mark.parametrize("channels", [1, 32, 33])
@pytest.mark.parametrize("pooling", ["avg", "max", "corner-max"])
def test_host_backward_covers_every_channel(host_backward, channels, pooling, rng):
    conv = Convention(sample_offset=0.5, min_size=None, pooling=pooling)
    features, rois, scale = random_case(rng, conv, "float64", channels=channels)
    grad = rng.standard_normal((len(rois), channels, 7, 7))
    expected = numpy_engine.pool_backward(grad, rois, features.shape, (7, 7), scale, conv, features=features)
    for deterministic in (False, True):
        got = host_backward(grad, rois, features.shape, (7, 7), scale, conv, deterministic, features)
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic", "ordered"])
def test_host_backward_matches_torchvision_autograd(host_backward, deterministic):
    for row in FIXTURES["index"]:
        name, aligned, ratio, scale, ph, pw = row.split(",")
        features, rois = FIXTURES[f"{name}/features"], FIXTURES[f"{name}/rois"]
        conv = resolve(None, aligned=aligned == "1", sampling_ratio=int(ratio))
        got = host_backward(FIXTURES[f"{name}/grad_output"], rois.astype(np.float64), features.shape,
                            (int(ph), int(pw)), float(scale), conv, deterministic)  # fmt: skip
        np.testing.assert_allclose(got, FIXTURES[f"{name}/grad_features"], rtol=0, atol=1e-5, err_msg=name)


def test_host_backward_with_no_rois_is_zero(host_backward):
    out = host_backward(np.zeros((0, 3, 2, 2)), np.zeros((0, 5)), (1, 3, 6, 6), (2, 2), 1.0, Convention())
    np.testing.assert_array_equal(out, np.zeros((1, 3, 6, 6)))


def test_backward_kernels_take_the_forward_scalars():
    """The backward kernels' scalar parameters (ROIALIGN_SCALARS) are roi_align_forward's, in its order, so that
    `kernel_arguments` serves both; a switch added to the forward must be added there too."""
    forward = kernel_source.read_kernel(cuda_engine.ROI_ALIGN)
    declared = re.search(r"__global__ void roi_align_forward\((.*?)\)\s*\{", forward, re.DOTALL).group(1)
    forward_scalars = [" ".join(p.split()) for p in declared.split(",")][3:]
    backward = kernel_source.read_kernel(cuda_engine.ROI_ALIGN_BACKWARD)
    macro = re.search(r"#define ROIALIGN_SCALARS\s*\\\n(.*?)\n\n", backward, re.DOTALL).group(1).replace("\\", "")
    assert [" ".join(p.split()) for p in macro.split(",")] == forward_scalars
