"""`roialign onnx`: every kind of bad input gives one line on stderr and exit code 2; start-up stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

import onnx_models as models
from helpers import subprocess_env


def assert_one_line_error(result, fragment: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture
def model_and_feeds(tmp_path):
    path = models.save(models.roialign_model(16, sampling_ratio=2), tmp_path / "m.onnx")
    feeds = models.feeds()
    return path, feeds


def write_feeds(tmp_path, feeds) -> str:
    np.savez(tmp_path / "feeds.npz", **feeds)
    return str(tmp_path / "feeds.npz")


def test_not_an_onnx_file(cli, tmp_path):
    (tmp_path / "notes.onnx").write_text("not a model at all\n")
    assert_one_line_error(cli("onnx", tmp_path / "notes.onnx"), "not an ONNX model")


def test_truncated_protobuf(cli, tmp_path, model_and_feeds):
    path, _ = model_and_feeds
    data = Path(path).read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    assert_one_line_error(cli("onnx", tmp_path / "cut.onnx"), "truncated")


def test_missing_file_and_directory(cli, tmp_path):
    assert_one_line_error(cli("onnx", tmp_path / "absent.onnx"), "no such file")
    assert_one_line_error(cli("onnx", tmp_path), "is a directory")


def test_external_data_missing_reads_but_cannot_run(cli, tmp_path):
    import onnx

    model = models.roialign_model(16, conv=True, sampling_ratio=2)
    onnx.save(model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    assert cli("onnx", tmp_path / "ext.onnx").exit_code == 0  # the reading needs no weights
    feeds = write_feeds(tmp_path, models.feeds())
    assert_one_line_error(cli("onnx", tmp_path / "ext.onnx", "--run", feeds), "external data")


def test_opset_without_roialign(cli, tmp_path):
    path = models.save(models.roialign_model(9), tmp_path / "old.onnx")
    assert_one_line_error(cli("onnx", path), "opset 9 has no RoiAlign")


def test_run_without_onnxruntime(cli, tmp_path, model_and_feeds, monkeypatch):
    path, feeds = model_and_feeds
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    assert_one_line_error(cli("onnx", path, "--run", write_feeds(tmp_path, feeds)), "pip install onnxruntime")


def test_without_the_onnx_package(cli, model_and_feeds, monkeypatch):
    path, _ = model_and_feeds
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert_one_line_error(cli("onnx", path), "pip install onnx")


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda f: f.pop("batch_indices"), "no array for the model's input 'batch_indices'"),
        (
            lambda f: f.update(X=f["X"][:, :, :5]),
            "input 'X' has shape [2, 3, 5, 14]; the model declares [2, 3, 12, 14]",
        ),
        (lambda f: f.update(rois=f["rois"][:, :3]), "input 'rois' has shape"),
        (lambda f: f.update(X=f["X"].astype(np.float64)), "input 'X' is float64; the model wants float32"),
        (lambda f: f.update(extra=np.zeros(1)), "'extra' is not an input of the model"),
    ],
)
def test_bad_feeds(cli, tmp_path, model_and_feeds, change, fragment):
    pytest.importorskip("onnxruntime")
    path, feeds = model_and_feeds
    change(feeds)
    assert_one_line_error(cli("onnx", path, "--run", write_feeds(tmp_path, feeds)), fragment)


def test_batch_index_out_of_range_is_onnxruntimes_one_line(cli, tmp_path, model_and_feeds):
    pytest.importorskip("onnxruntime")
    path, feeds = model_and_feeds
    feeds["batch_indices"] = feeds["batch_indices"] + 5
    assert_one_line_error(cli("onnx", path, "--run", write_feeds(tmp_path, feeds)), "onnxruntime cannot run")


def test_feeds_that_are_not_an_archive(cli, tmp_path, model_and_feeds):
    path, feeds = model_and_feeds
    np.save(tmp_path / "x.npy", feeds["X"])
    assert_one_line_error(cli("onnx", path, "--run", tmp_path / "x.npy"), "not an .npz archive")


def test_opset_22_cannot_run_in_onnxruntime(cli, tmp_path):
    pytest.importorskip("onnxruntime")
    path = models.save(models.roialign_model(22, sampling_ratio=2), tmp_path / "m22.onnx")
    assert_one_line_error(cli("onnx", path, "--run", write_feeds(tmp_path, models.feeds())), "onnxruntime cannot run")


def test_coordinate_mode_at_opset_10_cannot_run_in_onnxruntime(cli, tmp_path):
    pytest.importorskip("onnxruntime")
    model = models.roialign_model(10, coordinate_transformation_mode="half_pixel")
    path = models.save(model, tmp_path / "m10.onnx")
    assert_one_line_error(cli("onnx", path, "--run", write_feeds(tmp_path, models.feeds())), "onnxruntime cannot run")


def test_custom_op_cannot_run_in_plain_onnxruntime(cli, tmp_path):
    pytest.importorskip("onnxruntime")
    model = models.custom_op_model(
        "MMCVRoiAlign",
        "mmcv",
        output_height=2,
        output_width=2,
        spatial_scale=0.5,
        sampling_ratio=2,
        mode="avg",
        aligned=1,
    )
    path = models.save(model, tmp_path / "mmcv.onnx")
    feeds = write_feeds(tmp_path, models.feeds(rois5=True))
    assert_one_line_error(cli("onnx", path, "--run", feeds), "onnxruntime cannot run")


def test_save_captured_needs_run(cli, model_and_feeds, tmp_path):
    path, _ = model_and_feeds
    assert_one_line_error(cli("onnx", path, "--save-captured", tmp_path / "out"), "--save-captured needs --run")


@pytest.mark.parametrize("args", [["--help"], ["onnx", "--help"]])
def test_help_imports_neither_onnx_nor_onnxruntime(args):
    probe = (
        "import contextlib, io, sys\n"
        "from roialign_cli.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({args!r}, standalone_mode=False)\n"
        "print(sorted(m for m in ('onnx', 'onnxruntime', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
