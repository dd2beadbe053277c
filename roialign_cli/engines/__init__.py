"""Engines run a convention over features and rois; this module picks one.

`numpy` runs everywhere; `cuda` compiles kernels/roi_align.cu with CuPy and needs a usable GPU;
`auto` takes CUDA where it is usable (or where the features already live on a GPU) and NumPy else.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BackendUnavailable, InputError

BACKENDS = ("auto", "numpy", "cuda")


@dataclass(frozen=True)
class Choice:
    name: str  # "numpy" or "cuda"
    note: str | None = None  # why auto did not take CUDA, for a one-line note


def _is_cupy_array(array) -> bool:
    return type(array).__module__.startswith("cupy")


def cuda_availability() -> tuple[bool, str]:
    """Whether the CUDA engine can run here, and why not."""
    from . import cuda_engine

    return cuda_engine.availability()


def choose(backend: str, features=None) -> Choice:
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "numpy":
        if _is_cupy_array(features):
            raise InputError("the numpy backend takes NumPy arrays; these features are a CuPy array")
        return Choice("numpy")
    if _is_cupy_array(features):
        return Choice("cuda")
    usable, reason = cuda_availability()
    if usable:
        return Choice("cuda")
    if backend == "cuda":
        raise BackendUnavailable(f"the cuda backend cannot run here: {reason}")
    return Choice("numpy", note=f"using the NumPy engine: {reason}")


def run(choice: Choice, features, rois, output_size, spatial_scale, convention):
    if choice.name == "cuda":
        from . import cuda_engine

        return cuda_engine.pool(features, rois, output_size, spatial_scale, convention)
    from . import numpy_engine

    return numpy_engine.pool(features, rois, output_size, spatial_scale, convention)
