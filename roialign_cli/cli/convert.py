"""`roialign convert boxes IN`: change a box array's format and coordinate space."""

from __future__ import annotations

import dataclasses
import textwrap

import click

from ..box_formats import FORMATS, LAYOUTS, SPACES
from .common import UserError, console, print_json, reports_errors, warn
from .options import collected, image_size_option, json_option, output_destination, output_option
from .values import parse_scale, parse_size

PREVIEW_ROWS = 3  # boxes shown from each end


def _catalogue() -> str:
    """The formats and spaces, for --help (click keeps \\b paragraphs as written)."""

    def entries(items):
        return "\n".join(
            textwrap.fill(text, 78, initial_indent=f"  {name:<10} ", subsequent_indent=" " * 13, break_on_hyphens=False)
            for name, text in items
        )

    spaces_intro = (
        "Coordinate spaces (--from-space, --to-space; default: the format's own: ssd relative, tf tf, others absolute):"
    )
    return (
        f"\b\nFormats:\n{entries((n, f.description) for n, f in FORMATS.items())}\n\n"
        f"\b\n{textwrap.fill(spaces_intro, 78)}\n{entries(SPACES.items())}"
    )


@click.group()
def convert():
    """Convert data between the layouts that frameworks use (boxes: `roialign convert boxes -h`)."""


@dataclasses.dataclass(frozen=True)
class BoxesOptions:
    """The options of `roialign convert boxes`, as typed."""

    output: str | None
    from_format: str
    to_format: str
    from_space: str | None
    to_space: str | None
    image_size: str | None
    spatial_scale: str | None
    stride: str | None
    batch_index: int | None
    batch_file: str | None
    batch_out: str | None
    min_score: float | None
    labels: str | None
    dtype: str
    as_json: bool


@convert.command(epilog=_catalogue())
@click.argument("source", metavar="IN")
@output_option(
    "Write the converted boxes here; '-' for stdout. Without it "
    "they go to stdout when stdout is a pipe, and nowhere otherwise (a preview only)."
)
@click.option("--from", "from_format", required=True, metavar="FORMAT", help="Format of IN (see below).")
@click.option("--to", "to_format", required=True, metavar="FORMAT", help="Format to write (see below).")
@click.option("--from-space", metavar="SPACE", help="Coordinate space of IN; default: the format's own.")
@click.option("--to-space", metavar="SPACE", help="Coordinate space to write; default: the output format's own.")
@image_size_option("Input image size, for relative and tf coordinates.")
@click.option(
    "--spatial-scale", metavar="S", help="Feature pixels per image pixel, e.g. 0.125 or 1/8, for feature coordinates."
)
@click.option("--stride", metavar="N", help="Feature-map stride: the same as --spatial-scale 1/N.")
@click.option("--batch-index", type=int, metavar="N", help="Batch index of every box of a (K,4) format [default: 0].")
@click.option("--batch-file", metavar="FILE", help="Batch indices [K] of the boxes of a (K,4) format (.npy).")
@click.option(
    "--batch-out",
    metavar="FILE",
    help="Also write the batch indices [K] int64 here (.npy), for (K,4) output formats, which have no batch column.",
)
@click.option("--min-score", type=float, help="Keep ssd boxes whose score is at least this.")
@click.option("--labels", metavar="L1,L2", help="Keep ssd boxes with these labels, e.g. 1,3.")
@click.option(
    "--dtype",
    type=click.Choice(["float64", "float32"]),
    default="float64",
    show_default=True,
    help="Float type of the written coordinates; frameworks want the features' type (often float32).",
)
@json_option()
@collected("given", BoxesOptions)
@reports_errors
def boxes(source, given):
    """Convert the boxes in IN ('-': stdin) from one format and coordinate space to another.

    Conversions are exact (float64 inside). A preview of the first and last boxes, the counts
    kept and dropped, and warnings about suspicious data go to stderr.
    """
    from .. import arrayio
    from .. import boxes as box_io
    from ..box_formats import box_format

    box_format(given.from_format)  # an unknown name fails before any file is read
    target = box_format(given.to_format)
    output = output_destination(given.output, given.as_json, "the boxes")
    batch_file, batch_out = given.batch_file, given.batch_out
    inputs = [source] + ([batch_file] if batch_file else [])
    _check_paths(source, batch_file, output, batch_out, given.to_format)
    frame = _frame(given.image_size, given.spatial_scale, given.stride)
    for path in (output, batch_out):
        if path is not None:
            arrayio.check_output_path(path, inputs)

    conversion = box_io.convert(
        box_io.load(source, given.from_format), given.from_format, given.to_format,
        from_space=given.from_space, to_space=given.to_space, frame=frame, batch_index=given.batch_index,
        batch_indices=arrayio.load_array(batch_file, "batch indices") if batch_file else None,
        labels=_labels(given.labels), min_score=given.min_score, dtype=given.dtype,
    )  # fmt: skip
    warnings = list(conversion.warnings)
    if target.batch == "separate" and batch_out is None:
        warnings += _check_batch_kept(conversion.result.batch, given.to_format)
    written = [(output, conversion.output)] if output is not None else []
    if batch_out is not None:
        written.append((batch_out, box_io.integer_batch(conversion.result, "--batch-out")))
    arrayio.save_all(written, inputs)  # the boxes and their batch indices land together or not at all
    _report(conversion, _summary(conversion, source, output, batch_out), given.as_json, warnings)


def _check_paths(source: str, batch_file: str | None, output: str | None, batch_out: str | None, to_format: str):
    """Refuse what no conversion could do with these paths, before anything is read."""
    from ..box_formats import box_format

    if source == "-" and batch_file == "-":
        raise UserError("only one of IN and --batch-file can be read from stdin")
    if batch_out is not None and box_format(to_format).batch != "separate":
        raise UserError(f"--batch-out is for (K,4) output formats; {to_format} keeps the batch indices itself")
    if batch_out is not None and batch_out == output:
        raise UserError(f"-o and --batch-out both name {output}; give them different files")


def _frame(image_size: str | None, spatial_scale: str | None, stride: str | None):
    from ..coordinates import Frame

    size = parse_size(image_size, "image size") if image_size else None
    return Frame(image_size=size, spatial_scale=_spatial_scale(spatial_scale, stride))


def _report(conversion, summary: dict, as_json: bool, warnings: list[str]) -> None:
    """The preview and the warnings on stderr; with --json, the summary on stdout."""
    _preview(conversion, summary, console(stderr=True))
    for message in warnings:  # once the outputs are in place, so that a failure is one line
        warn(message)
    if as_json:
        print_json(summary)


def _spatial_scale(spatial_scale: str | None, stride: str | None) -> float | None:
    if spatial_scale is not None and stride is not None:
        raise UserError("give --spatial-scale or --stride, not both")
    if stride is None:
        return None if spatial_scale is None else parse_scale(spatial_scale)
    if not stride.isdigit() or int(stride) == 0:
        raise UserError(f"--stride must be a positive integer, not {stride!r}")
    return 1 / int(stride)


def _labels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--labels must be integers separated by commas, like 1,3; not {text!r}") from None


def _check_batch_kept(batch, to_format: str) -> list[str]:
    """A (K,4) output has no batch column: refuse to lose batch indices silently; a warning where
    they are all one batch other than 0."""
    distinct = sorted(set(batch.tolist()))
    if len(distinct) > 1:
        shown = ", ".join(f"{b:g}" for b in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
        raise UserError(
            f"these boxes are in several images (batch {shown}), but {to_format} has no batch column: "
            "give --batch-out FILE to write the batch indices too"
        )
    if distinct and distinct[0] != 0:
        return [f"every box is in batch {distinct[0]:g}, which {to_format} does not record (--batch-out FILE keeps it)"]
    return []


def _summary(conversion, source: str, output: str | None, batch_out: str | None) -> dict:
    written = conversion.output if isinstance(conversion.output, dict) else {"array": conversion.output}
    return {
        "input": {"path": source, "format": conversion.source_format, "space": conversion.source.space},
        "output": {
            "path": output,
            "format": conversion.target_format,
            "space": conversion.result.space,
            "arrays": {name: {"shape": list(a.shape), "dtype": str(a.dtype)} for name, a in written.items()},
            "batch_indices_path": batch_out,
        },
        "boxes": {"kept": len(conversion.result), "dropped": conversion.dropped},
        "warnings": conversion.warnings,
    }


def _preview(conversion, summary: dict, out) -> None:
    """The first and last boxes, each as read (in) and as written (out), in their formats' layouts."""
    from rich import box
    from rich.table import Table

    from ..boxes import xyxy_to_layout

    source, result = conversion.source, conversion.result
    layouts = FORMATS[conversion.source_format].layout, FORMATS[conversion.target_format].layout
    out.print(
        f"roialign convert boxes: {conversion.source_format} ({source.space}) -> "
        f"{conversion.target_format} ({result.space})",
        markup=False,
        soft_wrap=True,
    )
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False)
    for name in ("#", "batch") + (("label", "score") if source.labels is not None else ()):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("")
    same_layout = layouts[0] == layouts[1]
    for name in LAYOUTS[layouts[0]].split(", ") if same_layout else [""] * 4:
        table.add_column(name, justify="right", no_wrap=True)
    shown = [xyxy_to_layout(source.xyxy, layouts[0]), xyxy_to_layout(result.xyxy, layouts[1])]
    labels = ("in", "out") if same_layout else (f"in {layouts[0]}", f"out {layouts[1]}")
    count = len(result)
    picks = (
        list(range(count))
        if count <= 2 * PREVIEW_ROWS
        else [*range(PREVIEW_ROWS), None, *range(count - PREVIEW_ROWS, count)]
    )
    for k in picks:
        if k is None:
            table.add_row("...")
            continue
        extra = [] if source.labels is None else [str(source.labels[k]), f"{source.scores[k]:.4g}"]
        table.add_row(str(k), f"{source.batch[k]:g}", *extra, labels[0], *_numbers(shown[0][k]))
        table.add_row(*[""] * (2 + len(extra)), labels[1], *_numbers(shown[1][k]))
    out.print(table)
    out.print(_counts(summary), markup=False, soft_wrap=True)


def _numbers(values) -> list[str]:
    return [f"{v:.6g}" for v in values]


def _counts(summary: dict) -> str:
    dropped = summary["boxes"]["dropped"]
    reasons = {"padding": "padding rows", "labels": "not in --labels", "min_score": "below --min-score"}
    parts = [f"{n} {reasons[name]}" for name, n in dropped.items() if n]
    kept = summary["boxes"]["kept"]
    arrays = ", ".join(f"{name} {a['shape']} {a['dtype']}" for name, a in summary["output"]["arrays"].items())
    where = summary["output"]["path"] or "(not written: give -o OUT)"
    text = f"kept {kept} boxes" + (f"; dropped {', '.join(parts)}" if parts else "") + f" -> {arrays} -> {where}"
    if summary["output"]["batch_indices_path"]:
        text += f"; batch indices -> {summary['output']['batch_indices_path']}"
    return text
