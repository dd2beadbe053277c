"""Property-based fuzzing of every subcommand: random argument lists over random arrays and the
hostile corpus. Whatever the arguments, the exit status is 0, 1 or 2, there is no traceback or NumPy
warning, a failure (2) is one line on stderr, and nothing is written except the outputs asked for
(none at all on a failure)."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from hostile_files import listing, make_corpus
from roialign_cli.box_formats import FORMATS, SPACES
from roialign_cli.cli import main
from roialign_cli.conventions import BORDERS, COORDINATES, POOLINGS
from roialign_cli.presets import names

CORPUS_FILES = [
    "f.npy",
    "r.npy",
    "ref.npy",
    "det.npy",
    "onnx.npz",
    "f_crc.npz",
    "lying.npy",
    "code.npy",
    "pickle.npy",
    "f_be.npy",
    "r_1e20.npy",
    "r_1e30.npy",
    "r_huge.npy",
    "f0.npy",
    "f_empty_n.npy",
    "adir",
    "empty.npy",
]


@pytest.fixture(scope="module")
def corpus():
    root = Path(tempfile.mkdtemp(prefix="roialign-fuzz-corpus-"))
    make_corpus(root)
    yield root
    shutil.rmtree(root)


# ---------------------------------------------------------------- values

garbage = st.one_of(st.text(max_size=6), st.sampled_from(["", "-", "nan", "inf", "-1", "0", "1e309", "1/0", "x"]))
numbers = st.one_of(
    st.integers(0, 4).map(str),
    st.integers(-3, 40).map(str),
    st.sampled_from(["1e9", "99999999999999999999", "-0", "0.5", "1e-300"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
sizes = st.one_of(
    st.sampled_from(["7", "2x3", "1", "24x32", "320x240"]),
    st.tuples(st.integers(-1, 9), st.integers(-1, 9)).map(lambda s: f"{s[0]}x{s[1]}"),
    st.integers(-1, 9).map(str),
    st.sampled_from(["100000x100000", "7x", "x7", "3x3x3"]),
    garbage,
)
scales = st.one_of(st.sampled_from(["1", "1/8", "0.25"]), st.sampled_from(["1/0", "0", "-1", "1e30", "1e-30"]), garbage)
presets = st.one_of(st.sampled_from(names()), garbage)
switches = st.one_of(
    st.sampled_from(
        [f"coordinates={c}" for c in COORDINATES]
        + [f"border={b}" for b in BORDERS]
        + [f"pooling={p}" for p in POOLINGS]
        + ["sampling_ratio=3", "min_size=none", "fill_value=nan", "grid=corners", "bogus=1", "border"]
    ),
    garbage,
)
options = st.one_of(
    st.sampled_from(["coordinate_transformation_mode=output_half_pixel", "aligned_mode=asymmetric", "inter_times=2"]),
    st.sampled_from(["a=b", "=", "x"]),
    garbage,
)
formats = st.one_of(st.sampled_from(list(FORMATS)), garbage)
spaces = st.one_of(st.sampled_from(list(SPACES)), garbage)


def _value_arrays():
    """Arrays with shapes that get past the first checks now and then, values anywhere."""
    features = hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 2), st.integers(0, 3), st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-1e3, 1e3, width=32),
    )
    rois = hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 4), st.sampled_from([4, 5, 7])),
        elements=st.one_of(st.floats(-10, 40), st.sampled_from([0.0, 1.0, 1e20, -1e30, np.nan])),
    )
    return st.one_of(
        features,
        rois,
        hnp.arrays(
            st.sampled_from([np.float32, np.float64, np.float16, np.dtype(">f4"), np.int64, np.bool_]),
            hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5),
        ),
    )


# ---------------------------------------------------------------- argument lists


def _flag_lists(choices: dict):
    """Random options: each drawn at most once, in a random order, from NAME -> value strategy (None: a flag)."""
    items = st.lists(st.sampled_from(sorted(choices)), unique=True, max_size=5)

    @st.composite
    def build(draw):
        words = []
        for name in draw(items):
            words.append(name)
            if choices[name] is not None:
                words.append(draw(choices[name]))
        return words

    return build()


def _outputs(work: Path):
    return st.one_of(
        st.sampled_from(["o.npy", "o.npz", "sub/o.npy", "adir"]).map(lambda n: str(work / n)),
        st.sampled_from(["-", ""]),
    )


POOL_OPTIONS = {
    "--output-size": sizes,
    "--spatial-scale": scales,
    "--sampling-ratio": numbers,
    "--aligned": None,
    "--no-aligned": None,
    "--mode": st.sampled_from(["avg", "max", "median"]),
    "--preset": presets,
    "--option": options,
    "--switch": switches,
    "--backend": st.sampled_from(["numpy", "numpy", "auto", "gpu"]),
    "--image-size": sizes,
    "--json": None,
}
CONVERT_OPTIONS = {
    "--from-space": spaces,
    "--to-space": spaces,
    "--image-size": sizes,
    "--spatial-scale": scales,
    "--stride": numbers,
    "--batch-index": numbers,
    "--min-score": numbers,
    "--labels": st.sampled_from(["1", "1,3", "x", ""]),
    "--dtype": st.sampled_from(["float32", "float64", "int8"]),
    "--json": None,
}
DIFF_OPTIONS = {"--atol": numbers, "--rtol": numbers, "--top": numbers, "--squeeze": None, "--json": None, "-q": None}
EXPLAIN_OPTIONS = {
    "--from": st.sampled_from(["auto", "rois5", "ssd", "nope"]),
    "--image-size": sizes,
    "--spatial-scale": scales,
    "--assume": presets,
    "--top": numbers,
    "--json": None,
}
PRESETS_OPTIONS = {
    "--json": None,
    "--output-size": sizes,
    "--spatial-scale": scales,
    "--sampling-ratio": numbers,
    "--aligned": None,
    "--mode": st.sampled_from(["avg", "max", "x"]),
    "--option": options,
}


@st.composite
def invocations(draw, command: str, corpus: Path, work: Path):
    """(argument list, stdin bytes, the output paths asked for)."""
    array = draw(_value_arrays())
    np.save(work / "a.npy", array)

    def files(*likely):
        return st.one_of(
            st.sampled_from([str(corpus / f) for f in likely] + [str(work / "a.npy")]),
            st.sampled_from([str(corpus / f) for f in CORPUS_FILES]),
            st.sampled_from(["-", str(work / "missing.npy")]),
            garbage,
        )

    features, rois = (
        files("f.npy", "f_be.npy", "f.npz", "f0.npy"),
        files("r.npy", "det.npy", "r_1e20.npy", "r_1e30.npy"),
    )
    stdin = io.BytesIO()
    np.save(stdin, draw(_value_arrays()))
    stdin_bytes = draw(st.sampled_from([b"", stdin.getvalue(), b"PK\x03\x04junk"]))
    outputs = []

    def output_words(flag):
        path = draw(_outputs(work))
        outputs.append(path)
        return [flag, path]

    if command == "pool":
        words = ["pool", draw(features), draw(rois), *draw(_flag_lists(POOL_OPTIONS))]
        if draw(st.booleans()):
            words += output_words("-o")
    elif command == "convert boxes":
        box_formats = st.one_of(st.sampled_from(["rois5", "ssd", "xyxy", "onnx"]), formats)
        words = [
            "convert",
            "boxes",
            draw(files("r.npy", "det.npy", "onnx.npz", "r_1e30.npy")),
            "--from",
            draw(box_formats),
            "--to",
            draw(box_formats),
            *draw(_flag_lists(CONVERT_OPTIONS)),
        ]
        if draw(st.booleans()):
            words += output_words("-o")
        if draw(st.booleans()):
            words += output_words("--batch-out")
        if draw(st.booleans()):
            words += ["--batch-file", draw(files("batch.npy"))]
    elif command == "diff":
        words = ["diff", draw(files("ref.npy", "ref_be.npy")), draw(files("ref.npy")), *draw(_flag_lists(DIFF_OPTIONS))]
    elif command == "explain":
        words = [
            "explain",
            draw(features),
            draw(rois),
            draw(files("ref.npy", "ref_be.npy")),
            *draw(_flag_lists(EXPLAIN_OPTIONS)),
        ]
    elif command == "presets":
        name = draw(st.one_of(st.none(), presets))
        words = ["presets", *([name] if name is not None else []), *draw(_flag_lists(PRESETS_OPTIONS))]
    else:
        words = ["info", *draw(st.lists(st.sampled_from(["--json", "--bogus", "x"]), max_size=2))]
    # now and then a word goes missing or an unknown one comes in: usage errors
    if draw(st.sampled_from(range(10))) == 7 and len(words) > 1:
        del words[draw(st.integers(1, len(words) - 1))]
    if draw(st.sampled_from(range(10))) == 7:
        words.insert(draw(st.integers(1, len(words))), draw(st.sampled_from(["--nope", "-z", "extra"])))
    return words, stdin_bytes, outputs


EXAMPLES = {"pool": 80, "convert boxes": 80, "diff": 50, "explain": 15, "presets": 40, "info": 10}


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("command", list(EXAMPLES))
def test_fuzzed_arguments_never_break_the_rules(command, corpus):
    base = Path(tempfile.mkdtemp(prefix="roialign-fuzz-"))
    try:
        _fuzz(command, corpus, base)
    finally:
        shutil.rmtree(base)


def _fuzz(command: str, corpus: Path, base: Path):
    runner = CliRunner()
    corpus_before = listing(corpus)

    @settings(
        max_examples=EXAMPLES[command],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data):
        work = Path(tempfile.mkdtemp(dir=base))
        (work / "adir").mkdir()
        words, stdin, outputs = data.draw(invocations(command, corpus, work))
        before = listing(work)
        result = runner.invoke(main, words, input=stdin, catch_exceptions=False)
        stderr = result.stderr
        assert result.exit_code in (0, 1, 2), (words, result.exit_code, stderr)
        assert "Traceback" not in stderr and "Warning:" not in stderr, (words, stderr)
        new = listing(work) - before - {"a.npy"}
        if result.exit_code == 2:
            assert len(stderr.strip().splitlines()) == 1, (words, stderr)
            assert new == set(), (words, new)
        else:
            asked = {str(Path(p).relative_to(work)) for p in outputs if p.startswith(str(work))}
            assert new <= asked, (words, new)
        assert listing(corpus) == corpus_before, words
        shutil.rmtree(work)

    check()
