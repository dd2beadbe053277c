"""Where the CUDA kernel sources are, from any working directory.

An installed package holds them in `roialign_cli/kernels/` (pyproject maps the top-level `kernels/`
folder there, with the .cu files as package data); a source checkout has them in `kernels/` beside
the package.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BackendUnavailable

_PACKAGE = Path(__file__).resolve().parent.parent
_PLACES = (_PACKAGE / "kernels", _PACKAGE.parent / "kernels")


def kernel_path(name: str) -> Path:
    """The path of kernel file `name` (e.g. 'roi_align.cu')."""
    for folder in _PLACES:
        if (folder / name).is_file():
            return folder / name
    raise BackendUnavailable(
        f"the CUDA kernel {name} is missing from this installation (looked in {', '.join(map(str, _PLACES))})"
    )


def read_kernel(name: str) -> str:
    return kernel_path(name).read_text(encoding="utf-8")
