"""`roialign pool FEATURES ROIS`: run RoIAlign over .npy files."""

from __future__ import annotations

import sys
import time

import click

from ..engines import BACKENDS
from .common import UserError, console, note, parse_scale, print_json, reports_errors, warn


def pool_options(command):
    """The options `pool` shares with `grad`: the convention, scale, engine, image size and --json."""
    options = [
        click.option("--spatial-scale", default="1", show_default=True,
                     help="Feature pixels per box unit, e.g. 0.125 or 1/8 for stride 8."),
        click.option("--sampling-ratio", type=int, default=-1, show_default=True,
                     help="Samples per bin and axis: -1 the preset's own, 0 adaptive, n fixed."),
        click.option("--aligned/--no-aligned", default=None, help="Half-pixel offset (torchvision aligned=True). "
                     "Default: the preset's own; without a preset, --no-aligned."),
        click.option("--mode", type=click.Choice(["avg", "max"]), default=None,
                     help="Pooling; 'max' is the preset's own kind of max. Default: the preset's own."),
        click.option("--preset", metavar="NAME", help="A framework's convention (see `roialign presets`)."),
        click.option("--option", "option_items", multiple=True, metavar="NAME=VALUE",
                     help="One of the preset's own options, e.g. coordinate_transformation_mode=output_half_pixel "
                     "(see `roialign presets NAME`); repeatable."),
        click.option("--switch", "switch_items", multiple=True, metavar="NAME=VALUE",
                     help="Set any convention switch last, e.g. coordinates=relative-feature or border=clamp "
                     "(the switches are listed by `roialign presets NAME`); repeatable."),
        click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True),
        click.option("--image-size", metavar="WxH",
                     help="Input image size: relative (0..1) boxes are multiplied by it."),
        click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary on stdout."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def read_setup(spatial_scale, sampling_ratio, aligned, mode, preset, option_items, switch_items) -> dict:
    """The convention and scale that the options ask for: {'convention', 'options', 'scale'}."""
    from ..conventions import with_switches
    from ..presets import resolve
    from .presets import parse_option_items

    scale = parse_scale(spatial_scale)
    options = parse_option_items(option_items)
    convention = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=options)
    return {"convention": with_switches(convention, switch_items), "options": options, "scale": scale}


def read_rois(path: str, image_size, convention, scale: float):
    """The rois file as parsed rois and the [K, 5] array the engines take, scaled to the image size
    if one is given; a warning when the boxes look relative but are read as absolute pixels."""
    from .. import arrayio, boxes

    parsed = boxes.parse_rois(arrayio.load_array(path, "rois"))
    rois = parsed.rois
    if image_size:
        rois = boxes.scale_relative(rois, boxes.parse_size(image_size, "image size"))
    elif convention.coordinates == "absolute" and boxes.looks_relative(rois[:, 1:5]):
        warn(
            f"every roi coordinate lies in [0, 1]: these look like relative boxes, but they are read as absolute "
            f"pixels x spatial scale {scale:g}, so each box covers less than one feature pixel. "
            "Pass --image-size WxH to scale them to image pixels, or use a preset that reads relative boxes "
            "(caffe-ssd-roialign reads them x the feature size)."
        )
    return parsed, rois


def output_target(output, as_json, inputs) -> str | None:
    """Where the array goes: -o, else stdout when it is a pipe (and --json does not take it)."""
    from .. import arrayio

    if output is None and not sys.stdout.isatty() and not as_json:
        output = "-"
    if output == "-" and as_json:
        raise UserError("--json prints on stdout, which -o - already fills with the array; give -o FILE")
    if [path for _, path in inputs].count("-") > 1:
        names = [name for name, _ in inputs]
        raise UserError(f"only one of {', '.join(names[:-1])} and {names[-1]} can be read from stdin")
    if output is not None:
        arrayio.check_output_path(output, [path for _, path in inputs])
    return output


@click.command()
@click.argument("features")
@click.argument("rois")
@click.option("-o", "--output", metavar="OUT", help="Write the pooled array here (.npy); '-' for stdout. "
              "Without it the array goes to stdout when stdout is a pipe, and nowhere otherwise.")
@click.option("--output-size", default="7", show_default=True, help="Pooled size: 7, or HxW such as 7x7.")
@pool_options
@reports_errors
def pool(features, rois, output, output_size, backend, image_size, as_json, **convention_options):
    """RoIAlign of FEATURES [N,C,H,W] over ROIS, both .npy files ('-' reads stdin).

    ROIS may be [K,5] (batch, x1, y1, x2, y2), [K,4] (x1, y1, x2, y2; batch 0), or SSD
    DetectionOutput rows [K,7] / [1,1,K,7] (batch, label, score, x1, y1, x2, y2), whose padding
    rows (batch -1) are dropped.
    """
    from .. import api, arrayio, boxes

    output = output_target(output, as_json, [("FEATURES", features), ("ROIS", rois)])
    size = boxes.parse_size(output_size, "output size")
    setup = read_setup(**convention_options)
    feature_array = arrayio.load_array(features, "features")
    parsed, roi_array = read_rois(rois, image_size, setup["convention"], setup["scale"])

    started = time.perf_counter()
    result, choice = api.pool(feature_array, roi_array, size, setup["scale"], setup["convention"], backend)
    elapsed = time.perf_counter() - started
    if choice.note and backend == "auto":
        note(choice.note)
    if output is not None:
        arrayio.save_array(output, result, inputs=[features, rois])
    summary = summary_of(feature_array, parsed, result, output, size, setup, convention_options["preset"], choice)
    report(summary | {"seconds": round(elapsed, 6)}, as_json, "roialign pool", output)


def summary_of(features, parsed, result, output, size, setup, preset, choice) -> dict:
    return {
        "features": {"shape": list(features.shape), "dtype": str(features.dtype)},
        "rois": {"count": len(parsed.rois), "read_as": parsed.layout, "padding_rows_dropped": parsed.dropped},
        "output": {"shape": list(result.shape), "dtype": str(result.dtype), "path": output},
        "preset": preset,
        "options": setup["options"],
        "convention": setup["convention"].switches(),
        "output_size": list(size),
        "spatial_scale": setup["scale"],
        "backend": choice.name,
    }


def report(summary: dict, as_json: bool, title: str, output) -> None:
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary, title, console(stderr=output == "-"))


def _print_summary(summary, title: str, out) -> None:
    from rich.table import Table

    from ..conventions import format_value

    table = Table(title=title, show_header=False, title_justify="left")
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
    deterministic = " (deterministic)" if summary.get("deterministic") else ""
    table.add_row("backend", f"{summary['backend']}{deterministic} in {summary['seconds'] * 1000:.1f} ms")
    out.print(table)
