"""The level mappers in `roialign presets`: a table after the presets, or one mapper in detail."""

from __future__ import annotations

from .common import console, print_json


def describe(mapper) -> dict:
    return {
        "name": mapper.name,
        "aliases": list(mapper.aliases),
        "reproduces": mapper.reproduces,
        "source": mapper.source,
        "formula": mapper.formula(),
        "levels": mapper.levels_text(),
        "note": mapper.note,
        "fields": {
            "canonical_size": mapper.canonical_size,
            "canonical_level": mapper.canonical_level,
            "eps": mapper.eps,
            "eps_in_log": mapper.eps_in_log,
            "area_plus_one": mapper.area_plus_one,
            "rounding": mapper.rounding,
            "log": mapper.log,
            "level_before_rounding": mapper.level_before_rounding,
            "first_level": mapper.first_level,
            "max_levels": mapper.max_levels,
            "normalized": mapper.normalized,
            "thresholds": mapper.thresholds,
            "clip_to_image": mapper.clip_to_image,
            "empty": mapper.empty,
        },
    }


def all_described() -> list[dict]:
    from ..level_mappers import MAPPERS

    return [describe(m) for m in MAPPERS]


def find(name: str):
    """The mapper called `name` (or an alias), or None."""
    from ..level_mappers import MAPPERS

    return next((m for m in MAPPERS if name == m.name or name in m.aliases), None)


def print_table() -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title="level mappers (FPN): which pyramid level a box is pooled from (`roialign pool "
        "--level-mapper NAME`, `roialign levels`)",
        title_justify="left",
        show_lines=True,
    )
    table.add_column("mapper", no_wrap=True)
    table.add_column("rule, levels and source", overflow="fold")
    for m in all_described():
        name = f"[bold]{m['name']}[/bold]" + "".join(f"\n[dim]= {alias}[/dim]" for alias in m["aliases"])
        lines = [("rule", m["formula"]), ("levels", m["levels"]), ("reproduces", m["reproduces"])]
        lines += [("note", m["note"])] if m["note"] else []
        lines.append(("read from", m["source"]))
        table.add_row(name, "\n".join(f"[bold]{label}:[/bold] {escape(text)}" for label, text in lines))
    console(stderr=False).print(table)


def show(mapper, as_json: bool) -> None:
    from rich.markup import escape

    described = describe(mapper)
    if as_json:
        print_json(described)
        return
    out = console(stderr=False)
    out.print(f"[bold]{mapper.name}[/bold] (level mapper)")
    for label in ("reproduces", "formula", "levels", "note", "source"):
        if described[label]:
            out.print(f"{label}: {escape(described[label])}", soft_wrap=True)
    out.print(", ".join(f"{k}={v}" for k, v in described["fields"].items()), soft_wrap=True)
