"""`roialign pool`: files, pipes, summaries, warnings, and every kind of bad input."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from roialign_cli import Convention, roi_align


@pytest.fixture
def inputs(tmp_path, rng):
    features = rng.standard_normal((2, 3, 10, 12)).astype(np.float32)
    rois = np.array([[0, 4, 4, 40, 30], [1, -8, 0, 20, 44], [1, 10, 10, 11, 11]], dtype=np.float32)
    np.save(tmp_path / "feat.npy", features)
    np.save(tmp_path / "rois.npy", rois)
    return tmp_path, features, rois


def test_pool_writes_the_api_result(cli, inputs):
    tmp, features, rois = inputs
    result = cli(
        "pool",
        tmp / "feat.npy",
        tmp / "rois.npy",
        "--spatial-scale",
        "1/4",
        "--output-size",
        "3x5",
        "--sampling-ratio",
        "2",
        "--aligned",
        "--backend",
        "numpy",
        "-o",
        tmp / "out.npy",
    )
    assert result.exit_code == 0, result.stderr
    expected = roi_align(features, rois, (3, 5), 0.25, 2, True, backend="numpy")
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), expected)
    assert "3, 3, 3, 5" in result.stdout  # the summary names the output shape


def test_json_summary_is_machine_readable(cli, inputs):
    tmp, _, _ = inputs
    result = cli(
        "pool",
        tmp / "feat.npy",
        tmp / "rois.npy",
        "--backend",
        "numpy",
        "--preset",
        "detectron2",
        "-o",
        tmp / "out.npy",
        "--json",
    )
    summary = json.loads(result.stdout)
    assert summary["output"]["shape"] == [3, 3, 7, 7]
    assert summary["convention"]["sample_offset"] == 0.5 and summary["convention"]["min_size"] is None
    assert summary["backend"] == "numpy" and summary["rois"]["count"] == 3


def test_real_pipe_in_and_out(shell, inputs):
    """rois come from stdin through a real pipe; the array leaves through stdout into another process."""
    tmp, features, rois = inputs
    result = shell(
        "cat rois.npy | $ROIALIGN pool feat.npy - --spatial-scale 0.25 --backend numpy -o - "
        '| python3 -c \'import sys, numpy; a = numpy.load(__import__("io").BytesIO(sys.stdin.buffer.read())); '
        'numpy.save("piped.npy", a)\'',
        check=True,
    )
    expected = roi_align(features, rois, (7, 7), 0.25, backend="numpy")
    np.testing.assert_array_equal(np.load(tmp / "piped.npy"), expected)
    assert b"roialign pool" in result.stderr  # the human summary went to stderr


def test_stdout_pipe_is_the_default_output(shell, inputs):
    tmp, features, rois = inputs
    shell("$ROIALIGN pool feat.npy rois.npy --backend numpy > implicit.npy", check=True)
    np.testing.assert_array_equal(np.load(tmp / "implicit.npy"), roi_align(features, rois, backend="numpy"))


def test_ssd_rows_with_padding_and_image_size(cli, tmp_path, rng):
    features = rng.standard_normal((1, 2, 24, 72)).astype(np.float32)
    rows = np.array([[0, 1, 0.9, 0.1, 0.2, 0.5, 0.9], [0, 2, 0.8, 0.0, 0.0, 1.0, 1.0], [-1] * 7, [-1] * 7])
    np.save(tmp_path / "feat.npy", features)
    np.save(tmp_path / "det.npy", rows[None, None].astype(np.float32))
    result = cli(
        "pool",
        tmp_path / "feat.npy",
        tmp_path / "det.npy",
        "--image-size",
        "576x192",
        "--spatial-scale",
        "1/8",
        "--backend",
        "numpy",
        "-o",
        tmp_path / "out.npy",
    )
    assert result.exit_code == 0, result.stderr
    absolute = np.stack([rows[:2, 0], rows[:2, 3] * 576, rows[:2, 4] * 192, rows[:2, 5] * 576, rows[:2, 6] * 192], 1)
    expected = roi_align(features, absolute, (7, 7), 1 / 8, backend="numpy")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    assert "2 padding rows dropped" in result.stdout


def test_relative_boxes_read_as_absolute_get_a_warning(cli, tmp_path, rng):
    np.save(tmp_path / "feat.npy", rng.standard_normal((1, 2, 24, 72)).astype(np.float32))
    np.save(tmp_path / "rel.npy", np.array([[0, 0.1, 0.2, 0.5, 0.9]], dtype=np.float32))
    result = cli(
        "pool",
        tmp_path / "feat.npy",
        tmp_path / "rel.npy",
        "--spatial-scale",
        "1/8",
        "--backend",
        "numpy",
        "-o",
        tmp_path / "out.npy",
    )
    assert result.exit_code == 0
    assert "look like relative boxes" in result.stderr and "--image-size" in result.stderr


def _write(path, array_or_bytes):
    if isinstance(array_or_bytes, bytes):
        path.write_bytes(array_or_bytes)
    else:
        np.save(path, array_or_bytes, allow_pickle=True)
    return path


def _truncated_npy(tmp_path):
    np.save(tmp_path / "full.npy", np.zeros((2, 3, 8, 8), np.float32))
    return (tmp_path / "full.npy").read_bytes()[:300]


BAD_FEATURES = {
    "wrong rank": (lambda t: np.zeros((3, 8, 8), np.float32), "4-d"),
    "integer dtype": (lambda t: np.zeros((1, 3, 8, 8), np.int32), "float16, float32 or float64"),
    "truncated": (_truncated_npy, "truncated"),
    "pickled objects": (lambda t: np.array([{"a": 1}], dtype=object), "pickled"),
    "not npy": (lambda t: b"hello, I am text\n", "not a .npy or .npz file"),
}


@pytest.mark.parametrize("case", BAD_FEATURES, ids=list(BAD_FEATURES))
def test_bad_features_fail_in_one_line(cli, inputs, case):
    tmp, _, _ = inputs
    make, words = BAD_FEATURES[case]
    bad = _write(tmp / "bad.npy", make(tmp))
    result = cli("pool", bad, tmp / "rois.npy", "--backend", "numpy", "-o", tmp / "out.npy")
    _assert_one_line_error(result, words)
    assert not (tmp / "out.npy").exists()


BAD_ROIS = {
    "wrong rank": (np.zeros((2, 3, 5), np.float32), "rois have shape"),
    "wrong columns": (np.zeros((2, 6), np.float32), "rois have shape"),
    "batch out of range": (np.array([[2, 0, 0, 4, 4]], np.float32), "outside the features' batch of 2"),
    "negative batch": (np.array([[-1, 0, 0, 4, 4]], np.float32), "batch index -1"),
    "non-integer batch": (np.array([[0.5, 0, 0, 4, 4]], np.float32), "non-integer batch index"),
    "nan box": (np.array([[0, np.nan, 0, 4, 4]], np.float32), "NaN or infinite"),
    "inf box": (np.array([[0, 0, 0, np.inf, 4]], np.float32), "NaN or infinite"),
    "strings": (np.array([["a", "b", "c", "d", "e"]]), "numeric"),
}


@pytest.mark.parametrize("case", BAD_ROIS, ids=list(BAD_ROIS))
def test_bad_rois_fail_in_one_line(cli, inputs, case):
    tmp, _, _ = inputs
    array, words = BAD_ROIS[case]
    np.save(tmp / "bad_rois.npy", array)
    result = cli("pool", tmp / "feat.npy", tmp / "bad_rois.npy", "--backend", "numpy", "-o", tmp / "out.npy")
    _assert_one_line_error(result, words)
    assert not (tmp / "out.npy").exists()


@pytest.mark.parametrize(
    "args,words",
    [
        (["--preset", "caffe3"], "unknown preset 'caffe3'"),
        (["--spatial-scale", "1/0"], "spatial scale"),
        (["--output-size", "7x"], "output size"),
        (["--image-size", "wide"], "image size"),
        (["--sampling-ratio", "-3"], "'--sampling-ratio': must be"),
    ],
)
def test_bad_options_fail_in_one_line(cli, inputs, args, words):
    tmp, _, _ = inputs
    result = cli("pool", tmp / "feat.npy", tmp / "rois.npy", *args, "--backend", "numpy", "-o", tmp / "out.npy")
    _assert_one_line_error(result, words)


def test_missing_file(cli, inputs):
    tmp, _, _ = inputs
    result = cli("pool", tmp / "nope.npy", tmp / "rois.npy", "--backend", "numpy", "-o", tmp / "out.npy")
    _assert_one_line_error(result, "no such file")


def test_output_never_overwrites_an_input(cli, inputs):
    tmp, _, rois = inputs
    result = cli("pool", tmp / "feat.npy", tmp / "rois.npy", "--backend", "numpy", "-o", tmp / "rois.npy")
    _assert_one_line_error(result, "is also an input")
    np.testing.assert_array_equal(np.load(tmp / "rois.npy"), rois)


def test_failed_run_keeps_the_previous_output_whole(cli, inputs):
    tmp, _, _ = inputs
    np.save(tmp / "out.npy", np.arange(3))
    np.save(tmp / "bad_rois.npy", np.array([[5, 0, 0, 1, 1]], np.float32))
    result = cli("pool", tmp / "feat.npy", tmp / "bad_rois.npy", "--backend", "numpy", "-o", tmp / "out.npy")
    assert result.exit_code == 2
    np.testing.assert_array_equal(np.load(tmp / "out.npy"), np.arange(3))
    assert sorted(p.name for p in tmp.iterdir()) == ["bad_rois.npy", "feat.npy", "out.npy", "rois.npy"]


def test_both_inputs_on_stdin_is_refused(cli, inputs):
    result = cli("pool", "-", "-", "--backend", "numpy")
    _assert_one_line_error(result, "only one of FEATURES and ROIS")


def test_empty_stdin(shell, inputs):
    result = shell("$ROIALIGN pool feat.npy - --backend numpy -o out.npy < /dev/null")
    assert result.returncode == 2
    assert result.stderr.decode().strip().count("\n") == 0 and b"stdin is empty" in result.stderr


def test_pickle_is_never_executed(cli, inputs):
    """A pickle payload posing as .npy is refused before anything is unpickled."""
    tmp, _, _ = inputs
    marker = tmp / "pwned"
    payload = pickle.dumps(_Exploit(str(marker)))
    (tmp / "evil.npy").write_bytes(payload)
    result = cli("pool", tmp / "feat.npy", tmp / "evil.npy", "--backend", "numpy", "-o", tmp / "out.npy")
    assert result.exit_code == 2
    assert not marker.exists()


class _Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _assert_one_line_error(result, words):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("Error: ", "roialign: error: ")) and words in lines[0], lines[0]


def test_switch_sets_any_convention_field(cli, inputs):
    tmp, features, _ = inputs
    relative = np.array([[0, 0.1, 0.2, 0.6, 0.9], [1, 0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
    np.save(tmp / "rel.npy", relative)
    result = cli(
        "pool",
        tmp / "feat.npy",
        tmp / "rel.npy",
        "--switch",
        "coordinates=relative-feature",
        "--switch",
        "min_size=none",
        "--backend",
        "numpy",
        "-o",
        tmp / "out.npy",
    )
    assert result.exit_code == 0, result.stderr
    absolute = relative * np.array([1, 12, 10, 12, 10], dtype=np.float32)  # x feature width 12, height 10
    expected = roi_align(features, absolute, (7, 7), 1.0, preset=Convention(min_size=None), backend="numpy")
    np.testing.assert_allclose(np.load(tmp / "out.npy"), expected, atol=1e-6)


@pytest.mark.parametrize(
    "switch,words",
    [
        ("colour=red", "a switch is NAME=VALUE"),
        ("border=wavy", "border must be one of"),
        ("sampling_ratio=two", "switch sampling_ratio cannot be 'two'"),
        ("clip_box=maybe", "switch clip_box"),
    ],
)
def test_bad_switches_fail_in_one_line(cli, inputs, switch, words):
    tmp, _, _ = inputs
    result = cli(
        "pool", tmp / "feat.npy", tmp / "rois.npy", "--switch", switch, "--backend", "numpy", "-o", tmp / "out.npy"
    )
    _assert_one_line_error(result, words)
