"""`roialign pool FEATURES ROIS`: run RoIAlign over .npy files."""

from __future__ import annotations

import sys
import time

import click

from ..engines import BACKENDS
from .common import UserError, console, note, parse_scale, print_json, reports_errors, warn


@click.command()
@click.argument("features")
@click.argument("rois")
@click.option("-o", "--output", metavar="OUT", help="Write the pooled array here (.npy); '-' for stdout. "
              "Without it the array goes to stdout when stdout is a pipe, and nowhere otherwise.")
@click.option("--output-size", default="7", show_default=True, help="Pooled size: 7, or HxW such as 7x7.")
@click.option("--spatial-scale", default="1", show_default=True,
              help="Feature pixels per box unit, e.g. 0.125 or 1/8 for stride 8.")
@click.option("--sampling-ratio", type=int, default=-1, show_default=True,
              help="Samples per bin and axis: -1 the preset's own, 0 adaptive, n fixed.")
@click.option("--aligned/--no-aligned", default=None, help="Half-pixel offset (torchvision aligned=True). "
              "Default: the preset's own; without a preset, --no-aligned.")
@click.option("--mode", type=click.Choice(["avg", "max"]), default=None,
              help="Pooling; 'max' is the preset's own kind of max. Default: the preset's own.")
@click.option("--preset", metavar="NAME", help="A framework's convention (see `roialign presets`).")
@click.option("--option", "option_items", multiple=True, metavar="NAME=VALUE",
              help="One of the preset's own options, e.g. coordinate_transformation_mode=output_half_pixel "
              "(see `roialign presets NAME`); repeatable.")
@click.option("--switch", "switch_items", multiple=True, metavar="NAME=VALUE",
              help="Set any convention switch last, e.g. coordinates=relative-feature or border=clamp "
              "(the switches are listed by `roialign presets NAME`); repeatable.")
@click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)
@click.option("--image-size", metavar="WxH", help="Input image size: relative (0..1) boxes are multiplied by it.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout.")
@reports_errors
def pool(features, rois, output, output_size, spatial_scale, sampling_ratio, aligned, mode, preset, option_items,
         switch_items, backend, image_size, as_json):
    """RoIAlign of FEATURES [N,C,H,W] over ROIS, both .npy files ('-' reads stdin).

    ROIS may be [K,5] (batch, x1, y1, x2, y2), [K,4] (x1, y1, x2, y2; batch 0), or SSD
    DetectionOutput rows [K,7] / [1,1,K,7] (batch, label, score, x1, y1, x2, y2), whose padding
    rows (batch -1) are dropped.
    """
    from .. import api, arrayio, boxes
    from ..conventions import with_switches
    from ..presets import resolve
    from .presets import parse_option_items

    if features == "-" and rois == "-":
        raise UserError("only one of FEATURES and ROIS can be read from stdin")
    if output is None and not sys.stdout.isatty() and not as_json:
        output = "-"
    if output == "-" and as_json:
        raise UserError("--json prints on stdout, which -o - already fills with the array; give -o FILE")
    size = boxes.parse_size(output_size, "output size")
    scale = parse_scale(spatial_scale)
    options = parse_option_items(option_items)
    convention = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=options)
    convention = with_switches(convention, switch_items)
    if output is not None:
        arrayio.check_output_path(output, [features, rois])

    feature_array = arrayio.load_array(features, "features")
    parsed = boxes.parse_rois(arrayio.load_array(rois, "rois"))
    roi_array = parsed.rois
    relative_warning = None
    if image_size:
        roi_array = boxes.scale_relative(roi_array, boxes.parse_size(image_size, "image size"))
    elif convention.coordinates == "absolute" and boxes.looks_relative(roi_array[:, 1:5]):
        relative_warning = (
            f"every roi coordinate lies in [0, 1]: these look like relative boxes, but they are read as absolute "
            f"pixels x spatial scale {scale:g}, so each box covers less than one feature pixel. "
            "Pass --image-size WxH to scale them to image pixels, or use a preset that reads relative boxes "
            "(caffe-ssd-roialign reads them x the feature size)."
        )

    started = time.perf_counter()
    result, choice = api.pool(feature_array, roi_array, size, scale, convention, backend)
    elapsed = time.perf_counter() - started
    if output is not None:
        arrayio.save_array(output, result, inputs=[features, rois])
    # warnings and notes once the output is in place, so that a failure is one line
    if relative_warning:
        warn(relative_warning)
    if choice.note and backend == "auto":
        note(choice.note)

    summary = {
        "features": {"shape": list(feature_array.shape), "dtype": str(feature_array.dtype)},
        "rois": {"count": len(roi_array), "read_as": parsed.layout, "padding_rows_dropped": parsed.dropped},
        "output": {"shape": list(result.shape), "dtype": str(result.dtype), "path": output},
        "preset": preset,
        "options": options,
        "convention": convention.switches(),
        "output_size": list(size),
        "spatial_scale": scale,
        "backend": choice.name,
        "seconds": round(elapsed, 6),
    }
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary, console(stderr=output is not None and arrayio.is_stdout(output)))


def _print_summary(summary, out) -> None:
    from rich.table import Table

    from ..conventions import format_value

    table = Table(title="roialign pool", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    f, r, o = summary["features"], summary["rois"], summary["output"]
    table.add_row("features", f"{f['shape']} {f['dtype']}")
    dropped = f", {r['padding_rows_dropped']} padding rows dropped" if r["padding_rows_dropped"] else ""
    table.add_row("rois", f"{r['count']} read as {r['read_as']}{dropped}")
    table.add_row("output", f"{o['shape']} {o['dtype']} -> {o['path'] or '(not written: give -o OUT)'}")
    options = "".join(f", {k}={v}" for k, v in summary["options"].items())
    table.add_row("preset", (summary["preset"] or "(none: torchvision semantics)") + options)
    table.add_row("scale / size", f"{summary['spatial_scale']:g} / {summary['output_size'][0]}x{summary['output_size'][1]}")
    table.add_row("switches", ", ".join(f"{k}={format_value(v)}" for k, v in summary["convention"].items()))
    table.add_row("backend", f"{summary['backend']} in {summary['seconds'] * 1000:.1f} ms")
    out.print(table)
