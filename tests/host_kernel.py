"""The CUDA kernels built for the host, so that their numbers can be checked without a GPU.

    build_host_kernel() -> pool(features, rois, output_size, spatial_scale, convention) -> np.ndarray
    build_host_backward() -> pool_backward(grad_output, rois, features_shape, output_size, spatial_scale,
                                           convention, deterministic, features) -> np.ndarray

`kernels/roi_align.cu` and `roi_align_backward.cu` themselves are compiled by g++ with the shim in tests/host_shim/
(grid and block indices become loops) and launched through ctypes by the CUDA engine's own launch code
(`cuda_engine.launch` and `launch_backward`, with NumPy in place of CuPy). The library is built once per process in a
temporary folder. Returns None where g++ is missing; a failed build raises.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from roialign_cli.engines import cuda_engine
from roialign_cli.engines.kernel_source import kernel_path

SHIM = Path(__file__).resolve().parent / "host_shim"


def build_host_kernel():
    library = _library()
    return None if library is None else functools.partial(_pool, library)


def build_host_backward():
    library = _library()
    return None if library is None else functools.partial(_pool_backward, library)


@functools.lru_cache(maxsize=1)
def _library():
    compiler = shutil.which("g++")
    if compiler is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="roialign-host-kernel-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    library = folder / "roi_align_host.so"
    command = [
        compiler, "-std=c++17", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-Wall", "-Werror",
        f"-I{SHIM}", f"-I{kernel_path(cuda_engine.ROI_ALIGN).parent}", "-include", "cuda_runtime_shim.h",
        str(SHIM / "launch.cpp"), "-o", str(library),
    ]  # fmt: skip
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        raise RuntimeError(f"the host build of the CUDA kernel failed:\n{built.stderr}")
    return ctypes.CDLL(str(library))


def _run(library, kernel, dtype, blocks, threads, arguments):
    values = [_argument(v) for v in arguments]
    pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
    getattr(library, f"{kernel}_{dtype}")(ctypes.c_uint(blocks), ctypes.c_uint(threads), pointers)


def _pool(library, features, rois, output_size, spatial_scale, conv):
    run = functools.partial(_run, library, "roi_align_forward", features.dtype)
    return cuda_engine.launch(np, run, features, rois, output_size, spatial_scale, conv)


def _pool_backward(library, grad_output, rois, features_shape, output_size, spatial_scale, conv, deterministic=False,
                   features=None):  # fmt: skip
    def run(kernel, blocks, threads, arguments):
        _run(library, kernel, grad_output.dtype, blocks, threads, arguments)

    return cuda_engine.launch_backward(np, run, grad_output, rois, features_shape, output_size, spatial_scale, conv,
                                       deterministic, features)  # fmt: skip


def _argument(value):
    """A kernel argument as the C value it must be; anything else is a bug in kernel_arguments."""
    if isinstance(value, np.ndarray):
        assert value.flags.c_contiguous
        return ctypes.c_void_p(value.ctypes.data)
    if type(value) is np.int32:
        return ctypes.c_int32(int(value))
    if type(value) is np.float64:
        return ctypes.c_double(float(value))
    raise TypeError(f"kernel argument of type {type(value).__name__}: the kernel takes int32 and float64")
