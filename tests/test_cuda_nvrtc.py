"""Every kernel file (with the files it builds on) compiles with NVRTC for compute_70, compute_80 and compute_90,
every dtype instantiated, with the engine's own options. No GPU needed: NVRTC runs on the CPU.

Two NVRTCs are tried: the one CuPy loads (what `cupy.RawModule` runs here), and the CUDA 12
NVRTC of the pip wheels pyproject.toml names (what a plain `pip install` gets). An architecture
an NVRTC no longer supports (CUDA 13 dropped compute_70) is skipped for that NVRTC only.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from pathlib import Path

import pytest

from roialign_cli.engines import cuda_engine
from roialign_cli.engines.kernel_source import kernel_path

ARCHS = (70, 80, 90)


def test_every_kernel_file_has_its_instantiations_listed():
    folder = kernel_path(cuda_engine.ROI_ALIGN).parent
    assert sorted(p.name for p in folder.glob("*.cu")) == sorted(cuda_engine.KERNELS)
    for name, kernels in cuda_engine.KERNELS.items():
        source = cuda_engine.program_source(name)
        for kernel in kernels:
            assert f"__global__ void {kernel}(" in source


class CupyNvrtc:
    """CuPy's binding, with the include folders RawModule passes (CuPy's headers, CUDA's cuda_fp16.h)."""

    def __init__(self):
        cupy = pytest.importorskip("cupy")
        self.api = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
        pathfinder = pytest.importorskip("cuda.pathfinder")
        try:
            self.version = self.api.getVersion()
            self.archs = set(self.api.getSupportedArchs())
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"CuPy cannot load NVRTC: {exc}")
        cudart = pathfinder.find_nvidia_header_directory("cudart")
        self.includes = [Path(cupy.__file__).parent / "_core" / "include", *([cudart] if cudart else [])]

    def compile(self, source, name, options, expressions):
        program = self.api.createProgram(source, name, [], [])
        try:
            for expression in expressions:
                self.api.addNameExpression(program, expression)
            try:
                self.api.compileProgram(program, options)
            except self.api.NVRTCError:
                pytest.fail(f"{name}: NVRTC {self.version} failed:\n{self.api.getProgramLog(program)}")
            ptx = self.api.getPTX(program)
            lowered = [self.api.getLoweredName(program, e) for e in expressions]
            return lowered, ptx.decode() if isinstance(ptx, bytes) else ptx
        finally:
            self.api.destroyProgram(program)


class WheelNvrtc:
    """libnvrtc.so.12 of nvidia-cuda-nvrtc-cu12 through ctypes, with nvidia-cuda-runtime-cu12's headers."""

    def __init__(self):
        spec = importlib.util.find_spec("nvidia")
        roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
        library = next((r / "cuda_nvrtc" / "lib" / "libnvrtc.so.12" for r in roots
                        if (r / "cuda_nvrtc" / "lib" / "libnvrtc.so.12").is_file()), None)  # fmt: skip
        headers = next((r / "cuda_runtime" / "include" for r in roots
                        if (r / "cuda_runtime" / "include" / "cuda_fp16.h").is_file()), None)  # fmt: skip
        if library is None or headers is None:
            pytest.skip("the nvidia-cuda-nvrtc-cu12 / nvidia-cuda-runtime-cu12 wheels are not installed")
        self.lib = ctypes.CDLL(str(library))
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)))
        self.version = (major.value, minor.value)
        count = ctypes.c_int()
        self._check(self.lib.nvrtcGetNumSupportedArchs(ctypes.byref(count)))
        archs = (ctypes.c_int * count.value)()
        self._check(self.lib.nvrtcGetSupportedArchs(archs))
        self.archs = set(archs)
        cupy_spec = importlib.util.find_spec("cupy")
        cupy_headers = [Path(cupy_spec.origin).parent / "_core" / "include"] if cupy_spec else []
        self.includes = [*cupy_headers, headers]

    def _check(self, status, program=None):
        if status != 0:
            log = self._log(program) if program is not None else ""
            pytest.fail(f"NVRTC {getattr(self, 'version', '')} call failed with status {status}:\n{log}")

    def _log(self, program):
        size = ctypes.c_size_t()
        self.lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        text = ctypes.create_string_buffer(size.value)
        self.lib.nvrtcGetProgramLog(program, text)
        return text.value.decode(errors="replace")

    def compile(self, source, name, options, expressions):
        program = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), name.encode(), 0, None, None))
        try:
            for expression in expressions:
                self._check(self.lib.nvrtcAddNameExpression(program, expression.encode()))
            encoded = [o.encode() for o in options]
            self._check(self.lib.nvrtcCompileProgram(program, len(encoded), (ctypes.c_char_p * len(encoded))(*encoded)),
                        program)  # fmt: skip
            lowered = []
            for expression in expressions:
                out = ctypes.c_char_p()
                self._check(self.lib.nvrtcGetLoweredName(program, expression.encode(), ctypes.byref(out)))
                lowered.append(out.value.decode())
            size = ctypes.c_size_t()
            self._check(self.lib.nvrtcGetPTXSize(program, ctypes.byref(size)))
            ptx = ctypes.create_string_buffer(size.value)
            self._check(self.lib.nvrtcGetPTX(program, ptx))
            return lowered, ptx.value.decode()
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(program))


@pytest.fixture(scope="module", params=[CupyNvrtc, WheelNvrtc], ids=["cupy-nvrtc", "wheel-nvrtc-cu12"])
def nvrtc(request):
    return request.param()


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kernel_file", sorted(cuda_engine.KERNELS))
def test_kernel_compiles(nvrtc, kernel_file, arch):
    if arch not in nvrtc.archs:
        pytest.skip(f"NVRTC {nvrtc.version[0]}.{nvrtc.version[1]} does not support compute_{arch}")
    expressions = [
        cuda_engine.instantiation(k, d) for k in cuda_engine.KERNELS[kernel_file] for d in cuda_engine.DTYPES
    ]
    options = [f"-arch=compute_{arch}", "--std=c++17", *cuda_engine.COMPILE_OPTIONS]
    options += [f"-I{os.fspath(d)}" for d in nvrtc.includes]
    lowered, ptx = nvrtc.compile(cuda_engine.program_source(kernel_file), kernel_file, options, expressions)
    assert len(set(lowered)) == len(expressions)
    for symbol in lowered:
        assert f".entry {symbol}(" in ptx
    assert f".target sm_{arch}" in ptx


@pytest.mark.parametrize("kernel_file", sorted(cuda_engine.KERNELS))
def test_each_file_compiles_alone(nvrtc, kernel_file):
    """A kernel file read on its own (as a tool compiling kernels/*.cu one by one reads it) brings in the
    files it builds on by #include, guarded so that the engine's joined program reads each once."""
    path = kernel_path(kernel_file)
    expressions = [cuda_engine.instantiation(k, "float32") for k in cuda_engine.KERNELS[kernel_file]]
    options = ["-arch=compute_80", "--std=c++17", *cuda_engine.COMPILE_OPTIONS, f"-I{path.parent}"]
    options += [f"-I{os.fspath(d)}" for d in nvrtc.includes]
    lowered, _ = nvrtc.compile(path.read_text(), str(path), options, expressions)
    assert len(lowered) == len(expressions)
