"""`roialign pool` over a pyramid (an .npz of maps or a list of .npy) and `roialign levels`."""

import json
from pathlib import Path

import numpy as np
import pytest

from roialign_cli.api import multi_scale_roi_align

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_pyramid.npz", allow_pickle=False)
CASE = "p2p5_sr2"  # image 256x160, P2..P5, sampling ratio 2, 7x7


@pytest.fixture
def pyramid(tmp_path):
    maps = [FIXTURES[f"{CASE}/map{i}"] for i in range(4)]
    np.savez(tmp_path / "pyr.npz", **{f"p{i + 2}": m for i, m in enumerate(maps)})
    for i, m in enumerate(maps):
        np.save(tmp_path / f"p{i + 2}.npy", m)
    np.save(tmp_path / "rois.npy", FIXTURES[f"{CASE}/rois"])
    return tmp_path


def test_npz_with_inferred_scales_is_multiscale_roi_align(cli, pyramid):
    out = pyramid / "out.npy"
    result = cli(
        "pool", pyramid / "pyr.npz", pyramid / "rois.npy", "--image-size", "256x160", "--sampling-ratio", "2", "-o", out
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(out), FIXTURES[f"{CASE}/output"], rtol=0, atol=1e-5)


def test_list_of_npy_with_given_scales_and_json_levels(cli, pyramid):
    maps = ",".join(str(pyramid / f"p{k}.npy") for k in range(2, 6))
    result = cli(
        "pool",
        maps,
        pyramid / "rois.npy",
        "--spatial-scale",
        "1/4,1/8,1/16,1/32",
        "--sampling-ratio",
        "2",
        "--level-mapper",
        "mmdet",
        "--json",
        "-o",
        pyramid / "out.npy",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    expected_levels = (FIXTURES[f"{CASE}/levels"] + 2).tolist()  # mmdet agrees with torchvision on these boxes
    assert summary["levels"] == expected_levels and summary["level_mapper"] == "mmdet"
    assert sum(summary["rois_per_level"].values()) == len(expected_levels)
    rois = FIXTURES[f"{CASE}/rois"]
    direct = multi_scale_roi_align(
        [FIXTURES[f"{CASE}/map{i}"] for i in range(4)],
        rois,
        7,
        spatial_scales=[1 / 4, 1 / 8, 1 / 16, 1 / 32],
        level_mapper="mmdet",
        sampling_ratio=2,
        backend="numpy",
    )
    np.testing.assert_array_equal(np.load(pyramid / "out.npy"), direct)


def test_openvino_mapper_leaves_an_empty_box_at_zero(cli, pyramid):
    rois = np.array([[0, 10, 10, 10, 60], [0, 0, 0, 112, 112]], np.float32)
    np.save(pyramid / "two.npy", rois)
    result = cli(
        "pool",
        pyramid / "pyr.npz",
        pyramid / "two.npy",
        "--image-size",
        "256x160",
        "--level-mapper",
        "openvino",
        "--json",
        "-o",
        pyramid / "out.npy",
    )
    summary = json.loads(result.stdout)
    assert summary["levels"] == [None, 3] and summary["rois_per_level"]["none"] == 1
    out = np.load(pyramid / "out.npy")
    assert not out[0].any() and out[1].any()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--sampling-ratio", "2"], "needs --spatial-scale"),
        (["--spatial-scale", "1/4,1/8"], "2 spatial scales for 4 feature maps"),
        (["--image-size", "256x160", "--level-mapper", "fpn"], "unknown level mapper"),
        (["--spatial-scale", "1/4,x,1/16,1/32"], "spatial scale must be a number"),
    ],
)
def test_bad_pyramid_input_is_one_line(cli, pyramid, args, message):
    result = cli("pool", pyramid / "pyr.npz", pyramid / "rois.npy", *args, "-o", pyramid / "out.npy")
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (pyramid / "out.npy").exists()


def test_maps_must_share_batch_and_channels(cli, pyramid):
    np.save(pyramid / "odd.npy", np.zeros((2, 5, 10, 16), np.float32))
    maps = f"{pyramid / 'p2.npy'},{pyramid / 'p3.npy'},{pyramid / 'odd.npy'},{pyramid / 'p5.npy'}"
    result = cli("pool", maps, pyramid / "rois.npy", "--image-size", "256x160", "-o", pyramid / "out.npy")
    assert result.exit_code == 2 and "feature map 2 has batch and channels [2, 5]" in result.stderr


def test_level_mapper_needs_a_pyramid(cli, pyramid):
    result = cli("pool", pyramid / "p2.npy", pyramid / "rois.npy", "--level-mapper", "mmdet", "-o", pyramid / "o.npy")
    assert result.exit_code == 2 and "needs a pyramid" in result.stderr


def test_levels_json_and_summary(cli, pyramid):
    rois = np.array([[0, 0, 0, 112, 112], [0, 0, 0, 160, 160], [0, 0, 0, 224, 224], [0, 0, 0, 60, 60]], np.float32)
    np.save(pyramid / "four.npy", rois)
    args = (
        "levels",
        pyramid / "four.npy",
        "--image-size",
        "1024x1024",
        "--level-mapper",
        "torchvision,matterport,tensorrt",
    )
    data = json.loads(cli(*args, "--json").stdout)
    assert data["mappers"] == ["torchvision", "matterport", "tensorrt-pyramid"]
    # 112: P3 / P3 / P2 (area = t, not > t); 160: P3 / P4 (round) / P3; 224: P4 / P4 / P3 (area = 4t);
    # 60: P2 everywhere
    assert data["levels"] == {"torchvision": [3, 3, 4, 2], "matterport": [3, 4, 4, 2], "tensorrt-pyramid": [2, 3, 3, 2]}
    assert data["disagreements"]["boxes"] == [0, 1, 2] and data["disagreements"]["per_mapper"] == {
        "matterport": 1,
        "tensorrt-pyramid": 2,
    }
    text = cli(*args).stdout
    assert "1 of 4 boxes go to a different level under matterport than under torchvision" in text


def test_levels_of_relative_boxes_use_the_image_size(cli, pyramid):
    np.save(pyramid / "rel.npy", np.array([[0, 0, 0, 0.5, 0.5]], np.float32))  # 256 x 256 px of 512x512
    data = json.loads(
        cli("levels", pyramid / "rel.npy", "--image-size", "512x512", "--level-mapper", "torchvision", "--json").stdout
    )
    assert data["levels"]["torchvision"] == [4]
