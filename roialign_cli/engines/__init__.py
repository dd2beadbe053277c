"""Engines run a convention over features and rois; this module names them and picks one.

Every engine is a module with the same two functions, `pool(features, rois, output_size,
spatial_scale, convention)` and its gradient `pool_backward(grad_output, rois, features_shape,
output_size, spatial_scale, convention, deterministic, features)`, over inputs validated once by
`roialign_cli.api` (the `Engine` protocol). The modules pool plain channels; the engines `get`
returns add the position-sensitive channel mapping (`roialign_cli.position_sensitive`) where a
module does not compute it itself. `numpy` runs everywhere; `cuda` compiles kernels/roi_align.cu
with CuPy and needs a usable GPU; `reference` is the plain loop the others are tested against; `auto` takes CUDA where
it is usable (or where the features already live on a GPU) and NumPy else.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple, Protocol

from ..errors import BackendUnavailable, InputError

# engine name -> its module in this package; imported on first use (CuPy, SciPy stay unloaded)
ENGINES = {"numpy": "numpy_engine", "cuda": "cuda_engine", "reference": "reference_engine"}
BACKENDS = ("auto", *ENGINES)


class Engine(Protocol):
    def pool(self, features, rois, output_size, spatial_scale: float, convention): ...

    def pool_backward(
        self, grad_output, rois, features_shape, output_size, spatial_scale: float, convention,
        deterministic: bool = False, features=None,
    ):  # fmt: skip
        """The gradient [N, C, H, W] with respect to the features, for `grad_output` [K, C, PH, PW].
        Max pooling needs the `features` (to find the selected samples); `deterministic` asks for
        sums in a fixed order where an engine would otherwise add atomically (CUDA)."""


class Choice(NamedTuple):
    name: str  # a key of ENGINES
    note: str | None = None  # why auto did not take CUDA, for a one-line note

    @property
    def engine(self) -> Engine:
        return get(self.name)


class _Registered:
    """An engine module, with the position-sensitive mapping added where the module lacks it (the
    gradient's everywhere)."""

    __slots__ = ("module",)

    def __init__(self, module: ModuleType):
        self.module = module

    def pool(self, features, rois, output_size, spatial_scale, convention, into=None):
        """`into` (out, rows): write roi i's result into out[rows[i]] and return out; the modules that
        can (WRITES_INTO) write there directly, for the others the result is copied there."""
        mapped = convention.channel_mapping == "position-sensitive"
        if mapped and not getattr(self.module, "POSITION_SENSITIVE", False):
            from .. import position_sensitive

            result = position_sensitive.pool(self.module.pool, features, rois, output_size, spatial_scale, convention)
        elif into is not None and getattr(self.module, "WRITES_INTO", False):
            return self.module.pool(features, rois, output_size, spatial_scale, convention, into=into)
        else:
            result = self.module.pool(features, rois, output_size, spatial_scale, convention)
        if into is None:
            return result
        out, rows = into
        out[rows] = result
        return out

    def pool_backward(self, grad_output, rois, features_shape, output_size, spatial_scale, convention, *args, **kw):
        if convention.channel_mapping == "position-sensitive":
            from .. import position_sensitive

            return position_sensitive.pool_backward(
                self.module.pool_backward, grad_output, rois, features_shape, output_size, spatial_scale, convention,
                *args, **kw,
            )  # fmt: skip
        return self.module.pool_backward(
            grad_output, rois, features_shape, output_size, spatial_scale, convention, *args, **kw
        )

    def __getattr__(self, name):  # the module's other functions (availability, describe, ...)
        return getattr(self.module, name)


def get(name: str) -> Engine:
    """The engine called `name` (a key of ENGINES)."""
    return _Registered(importlib.import_module(f".{ENGINES[name]}", __name__))


def _is_cupy_array(array) -> bool:
    return type(array).__module__.startswith("cupy")


def cuda_availability() -> tuple[bool, str]:
    """Whether the CUDA engine can run here, and why not."""
    return get("cuda").module.availability()


def choose(backend: str, features=None) -> Choice:
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend in ("numpy", "reference"):
        if _is_cupy_array(features):
            raise InputError(f"the {backend} backend takes NumPy arrays; these features are a CuPy array")
        return Choice(backend)
    if _is_cupy_array(features):
        return Choice("cuda")
    usable, reason = cuda_availability()
    if usable:
        return Choice("cuda")
    if backend == "cuda":
        raise BackendUnavailable(f"the cuda backend cannot run here: {reason}")
    return Choice("numpy", note=f"using the NumPy engine: {reason}")


def run(choice: Choice, features, rois, output_size, spatial_scale, convention, into=None):
    return choice.engine.pool(features, rois, output_size, spatial_scale, convention, into)


def run_backward(choice: Choice, grad_output, rois, features_shape, output_size, spatial_scale, convention,
                 deterministic=False, features=None):  # fmt: skip
    return choice.engine.pool_backward(
        grad_output, rois, features_shape, output_size, spatial_scale, convention, deterministic, features
    )
