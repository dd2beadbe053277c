"""Option values written as text: sizes ('7', '7x7', '576x192') and scales ('0.125', '1/8').

Pure Python, so that commands that only print (`roialign presets`) parse them without NumPy.
"""

from __future__ import annotations

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
