"""How much work one call may ask for, checked once before any is done.

RoIAlign's cost grows with the samples per bin, which the inputs choose: adaptive sampling takes
ceil(bin size) samples per bin and axis, so one box 10^7 pixels wide asks for 10^12 samples per
bin, and `--sampling-ratio 1000000` for 10^12 whatever the box. The engines hold every sample
position of a roi along an axis at once and visit every sample of a bin, so two numbers bound a
call's memory and time, and both are refused beyond a limit, with a message that names it:

- samples along one axis of one roi (bins along the axis x samples per bin): the sample positions
  and taps built for a roi, about 60 bytes each, must stay well inside the working memory that
  the README promises (output + 256 MB): at most ROIALIGN_MAX_ROI_SAMPLES, 2^20 by default;
- samples of the whole call (over the rois, bins x samples per bin along y x along x): its time,
  at most ROIALIGN_MAX_SAMPLES, 2^31 by default (seconds of work on one core). Max pooling walks
  the samples of a bin one step at a time (each step vectorized over a chunk of rois), so there
  each step of the widest roi counts STEP_SAMPLES more: one step costs about 40 us, measured.

`explain` scores hundreds of candidates, so each gets 1/EXPLAIN_SHARE of the call's budget; the
costlier ones are skipped with a note. Setting the environment variables lifts the limits (the
memory promise then no longer holds).
"""

from __future__ import annotations

import os

import numpy as np

from .errors import InputError

MAX_SAMPLES_ENV, MAX_ROI_SAMPLES_ENV = "ROIALIGN_MAX_SAMPLES", "ROIALIGN_MAX_ROI_SAMPLES"
DEFAULT_MAX_SAMPLES, DEFAULT_MAX_ROI_SAMPLES = 1 << 31, 1 << 20
EXPLAIN_SHARE = 256
STEP_SAMPLES = 1 << 12


def _limit(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise InputError(f"{name} must be a positive number of samples, not {text!r}") from None
    if value <= 0:
        raise InputError(f"{name} must be a positive number of samples, not {text!r}")
    return value


def max_samples() -> int:
    return _limit(MAX_SAMPLES_ENV, DEFAULT_MAX_SAMPLES)


def max_roi_samples() -> int:
    return _limit(MAX_ROI_SAMPLES_ENV, DEFAULT_MAX_ROI_SAMPLES)


def samples_per_bin(rois, features, output_size, spatial_scale: float, convention):
    """Samples per bin along y and along x of every roi, as float64 [K] arrays (no int64 overflow
    for huge boxes), from the engine's own geometry in the features' compute precision."""
    from .engines import numpy_engine as engine

    _, _, h, w = features.shape
    ph, pw = output_size
    ct = engine.compute_dtype(features.dtype)
    rois = np.asarray(rois, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = engine.axis_geometry(rois[:, 2], rois[:, 4], h, spatial_scale, ph, convention, ct)
        x = engine.axis_geometry(rois[:, 1], rois[:, 3], w, spatial_scale, pw, convention, ct)
        return _grid(y, convention), _grid(x, convention)


def _grid(geo, convention) -> np.ndarray:
    if convention.grid == "corners" or convention.sampling_ratio > 0:
        return geo.grid.astype(np.float64)
    # adaptive: ceil(bin size), as axis_geometry takes it, but in float so that 1e20 stays 1e20
    return np.maximum(np.ceil(np.nan_to_num(geo.bin.astype(np.float64), nan=0.0, posinf=np.inf)), 0)


def check_work(rois, features, output_size, spatial_scale: float, convention, *, share: int = 1) -> None:
    """Refuse a call whose samples exceed the limits (see the module's doc), naming the limit."""
    problem = work_problem(rois, features, output_size, spatial_scale, convention, share=share)
    if problem:
        raise InputError(problem)


def work_problem(rois, features, output_size, spatial_scale: float, convention, *, share: int = 1):
    """Why the call is too costly, in one line, or None."""
    if len(rois) == 0:
        return None
    gy, gx = samples_per_bin(rois, features, output_size, spatial_scale, convention)
    ph, pw = output_size
    along = np.maximum(ph * gy, pw * gx)
    roi_limit = max_roi_samples()
    k = int(np.argmax(along))
    if along[k] > roi_limit:
        return (
            f"roi {k} needs {along[k]:.3g} samples along one axis ({ph}x{pw} bins, {gy[k]:.3g} x {gx[k]:.3g} "
            f"samples per bin), over the limit of {roi_limit} ({MAX_ROI_SAMPLES_ENV}); use a fixed "
            f"--sampling-ratio, check the boxes' scale, or raise {MAX_ROI_SAMPLES_ENV}"
        )
    total = float((gy * gx).sum()) * ph * pw
    if convention.pooling != "avg":
        total += float((gy * gx).max()) * STEP_SAMPLES
    limit = max_samples() // share
    if total > limit:
        return (
            f"the rois need {total:.3g} samples in all ({len(rois)} rois x {ph}x{pw} bins x samples per bin"
            + (f", and {STEP_SAMPLES} per step of max pooling" if convention.pooling != "avg" else "")
            + "), "
            f"over the limit of {limit:.3g} ({MAX_SAMPLES_ENV}"
            + (f" / {share} per candidate" if share > 1 else "")
            + f"); use a smaller --sampling-ratio, fewer rois, or raise {MAX_SAMPLES_ENV}"
        )
    return None
