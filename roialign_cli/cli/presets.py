"""`roialign presets [NAME]`: the registry of framework conventions, as a table or one in detail.

Everything shown is generated from `roialign_cli.presets`; nothing here imports NumPy.
"""

from __future__ import annotations

import click

from . import level_mapper_table as level_mappers
from .common import UserError, console, parse_option_items, print_json, reports_errors
from .options import (
    aligned_option,
    json_option,
    mode_option,
    option_items_option,
    output_size_option,
    sampling_ratio_option,
    spatial_scale_option,
    stacked,
)
from .values import parse_axis_scales, parse_size

# The convention options of `roialign pool`, here changing the preset shown (and the numbers of its calls).
_CALL_OPTIONS = stacked(
    output_size_option("Output size for the equivalent calls: 7 or HxW."),
    spatial_scale_option(
        None,
        "Spatial scale for the equivalent calls (default 1/16, or a preset's stride options); a pair Y,X where the "
        "axes differ.",
    ),
    sampling_ratio_option("With NAME: -1 the preset's own, 0 adaptive, n fixed; a pair Y,X where the axes differ."),
    aligned_option("With NAME: the half-pixel or the legacy model."),
    mode_option("With NAME: the preset's avg or max."),
    option_items_option("With NAME: one of the preset's own options; repeatable."),
)


@click.command()
@click.argument("name", required=False)
@json_option("Print the registry (or one preset) as JSON on stdout.")
@_CALL_OPTIONS
@reports_errors
def presets(name, as_json, output_size, spatial_scale, sampling_ratio, aligned, mode, option_items):
    """The presets: every framework convention roialign reproduces, with its switches, options,
    max mode, traps, the equivalent call in the framework itself, and a train-ready PyTorch call
    (torchvision's, or roialign_cli.torch.RoIAlign where no torchvision call computes it).

    Without NAME, a table of all presets and of the level mappers (FPN); with NAME (or an alias),
    that preset or level mapper in detail. The
    equivalent calls are written for --output-size and --spatial-scale; with NAME, --sampling-ratio,
    --aligned, --mode and --option change the convention as they do for `roialign pool`.
    """
    from .. import presets as registry
    from ..equivalents import CallSpec
    from ..presets import option_scale

    ph, pw = parse_size(output_size, "output size")
    ratio, options = sampling_ratio, parse_option_items(option_items)
    scale = option_scale(name, options, parse_axis_scales(spatial_scale or "1/16"), explicit=spatial_scale is not None)
    spec = CallSpec(output_size=(ph, pw), spatial_scale=scale)
    changes = dict(aligned=aligned, sampling_ratio=ratio, mode=mode, options=options)
    if name is None:
        if aligned is not None or ratio != -1 or mode or option_items:
            raise UserError("--sampling-ratio, --aligned, --mode and --option need a preset NAME")
        described = [_describe(p, p.convention, spec) for p in registry.PRESETS]
        if as_json:
            print_json({"call": _spec_json(spec), "presets": described, "level_mappers": level_mappers.all_described()})
        else:
            _print_table(described, spec)
            level_mappers.print_table()
        return
    if level_mappers.find(name) and name not in registry.names():  # a preset's name wins
        return level_mappers.show(level_mappers.find(name), as_json)
    preset = registry.get(name)
    described = _describe(preset, registry.resolve(preset.name, **changes), spec, changes["options"])
    if as_json:
        print_json({"call": _spec_json(spec), **described})
    else:
        _print_detail(described, spec)


def _describe(preset, convention, spec, options=None) -> dict:
    from ..torch_calls import pytorch_call

    return {
        "name": preset.name,
        "aliases": list(preset.aliases),
        "reproduces": preset.reproduces,
        "source": preset.source,
        "switches": convention.switches(),
        "max_mode": None if preset.max_mode is None else dict(preset.max_mode),
        "options": [
            {
                "name": o.name,
                "doc": o.doc,
                "default": o.default,
                "values": {v: dict(c) for v, c in o.values.items()},
                "number_switch": o.number_switch,
                "axis": None if o.axis is None else "yx"[o.axis],
                "stride_axis": None if o.stride_axis is None else "yx"[o.stride_axis],
            }
            for o in preset.options
        ],
        "traps": [{"key": t.key, "text": t.text} for t in preset.traps],
        "equivalent": preset.equivalent(convention, spec),
        # train-ready in PyTorch: torchvision's call, or roialign's layer where no torchvision call computes it
        "pytorch": pytorch_call(convention, spec, preset.name, tuple((options or {}).items())),
    }


def _spec_json(spec) -> dict:
    return {"output_size": list(spec.output_size), "spatial_scale": spec.spatial_scale}


def _switches_text(switches: dict) -> str:
    from ..conventions import format_value

    return ", ".join(f"{k}={format_value(v)}" for k, v in switches.items())


def _choices(option: dict) -> str:
    if option["stride_axis"]:
        return f"a stride > 0 (spatial scale 1/stride along {option['stride_axis']})"
    if option["axis"]:
        return f"an integer >= 0 (samples along {option['axis']}; 0 adaptive)"
    return "a number" if option["number_switch"] else " | ".join(option["values"])


# The overview shows each preset as its differences from this one: the convention with no offsets or extras.
BASELINE = "caffe2"


def _differences_text(p: dict, baseline: dict) -> str:
    if p["name"] == BASELINE:
        return "(the baseline)"
    from ..conventions import format_value

    theirs = baseline["switches"]
    changed = {k: v for k, v in p["switches"].items() if format_value(v) != format_value(theirs[k])}
    return _switches_text(changed) or "none"


def _print_table(described: list, spec) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..equivalents import scale_text

    baseline = next(p for p in described if p["name"] == BASELINE)
    table = Table(
        title=f"roialign presets: calls for output {spec.output_size[0]}x{spec.output_size[1]}, spatial scale "
        f"{scale_text(spec.spatial_scale)} (`roialign presets NAME` shows one in detail)",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("preset", no_wrap=True)
    table.add_column(f"frameworks it stands for, switches that differ from {BASELINE}, call", overflow="fold")
    for p in described:
        name = f"[bold]{p['name']}[/bold]" + "".join(f"\n[dim]= {alias}[/dim]" for alias in p["aliases"])
        lines = [("for", p["reproduces"]), ("differs", _differences_text(p, baseline)), ("call", p["equivalent"])]
        if p["pytorch"] != p["equivalent"]:  # the train-ready call, where torchvision's is not the one above
            lines.append(("pytorch", p["pytorch"]))
        table.add_row(name, "\n".join(f"[bold]{label}:[/bold] {escape(text)}" for label, text in lines))
    console(stderr=False).print(table)


def _print_detail(p: dict, spec) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..conventions import format_value, switch_doc
    from ..equivalents import scale_text

    out = console(stderr=False)
    aliases = f" (aliases: {', '.join(p['aliases'])})" if p["aliases"] else ""
    out.print(f"[bold]{p['name']}[/bold]{aliases}")
    out.print(f"reproduces: {escape(p['reproduces'])}")
    out.print(f"read from:  {escape(p['source'])}")
    switches = Table(title="switches", title_justify="left")
    switches.add_column("switch", style="bold", no_wrap=True)
    switches.add_column("value", no_wrap=True)
    switches.add_column("meaning")
    for key, value in p["switches"].items():
        switches.add_row(key, format_value(value), escape(switch_doc(key)))
    out.print(switches)
    if p["options"]:
        options = Table(title="options (--option NAME=VALUE)", title_justify="left")
        options.add_column("option", style="bold", no_wrap=True)
        options.add_column("values")
        options.add_column("default", no_wrap=True)
        options.add_column("meaning")
        for o in p["options"]:
            options.add_row(o["name"], escape(_choices(o)), o["default"], escape(o["doc"]))
        out.print(options)
    out.print("max mode (--mode max): " + (_switches_text(p["max_mode"]) if p["max_mode"] else "none"))
    if p["traps"]:
        traps = Table.grid(padding=(0, 1))
        traps.add_column(no_wrap=True)
        traps.add_column()
        for trap in p["traps"]:
            traps.add_row("  -", f"{escape(trap['text'])} [dim]({trap['key']})[/dim]")
        out.print("[bold]traps[/bold]")
        out.print(traps)
    size = f"{spec.output_size[0]}x{spec.output_size[1]}"
    out.print(f"[bold]equivalent call[/bold] (output {size}, spatial scale {scale_text(spec.spatial_scale)}):")
    out.print(f"  {escape(p['equivalent'])}", soft_wrap=True)
    out.print("[bold]in PyTorch, with gradients[/bold] (train-ready):")
    out.print(f"  {escape(p['pytorch'])}", soft_wrap=True)
