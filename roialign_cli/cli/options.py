"""Options that several commands share, as decorators (one definition each, like sqlite-utils' output_options).

The convention options pick a convention the way `roialign pool` does; `presets` takes the same ones with
its own help (they change the preset shown). The output options are `-o` and `--json`.
"""

from __future__ import annotations

import dataclasses
import functools
import sys

import click

from ..conventions import LAYOUTS
from ..engines import BACKENDS
from .common import UserError, parse_option_items
from .values import SamplingRatio, parse_axis_scales, parse_size


def stacked(*decorators):
    """One decorator applying `decorators` as if written one above the other, in this order."""

    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def output_size_option(help_text: str, default: str | None = "7"):
    return click.option("--output-size", default=default, show_default=default is not None, help=help_text)


def spatial_scale_option(default: str | None, help_text: str):
    return click.option("--spatial-scale", default=default, show_default=default is not None, metavar="S|Y,X",
                        help=help_text)  # fmt: skip


def sampling_ratio_option(help_text: str):
    return click.option("--sampling-ratio", type=SamplingRatio(), default="-1", show_default=True, help=help_text)


def layout_option(help_text: str):
    return click.option("--layout", type=click.Choice(LAYOUTS), default="nchw", show_default=True, help=help_text)


def aligned_option(help_text: str):
    return click.option("--aligned/--no-aligned", default=None, help=help_text)


def mode_option(help_text: str):
    return click.option("--mode", type=click.Choice(["avg", "max"]), default=None, help=help_text)


def preset_option():
    return click.option("--preset", metavar="NAME", help="A framework's convention (see `roialign presets`).")


def option_items_option(help_text: str):
    return click.option("--option", "option_items", multiple=True, metavar="NAME=VALUE", help=help_text)


def switch_option():
    return click.option(
        "--switch", "switch_items", multiple=True, metavar="NAME=VALUE",
        help="Set any convention switch last, e.g. coordinates=relative-feature or border=clamp "
        "(the switches are listed by `roialign presets NAME`); repeatable.",
    )  # fmt: skip


def backend_option():
    return click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True)


def image_size_option(help_text: str):
    return click.option("--image-size", metavar="WxH", help=help_text)


@dataclasses.dataclass(frozen=True)
class ConventionChoice:
    """What the convention options said, as typed; the methods parse it (inside the command, whose
    `reports_errors` turns a bad value into one line)."""

    output_size: str
    spatial_scale: str
    sampling_ratio: int | tuple[int, int]
    aligned: bool | None
    mode: str | None
    preset: str | None
    option_items: tuple[str, ...]
    switch_items: tuple[str, ...]
    backend: str
    image_size: str | None
    layout: str

    def size(self) -> tuple[int, int] | None:
        """The output size; None where the command has no default and none was given."""
        return None if self.output_size is None else parse_size(self.output_size, "output size")

    def scale(self):
        """One number, or a (y, x) pair; a preset's stride options (nnapi) set the scale of their axis."""
        from ..presets import option_scale

        return option_scale(self.preset, self.options(), parse_axis_scales(self.spatial_scale))

    def options(self) -> dict[str, str]:
        return parse_option_items(self.option_items)

    def convention(self):
        """The preset with its options, --aligned, --sampling-ratio and --mode, then the --switch items."""
        from ..conventions import with_switches
        from ..presets import resolve

        chosen = dict(aligned=self.aligned, sampling_ratio=self.sampling_ratio, mode=self.mode, options=self.options())
        return with_switches(resolve(self.preset, **chosen), self.switch_items)


def collected(name: str, cls):
    """Hand the command one argument `name`: a `cls` built from the options named by its fields."""
    fields = [field.name for field in dataclasses.fields(cls)]

    def wrap(command):
        @functools.wraps(command)
        def with_group(*args, **kwargs):
            kwargs[name] = cls(**{field: kwargs.pop(field) for field in fields})
            return command(*args, **kwargs)

        return with_group

    return wrap


def convention_options(output_size_help="Pooled size: 7, or HxW such as 7x7.", output_size_default: str | None = "7"):
    """What `roialign pool` and its kin (`grad`) take: the call's numbers, the convention, the engine and the
    image, handed to the command as one `ConventionChoice` argument, `call`."""
    return stacked(
        output_size_option(output_size_help, output_size_default),
        spatial_scale_option(
            "1",
            "Feature pixels per box unit, e.g. 0.125 or 1/8 for stride 8; a pair Y,X (height first) where the "
            "axes differ, e.g. 1/2,1.",
        ),
        sampling_ratio_option(
            "Samples per bin and axis: -1 the preset's own, 0 adaptive, n fixed; a pair Y,X (height first) "
            "where the axes differ, e.g. 0,4."
        ),
        aligned_option(
            "Half-pixel offset (torchvision aligned=True). Default: the preset's own; without a preset, --no-aligned."
        ),
        mode_option("Pooling; 'max' is the preset's own kind of max. Default: the preset's own."),
        preset_option(),
        option_items_option(
            "One of the preset's own options, e.g. coordinate_transformation_mode=output_half_pixel "
            "(see `roialign presets NAME`); repeatable."
        ),
        switch_option(),
        backend_option(),
        image_size_option("Input image size: relative (0..1) boxes are multiplied by it."),
        layout_option("FEATURES layout; nhwc reads channels-last maps (TF, TFLite, NNAPI) and writes [K,PH,PW,C]."),
        collected("call", ConventionChoice),
    )


def output_option(help_text: str):
    return click.option("-o", "--output", metavar="OUT", help=help_text)


def json_option(help_text: str = "Print a machine-readable summary on stdout."):
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def output_destination(output: str | None, as_json: bool, what: str) -> str | None:
    """Where a command writes `what`: `-o` as given; without it stdout when that is a pipe (and no --json)."""
    if output is None and not sys.stdout.isatty() and not as_json:
        output = "-"
    if output == "-" and as_json:
        raise UserError(f"--json prints on stdout, which -o - already fills with {what}; give -o FILE")
    return output
