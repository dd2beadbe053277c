"""The `roialign` command line. Commands only parse and print; the work lives in the library.

Subcommand modules import NumPy inside their functions, so `roialign --help` and
`roialign presets` start without it.
"""

import click

from .. import __version__
from .convert import convert
from .diff import diff
from .explain import explain
from .grad import grad
from .group import OneLineGroup
from .info import info
from .levels import levels
from .onnx import onnx_command
from .pool import pool
from .presets import presets
from .show import show


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roialign")
def main():
    """RoIAlign, reproducible across Caffe, PyTorch, ONNX Runtime, TensorRT, OpenVINO and TensorFlow."""


main.add_command(pool)
main.add_command(grad)
main.add_command(convert)
main.add_command(diff)
main.add_command(explain)
main.add_command(levels)
main.add_command(presets)
main.add_command(show)
main.add_command(info)
main.add_command(onnx_command)
