"""Multi-level (FPN) RoIAlign: assign every roi to one map of a pyramid, pool it there with that
map's spatial scale, and return the results in the rois' own order (as torchvision's
MultiScaleRoIAlign, detectron2's ROIPooler and OpenVINO's ExperimentalDetectronROIFeatureExtractor do).

Each level is pooled through `api.pool`, so any engine and convention works; CuPy maps give a CuPy
result, with the rois kept on the host (where `api.pool` validates them) and no other copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import api, engines
from .conventions import Convention
from .errors import InputError
from .level_mappers import LevelMapper, get_mapper
from .validation import check_features, check_output_size, check_rois


@dataclass(frozen=True)
class Pyramid:
    """The maps' spatial scales and, where they are powers of 2, their FPN level numbers."""

    scales: tuple[float, ...]
    levels: tuple[int, ...] | None  # -log2(scale) of each map; None when a scale is not a power of 2

    @property
    def finest_level(self) -> int | None:
        return None if self.levels is None else self.levels[0]

    @property
    def coarsest_level(self) -> int | None:
        return None if self.levels is None else self.levels[-1]

    def level_names(self) -> list[str]:
        return [f"P{k}" for k in self.levels] if self.levels else [f"map {i}" for i in range(len(self.scales))]


def infer_scale(map_height: int, image_height: int) -> float:
    """torchvision's _infer_scale: 2 ** round(log2(feature size / image size)), from the heights
    (torchvision takes the first of the two axes' scales, and the first axis is the height)."""
    ratio = np.float32(float(map_height) / float(image_height))
    return float(2.0 ** float(np.round(np.log2(ratio))))


def make_pyramid(shapes, image_size=None, spatial_scales=None) -> Pyramid:
    """Scales as given, or inferred from the maps' heights and the image size (WxH)."""
    if spatial_scales is None:
        if image_size is None:
            raise InputError("a pyramid needs its spatial scales (--spatial-scale 1/4,1/8,...) or --image-size WxH")
        spatial_scales = [infer_scale(shape[2], image_size[1]) for shape in shapes]
    if len(spatial_scales) != len(shapes):
        raise InputError(f"{len(spatial_scales)} spatial scales for {len(shapes)} feature maps; give one per map")
    return pyramid_of(spatial_scales)


def pyramid_of(spatial_scales) -> Pyramid:
    """The pyramid of these scales, finest first; its levels are -log2 of each where all are powers of 2."""
    scales = tuple(float(s) for s in spatial_scales)
    if not scales or any(not (s > 0 and math.isfinite(s)) for s in scales):
        raise InputError(f"spatial scales must be positive and finite, not {list(scales)}")
    levels = [-math.log2(s) for s in scales]
    exact = all(abs(k - round(k)) < 1e-9 for k in levels)
    return Pyramid(scales, tuple(round(k) for k in levels) if exact else None)


def check_maps(maps) -> None:
    if not maps:
        raise InputError("a pyramid needs at least one feature map")
    first = maps[0]
    for i, m in enumerate(maps):
        check_features(tuple(m.shape), m.dtype)
        if type(m) is not type(first) or m.dtype != first.dtype:
            raise InputError(
                f"feature map {i} is {type(m).__name__} {m.dtype}; map 0 is {type(first).__name__} {first.dtype}"
            )
        if m.shape[:2] != first.shape[:2]:
            raise InputError(
                f"feature map {i} has batch and channels {list(m.shape[:2])}; map 0 has {list(first.shape[:2])}"
            )


def assign_levels(rois: np.ndarray, mapper: LevelMapper, pyramid: Pyramid, image_size=None) -> np.ndarray:
    """Map index of every roi [K, 5] (pixel boxes) under `mapper`; -1 where it gets no level."""
    return mapper.assign(rois[:, 1:5], len(pyramid.scales), pyramid.finest_level, image_size, pyramid.coarsest_level)


@dataclass
class PyramidResult:
    output: object  # [K, C, PH, PW], NumPy or CuPy as the maps
    levels: np.ndarray  # map index of every roi, -1: none (its output rows are 0)
    pyramid: Pyramid
    mapper: LevelMapper
    backend: str
    note: str | None = None


def pool_pyramid(
    maps,
    rois,
    output_size,
    convention: Convention,
    *,
    mapper="torchvision",
    image_size=None,
    spatial_scales=None,
    backend: str = "auto",
) -> PyramidResult:
    """Pool `rois` [K, 5] (batch, x1, y1, x2, y2 in input-image pixels) over `maps`, finest first."""
    maps = list(maps)
    check_maps(maps)
    mapper = get_mapper(mapper)
    pyramid = make_pyramid([m.shape for m in maps], image_size, spatial_scales)
    rois = check_rois(rois, maps[0].shape[0])
    levels = assign_levels(rois, mapper, pyramid, image_size)
    choice = engines.choose(backend, maps[0])
    output = pool_levels(maps, rois, levels, pyramid, output_size, convention, choice.name)
    return PyramidResult(output, levels, pyramid, mapper, choice.name, choice.note)


def pool_levels(maps, rois, levels, pyramid, output_size, convention, backend):
    """Pool each level's rois there and write them into the rows of the rois' own order."""
    xp = _array_module(maps[0])
    ph, pw = check_output_size(output_size)
    out = xp.zeros((len(rois), maps[0].shape[1], ph, pw), dtype=maps[0].dtype)
    for index, (features, scale) in enumerate(zip(maps, pyramid.scales, strict=True)):
        rows = np.flatnonzero(levels == index)
        if rows.size:
            api.pool(features, rois[rows], (ph, pw), scale, convention, backend, into=(out, xp.asarray(rows)))
    return out


def _array_module(array):
    if type(array).__module__.startswith("cupy"):
        import cupy

        return cupy
    return np
