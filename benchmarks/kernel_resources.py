"""Registers, spills and theoretical occupancy of roialign's CUDA kernel, without a GPU.

    python benchmarks/kernel_resources.py            # a table on stdout
    python benchmarks/kernel_resources.py --markdown  # the same as Markdown tables

NVRTC (the libnvrtc.so.12 of the nvidia-cuda-nvrtc-cu12 wheel, as the CUDA engine's tests use it)
compiles kernels/roi_align.cu to a cubin for each architecture with the engine's own options and
`-Xptxas -v`, whose log gives each instantiation's registers per thread, spill stores and loads
and stack frame. Occupancy follows from the registers and the engine's launch (THREADS threads a
block, no shared memory) with each architecture's limits per SM: 65536 registers allotted per
warp in units of 256, 64 resident warps (sm_80: A100; sm_90: H100/H200), 32 resident blocks.

A second table weighs the engine's device-side channels-last copy against the kernel's own
traffic on bench.py's workloads 2-4 (counted from the geometry, not measured).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from roialign_cli.engines import cuda_engine  # noqa: E402 (after the sys.path entry above)
from roialign_cli.engines.kernel_source import read_kernel  # noqa: E402

ARCHS = (80, 90)
SM_LIMITS = {80: {"registers": 65536, "warps": 64, "blocks": 32}, 90: {"registers": 65536, "warps": 64, "blocks": 32}}
REGISTER_UNIT = 256  # registers are allotted to a warp in units of this many
WARP = 32


def _wheel_nvrtc():
    spec = importlib.util.find_spec("nvidia")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for root in roots:
        library = root / "cuda_nvrtc" / "lib" / "libnvrtc.so.12"
        headers = root / "cuda_runtime" / "include"
        if library.is_file() and (headers / "cuda_fp16.h").is_file():
            return ctypes.CDLL(str(library)), headers
    raise SystemExit("needs the nvidia-cuda-nvrtc-cu12 and nvidia-cuda-runtime-cu12 wheels")


def ptxas_log(arch: int) -> str:
    """NVRTC's log of compiling every instantiation to an sm_`arch` cubin with `-Xptxas -v`."""
    lib, headers = _wheel_nvrtc()
    program = ctypes.c_void_p()
    source = read_kernel(cuda_engine.ROI_ALIGN).encode()
    assert lib.nvrtcCreateProgram(ctypes.byref(program), source, b"roi_align.cu", 0, None, None) == 0
    try:
        for dtype in cuda_engine.DTYPES:
            expression = cuda_engine.instantiation("roi_align_forward", dtype)
            assert lib.nvrtcAddNameExpression(program, expression.encode()) == 0
        options = [f"-arch=sm_{arch}", "--std=c++17", *cuda_engine.COMPILE_OPTIONS, "-Xptxas", "-v", f"-I{headers}"]
        encoded = [o.encode() for o in options]
        status = lib.nvrtcCompileProgram(program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
        if status != 0:
            raise SystemExit(f"NVRTC failed for sm_{arch}:\n{log.value.decode(errors='replace')}")
        return log.value.decode(errors="replace")
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))


def resources(log: str) -> dict[str, dict]:
    """Per mangled kernel name: registers, spill stores/loads (bytes), stack frame (bytes)."""
    found, current = {}, None
    for line in log.splitlines():
        if m := re.search(r"Compiling entry function '(\S+)'", line):
            current = found.setdefault(m.group(1), {})
        elif current is not None and (
            m := re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        ):
            current.update(stack=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        elif current is not None and (m := re.search(r"Used (\d+) registers", line)):
            current["registers"] = int(m.group(1))
    return found


def occupancy(registers: int, arch: int, threads: int = cuda_engine.THREADS) -> tuple[int, float]:
    """(resident blocks per SM, theoretical occupancy) for blocks of `threads` threads and no shared memory."""
    limits = SM_LIMITS[arch]
    warps = -(-threads // WARP)
    per_warp = -(-registers * WARP // REGISTER_UNIT) * REGISTER_UNIT
    blocks = min(limits["blocks"], limits["warps"] // warps, limits["registers"] // (per_warp * warps))
    return blocks, blocks * warps / limits["warps"]


def _dtype(mangled: str) -> str:
    return {"f": "float32", "d": "float64", "6__half": "float16"}.get(
        re.search(r"IL?(\w+?)E", mangled).group(1), mangled
    )


def rows() -> list[list[str]]:
    out = []
    for arch in ARCHS:
        for name, r in sorted(resources(ptxas_log(arch)).items()):
            blocks, occ = occupancy(r["registers"], arch)
            out.append([f"sm_{arch}", _dtype(name), str(r["registers"]), str(r["spill_stores"]), str(r["spill_loads"]),
                        str(r["stack"]), str(blocks), f"{occ:.0%}"])  # fmt: skip
    return out


def device_traffic(workload) -> dict[str, float]:
    """Bytes of one call on workload `workload` of bench.py, float32: the device-side channels-last
    copy (reads and writes the map once), the kernel's compulsory traffic (the map read once, the
    output written once) and the taps it requests (4 per sample and channel; most hit L1/L2)."""
    import numpy as np
    from bench import make_inputs

    from roialign_cli.geometry import axis_geometry
    from roialign_cli.presets import resolve

    features, rois = make_inputs(workload, seed=8)
    conv = resolve(None, aligned=workload.aligned, sampling_ratio=workload.sampling_ratio)
    ct, (_, c, h, w), p = np.dtype(np.float32), features.shape, workload.output_size
    gy = axis_geometry(rois[:, 2], rois[:, 4], h, workload.spatial_scale, p, conv, ct).grid
    gx = axis_geometry(rois[:, 1], rois[:, 3], w, workload.spatial_scale, p, conv, ct).grid
    output = len(rois) * c * p * p * 4
    return {
        "copy": 2.0 * features.nbytes,
        "compulsory": float(features.nbytes + output),
        "taps": float((gy * gx).sum()) * p * p * 4 * c * 4,
    }


def traffic_rows() -> list[list[str]]:
    from bench import WORKLOADS

    out = []
    for number in (2, 3, 4):
        t = device_traffic(WORKLOADS[number])
        mb = {k: f"{v / 1e6:.0f}" for k, v in t.items()}
        out.append([f"{number} {WORKLOADS[number].name}", mb["copy"], mb["compulsory"], mb["taps"],
                    f"{t['copy'] / t['compulsory']:.1f}x"])  # fmt: skip
    return out


TRAFFIC_HEADER = [
    "workload",
    "channels-last copy MB",
    "kernel compulsory MB",
    "kernel tap requests MB",
    "copy / compulsory",
]
HEADER = ["arch", "dtype", "registers", "spill stores B", "spill loads B", "stack B", "blocks/SM", "occupancy"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    for header, table in ((HEADER, rows()), (TRAFFIC_HEADER, traffic_rows())):
        if args.markdown:
            print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
            print("\n".join("| " + " | ".join(r) + " |" for r in table) + "\n")
        else:
            widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(header)]
            for r in [header, *table]:
                print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
            print()


if __name__ == "__main__":
    main()
