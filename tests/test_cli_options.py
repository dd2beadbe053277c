"""The CLI's shared pieces: value parsers, option decorators, the output destination."""

from __future__ import annotations

import math

import click
import pytest
from click.testing import CliRunner

from roialign_cli.cli.common import UserError, parse_option_items
from roialign_cli.cli.options import ConventionChoice, convention_options, output_destination
from roialign_cli.cli.values import parse_scale, parse_size


@pytest.mark.parametrize("text, size", [("7", (7, 7)), ("576x192", (576, 192)), ("14X7", (14, 7)), ("3,5", (3, 5))])
def test_parse_size_keeps_the_written_order(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["7x", "0", "x7", "1x2x3", "-3", "seven"])
def test_parse_size_refuses_anything_else(text):
    with pytest.raises(UserError, match="output size must"):
        parse_size(text, "output size")


@pytest.mark.parametrize("text, scale", [("1/8", 0.125), ("0.0625", 1 / 16), ("2", 2.0)])
def test_parse_scale_reads_fractions_and_decimals(text, scale):
    assert math.isclose(parse_scale(text), scale)


@pytest.mark.parametrize("text", ["0", "-1/8", "1/0", "inf", "nan", "eighth"])
def test_parse_scale_refuses_non_positive_or_non_finite(text):
    with pytest.raises(UserError, match="spatial scale must"):
        parse_scale(text)


def test_option_items_are_name_value_pairs_given_once():
    assert parse_option_items(["a=1", " b = x "]) == {"a": "1", "b": "x"}
    with pytest.raises(UserError, match="given twice"):
        parse_option_items(["a=1", "a=2"])
    with pytest.raises(UserError, match="NAME=VALUE"):
        parse_option_items(["a"])


def test_convention_options_hand_the_command_one_choice():
    seen = {}

    @click.command()
    @convention_options()
    def command(call):
        seen["call"] = call

    args = [
        "--preset",
        "onnxruntime",
        "--option",
        "coordinate_transformation_mode=output_half_pixel",
        "--switch",
        "border=clamp",
        "--spatial-scale",
        "1/4",
        "--output-size",
        "14x7",
    ]
    result = CliRunner().invoke(command, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    call = seen["call"]
    assert isinstance(call, ConventionChoice) and call.backend == "auto" and call.image_size is None
    assert call.size() == (14, 7) and call.scale() == 0.25
    conv = call.convention()
    assert (conv.sample_offset, conv.min_size, conv.border) == (0.0, 1.0, "clamp")


def test_output_destination_defaults_to_a_piped_stdout_and_refuses_two_uses_of_it(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert output_destination(None, False, "the array") == "-"
    assert output_destination(None, True, "the array") is None
    assert output_destination("out.npy", True, "the array") == "out.npy"
    with pytest.raises(UserError, match="already fills with the array"):
        output_destination("-", True, "the array")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert output_destination(None, False, "the array") is None
