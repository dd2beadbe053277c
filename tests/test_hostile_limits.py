"""Work limits: huge grids are refused before any work, in bounded memory and time, with a message that
names the limit; the environment lifts them; what is allowed stays within the output + 256 MB."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from roialign_cli import limits, roi_align
from roialign_cli.errors import InputError
from roialign_cli.presets import resolve

WORKING = 256 << 20


@pytest.fixture
def features(rng):
    return rng.standard_normal((1, 16, 64, 64)).astype(np.float32)


def peak_beyond_output(call) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - getattr(result, "nbytes", 0), result


@pytest.mark.parametrize(
    "rois, kwargs, limit",
    [
        ([[0, 0, 0, 1e7, 1e7]], {}, limits.MAX_ROI_SAMPLES_ENV),  # adaptive: 1.4e6 samples per bin and axis
        ([[0, 0, 0, 1e8, 1e8]], {}, limits.MAX_ROI_SAMPLES_ENV),
        ([[0, 1, 1, 10, 10]], {"sampling_ratio": 1_000_000}, limits.MAX_ROI_SAMPLES_ENV),
        ([[0, -1e30, -1e30, 1e30, 1e30]], {}, limits.MAX_ROI_SAMPLES_ENV),
        (
            [[0, 1, 1, 10, 10]] * 50,
            {"sampling_ratio": 1000, "preset": "onnxruntime", "mode": "max"},
            limits.MAX_SECONDS_ENV,
        ),
    ],
)
def test_huge_grids_are_refused_at_once_in_little_memory(features, rois, kwargs, limit):
    started = time.perf_counter()
    with pytest.raises(InputError, match=limit) as caught:
        peak_beyond_output(lambda: roi_align(features, np.array(rois, np.float32), backend="numpy", **kwargs))
    assert time.perf_counter() - started < 5
    assert "\n" not in str(caught.value)


def test_the_refusal_itself_is_cheap(features):
    rois = np.array([[0, 0, 0, 1e8, 1e8]], np.float32)
    peak, _ = peak_beyond_output(lambda: limits.work_problem(rois, features, (7, 7), 1.0, resolve(None)))
    assert peak < 1 << 20


@pytest.mark.parametrize("mode", ["avg", "max"])
def test_what_is_allowed_near_the_limits_stays_in_working_memory(features, rng, mode):
    """Many small rois with a large fixed ratio (sample positions dominate), and one roi near the
    per-axis limit: both allowed, both within the output + 256 MB."""
    k = 2000 if mode == "avg" else 200
    xy = rng.uniform(0, 50, (k, 2))
    many = np.concatenate([np.zeros((k, 1)), xy, xy + rng.uniform(1, 8, (k, 2))], axis=1).astype(np.float32)
    preset = None if mode == "avg" else "onnxruntime"
    ratio = 100 if mode == "avg" else 20
    peak, out = peak_beyond_output(
        lambda: roi_align(
            features, many, 7, 1.0, ratio, preset=preset, mode=None if mode == "avg" else "max", backend="numpy"
        )
    )
    assert out.shape == (k, 16, 7, 7) and peak < WORKING
    one = np.array([[0, 0, 0, 60, 60]], np.float32)
    ratio = int(limits.DEFAULT_MAX_ROI_SAMPLES // 7) if mode == "avg" else 60
    peak, out = peak_beyond_output(
        lambda: roi_align(
            features, one, 7, 1.0, ratio, backend="numpy", preset=preset, mode=None if mode == "avg" else "max"
        )
    )
    assert out.shape == (1, 16, 7, 7) and peak < WORKING


def test_the_environment_lifts_the_limits(features, monkeypatch):
    rois = np.array([[0, 1, 1, 10, 10]], np.float32)
    with pytest.raises(InputError, match=limits.MAX_ROI_SAMPLES_ENV):
        roi_align(features, rois, 7, 1.0, 200_000, backend="numpy")
    monkeypatch.setenv(limits.MAX_ROI_SAMPLES_ENV, "2e6")
    lifted = roi_align(features, rois, 7, 1.0, 200_000, backend="numpy")
    # 200000 samples per bin and axis average to the same values as a fine grid: close to ratio 2000
    np.testing.assert_allclose(lifted, roi_align(features, rois, 7, 1.0, 2000, backend="numpy"), atol=1e-3)
    monkeypatch.setenv(limits.MAX_SECONDS_ENV, "1e-9")
    with pytest.raises(InputError, match=limits.MAX_SECONDS_ENV):
        roi_align(features, rois, 7, 1.0, 2, backend="numpy")


@pytest.mark.parametrize("text", ["zero", "0", "-5", "nan"])
def test_a_bad_limit_is_a_one_line_error(features, monkeypatch, text):
    monkeypatch.setenv(limits.MAX_SECONDS_ENV, text)
    with pytest.raises(InputError, match=f"{limits.MAX_SECONDS_ENV} must be a positive number"):
        roi_align(features, np.array([[0, 1, 1, 10, 10]], np.float32), backend="numpy")


def test_explain_on_one_huge_box_skips_the_costly_candidates_quickly(features):
    from roialign_cli.explain import explain

    rois = np.array([[0, 0, 0, 10000, 10000]], np.float32)
    reference = roi_align(features, rois, 7, 1 / 64, 2, backend="numpy")
    started = time.perf_counter()
    result = explain(features, rois, reference)
    assert time.perf_counter() - started < 30
    assert result.matched
    assert any("skipped as too costly" in note and limits.MAX_SECONDS_ENV in note for note in result.notes)


def test_explain_on_boxes_at_1e20_works():
    from roialign_cli.explain import explain

    features = np.random.default_rng(3).standard_normal((1, 4, 12, 12)).astype(np.float32)
    rois = np.array([[0, 1, 1, 1e20, 1e20], [0, 2, 2, 8, 8]], np.float32)
    reference = roi_align(features, rois, 7, 1.0, 2, preset="onnxruntime", mode="max", backend="numpy")
    result = explain(features, rois, reference)
    assert result.best.max_error == 0


def test_the_search_budget_takes_the_cheapest_first(monkeypatch):
    monkeypatch.setenv(limits.MAX_SECONDS_ENV, str(6 * limits.SEARCH_SHARE))  # a budget of 6 s
    fits, note = limits.search_budget([5.0, 1.0, 2.0, 4.0])
    assert fits == [False, True, True, False]  # 1 + 2 fit; + 4 would not
    assert note.startswith("2 costlier candidates skipped") and limits.MAX_SECONDS_ENV in note
    assert limits.search_budget([100.0]) == ([True], None)  # the cheapest is always tried
    assert limits.search_budget([1.0, 1.0]) == ([True, True], None)


def test_the_confirmation_budget_keeps_the_rank_order(monkeypatch):
    monkeypatch.setenv(limits.MAX_SECONDS_ENV, "6")
    fits, note = limits.search_budget([1.0, 4.0, 3.0, 0.5], share=1, cheapest_first=False)
    assert fits == [True, True, False, False]  # 1 + 4 fit; the third would pass 6 s, and the order stops there
    assert note.startswith("2 leaders not confirmed")


def test_the_cuda_engine_gets_only_the_range_check(features):
    conv = resolve(None)
    huge = np.array([[0, 0, 0, 1e7, 1e7]], np.float32)
    assert limits.work_problem(huge, features, (7, 7), 1.0, conv, engine="cuda") is None
    assert limits.MAX_ROI_SAMPLES_ENV in limits.work_problem(huge, features, (7, 7), 1.0, conv)
    beyond = np.array([[0, 0, 0, 1e300, 1e300]])
    assert "beyond the range of float32" in limits.work_problem(beyond, features, (7, 7), 1.0, conv, engine="cuda")
