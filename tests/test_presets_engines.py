"""Every preset (and each value of its options, avg and max) gives the reference engine's numbers
on the NumPy engine and in the CUDA kernel: its host build here, and the GPU wherever one is usable.

The host build comes from `tests/host_kernel.py`, which provides

    build_host_kernel() -> pool(features, rois, output_size, spatial_scale, convention) -> np.ndarray

(the same call as `roialign_cli.engines.numpy_engine.pool`: NCHW features, validated float64 rois
[K, 5], output_size (PH, PW), a float scale and a Convention). Without that module the host
comparison skips.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import numpy as np
import pytest

from roialign_cli import position_sensitive
from roialign_cli import presets as registry
from roialign_cli.engines import numpy_engine, reference_engine

HOST_KERNEL = Path(__file__).resolve().parent / "host_kernel.py"
OUTPUT_SIZE = (3, 4)
SCALE = 0.25


def variants():
    """(id, preset, options, mode, sampling ratio) for every preset, option value and mode."""
    for preset in registry.PRESETS:
        choices = [{}]
        for option in preset.options:
            if option.number_switch:
                choices.append({option.name: "0.75"})
            else:
                choices += [{option.name: v} for v in option.values if v != option.default]
        for options in choices:
            conv = registry.resolve(preset.name, options=options)
            modes = ["avg", "max"] if preset.max_mode or conv.pooling != "avg" else ["avg"]
            ratios = [-1, 2] if conv.takes_sampling_ratio else [-1]
            for mode in modes:
                for sr in ratios:
                    tag = ",".join(f"{k}={v}" for k, v in options.items())
                    yield pytest.param(preset.name, options, mode, sr, id=f"{preset.name}[{tag}]-{mode}-sr{sr}")


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(99)
    # 24 channels: position-sensitive presets need a multiple of the 3 x 4 bins
    features = rng.standard_normal((2, 24, 13, 17)).astype(np.float32)
    k = 24
    batch = rng.integers(0, 2, k)
    # image pixels at scale 1/4 (the map covers 68 x 52), partly outside, tiny, empty and inverted
    x1, y1 = rng.uniform(-20, 70, k), rng.uniform(-20, 55, k)
    absolute = np.stack([batch, x1, y1, x1 + rng.uniform(0, 45, k), y1 + rng.uniform(0, 35, k)], 1)
    absolute[-3:, 1:] = [[30, 30, 30, 30], [40, 30, 20, 10], [60, 44, 68, 52]]
    # relative and TF-normalized boxes, some past [0, 1]
    u1, v1 = rng.uniform(-0.3, 1.0, k), rng.uniform(-0.3, 1.0, k)
    relative = np.stack([batch, u1, v1, u1 + rng.uniform(0, 0.7, k), v1 + rng.uniform(0, 0.7, k)], 1)
    relative[-2:, 1:] = [[0.5, 0.5, 1.0, 1.0], [0.9, 0.8, 0.1, 0.2]]
    return features, absolute.astype(np.float32).astype(np.float64), relative


def convention_and_rois(case, preset, options, mode, sr):
    conv = registry.resolve(preset, options=options, mode=mode, sampling_ratio=sr)
    features, absolute, relative = case
    return features, (absolute if conv.coordinates == "absolute" else relative), conv


@pytest.fixture(scope="module")
def host_pool():
    if not HOST_KERNEL.exists():
        pytest.skip("host kernel harness not present (tests/host_kernel.py provides build_host_kernel)")
    pool = importlib.import_module("host_kernel").build_host_kernel()
    if pool is None:
        pytest.skip("the host build of the CUDA kernel cannot be made here")
    return pool


@pytest.fixture(scope="module")
def gpu_pool():
    try:
        from roialign_cli.engines import cuda_engine
    except ImportError:
        pytest.skip("the CUDA engine is not in this checkout")
    usable, reason = cuda_engine.availability()
    if not usable:
        pytest.skip(f"no usable GPU: {reason}")
    import cupy

    def pool(features, rois, output_size, spatial_scale, conv):
        return cupy.asnumpy(cuda_engine.pool(cupy.asarray(features), rois, output_size, spatial_scale, conv))

    return pool


def compare(engine_pool, case, preset, options, mode, sr):
    features, rois, conv = convention_and_rois(case, preset, options, mode, sr)
    expected = reference_engine.pool(features, rois, OUTPUT_SIZE, SCALE, conv)
    if conv.channel_mapping == "position-sensitive":  # as the engine registry adds it to every engine
        engine_pool = functools.partial(position_sensitive.pool, engine_pool)
    got = engine_pool(features, rois, OUTPUT_SIZE, SCALE, conv)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("preset, options, mode, sr", list(variants()))
def test_numpy_engine_matches_reference(case, preset, options, mode, sr):
    compare(numpy_engine.pool, case, preset, options, mode, sr)


@pytest.mark.parametrize("preset, options, mode, sr", list(variants()))
def test_host_kernel_matches_reference(host_pool, case, preset, options, mode, sr):
    compare(host_pool, case, preset, options, mode, sr)


@pytest.mark.parametrize("preset, options, mode, sr", list(variants()))
def test_gpu_matches_reference(gpu_pool, case, preset, options, mode, sr):
    compare(gpu_pool, case, preset, options, mode, sr)
