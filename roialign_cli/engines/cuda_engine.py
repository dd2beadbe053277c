"""The CUDA engine: kernels/roi_align.cu compiled at run time with NVRTC through CuPy.

One kernel serves every convention: the switches travel as scalar arguments. The backward
kernels (kernels/roi_align_backward.cu) are compiled with the forward file in one program. CuPy is imported
inside the functions, so that importing the engines (and `roialign --help`) never pays for it
and a machine without CuPy still runs the NumPy engine.
"""

from __future__ import annotations

import functools
import os

from ..conventions import (
    BORDERS,
    BOX_ROUNDINGS,
    COORDINATES,
    END_PLUS_ONE,
    GRIDS,
    INTERPOLATIONS,
    POOLINGS,
    SAMPLE_STEPS,
    Convention,
)
from ..errors import BackendUnavailable, InputError
from .kernel_source import kernel_path, read_kernel

ROI_ALIGN = "roi_align.cu"
ROI_ALIGN_BACKWARD = "roi_align_backward.cu"
# Every kernel file and the kernels (templates) it defines; each is instantiated for every dtype.
KERNELS = {
    ROI_ALIGN: ("roi_align_forward",),
    ROI_ALIGN_BACKWARD: ("roi_align_select", "roi_align_backward_atomic", "roi_align_backward_ordered"),
}
DTYPES = {"float16": "__half", "float32": "float", "float64": "double"}
# The files a kernel file builds on: compiled before it, in one program.
BUILDS_ON = {ROI_ALIGN_BACKWARD: (ROI_ALIGN,)}
# Contracting a + b * c into one fused multiply-add would round once where NumPy rounds twice:
# sample positions, and with them floors, could differ from the NumPy engine's.
COMPILE_OPTIONS = ("--fmad=false",)
THREADS = 256
WARP = 32
MAX_BLOCKS = 2**31 - 1


def instantiation(kernel: str, dtype: str) -> str:
    """The name expression of `kernel` for features of `dtype`, e.g. 'roi_align_forward<float>'."""
    return f"{kernel}<{DTYPES[dtype]}>"


def program_source(name: str) -> str:
    """The source compiled for kernel file `name`: the files it builds on, then the file itself."""
    return "\n".join(read_kernel(part) for part in (*BUILDS_ON.get(name, ()), name))


def availability() -> tuple[bool, str]:
    """Whether the CUDA engine can run here: (True, the device it uses) or (False, why not).

    Cheap after the first call, and never raises: a broken CUDA stack is a reason, not a crash.
    """
    try:
        return _availability()
    except Exception as exc:  # noqa: BLE001
        return False, f"the CUDA stack failed to start ({type(exc).__name__}: {exc})"


@functools.lru_cache(maxsize=1)
def _availability() -> tuple[bool, str]:
    try:
        kernel_path(ROI_ALIGN)
    except BackendUnavailable as exc:
        return False, str(exc)
    if not driver_loads():
        return False, "no NVIDIA driver (libcuda) was found"
    try:
        import cupy
    except ImportError as exc:
        return False, f"CuPy is not installed ({exc})"
    runtime = cupy.cuda.runtime
    if runtime.driverGetVersion() == 0:
        return False, "no NVIDIA driver (libcuda) was found"
    try:
        count = runtime.getDeviceCount()
    except runtime.CUDARuntimeError as exc:
        return False, f"no usable CUDA device ({exc})"
    if count == 0:
        return False, "no CUDA device"
    try:
        cupy.cuda.nvrtc.getVersion()
    except Exception as exc:  # noqa: BLE001 -- CuPy raises whatever the loader gave it
        return False, f"NVRTC, the CUDA run-time compiler, cannot be loaded ({exc})"
    return True, _device_text(cupy.cuda.Device().id)


def driver_loads() -> bool:
    """Whether the NVIDIA driver library loads: asked before importing CuPy, which costs about
    0.15 s, so that `--backend auto` stays fast on machines without a GPU."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return True  # elsewhere CuPy's own checks below decide
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


def _device_text(device_id: int) -> str:
    import cupy

    name = cupy.cuda.runtime.getDeviceProperties(device_id)["name"].decode()
    major, minor = cupy.cuda.Device(device_id).compute_capability
    return f"GPU {device_id}: {name}, compute capability {major}.{minor}"


def describe() -> dict:
    """The CUDA stack this engine would use, for `roialign info`; a missing piece is None. Never raises."""
    facts = {
        "cupy": None,
        "cuda_runtime": None,
        "cuda_driver": None,
        "nvrtc": None,
        "devices": [],
        "kernel_cache": os.environ.get("CUPY_CACHE_DIR") or os.path.expanduser("~/.cupy/kernel_cache"),
    }
    try:
        import cupy
    except ImportError:
        return facts
    runtime = cupy.cuda.runtime
    facts["cupy"] = cupy.__version__
    facts["cuda_runtime"] = _attempt(lambda: _cuda_version(runtime.runtimeGetVersion()))
    facts["cuda_driver"] = _attempt(lambda: _cuda_version(runtime.driverGetVersion()))
    facts["nvrtc"] = _attempt(lambda: "{}.{}".format(*cupy.cuda.nvrtc.getVersion()))
    facts["devices"] = _attempt(lambda: [_device_text(i) for i in range(runtime.getDeviceCount())]) or []
    return facts


def _attempt(fact):
    try:
        return fact()
    except Exception:  # noqa: BLE001 -- a fact that cannot be had is reported as missing
        return None


def _cuda_version(number: int) -> str | None:
    """12090 -> '12.9'; 0 (no driver) -> None."""
    return f"{number // 1000}.{number % 1000 // 10}" if number else None


def launch_shape(num_rois: int, channels: int) -> tuple[int, int]:
    """(blocks, channel tile): one block per roi and tile of up to a warp's worth of channels."""
    tile = min(channels, WARP)
    blocks = num_rois * -(-channels // tile)
    if blocks > MAX_BLOCKS:
        raise InputError(f"{num_rois} rois x {channels} channels is more than one CUDA launch can take; split the rois")
    return blocks, tile


def kernel_arguments(shape, output_size, spatial_scale, conv: Convention, channel_tile: int) -> tuple:
    """The scalar arguments of roi_align_forward after its three pointers, typed as the kernel
    declares them (CuPy does not check them): int32 for ints and switch indices, float64 for
    reals, which the kernel rounds to its compute precision as the NumPy engine does. Per-axis
    values (spatial scale, sampling ratio) go y first, then x."""
    import numpy as np

    from ..geometry import axis_scales

    _, channels, height, width = shape
    i, f = np.int32, np.float64
    no_limit = -np.inf
    (sy, sx), (ry, rx) = axis_scales(spatial_scale), conv.sampling_ratios
    return (
        i(channels), i(height), i(width), i(output_size[0]), i(output_size[1]), i(channel_tile),
        f(sy), f(sx),
        i(COORDINATES.index(conv.coordinates)),
        i(BOX_ROUNDINGS.index(conv.box_rounding)),
        f(conv.pixel_offset),
        f(conv.sample_offset),
        i(END_PLUS_ONE.index(conv.end_plus_one)),
        f(no_limit if conv.min_size is None else conv.min_size),
        i(conv.clip_box),
        i(conv.clip_bins),
        i(ry), i(rx),
        i(GRIDS.index(conv.grid)),
        i(POOLINGS.index(conv.pooling)),
        f(no_limit if conv.max_floor is None else conv.max_floor),
        i(BORDERS.index(conv.border)),
        i(INTERPOLATIONS.index(conv.interpolation)),
        f(conv.fill_value),
        f(conv.empty_value),
        i(SAMPLE_STEPS.index(conv.sample_step)),
        i(conv.scale_in_compute_dtype),
    )  # fmt: skip


def pool(features, rois, output_size, spatial_scale, conv: Convention):
    """RoIAlign of `features` [N, C, H, W] (NumPy or CuPy) over validated `rois` [K, 5] -> [K, C, PH, PW]
    (`roialign_cli.api` checks the batch indices: one out of range would read outside the features).

    CuPy features give a CuPy result on their device; NumPy features are copied to the current
    device and the result comes back as NumPy.
    """
    import cupy

    on_device = isinstance(features, cupy.ndarray)
    device = features.device if on_device else cupy.cuda.Device()

    def run(blocks, threads, arguments):
        _kernel(device.id, ROI_ALIGN, "roi_align_forward", str(features.dtype))((blocks,), (threads,), arguments)

    with device:
        out = launch(cupy, run, features, rois, output_size, spatial_scale, conv)
    return out if on_device else out.get()


def pool_backward(
    grad_output, rois, features_shape, output_size, spatial_scale, conv: Convention, deterministic=False,
    features=None,
):  # fmt: skip
    """The gradient [N, C, H, W] with respect to the features for `grad_output` [K, C, PH, PW] (NumPy or
    CuPy; the result is the same kind, on its device). atomicAdd by default; `deterministic` runs the
    fixed-order kernel. Max pooling needs the `features`."""
    import cupy

    on_device = isinstance(grad_output, cupy.ndarray)
    device = grad_output.device if on_device else cupy.cuda.Device()

    def run(kernel, blocks, threads, arguments):
        dtype = str(grad_output.dtype)
        _kernel(device.id, ROI_ALIGN_BACKWARD, kernel, dtype)((blocks,), (threads,), arguments)

    with device:
        out = launch_backward(cupy, run, grad_output, rois, features_shape, output_size, spatial_scale, conv,
                              deterministic, features)  # fmt: skip
    return out if on_device else out.get()


def launch(xp, kernel, features, rois, output_size, spatial_scale, conv: Convention):
    """Lay out the arguments of roi_align_forward with array module `xp` and run
    `kernel(blocks, threads, arguments)` once; returns the output [K, C, PH, PW].

    The GPU passes CuPy and the compiled kernel; the tests pass NumPy and a host build.
    """
    out = xp.empty((len(rois), features.shape[1], *output_size), dtype=features.dtype)
    if out.size:
        blocks, tile = launch_shape(len(rois), features.shape[1])
        # The kernel reads channels-last (see kernels/roi_align.cu); no copy when the array already is.
        pixels = xp.ascontiguousarray(xp.asarray(features).transpose(0, 2, 3, 1))
        scalars = kernel_arguments(features.shape, output_size, spatial_scale, conv, tile)
        kernel(blocks, THREADS, (pixels, xp.ascontiguousarray(xp.asarray(rois, dtype=xp.float64)), out, *scalars))
    return out


def launch_backward(xp, kernel, grad_output, rois, features_shape, output_size, spatial_scale: float,
                    conv: Convention, deterministic: bool, features):  # fmt: skip
    """Lay out the arguments of the backward kernels with array module `xp` and run them through
    `kernel(name, blocks, threads, arguments)`: roi_align_select for max pooling, then the atomic or
    the ordered scatter into a zeroed channels-last buffer in the compute precision. Returns the
    gradient [N, C, H, W] in the dtype of `grad_output`."""
    n, channels, height, width = features_shape
    compute = xp.float64 if grad_output.dtype == xp.float64 else xp.float32
    total = xp.zeros((n, height, width, channels), dtype=compute)
    if grad_output.size and total.size:
        blocks, tile = launch_shape(len(rois), channels)
        scalars = kernel_arguments(features_shape, output_size, spatial_scale, conv, tile)
        boxes = xp.ascontiguousarray(xp.asarray(rois, dtype=xp.float64))
        grads = xp.ascontiguousarray(xp.asarray(grad_output))
        selected = xp.empty(1, dtype=xp.int64)  # average pooling reads none
        if conv.pooling != "avg":
            if features is None:
                raise ValueError("max pooling's gradient needs the features (the selected samples depend on them)")
            pixels = xp.ascontiguousarray(xp.asarray(features, dtype=grad_output.dtype).transpose(0, 2, 3, 1))
            selected = xp.empty(grad_output.shape, dtype=xp.int64)
            kernel("roi_align_select", blocks, THREADS, (pixels, boxes, selected, *scalars))
        if deterministic:
            import numpy as np

            threads = n * height * channels
            counts = (np.int32(len(rois)), np.int32(n))
            kernel("roi_align_backward_ordered", -(-threads // THREADS), THREADS,
                   (grads, boxes, selected, total, *counts, *scalars))  # fmt: skip
        else:
            kernel("roi_align_backward_atomic", blocks, THREADS, (grads, boxes, selected, total, *scalars))
    return xp.ascontiguousarray(total.transpose(0, 3, 1, 2)).astype(grad_output.dtype, copy=False)


@functools.cache
def _module(device_id: int, name: str):
    import cupy

    expressions = tuple(instantiation(k, d) for k in KERNELS[name] for d in DTYPES)
    with cupy.cuda.Device(device_id):
        return cupy.RawModule(code=program_source(name), options=COMPILE_OPTIONS, name_expressions=expressions)


@functools.cache
def _kernel(device_id: int, name: str, kernel: str, dtype: str):
    import cupy

    with cupy.cuda.Device(device_id):
        return _module(device_id, name).get_function(instantiation(kernel, dtype))
