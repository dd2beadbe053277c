"""A feature pyramid on disk: an .npz archive holding one map per level (finest first, in the
archive's order) or a comma-separated list of .npy files (`p2.npy,p3.npy,p4.npy,p5.npy`)."""

from __future__ import annotations

import os

from .errors import InputError


def pyramid_specs(spec: str) -> list[str] | None:
    """The array specs of the pyramid's maps, finest first; None when `spec` names one map
    (a .npy file, `file.npz:key`, stdin, or an archive holding a single array)."""
    if "," in spec:
        parts = [part.strip() for part in spec.split(",")]
        if not all(parts):
            raise InputError(f"features: an empty name in the list {spec!r}")
        if "-" in parts:
            raise InputError("features: a pyramid's maps are files; stdin ('-') cannot be one of them")
        return parts
    if not spec.lower().endswith(".npz") or not os.path.isfile(spec):
        return None
    import zipfile  # here: every `pool` asks, and most give a single .npy

    try:
        with zipfile.ZipFile(spec) as archive:
            names = [n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")]
    except zipfile.BadZipFile:
        return None  # load_array reports what is wrong with it
    return [f"{spec}:{name}" for name in names] if len(names) > 1 else None


def load_pyramid(specs: list[str]) -> list:
    """Every map, through arrayio.load_array (pickles refused)."""
    from . import arrayio

    return [arrayio.load_array(spec, f"feature map {i}") for i, spec in enumerate(specs)]
