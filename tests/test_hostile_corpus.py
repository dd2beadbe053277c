"""A corpus of hostile and careless inputs for every subcommand: each gets one line and exit 2 (or
works, where the input is unusual but valid), never a traceback, a NumPy warning or a stray file.

Cases are (arguments, expected exit status, a fragment of the one-line message). `{out}` is an
empty directory for outputs; inputs come from the corpus directory (tests/hostile_files.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from hostile_files import listing, make_corpus

USAGE = "roialign: error:"

POOL = [
    (["f_crc.npz", "r.npy"], 2, "f_crc.npz:features: truncated or damaged"),
    (["f_half.npz", "r.npy"], 2, "f_half.npz: truncated or damaged"),
    (["badzip.npz", "r.npy"], 2, "badzip.npz: truncated or damaged"),
    (["f_trunc.npy", "r.npy"], 2, "truncated or damaged"),
    (["empty.npy", "r.npy"], 2, "not a .npy or .npz file"),
    (["text.npy", "r.npy"], 2, "not a .npy or .npz file"),
    (["pickle.npy", "r.npy"], 2, "pickled"),
    (["code.npy", "r.npy"], 2, "damaged .npy header"),
    (["lying.npy", "r.npy"], 2, "claims shape [10000000000000]"),
    (["lying_member.npz", "r.npy"], 2, "lying_member.npz:features: truncated or damaged"),
    (["missing.npy", "r.npy"], 2, "no such file"),
    (["odd_members.npz:notes.txt", "r.npy"], 2, "odd_members.npz:notes.txt: damaged .npy header"),
    (["/dev/zero", "r.npy"], 2, "/dev/zero: not a .npy or .npz file"),  # refused without reading on forever
    (["/dev/null", "r.npy"], 2, "/dev/null is empty"),
    (["adir", "r.npy"], 2, "is a directory"),
    (["f.npy", "adir"], 2, "is a directory"),
    (["f_int.npy", "r.npy"], 2, "float16, float32 or float64"),
    (["f_complex.npy", "r.npy"], 2, "float16, float32 or float64"),
    (["f_3d.npy", "r.npy"], 2, "4-d"),
    (["f_empty_h.npy", "r.npy"], 2, "empty height or width"),
    (["f_empty_n.npy", "r.npy"], 2, "the batch is empty"),
    (["f.npy", "r_nan.npy"], 2, "NaN"),
    (["f.npy", "r_inf.npy"], 2, "NaN or infinite"),
    (["f.npy", "r_batch.npy"], 2, "batch index 5"),
    (["f.npy", "r_frac.npy"], 2, "non-integer batch"),
    (["f.npy", "r_neg.npy"], 2, "batch index -3"),
    (["f.npy", "r_1d.npy"], 2, "rois"),
    (["f.npy", "r_6.npy"], 2, "rois"),
    (["f.npy", "r_str.npy"], 2, "rois"),
    (["f.npy", "r_1e30.npy"], 2, "ROIALIGN_MAX_ROI_SAMPLES"),
    (["f.npy", "r_huge.npy"], 2, "ROIALIGN_MAX_ROI_SAMPLES"),
    (["f.npy", "r.npy", "--sampling-ratio", "1000000"], 2, "ROIALIGN_MAX_ROI_SAMPLES"),
    (
        ["f.npy", "r.npy", "--preset", "onnxruntime", "--mode", "max", "--sampling-ratio", "2000"],
        2,
        "ROIALIGN_MAX_SECONDS",
    ),
    (["f.npy", "r.npy", "--output-size", "100000x100000"], 2, "ROIALIGN_MAX"),
    (["f.npy", "r_1e300.npy", "--sampling-ratio", "2"], 2, "beyond the range of float32"),
    (["f.npy", "r.npy", "--spatial-scale", "1e300"], 2, "beyond the range of float32"),
    (["f.npy", "r_1e300.npy", "--preset", "caffe-ssd-roialign"], 2, "beyond the range of float32"),
    (["f.npy", "r.npy", "--sampling-ratio", "1e9"], 2, "--sampling-ratio"),
    (["f.npy", "r.npy", "--sampling-ratio", "two"], 2, "--sampling-ratio"),
    (["f.npy", "r.npy", "--mode", "median"], 2, "--mode"),
    (["f.npy", "r.npy", "--backend", "tpu"], 2, "--backend"),
    (["f.npy", "r.npy", "--output-size", "0"], 2, "output size"),
    (["f.npy", "r.npy", "--output-size", "7x"], 2, "output size"),
    (["f.npy", "r.npy", "--output-size", "-3x3"], 2, "output size"),
    (["f.npy", "r.npy", "--spatial-scale", "0"], 2, "spatial scale"),
    (["f.npy", "r.npy", "--spatial-scale", "nan"], 2, "spatial scale"),
    (["f.npy", "r.npy", "--spatial-scale", "1/0"], 2, "spatial scale"),
    (["f.npy", "r.npy", "--spatial-scale", "inf"], 2, "spatial scale"),
    (["f.npy", "r.npy", "--image-size", "0x0"], 2, "image size"),
    (["f.npy", "r.npy", "--image-size", "wide"], 2, "image size"),
    (["f.npy", "r.npy", "--preset", "nope"], 2, "nope"),
    (["f.npy", "r.npy", "--option", "foo"], 2, "--option"),
    (["f.npy", "r.npy", "--preset", "onnxruntime", "--option", "a=b"], 2, "a"),
    (["f.npy", "r.npy", "--switch", "bogus=1"], 2, "bogus"),
    (["f.npy", "r.npy", "--switch", "border=nope"], 2, "border"),
    (["f.npy", "r.npy", "-o", ""], 2, "output path is empty"),
    (["f.npy", "r.npy", "-o", "adir"], 2, "is a directory"),
    (["f.npy", "r.npy", "-o", "{out}/nodir/o.npy"], 2, "does not exist"),
    (["f.npy", "r.npy", "-o", "f.npy"], 2, "also an input"),
    (["f.npy", "r.npy", "-o", "{out}/" + "a" * 300 + ".npy"], 2, "name too long"),
    (["f.npy", "r.npy", "-o", "-", "--json"], 2, "--json"),
    (["-", "-"], 2, "stdin"),
    (["f.npy", "r.npy", "--bogus"], 2, "--bogus"),
    (["f.npy"], 2, "ROIS"),
    (["f.npy", "r.npy", "extra"], 2, "extra"),
    # unusual but valid: these work
    (["f_be.npy", "r_be.npy", "-o", "{out}/o.npy"], 0, None),
    (["f.npy", "r.npy", "-o", "{out}/" + "a" * 250 + ".npy"], 0, None),  # its temporary name must fit too
    (["f0.npy", "r.npy", "-o", "{out}/o.npy"], 0, None),
    (["f.npy", "r_empty.npy", "-o", "{out}/o.npy"], 0, None),
    (["f_empty_n.npy", "r_empty.npy", "-o", "{out}/o.npy"], 0, None),
    (["f.npz", "r.npy", "-o", "{out}/o.npy"], 0, None),
    (["odd_members.npz:feat", "r.npy", "-o", "{out}/o.npy"], 0, None),  # a member named without .npy
    (["f.npy", "r_1e30.npy", "--sampling-ratio", "2", "-o", "{out}/o.npy"], 0, None),
    (
        [
            "f.npy",
            "r_1e20.npy",
            "--preset",
            "onnxruntime",
            "--mode",
            "max",
            "--sampling-ratio",
            "2",
            "-o",
            "{out}/o.npy",
        ],
        0,
        None,
    ),
    (
        ["f.npy", "r_1e20.npy", "--preset", "mmcv", "--mode", "max", "--sampling-ratio", "2", "-o", "{out}/o.npy"],
        0,
        None,
    ),
    (["f.npy", "r_1e20.npy", "--preset", "openvino-max", "--sampling-ratio", "3", "-o", "{out}/o.npy"], 0, None),
]

CONVERT = [
    (["onnx_crc.npz", "--from", "onnx", "--to", "rois5"], 2, "onnx_crc.npz:rois: truncated or damaged"),
    (["badzip.npz", "--from", "onnx", "--to", "rois5"], 2, "truncated or damaged"),
    (["lying_member.npz", "--from", "onnx", "--to", "rois5"], 2, "truncated or damaged"),
    (["pickle.npy", "--from", "rois5", "--to", "xyxy"], 2, "pickled"),
    (["lying.npy", "--from", "rois5", "--to", "xyxy"], 2, "claims shape"),
    (["code.npy", "--from", "rois5", "--to", "xyxy"], 2, "damaged .npy header"),
    (["text.npy", "--from", "rois5", "--to", "xyxy"], 2, "not a .npy"),
    (["adir", "--from", "rois5", "--to", "xyxy"], 2, "is a directory"),
    (["r_1e300.npy", "--from", "rois5", "--to", "cxcywh", "--dtype", "float32"], 2, "more than float32 holds"),
    (["r.npy", "--from", "rois5"], 2, "--to"),
    (["r.npy", "--from", "nope", "--to", "xyxy"], 2, "unknown box format"),
    (["r.npy", "--from", "rois5", "--to", "xyxy", "--dtype", "float8"], 2, "--dtype"),
    (["r.npy", "--from", "rois5", "--to", "xyxy", "--batch-index", "x"], 2, "--batch-index"),
    (["det.npy", "--from", "ssd", "--to", "rois5", "--image-size", "10x10", "--min-score", "high"], 2, "--min-score"),
    (["det.npy", "--from", "ssd", "--to", "rois5", "--image-size", "10x10", "--labels", "x"], 2, "--labels"),
    (
        ["r.npy", "--from", "rois5", "--to", "xyxy", "-o", "{out}/o.npy", "--batch-out", "{out}/nodir/b.npy"],
        2,
        "does not exist",
    ),
    (["r.npy", "--from", "rois5", "--to", "xyxy", "-o", "{out}/o.npy", "--batch-out", "adir"], 2, "is a directory"),
    (["r.npy", "--from", "rois5", "--to", "xyxy", "-o", "{out}/o.npy", "--batch-out", ""], 2, "output path is empty"),
    (["r.npy", "--from", "rois5", "--to", "xyxy", "-o", "{out}/o.npy", "--batch-out", "r.npy"], 2, "also an input"),
    (
        ["r.npy", "--from", "rois5", "--to", "xyxy", "-o", "{out}/o.npy", "--batch-out", "{out}/o.npy"],
        2,
        "different files",
    ),
    (["r.npy", "--from", "rois5", "--to", "rois5", "-o", ""], 2, "output path is empty"),
    (["r.npy", "--from", "rois5", "--to", "xyxy", "--batch-file", "batch_short.npy"], 2, "batch"),
    # unusual but valid
    (["onnx_be.npz", "--from", "onnx", "--to", "rois5", "-o", "{out}/o.npy"], 0, None),
    (["r_be.npy", "--from", "rois5", "--to", "xyxy", "-o", "{out}/o.npy", "--batch-out", "{out}/b.npy"], 0, None),
    (["r_1e30.npy", "--from", "rois5", "--to", "cxcywh", "-o", "{out}/o.npy"], 0, None),
]

DIFF = [
    (["f_crc.npz", "f.npy"], 2, "truncated or damaged"),
    (["f_half.npz", "f.npy"], 2, "truncated or damaged"),
    (["f.npy", "lying.npy"], 2, "claims shape"),
    (["code.npy", "f.npy"], 2, "damaged .npy header"),
    (["pickle.npy", "f.npy"], 2, "pickled"),
    (["empty.npy", "f.npy"], 2, "not a .npy"),
    (["adir", "f.npy"], 2, "is a directory"),
    (["missing.npy", "f.npy"], 2, "no such file"),
    (["f.npz:nope", "f.npy"], 2, "no array 'nope'"),
    (["f.npy", "f.npy", "--atol", "tiny"], 2, "--atol"),
    (["f.npy", "f.npy", "--top", "-1"], 2, "--top"),
    (["-", "-"], 2, "stdin"),
    (["f.npy", "f.npy", "--quiet", "--json"], 2, "choose one"),
    (["f.npy"], 2, "B"),
    (["ref_be.npy", "ref.npy", "--quiet"], 0, None),
    (["f.npz:features", "f_be.npy", "--quiet"], 0, None),
    (["f.npy", "ref.npy", "--quiet"], 1, None),
    (["max_pos.npy", "max_neg.npy"], 1, None),
    (["half_max.npy", "max_pos.npy", "--json"], 1, None),
]

EXPLAIN = [
    (["f.npy", "r.npy", "ref.npy", "--top", "0"], 2, "--top"),
    (["f.npy", "r.npy", "ref.npy", "--top", "-1"], 2, "--top"),
    (["f.npy", "r.npy", "ref_3d.npy"], 2, "reference has shape"),
    (["f.npy", "r.npy", "ref_int.npy"], 2, "floating point"),
    (["f.npy", "r_empty.npy", "ref.npy"], 2, "reference has shape"),
    (["f.npy", "r.npy", "ref.npy", "--assume", "nope"], 2, "nope"),
    (["f.npy", "r.npy", "ref.npy", "--from", "nope"], 2, "unknown box format"),
    (["f_crc.npz", "r.npy", "ref.npy"], 2, "truncated or damaged"),
    (["f.npy", "r.npy", "lying.npy"], 2, "claims shape"),
    (["f.npy", "r.npy", "ref.npy", "--spatial-scale", "0"], 2, "spatial scale"),
    (["f.npy", "r.npy", "ref.npy", "--image-size", "x"], 2, "image size"),
    (["-", "-", "ref.npy"], 2, "stdin"),
    (["f.npy", "r_1e300.npy", "ref_wide.npy"], 2, "beyond the range of float32"),
    (["f.npy", "r.npy"], 2, "REFERENCE"),
    (["f_be.npy", "r_be.npy", "ref_be.npy", "--top", "1"], 0, None),
]

PRESETS = [
    (["nope"], 2, "nope"),
    (["--output-size", "0"], 2, "output size"),
    (["--spatial-scale", "-1"], 2, "spatial scale"),
    (["--mode", "max"], 2, "need a preset NAME"),
    (["onnxruntime", "--option", "bad"], 2, "--option"),
    (["caffe2", "--option", "a=b"], 2, "a"),
    (["--sampling-ratio", "x"], 2, "--sampling-ratio"),
    (["onnxruntime", "--mode", "median"], 2, "--mode"),
    (["onnxruntime", "extra"], 2, "extra"),
]

INFO = [
    (["extra"], 2, "extra"),
    (["--bogus"], 2, "--bogus"),
]

TOP = [
    ([], 2, "missing command"),
    (["nope"], 2, "nope"),
    (["poo"], 2, "Did you mean 'pool'?"),
    (["--bogus"], 2, "--bogus"),
    (["convert"], 2, "missing command"),
    (["convert", "nope"], 2, "nope"),
    (["convert", "boxes"], 2, "IN"),
]

CASES = (
    [("pool", *c) for c in POOL]
    + [("convert boxes", *c) for c in CONVERT]
    + [("diff", *c) for c in DIFF]
    + [("explain", *c) for c in EXPLAIN]
    + [("presets", *c) for c in PRESETS]
    + [("info", *c) for c in INFO]
    + [("", *c) for c in TOP]
)


def test_the_corpus_is_large_and_covers_every_subcommand():
    assert len(CASES) >= 80
    assert {c[0] for c in CASES} == {"pool", "convert boxes", "diff", "explain", "presets", "info", ""}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _id(case):
    command, args, code, _ = case
    return f"{command or 'roialign'}:{' '.join(args)[:60]}:{code}"


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_hostile_input(case, corpus, tmp_path, cli, monkeypatch):
    command, args, code, fragment = case
    monkeypatch.chdir(corpus)
    before = listing(corpus)
    words = command.split() + [a.replace("{out}", str(tmp_path)) for a in args]
    result = cli(*words, input=b"")
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "Warning:" not in result.stderr, result.stderr
    assert listing(corpus) == before  # nothing left beside the inputs (no .partial file)
    if code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert fragment in lines[0], lines[0]
        assert "<ast" not in lines[0] and "out of memory" not in lines[0]
        if lines[0].startswith(USAGE):
            assert "--help'" in lines[0]
        assert listing(tmp_path) == set()  # a refused command writes nothing, not even one of two outputs


def test_usage_errors_name_the_command_to_read(cli):
    result = cli("pool", "f.npy", "r.npy", "--sampling-ratio", "1e9")
    assert result.stderr.strip() == (
        "roialign: error: Invalid value for '--sampling-ratio': must be -1, 0, n > 0 or a pair Y,X of those such "
        "as 0,4, not '1e9' (see 'roialign pool --help')"
    )
    assert (
        cli("convert", "boxes", "x.npy", "--from", "ssd")
        .stderr.strip()
        .endswith("(see 'roialign convert boxes --help')")
    )


def test_byte_orders_give_the_native_result(corpus, tmp_path, cli):
    from roialign_cli import roi_align

    result = cli("pool", corpus / "f_be.npy", corpus / "r_be.npy", "--backend", "numpy", "-o", tmp_path / "o.npy")
    assert result.exit_code == 0, result.stderr
    expected = roi_align(np.load(corpus / "f.npy"), np.load(corpus / "r.npy"), backend="numpy")
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), expected)


def test_zero_channels_pool_to_an_empty_channel_axis(corpus, tmp_path, cli):
    result = cli("pool", corpus / "f0.npy", corpus / "r.npy", "--backend", "numpy", "-o", tmp_path / "o.npy")
    assert result.exit_code == 0, result.stderr
    assert np.load(tmp_path / "o.npy").shape == (3, 0, 7, 7)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("mode", ["onnxruntime", "mmcv", "openvino-max", "tensorrt"])
def test_far_boxes_with_fixed_sampling_read_only_the_border(corpus, mode):
    """A box at 1e20 samples far off the map: max and corner-max read nothing there (the fill or the
    empty value), as a box just beyond the map does, instead of overflowing int64."""
    from roialign_cli import roi_align

    features = np.load(corpus / "f.npy")
    far = np.array([[0, 1e20, 1e20, 2e20, 2e20]], np.float32)
    near = np.array([[0, 1e3, 1e3, 2e3, 2e3]], np.float32)
    kwargs = {"preset": mode, "sampling_ratio": 2, "backend": "numpy", "mode": "max"}
    np.testing.assert_array_equal(roi_align(features, far, **kwargs), roi_align(features, near, **kwargs))
