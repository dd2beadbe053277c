"""A pyramid of CuPy maps on the CUDA engine, against the NumPy engine (skipped without a usable GPU)."""

import numpy as np
import pytest

from roialign_cli.api import multi_scale_roi_align
from roialign_cli.engines import cuda_engine

cupy = pytest.importorskip("cupy")
_USABLE, _REASON = cuda_engine.availability()
pytestmark = pytest.mark.skipif(not _USABLE, reason=f"no usable GPU: {_REASON}")


@pytest.mark.parametrize("mapper", ["torchvision", "openvino", "tensorrt"])
def test_cupy_pyramid_matches_numpy(rng, mapper):
    maps = [rng.standard_normal((2, 8, 160 // s, 256 // s)).astype(np.float32) for s in (4, 8, 16, 32)]
    xy = rng.uniform(0, 200, (300, 2))
    rois = np.concatenate([rng.integers(0, 2, (300, 1)), xy, xy + rng.uniform(0, 500, (300, 2))], axis=1)
    kwargs = {"image_size": (256, 160), "level_mapper": mapper, "sampling_ratio": 2}
    expected = multi_scale_roi_align(maps, rois, 7, backend="numpy", **kwargs)
    got = multi_scale_roi_align([cupy.asarray(m) for m in maps], rois, 7, backend="cuda", **kwargs)
    assert isinstance(got, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(got), expected, rtol=0, atol=1e-5)
