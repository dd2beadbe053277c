"""Sizes written as text ('7', '7x7', '576x192'): pure Python, so that commands that only print
(`roialign presets`) can parse them without loading NumPy."""

from __future__ import annotations

from .errors import InputError


def parse_size(text: str, what: str = "size") -> tuple[int, int]:
    """'576x192' -> (576, 192), in the order written (an image size is WxH, an output size HxW); '7' -> (7, 7)."""
    parts = text.lower().replace(",", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise InputError(f"{what} must look like 7 or 7x7, not {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) <= 0:
        raise InputError(f"{what} must be one or two positive integers like 7 or 7x7, not {text!r}")
    return values
