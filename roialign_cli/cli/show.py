"""`roialign show`: draw one roi under one or two conventions on the feature grid (PNG or SVG)."""

from __future__ import annotations

import click

from .common import UserError, note, parse_scale, reports_errors


@click.command()
@click.argument("rois", required=False)
@click.option(
    "--roi",
    "roi_index",
    type=click.IntRange(min=0),
    metavar="K",
    help="Which roi of ROIS to draw (its row after SSD padding rows are dropped).",
)
@click.option("--box", metavar="x1,y1,x2,y2", help="Draw this box instead of one from ROIS.")
@click.option("--features", metavar="FILE", help="A features file [N,C,H,W] (.npy or FILE.npz:KEY): the grid's size.")
@click.option("--feature-size", metavar="WxH", help="The feature map's width and height, instead of --features.")
@click.option(
    "--image-size",
    metavar="WxH",
    help="Input image size: relative boxes are multiplied by it for conventions that read absolute pixels.",
)
@click.option("--spatial-scale", default="1", show_default=True, help="Feature pixels per box unit, e.g. 1/8.")
@click.option("--output-size", default="7", show_default=True, help="Pooled size: 7, or HxW such as 7x7.")
@click.option("--preset", metavar="NAME", help="The convention to draw (default: torchvision's aligned=False).")
@click.option("--option", "option_items", multiple=True, metavar="NAME=VALUE", help="An option of --preset.")
@click.option("--switch", "switch_items", multiple=True, metavar="NAME=VALUE", help="A switch, set last.")
@click.option(
    "--sampling-ratio",
    type=int,
    default=-1,
    show_default=True,
    help="Samples per bin and axis for --preset: -1 its own, 0 adaptive, n fixed.",
)
@click.option("--aligned/--no-aligned", default=None, help="Half-pixel offset for --preset (default: its own).")
@click.option("--vs", "vs_preset", metavar="NAME", help="A second convention, drawn beside the first.")
@click.option("--vs-option", "vs_option_items", multiple=True, metavar="NAME=VALUE", help="An option of --vs.")
@click.option("--vs-switch", "vs_switch_items", multiple=True, metavar="NAME=VALUE", help="A switch of --vs.")
@click.option("--overlay", is_flag=True, help="Draw both conventions in one panel instead of side by side.")
@click.option(
    "--sample",
    default="0,0,0,0",
    show_default=True,
    metavar="PY,PX,IY,IX",
    help="The sample whose four taps and weights are drawn: bin (PY, PX), sample (IY, IX) in it.",
)
@click.option("--width", type=click.IntRange(300, 4000), default=1200, show_default=True, help="Width in pixels.")
@click.option("-o", "--output", required=True, metavar="OUT", help="The picture: OUT.png or OUT.svg.")
@reports_errors
def show(
    rois,
    roi_index,
    box,
    features,
    feature_size,
    image_size,
    spatial_scale,
    output_size,
    preset,
    option_items,
    switch_items,
    sampling_ratio,
    aligned,
    vs_preset,
    vs_option_items,
    vs_switch_items,
    overlay,
    sample,
    width,
    output,
):
    """Draw where RoIAlign samples one box: the feature pixel centres, the box as given and as each
    convention reads it (after scale, offsets, +1, minimum size and clipping), its bins, every sample
    point, and the pixels one sample reads with their bilinear weights.

    The box is roi K of ROIS (any roi file `roialign pool` reads; '-' for stdin) or --box; the grid is
    --features' size or --feature-size. With --vs, the two conventions are drawn side by side (or
    overlaid), titled with the switches on which they differ. For example:

    \b
        roialign show samples/detections.npy --roi 0 --features samples/features.npy \\
            --image-size 576x192 --spatial-scale 1/8 --preset torchvision --vs caffe-ssd-roialign -o box.png
    """
    from .. import arrayio, pictures
    from ..drawing_geometry import layouts
    from ..sizes import parse_size

    pictures.output_format(output)
    inputs = [s for s in (rois, features) if s]
    arrayio.check_output_path(output, inputs)
    raw, where = _box(rois, roi_index, box)
    grid = _feature_size(features, feature_size)
    size = parse_size(output_size, "output size")
    image = parse_size(image_size, "image size") if image_size else None
    conventions = _conventions(
        preset, option_items, switch_items, sampling_ratio, aligned, vs_preset, vs_option_items, vs_switch_items
    )
    scale = parse_scale(spatial_scale)
    drawings = layouts(raw, conventions, grid, size, scale, image)
    chosen = _sample(sample)
    if not any(pictures.has_sample(d, chosen) for d in drawings):
        drawings[0].tap(*chosen)  # says why there is no such sample
    fig = pictures.roi_figure(drawings, chosen, _title(where, grid, size, scale, image), overlay=overlay, width=width)
    pixels = pictures.save(fig, output, inputs)
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


def _feature_size(features, feature_size) -> tuple[int, int]:
    from .. import arrayio
    from ..sizes import parse_size
    from ..validation import check_features

    if (features is None) == (feature_size is None):
        raise UserError("give either --features FILE or --feature-size WxH")
    if feature_size is not None:
        return parse_size(feature_size, "feature size")
    array = arrayio.load_array(features, "features", mmap=True)
    check_features(array.shape, array.dtype)
    return int(array.shape[3]), int(array.shape[2])


def _conventions(
    preset, option_items, switch_items, sampling_ratio, aligned, vs_preset, vs_option_items, vs_switch_items
):
    """[(label, convention)] for --preset and, with --vs, the second one."""
    from ..conventions import with_switches
    from ..presets import resolve
    from .presets import parse_option_items

    if (vs_option_items or vs_switch_items) and not vs_preset:
        raise UserError("--vs-option and --vs-switch belong to a second convention: name it with --vs")
    first = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, options=parse_option_items(option_items))
    out = [(_label(preset or "torchvision", option_items, switch_items), with_switches(first, switch_items))]
    if vs_preset:
        second = resolve(vs_preset, options=parse_option_items(vs_option_items))
        out.append((_label(vs_preset, vs_option_items, vs_switch_items), with_switches(second, vs_switch_items)))
        out = [(f"{letter}: {label}", conv) for letter, (label, conv) in zip("AB", out)]
    return out


def _label(name: str, *items) -> str:
    return " ".join([name, *(item for group in items for item in group)])


def _sample(text: str) -> tuple[int, int, int, int]:
    values = _numbers(text, 4, "--sample", "PY,PX,IY,IX")
    if not all(v.is_integer() and v >= 0 for v in values):
        raise UserError(f"--sample takes four integers >= 0 (bin PY,PX and sample IY,IX in it), not {text!r}")
    return tuple(int(v) for v in values)
