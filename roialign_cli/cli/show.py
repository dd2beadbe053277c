"""`roialign show`: draw one roi under one or two conventions on the feature grid (PNG or SVG)."""

from __future__ import annotations

import dataclasses

import click

from .common import UserError, note, parse_option_items, reports_errors
from .options import (
    aligned_option,
    collected,
    image_size_option,
    option_items_option,
    output_size_option,
    preset_option,
    sampling_ratio_option,
    spatial_scale_option,
    stacked,
    switch_option,
)
from .values import parse_axis_scales, parse_size


@dataclasses.dataclass(frozen=True)
class Compared:
    """The convention options, and the second convention's (--vs, --vs-option, --vs-switch)."""

    preset: str | None
    option_items: tuple[str, ...]
    switch_items: tuple[str, ...]
    sampling_ratio: int | tuple[int, int]
    aligned: bool | None
    vs_preset: str | None
    vs_option_items: tuple[str, ...]
    vs_switch_items: tuple[str, ...]

    def conventions(self) -> list[tuple[str, object]]:
        """[(label, convention)]: the first, and with --vs the second, labelled A and B."""
        from ..conventions import with_switches
        from ..presets import resolve

        if (self.vs_option_items or self.vs_switch_items) and not self.vs_preset:
            raise UserError("--vs-option and --vs-switch belong to a second convention: name it with --vs")
        options = parse_option_items(self.option_items)
        first = resolve(self.preset, aligned=self.aligned, sampling_ratio=self.sampling_ratio, options=options)
        chosen = [(self.preset or "torchvision", self.option_items, self.switch_items, first)]
        if self.vs_preset:
            second = resolve(self.vs_preset, options=parse_option_items(self.vs_option_items))
            chosen.append((self.vs_preset, self.vs_option_items, self.vs_switch_items, second))
        letters = ["A: ", "B: "] if len(chosen) > 1 else [""]
        return [
            (f"{letter}{' '.join([name, *options, *switches])}", with_switches(conv, switches))
            for letter, (name, options, switches, conv) in zip(letters, chosen, strict=True)
        ]


def compared_options():
    return stacked(
        preset_option(),
        option_items_option("One of the preset's own options (see `roialign presets NAME`); repeatable."),
        switch_option(),
        sampling_ratio_option("Samples per bin and axis: -1 the preset's own, 0 adaptive, n fixed."),
        aligned_option("Half-pixel offset (torchvision aligned=True). Default: the preset's own."),
        click.option("--vs", "vs_preset", metavar="NAME", help="A second convention, drawn in a second row."),
        click.option("--vs-option", "vs_option_items", multiple=True, metavar="NAME=VALUE", help="An option of --vs."),
        click.option("--vs-switch", "vs_switch_items", multiple=True, metavar="NAME=VALUE", help="A switch of --vs."),
        collected("compared", Compared),
    )


@click.command()
@click.argument("rois", required=False)
@click.option("--roi", "roi_index", type=click.IntRange(min=0), metavar="K",
              help="Which roi of ROIS to draw (counted after SSD padding rows are dropped).")  # fmt: skip
@click.option("--box", metavar="x1,y1,x2,y2", help="Draw this box instead of one from ROIS.")
@click.option("--features", metavar="FILE", help="A features file [N,C,H,W] (.npy or FILE.npz:KEY): the grid's size; "
              "a pyramid (an .npz of maps, or p2.npy,p3.npy,...): the level mappers pick the map.")  # fmt: skip
@click.option("--feature-size", metavar="WxH", help="The feature map's width and height, instead of --features.")
@image_size_option("Input image size: relative boxes are multiplied by it for conventions that read absolute pixels.")
@spatial_scale_option("1", "Feature pixels per box unit, e.g. 0.125 or 1/8; for a pyramid one per map "
                     "(1/4,1/8,...), or inferred from --image-size.")  # fmt: skip
@click.option("--level-mapper", "mapper_names", metavar="A,B", help="For a pyramid: the level mappers to mark "
              "(default: all that can run; the box is drawn on the first one's level).")  # fmt: skip
@output_size_option("Pooled size: 7, or HxW such as 7x7.")
@compared_options()
@click.option("--overlay", is_flag=True, help="Draw both conventions in one panel instead of one row each.")
@click.option("--sample", default="0,0,0,0", show_default=True, metavar="PY,PX,IY,IX",
              help="The sample whose taps and weights are drawn: bin (PY, PX), sample (IY, IX) in it.")  # fmt: skip
@click.option("--width", type=click.IntRange(300, 4000), default=1200, show_default=True, help="Width in pixels.")
@click.option("-o", "--output", required=True, metavar="OUT", help="The picture: OUT.png or OUT.svg.")
@reports_errors
def show(rois, roi_index, box, features, feature_size, image_size, spatial_scale, mapper_names, output_size, compared,
         overlay, sample, width, output):  # fmt: skip
    """Draw where RoIAlign samples one box: the feature pixel centres, the box as given and as each
    convention reads it (after scale, offsets, +1, minimum size and clipping), its bins, every sample
    point, and the pixels one sample reads with their bilinear weights.

    The box is roi K of ROIS (any roi file `roialign pool` reads; '-' for stdin) or --box; the grid is
    --features' size or --feature-size. With --vs, the two conventions are drawn one row each (or
    overlaid), titled with the switches on which they differ. For example:

    \b
        roialign show samples/detections.npy --roi 0 --features samples/features.npy \\
            --image-size 576x192 --spatial-scale 1/8 --preset torchvision --vs caffe-ssd-roialign -o box.png
    """
    from .. import arrayio, pictures
    from ..drawing_geometry import layouts

    pictures.output_format(output)
    inputs = [s for s in (rois, features) if s]
    arrayio.check_output_path(output, inputs)
    raw, where = _box(rois, roi_index, box)
    size = parse_size(output_size, "output size")
    image = parse_size(image_size, "image size") if image_size else None
    grid, scale, levels = _grid(features, feature_size, spatial_scale, image, raw, mapper_names)
    drawings = layouts(raw, compared.conventions(), grid, size, scale, image)
    chosen = _sample(sample)
    if not any(pictures.has_sample(d, chosen) for d in drawings):
        drawings[0].tap(*chosen)  # says why there is no such sample
    title = _title(where, grid, size, scale, image) + (f"\n{levels}" if levels else "")
    fig = pictures.roi_figure(drawings, chosen, title, overlay=overlay, width=width)
    pixels = pictures.save(fig, output, inputs)
    if levels:
        note(levels)
    note(f"wrote {output} ({pixels[0]}x{pixels[1]} pixels)")


def _title(where: str, grid, size, scale: float, image) -> str:
    from ..equivalents import scale_expression

    text = f"{where} on a {grid[0]}x{grid[1]} feature map, output {size[0]}x{size[1]}, spatial scale "
    return text + scale_expression(scale) + (f", image {image[0]}x{image[1]}" if image else "")


def _box(rois, roi_index, box) -> tuple[tuple[float, ...], str]:
    """(x1, y1, x2, y2) as given, and words naming it."""
    from .. import arrayio, boxes

    if (rois is None) == (box is None):
        raise UserError("give either ROIS with --roi K, or --box x1,y1,x2,y2")
    if box is not None:
        if roi_index is not None:
            raise UserError("--roi picks a roi of ROIS; with --box there is none to pick")
        values = _numbers(box, 4, "--box", "x1,y1,x2,y2")
        return values, f"box ({box})"
    if roi_index is None:
        raise UserError("give --roi K: which roi of ROIS to draw")
    parsed = boxes.parse_rois(arrayio.load_array(rois, "rois")).rois
    if roi_index >= len(parsed):
        raise UserError(f"--roi {roi_index} is out of range: {rois} holds {len(parsed)} rois")
    values = tuple(float(v) for v in parsed[roi_index, 1:5])
    return values, f"roi {roi_index} ({', '.join(f'{v:.4g}' for v in values)})"


def _numbers(text: str, count: int, what: str, form: str) -> tuple[float, ...]:
    import math

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise UserError(f"{what} takes {count} numbers {form}, not {text!r}")
    return values


def _grid(features, feature_size, spatial_scale, image, raw, mapper_names):
    """The grid (W, H) and spatial scale drawn, and for a pyramid the line saying each mapper's level."""
    import numpy as np

    from .. import arrayio, boxes
    from ..drawing_geometry import pyramid_view
    from ..level_mappers import parse_mapper_list
    from ..pyramid import check_maps
    from ..pyramid_files import pyramid_specs
    from .pool_pyramid import scales_given
    from .values import parse_scales

    specs = pyramid_specs(features) if features else None
    if specs is None:
        if mapper_names:
            raise UserError("--level-mapper belongs to a pyramid: --features p2.npy,p3.npy,... or an .npz of maps")
        return _feature_size(features, feature_size), parse_axis_scales(spatial_scale), None
    maps = [arrayio.load_array(spec, f"feature map {i}", mmap=True) for i, spec in enumerate(specs)]
    check_maps(maps)
    scales = parse_scales(spatial_scale) if scales_given(click.get_current_context()) else None
    mappers = parse_mapper_list(mapper_names)
    if not mapper_names and image is None:
        mappers = [m for m in mappers if not m.needs_image_size]
    pixels = np.asarray(raw, dtype=np.float64)[None]  # the mappers measure boxes in input pixels
    if image is not None and boxes.looks_relative(pixels):
        pixels = boxes.scale_relative(np.concatenate([[[0.0]], pixels], axis=1), image)[:, 1:]
    view = pyramid_view(pixels[0], [m.shape for m in maps], scales, image, mappers)
    return view.feature_size, view.spatial_scale, view.text()


def _feature_size(features, feature_size) -> tuple[int, int]:
    from .. import arrayio
    from ..validation import check_features

    if (features is None) == (feature_size is None):
        raise UserError("give either --features FILE or --feature-size WxH")
    if feature_size is not None:
        return parse_size(feature_size, "feature size")
    array = arrayio.load_array(features, "features", mmap=True)
    check_features(array.shape, array.dtype)
    return int(array.shape[3]), int(array.shape[2])


def _sample(text: str) -> tuple[int, int, int, int]:
    values = _numbers(text, 4, "--sample", "PY,PX,IY,IX")
    if not all(v.is_integer() and v >= 0 for v in values):
        raise UserError(f"--sample takes four integers >= 0 (bin PY,PX and sample IY,IX in it), not {text!r}")
    return tuple(int(v) for v in values)
