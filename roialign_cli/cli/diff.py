"""`roialign diff A B`: compare two arrays (B the reference); the exit status is the verdict."""

from __future__ import annotations

import click

from ..diff_defaults import ATOL, RTOL, TOP
from .common import UserError, console, print_json, reports_errors
from .options import json_option


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@click.option("--atol", type=float, default=ATOL, show_default=True, metavar="X", help="Absolute tolerance.")
@click.option(
    "--rtol", type=float, default=RTOL, show_default=True, metavar="Y", help="Relative tolerance, relative to |b|."
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=TOP,
    show_default=True,
    metavar="K",
    help="Rows in each worst-of table (rois, channels, elements, one-sided NaNs).",
)
@click.option("--squeeze", is_flag=True, help="Drop singleton dimensions of both first (Caffe blobs carry extra 1s).")
@json_option("Print the whole report as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; the exit status alone says the verdict.")
@click.option(
    "--plot",
    metavar="OUT",
    help="Also draw a heat map of max |a-b| per roi and channel and a histogram of "
    "|a-b| (OUT.png or OUT.svg; needs [K, C, PH, PW] arrays and matplotlib).",
)
@reports_errors
def diff(a, b, atol, rtol, top, squeeze, as_json, quiet, plot):
    """Compare array A against the reference B, element by element.

    A and B are .npy files, FILE.npz:KEY, or '-' (stdin, for one of them). Plain .npy files are
    memory-mapped and read in blocks, so arrays larger than memory work; stdin and .npz arrays
    are read whole.

    An element is within tolerance when |a - b| <= atol + rtol * |b| (numpy.isclose with B as the
    reference). NaN facing NaN matches, as does the same infinity on both sides; a NaN or an
    infinity on one side only is a mismatch. Error statistics are taken over the elements finite
    on both sides; different dtypes are compared in float64 (with a note).

    The defaults suit float32 outputs of two frameworks: the same RoIAlign computed by two of
    them differs by about 1e-6 relative (summation order), while a different convention moves
    values by percent. rtol 1e-4 leaves a margin of 100 over the first; atol 1e-5 covers outputs
    near zero. A float32 output against a float64 reference differs more (float32 box coordinates
    move the sample points: up to about 5e-3 relative, measured): compare like precisions, or
    loosen --rtol.

    Exit status: 0 when every element is within tolerance, 1 when they differ (a shape mismatch
    included), 2 on an error. For example:

    \b
        roialign pool feat.npy rois.npy -o - | roialign diff - reference.npy && echo same
    """
    from .. import arrayio
    from ..compare import compare

    _refuse_conflicts(a, b, quiet, as_json)
    if plot:
        from ..pictures import output_format

        output_format(plot)
        arrayio.check_output_path(plot, [a, b])
    array_a = arrayio.load_array(a, "A", mmap=True)
    array_b = arrayio.load_array(b, "B", mmap=True)
    report = compare(array_a, array_b, atol, rtol, top, squeeze=squeeze)
    if plot:
        _plot(array_a, array_b, squeeze, report, plot, (a, b))
    if as_json:
        payload = report.to_dict()
        payload["a"]["source"], payload["b"]["source"] = a, b
        print_json(payload)
    elif not quiet:
        _print_report(report, a, b, console(stderr=False))
    click.get_current_context().exit(0 if report.matches else 1)


def _plot(array_a, array_b, squeeze: bool, report, out: str, sources) -> None:
    """Draw where A and B differ (the arrays as compared, after any --squeeze)."""
    import numpy as np

    from .. import pictures
    from ..error_map import error_map

    if squeeze:
        array_a, array_b = np.squeeze(array_a), np.squeeze(array_b)
    emap = error_map(array_a, array_b)
    verdict = "match" if report.matches else f"{report.mismatches} of {report.size} elements out of tolerance"
    title = (
        f"A {sources[0]} vs B {sources[1]} (the reference)\n{verdict}; max |a - b| {report.max_abs_error:.3g}; "
        f"within tolerance: |a - b| <= {report.atol:g} + {report.rtol:g} |b|"
    )
    pictures.save(pictures.error_figure(emap, title, report.atol), out, list(sources))


def _refuse_conflicts(a: str, b: str, quiet: bool, as_json: bool) -> None:
    if a == "-" and b == "-":
        raise UserError("only one of A and B can be read from stdin")
    if quiet and as_json:
        raise UserError("--quiet prints nothing and --json prints the report: choose one")


def escape(text: str) -> str:
    """Text shown literally by rich (file names and axis lists may hold [brackets])."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _number(value, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def _side(side, source: str) -> str:
    text = f"{source}  {list(side.shape)} {side.dtype}"
    if side.stored_shape != side.shape:
        text += f" (stored {list(side.stored_shape)})"
    return escape(text)


def _print_report(report, source_a: str, source_b: str, out) -> None:
    from rich.table import Table

    table = Table(title="roialign diff", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("A", _side(report.a, source_a))
    table.add_row("B (reference)", _side(report.b, source_b))
    if report.verdict != "shape-mismatch":
        _add_statistics(table, report)
    for note in report.notes:
        table.add_row("note", escape(note))
    out.print(table)
    if report.verdict != "shape-mismatch":
        _print_worst(report, out)
    out.print(_verdict(report, source_a, source_b))


def _add_statistics(table, report) -> None:
    table.add_row("tolerance", f"|a-b| <= {report.atol:g} + {report.rtol:g} * |b|")
    table.add_row(
        "within tolerance",
        f"{_number(report.within_tolerance_fraction * 100, '.4f')}% "
        f"({report.within_tolerance} of {report.size}; {report.mismatches} out)",
    )
    table.add_row("max abs error", _number(report.max_abs_error, ".4e"))
    table.add_row("mean abs error", _number(report.mean_abs_error, ".4e"))
    table.add_row("RMSE", _number(report.rmse, ".4e"))
    table.add_row("max rel error", _number(report.max_rel_error, ".4e") + "  (where b != 0)")
    table.add_row("cosine similarity", _number(report.cosine_similarity, ".9f"))
    sides = (("A", report.a), ("B", report.b))
    if not any(side.nan or side.posinf or side.neginf for _, side in sides):
        table.add_row("NaN / inf", "none on either side")
        return
    for name, side in sides:
        table.add_row(f"non-finite in {name}", f"{side.nan} NaN, {side.posinf} +inf, {side.neginf} -inf")
    table.add_row("NaN on one side", f"{report.nan_only_in_a} only in A, {report.nan_only_in_b} only in B")
    table.add_row("non-finite mismatches", str(report.nonfinite_mismatches))


def _print_worst(report, out) -> None:
    from rich.table import Table

    _print_worst_indices(report, out)
    if report.worst_elements:
        table = Table(title="worst elements", title_justify="left")
        for column in (_index_header(report), "A", "B", "|a-b|"):
            table.add_column(column, justify="right")
        for element in report.worst_elements:
            table.add_row(
                str(list(element.index)),
                _number(element.a, ".7g"),
                _number(element.b, ".7g"),
                _number(element.abs_error, ".4e"),
            )
        out.print(table)
    if report.one_sided_nans:
        table = Table(title=f"NaN on one side only (first {len(report.one_sided_nans)})", title_justify="left")
        table.add_column(_index_header(report), justify="right")
        table.add_column("NaN in")
        for entry in report.one_sided_nans:
            table.add_row(str(list(entry.index)), entry.nan_in.upper())
        out.print(table)


def _print_worst_indices(report, out) -> None:
    """The worst rois and channels (or indices along the first two axes)."""
    from rich.table import Table

    named = report.axes[:2] == ("roi", "channel")
    for axis, entries in enumerate((report.worst_axis0, report.worst_axis1)):
        if not entries:
            continue
        label = report.axes[axis] if named else f"index (axis {axis})"
        table = Table(
            title=f"worst {label}s" if named else f"worst along axis {axis}",
            title_justify="left",
            caption=_RANKING if report.nonfinite_mismatches else None,
            caption_justify="left",
        )
        for column in (label, "max |a-b|", "out of tol.", "non-finite"):
            table.add_column(column, justify="right")
        for entry in entries:
            table.add_row(
                str(entry.index),
                _number(entry.max_abs_error, ".4e"),
                str(entry.mismatches),
                str(entry.nonfinite_mismatches),
            )
        out.print(table)


_RANKING = "ranked by max |a-b|; a NaN or inf on one side only ranks first"


def _index_header(report) -> str:
    return escape(f"index [{', '.join(report.axes)}]")


def _verdict(report, source_a: str, source_b: str) -> str:
    if report.verdict == "shape-mismatch":
        return (
            f"[bold red]shape mismatch[/]: A {list(report.a.shape)} ({escape(source_a)}) vs "
            f"B {list(report.b.shape)} ({escape(source_b)})"
        )
    if report.matches:
        return f"[bold green]match[/]: all {report.size} elements within tolerance"
    return f"[bold red]differ[/]: {report.mismatches} of {report.size} elements out of tolerance"
