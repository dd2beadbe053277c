"""`roialign explain FEATURES ROIS REFERENCE`: which convention produced a reference output."""

from __future__ import annotations

import time
from contextlib import contextmanager

import click

from ..box_formats import FORMATS
from .common import UserError, console, note, print_json, reports_errors
from .options import backend_option, image_size_option, json_option, layout_option
from .values import parse_axis_scales, parse_size

PROGRESS_AFTER = 1.0  # seconds of search before a progress bar appears


@click.command()
@click.argument("features")
@click.argument("rois")
@click.argument("reference")
@click.option(
    "--from",
    "fmt",
    default="auto",
    show_default=True,
    metavar="FORMAT",
    help=f"Format of ROIS: auto ([K,5], [K,4] or SSD rows), or one of {', '.join(FORMATS)}.",
)
@image_size_option("Input image size: lets relative boxes be read x image size.")
@click.option(
    "--spatial-scale",
    metavar="S|Y,X",
    help="Search only this scale (e.g. 1/8, or 1/2,1 per axis); "
    "default: 1 .. 1/64 and the feature/image ratio (per axis where the aspects differ).",
)
@click.option(
    "--assume", metavar="PRESET", help="The preset you have been using: say what differs from the best match."
)
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100), help="Candidates to list.")
@backend_option()
@layout_option("nhwc: FEATURES are [N,H,W,C] and REFERENCE [K,PH,PW,C] (TF, TFLite, NNAPI).")
@json_option("Print the whole explanation as JSON on stdout.")
@click.option(
    "--plot",
    metavar="OUT",
    help="Draw roi --plot-roi under --assume and under the best match (OUT.png or OUT.svg; needs matplotlib).",
)
@click.option(
    "--plot-roi", type=click.IntRange(min=0), default=0, show_default=True, metavar="K", help="The roi --plot draws."
)
@reports_errors
def explain(
    features, rois, reference, fmt, image_size, spatial_scale, assume, top, backend, layout, as_json, plot, plot_roi
):
    """Find the convention that turns FEATURES and ROIS into REFERENCE (all .npy; one may be '-').

    Every preset with its options and modes is tried with every reading of the boxes (absolute
    pixels x spatial scale, relative x image size, relative x feature size, TF normalized), spatial
    scales from 1 to 1/64 (and, with --image-size, the feature/image ratio, per axis where the
    aspects differ) and sampling ratios adaptive and 1..4; TF references also with method=nearest.
    The output size is REFERENCE's.
    Exit 0 when a candidate matches within `roialign diff`'s default tolerance, 1 when none does
    (the closest is shown), 2 on error.

    FEATURES may be a pyramid (an .npz of maps, finest first, or p2.npy,p3.npy,...): then every level
    mapper is searched too, with --spatial-scale 1/4,1/8,... or the scales inferred from --image-size.
    """
    from .. import arrayio
    from ..explain import explain as run
    from ..presets import get
    from ..pyramid_files import pyramid_specs
    from .explain_pyramid import explain_pyramid_command

    if [features, rois, reference].count("-") > 1:
        raise UserError("only one of FEATURES, ROIS and REFERENCE can be read from stdin")
    if pyramid := pyramid_specs(features):
        return explain_pyramid_command(
            features,
            pyramid,
            rois,
            reference,
            fmt=fmt,
            image_size=image_size,
            spatial_scale=spatial_scale,
            assume=assume,
            top=top,
            as_json=as_json,
        )
    if assume:
        get(assume)  # an unknown preset fails before the search
    if plot:
        _check_plot(plot, assume, [features, rois, reference])
    size = parse_size(image_size, "image size") if image_size else None
    scale = parse_axis_scales(spatial_scale) if spatial_scale else None
    feature_array = arrayio.load_array(features, "features")
    roi_array = _read_rois(rois, fmt)
    if plot and plot_roi >= len(roi_array):
        raise UserError(f"--plot-roi {plot_roi} is out of range: there are {len(roi_array)} rois")
    reference_array = arrayio.load_array(reference, "reference")
    with _progress() as progress:
        result = run(feature_array, roi_array, reference_array, image_size=size, spatial_scale=scale, assume=assume,
                     top=top, paths=(features, rois), backend=backend, layout=layout, progress=progress)  # fmt: skip
    if result.engine.note and backend == "auto":
        note(result.engine.note)
    if plot:
        n, *rest = feature_array.shape  # the grid drawn is the map's [N, C, H, W]
        shape = (n, rest[2], rest[0], rest[1]) if layout == "nhwc" else feature_array.shape
        _plot(result, roi_array, shape, plot_roi, plot, [features, rois, reference])
    if as_json:
        print_json(result.to_dict(top))
    else:
        _print(result, top, console(stderr=False))
    raise SystemExit(0 if result.matched else 1)


def _check_plot(out: str, assume, inputs) -> None:
    from ..arrayio import check_output_path
    from ..pictures import output_format

    if not assume:
        raise UserError("--plot draws the box under your setting and under the best match: name yours with --assume")
    output_format(out)
    check_output_path(out, inputs)


def _plot(result, rois, features_shape, k: int, out: str, inputs) -> None:
    from .. import pictures

    grid = (features_shape[3], features_shape[2])
    title = f"roi {k} ({', '.join(f'{v:.4g}' for v in rois[k, 1:5])}) on a {grid[0]}x{grid[1]} map"
    pictures.save(pictures.roi_figure(plot_drawings(result, rois, grid, k), (0, 0, 0, 0), title), out, inputs)


def plot_drawings(result, rois, grid, k: int) -> list:
    """Roi k under the assumed setting (A) and the best match (B), each reading the boxes its own way."""
    from ..drawing_geometry import layout
    from ..equivalents import scale_expression
    from ..explain import engine_rois

    drawings = []
    for letter, who, scored in (("A", "your setting", result.assumed), ("B", "best match", result.best)):
        c = scored.candidate
        box = engine_rois(rois[k : k + 1], c.reading, result.image_size)[0, 1:5]
        scale = f", scale {scale_expression(c.spatial_scale)}" if c.reading.scaled else ""
        label = f"{letter}: {who}, {c.label} ({c.reading.name}{scale})"
        drawings.append(layout(box, grid, result.output_size, c.spatial_scale, c.convention, label))
    return drawings


@contextmanager
def _progress():
    """A progress(stage, done, total) callback that shows a rich progress bar on stderr (a
    terminal only) once the search has taken PROGRESS_AFTER seconds, and clears it at the end."""
    started, shown = time.monotonic(), {}

    def progress(stage: str, done: int, total: int) -> None:
        if not shown:
            err = console(stderr=True)
            if time.monotonic() - started < PROGRESS_AFTER or not err.is_terminal:
                return
            from rich.progress import Progress

            shown["bar"] = Progress(console=err, transient=True)
            shown["bar"].start()
            shown["task"] = shown["bar"].add_task(stage, total=total)
        shown["bar"].update(shown["task"], description=stage, completed=done, total=total)

    try:
        yield progress
    finally:
        if shown:
            shown["bar"].stop()


def _read_rois(spec: str, fmt: str):
    from .. import arrayio, boxes

    if fmt == "auto":
        return boxes.parse_rois(arrayio.load_array(spec, "rois")).rois
    return boxes.write(boxes.read(fmt, boxes.load(spec, fmt)).boxes, "rois5")


def _print(result, top: int, out) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"roialign explain: {result.searched} candidates searched, top {top}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("preset", ratio=3, overflow="fold")
    table.add_column("boxes read as", ratio=3)
    for column in ("scale", "sampling"):
        table.add_column(column, ratio=1)
    for column in ("max err", "mean err"):
        table.add_column(column, justify="right", ratio=1)
    for rank, row in enumerate(result.rows(top), 1):
        table.add_row(
            str(rank),
            escape(row["label"]),
            row["reading"],
            row["spatial_scale"],
            row["sampling"],
            f"{row['max_error']:.3g}",
            f"{row['mean_error']:.3g}",
        )
    out.print(table)
    verdict = "matches" if result.matched else "is the closest, but does not match"
    out.print(f"\n[bold]Best:[/bold] {escape(result.best_label)} {verdict} (max |err| {result.best.max_error:.3g}).")
    out.print("Reproduce it with:")
    out.print(f"  {escape(result.command)}", soft_wrap=True)
    out.print("\n[bold]In each framework:[/bold]")
    for framework, (status, text) in result.framework_lines().items():
        out.print(f"  {framework}: {status}", soft_wrap=True)
        out.print(f"    {escape(text)}", soft_wrap=True)
        if framework == "torchvision" and result.layer:
            out.print(f"    train with: {escape(result.layer)}", soft_wrap=True)
    for line in result.notes:
        out.print(f"note: {escape(line)}", soft_wrap=True)
    if result.assumed is not None:
        out.print(
            f"\n[bold]Your setting ({escape(result.assumed.candidate.label)}):[/bold] "
            f"max |err| {result.assumed.max_error:.3g} against the reference."
        )
        for line in result.assumption_lines:
            out.print(f"  - {escape(line)}", soft_wrap=True)
