"""`roialign levels ROIS --image-size WxH`: the pyramid level of every box under each level mapper."""

from __future__ import annotations

import click

from .common import console, print_json, reports_errors
from .values import parse_scales, parse_size

DEFAULT_SCALES = "1/4,1/8,1/16,1/32"


@click.command()
@click.argument("rois")
@click.option(
    "--image-size",
    required=True,
    metavar="WxH",
    help="Input image size: relative (0..1) boxes are multiplied by it; some mappers need it.",
)
@click.option(
    "--level-mapper",
    "mapper_names",
    metavar="A,B",
    help="Mappers to compare (default: all of them; the first is the one the others are counted against).",
)
@click.option(
    "--spatial-scale",
    "spatial_scales",
    default=DEFAULT_SCALES,
    show_default=True,
    metavar="S1,S2,...",
    help="The pyramid's scales, finest first (they fix its levels: 1/4 is P2).",
)
@click.option("--disagreements-only", is_flag=True, help="List only the boxes on which the mappers disagree.")
@click.option("--json", "as_json", is_flag=True, help="Print the levels as JSON on stdout.")
@reports_errors
def levels(rois, image_size, mapper_names, spatial_scales, disagreements_only, as_json):
    """The pyramid level of every box of ROIS (.npy; '-' reads stdin) under each level mapper.

    ROIS are read as by `roialign pool`. Boxes on which the mappers disagree are highlighted, and
    the summary says how many boxes each mapper sends elsewhere than the first one does.
    """
    from .. import arrayio, boxes
    from ..level_comparison import compare
    from ..level_mappers import parse_mapper_list
    from ..pyramid import pyramid_of

    size = parse_size(image_size, "image size")
    scales = parse_scales(spatial_scales)
    roi_array = boxes.parse_rois(arrayio.load_array(rois, "rois")).rois
    if boxes.looks_relative(roi_array[:, 1:5]):
        roi_array = boxes.scale_relative(roi_array, size)
    result = compare(roi_array, parse_mapper_list(mapper_names), pyramid_of(scales), size)
    if as_json:
        print_json(result.to_dict())
    else:
        _print(result, roi_array, disagreements_only)


def _print(result, rois, disagreements_only: bool) -> None:
    from rich.table import Table

    out = console(stderr=False)
    names = [m.name for m in result.mappers]
    table = Table(
        title=f"roialign levels: {len(rois)} boxes over {', '.join(result.pyramid.level_names())}", title_justify="left"
    )
    for column in ("#", "x1, y1, x2, y2", "sqrt area"):
        table.add_column(column, justify="right")
    for name in names:
        table.add_column(name, justify="right")
    shown = result.disagreeing if disagreements_only else range(len(rois))
    disagree = set(result.disagreeing)
    for k in shown:
        x1, y1, x2, y2 = rois[k, 1:5]
        area = max((x2 - x1) * (y2 - y1), 0.0)
        cells = [result.level_name(result.levels[n][k]) for n in names]
        table.add_row(
            str(k),
            f"{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}",
            f"{area**0.5:.2f}",
            *cells,
            style="bold yellow" if k in disagree else None,
        )
    out.print(table)
    out.print(f"{len(result.disagreeing)} of {len(rois)} boxes go to different levels under these mappers.")
    for name, count in result.differ_from_reference().items():
        out.print(f"{count} of {len(rois)} boxes go to a different level under {name} than under {result.reference}")
    for name, tally in result.counts().items():
        out.print(f"  {name}: " + ", ".join(f"{level} {n}" for level, n in tally.items()))
