"""`roialign onnx --run`: the readings checked live against onnxruntime, the ONNX reference
implementation and OpenVINO (live where installed, else its committed fixture).

Each model is run in onnxruntime with its RoiAlign inputs captured; pooling them under the
onnxruntime reading must give onnxruntime's output, so the reading is proved on every attribute
combination (opset 10 and 16, each attribute present or absent, avg and max).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx_models as models
from helpers import REPO
from roialign_cli import api
from roialign_cli.conventions import Convention
from roialign_cli.onnx_model import find_nodes
from roialign_cli.onnx_reading import read_node
from roialign_cli.onnx_run import capture, errors_against_onnxruntime

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "onnx_openvino.npz"
GEOMETRY = {"output_height": 3, "output_width": 2, "spatial_scale": models.SCALE}


def attribute_sets():
    for opset in (10, 16):
        modes = (None,) if opset == 10 else (None, "half_pixel", "output_half_pixel")
        for ctm in modes:
            for mode in ("avg", "max", None):
                for sampling_ratio in (None, 0, 2):
                    attributes = {"coordinate_transformation_mode": ctm, "mode": mode, "sampling_ratio": sampling_ratio}
                    yield opset, {k: v for k, v in attributes.items() if v is not None}


def save_model_and_feeds(tmp_path, model, feeds=None):
    path = models.save(model, tmp_path / "model.onnx")
    np.savez(tmp_path / "feeds.npz", **(feeds or models.feeds()))
    return path, str(tmp_path / "feeds.npz")


def measure(tmp_path, model, feeds=None):
    path, feeds_path = save_model_and_feeds(tmp_path, model, feeds)
    reports = [read_node(n) for n in find_nodes(path).nodes]
    captured = capture(path, feeds_path, reports)
    return reports, {r.node.index: errors_against_onnxruntime(r, captured[r.node.index], "numpy") for r in reports}


@pytest.mark.parametrize("opset, attributes", list(attribute_sets()))
def test_onnxruntime_reading_reproduces_onnxruntime(tmp_path, opset, attributes):
    (report,), errors = measure(tmp_path, models.roialign_model(opset, **GEOMETRY, **attributes))
    for name in ("onnxruntime", "onnx"):  # onnxruntime implements the spec, the max included
        assert errors[0][name].verdict == "match", (name, errors[0][name])
        assert errors[0][name].max_abs_error < 1e-5
    # the boxes include large, sub-pixel and empty ones: every switch the readings disagree on shows
    for reading in report.readings:
        agrees = not any(
            n
            for n in report.disagreements
            if getattr(reading.convention(), n) != getattr(report.readings[1].convention(), n)
        )
        assert (errors[0][reading.runtime].verdict == "match") == agrees, (reading.runtime, report.disagreements)


# Opset 16 only: onnx's ReferenceEvaluator (1.23) fills RoiAlign-10's absent coordinate mode with the newest
# schema's default (half_pixel), where onnxruntime and the spec read output_half_pixel (see the opset-10 cases above).
@pytest.mark.parametrize(
    "opset, attributes",
    [
        (16, {}),
        (16, {"mode": "max"}),
        (16, {"sampling_ratio": 2}),
        (16, {"coordinate_transformation_mode": "output_half_pixel"}),
    ],
)
def test_onnx_reading_reproduces_the_onnx_reference(tmp_path, opset, attributes):
    from onnx.reference import ReferenceEvaluator

    model = models.roialign_model(opset, **GEOMETRY, **attributes)
    path, _ = save_model_and_feeds(tmp_path, model)
    (report,) = [read_node(n) for n in find_nodes(path).nodes]
    feeds = models.feeds()
    (expected,) = ReferenceEvaluator(model).run(None, feeds)
    reading = next(r for r in report.readings if r.runtime == "onnx")
    pooled, _ = api.pool(
        feeds["X"], models.boxes(), report.output_size, report.spatial_scale, reading.convention(), "numpy"
    )
    np.testing.assert_allclose(pooled, expected, rtol=1e-4, atol=1e-5)


def openvino_outputs():
    """OpenVINO's outputs per case: live when openvino is installed, else the committed fixture."""
    try:
        import openvino
    except ImportError:
        with np.load(FIXTURE) as fixture:
            return {name: fixture[name] for name, _, _ in models.OPENVINO_CASES}, "fixture"
    import tempfile

    core, out = openvino.Core(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, opset, attributes in models.OPENVINO_CASES:
            path = models.save(
                models.roialign_model(opset, **models.OPENVINO_GEOMETRY, **attributes), Path(tmp) / f"{name}.onnx"
            )
            compiled = core.compile_model(core.read_model(path), "CPU")
            out[name] = compiled(models.feeds())[compiled.output(0)]
    return out, "live"


@pytest.fixture(scope="module")
def openvino_results():
    return openvino_outputs()


@pytest.mark.parametrize("name, opset, attributes", models.OPENVINO_CASES)
def test_openvino_reading_reproduces_openvino(tmp_path, openvino_results, name, opset, attributes):
    outputs, _ = openvino_results
    path = models.save(models.roialign_model(opset, **models.OPENVINO_GEOMETRY, **attributes), tmp_path / "m.onnx")
    (report,) = [read_node(n) for n in find_nodes(path).nodes]
    reading = next(r for r in report.readings if r.runtime == "openvino")
    pooled, _ = api.pool(
        models.feeds()["X"], models.boxes(), report.output_size, report.spatial_scale, reading.convention(), "numpy"
    )
    np.testing.assert_allclose(pooled, outputs[name], rtol=1e-4, atol=1e-5)


def test_the_fixture_holds_the_feeds_the_tests_use():
    with np.load(FIXTURE) as fixture:
        for key, value in models.feeds().items():
            np.testing.assert_array_equal(fixture[key], value)


def test_cli_run_captures_an_intermediate_and_two_nodes(cli, tmp_path):
    model = models.roialign_model(
        16,
        conv=True,
        sampling_ratio=2,
        **GEOMETRY,
        second={"mode": "max", "output_height": 2, "output_width": 2, "spatial_scale": 0.5},
    )
    path, feeds = save_model_and_feeds(tmp_path, model)
    result = cli("onnx", path, "--run", feeds, "--save-captured", tmp_path / "captured", "--backend", "numpy", "--json")
    assert result.exit_code == 1, result.stderr  # the second node disagrees (max, sampling_ratio absent)
    first, second = json.loads(result.stdout)["nodes"]
    assert {r: v["verdict"] for r, v in first["run"].items()} == dict.fromkeys(first["runtimes"], "match")
    assert second["run"]["onnxruntime"]["verdict"] == "match"
    assert second["run"]["openvino"]["verdict"] == "differ" and second["run"]["tensorrt"]["verdict"] == "differ"
    for node in (first, second):
        # the printed command, run on the saved arrays, gives onnxruntime's output
        words = shlex.split(node["runtimes"]["onnxruntime"]["command"])[1:]
        out = tmp_path / f"{node['name']}.pooled.npy"
        assert cli(*words, "--backend", "numpy", "-o", out).exit_code == 0
        saved = np.load(tmp_path / "captured" / f"{node['name']}.output.npy")
        np.testing.assert_allclose(np.load(out), saved, rtol=1e-4, atol=1e-5)
    conv_features = np.load(tmp_path / "captured" / "roi_align.features.npy")
    np.testing.assert_allclose(conv_features, 2 * models.feeds()["X"][:, ::-1], rtol=1e-6)  # the Conv's output


def test_cli_run_exit_0_when_every_runtime_matches(cli, tmp_path):
    model = models.roialign_model(16, coordinate_transformation_mode="output_half_pixel", sampling_ratio=2, **GEOMETRY)
    path, feeds = save_model_and_feeds(tmp_path, model)
    result = cli("onnx", path, "--run", feeds, "--backend", "numpy")
    assert result.exit_code == 0, result.stdout
    assert "max |error| vs onnxruntime" in " ".join(result.stdout.split())


def test_torchvision_export_emulates_aligned_with_a_minimum_size(cli, tmp_path):
    model = models.torchvision_opset11_model(models.SCALE, sampling_ratio=0, output_height=3, output_width=2)
    feeds = models.feeds(rois5=True)
    path, feeds_path = save_model_and_feeds(tmp_path, model, feeds)
    result = cli("onnx", path, "--run", feeds_path, "--save-captured", tmp_path / "cap", "--backend", "numpy", "--json")
    (node,) = json.loads(result.stdout)["nodes"]
    assert node["run"]["onnxruntime"]["verdict"] == "match"
    # on the user's own rois (before the Sub), onnxruntime computed aligned=True with RoiAlign-10's minimum size
    switches = node["runtimes"]["onnxruntime"]["switches_on_unshifted_rois"]
    expected = np.load(tmp_path / "cap" / "roi_align.output.npy")
    pooled, _ = api.pool(feeds["X"], feeds["rois"], (3, 2), models.SCALE, Convention(**switches), "numpy")
    np.testing.assert_allclose(pooled, expected, rtol=1e-4, atol=1e-5)
    np.save(tmp_path / "original_rois.npy", feeds["rois"])
    words = shlex.split(
        node["runtimes"]["openvino"]["command_on_unshifted_rois"].replace(
            "ROIS_BEFORE_SUB.npy", str(tmp_path / "original_rois.npy")
        )
    )[1:]
    assert cli(*words, "--backend", "numpy", "-o", tmp_path / "ov.npy").exit_code == 0
    np.testing.assert_allclose(np.load(tmp_path / "ov.npy"), expected, rtol=1e-4, atol=1e-5)  # OpenVINO agrees here
    aligned, _ = api.pool(
        feeds["X"], feeds["rois"], (3, 2), models.SCALE, Convention(**{**switches, "min_size": None}), "numpy"
    )
    assert not np.allclose(aligned, expected, rtol=1e-4, atol=1e-5)  # the sub-pixel box shows the minimum size


def test_the_readme_example_runs_as_written(shell, tmp_path):
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- onnx-example -->\s*```sh\n(.*?)```", text, flags=re.DOTALL).group(1)
    (tmp_path / "tests").mkdir()
    shutil.copy(REPO / "tests" / "onnx_models.py", tmp_path / "tests")
    result = shell(f'set -e\nroialign() {{ $ROIALIGN "$@"; }}\npython() {{ {sys.executable} "$@"; }}\n' + block)
    out = " ".join(result.stdout.decode().split())
    assert result.returncode == 0, result.stderr.decode()
    assert "the runtimes disagree" in out and "and by this much" in out
    assert "tensorrt: preset tensorrt, coordinate_transformation_mode=half_pixel, sampling_ratio 1, avg" in out
    assert re.search(r"onnxruntime: preset .*? max \|error\| vs onnxruntime [0-9.e-]+ \(match\)", out)
    assert re.search(r"tensorrt: preset .*? max \|error\| vs onnxruntime 2\.96 \(differ\)", out)
    assert (tmp_path / "onnx-example" / "captured" / "roi_align.rois.npy").exists()
