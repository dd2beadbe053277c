"""The `roialign` command line. Commands only parse and print; the work lives in the library.

Each command's module is imported only when that command runs (`OneLineGroup`'s lazy commands), and
imports NumPy inside its functions, so `roialign --help` and `roialign presets` start without it.
"""

import click

from .. import __version__
from .group import OneLineGroup

# command name -> "module:function" under roialign_cli.cli
COMMANDS = {
    "pool": "pool:pool",
    "grad": "grad:grad",
    "convert": "convert:convert",
    "diff": "diff:diff",
    "explain": "explain:explain",
    "levels": "levels:levels",
    "presets": "presets:presets",
    "show": "show:show",
    "info": "info:info",
    "onnx": "onnx:onnx_command",
}


@click.group(cls=OneLineGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roialign")
def main():
    """RoIAlign, reproducible across Caffe, PyTorch, ONNX Runtime, TensorRT, OpenVINO and TensorFlow."""
