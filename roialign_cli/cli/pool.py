"""`roialign pool FEATURES ROIS`: run RoIAlign over .npy files."""

from __future__ import annotations

import time

import click

from .common import UserError, note, print_json, reports_errors, warn
from .options import convention_options, json_option, output_destination, output_option
from .values import parse_size


@click.command()
@click.argument("features")
@click.argument("rois")
@output_option(
    "Write the pooled array here (.npy); '-' for stdout. "
    "Without it the array goes to stdout when stdout is a pipe, and nowhere otherwise."
)
@convention_options()
@click.option(
    "--level-mapper",
    metavar="NAME",
    help="With a pyramid (FEATURES an .npz of maps or a,b,c.npy): "
    "the framework's rule that picks each roi's level (default torchvision; `roialign presets` lists them).",
)
@json_option()
@reports_errors
def pool(features, rois, output, call, level_mapper, as_json):
    """RoIAlign of FEATURES [N,C,H,W] (or [N,H,W,C] with --layout nhwc) over ROIS, both .npy files
    ('-' reads stdin). The output is [K,C,PH,PW], or [K,PH,PW,C] with --layout nhwc.

    ROIS may be [K,5] (batch, x1, y1, x2, y2), [K,4] (x1, y1, x2, y2; batch 0), or SSD
    DetectionOutput rows [K,7] / [1,1,K,7] (batch, label, score, x1, y1, x2, y2), whose padding
    rows (batch -1) are dropped.

    FEATURES may be a pyramid: an .npz holding one map per level (finest first) or p2.npy,p3.npy,...;
    each roi is pooled from the level --level-mapper picks, with --spatial-scale 1/4,1/8,... or the
    scales inferred from --image-size as torchvision does, and the output keeps the rois' order.
    """
    from .. import arrayio
    from ..pyramid_files import pyramid_specs

    if features == "-" and rois == "-":
        raise UserError("only one of FEATURES and ROIS can be read from stdin")
    output = output_destination(output, as_json, "the array")
    size, options = call.size(), call.options()  # options first: a bad one fails before any file is read
    convention = call.convention()
    pyramid = pyramid_specs(features)
    if pyramid:
        from .pool_pyramid import pool_pyramid_command

        return pool_pyramid_command(pyramid, rois, output, size, call, convention, options, level_mapper, as_json)
    if level_mapper:
        raise UserError("--level-mapper needs a pyramid: FEATURES an .npz of maps or a comma-separated list of .npy")
    scale = call.scale()
    if output is not None:
        arrayio.check_output_path(output, [features, rois])
    feature_array = arrayio.load_array(features, "features")
    parsed, relative = read_rois(rois, call.image_size, convention, scale)
    result, choice, elapsed = timed_pool(feature_array, parsed.boxes, size, scale, convention, call)
    if output is not None:
        arrayio.save_array(output, result, inputs=[features, rois])
    tell(relative, choice, call.backend)  # once the output is in place, so that a failure is one line
    summary = summary_of(feature_array, parsed, result, output, call, convention, size, scale, choice.name, elapsed)
    report(summary, as_json, output, "roialign pool")


def summary_of(features, parsed, result, output, call, convention, size, scale, backend, elapsed) -> dict:
    """What `pool` (and `grad`) print: the inputs, the output, the convention and the engine."""
    return {
        "features": {"shape": list(features.shape), "dtype": str(features.dtype), "layout": call.layout},
        "rois": {"count": len(parsed.boxes), "read_as": parsed.layout, "padding_rows_dropped": parsed.dropped},
        "output": {"shape": list(result.shape), "dtype": str(result.dtype), "path": output},
        "preset": call.preset, "options": call.options(), "convention": convention.switches(),
        "output_size": list(size), "spatial_scale": scale, "backend": backend, "seconds": round(elapsed, 6),
    }  # fmt: skip


def report(summary: dict, as_json: bool, output, title: str) -> None:
    """The summary as JSON on stdout, or as a table on stderr when stdout carries the array."""
    from .. import arrayio

    if as_json:
        print_json(summary)
    else:
        print_summary(summary, err=output is not None and arrayio.is_stdout(output), title=title)


def timed_pool(features, roi_boxes, size, scale, convention, call):
    """api.pool, with the seconds it took."""
    from .. import api

    started = time.perf_counter()
    result, choice = api.pool(features, roi_boxes, size, scale, convention, call.backend, call.layout)
    return result, choice, time.perf_counter() - started


def tell(relative_warning: str | None, choice, backend: str) -> None:
    """The warning about relative-looking boxes, and why `auto` did not take the GPU."""
    if relative_warning:
        warn(relative_warning)
    if choice.note and backend == "auto":
        note(choice.note)


def read_rois(path: str, image_size: str | None, convention, scale):
    """The rois as parsed Boxes in absolute coordinates: relative ones x --image-size, else as given; and
    a warning (to print once the work is done) when they look relative but the convention reads pixels."""
    from .. import arrayio, boxes
    from ..coordinates import Frame

    parsed = boxes.parse_rois(arrayio.load_array(path, "rois"), "relative" if image_size else "absolute")
    if image_size:
        frame = Frame(image_size=parse_size(image_size, "image size"))
        return parsed._replace(boxes=parsed.boxes.to_space("absolute", frame)), None
    return parsed, _relative_warning(parsed.boxes, scale) if convention.coordinates == "absolute" else None


def _relative_warning(roi_boxes, scale) -> str | None:
    from ..boxes import relative_warning
    from ..equivalents import scale_text

    return relative_warning(
        roi_boxes,
        f"absolute pixels x spatial scale {scale_text(scale)}",
        ", so each box covers less than one feature pixel. Pass --image-size WxH to scale them to image pixels, "
        "or use a preset that reads relative boxes (caffe-ssd-roialign reads them x the feature size).",
    )


def print_summary(summary, err: bool, title: str = "roialign pool") -> None:
    """The summary as aligned `name  value` lines: plain text, since rich's import would weigh on every
    `pool` start (BENCHMARKS.md, start-up)."""
    from ..conventions import format_value
    from ..equivalents import scale_text

    f, r, o = summary["features"], summary["rois"], summary["output"]
    dropped = f", {r['padding_rows_dropped']} padding rows dropped" if r["padding_rows_dropped"] else ""
    options = "".join(f", {k}={v}" for k, v in summary["options"].items())
    height, width = summary["output_size"]
    rows = {
        "features": f"{f['shape']} {f['dtype']} {f['layout'].upper()}",
        "rois": f"{r['count']} read as {r['read_as']}{dropped}",
        "output": f"{o['shape']} {o['dtype']} -> {o['path'] or '(not written: give -o OUT)'}",
        "preset": (summary["preset"] or "(none: torchvision semantics)") + options,
        "scale / size": f"{scale_text(summary['spatial_scale'])} / {height}x{width}",
        "switches": ", ".join(f"{k}={format_value(v)}" for k, v in summary["convention"].items()),
        "backend": f"{summary['backend']} in {summary['seconds'] * 1000:.1f} ms",
    }
    click.echo(title, err=err)
    for name, value in rows.items():
        click.echo(f"  {name:<13} {value}", err=err)
