"""The preset registry, `resolve`, options, equivalent calls and the `roialign presets` command."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO, subprocess_env
from roialign_cli import presets as registry
from roialign_cli.conventions import Convention, differences
from roialign_cli.equivalents import CallSpec
from roialign_cli.errors import InputError

ISSUE_PRESETS = {
    "caffe2",
    "torchvision",
    "torchvision-aligned",
    "detectron2",
    "mmcv",
    "onnxruntime",
    "tensorrt",
    "openvino-half-pixel",
    "openvino-max",
    "mmdet-v1",
    "tf-crop-and-resize",
    "caffe-ssd-roialign",
    "caffe-roialignment",
}


def option_variants():
    """(preset, {option: value}) for every preset and every enumerated option value."""
    for preset in registry.PRESETS:
        yield preset.name, {}
        for option in preset.options:
            for value in option.values:
                yield preset.name, {option.name: value}


def test_registry_names_every_preset_of_the_issue():
    assert ISSUE_PRESETS <= set(registry.names())


@pytest.mark.parametrize("preset", registry.PRESETS, ids=lambda p: p.name)
def test_option_defaults_are_the_presets_own_convention(preset):
    for option in preset.options:
        changed = registry.resolve(preset.name, options={option.name: option.default})
        assert differences(changed, preset.convention) == []


@pytest.mark.parametrize("preset, options", list(option_variants()))
def test_every_variant_has_a_real_equivalent_call(preset, options):
    modes = ["avg", "max"] if registry.get(preset).max_mode else [None]
    for mode in modes:
        conv = registry.resolve(preset, options=options, mode=mode)
        call = registry.get(preset).equivalent(conv, CallSpec())
        assert not call.startswith("no "), call


def test_equivalent_calls_use_the_call_numbers():
    spec = CallSpec(output_size=(14, 7), spatial_scale=0.125)
    assert registry.get("torchvision").equivalent(registry.resolve("torchvision"), spec) == (
        "torchvision.ops.roi_align(x, rois, output_size=(14, 7), spatial_scale=1/8, sampling_ratio=-1, aligned=False)"
    )
    onnx = registry.get("onnxruntime").equivalent(registry.resolve("onnxruntime", sampling_ratio=2), spec)
    assert "output_height=14, output_width=7, sampling_ratio=2, spatial_scale=0.125" in onnx
    assert 'coordinate_transformation_mode="half_pixel"' in onnx


def test_an_inexpressible_convention_says_so_instead_of_a_wrong_call():
    corner_max = registry.resolve("onnxruntime", mode="max")
    text = registry.get("torchvision").equivalent(corner_max, CallSpec())
    assert text.startswith("no torchvision call") and "pooling" in text
    odd = Convention(pixel_offset=0.5)
    assert registry.get("openvino-max").equivalent(odd, CallSpec()).startswith("no OpenVINO")


def test_resolve_keeps_its_keyword_arguments():
    assert registry.resolve() == Convention()
    assert registry.resolve(aligned=True).sample_offset == 0.5
    assert registry.resolve("caffe2", sampling_ratio=2).sampling_ratio == 2
    assert registry.resolve(Convention(), mode="max").pooling == "max"


def test_aligned_switches_whole_models():
    legacy = registry.resolve("openvino-half-pixel", aligned=False)
    assert (legacy.pixel_offset, legacy.sample_offset, legacy.min_size) == (0.0, 0.0, 1.0)
    assert registry.resolve("mmcv", aligned=False) == registry.resolve("caffe2")


def test_option_values_change_the_convention():
    conv = registry.resolve("onnxruntime", options={"coordinate_transformation_mode": "output_half_pixel"})
    assert differences(conv, registry.resolve("caffe2")) == []
    assert registry.resolve("tf-crop-and-resize", options={"extrapolation_value": "-1.5"}).fill_value == -1.5
    gpu = registry.resolve("caffe-ssd-roialign", options={"inter_times": "4"})
    assert (gpu.sampling_ratio, gpu.pooling) == (2, "max")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: registry.get("nope"), "unknown preset 'nope'"),
        (lambda: registry.resolve("onnxruntime", options={"nope": "1"}), "has no option 'nope'"),
        (lambda: registry.resolve("onnxruntime", options={"coordinate_transformation_mode": "x"}), "must be one of"),
        (lambda: registry.resolve("tf-crop-and-resize", options={"extrapolation_value": "nan"}), "finite number"),
        (lambda: registry.resolve("tf-crop-and-resize", options={"extrapolation_value": "abc"}), "finite number"),
        (lambda: registry.resolve(None, options={"a": "b"}), "belong to a preset"),
        (lambda: registry.resolve("caffe2", mode="max"), "has no max mode (presets with one: mmcv"),
        (lambda: registry.resolve("tf-crop-and-resize", sampling_ratio=2), "one point per output cell"),
        (lambda: registry.resolve("caffe2", sampling_ratio=-2), "sampling ratio must be"),
    ],
)
def test_bad_requests_are_one_line_input_errors(call, message):
    with pytest.raises(InputError, match=None) as info:
        call()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_named_peer_traps_are_shown():
    traps = {p.name: " ".join(t.text for t in p.traps) for p in registry.PRESETS}
    assert "fill an omitted sampling_ratio with 1" in traps["onnxruntime"]
    assert "fill an omitted sampling_ratio with 1" in traps["tensorrt"]
    assert "corner-max" in traps["onnxruntime"] and "quarter" in traps["onnxruntime"]
    assert "opset >= 16" in traps["mmcv"] and "half a pixel again" in traps["mmcv"]
    assert "NaN" in traps["tensorrt"] and "Paddle" in traps["tensorrt"]


def test_trap_keys_name_one_fact_each():
    seen = {}
    for preset in registry.PRESETS:
        for trap in preset.traps:
            assert seen.setdefault(trap.key, trap.text) == trap.text, trap.key
    assert set(seen) == set(registry.TRAPS)


# ---------------------------------------------------------------------------------------------
# The command


def test_presets_table_lists_every_preset_and_alias(cli):
    result = cli("presets")
    assert result.exit_code == 0
    for name in registry.names():
        assert name in result.output
    assert "call:" in result.output and "differs:" in result.output


def test_presets_table_shows_only_the_switches_that_differ_from_caffe2(cli):
    out = cli("presets").output.replace("\n", " ")
    assert "differs: (the baseline)" in out
    assert "empty_value=nan" in out  # tensorrt and mmdet-v1
    assert "coordinates=tf-normalized" in out and "border=caffe-ssd" in out
    # caffe2's own values of switches that other presets share with it are not repeated
    assert "clip_bins=False" not in out and "border=caffe2" not in out and "pixel_offset=0," not in out


def test_presets_json_is_the_registry(cli):
    payload = json.loads(cli("presets", "--json").stdout)
    by_name = {p["name"]: p for p in payload["presets"]}
    assert set(by_name) == {p.name for p in registry.PRESETS}
    assert by_name["tensorrt"]["switches"]["empty_value"] == "nan"
    assert by_name["caffe2"]["aliases"] == ["torchvision"]
    assert by_name["onnxruntime"]["options"][0]["values"]["output_half_pixel"]["sample_offset"] == 0.0
    assert payload["call"] == {"output_size": [7, 7], "spatial_scale": 0.0625}
    assert {"key": "omitted-sampling-ratio-is-1", "text": registry.TRAPS["omitted-sampling-ratio-is-1"].text} in (
        by_name["tensorrt"]["traps"]
    )


def test_presets_name_shows_one_in_detail(cli):
    result = cli("presets", "detectron2", "--spatial-scale", "1/8", "--output-size", "14")
    assert result.exit_code == 0
    out = result.output
    assert "torchvision-aligned" in out and "reproduces" in out and "sample_offset" in out
    assert "subtracted after scaling" in out  # the switch's doc
    assert "output_size=(14, 14), spatial_scale=1/8, sampling_ratio=-1, aligned=True" in out.replace("\n", "")


def test_presets_name_renders_the_call_for_the_chosen_variant(cli):
    result = cli(
        "presets",
        "onnxruntime",
        "--json",
        "--mode",
        "max",
        "--sampling-ratio",
        "2",
        "--option",
        "coordinate_transformation_mode=output_half_pixel",
    )
    payload = json.loads(result.stdout)
    assert payload["switches"]["pooling"] == "corner-max"
    assert 'mode="max"' in payload["equivalent"] and "sampling_ratio=2" in payload["equivalent"]
    assert "# opset 10" in payload["equivalent"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["presets", "nope"], "unknown preset 'nope'"),
        (["presets", "onnxruntime", "--option", "nope=1"], "has no option 'nope'"),
        (["presets", "onnxruntime", "--option", "coordinate_transformation_mode"], "--option takes NAME=VALUE"),
        (["presets", "--mode", "max"], "need a preset NAME"),
        (["presets", "caffe2", "--mode", "max"], "has no max mode"),
    ],
)
def test_presets_errors_are_one_line_exit_2(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_presets_command_does_not_import_numpy():
    code = (
        "import sys\n"
        "from roialign_cli.cli import main\n"
        "for args in (['presets'], ['presets', 'onnxruntime', '--json'], ['presets', 'tf-crop-and-resize']):\n"
        "    main.main(args, standalone_mode=False)\n"
        "assert 'numpy' not in sys.modules, 'numpy was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=subprocess_env(), capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


# ---------------------------------------------------------------------------------------------
# pool --option


def test_pool_takes_preset_options(cli, tmp_path):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "f.npy", rng.standard_normal((1, 2, 9, 9)).astype(np.float32))
    np.save(tmp_path / "r.npy", np.array([[0, 0.2, -0.3, 0.9, 0.6]], np.float32))
    common = ["pool", tmp_path / "f.npy", tmp_path / "r.npy", "--backend", "numpy", "--output-size", "3"]
    result = cli(
        *common,
        "--preset",
        "tf-crop-and-resize",
        "--option",
        "extrapolation_value=0.5",
        "-o",
        tmp_path / "o.npy",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["options"] == {"extrapolation_value": "0.5"}
    out = np.load(tmp_path / "o.npy")
    assert np.any(out == 0.5)  # the top row of points lies above the image (y1 < 0)


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--preset", "onnxruntime", "--option", "coordinate_transformation_mode=sideways"],
            "must be one of half_pixel",
        ),
        (["--preset", "onnxruntime", "--option", "nope=1"], "has no option 'nope'"),
        (["--option", "extrapolation_value=1"], "belong to a preset"),
        (["--preset", "nope"], "unknown preset"),
    ],
)
def test_pool_option_errors_are_one_line_exit_2(cli, tmp_path, extra, message):
    np.save(tmp_path / "f.npy", np.zeros((1, 1, 4, 4), np.float32))
    np.save(tmp_path / "r.npy", np.array([[0, 0, 0, 2, 2]], np.float32))
    result = cli("pool", tmp_path / "f.npy", tmp_path / "r.npy", "--backend", "numpy", "-o", tmp_path / "o.npy", *extra)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.npy").exists()


def test_max_modes_are_distinct_where_the_frameworks_differ():
    """mmcv, onnxruntime, tensorrt and OpenVINO each mean something else by max."""
    names = ("mmcv", "onnxruntime", "tensorrt", "openvino-half-pixel")
    maxes = {name: registry.resolve(name, mode="max") for name in names}
    assert maxes["mmcv"].pooling == "max" and maxes["mmcv"].empty_value == -registry.FLT_MAX
    assert maxes["onnxruntime"].pooling == maxes["tensorrt"].pooling == "corner-max"
    assert maxes["openvino-half-pixel"].max_floor == 0.0
    assert math.isnan(registry.resolve("tensorrt").empty_value) and maxes["tensorrt"].empty_value == 0.0
