"""`roialign explain` when FEATURES is a pyramid: search the level mappers too."""

from __future__ import annotations

from .common import UserError, console, print_json
from .values import parse_size


def explain_pyramid_command(
    features, specs, rois, reference, *, fmt, image_size, spatial_scale, assume, top, as_json
) -> None:
    from .. import arrayio, boxes
    from ..explain_pyramid import explain_pyramid
    from ..pyramid_files import load_pyramid
    from .explain import _read_rois
    from .values import parse_scales

    if assume:
        raise UserError("--assume compares one map's conventions; with a pyramid, drop it")
    size = parse_size(image_size, "image size") if image_size else None
    scales = parse_scales(spatial_scale) if spatial_scale else None
    if size is None and scales is None:
        raise UserError("a pyramid needs --spatial-scale 1/4,1/8,... (one per map) or --image-size WxH to infer them")
    maps = load_pyramid(specs)
    roi_array = _read_rois(rois, fmt)
    if size is not None and boxes.looks_relative(roi_array[:, 1:5]):
        roi_array = boxes.scale_relative(roi_array, size)
    reference_array = arrayio.load_array(reference, "reference")
    result = explain_pyramid(
        maps, roi_array, reference_array, image_size=size, spatial_scales=scales, top=top, paths=(features, rois)
    )
    if as_json:
        print_json(result.to_dict(top))
    else:
        _print(result, top)
    raise SystemExit(0 if result.matched else 1)


def _print(result, top: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console(stderr=False)
    title = f"roialign explain (pyramid): {result.searched} mapper x convention candidates searched, top {top}"
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("#", "right"),
        ("level mappers", "left"),
        ("preset", "left"),
        ("sampling", "left"),
        ("max err", "right"),
        ("mean err", "right"),
    ):
        table.add_column(column, justify=justify, overflow="fold")
    for rank, r in enumerate(result.to_dict(top)["candidates"], 1):
        table.add_row(
            str(rank),
            escape(", ".join(r["level_mappers"])),
            escape(r["label"]),
            r["sampling"],
            f"{r['max_error']:.3g}",
            f"{r['mean_error']:.3g}",
        )
    out.print(table)
    best = result.best
    verdict = "matches" if result.matched else "is the closest, but does not match"
    mappers = best.group.names
    same = f" (so do {', '.join(mappers[1:])}: they put every roi on the same level)" if len(mappers) > 1 else ""
    out.print(
        f"\n[bold]Best:[/bold] level mapper {escape(mappers[0])}{escape(same)} with "
        f"{escape(best.scored.candidate.label)} {verdict} (max |err| {best.scored.max_error:.3g})."
    )
    out.print("Reproduce it with:")
    out.print(f"  {escape(result.command)}", soft_wrap=True)
    for name, why in result.skipped.items():
        out.print(f"[dim]not tried: {escape(name)}: {escape(why)}[/dim]", soft_wrap=True)
