"""The per-axis and layout switches through the commands: `pool` (pairs Y,X, --layout nhwc, the
nnapi and TF nearest presets), `presets` (the options and equivalent calls) and `explain`
(nearest for TF references, per-axis scales for maps whose aspect differs from the image's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from roialign_cli import roi_align
from roialign_cli.engines import numpy_engine
from roialign_cli.explain import explain
from roialign_cli.presets import resolve


@pytest.fixture
def inputs(tmp_path, rng):
    features = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)
    rois = np.array([[0, 4, 4, 40, 30], [1, -8, 0, 20, 44], [1, 10, 10, 11, 11]], dtype=np.float32)
    np.save(tmp_path / "feat.npy", features)
    np.save(tmp_path / "feat_nhwc.npy", np.ascontiguousarray(features.transpose(0, 2, 3, 1)))
    np.save(tmp_path / "rois.npy", rois)
    return tmp_path, features, rois


def test_pool_help_shows_the_pair_syntax(cli):
    text = cli("pool", "--help").stdout
    assert "S|Y,X" in text and "1/2,1" in text and "N|Y,X" in text and "0,4" in text and "nhwc" in text


def test_pool_pairs_and_channels_last(cli, inputs):
    tmp, features, rois = inputs
    result = cli("pool", tmp / "feat_nhwc.npy", tmp / "rois.npy", "--spatial-scale", "1/2,1/4", "--sampling-ratio",
                 "0,3", "--output-size", "2x3", "--layout", "nhwc", "--backend", "numpy", "-o", tmp / "out.npy",
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = roi_align(features, rois, (2, 3), (0.5, 0.25), (0, 3), backend="numpy").transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), expected)
    summary = json.loads(result.stdout)
    assert summary["spatial_scale"] == [0.5, 0.25] and summary["convention"]["sampling_ratio"] == [0, 3]
    assert summary["output"]["shape"] == [3, 2, 3, 3] and summary["features"]["layout"] == "nhwc"
    text = cli("pool", tmp / "feat.npy", tmp / "rois.npy", "--spatial-scale", "1/2,1/4", "--backend", "numpy",
               "-o", tmp / "out2.npy").stdout  # fmt: skip
    assert "0.5,0.25 / 7x7" in text


def test_pool_nnapi_options_give_the_scale(cli, inputs):
    tmp, features, rois = inputs
    options = ["--option", "height_ratio=2", "--option", "width_ratio=4", "--option", "sampling_points_width=2"]
    result = cli("pool", tmp / "feat.npy", tmp / "rois.npy", "--preset", "nnapi", *options, "--backend", "numpy",
                 "-o", tmp / "out.npy")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = roi_align(features, rois, 7, (0.5, 0.25), (0, 2), backend="numpy")
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), expected)


def test_pool_tf_nearest(cli, inputs, tmp_path):
    tmp, features, _ = inputs
    np.save(tmp / "boxes.npy", np.array([[0, 0.1, 0.2, 0.9, 0.7]]))
    result = cli("pool", tmp / "feat.npy", tmp / "boxes.npy", "--preset", "tf-crop-and-resize", "--option",
                 "method=nearest", "--output-size", "4", "--backend", "numpy", "-o", tmp / "out.npy")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = np.load(tmp / "out.npy")
    assert np.isin(out, features[0]).all()  # every point is a pixel, none an interpolation


@pytest.mark.parametrize(
    "args,words",
    [
        (["--spatial-scale", "1,2,3"], "spatial scale must be one number or a pair"),
        (["--spatial-scale", "1/2,0"], "spatial scale must be positive"),
        (["--sampling-ratio", "0,x"], "'--sampling-ratio': must be"),
        (["--sampling-ratio", "1,-2"], "'--sampling-ratio': must be"),
        (["--layout", "nhwc"], "features must be 4-d"),
        (["--preset", "nnapi", "--option", "height_ratio=0"], "must be a positive number"),
        (["--preset", "nnapi", "--option", "height_ratio=2", "--spatial-scale", "1/4"], "means spatial scale 0.5"),
        (["--switch", "interpolation=cubic"], "interpolation must be one of bilinear, nearest"),
        (["--switch", "pooling=corner-max", "--switch", "interpolation=nearest"], "corner-max"),
    ],
)
def test_pool_bad_pairs_exit_2_in_one_line(cli, inputs, args, words):
    tmp, features, _ = inputs
    np.save(tmp / "flat.npy", features[0])
    feats = "flat.npy" if "--layout" in args else "feat.npy"
    result = cli("pool", tmp / feats, tmp / "rois.npy", "--backend", "numpy", *args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr


def test_presets_lists_the_method_option_and_nnapi(cli):
    text = cli("presets", "tf-crop-and-resize").stdout
    assert "method" in text and "bilinear | nearest" in text
    call = json.loads(cli("presets", "tf-crop-and-resize", "--option", "method=nearest", "--json").stdout)
    assert "method='nearest'" in call["equivalent"] and call["switches"]["interpolation"] == "nearest"
    nnapi = json.loads(
        cli("presets", "nnapi", "--spatial-scale", "1/8,1/16", "--sampling-ratio", "2,0", "--json").stdout
    )
    assert "height_ratio=8, width_ratio=16, sampling_points_height=2, sampling_points_width=0" in nnapi["equivalent"]
    by_options = json.loads(cli("presets", "nnapi", "--option", "height_ratio=8", "--option", "width_ratio=16",
                                "--option", "sampling_points_height=2", "--json").stdout)  # fmt: skip
    assert by_options["equivalent"] == nnapi["equivalent"]
    calls = {
        p["name"]: p["equivalent"]
        for p in json.loads(cli("presets", "--spatial-scale", "1/2,1", "--json").stdout)["presets"]
    }
    assert calls["caffe2"].startswith("no torchvision call computes this convention (it takes one spatial scale")
    assert "height_ratio=2, width_ratio=1" in calls["nnapi"]
    assert "nnapi" in cli("presets", "--spatial-scale", "1/2,1").stdout


def test_presets_per_axis_sampling_is_not_a_torchvision_call(cli):
    payload = json.loads(cli("presets", "torchvision", "--sampling-ratio", "0,4", "--json").stdout)
    assert payload["switches"]["sampling_ratio"] == [0, 4]
    assert payload["equivalent"].startswith("no torchvision call computes this convention")


IMAGE = (160, 128)  # width, height


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(5)
    x1, y1 = rng.uniform(0, 0.7, 8), rng.uniform(0, 0.6, 8)
    boxes = np.stack([rng.integers(0, 2, 8), x1, y1, x1 + rng.uniform(0.1, 0.3, 8), y1 + rng.uniform(0.2, 0.4, 8)], 1)
    return rng, boxes


def test_explain_finds_tf_nearest(scene):
    rng, boxes = scene
    features = rng.standard_normal((2, 4, 16, 20)).astype(np.float32)
    reference = numpy_engine.pool(
        features, boxes, (5, 4), 1.0, resolve("tf-crop-and-resize", options={"method": "nearest"})
    )
    result = explain(features, boxes, reference)
    assert result.matched and result.best_label == "tf-crop-and-resize method=nearest"
    assert "--option method=nearest" in result.command


def test_explain_finds_per_axis_scales_and_reads_channels_last(scene, cli, tmp_path):
    rng, relative = scene
    # a 16 x 40 map of a 160 x 128 image: stride 8 down, 4 across
    features = rng.standard_normal((2, 3, 16, 40)).astype(np.float32)
    rois = relative * [1, IMAGE[0], IMAGE[1], IMAGE[0], IMAGE[1]]
    reference = numpy_engine.pool(features, rois, (4, 4), (1 / 8, 1 / 4), resolve("torchvision-aligned"))
    result = explain(features, rois, reference, image_size=IMAGE)
    assert result.matched and result.best.candidate.spatial_scale == (1 / 8, 1 / 4)
    assert "--spatial-scale 1/8,1/4" in result.command
    np.save(tmp_path / "feat.npy", np.ascontiguousarray(features.transpose(0, 2, 3, 1)))
    np.save(tmp_path / "rois.npy", rois)
    np.save(tmp_path / "ref.npy", np.ascontiguousarray(reference.transpose(0, 2, 3, 1)))
    out = cli("explain", tmp_path / "feat.npy", tmp_path / "rois.npy", tmp_path / "ref.npy", "--layout", "nhwc",
              "--spatial-scale", "1/8,1/4", "--json")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["best"]["spatial_scale"] == "1/8,1/4" and "--layout nhwc" in report["command"]
