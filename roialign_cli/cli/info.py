"""`roialign info`: what this installation can run, and why not where it cannot."""

from __future__ import annotations

import click

from .common import console, print_json, reports_errors
from .options import json_option


@click.command()
@json_option("Print the facts as JSON on stdout.")
@reports_errors
def info(as_json):
    """Versions, whether a GPU is usable (and why not), NVRTC, the kernel cache, and the engine
    `--backend auto` picks."""
    import platform

    import numpy

    from .. import __version__, engines
    from ..engines import cuda_engine
    from ..engines.kernel_source import kernel_path
    from ..errors import BackendUnavailable

    usable, detail = cuda_engine.availability()
    cuda = cuda_engine.describe()
    try:
        source = str(kernel_path(cuda_engine.ROI_ALIGN))
    except BackendUnavailable:
        source = None
    facts = {
        "roialign": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "cupy": cuda["cupy"],
        "cuda_runtime": cuda["cuda_runtime"],
        "cuda_driver": cuda["cuda_driver"],
        "nvrtc": cuda["nvrtc"],
        "gpu": {"usable": usable, "device": detail if usable else None, "reason": None if usable else detail},
        "devices": cuda["devices"],
        "kernel_source": source,
        "kernel_cache": cuda["kernel_cache"],
        "auto_backend": engines.choose("auto").name,
        "warnings": _mismatches(cuda),
    }
    if as_json:
        print_json(facts)
    else:
        _print_table(facts)


def _mismatches(cuda) -> list[str]:
    """Pieces of the CUDA stack that do not belong together."""
    runtime, nvrtc = cuda["cuda_runtime"], cuda["nvrtc"]
    if runtime and nvrtc and runtime.split(".")[0] != nvrtc.split(".")[0]:
        return [
            f"NVRTC {nvrtc} and CuPy's CUDA runtime {runtime} differ in major version: "
            f"the kernels it compiles need a driver for CUDA {nvrtc.split('.')[0]}"
        ]
    return []


def _print_table(facts) -> None:
    from rich.table import Table

    def text(value, missing="not found"):
        return missing if value is None else str(value)

    gpu = facts["gpu"]
    table = Table(title="roialign info", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name in ("roialign", "python", "numpy"):
        table.add_row(name, facts[name])
    table.add_row("cupy", text(facts["cupy"], "not installed"))
    table.add_row("CUDA runtime", text(facts["cuda_runtime"]))
    table.add_row("CUDA driver", text(facts["cuda_driver"], "none (no NVIDIA driver)"))
    table.add_row("NVRTC", text(facts["nvrtc"]))
    table.add_row("GPU", f"usable: {gpu['device']}" if gpu["usable"] else f"not usable: {gpu['reason']}")
    if len(facts["devices"]) > 1:
        table.add_row("devices", "\n".join(facts["devices"]))
    table.add_row("kernel source", text(facts["kernel_source"], "missing from this installation"))
    table.add_row("kernel cache", facts["kernel_cache"])
    table.add_row("--backend auto", facts["auto_backend"])
    for warning in facts["warnings"]:
        table.add_row("warning", warning)
    console(stderr=False).print(table)
