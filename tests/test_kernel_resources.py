"""benchmarks/kernel_resources.py: the ptxas log is read right, occupancy follows the SM limits,
and (where the NVRTC wheel is installed) every instantiation reports its registers for sm_80 and sm_90."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import kernel_resources  # noqa: E402 (after the sys.path entry above)

LOG = """ptxas info    : Compiling entry function '_Z17roi_align_forwardIfEvPKT_' for 'sm_90'
ptxas         .     0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 72 registers, used 0 barriers
ptxas info    : Compiling entry function '_Z17roi_align_forwardIdEvPKT_' for 'sm_90'
ptxas         .     16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 100 registers, used 0 barriers
"""


def test_the_log_is_read_per_kernel():
    found = kernel_resources.resources(LOG)
    assert found["_Z17roi_align_forwardIfEvPKT_"] == {"stack": 0, "spill_stores": 8, "spill_loads": 4, "registers": 72}
    assert found["_Z17roi_align_forwardIdEvPKT_"]["registers"] == 100


@pytest.mark.parametrize(
    ("registers", "blocks", "occupancy"),
    [
        (32, 8, 1.0),  # 8 warps x 32 x 32 = 8192 registers a block: the 64-warp limit binds first
        (72, 3, 0.375),  # 72 x 32 = 2304 a warp, 18432 a block: 3 blocks in 65536
        (100, 2, 0.25),  # 3200 rounded up to 3328 a warp, 26624 a block: 2 blocks
    ],
)
def test_occupancy_of_256_thread_blocks(registers, blocks, occupancy):
    assert kernel_resources.occupancy(registers, 90, threads=256) == (blocks, occupancy)


@pytest.mark.skipif(importlib.util.find_spec("nvidia") is None, reason="the NVRTC wheel is not installed")
@pytest.mark.parametrize("arch", kernel_resources.ARCHS)
def test_every_instantiation_reports_its_registers(arch):
    found = kernel_resources.resources(kernel_resources.ptxas_log(arch))
    assert len(found) == 3 and all(0 < r["registers"] <= 255 for r in found.values())
