"""`roialign presets [NAME]`: the registry of framework conventions, as a table or one in detail.

Everything shown is generated from `roialign_cli.presets`; nothing here imports NumPy.
"""

from __future__ import annotations

import math

import click

from .common import UserError, console, parse_scale, print_json, reports_errors


def parse_option_items(items) -> dict[str, str]:
    """('name=value', ...) from repeated --option flags -> {name: value}."""
    chosen: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise UserError(f"--option takes NAME=VALUE (e.g. coordinate_transformation_mode=half_pixel), not {item!r}")
        if name in chosen:
            raise UserError(f"--option {name} is given twice")
        chosen[name] = value
    return chosen


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the registry (or one preset) as JSON on stdout.")
@click.option("--output-size", default="7", show_default=True, help="Output size for the equivalent calls: 7 or HxW.")
@click.option("--spatial-scale", default="1/16", show_default=True, help="Spatial scale for the equivalent calls.")
@click.option("--sampling-ratio", type=int, default=-1, show_default=True,
              help="With NAME: -1 the preset's own, 0 adaptive, n fixed.")
@click.option("--aligned/--no-aligned", default=None, help="With NAME: the half-pixel or the legacy model.")
@click.option("--mode", type=click.Choice(["avg", "max"]), default=None, help="With NAME: the preset's avg or max.")
@click.option("--option", "option_items", multiple=True, metavar="NAME=VALUE",
              help="With NAME: one of the preset's own options; repeatable.")
@reports_errors
def presets(name, as_json, output_size, spatial_scale, sampling_ratio, aligned, mode, option_items):
    """The presets: every framework convention roialign reproduces, with its switches, options,
    max mode, traps, the equivalent call in the framework itself, and a train-ready PyTorch call
    (torchvision's, or roialign_cli.torch.RoIAlign where no torchvision call computes it).

    Without NAME, a table of all presets; with NAME (or an alias), that preset in detail. The
    equivalent calls are written for --output-size and --spatial-scale; with NAME, --sampling-ratio,
    --aligned, --mode and --option change the convention as they do for `roialign pool`.
    """
    from .. import presets as registry
    from ..sizes import parse_size
    from ..equivalents import CallSpec

    ph, pw = parse_size(output_size, "output size")
    spec = CallSpec(output_size=(ph, pw), spatial_scale=parse_scale(spatial_scale))
    changes = dict(aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=parse_option_items(option_items))
    if name is None:
        if aligned is not None or sampling_ratio != -1 or mode or option_items:
            raise UserError("--sampling-ratio, --aligned, --mode and --option need a preset NAME")
        described = [_describe(p, p.convention, spec) for p in registry.PRESETS]
        if as_json:
            print_json({"call": _spec_json(spec), "presets": described})
        else:
            _print_table(described, spec)
        return
    preset = registry.get(name)
    described = _describe(preset, registry.resolve(preset.name, **changes), spec, changes["options"])
    if as_json:
        print_json({"call": _spec_json(spec), **described})
    else:
        _print_detail(described, spec)


def _json_number(value):
    """JSON has no NaN or infinity: those switch values travel as the strings 'nan', 'inf', '-inf'."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _describe(preset, convention, spec, options=None) -> dict:
    from ..equivalents import pytorch_call

    return {
        "name": preset.name,
        "aliases": list(preset.aliases),
        "reproduces": preset.reproduces,
        "source": preset.source,
        "switches": {k: _json_number(v) for k, v in convention.switches().items()},
        "max_mode": None if preset.max_mode is None else {k: _json_number(v) for k, v in preset.max_mode.items()},
        "options": [
            {
                "name": o.name,
                "doc": o.doc,
                "default": o.default,
                "values": {v: {k: _json_number(x) for k, x in c.items()} for v, c in o.values.items()},
                "number_switch": o.number_switch,
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
    return "a number" if option["number_switch"] else " | ".join(option["values"])


def _options_text(options: list) -> str:
    return "\n".join(f"{o['name']}: {_choices(o)} (default {o['default']})" for o in options)


def _print_table(described: list, spec) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=f"roialign presets: calls for output {spec.output_size[0]}x{spec.output_size[1]}, spatial scale "
        f"{spec.spatial_scale:g} (`roialign presets NAME` shows one in detail)",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("preset", no_wrap=True)
    table.add_column("switches, max mode, options and the equivalent call", overflow="fold")
    for p in described:
        name = f"[bold]{p['name']}[/bold]" + "".join(f"\n[dim]= {alias}[/dim]" for alias in p["aliases"])
        lines = [
            ("switches", _switches_text(p["switches"])),
            ("max mode", _switches_text(p["max_mode"]) if p["max_mode"] else "none"),
            *(("option", text) for text in _options_text(p["options"]).splitlines()),
            ("call", p["equivalent"]),
            ("pytorch", p["pytorch"]),
        ]
        table.add_row(name, "\n".join(f"[bold]{label}:[/bold] {escape(text)}" for label, text in lines))
    console(stderr=False).print(table)


def _print_detail(p: dict, spec) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..conventions import format_value, switch_doc

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
    out.print(f"[bold]equivalent call[/bold] (output {size}, spatial scale {spec.spatial_scale:g}):")
    out.print(f"  {escape(p['equivalent'])}", soft_wrap=True)
    out.print("[bold]in PyTorch, with gradients[/bold] (train-ready):")
    out.print(f"  {escape(p['pytorch'])}", soft_wrap=True)
