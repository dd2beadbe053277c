"""What a picture of one roi under one convention shows, in feature pixels: the numbers only.

Everything here comes from `roialign_cli.geometry` (the specification every engine reads), so a
picture draws the geometry the engines compute: the box as given and as the convention reads it,
the bin edges, every sample point, and for each sample the pixels it reads and their weights.
`roialign_cli.pictures` draws these with matplotlib; this module needs NumPy only.

Feature pixel i has its centre at coordinate i: a sample at an integer position reads exactly that
pixel. Boxes are (x1, y1, x2, y2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .boxes import scale_relative
from .conventions import Convention, X, Y
from .errors import InputError
from .geometry import axis_geometry, axis_scales, compute_dtype, sample_positions, sample_taps


@dataclass(frozen=True)
class AxisLayout:
    """One axis of one roi: where the convention reads it, its bins and its samples."""

    given: tuple[float, float]  # the box's coordinates x the convention's scale, before offsets, +1, clip, min size
    read: tuple[float, float]  # start and start + size: what the bins cover
    edges: np.ndarray | None  # [P + 1] bin edges (clipped where the convention clips them); None for a corner grid
    positions: np.ndarray  # [P, G] sample coordinates; NaN where a bin has fewer samples than G
    low: np.ndarray  # [P, G] the two pixels each sample reads along this axis, and their weights
    high: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray
    inside: np.ndarray  # [P, G] the border rule reads the map there (else the sample is the fill value)


@dataclass(frozen=True)
class Tap:
    """One sample point and the feature pixels it reads."""

    bin: tuple[int, int]  # (py, px)
    index: tuple[int, int]  # (iy, ix) within the bin
    point: tuple[float, float]  # (x, y)
    pixels: tuple[tuple[int, int], ...]  # distinct (x, y) pixels with a weight; none when outside
    weights: tuple[float, ...]  # each pixel's weight in this sample (equal taps summed)
    inside: bool

    def weighted(self) -> dict[tuple[int, int], float]:
        """pixel (x, y) -> its weight in this sample."""
        return dict(zip(self.pixels, self.weights, strict=True))


@dataclass(frozen=True)
class Drawing:
    """One roi under one convention."""

    label: str
    convention: Convention
    feature_size: tuple[int, int]  # (W, H)
    output_size: tuple[int, int]  # (PH, PW)
    x: AxisLayout
    y: AxisLayout

    @property
    def given(self) -> tuple[float, float, float, float]:
        return (self.x.given[0], self.y.given[0], self.x.given[1], self.y.given[1])

    @property
    def read(self) -> tuple[float, float, float, float]:
        return (self.x.read[0], self.y.read[0], self.x.read[1], self.y.read[1])

    def samples(self) -> np.ndarray:
        """Every sample point as rows (py, px, iy, ix, x, y), bin by bin in C order."""
        rows = []
        for py, ys in enumerate(self.y.positions):
            for px, xs in enumerate(self.x.positions):
                for iy in np.flatnonzero(~np.isnan(ys)):
                    for ix in np.flatnonzero(~np.isnan(xs)):
                        rows.append((py, px, iy, ix, xs[ix], ys[iy]))
        return np.array(rows, dtype=np.float64).reshape(-1, 6)

    def tap(self, py: int, px: int, iy: int, ix: int) -> Tap:
        """The pixels sample (iy, ix) of bin (py, px) reads, with their bilinear weights."""
        self._check_sample(py, px, iy, ix)
        x, y = self.x, self.y
        inside = bool(x.inside[px, ix] and y.inside[py, iy])
        weights: dict[tuple[int, int], float] = {}
        if inside:
            for yi, wy in ((y.low[py, iy], y.w_low[py, iy]), (y.high[py, iy], y.w_high[py, iy])):
                for xi, wx in ((x.low[px, ix], x.w_low[px, ix]), (x.high[px, ix], x.w_high[px, ix])):
                    key = (int(xi), int(yi))
                    weights[key] = weights.get(key, 0.0) + float(wy) * float(wx)
        point = (float(x.positions[px, ix]), float(y.positions[py, iy]))
        return Tap((py, px), (iy, ix), point, tuple(weights), tuple(weights.values()), inside)

    def _check_sample(self, py, px, iy, ix) -> None:
        ph, pw = self.output_size
        if not (0 <= py < ph and 0 <= px < pw):
            raise InputError(f"bin ({py}, {px}) is outside the {ph}x{pw} output")
        gy = int(np.count_nonzero(~np.isnan(self.y.positions[py])))
        gx = int(np.count_nonzero(~np.isnan(self.x.positions[px])))
        if not (0 <= iy < gy and 0 <= ix < gx):
            raise InputError(f"{self.label}: bin ({py}, {px}) has {gy}x{gx} samples; there is no sample ({iy}, {ix})")


def coordinate_scale(conv: Convention, length: int, spatial_scale: float) -> float:
    """What one unit of box coordinate is in feature pixels under this convention."""
    return {"absolute": spatial_scale, "relative-feature": length, "tf-normalized": length - 1}[conv.coordinates]


def engine_box(conv: Convention, box, image_size=None) -> np.ndarray:
    """The box (x1, y1, x2, y2) the engine gets: relative boxes x the image size for conventions that read
    absolute pixels, as `roialign pool --image-size` does; conventions that read relative boxes take them as given."""
    box = np.asarray(box, dtype=np.float64)
    if image_size is None or conv.coordinates != "absolute":
        return box
    return scale_relative(np.concatenate([[0.0], box])[None], image_size)[0, 1:]


def layout(box, feature_size, output_size, spatial_scale, conv: Convention, label: str = "") -> Drawing:
    """The picture's numbers for one box (x1, y1, x2, y2, in the engine's coordinates) on a W x H map;
    `spatial_scale` is one number or a (y, x) pair."""
    width, height = (int(v) for v in feature_size)
    ph, pw = (int(v) for v in output_size)
    x1, y1, x2, y2 = (float(v) for v in box)
    sy, sx = axis_scales(spatial_scale)
    x = _axis(x1, x2, width, sx, pw, conv, X)
    y = _axis(y1, y2, height, sy, ph, conv, Y)
    return Drawing(label, conv, (width, height), (ph, pw), x, y)


def layouts(box, conventions, feature_size, output_size, spatial_scale: float, image_size=None) -> list[Drawing]:
    """One box as given (x1, y1, x2, y2) under each (label, convention), each reading it as `engine_box` says."""
    return [
        layout(engine_box(conv, box, image_size), feature_size, output_size, spatial_scale, conv, label)
        for label, conv in conventions
    ]


def _axis(c1: float, c2: float, length: int, spatial_scale: float, pooled: int, conv: Convention, axis) -> AxisLayout:
    ct = compute_dtype(np.float32)  # the engines' precision for float32 features
    geo = axis_geometry(np.array([c1]), np.array([c2]), length, spatial_scale, pooled, conv, ct, axis)
    positions = sample_positions(geo, [0], pooled, length, conv, ct)
    taps = sample_taps(geo, [0], pooled, length, conv, ct)
    present = taps.present[0]
    scale = coordinate_scale(conv, length, spatial_scale)
    start, bin_ = float(geo.start[0]), float(geo.bin[0])
    if conv.one_point_per_cell:
        read, edges = (start, float(geo.end[0])), None
    else:
        # whole-pixel bins (RoIPool) read the pixels from floor to ceil of these edges
        read = (start, start + bin_ * pooled)
        edges = start + np.arange(pooled + 1) * bin_
        if conv.clip_bins:
            edges = np.clip(edges, 0, length - 1)
    return AxisLayout(
        given=(c1 * scale, c2 * scale),
        read=read,
        edges=edges,
        positions=np.where(present, positions[0].astype(np.float64), np.nan),
        low=taps.low[0],
        high=taps.high[0],
        w_low=taps.w_low[0].astype(np.float64),
        w_high=taps.w_high[0].astype(np.float64),
        inside=taps.inside[0] & present,
    )


@dataclass(frozen=True)
class PyramidView:
    """Which map of a pyramid a box is drawn on, and the level each mapper picks for it."""

    level_names: tuple[str, ...]
    picks: dict[str, str]  # mapper -> the level it pools the box from ("none": no level)
    drawn: int  # the map drawn: the first mapper's (the finest where it gives none)
    feature_size: tuple[int, int]  # (W, H) of the map drawn
    spatial_scale: float

    def text(self) -> str:
        from .equivalents import scale_expression

        picks = ", ".join(f"{mapper} {level}" for mapper, level in self.picks.items())
        name, (width, height) = self.level_names[self.drawn], self.feature_size
        first = next(iter(self.picks))
        whose = f"{first}'s" if self.picks[first] != "none" else f"the finest ({first} picks none)"
        return (
            f"pyramid {', '.join(self.level_names)}; level picked by {picks}; drawn on {name} "
            f"({width}x{height}, scale {scale_expression(self.spatial_scale)}), {whose}"
        )


def pyramid_view(box_pixels, shapes, spatial_scales, image_size, mappers) -> PyramidView:
    """The maps' `shapes` [N, C, H, W] (finest first), a box (x1, y1, x2, y2) in input-image pixels, and
    the level mappers: what `roialign levels` says of the box, and the map it is drawn on."""
    from .level_comparison import compare
    from .pyramid import assign_levels, make_pyramid

    pyramid = make_pyramid(shapes, image_size, spatial_scales)
    roi = np.concatenate([[0.0], np.asarray(box_pixels, dtype=np.float64)])[None]
    comparison = compare(roi, mappers, pyramid, image_size)
    picks = {name: comparison.level_name(levels[0]) for name, levels in comparison.levels.items()}
    drawn = max(int(assign_levels(roi, mappers[0], pyramid, image_size)[0]), 0)
    height, width = shapes[drawn][2:]
    names = tuple(pyramid.level_names())
    return PyramidView(names, picks, drawn, (int(width), int(height)), pyramid.scales[drawn])
