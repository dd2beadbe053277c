"""`roialign grad`: pool's options, files and pipes, max pooling reading the features, comparison with a
framework's dumped gradient through `diff`, and bad input in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from roialign_cli import roi_align_backward

FIXTURES = np.load(Path(__file__).parent / "fixtures" / "torchvision_grad.npz", allow_pickle=False)


@pytest.fixture
def inputs(tmp_path, rng):
    features = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)
    rois = np.array([[0, 4, 4, 40, 30], [1, -8, 0, 20, 44], [1, 10, 10, 11, 11]], dtype=np.float32)
    grad = rng.standard_normal((3, 3, 3, 5)).astype(np.float32)
    for name, array in (("feat", features), ("rois", rois), ("grad", grad)):
        np.save(tmp_path / f"{name}.npy", array)
    return tmp_path, features, rois, grad


def _files(tmp):
    return tmp / "feat.npy", tmp / "rois.npy", tmp / "grad.npy"


def test_grad_writes_the_api_result(cli, inputs):
    tmp, features, rois, grad = inputs
    result = cli("grad", *_files(tmp), "--spatial-scale", "1/4", "--sampling-ratio", "2", "--aligned",
                 "--backend", "numpy", "-o", tmp / "out.npy")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = roi_align_backward(grad, rois, features.shape, (3, 5), 0.25, 2, True, backend="numpy")
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), expected)
    assert "roialign grad" in result.stdout and "2, 3, 10, 12" in result.stdout


def test_max_mode_reads_the_features(cli, inputs):
    tmp, features, rois, grad = inputs
    result = cli("grad", *_files(tmp), "--preset", "onnxruntime", "--mode", "max", "--backend", "numpy",
                 "-o", tmp / "out.npy", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["convention"]["pooling"] == "corner-max" and summary["grad_output"]["shape"] == [3, 3, 3, 5]
    expected = roi_align_backward(grad, rois, features.shape, preset="onnxruntime", mode="max", features=features,
                                  backend="numpy")  # fmt: skip
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), expected)


def test_a_torchvision_gradient_compares_equal_through_diff(shell, tmp_path):
    """The fixture's torchvision gradient, dumped to a file, against `roialign grad` piped into `diff`."""
    name = "float32_a1_sr2_s4"
    for key in ("features", "rois", "grad_output", "grad_features"):
        np.save(tmp_path / f"{key}.npy", FIXTURES[f"{name}/{key}"])
    result = shell("$ROIALIGN grad features.npy rois.npy grad_output.npy --spatial-scale 1/4 --sampling-ratio 2 "
                   "--aligned --backend numpy -o - | $ROIALIGN diff - grad_features.npy --quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--output-size", "7"], "output size 7x7 differs"),
        (["--sampling-ratio", "-2"], "'--sampling-ratio': must be -1"),
        (["--switch", "pooling=square"], "pooling must be one of"),
    ],
)
def test_bad_options_fail_in_one_line(cli, inputs, args, words):
    tmp, *_ = inputs
    result = cli("grad", *_files(tmp), *args, "-o", tmp / "out.npy")
    _assert_one_line_error(result, words)


def test_bad_gradients_fail_in_one_line(cli, inputs):
    tmp, *_ = inputs
    np.save(tmp / "wrong.npy", np.zeros((2, 3, 3, 5), dtype=np.float32))
    _assert_one_line_error(cli("grad", tmp / "feat.npy", tmp / "rois.npy", tmp / "wrong.npy", "-o", tmp / "o.npy"),
                           "3 rois but the output's gradient has 2")  # fmt: skip
    np.save(tmp / "double.npy", np.zeros((3, 3, 3, 5)))
    _assert_one_line_error(cli("grad", tmp / "feat.npy", tmp / "rois.npy", tmp / "double.npy", "-o", tmp / "o.npy"),
                           "GRAD_OUTPUT is float64 but FEATURES are float32")  # fmt: skip


def test_inputs_are_never_overwritten_and_stdin_is_read_once(cli, inputs):
    tmp, *_ = inputs
    _assert_one_line_error(cli("grad", *_files(tmp), "-o", tmp / "grad.npy"), "grad.npy")
    _assert_one_line_error(cli("grad", "-", tmp / "rois.npy", "-"), "only one of FEATURES, ROIS and GRAD_OUTPUT")


def _assert_one_line_error(result, words):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("Error: ", "roialign: error: ")) and words in lines[0], lines[0]
