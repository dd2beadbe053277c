"""Which level each box goes to under several level mappers, and where they disagree."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .level_mappers import LevelMapper
from .pyramid import Pyramid, assign_levels


@dataclass
class Comparison:
    mappers: list[LevelMapper]
    pyramid: Pyramid
    levels: dict[str, list[int | None]]  # mapper -> each box's level (P number, or map index), None: no level
    disagreeing: list[int]  # boxes on which the mappers do not all agree

    @property
    def reference(self) -> str:
        return self.mappers[0].name

    def differ_from_reference(self) -> dict[str, int]:
        """mapper -> how many boxes it sends elsewhere than the first mapper does."""
        ref = self.levels[self.reference]
        return {
            name: sum(a != b for a, b in zip(levels, ref))
            for name, levels in self.levels.items()
            if name != self.reference
        }

    def counts(self) -> dict[str, dict[str, int]]:
        """mapper -> {level name: boxes}, in pyramid order, 'none' last when some box has no level."""
        names = self.pyramid.level_names()
        out = {}
        for mapper, levels in self.levels.items():
            tally = {name: sum(self.level_name(v) == name for v in levels) for name in names}
            if None in levels:
                tally["none"] = levels.count(None)
            out[mapper] = tally
        return out

    def level_name(self, level) -> str:
        return "none" if level is None else (f"P{level}" if self.pyramid.levels else f"map {level}")

    def to_dict(self) -> dict:
        return {
            "mappers": [m.name for m in self.mappers],
            "spatial_scales": list(self.pyramid.scales),
            "level_names": self.pyramid.level_names(),
            "levels": self.levels,
            "counts": self.counts(),
            "disagreements": {
                "boxes": self.disagreeing,
                "count": len(self.disagreeing),
                "versus": self.reference,
                "per_mapper": self.differ_from_reference(),
            },
        }


def pyramid_level_numbers(index: np.ndarray, pyramid: Pyramid) -> list[int | None]:
    """Map indices (-1: none) -> P numbers where the scales are powers of 2, else the indices."""
    names = pyramid.levels or tuple(range(len(pyramid.scales)))
    return [None if i < 0 else int(names[i]) for i in index.tolist()]


def compare(rois: np.ndarray, mappers: list[LevelMapper], pyramid: Pyramid, image_size=None) -> Comparison:
    """Levels of rois [K, 5] (pixel boxes) under every mapper, over the maps of `pyramid`."""
    indices = {m.name: assign_levels(rois, m, pyramid, image_size) for m in mappers}
    stacked = np.stack(list(indices.values())) if indices else np.zeros((0, len(rois)), np.int64)
    disagree = np.flatnonzero((stacked != stacked[:1]).any(axis=0)) if len(stacked) else np.arange(0)
    levels = {name: pyramid_level_numbers(index, pyramid) for name, index in indices.items()}
    return Comparison(list(mappers), pyramid, levels, disagree.tolist())
