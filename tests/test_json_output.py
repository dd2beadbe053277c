"""The one JSON policy (README, "JSON output"): every --json is strict JSON, NaN and infinities are the
strings "nan", "inf" and "-inf", and null means "none"."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import strict_json
from roialign_cli import api


@pytest.fixture
def arrays(tmp_path, rng):
    features = rng.standard_normal((1, 2, 8, 8)).astype(np.float32)
    rois = np.array([[0, 1, 1, 6, 5], [0, 2, 0, 7, 7]], np.float32)
    reference = api.roi_align(features, rois, (2, 2), 1.0, backend="numpy")
    paths = {}
    for name, array in (("feat", features), ("rois", rois), ("ref", reference)):
        paths[name] = tmp_path / f"{name}.npy"
        np.save(paths[name], array)
    nan_copy = reference.copy()
    nan_copy[1, 0, 1, 1], nan_copy[0, 1, 0, 0] = np.nan, -np.inf
    paths["nan"] = tmp_path / "nan.npy"
    np.save(paths["nan"], nan_copy)
    return paths


def test_pool_json_writes_a_nan_switch_as_the_string_nan(cli, arrays, tmp_path):
    result = cli(
        "pool",
        arrays["feat"],
        arrays["rois"],
        "--preset",
        "tensorrt",
        "--backend",
        "numpy",
        "-o",
        tmp_path / "out.npy",
        "--json",
    )
    summary = strict_json(result.stdout)
    assert summary["convention"]["empty_value"] == "nan"
    assert summary["convention"]["min_size"] is None  # no minimum size: null is "none", apart from NaN


def test_presets_json_writes_nan_and_none_apart(cli):
    overview = strict_json(cli("presets", "--json").stdout)
    by_name = {p["name"]: p for p in overview["presets"]}
    assert by_name["mmdet-v1"]["switches"]["empty_value"] == "nan"
    assert by_name["caffe2"]["switches"]["max_floor"] is None
    detail = strict_json(cli("presets", "tensorrt", "--json").stdout)
    assert detail["switches"]["empty_value"] == "nan" and detail["max_mode"]["empty_value"] == 0.0


def test_diff_json_writes_non_finite_elements_as_strings(cli, arrays):
    report = strict_json(cli("diff", arrays["nan"], arrays["ref"], "--json").stdout)
    worst = {tuple(e["index"]): e["a"] for e in report["worst_elements"]}
    assert worst[(1, 0, 1, 1)] == "nan" and worst[(0, 1, 0, 0)] == "-inf"
    assert float(worst[(0, 1, 0, 0)]) == -math.inf  # float() reads the policy's strings back


@pytest.mark.parametrize(
    "command",
    [
        ["convert", "boxes", "{rois}", "--from", "rois5", "--to", "onnx", "-o", "{tmp}/boxes.npz", "--json"],
        ["explain", "{feat}", "{rois}", "{ref}", "--spatial-scale", "1", "--json"],
        ["info", "--json"],
    ],
)
def test_every_other_command_prints_strict_json(cli, arrays, tmp_path, command):
    names = {"tmp": tmp_path, **arrays}
    result = cli(*[part.format(**names) for part in command])
    assert result.exit_code == 0 and isinstance(strict_json(result.stdout), dict)
