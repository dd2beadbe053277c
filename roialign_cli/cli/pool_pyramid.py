"""`roialign pool` over a feature pyramid: FEATURES an .npz of maps or a list of .npy files."""

from __future__ import annotations

import time

import click

from .common import UserError, console, note, print_json, warn
from .values import parse_size


def scales_given(ctx: click.Context) -> bool:
    return ctx.get_parameter_source("spatial_scale") is not click.core.ParameterSource.DEFAULT


def pool_pyramid_command(specs, rois, output, size, call, convention, options, level_mapper, as_json) -> None:
    """Load the maps and the rois, pool, write, and print the summary (`call`: pool's convention options)."""
    from .. import arrayio, boxes
    from ..pyramid import pool_pyramid
    from ..pyramid_files import load_pyramid
    from .values import parse_scales

    if output is not None:
        arrayio.check_output_path(output, [*specs, rois])
    backend = call.backend
    scales = parse_scales(call.spatial_scale) if scales_given(click.get_current_context()) else None
    image = parse_size(call.image_size, "image size") if call.image_size else None
    if scales is None and image is None:
        raise UserError("a pyramid needs --spatial-scale 1/4,1/8,... (one per map) or --image-size WxH to infer them")
    maps = load_pyramid(specs)
    parsed = boxes.parse_rois(arrayio.load_array(rois, "rois"))
    roi_array = _pixel_boxes(parsed.rois, image, convention)
    started = time.perf_counter()
    result = pool_pyramid(
        maps,
        roi_array,
        size,
        convention,
        mapper=level_mapper or "torchvision",
        image_size=image,
        spatial_scales=scales,
        backend=backend,
    )
    elapsed = time.perf_counter() - started
    if result.note and backend == "auto":
        note(result.note)
    if output is not None:
        arrayio.save_array(output, result.output, inputs=[*specs, rois])
    summary = _summary(result, maps, parsed, output, call.preset, options, convention, size, elapsed)
    if as_json:
        print_json(summary)
    else:
        _print(summary, console(stderr=output == "-"))


def _pixel_boxes(rois, image, convention):
    """Relative boxes x the image size (the mappers measure boxes in input pixels)."""
    from .. import boxes

    if not boxes.looks_relative(rois[:, 1:5]) or convention.coordinates != "absolute":
        return rois
    if image is not None:
        note("every roi coordinate lies in [0, 1]: read as relative boxes and multiplied by --image-size")
        return boxes.scale_relative(rois, image)
    warn(
        "every roi coordinate lies in [0, 1]: these look like relative boxes, but they are read as absolute "
        "pixels, so every box goes to the finest level. Pass --image-size WxH to scale them to image pixels."
    )
    return rois


def _summary(result, maps, parsed, output, preset, options, convention, size, elapsed) -> dict:
    from ..level_comparison import pyramid_level_numbers

    levels = pyramid_level_numbers(result.levels, result.pyramid)
    names = result.pyramid.level_names()
    return {
        "features": [{"shape": list(m.shape), "dtype": str(m.dtype)} for m in maps],
        "rois": {"count": len(parsed.rois), "read_as": parsed.layout, "padding_rows_dropped": parsed.dropped},
        "output": {"shape": list(result.output.shape), "dtype": str(result.output.dtype), "path": output},
        "preset": preset,
        "options": options,
        "convention": convention.switches(),
        "output_size": list(size),
        "level_mapper": result.mapper.name,
        "spatial_scales": list(result.pyramid.scales),
        "rois_per_level": {name: int((result.levels == i).sum()) for i, name in enumerate(names)}
        | ({"none": int((result.levels < 0).sum())} if (result.levels < 0).any() else {}),
        "levels": levels,
        "backend": result.backend,
        "seconds": round(elapsed, 6),
    }


def _print(summary, out) -> None:
    from rich.table import Table

    from ..conventions import format_value

    table = Table(title="roialign pool (pyramid)", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    maps = ", ".join(f"{f['shape']}" for f in summary["features"])
    table.add_row("features", f"{maps} {summary['features'][0]['dtype']}")
    table.add_row("rois", f"{summary['rois']['count']} read as {summary['rois']['read_as']}")
    o = summary["output"]
    table.add_row("output", f"{o['shape']} {o['dtype']} -> {o['path'] or '(not written: give -o OUT)'}")
    table.add_row("level mapper", summary["level_mapper"])
    table.add_row("spatial scales", ", ".join(f"{s:g}" for s in summary["spatial_scales"]))
    table.add_row("rois per level", ", ".join(f"{k} {v}" for k, v in summary["rois_per_level"].items()))
    options = "".join(f", {k}={v}" for k, v in summary["options"].items())
    table.add_row("preset", (summary["preset"] or "(none: torchvision semantics)") + options)
    table.add_row("switches", ", ".join(f"{k}={format_value(v)}" for k, v in summary["convention"].items()))
    table.add_row("backend", f"{summary['backend']} in {summary['seconds'] * 1000:.1f} ms")
    out.print(table)
