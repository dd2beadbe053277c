"""Option values written as text: sizes ('7', '7x7', '576x192'), scales ('0.125', '1/8', per axis '1/2,1',
per pyramid level '1/4,1/8,1/16') and sampling ratios ('2', per axis '0,4').

Pure Python, so that commands that only print (`roialign presets`) parse them without NumPy.
"""

from __future__ import annotations

import click

from .common import UserError


def parse_size(text: str, what: str = "size") -> tuple[int, int]:
    """'576x192' -> (576, 192), in the order written (an image size is WxH, an output size HxW); '7' -> (7, 7)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise UserError(f"{what} must look like 7 or 7x7, not {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise UserError(f"{what} must be one or two positive integers like 7 or 7x7, not {text!r}")
    return values


def parse_scale(text: str) -> float:
    """'0.125' or '1/8' -> 0.125."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise UserError(f"spatial scale must be a number like 0.125 or 1/8, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise UserError(f"spatial scale must be positive and finite, not {text!r}")
    return value


def parse_scales(text: str) -> list[float]:
    """'1/4,1/8,1/16' -> [0.25, 0.125, 0.0625]: one scale per pyramid level."""
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise UserError(f"spatial scales must be a comma-separated list like 1/4,1/8,1/16, not {text!r}")
    return [parse_scale(part) for part in parts]


def parse_axis_scales(text: str):
    """'1/8' -> 0.125; 'Y,X' (height first, as --output-size) such as '1/2,1' -> (0.5, 1.0)."""
    parts = text.split(",")
    if len(parts) > 2:
        raise UserError(f"spatial scale must be one number or a pair Y,X such as 1/2,1, not {text!r}")
    values = tuple(parse_scale(p.strip()) for p in parts)
    return values[0] if len(values) == 1 else values


def parse_sampling_ratio(text: str):
    """'-1', '0', '2' -> that int; 'Y,X' such as '0,4' -> (0, 4) (-1 on an axis: the preset's own)."""
    try:
        values = tuple(int(p) for p in str(text).split(","))
    except ValueError:
        values = ()
    if len(values) not in (1, 2) or min(values) < -1:
        raise UserError(f"must be -1, 0, n > 0 or a pair Y,X of those such as 0,4, not {text!r}")
    return values[0] if len(values) == 1 else values


class SamplingRatio(click.ParamType):
    """--sampling-ratio: N or Y,X (see `parse_sampling_ratio`); a bad value is a usage error."""

    name = "N|Y,X"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return parse_sampling_ratio(value)
        except UserError as exc:
            self.fail(exc.message, param, ctx)
