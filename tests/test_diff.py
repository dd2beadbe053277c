"""`roialign diff` and `compare`: statistics, tolerance rules, worst-of tables, exit codes, pipes."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest

from roialign_cli.compare import compare
from roialign_cli.diff_defaults import ATOL, RTOL

SHAPE = (12, 6, 5, 4)


def save(path, array):
    np.save(path, array)
    return path


@pytest.fixture
def pooled(rng):
    return rng.standard_normal(SHAPE).astype(np.float32)


def noisy(array, rng, relative=1e-7):
    """What another framework's float32 output looks like: a few units in the last place away."""
    return (array * (1 + relative * rng.standard_normal(array.shape))).astype(array.dtype)


# ---- the library: statistics and verdicts -------------------------------------------------------------


def test_identical_arrays_match_with_zero_errors(pooled):
    report = compare(pooled, pooled.copy())
    assert report.verdict == "match" and report.matches
    assert report.within_tolerance == report.size == pooled.size
    assert report.max_abs_error == report.mean_abs_error == report.rmse == report.max_rel_error == 0
    assert report.cosine_similarity == pytest.approx(1.0)
    assert report.worst_axis0 == report.worst_axis1 == report.worst_elements == ()
    assert report.axes == ("roi", "channel", "y", "x")


def test_tiny_float_noise_is_within_the_default_tolerance(pooled, rng):
    other = noisy(pooled, rng)
    report = compare(other, pooled)
    assert report.matches
    assert 0 < report.max_abs_error < ATOL
    assert report.cosine_similarity > 1 - 1e-12


def test_one_corrupted_roi_tops_the_worst_roi_table(pooled, rng):
    other = noisy(pooled, rng)
    other[7] += 0.01 * rng.standard_normal(other[7].shape).astype(np.float32)
    report = compare(other, pooled, top=3)
    assert report.verdict == "differ"
    assert report.worst_axis0[0].index == 7
    assert report.worst_axis0[0].max_abs_error == pytest.approx(np.abs(other[7] - pooled[7].astype(float)).max())
    assert report.worst_axis0[0].mismatches == report.mismatches  # every mismatch lies in roi 7
    assert all(element.index[0] == 7 for element in report.worst_elements)
    assert len(report.worst_axis1) == 3


def test_nan_on_one_side_is_a_listed_mismatch(pooled):
    other = pooled.copy()
    other[2, 3, 1, 0] = np.nan
    report = compare(other, pooled)
    assert report.verdict == "differ" and report.mismatches == 1 == report.nonfinite_mismatches
    assert (report.a.nan, report.b.nan, report.nan_only_in_a, report.nan_only_in_b) == (1, 0, 1, 0)
    assert [(n.index, n.nan_in) for n in report.one_sided_nans] == [((2, 3, 1, 0), "a")]
    assert report.worst_axis0[0].index == 2 and report.worst_axis1[0].index == 3
    assert report.worst_elements[0].index == (2, 3, 1, 0) and math.isnan(report.worst_elements[0].a)
    assert report.finite_pairs == pooled.size - 1 and report.max_abs_error == 0


def test_nan_on_both_sides_and_the_same_infinity_match(pooled):
    a, b = pooled.copy(), pooled.copy()
    a[0, 0, 0, 0] = b[0, 0, 0, 0] = np.nan
    a[1, 1, 1, 1] = b[1, 1, 1, 1] = -np.inf
    report = compare(a, b)
    assert report.matches and report.one_sided_nans == ()
    assert (report.a.nan, report.a.neginf, report.b.nan, report.b.neginf) == (1, 1, 1, 1)
    assert report.finite_pairs == pooled.size - 2


def test_infinity_against_a_finite_value_or_the_other_infinity_differs(pooled):
    a, b = pooled.copy(), pooled.copy()
    a[0, 0, 0, 0] = np.inf
    a[3, 0, 0, 0], b[3, 0, 0, 0] = np.inf, -np.inf
    report = compare(a, b)
    assert report.nonfinite_mismatches == 2 and report.mismatches == 2
    assert (report.a.posinf, report.b.neginf, report.nan_only_in_a) == (2, 1, 0)
    assert {e.index for e in report.worst_elements[:2]} == {(0, 0, 0, 0), (3, 0, 0, 0)}


def test_tolerance_rule_is_isclose_with_b_as_reference(rng):
    b = rng.standard_normal(4000)
    a = b + rng.choice([0, 1e-6, 1e-5, 1e-4, 1e-3], b.shape) * rng.standard_normal(b.shape)
    a[::97], b[::89] = np.nan, np.nan
    a[::101], b[::103] = np.inf, np.inf
    for atol, rtol in ((1e-5, 1e-4), (0.0, 1e-3), (1e-4, 0.0)):
        report = compare(a, b, atol, rtol)
        assert report.within_tolerance == np.count_nonzero(np.isclose(a, b, rtol, atol, equal_nan=True))


def test_relative_error_is_taken_where_the_reference_is_not_zero():
    report = compare(np.array([1.0, 2.2, 1e-3]), np.array([1.0, 2.0, 0.0]))
    assert report.max_rel_error == pytest.approx(0.1)
    assert report.max_abs_error == pytest.approx(0.2)


def test_shape_mismatch_and_squeeze(pooled):
    caffe = pooled[:, :, None]  # a blob with an extra 1-dim
    report = compare(caffe, pooled)
    assert report.verdict == "shape-mismatch" and report.within_tolerance is None
    assert report.a.shape == (12, 6, 1, 5, 4) and any("--squeeze" in n for n in report.notes)
    squeezed = compare(caffe, pooled, squeeze=True)
    assert squeezed.matches and squeezed.a.shape == SHAPE and squeezed.a.stored_shape == (12, 6, 1, 5, 4)
    assert compare(pooled[:, :3], pooled, squeeze=True).verdict == "shape-mismatch"


def test_different_dtypes_are_compared_in_float64_with_a_note(pooled):
    report = compare(pooled, pooled.astype(np.float64))
    assert report.matches and report.max_abs_error == 0
    assert any("dtypes differ" in note for note in report.notes)
    assert compare(pooled.astype(np.int32), pooled.astype(np.int32).astype(np.float64)).matches


def test_arrays_of_any_rank_and_empty_arrays():
    one_d = compare(np.array([1.0, 5.0, 2.0]), np.array([1.0, 2.0, 2.0]))
    assert one_d.axes == ("axis0",) and one_d.worst_axis1 is None and one_d.worst_axis0[0].index == 1
    scalar = compare(np.float32(1), np.float32(2))
    assert scalar.verdict == "differ" and scalar.worst_axis0 is None and scalar.worst_elements[0].index == ()
    empty = compare(np.zeros((0, 256, 7, 7)), np.zeros((0, 256, 7, 7)))
    assert empty.matches and empty.within_tolerance_fraction == 1.0 and empty.max_abs_error is None
    three_d = compare(np.zeros((2, 3, 4)), np.ones((2, 3, 4)))
    assert three_d.axes == ("axis0", "axis1", "axis2") and len(three_d.worst_axis1) == 3


def test_bad_inputs_are_refused():
    from roialign_cli.errors import InputError

    with pytest.raises(InputError, match="numeric"):
        compare(np.ones(3, complex), np.ones(3, complex))
    with pytest.raises(InputError, match="tolerances"):
        compare(np.ones(3), np.ones(3), atol=float("nan"))


# ---- chunking: the same answers as one pass of plain NumPy -----------------------------------------


def one_shot(a, b, atol, rtol, top):
    """The statistics computed directly on whole float64 arrays, independently of compare()."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    close = np.isclose(a, b, rtol, atol, equal_nan=True)
    error = np.where(both, np.abs(a - b), 0.0)
    nonfinite = ~both & ~close

    def worst(axes_kept):
        reduce = tuple(i for i in range(a.ndim) if i != axes_kept)
        maxima, counts = error.max(axis=reduce), nonfinite.sum(axis=reduce)
        key = np.where(counts > 0, np.inf, maxima)
        order = [i for i in np.lexsort((np.arange(len(key)), -key)) if key[i] > 0][:top]
        return [(i, maxima[i], int((~close).sum(axis=reduce)[i]), int(counts[i])) for i in order]

    key = np.where(nonfinite, np.inf, error).ravel()
    elements = [int(i) for i in np.lexsort((np.arange(key.size), -key)) if key[i] > 0][:top]
    finite_b = np.abs(b[both])
    return {
        "within_tolerance": int(close.sum()),
        "max_abs_error": error[both].max(),
        "mean_abs_error": error[both].mean(),
        "rmse": np.sqrt((error[both] ** 2).mean()),
        "max_rel_error": (error[both][finite_b > 0] / finite_b[finite_b > 0]).max(),
        "cosine_similarity": a[both] @ b[both] / np.linalg.norm(a[both]) / np.linalg.norm(b[both]),
        "worst_axis0": worst(0),
        "worst_axis1": worst(1),
        "worst_elements": [np.unravel_index(i, a.shape) for i in elements],
        "one_sided": [tuple(i) for i in np.argwhere(np.isnan(a) != np.isnan(b))[:top]],
    }


# 10**6: one block; 240: several rois a block; 50: split along channels; 7, 3, 1: along y and x
@pytest.mark.parametrize("chunk", [10**6, 240, 50, 7, 3, 1])
def test_chunked_statistics_equal_a_one_shot_computation(rng, chunk):
    b = rng.standard_normal(SHAPE).astype(np.float32)
    a = noisy(b, rng, 1e-5)
    a[4, 2] += rng.standard_normal(a[4, 2].shape).astype(np.float32) * 1e-3
    a[9, :, 2] = 0
    a[:, :, 0, 0], b[:, :, 0, 0] = 6.0, 5.0  # equal errors in every roi and channel: the earliest win ties
    a[1, 1, 1, 1] = b[6, 5, 4, 3] = np.nan
    a[10, 0, 0, 1] = np.inf
    report = compare(a, b, ATOL, RTOL, top=5, chunk_elements=chunk)
    expected = one_shot(a, b, ATOL, RTOL, 5)
    assert report.within_tolerance == expected["within_tolerance"]
    for name in ("max_abs_error", "mean_abs_error", "rmse", "max_rel_error", "cosine_similarity"):
        assert getattr(report, name) == pytest.approx(expected[name], rel=1e-12), name
    for axis in ("worst_axis0", "worst_axis1"):
        got = [(e.index, e.max_abs_error, e.mismatches, e.nonfinite_mismatches) for e in getattr(report, axis)]
        assert got == expected[axis], axis
    assert [e.index for e in report.worst_elements] == [tuple(int(i) for i in x) for x in expected["worst_elements"]]
    assert [n.index for n in report.one_sided_nans] == expected["one_sided"]


def test_fortran_ordered_memory_maps_give_the_same_report(tmp_path, rng):
    from roialign_cli.arrayio import load_array

    b = rng.standard_normal(SHAPE).astype(np.float32)
    a = noisy(b, rng, 1e-4)
    np.save(tmp_path / "fortran.npy", np.asfortranarray(a))
    mapped = load_array(str(tmp_path / "fortran.npy"), mmap=True)
    assert isinstance(mapped, np.memmap) and not mapped.flags.c_contiguous
    expected = compare(a, b, top=5)
    for chunk in (10**6, 50, 3):
        got = compare(mapped, b, top=5, chunk_elements=chunk)
        assert (got.within_tolerance, got.max_abs_error) == (expected.within_tolerance, expected.max_abs_error)
        assert (got.worst_axis0, got.worst_axis1, got.worst_elements) == (
            expected.worst_axis0,
            expected.worst_axis1,
            expected.worst_elements,
        )
        assert got.rmse == pytest.approx(expected.rmse, rel=1e-12)


def test_memory_mapped_inputs_are_read_in_bounded_memory(tmp_path, rng):
    from roialign_cli.arrayio import load_array

    shape = (256, 64, 16, 16)  # 4M float32 elements: 16 MiB a file, 32 MiB as float64
    base = rng.standard_normal(shape[1:], dtype=np.float32)
    for name, offset in (("a.npy", 0.0), ("b.npy", 1e-7)):
        mapped = np.lib.format.open_memmap(tmp_path / name, "w+", np.float32, shape)
        mapped[:] = base + np.float32(offset)
        mapped.flush()
        del mapped
    a, b = load_array(str(tmp_path / "a.npy"), mmap=True), load_array(str(tmp_path / "b.npy"), mmap=True)
    tracemalloc.start()
    try:
        report = compare(a, b, chunk_elements=1 << 15)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.matches and report.size == math.prod(shape)
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB for 16 MiB inputs"


# ---- the command ---------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path, pooled, rng):
    corrupted = noisy(pooled, rng)
    corrupted[5] *= 1.5
    return {
        "ref": save(tmp_path / "ref.npy", pooled),
        "same": save(tmp_path / "same.npy", noisy(pooled, rng)),
        "corrupted": save(tmp_path / "corrupted.npy", corrupted),
        "caffe": save(tmp_path / "caffe.npy", pooled[:, :, None]),
    }


def test_cli_match_exits_0_with_a_report(cli, files):
    result = cli("diff", files["same"], files["ref"])
    assert result.exit_code == 0, result.output
    assert "match" in result.stdout and "within tolerance" in result.stdout and "cosine" in result.stdout


def test_cli_difference_exits_1_and_names_the_worst_roi(cli, files):
    result = cli("diff", files["corrupted"], files["ref"], "--top", "3")
    assert result.exit_code == 1
    assert "differ" in result.stdout and "worst rois" in result.stdout and "worst channels" in result.stdout
    roi_table = result.stdout.split("worst rois")[1]
    first_row = next(line for line in roi_table.splitlines() if line.startswith("│"))
    assert first_row.split("│")[1].strip() == "5"


def test_cli_shape_mismatch_exits_1_with_a_clear_message_and_squeeze_fixes_it(cli, files):
    result = cli("diff", files["caffe"], files["ref"])
    assert result.exit_code == 1
    assert "shape mismatch: A [12, 6, 1, 5, 4]" in result.stdout and "--squeeze" in result.stdout
    assert cli("diff", files["caffe"], files["ref"], "--squeeze").exit_code == 0


def test_cli_tolerances_decide_the_verdict(cli, files):
    assert cli("diff", files["corrupted"], files["ref"], "--rtol", "0.6").exit_code == 0
    assert cli("diff", files["same"], files["ref"], "--atol", "0", "--rtol", "0").exit_code == 1


def test_cli_npz_keys(cli, tmp_path, pooled, files):
    np.savez(tmp_path / "dump.npz", pooled=pooled, other=pooled + 1)
    assert cli("diff", f"{tmp_path}/dump.npz:pooled", files["ref"]).exit_code == 0
    assert cli("diff", files["ref"], f"{tmp_path}/dump.npz:other", "-q").exit_code == 1
    missing = cli("diff", f"{tmp_path}/dump.npz:nope", files["ref"])
    assert missing.exit_code == 2 and "no array 'nope'" in missing.stderr
    ambiguous = cli("diff", f"{tmp_path}/dump.npz", files["ref"])
    assert ambiguous.exit_code == 2 and "name one" in ambiguous.stderr


def test_cli_quiet_prints_nothing(cli, files):
    for name, code in (("same", 0), ("corrupted", 1)):
        result = cli("diff", files[name], files["ref"], "--quiet")
        assert result.exit_code == code and result.stdout == "" and result.stderr == ""


JSON_FIELDS = {
    "verdict",
    "a",
    "b",
    "atol",
    "rtol",
    "top",
    "axes",
    "notes",
    "size",
    "within_tolerance",
    "mismatches",
    "within_tolerance_fraction",
    "finite_pairs",
    "max_abs_error",
    "mean_abs_error",
    "rmse",
    "max_rel_error",
    "cosine_similarity",
    "nonfinite_mismatches",
    "nan_only_in_a",
    "nan_only_in_b",
    "one_sided_nans",
    "worst_axis0",
    "worst_axis1",
    "worst_elements",
}
SIDE_FIELDS = {"source", "shape", "stored_shape", "dtype", "nan", "posinf", "neginf"}


def test_cli_json_is_the_whole_report_with_stable_fields(cli, files, tmp_path, pooled):
    nan_side = pooled.copy()
    nan_side[5, 1, 2, 3] = np.nan
    result = cli("diff", save(tmp_path / "nan.npy", nan_side), files["ref"], "--json", "--top", "2")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == JSON_FIELDS and set(report["a"]) == SIDE_FIELDS == set(report["b"])
    assert report["verdict"] == "differ" and report["a"]["nan"] == 1 and report["a"]["shape"] == list(SHAPE)
    assert report["one_sided_nans"] == [{"index": [5, 1, 2, 3], "nan_in": "a"}]
    assert report["worst_axis0"][0] == {"index": 5, "max_abs_error": 0.0, "mismatches": 1, "nonfinite_mismatches": 1}
    assert set(report["worst_elements"][0]) == {"index", "a", "b", "abs_error"}
    assert report["worst_elements"][0]["a"] == "nan"  # JSON has no NaN: the README's "JSON output" policy
    assert report["axes"] == ["roi", "channel", "y", "x"] and report["b"]["source"] == str(files["ref"])

    mismatch = json.loads(cli("diff", files["caffe"], files["ref"], "--json").stdout)
    assert set(mismatch) == JSON_FIELDS and mismatch["verdict"] == "shape-mismatch"
    assert mismatch["worst_axis0"] is None and mismatch["max_abs_error"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.npy", "{ref}"], "no such file"),
        (["{pickled}", "{ref}"], "pickle"),
        (["-", "-"], "only one of A and B"),
        (["{ref}", "{ref}", "--json", "--quiet"], "choose one"),
        (["{ref}", "{ref}", "--atol", "-1"], "tolerances"),
        (["{complex}", "{complex}"], "numeric"),
    ],
)
def test_cli_errors_exit_2_with_one_line(cli, tmp_path, files, args, message):
    np.save(tmp_path / "pickled.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "complex.npy", np.ones(3, complex))
    paths = {"ref": files["ref"], "pickled": tmp_path / "pickled.npy", "complex": tmp_path / "complex.npy"}
    result = cli("diff", *(arg.format(**paths) for arg in args))
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# ---- real pipes ----------------------------------------------------------------------------------------


def test_stdin_as_either_side(shell, files, tmp_path):
    same = shell(f"cat {files['same']} | $ROIALIGN diff - {files['ref']} --quiet")
    assert same.returncode == 0, same.stderr.decode()
    differ = shell(f"cat {files['ref']} | $ROIALIGN diff {files['corrupted']} - --quiet")
    assert differ.returncode == 1
    empty = shell(f"$ROIALIGN diff - {files['ref']} < /dev/null")
    assert empty.returncode == 2 and b"stdin is empty" in empty.stderr


def test_pool_piped_into_diff(shell, tmp_path, rng):
    from roialign_cli import roi_align

    features = rng.standard_normal((2, 8, 20, 24)).astype(np.float32)
    rois = np.array([[0, 1, 2, 60, 50], [1, 10, 4, 90, 70], [0, 0, 0, 190, 150]], np.float32)
    np.save(tmp_path / "feat.npy", features)
    np.save(tmp_path / "rois.npy", rois)
    reference = roi_align(features, rois, (7, 7), 0.125, backend="numpy")
    np.save(tmp_path / "ref.npy", reference)
    np.save(tmp_path / "aligned.npy", roi_align(features, rois, (7, 7), 0.125, aligned=True, backend="numpy"))
    pool = "$ROIALIGN pool feat.npy rois.npy --spatial-scale 1/8 --backend numpy -o -"
    same = shell(f"{pool} | $ROIALIGN diff - ref.npy && echo same")
    assert same.returncode == 0 and same.stdout.decode().rstrip().endswith("same"), same.stderr.decode()
    other = shell(f"{pool} | $ROIALIGN diff - aligned.npy --quiet && echo same")
    assert other.returncode == 1 and b"same" not in other.stdout
