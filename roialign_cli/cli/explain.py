"""`roialign explain FEATURES ROIS REFERENCE`: which convention produced a reference output."""

from __future__ import annotations

import time
from contextlib import contextmanager

import click

from ..box_formats import FORMATS
from ..engines import BACKENDS
from .common import UserError, console, note, parse_scale, print_json, reports_errors

PROGRESS_AFTER = 1.0  # seconds of search before a progress bar appears


@click.command()
@click.argument("features")
@click.argument("rois")
@click.argument("reference")
@click.option("--from", "fmt", default="auto", show_default=True, metavar="FORMAT",
              help=f"Format of ROIS: auto ([K,5], [K,4] or SSD rows), or one of {', '.join(FORMATS)}.")
@click.option("--image-size", metavar="WxH", help="Input image size: lets relative boxes be read x image size.")
@click.option("--spatial-scale", metavar="S", help="Search only this scale (e.g. 1/8); default: 1 .. 1/64 "
              "and the feature/image ratio.")
@click.option("--assume", metavar="PRESET", help="The preset you have been using: say what differs from the best match.")
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 100), help="Candidates to list.")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
              help="The engine that pools every candidate.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole explanation as JSON on stdout.")
@reports_errors
def explain(features, rois, reference, fmt, image_size, spatial_scale, assume, top, backend, as_json):
    """Find the convention that turns FEATURES and ROIS into REFERENCE (all .npy; one may be '-').

    Every preset with its options and modes is tried with every reading of the boxes (absolute
    pixels x spatial scale, relative x image size, relative x feature size, TF normalized), spatial
    scales from 1 to 1/64 and sampling ratios adaptive and 1..4. The output size is REFERENCE's.
    Exit 0 when a candidate matches within `roialign diff`'s default tolerance, 1 when none does
    (the closest is shown), 2 on error.
    """
    from .. import arrayio, boxes
    from ..explain import explain as run
    from ..presets import get

    if [features, rois, reference].count("-") > 1:
        raise UserError("only one of FEATURES, ROIS and REFERENCE can be read from stdin")
    if assume:
        get(assume)  # an unknown preset fails before the search
    size = boxes.parse_size(image_size, "image size") if image_size else None
    scale = parse_scale(spatial_scale) if spatial_scale else None
    feature_array = arrayio.load_array(features, "features")
    roi_array = _read_rois(rois, fmt)
    reference_array = arrayio.load_array(reference, "reference")
    with _progress() as progress:
        result = run(feature_array, roi_array, reference_array, image_size=size, spatial_scale=scale,
                     assume=assume, top=top, paths=(features, rois), backend=backend, progress=progress)
    if result.engine.note and backend == "auto":
        note(result.engine.note)
    if as_json:
        print_json(result.to_dict(top))
    else:
        _print(result, top, console(stderr=False))
    raise SystemExit(0 if result.matched else 1)


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
        table.add_row(str(rank), escape(row["label"]), row["reading"], row["spatial_scale"], row["sampling"],
                      f"{row['max_error']:.3g}", f"{row['mean_error']:.3g}")
    out.print(table)
    verdict = "matches" if result.matched else "is the closest, but does not match"
    out.print(f"\n[bold]Best:[/bold] {escape(result.best_label)} {verdict} (max |err| {result.best.max_error:.3g}).")
    out.print("Reproduce it with:")
    out.print(f"  {escape(result.command)}", soft_wrap=True)
    out.print("\n[bold]In each framework:[/bold]")
    for framework, (status, text) in result.framework_lines().items():
        out.print(f"  {framework}: {status}", soft_wrap=True)
        out.print(f"    {escape(text)}", soft_wrap=True)
    if result.assumed is not None:
        out.print(f"\n[bold]Your setting ({escape(result.assumed.candidate.label)}):[/bold] "
                  f"max |err| {result.assumed.max_error:.3g} against the reference.")
        for line in result.assumption_lines:
            out.print(f"  - {escape(line)}", soft_wrap=True)
