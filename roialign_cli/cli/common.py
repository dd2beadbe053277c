"""What every command shares: one-line errors with exit code 2, consoles, --option items, JSON."""

from __future__ import annotations

import functools
import json
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


def parse_scales(text: str):
    """'1/8' -> 0.125; 'Y,X' (height first, as --output-size) such as '1/2,1' -> (0.5, 1.0)."""
    parts = text.split(",")
    if len(parts) > 2:
        raise UserError(f"spatial scale must be one number or a pair Y,X such as 1/2,1, not {text!r}")
    values = tuple(parse_scale(p.strip()) for p in parts)
    return values[0] if len(values) == 1 else values


def parse_sampling_ratio(text: str):
    """'-1', '0', '2' -> that int; 'Y,X' such as '0,4' -> (0, 4) (-1 on an axis: the preset's own)."""
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in (1, 2) or min(values) < -1:
        raise UserError(f"sampling ratio must be -1, 0, n > 0 or a pair Y,X of those such as 0,4, not {text!r}")
    return values[0] if len(values) == 1 else values


def print_json(payload) -> None:
    """Every `--json`: strict JSON on stdout (README, "JSON output"). NumPy values become plain numbers and lists;
    a NaN or an infinity, which JSON cannot hold, becomes the string "nan", "inf" or "-inf" (what Python's
    float() reads back), so that it stays apart from null, which means "none" (no value, or a switch that is off).
    """
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
