"""The CUDA kernel built for the host, so that its numbers can be checked without a GPU.

    build_host_kernel() -> pool(features, rois, output_size, spatial_scale, convention) -> np.ndarray

`kernels/roi_align.cu` itself is compiled by g++ with the shim in tests/host_shim/ (grid and
block indices become loops) and launched through ctypes by the CUDA engine's own launch code
(`cuda_engine.launch`, with NumPy in place of CuPy). The library is built once per process in a
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


@functools.lru_cache(maxsize=1)
def build_host_kernel():
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
    return functools.partial(_pool, ctypes.CDLL(str(library)))


def _pool(library, features, rois, output_size, spatial_scale, conv):
    entry = getattr(library, f"roi_align_forward_{features.dtype}")

    def run(blocks, threads, arguments):
        values = [_argument(v) for v in arguments]
        pointers = (ctypes.c_void_p * len(values))(*[ctypes.addressof(v) for v in values])
        entry(ctypes.c_uint(blocks), ctypes.c_uint(threads), pointers)

    return cuda_engine.launch(np, run, features, rois, output_size, spatial_scale, conv)


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
