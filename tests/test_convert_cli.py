"""`roialign convert boxes`: the seed case through a real pipe, previews, options and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from roialign_cli import api
from seed_case import SEED_STRIDE, hand_converted, seed_detections


@pytest.fixture
def seed_files(tmp_path, rng):
    detections = seed_detections(rng)
    features = rng.standard_normal((1, 8, 24, 72)).astype(np.float32)
    np.save(tmp_path / "det.npy", detections)
    np.save(tmp_path / "feat.npy", features)
    return tmp_path, detections, features


def test_seed_blob_pipes_into_pool(seed_files, shell):
    tmp_path, detections, features = seed_files
    result = shell(
        "$ROIALIGN convert boxes det.npy --from ssd --to rois5 --image-size 576x192 -o - "
        "| $ROIALIGN pool feat.npy - --spatial-scale 1/8 --backend numpy -o out.npy",
        check=True,
    )
    expected = api.roi_align(features, hand_converted(detections), (7, 7), 1 / SEED_STRIDE, backend="numpy")
    assert np.array_equal(np.load(tmp_path / "out.npy"), expected)
    preview = result.stderr.decode()
    assert "kept 16 boxes; dropped 2 padding rows" in preview


def test_archives_pass_through_pipes(seed_files, shell):
    tmp_path, detections, _ = seed_files
    shell(
        "$ROIALIGN convert boxes det.npy --from ssd --to onnx --image-size 576x192 "
        "| $ROIALIGN convert boxes - --from onnx --to tf --image-size 576x192 "
        "| $ROIALIGN convert boxes - --from tf --to rois5 --to-space absolute --image-size 576x192 -o rois.npy",
        check=True,
    )
    np.testing.assert_allclose(np.load(tmp_path / "rois.npy"), hand_converted(detections), rtol=1e-12)


def test_preview_shows_first_and_last_boxes_and_counts(seed_files, cli):
    tmp_path, detections, _ = seed_files
    result = cli(
        "convert",
        "boxes",
        tmp_path / "det.npy",
        "--from",
        "ssd",
        "--to",
        "rois5",
        "--image-size",
        "576x192",
        "--stride",
        "8",
        "--to-space",
        "feature",
        "--labels",
        "1,2",
        "--min-score",
        "0.4",
        "-o",
        tmp_path / "rois.npy",
    )
    assert result.exit_code == 0, result.stderr
    labels, scores = detections[0, 0, :16, 1], detections[0, 0, :16, 2]
    by_label = int((~np.isin(labels, [1, 2])).sum())
    by_score = int((np.isin(labels, [1, 2]) & (scores < 0.4)).sum())
    kept = 16 - by_label - by_score
    assert (
        f"kept {kept} boxes; dropped 2 padding rows, {by_label} not in --labels, {by_score} below --min-score"
        in result.stderr
    )
    assert "ssd (relative) -> rois5 (feature)" in result.stderr
    assert result.stderr.count("\n   ...") <= 1 and "out" in result.stderr
    assert np.load(tmp_path / "rois.npy").shape == (kept, 5)
    assert result.stdout == ""


def test_json_summary(seed_files, cli):
    tmp_path, _, _ = seed_files
    result = cli(
        "convert",
        "boxes",
        tmp_path / "det.npy",
        "--from",
        "ssd",
        "--to",
        "onnx",
        "--image-size",
        "576x192",
        "--dtype",
        "float32",
        "-o",
        tmp_path / "rois.npz",
        "--json",
    )
    summary = json.loads(result.stdout)
    assert summary["boxes"] == {"kept": 16, "dropped": {"padding": 2, "labels": 0, "min_score": 0}}
    assert summary["output"]["arrays"] == {
        "rois": {"shape": [16, 4], "dtype": "float32"},
        "batch_indices": {"shape": [16], "dtype": "int64"},
    }
    assert summary["input"]["space"] == "relative" and summary["output"]["space"] == "absolute"
    with np.load(tmp_path / "rois.npz") as archive:
        assert sorted(archive.files) == ["batch_indices", "rois"]


def test_batch_file_and_batch_out(tmp_path, cli):
    np.save(tmp_path / "boxes.npy", np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]]))
    np.save(tmp_path / "batch.npy", np.array([1, 0]))
    result = cli(
        "convert",
        "boxes",
        tmp_path / "boxes.npy",
        "--from",
        "xyxy",
        "--to",
        "rois5",
        "--batch-file",
        tmp_path / "batch.npy",
        "-o",
        tmp_path / "rois.npy",
    )
    assert result.exit_code == 0, result.stderr
    assert np.load(tmp_path / "rois.npy")[:, 0].tolist() == [1, 0]
    result = cli(
        "convert",
        "boxes",
        tmp_path / "rois.npy",
        "--from",
        "rois5",
        "--to",
        "yxyx",
        "-o",
        tmp_path / "yxyx.npy",
        "--batch-out",
        tmp_path / "b.npy",
    )
    assert result.exit_code == 0, result.stderr
    assert np.load(tmp_path / "yxyx.npy").tolist() == [[2, 1, 4, 3], [6, 5, 8, 7]]
    assert np.load(tmp_path / "b.npy").tolist() == [1, 0] and np.load(tmp_path / "b.npy").dtype == np.int64
    # Without --batch-out the batch indices would be lost: refused.
    result = cli(
        "convert", "boxes", tmp_path / "rois.npy", "--from", "rois5", "--to", "xyxy", "-o", tmp_path / "lost.npy"
    )
    assert result.exit_code == 2 and "--batch-out" in result.stderr
    assert not (tmp_path / "lost.npy").exists()


def test_stdin_and_stdout(tmp_path, cli):
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([[0.5, 0.5, 1.0, 1.0]]))
    result = cli(
        "convert",
        "boxes",
        "-",
        "--from",
        "xyxy",
        "--from-space",
        "relative",
        "--to",
        "rois5",
        "--image-size",
        "576x192",
        "-o",
        "-",
        input=buffer.getvalue(),
    )
    assert result.exit_code == 0, result.stderr
    assert np.load(io.BytesIO(result.stdout_bytes)).tolist() == [[0, 288, 96, 576, 192]]


def test_warns_about_relative_looking_boxes_read_as_pixels(tmp_path, cli):
    np.save(tmp_path / "rois.npy", np.array([[0, 0.1, 0.2, 0.5, 0.6]]))
    result = cli("convert", "boxes", tmp_path / "rois.npy", "--from", "rois5", "--to", "onnx", "-o", tmp_path / "r.npz")
    assert result.exit_code == 0
    assert "warning: every coordinate lies in [0, 1]" in result.stderr


def test_never_overwrites_its_input(tmp_path, cli):
    np.save(tmp_path / "rois.npy", np.array([[0, 1.0, 2, 3, 4]]))
    result = cli(
        "convert", "boxes", tmp_path / "rois.npy", "--from", "rois5", "--to", "xyxy", "-o", tmp_path / "rois.npy"
    )
    assert result.exit_code == 2 and "also an input" in result.stderr


@pytest.fixture
def bad_inputs(tmp_path):
    np.save(tmp_path / "six.npy", np.zeros((3, 6)))
    nan = np.array([[0, 1, 0.9, 0.1, np.nan, 0.5, 0.5]])
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "det.npy", np.array([[0, 1, 0.9, 0.1, 0.1, 0.5, 0.5]]))
    (tmp_path / "text.npz").write_text("not an archive")
    return tmp_path


@pytest.mark.parametrize(
    "args, message",
    [
        (["six.npy", "--from", "rois5", "--to", "xyxy"], "shape [3, 6]"),
        (["six.npy", "--from", "ssd", "--to", "rois5"], "shape [3, 6]"),
        (["nan.npy", "--from", "ssd", "--to", "rois5", "--image-size", "10x10"], "NaN"),
        (["det.npy", "--from", "detections", "--to", "rois5"], "unknown box format 'detections'"),
        (["det.npy", "--from", "ssd", "--to", "boxes"], "unknown box format 'boxes'"),
        (["det.npy", "--from", "ssd", "--to", "rois5"], "--image-size"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--image-size", "10x"], "image size"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--from-space", "pixels"], "unknown coordinate space"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--to-space", "feature", "--image-size", "8x8"], "--stride"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--stride", "0"], "--stride"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--stride", "8", "--spatial-scale", "1/8"], "not both"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--batch-index", "1"], "own batch indices"),
        (["det.npy", "--from", "ssd", "--to", "rois5", "--labels", "one"], "--labels"),
        (["det.npy", "--from", "ssd", "--to", "onnx", "--batch-out", "b.npy"], "--batch-out"),
        (["text.npz", "--from", "onnx", "--to", "rois5"], "text.npz"),
        (["det.npy", "--from", "onnx", "--to", "rois5"], "not an .npz archive"),
        (["missing.npy", "--from", "rois5", "--to", "xyxy"], "no such file"),
    ],
)
def test_bad_input_gets_one_line_and_exit_2(bad_inputs, cli, args, message, monkeypatch):
    monkeypatch.chdir(bad_inputs)
    result = cli("convert", "boxes", *args, "-o", "out.npy")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert not (bad_inputs / "out.npy").exists()


def test_help_lists_formats_and_spaces_without_importing_numpy():
    import subprocess
    import sys

    from helpers import subprocess_env

    script = (
        "import sys\nfrom click.testing import CliRunner\nfrom roialign_cli.cli import main\n"
        "out = CliRunner().invoke(main, ['convert', 'boxes', '--help']).output\n"
        "assert 'numpy' not in sys.modules, 'numpy imported'\nprint(out)"
    )
    result = subprocess.run([sys.executable, "-c", script], env=subprocess_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for name in ("rois5", "cxcywh", "ssd", "onnx", "per-image", "relative", "feature", "tf"):
        assert f"  {name} " in result.stdout
