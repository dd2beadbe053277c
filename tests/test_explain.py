"""`roialign explain`: a reference made with a convention is explained by it (or by one that gives the
identical output), tiny noise does not change the answer, and the command's exits and outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from roialign_cli.conventions import Convention
from roialign_cli.engines import numpy_engine
from roialign_cli.explain import explain
from roialign_cli.presets import resolve

IMAGE = (160, 128)  # width, height; features are 20 x 16: stride 8
SCALE = 1 / 8
SIZE = (5, 4)

VARIANTS = {
    "caffe2": resolve("caffe2"),
    "torchvision-aligned": resolve("torchvision-aligned"),
    "mmcv max": resolve("mmcv", mode="max"),
    "onnxruntime output_half_pixel max": resolve(
        "onnxruntime", mode="max", options={"coordinate_transformation_mode": "output_half_pixel"}
    ),
    "tensorrt": resolve("tensorrt"),
    "openvino-half-pixel": resolve("openvino-half-pixel"),
    "openvino-max": resolve("openvino-max"),
    "mmdet-v1 sampling 2": resolve("mmdet-v1", sampling_ratio=2),
    "tf-crop-and-resize": resolve("tf-crop-and-resize"),
    "caffe-ssd-roialign": resolve("caffe-ssd-roialign"),
    "caffe-roialignment": resolve("caffe-roialignment"),
    # not presets: a preset's sampling with another reading of the boxes
    "caffe2 x feature size": Convention(coordinates="relative-feature"),
    "torchvision-aligned sampling 3": resolve("torchvision-aligned", sampling_ratio=3),
}


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(7)
    features = rng.standard_normal((2, 6, 16, 20)).astype(np.float32)
    x1, y1 = rng.uniform(0, 0.7, 10), rng.uniform(0, 0.6, 10)
    x2, y2 = x1 + rng.uniform(0.1, 0.3, 10), y1 + rng.uniform(0.2, 0.4, 10)
    relative = np.stack([rng.integers(0, 2, 10), x1, y1, x2, y2], 1)
    relative[0, 3:5] = 1.0  # one box touches the bottom-right border
    return features, relative


def make_reference(features, relative, conv):
    rois = relative.copy()
    if conv.coordinates == "absolute":  # the framework was given image pixels
        rois[:, [1, 3]] *= IMAGE[0]
        rois[:, [2, 4]] *= IMAGE[1]
    return numpy_engine.pool(features, rois, SIZE, SCALE, conv)


@pytest.mark.parametrize("name", VARIANTS)
def test_each_convention_is_explained_by_itself(scene, name):
    features, relative = scene
    reference = make_reference(features, relative, VARIANTS[name])
    result = explain(features, relative, reference, image_size=IMAGE, spatial_scale=SCALE)
    assert result.matched
    # identical up to float32 rounding (equivalent readings of the boxes round differently)
    assert result.best.max_error <= 1e-5, (name, result.best_label, result.best.max_error)
    noisy = reference + np.random.default_rng(1).normal(0, 1e-6, reference.shape)
    again = explain(features, relative, noisy, image_size=IMAGE, spatial_scale=SCALE)
    assert again.best_label == result.best_label and again.best.candidate.convention == result.best.candidate.convention


def test_the_scale_is_found_when_not_given(scene):
    features, relative = scene
    reference = make_reference(features, relative, VARIANTS["torchvision-aligned"])
    result = explain(features, relative, reference, image_size=IMAGE)
    assert result.best.max_error <= 1e-5
    assert result.best.candidate.spatial_scale == SCALE and result.best.candidate.reading.times_image


def test_the_assumed_setting_is_compared_in_words(scene):
    features, relative = scene
    reference = make_reference(features, relative, VARIANTS["caffe-roialignment"])
    result = explain(features, relative, reference, image_size=IMAGE, spatial_scale=SCALE, assume="torchvision")
    assert result.assumed.max_error > 1e-3
    text = " ".join(result.assumption_lines)
    assert "+1 to box sizes" in text and "one centre sample per bin" in text


@pytest.fixture
def files(tmp_path, scene):
    features, relative = scene
    np.save(tmp_path / "feat.npy", features)
    np.save(tmp_path / "rois.npy", relative)
    np.save(tmp_path / "ref.npy", make_reference(features, relative, VARIANTS["caffe-ssd-roialign"]))
    return tmp_path


def test_cli_match_exits_0_and_prints_the_command(cli, files):
    result = cli(
        "explain",
        files / "feat.npy",
        files / "rois.npy",
        files / "ref.npy",
        "--image-size",
        "160x128",
        "--spatial-scale",
        "1/8",
        "--assume",
        "torchvision",
    )
    assert result.exit_code == 0, result.stderr
    assert "--preset caffe-ssd-roialign" in result.stdout
    for framework in ("torchvision", "ONNX", "TensorRT", "OpenVINO"):
        assert f"{framework}: not expressible" in result.stdout
    assert "Your setting" in result.stdout


def test_cli_the_printed_command_reproduces_the_reference(cli, files, shell):
    result = cli(
        "explain",
        files / "feat.npy",
        files / "rois.npy",
        files / "ref.npy",
        "--image-size",
        "160x128",
        "--spatial-scale",
        "1/8",
        "--json",
    )
    command = json.loads(result.stdout)["command"].replace("roialign pool", "$ROIALIGN pool")
    command = command.replace(str(files) + "/", "")
    shell(f"{command} --backend numpy -o again.npy && $ROIALIGN diff again.npy ref.npy --quiet", check=True)


def test_cli_no_match_exits_1_and_shows_the_closest(cli, files, scene):
    features, _ = scene
    np.save(files / "noise.npy", np.random.default_rng(3).standard_normal((10, 6, 5, 4)))
    result = cli(
        "explain", files / "feat.npy", files / "rois.npy", files / "noise.npy", "--spatial-scale", "1/8", "--json"
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["matched"] is False and report["best"]["max_error"] > 0.1
    assert len(report["candidates"]) == 5


@pytest.mark.parametrize(
    "args,words",
    [
        (["ref_bad.npy"], "reference has shape"),
        (["ref.npy", "--assume", "caffe9"], "unknown preset 'caffe9'"),
        (["ref.npy", "--image-size", "big"], "image size"),
    ],
)
def test_cli_errors_exit_2_in_one_line(cli, files, args, words):
    np.save(files / "ref_bad.npy", np.zeros((3, 6, 5, 4)))
    paths = [files / a if a.endswith(".npy") else a for a in args]
    result = cli("explain", files / "feat.npy", files / "rois.npy", *paths)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]


def test_explain_pools_on_the_engine_it_is_given(scene, monkeypatch):
    """explain takes its engine from the registry like `pool`: the reference engine gives the same answer,
    and every candidate goes through the engine asked for."""
    from roialign_cli.engines import reference_engine

    features, relative = scene
    reference = make_reference(features, relative, VARIANTS["caffe-ssd-roialign"])
    calls = []
    real = reference_engine.pool
    monkeypatch.setattr(reference_engine, "pool", lambda *args: calls.append(1) or real(*args))
    result = explain(features[:, :2], relative[:3], reference[:3, :2], spatial_scale=SCALE, backend="reference")
    assert result.engine.name == "reference" and result.best_label == "caffe-ssd-roialign"
    assert len(calls) >= result.searched


@pytest.mark.parametrize("preset", ["caffe-roi-pooling", "rfcn-psroi-pooling", "torchvision-ps-roi-align"])
def test_roi_pool_references_are_named(preset):
    """A RoIPool or position-sensitive reference is recognised and named (RoIPool is no RoIAlign setting)."""
    rng = np.random.default_rng(3)
    features = rng.standard_normal((1, 2 * 3 * 3, 16, 20)).astype(np.float32)
    x1, y1 = rng.uniform(0, 100, 8), rng.uniform(0, 80, 8)
    rois = np.stack([np.zeros(8), x1, y1, x1 + rng.uniform(20, 60, 8), y1 + rng.uniform(20, 50, 8)], 1)
    reference = numpy_engine_pool(features, rois, (3, 3), SCALE, resolve(preset))
    result = explain(features, rois, reference, spatial_scale=SCALE)
    assert result.matched and result.best_label == preset, (result.best_label, result.best.max_error)


def numpy_engine_pool(features, rois, size, scale, conv):
    from roialign_cli import engines

    return engines.get("numpy").pool(features, rois, size, scale, conv)


@pytest.mark.parametrize("name", ["torchvision-aligned", "mmcv max", "caffe-ssd-roialign", "tf-crop-and-resize"])
def test_pruning_gives_the_answer_of_the_exhaustive_search(scene, name, monkeypatch):
    """Bounds from samples only skip candidates that could not rank: with every candidate scored on
    the subset and every leader confirmed (no tiny or medium sample, no bound ever rules one out),
    the explanation is the same, table, command and framework lines included."""
    from roialign_cli import explain as search_module

    features, relative = scene
    reference = make_reference(features, relative, VARIANTS[name])
    kwargs = {"image_size": IMAGE, "top": 5}
    monkeypatch.setattr(search_module, "TINY_FIRST_WORK", 0)  # every candidate tried on the tiny sample first
    monkeypatch.setattr(search_module, "TINY_ROIS", 2)
    monkeypatch.setattr(search_module, "TINY_CHANNELS", 1)
    monkeypatch.setattr(search_module, "MEDIUM_ROIS", 4)  # leaders bounded on 4 rois x 3 channels first
    monkeypatch.setattr(search_module, "MEDIUM_CHANNELS", 3)
    pruned = explain(features, relative, reference, **kwargs)
    monkeypatch.setattr(search_module, "TINY_FIRST_WORK", float("inf"))
    monkeypatch.setattr(search_module, "_beyond", lambda *args: False)
    exhaustive = explain(features, relative, reference, **kwargs)
    assert pruned.to_dict(5) == exhaustive.to_dict(5)


def test_a_framework_finds_its_call_under_another_presets_name(scene):
    """onnxruntime's half_pixel avg and OpenVINO's half_pixel_for_nn are torchvision's aligned=True:
    scored once, exact for all three."""
    features, relative = scene
    reference = make_reference(features, relative, VARIANTS["torchvision-aligned"])
    result = explain(features, relative, reference, image_size=IMAGE, spatial_scale=SCALE)
    lines = result.framework_lines()
    assert lines["ONNX"][0] == "exact" and 'coordinate_transformation_mode="half_pixel"' in lines["ONNX"][1]
    assert lines["OpenVINO"][0] == "exact" and "aligned_mode='half_pixel_for_nn'" in lines["OpenVINO"][1]


def test_progress_is_reported_stage_by_stage(scene):
    features, relative = scene
    reference = make_reference(features, relative, VARIANTS["caffe2"])
    seen = []
    explain(features, relative, reference, image_size=IMAGE, progress=lambda *report: seen.append(report))
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages[0] == "scoring candidates on a sample" and "confirming the leaders on all the data" in stages
    assert all(0 <= done < total for _, done, total in seen)


@pytest.mark.parametrize(
    ("error", "pools_again"),
    [(0.0, False), (5e-6, False), (5e-5, True), (1e-3, False), (float("inf"), True)],
)
def test_matched_is_decided_as_roialign_diff_decides(error, pools_again):
    """Within ATOL or beyond ATOL + RTOL x max |reference|, the max error settles it; in between
    (here: within the relative tolerance of references near 1) `compare` does."""
    from types import SimpleNamespace

    from roialign_cli.compare import compare
    from roialign_cli.explain import Scored, _matches

    reference = np.linspace(0.5, 1.0, 24).reshape(2, 3, 2, 2)
    got = reference + np.where(np.arange(24).reshape(reference.shape) == 7, error, 0.0)
    pooled = []
    problem = SimpleNamespace(reference=reference, pooled=lambda candidate: pooled.append(candidate) or got)
    best = Scored("best", float(np.abs(got - reference).max()) if np.isfinite(error) else np.inf, 0.0)
    assert _matches(problem, best, compare) == compare(got, reference).matches
    assert bool(pooled) == pools_again


def test_the_cli_progress_bar_shows_on_a_terminal_after_a_second_only(monkeypatch):
    import importlib
    import io

    from rich.console import Console

    command = importlib.import_module("roialign_cli.cli.explain")  # the module, not the click command

    screen = io.StringIO()
    monkeypatch.setattr(command, "console", lambda stderr: Console(file=screen, force_terminal=True, width=80))
    with command._progress() as progress:
        progress("scoring candidates on a sample", 1, 10)  # within the first second: nothing shown
    assert screen.getvalue() == ""
    monkeypatch.setattr(command, "PROGRESS_AFTER", 0.0)
    with command._progress() as progress:
        progress("scoring candidates on a sample", 5, 10)
    assert "scoring candidates on a sample" in screen.getvalue()
    screen.truncate(0)
    monkeypatch.setattr(command, "console", lambda stderr: Console(file=screen, force_terminal=False))
    with command._progress() as progress:
        progress("scoring candidates on a sample", 5, 10)  # not a terminal: never shown
    assert screen.getvalue() == ""
