"""`explain` over a pyramid names the level mapper (and convention) that made a reference."""

import json
from pathlib import Path

import numpy as np
import pytest

from roialign_cli.explain_pyramid import explain_pyramid
from roialign_cli.presets import resolve
from roialign_cli.pyramid import pool_pyramid

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_pyramid.npz", allow_pickle=False)
SCALES = [1 / 8, 1 / 16, 1 / 32]


@pytest.fixture
def scene(rng):
    maps = [rng.standard_normal((1, 4, 192 // s, 256 // s)).astype(np.float32) for s in (8, 16, 32)]
    sides = np.array([40, 60, 111.5, 112, 150, 200, 223, 224, 300, 447, 448, 600], np.float64)
    xy = rng.uniform(0, 100, (len(sides), 2))
    rois = np.concatenate([np.zeros((len(sides), 1)), xy, xy + sides[:, None]], axis=1)
    return maps, rois


@pytest.mark.parametrize("mapper", ["mmdet", "tensorrt-pyramid", "openvino-experimental-detectron"])
def test_names_the_mapper_that_made_the_reference(scene, mapper):
    maps, rois = scene
    convention = resolve("torchvision-aligned")
    reference = pool_pyramid(
        maps, rois, 5, convention, mapper=mapper, image_size=(256, 192), spatial_scales=SCALES, backend="numpy"
    ).output
    result = explain_pyramid(maps, rois, reference, image_size=(256, 192), spatial_scales=SCALES)
    assert result.matched and mapper in result.best.group.names
    assert result.best.scored.candidate.convention.sample_offset == 0.5
    assert f"--level-mapper {result.best.group.names[0]}" in result.command
    assert "torchvision" not in result.best.group.names  # it puts some of these boxes elsewhere


def test_cli_on_torchvision_fixture(cli, tmp_path):
    name = "p2p5_sr2"
    np.savez(tmp_path / "pyr.npz", **{f"p{i + 2}": FIXTURES[f"{name}/map{i}"] for i in range(4)})
    np.save(tmp_path / "rois.npy", FIXTURES[f"{name}/rois"])
    np.save(tmp_path / "ref.npy", FIXTURES[f"{name}/output"])
    result = cli(
        "explain",
        tmp_path / "pyr.npz",
        tmp_path / "rois.npy",
        tmp_path / "ref.npy",
        "--image-size",
        "256x160",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["matched"] and "torchvision" in data["equivalent_mappers"]
    assert data["best"]["preset"] == "caffe2" and data["best"]["sampling"] == "2"
    assert "--level-mapper torchvision --spatial-scale 1/4,1/8,1/16,1/32" in data["command"]
    assert data["command"].startswith(f"roialign pool {tmp_path / 'pyr.npz'} ")


def test_cli_pyramid_needs_scales_or_image_size(cli, tmp_path):
    np.savez(tmp_path / "pyr.npz", a=np.zeros((1, 1, 8, 8), np.float32), b=np.zeros((1, 1, 4, 4), np.float32))
    np.save(tmp_path / "rois.npy", np.array([[0, 1, 1, 5, 5]], np.float32))
    np.save(tmp_path / "ref.npy", np.zeros((1, 1, 7, 7), np.float32))
    result = cli("explain", tmp_path / "pyr.npz", tmp_path / "rois.npy", tmp_path / "ref.npy")
    assert result.exit_code == 2 and "needs --spatial-scale" in result.stderr
