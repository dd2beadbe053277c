"""What every command shares: one-line errors with exit code 2, consoles, --option items, JSON."""

from __future__ import annotations

import functools
import math
import sys

import click

from ..errors import RoiAlignError


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = 2


def reports_errors(command):
    """Turn the library's user errors into one-line CLI errors (never a traceback)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RoiAlignError as exc:
            raise UserError(str(exc)) from None
        except MemoryError:
            raise UserError("out of memory: the arrays are too large for this machine") from None
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (e.g. `| head`): nothing more to say
            raise SystemExit(1) from None

    return wrapper


def console(stderr: bool):
    """A rich console; on stderr when stdout carries data."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


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


def print_json(payload) -> None:
    """Every `--json`: strict JSON on stdout (README, "JSON output"). NumPy values become plain numbers and lists;
    a NaN or an infinity, which JSON cannot hold, becomes the string "nan", "inf" or "-inf" (what Python's
    float() reads back), so that it stays apart from null, which means "none" (no value, or a switch that is off).
    """
    import json  # here: most runs print no JSON

    click.echo(json.dumps(_plain(payload), indent=2, allow_nan=False))


def _plain(value):
    """`value` as JSON-ready Python: dicts, lists, str, int, finite floats, bool and None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # 'nan', 'inf', '-inf'
    return value
