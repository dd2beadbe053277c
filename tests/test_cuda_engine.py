"""The CUDA engine's host side, without a GPU: availability and its reasons, backend choice on
the command line, `roialign info`, the kernel's argument list, and the kernels in the wheel."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from helpers import REPO, subprocess_env
from roialign_cli.conventions import Convention
from roialign_cli.engines import cuda_engine, kernel_source
from roialign_cli.errors import InputError


@pytest.fixture
def fresh_availability():
    cuda_engine._availability.cache_clear()
    yield
    cuda_engine._availability.cache_clear()


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(cuda_engine, "availability", lambda: (False, "no CUDA device (test)"))


@pytest.fixture
def samples(tmp_path, rng):
    np.save(tmp_path / "f.npy", rng.standard_normal((1, 3, 8, 8)).astype(np.float32))
    np.save(tmp_path / "r.npy", np.array([[0, 1, 1, 6, 6]], dtype=np.float32))
    return tmp_path / "f.npy", tmp_path / "r.npy"


def test_importing_the_engines_does_not_import_cupy():
    code = "import sys, roialign_cli.engines, roialign_cli.api; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=subprocess_env())


def test_without_a_driver_cupy_is_not_even_imported(fresh_availability, monkeypatch):
    monkeypatch.setattr(cuda_engine, "driver_loads", lambda: False)
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    assert cuda_engine.availability() == (False, "no NVIDIA driver (libcuda) was found")
    assert "cupy" not in sys.modules


def test_availability_never_raises(fresh_availability):
    usable, reason = cuda_engine.availability()
    assert isinstance(usable, bool) and isinstance(reason, str) and reason


def test_availability_without_cupy(fresh_availability, monkeypatch):
    monkeypatch.setattr(cuda_engine, "driver_loads", lambda: True)
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert cuda_engine.availability() == (False, "CuPy is not installed (import of cupy halted; None in sys.modules)")


def test_availability_without_kernel_sources(fresh_availability, monkeypatch, tmp_path):
    monkeypatch.setattr(kernel_source, "_PLACES", (tmp_path,))
    usable, reason = cuda_engine.availability()
    assert not usable and "roi_align.cu is missing from this installation" in reason


def test_a_failing_cuda_stack_is_a_reason(fresh_availability, monkeypatch):
    def broken():
        raise OSError("libcuda.so: bad ELF")

    monkeypatch.setattr(cuda_engine, "_availability", broken)
    assert cuda_engine.availability() == (False, "the CUDA stack failed to start (OSError: libcuda.so: bad ELF)")


def test_kernel_source_is_found_from_any_directory(tmp_path):
    code = "from roialign_cli.engines.kernel_source import kernel_path; print(kernel_path('roi_align.cu'))"
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                           text=True, check=True)  # fmt: skip
    assert found.stdout.strip() == str(REPO / "kernels" / "roi_align.cu")


def _kernel_parameters() -> list[str]:
    """The declared types of roi_align_forward's parameters, read from the kernel file."""
    source = kernel_source.read_kernel(cuda_engine.ROI_ALIGN)
    declaration = re.search(r"__global__ void roi_align_forward\((.*?)\)\s*\{", source, re.S).group(1)
    return [" ".join(p.split()[:-1]) for p in declaration.split(",")]


@pytest.mark.parametrize("conv", [Convention(), Convention(min_size=None, max_floor=0.0, pooling="max")])
def test_kernel_arguments_match_the_kernel_declaration(conv):
    scalars = cuda_engine.kernel_arguments((2, 64, 10, 12), (7, 7), 0.25, conv, 32)
    declared = _kernel_parameters()
    assert len(declared) == 3 + len(scalars)  # features, rois, output
    as_numpy = {"int": np.int32, "double": np.float64}
    assert [as_numpy[t] for t in declared[3:]] == [type(s) for s in scalars]


def test_bad_batch_index_is_refused_before_any_launch():
    from roialign_cli import api

    features = np.zeros((2, 3, 8, 8), dtype=np.float32)
    with pytest.raises(InputError, match="batch index 2, outside the features' batch of 2"):
        api.pool(features, np.array([[2, 0, 0, 4, 4.0]]), (2, 2), 1.0, Convention(), backend="cuda")


def test_launch_shape_tiles_channels_by_warps():
    assert cuda_engine.launch_shape(10, 3) == (10, 3)
    assert cuda_engine.launch_shape(10, 64) == (20, 32)
    assert cuda_engine.launch_shape(10, 65) == (30, 32)
    with pytest.raises(InputError, match="split the rois"):
        cuda_engine.launch_shape(2**27, 512)


def test_backend_cuda_without_gpu_is_a_one_line_error(cli, samples, no_gpu, tmp_path):
    result = cli("pool", *samples, "--backend", "cuda", "-o", tmp_path / "out.npy")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: the cuda backend cannot run here: no CUDA device (test)"
    assert not (tmp_path / "out.npy").exists()


def test_backend_auto_without_gpu_notes_the_numpy_engine(cli, samples, no_gpu, tmp_path):
    result = cli("pool", *samples, "--backend", "auto", "-o", tmp_path / "out.npy")
    assert result.exit_code == 0, result.stderr
    assert "note: using the NumPy engine: no CUDA device (test)\n" in result.stderr
    assert np.load(tmp_path / "out.npy").shape == (1, 3, 7, 7)


def test_info_json_without_gpu(cli, no_gpu):
    result = cli("info", "--json")
    assert result.exit_code == 0
    facts = json.loads(result.stdout)
    assert facts["gpu"] == {"usable": False, "device": None, "reason": "no CUDA device (test)"}
    assert facts["auto_backend"] == "numpy"
    assert facts["kernel_source"] == str(REPO / "kernels" / "roi_align.cu")
    assert facts["numpy"] == np.__version__


def test_info_json_agrees_with_the_real_choice(cli, fresh_availability):
    facts = json.loads(cli("info", "--json").stdout)
    assert facts["auto_backend"] == ("cuda" if facts["gpu"]["usable"] else "numpy")
    assert set(facts) >= {"roialign", "cupy", "cuda_runtime", "cuda_driver", "nvrtc", "kernel_cache"}


def test_info_without_cupy_still_reports(cli, fresh_availability, monkeypatch):
    monkeypatch.setattr(cuda_engine, "driver_loads", lambda: True)
    monkeypatch.setitem(sys.modules, "cupy", None)
    result = cli("info")
    assert result.exit_code == 0
    assert "not installed" in result.stdout and "not usable: CuPy is not installed" in result.stdout


def test_info_warns_of_mixed_cuda_versions(cli, monkeypatch, no_gpu):
    real = cuda_engine.describe
    monkeypatch.setattr(cuda_engine, "describe", lambda: {**real(), "cuda_runtime": "12.9", "nvrtc": "13.0"})
    (warning,) = json.loads(cli("info", "--json").stdout)["warnings"]
    assert warning.startswith("NVRTC 13.0 and CuPy's CUDA runtime 12.9 differ in major version")


def test_info_kernel_cache_follows_cupy_cache_dir(cli, monkeypatch, tmp_path, no_gpu):
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    assert json.loads(cli("info", "--json").stdout)["kernel_cache"] == str(tmp_path)


def test_the_wheel_carries_the_kernels(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "src"  # a copy, so that the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "roialign_cli", source / "roialign_cli", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "kernels", source / "kernels")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"roialign_cli/kernels/{k}" for k in cuda_engine.KERNELS} <= set(names)
