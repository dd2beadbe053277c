"""Explain a reference output pooled from a feature pyramid: which level mapper and which RoIAlign
convention reproduce it.

Mappers that send every given roi to the same level cannot be told apart by the output, so they are
searched as one group. Every group is tried with every convention `explain` knows (boxes read as
absolute pixels x each level's scale) on a subset of rois that includes those the groups disagree
on; the leaders are confirmed on all of the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from . import explain
from .equivalents import scale_expression
from .errors import InputError
from .level_mappers import MAPPERS, LevelMapper
from .pyramid import Pyramid, assign_levels, check_maps, make_pyramid, pool_levels
from .validation import check_rois


@dataclass(frozen=True)
class MapperGroup:
    mappers: tuple[LevelMapper, ...]  # registry order: the first names the group
    levels: np.ndarray  # map index of every roi

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.mappers]


@dataclass
class PyramidScored:
    group: MapperGroup
    scored: explain.Scored


@dataclass
class PyramidExplanation:
    ranked: list[PyramidScored]
    groups: list[MapperGroup]
    skipped: dict[str, str]  # mapper -> why it could not be tried
    pyramid: Pyramid
    searched: int
    matched: bool = False
    command: str = ""

    @property
    def best(self) -> PyramidScored:
        return self.ranked[0]

    def to_dict(self, top: int) -> dict:
        return {
            "matched": self.matched,
            "searched": self.searched,
            "level_mapper": self.best.group.names[0],
            "equivalent_mappers": self.best.group.names,
            "spatial_scales": list(self.pyramid.scales),
            "command": self.command,
            "best": _row(self.best),
            "candidates": [_row(r) for r in self.ranked[:top]],
            "mapper_groups": [g.names for g in self.groups],
            "skipped_mappers": self.skipped,
        }


def _row(r: PyramidScored) -> dict:
    row = explain._row(r.scored)
    del row["spatial_scale"], row["reading"]
    return {"level_mappers": r.group.names, **row}


def mapper_groups(rois, pyramid: Pyramid, image_size, mappers=MAPPERS):
    """Mappers grouped by the levels they give these rois; and those that cannot run, with why."""
    groups: dict[bytes, list] = {}
    skipped = {}
    for mapper in mappers:
        try:
            levels = assign_levels(rois, mapper, pyramid, image_size)
        except InputError as exc:
            skipped[mapper.name] = str(exc)
            continue
        groups.setdefault(levels.tobytes(), [levels, []])[1].append(mapper)
    return [MapperGroup(tuple(found), levels) for levels, found in groups.values()], skipped


def _conventions(rois, shape) -> list[explain.Candidate]:
    """explain's candidates with the boxes read as absolute pixels (each level brings its own scale)."""
    pool = explain.candidates(rois, shape, None, 1.0)
    return [c for c in pool if c.reading is explain.ABSOLUTE]


def _rows_to_score(groups, count: int) -> np.ndarray:
    """An even spread of rois plus the ones the groups disagree on (those decide between mappers)."""
    spread = explain._subset(count, explain.SUBSET_ROIS)
    if len(groups) < 2:
        return spread
    stacked = np.stack([g.levels for g in groups])
    disputed = np.flatnonzero((stacked != stacked[:1]).any(axis=0))
    return np.union1d(spread, disputed[:: max(1, len(disputed) // explain.SUBSET_ROIS)][: explain.SUBSET_ROIS])


def _score(group, candidate, maps, rois, reference, rows, pyramid, output_size) -> PyramidScored:
    levels = group.levels if rows is None else group.levels[rows]
    got = pool_levels(maps, rois, levels, pyramid, output_size, candidate.convention, "numpy")
    return PyramidScored(group, explain.Scored(candidate, *explain._errors(got, reference)))


def _rank(items: list[PyramidScored]) -> list[PyramidScored]:
    by_id = {id(item.scored): item for item in items}
    return [by_id[id(s)] for s in explain.rank([item.scored for item in items])]


def search(maps, rois, reference, *, image_size=None, spatial_scales=None, top=5) -> PyramidExplanation:
    maps = [np.asarray(m) for m in maps]
    check_maps(maps)
    rois = check_rois(rois, maps[0].shape[0])
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim != 4 or reference.shape[:2] != (len(rois), maps[0].shape[1]) or not len(rois):
        raise InputError(
            f"reference has shape {list(reference.shape)}; expected [{len(rois)}, "
            f"{maps[0].shape[1]}, PH, PW] (one pooled map per roi and channel, and some rois)"
        )
    output_size = (int(reference.shape[2]), int(reference.shape[3]))
    pyramid = make_pyramid([m.shape for m in maps], image_size, spatial_scales)
    groups, skipped = mapper_groups(rois, pyramid, image_size)
    if not groups:
        raise InputError("no level mapper can run on these inputs: " + "; ".join(skipped.values()))
    conventions = _conventions(rois, maps[0].shape)
    rows, channels = _rows_to_score(groups, len(rois)), explain._subset(maps[0].shape[1], explain.SUBSET_CHANNELS)
    sub_maps = [np.ascontiguousarray(m[:, channels]) for m in maps]
    sub = (sub_maps, rois[rows], reference[rows][:, channels], rows)
    quick = _rank([_score(g, c, *sub, pyramid, output_size) for g in groups for c in conventions])
    full = (maps, rois, reference, None)
    confirmed = _rank(
        [_score(r.group, r.scored.candidate, *full, pyramid, output_size) for r in quick[: max(explain.CONFIRMED, top)]]
    )
    return PyramidExplanation(confirmed, groups, skipped, pyramid, len(groups) * len(conventions))


def explain_pyramid(
    maps, rois, reference, *, image_size=None, spatial_scales=None, top=5, paths=("FEATURES", "ROIS")
) -> PyramidExplanation:
    """Search, check the best against `roialign diff`'s tolerance, and write its `pool` command."""
    from .compare import compare

    result = search(maps, rois, reference, image_size=image_size, spatial_scales=spatial_scales, top=top)
    best = result.best
    got = pool_levels(
        [np.asarray(m) for m in maps],
        check_rois(rois, maps[0].shape[0]),
        best.group.levels,
        result.pyramid,
        tuple(np.shape(reference)[2:]),
        best.scored.candidate.convention,
        "numpy",
    )
    result.matched = compare(got, np.asarray(reference)).matches
    result.command = pool_command(best, *paths, result.pyramid, got.shape[2:], image_size)
    return result


def pool_command(best: PyramidScored, features: str, rois: str, pyramid: Pyramid, output_size, image_size) -> str:
    """`explain`'s pool command for the convention, with the level mapper and the pyramid's scales."""
    single = explain.pool_command(best.scored.candidate, features, rois, None, tuple(output_size))
    words = [
        re.sub(r" --spatial-scale \S+", "", single),
        f"--level-mapper {best.group.names[0]}",
        "--spatial-scale " + ",".join(scale_expression(s) for s in pyramid.scales),
    ]
    if image_size:
        words.append(f"--image-size {image_size[0]}x{image_size[1]}")
    return " ".join(words)
