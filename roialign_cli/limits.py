"""How much work one call of the NumPy engine may ask for, checked once before any is done.

RoIAlign's cost grows with the samples per bin, which the inputs choose: adaptive sampling takes
ceil(bin size) samples per bin and axis, so one box 10^7 pixels wide asks for 10^12 samples per
bin, and `--sampling-ratio 1000000` for 10^12 whatever the box. Two limits bound a call, and a
call beyond either is refused with a message that names the limit and how to lift it:

- memory: the engine holds every sample position of a roi along an axis at once (about 60 bytes
  each with its taps), so the samples along one axis of one roi (bins along it x samples per bin)
  may be at most ROIALIGN_MAX_ROI_SAMPLES, 2^20 by default: that keeps a call within the output
  + 256 MB of working memory that the README promises;
- time: the call's cost is estimated from the same geometry (sample positions, the interpolation
  matrix entries of average pooling, the gathered samples and steps of max pooling), at rates
  measured on this project's 2-core machines (see RATES), and may be at most ROIALIGN_MAX_SECONDS,
  60 by default.

The CUDA kernel computes each sample where it needs it and caps adaptive grids itself: for it only
the range check applies (boxes that leave the compute precision's range, for every engine).

`explain` scores hundreds of candidates on a subset: each may take 1/EXPLAIN_SHARE of the time
limit, and all of them together 1/SEARCH_SHARE of it, the cheapest first; its leaders are confirmed
on all the data in rank order within the whole limit. What is left out is said in a note. Setting
the environment variables lifts the limits (raising the first gives up the memory promise).
"""

from __future__ import annotations

import os

import numpy as np

from .errors import InputError

MAX_SECONDS_ENV, MAX_ROI_SAMPLES_ENV = "ROIALIGN_MAX_SECONDS", "ROIALIGN_MAX_ROI_SAMPLES"
DEFAULT_MAX_SECONDS, DEFAULT_MAX_ROI_SAMPLES = 60.0, 1 << 20
EXPLAIN_SHARE = 100  # of the time limit, for one candidate's score
SEARCH_SHARE = 6  # of the time limit, for scoring all the candidates on their subset
# Seconds per unit of work, measured on this project's 2-core machines (4000 small rois at sampling
# ratio 100 with 16 channels, and benchmark workloads 2 and 3; estimates within 2x of the times, on the
# slow side for max pooling): a sample position with its taps; an interpolation matrix entry times a
# channel (average pooling); a sample times a channel (max pooling: four gathers and a maximum); a step
# of max pooling's sample loop.
RATES = {"position": 400e-9, "entry": 0.3e-9, "sample": 30e-9, "step": 40e-6}


def _limit(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise InputError(f"{name} must be a positive number, not {text!r}")
    return value


def max_seconds() -> float:
    return _limit(MAX_SECONDS_ENV, DEFAULT_MAX_SECONDS)


def max_roi_samples() -> float:
    return _limit(MAX_ROI_SAMPLES_ENV, DEFAULT_MAX_ROI_SAMPLES)


def _axes(rois, features, output_size, spatial_scale, convention):
    """Per roi and axis (y, then x), in float64 so that huge boxes stay huge: samples per bin, and the
    pixels a bin reads (the engine's bound, `min(2 x samples, floor(bin) + 3)`)."""
    from .conventions import X, Y
    from .geometry import axis_geometry, axis_scales, compute_dtype

    _, _, h, w = features.shape
    ct = compute_dtype(features.dtype)
    rois = np.asarray(rois, dtype=np.float64)
    sy, sx = axis_scales(spatial_scale)
    out = []
    with np.errstate(all="ignore"):
        for c1, c2, length, scale, pooled, axis in ((2, 4, h, sy, output_size[0], Y), (1, 3, w, sx, output_size[1], X)):
            geo = axis_geometry(rois[:, c1], rois[:, c2], length, scale, pooled, convention, ct, axis)
            bin_ = np.nan_to_num(np.abs(geo.bin.astype(np.float64)), nan=0.0)
            if convention.takes_sampling_ratio and convention.sampling_ratios[axis] == 0:
                # adaptive: ceil(bin size), as axis_geometry takes it, but without its int64 cast
                grid = np.maximum(np.ceil(np.nan_to_num(geo.bin.astype(np.float64), nan=0.0)), 0)
            else:
                grid = geo.grid.astype(np.float64)
            out += [grid, np.maximum(np.minimum(2 * grid, np.floor(bin_) + 3), 1)]
    return out


def estimate(rois, features, output_size, spatial_scale, convention) -> tuple[float, float, int]:
    """(estimated seconds, the most samples along one axis of one roi, that roi's index)."""
    gy, ty, gx, tx = _axes(rois, features, output_size, spatial_scale, convention)
    ph, pw = output_size
    channels = features.shape[1]
    along = np.maximum(ph * gy, pw * gx)
    positions = float((ph * gy + pw * gx).sum())
    if convention.pooling == "avg":
        work = float((ty * tx).sum()) * ph * pw * channels * RATES["entry"]
    else:
        work = float((gy * gx).sum()) * ph * pw * channels * RATES["sample"] + float((gy * gx).max()) * RATES["step"]
    k = int(np.argmax(along))
    return positions * RATES["position"] + work, float(along[k]), k


def check_work(
    rois, features, output_size, spatial_scale, convention, *, share: int = 1, engine: str = "numpy"
) -> None:
    """Refuse a call beyond the limits (see the module's doc), naming the limit."""
    problem = work_problem(rois, features, output_size, spatial_scale, convention, share=share, engine=engine)
    if problem:
        raise InputError(problem)


def range_problem(rois, features, spatial_scale, convention) -> str | None:
    """Boxes whose coordinates, or coordinates scaled to feature pixels, leave the compute precision's
    range (float32 for float16 and float32 features): the engines would compute with infinities."""
    from .geometry import axis_scales, compute_dtype

    ct = compute_dtype(features.dtype)
    _, _, h, w = features.shape
    factor = max(axis_scales(spatial_scale)) if convention.coordinates == "absolute" else max(h, w)
    with np.errstate(all="ignore"):
        coords = np.abs(np.asarray(rois, dtype=np.float64)[:, 1:5]).max(axis=1)
        reach = np.maximum(coords, (coords + abs(convention.pixel_offset) + 1) * factor)
    # a margin of 2^4, so that box sizes and sample positions stay finite too
    bad = reach > float(np.finfo(ct).max) / 16
    if not bad.any():
        return None
    k = int(np.argmax(bad))
    return (
        f"roi {k} reaches {reach[k]:.3g} feature pixels (coordinates x spatial scale), beyond the range of "
        f"{ct} in which these features are pooled; check the boxes and --spatial-scale"
    )


def work_problem(
    rois, features, output_size, spatial_scale, convention, *, share: int = 1, engine: str = "numpy"
) -> str | None:
    """Why the call is out of range or too costly for `engine`, in one line, or None. The limits
    are the NumPy engine's: the CUDA kernel computes each sample where it is needed and caps
    adaptive grids itself, at rates these estimates do not describe."""
    if len(rois) == 0:
        return None
    out_of_range = range_problem(rois, features, spatial_scale, convention)
    if out_of_range or engine != "numpy":
        return out_of_range
    seconds, along, k = estimate(rois, features, output_size, spatial_scale, convention)
    roi_limit = max_roi_samples()
    if along > roi_limit:
        return (
            f"roi {k} needs {along:.3g} samples along one axis ({output_size[0]}x{output_size[1]} bins x samples "
            f"per bin), over the limit of {roi_limit:.6g} ({MAX_ROI_SAMPLES_ENV}); use a fixed --sampling-ratio, "
            f"check the boxes' scale, or raise {MAX_ROI_SAMPLES_ENV}"
        )
    limit = max_seconds() / share
    if seconds > limit:
        per = f" / {share} per candidate" if share > 1 else ""
        return (
            f"{len(rois)} rois x {features.shape[1]} channels at this sampling would take about {seconds:.3g} s, "
            f"over the limit of {limit:.3g} s ({MAX_SECONDS_ENV}{per}); use a smaller --sampling-ratio, "
            f"fewer rois, or raise {MAX_SECONDS_ENV}"
        )
    return None


def search_budget(costs: list[float], share: int = SEARCH_SHARE, cheapest_first: bool = True):
    """Which of several calls with these estimated costs (seconds) fit together in 1/share of the
    time limit, the cheapest first (else in the order given, stopping at the first that does not
    fit); the first tried always runs. Returns ([fits], a note on those that do not, or None)."""
    budget = max_seconds() / share
    order = sorted(range(len(costs)), key=costs.__getitem__) if cheapest_first else range(len(costs))
    fits, spent = [False] * len(costs), 0.0
    for rank, i in enumerate(order):
        spent += costs[i]
        if spent > budget and rank > 0:
            break
        fits[i] = True
    left = fits.count(False)
    if not left:
        return fits, None
    what = "costlier candidates skipped" if cheapest_first else "leaders not confirmed on all the data"
    limit = MAX_SECONDS_ENV + (f" / {share}" if share > 1 else "")
    return fits, f"{left} {what}: the search spent its {budget:.3g} s ({limit}) on the others"
