"""kernels/roi_align.cu built for the host with g++ and the shim in tests/host_shim/, run through
ctypes with the CUDA engine's own launch shape and arguments, against the NumPy engine (and
torchvision's CPU op where installed). No GPU needed; skipped where g++ is missing."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from switch_cases import OUTPUT_SIZES, all_conventions, random_case

from roialign_cli.conventions import Convention
from roialign_cli.engines import cuda_engine, numpy_engine
from roialign_cli.engines.kernel_source import kernel_path

SHIM = Path(__file__).resolve().parent / "host_shim"
TOLERANCE = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-11}


@pytest.fixture(scope="session")
def kernel_library(tmp_path_factory):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed")
    library = tmp_path_factory.mktemp("host_kernel") / "roi_align_host.so"
    command = [
        compiler, "-std=c++17", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-Wall", "-Werror",
        f"-I{SHIM}", f"-I{kernel_path(cuda_engine.ROI_ALIGN).parent}", "-include", "cuda_runtime_shim.h",
        str(SHIM / "launch.cpp"), "-o", str(library),
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return ctypes.CDLL(str(library))


def _argument(value):
    """A kernel argument as the C value it must be; anything else is a bug in kernel_arguments."""
    if isinstance(value, np.ndarray):
        return ctypes.c_void_p(value.ctypes.data)
    if type(value) is np.int32:
        return ctypes.c_int32(int(value))
    if type(value) is np.float64:
        return ctypes.c_double(float(value))
    raise TypeError(f"kernel argument of type {type(value).__name__}: the kernel takes int32 and float64")


def host_pool(library, features, rois, output_size, spatial_scale, conv):
    """The CUDA engine's launch, run by the host build: channels-last features, double rois."""
    out = np.full((len(rois), features.shape[1], *output_size), 12345, dtype=features.dtype)
    blocks, tile = cuda_engine.launch_shape(len(rois), features.shape[1])
    pixels = np.ascontiguousarray(features.transpose(0, 2, 3, 1))
    rois = np.ascontiguousarray(rois, dtype=np.float64)
    scalars = cuda_engine.kernel_arguments(features.shape, output_size, spatial_scale, conv, tile)
    values = [_argument(v) for v in (pixels, rois, out, *scalars)]
    pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
    entry = getattr(library, f"roi_align_forward_{features.dtype}")
    entry(ctypes.c_uint(blocks), ctypes.c_uint(cuda_engine.THREADS), pointers)
    return out


def assert_matches(actual, expected, dtype):
    tolerance = TOLERANCE[str(np.dtype(dtype))]
    np.testing.assert_allclose(
        actual.astype(np.float64), expected.astype(np.float64), rtol=tolerance, atol=tolerance, equal_nan=True
    )


CONVENTIONS = all_conventions()


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("name", list(CONVENTIONS))
def test_host_build_matches_numpy_engine(kernel_library, name, dtype):
    conv = CONVENTIONS[name]
    rng = np.random.default_rng(zlib.crc32(f"{name} {dtype}".encode()))
    for output_size in OUTPUT_SIZES:
        features, rois, scale = random_case(rng, conv, dtype, output_size)
        expected = numpy_engine.pool(features, rois, output_size, scale, conv)
        actual = host_pool(kernel_library, features, rois, output_size, scale, conv)
        assert actual.dtype == expected.dtype
        assert_matches(actual, expected, dtype)


@pytest.mark.parametrize("channels", [1, 5, 32, 33])
def test_host_build_covers_every_channel_and_bin(kernel_library, channels, rng):
    # channel tiles narrower than a warp, exactly a warp, and one channel past it
    conv = Convention(sample_offset=0.5, min_size=None)
    features, rois, scale = random_case(rng, conv, "float32", (7, 7), channels=channels)
    actual = host_pool(kernel_library, features, rois, (7, 7), scale, conv)
    np.testing.assert_allclose(actual, numpy_engine.pool(features, rois, (7, 7), scale, conv), rtol=1e-5, atol=1e-5)


def test_host_build_with_no_rois_writes_nothing(kernel_library, rng):
    features = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    out = host_pool(kernel_library, features, np.zeros((0, 5)), (2, 2), 1.0, Convention())
    assert out.shape == (0, 3, 2, 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 2])
def test_host_build_matches_torchvision(kernel_library, dtype, aligned, sampling_ratio):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    conv = Convention(sample_offset=0.5 if aligned else 0.0, min_size=None if aligned else 1.0,
                      sampling_ratio=max(sampling_ratio, 0))  # fmt: skip
    rng = np.random.default_rng(7 + aligned + sampling_ratio)
    features, rois, scale = random_case(rng, conv, dtype, (7, 7))
    expected = ops.roi_align(
        torch.from_numpy(features), torch.from_numpy(rois.astype(dtype)), (7, 7), scale, sampling_ratio, aligned
    ).numpy()
    assert_matches(host_pool(kernel_library, features, rois, (7, 7), scale, conv), expected, dtype)
