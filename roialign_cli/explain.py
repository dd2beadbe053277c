"""Find the convention that reproduces a reference output.

The search space is every preset with its options and modes, times the ways the rois may have
been read (absolute pixels x spatial_scale, relative x image size, relative x feature size, TF
normalized), times spatial scales (per axis where the feature map's aspect differs from the
image's) and sampling ratios. Every candidate is scored on a small
subset of rois and channels; the leaders are confirmed on all of the data. The pooling runs on
any engine (`roialign_cli.engines`), the GPU's included.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from . import engines
from .boxes import looks_relative, scale_relative
from .conventions import Convention, X, Y, differences, format_value
from .diff_defaults import ATOL, RTOL
from .equivalents import CallSpec, scale_expression
from .geometry import axis_geometry, axis_scales, compute_dtype
from .presets import PRESETS, Preset, get
from .torch_calls import torch_layer

SCALES = tuple(1 / 2**k for k in range(7))  # 1 .. 1/64
SAMPLING_RATIOS = (0, 1, 2, 3, 4)
SUBSET_ROIS = 12
SUBSET_CHANNELS = 8
CONFIRMED = 12
FRAMEWORK_NEAREST = 3  # a framework's leading candidates confirmed on all the data for its nearest call
# Candidates costlier than this on the subset (see `Problem.work`) are first scored on a tiny sample of it.
TINY_ROIS = 3
TINY_CHANNELS = 2
TINY_FIRST_WORK = 1 << 20
# Relative slack on a lower bound: the same element can round differently when the engine chunks otherwise.
BOUND_SLACK = 1e-4
# The leaders are bounded on this many rois and channels before they are confirmed on all of them.
MEDIUM_ROIS = 128
MEDIUM_CHANNELS = 32
ERROR_BLOCK = 1 << 17  # elements per block of the error computation
TIE = ATOL  # errors closer than `roialign diff`'s absolute tolerance are float noise, not a better fit


@dataclass(frozen=True)
class Reading:
    """How the given rois become the engine's rois."""

    name: str
    coordinates: str  # the convention's coordinate switch under this reading
    times_image: bool = False  # rois are multiplied by the image size first
    scaled: bool = True  # spatial_scale applies


ABSOLUTE = Reading("absolute x scale", "absolute")
RELATIVE_IMAGE = Reading("relative x image x scale", "absolute", times_image=True)
RELATIVE_FEATURE = Reading("relative x feature size", "relative-feature", scaled=False)
TF_NORMALIZED = Reading("TF normalized", "tf-normalized", scaled=False)


@dataclass(frozen=True)
class Candidate:
    preset: Preset
    options: tuple[tuple[str, str], ...]
    mode: str  # "avg" or "max"
    reading: Reading
    spatial_scale: float | tuple[float, float]  # or (y, x)
    convention: Convention

    @property
    def label(self) -> str:
        """The preset, its options that differ from their defaults, and max when it is the preset's max mode."""
        opts = "".join(f" {k}={v}" for k, v in self.options if self.preset.option(k).default != v)
        own_max = self.preset.convention.pooling != "avg"
        return f"{self.preset.name}{opts}" + (" max" if self.mode == "max" and not own_max else "")


@dataclass
class Scored:
    candidate: Candidate
    max_error: float
    mean_error: float


@dataclass
class Explanation:
    ranked: list[Scored]  # confirmed on all the data, best first
    searched: int  # distinct candidates scored
    output_size: tuple[int, int]
    image_size: tuple[int, int] | None
    frameworks: dict[str, tuple[Scored | None, str]] = field(default_factory=dict)
    matched: bool = False  # the best is within `roialign diff`'s default tolerance
    command: str = ""  # the `roialign pool` command that reproduces the best
    assumed: Scored | None = None
    assumption_lines: list[str] = field(default_factory=list)
    engine: engines.Choice | None = None  # the engine that pooled the candidates
    layer: str | None = None  # the train-ready PyTorch layer for the best, where torchvision cannot compute it
    notes: list[str] = field(default_factory=list)  # e.g. candidates skipped as too costly

    @property
    def best(self) -> Scored:
        return self.ranked[0]

    @property
    def best_label(self) -> str:
        return self.best.candidate.label

    def rows(self, top: int) -> list[dict]:
        return [_row(s) for s in self.ranked[:top]]

    def framework_lines(self) -> dict[str, tuple[str, str]]:
        """framework -> (exact / nearest with its error / not expressible, the call)."""
        out = {}
        for framework, (scored, text) in self.frameworks.items():
            if scored is None:
                out[framework] = ("not expressible", text)
            elif _within(scored, self.best):
                out[framework] = ("exact", text)
            else:
                out[framework] = (f"not expressible; nearest setting has max |err| {scored.max_error:.3g}", text)
        return out

    def to_dict(self, top: int) -> dict:
        return {
            "matched": self.matched,
            "searched": self.searched,
            "output_size": list(self.output_size),
            "best": _row(self.best),
            "command": self.command,
            "candidates": self.rows(top),
            "frameworks": {
                name: {"status": status, "call": text, "max_error": None if s is None else s.max_error}
                for (name, (status, text)), (s, _) in zip(self.framework_lines().items(), self.frameworks.values())
            },
            "assumed": None if self.assumed is None else {**_row(self.assumed), "differences": self.assumption_lines},
            "backend": None if self.engine is None else self.engine.name,
            "torch_layer": self.layer,
            "notes": self.notes,
        }


def _row(s: Scored) -> dict:
    c = s.candidate
    return {
        "label": c.label,
        "preset": c.preset.name,
        "options": dict(c.options),
        "mode": c.mode,
        "reading": c.reading.name,
        "spatial_scale": scale_expression(c.spatial_scale) if c.reading.scaled else "-",
        "sampling": _sampling_label(c.convention),
        "max_error": s.max_error,
        "mean_error": s.mean_error,
        "convention": c.convention.switches(),
    }


def _sampling_label(conv: Convention) -> str:
    if not conv.takes_sampling_ratio:
        return "whole pixels" if conv.whole_pixels else "corners"
    return format_value(conv.sampling_ratio) if conv.sampling_ratio else "adaptive"


def _within(candidate: Scored, best: Scored) -> bool:
    return candidate.max_error <= best.max_error + max(TIE, 0.01 * best.max_error)


def _bases():
    """Every (preset, options, mode, convention) the registry can name."""
    for preset in PRESETS:
        enumerated = [o for o in preset.options if o.values]
        for values in itertools.product(*[list(o.values) for o in enumerated]):
            options = tuple(zip((o.name for o in enumerated), values))
            conv = preset.with_options(preset.convention, dict(options))
            yield preset, options, "avg" if conv.pooling == "avg" else "max", conv
            if conv.pooling == "avg" and preset.max_mode is not None:
                yield preset, options, "max", conv.with_(**preset.max_mode)


def _readings(rois: np.ndarray, image_size) -> list[Reading]:
    readings = [ABSOLUTE]
    if looks_relative(rois[:, 1:5], margin=0.5):
        readings += [RELATIVE_FEATURE, TF_NORMALIZED]
        if image_size:
            readings.append(RELATIVE_IMAGE)
    return readings


def _scales(features_shape, image_size, given) -> list:
    """Scales to try: the given one, else 1 .. 1/64 and the feature/image ratio, and that ratio
    per axis (y, x) where the map's aspect differs from the image's (a non-square stride)."""
    if given is not None:
        return [given]
    scales = list(SCALES)
    if image_size:
        ratio = features_shape[3] / image_size[0]
        if all(not math.isclose(ratio, s) for s in scales):
            scales.append(ratio)
        ratio_y = features_shape[2] / image_size[1]
        if not math.isclose(ratio_y, ratio):
            scales.append((ratio_y, ratio))
    return scales


def _same_scale(a, b) -> bool:
    return all(math.isclose(u, v) for u, v in zip(axis_scales(a), axis_scales(b)))


def candidates(rois, features_shape, image_size=None, spatial_scale=None, position_sensitive=False) -> list[Candidate]:
    """The whole search space, without duplicates (same convention, reading and scale); position-sensitive
    conventions alone when the reference has C / (PH * PW) channels, else none of them."""
    return [same[0] for same in _alike(rois, features_shape, image_size, spatial_scale, position_sensitive).values()]


def _alike(rois, features_shape, image_size, spatial_scale, position_sensitive=False) -> dict[tuple, list[Candidate]]:
    """The search space grouped by what the engine computes (`_key`), in the registry's order: the
    first of a group is the one scored, the others (another preset's name for the same call) share its score."""
    groups: dict[tuple, list[Candidate]] = {}
    scales = _scales(features_shape, image_size, spatial_scale)
    for preset, options, mode, base in _bases():
        if (base.channel_mapping == "position-sensitive") != position_sensitive:
            continue
        ratios = sorted({base.sampling_ratio, *SAMPLING_RATIOS}) if base.takes_sampling_ratio else [base.sampling_ratio]
        for reading in _readings(rois, image_size):
            for ratio, scale in itertools.product(ratios, scales if reading.scaled else [1.0]):
                conv = base.with_(coordinates=reading.coordinates, sampling_ratio=ratio)
                candidate = Candidate(preset, options, mode, reading, scale, conv)
                groups.setdefault(_key(candidate), []).append(candidate)
    return groups


def _key(candidate: Candidate) -> tuple:
    return candidate.convention, candidate.reading.times_image, candidate.spatial_scale


def engine_rois(rois: np.ndarray, reading: Reading, image_size) -> np.ndarray:
    return scale_relative(rois, image_size) if reading.times_image else rois


@dataclass(frozen=True)
class Problem:
    """What candidates are scored on: the inputs, the reference, and the engine that pools them."""

    features: object  # [N, C, H, W], on the engine's device
    rois: np.ndarray
    reference: np.ndarray  # float64
    output_size: tuple[int, int]
    image_size: tuple[int, int] | None
    engine: engines.Engine
    backend: str = "numpy"  # the engine's name, for the limits (the NumPy engine's alone)

    def pooled(self, candidate: Candidate) -> np.ndarray:
        rois = engine_rois(self.rois, candidate.reading, self.image_size)
        got = self.engine.pool(self.features, rois, self.output_size, candidate.spatial_scale, candidate.convention)
        return got if isinstance(got, np.ndarray) else got.get()  # CuPy results come back to the host

    def call(self, candidate: Candidate):
        """The engine call that scores a candidate, as `limits` estimates it."""
        rois = engine_rois(self.rois, candidate.reading, self.image_size)
        return rois, self.features, self.output_size, candidate.spatial_scale, candidate.convention

    def work(self, candidate: Candidate) -> float:
        """What pooling the candidate costs here, from its geometry before it runs: pixel reads, per
        roi its bins x the taps of a bin's samples (4 per sample; for average pooling at most the
        pixels the bin spans) x channels."""
        rois = engine_rois(self.rois, candidate.reading, self.image_size)
        _, channels, height, width = self.features.shape
        conv, ct = candidate.convention, compute_dtype(self.features.dtype)
        scales = axis_scales(candidate.spatial_scale)
        taps = []
        for (c1, c2, length, axis), pooled in zip(((2, 4, height, Y), (1, 3, width, X)), self.output_size):
            geo = axis_geometry(rois[:, c1], rois[:, c2], length, scales[axis], pooled, conv, ct, axis)
            per_bin = 2 * np.maximum(geo.grid, 1)
            if conv.pooling == "avg":
                per_bin = np.minimum(per_bin, np.floor(np.abs(geo.bin.astype(np.float64))) + 3)
            taps.append(per_bin)
        return float((taps[0] * taps[1]).sum()) * self.output_size[0] * self.output_size[1] * channels

    def score(self, candidate: Candidate) -> Scored:
        return Scored(candidate, *_errors(self.pooled(candidate), self.reference))

    @property
    def position_sensitive(self) -> bool:
        """The reference has C / (PH * PW) channels: each bin read its own input channels."""
        return self.reference.shape[1] != self.features.shape[1]

    def subset(self, rois: np.ndarray, channels: np.ndarray) -> Problem:
        """The same problem on some rois and reference channels (a contiguous copy of the input
        channels they read)."""
        inputs = channels
        if self.position_sensitive:
            bins = self.output_size[0] * self.output_size[1]
            inputs = (channels[:, None] * bins + np.arange(bins)).ravel()
        features = self.features[:, inputs].copy()
        return replace(self, features=features, rois=self.rois[rois], reference=self.reference[rois][:, channels])


def _errors(got: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Max and mean absolute error; NaN where only one side is NaN counts as infinite. A block of
    rois at a time, so that the float64 temporaries stay in cache."""
    if not got.size:
        return 0.0, 0.0
    step = max(1, ERROR_BLOCK // (got[0].size or 1))
    largest, total = 0.0, 0.0
    for k in range(0, len(got), step):
        a, b = got[k : k + step], reference[k : k + step]
        diff = np.abs(a.astype(np.float64) - b)
        unequal = np.isnan(diff)
        if unequal.any():
            diff[unequal] = np.where(np.isnan(a) & np.isnan(b), 0.0, np.inf)[unequal]
        largest, total = max(largest, float(diff.max())), total + float(diff.sum())
    return largest, total / got.size


def _prior(s: Scored):
    """Among candidates that fit equally well, the simpler story first: the preset's own reading of
    the boxes, its own sampling and options, its listed order."""
    c = s.candidate
    base = c.preset.with_options(c.preset.convention, dict(c.options))
    return (
        c.convention.coordinates != base.coordinates,
        c.convention.sampling_ratio != base.sampling_ratio,
        any(c.preset.option(k).default != v for k, v in c.options),
        PRESETS.index(c.preset),
        c.reading.times_image,
    )


def rank(scored: list[Scored]) -> list[Scored]:
    """Best first: by max error, where errors that differ by float noise only are ties broken by `_prior`."""
    ordered = sorted(scored, key=lambda s: (s.max_error, s.mean_error))
    if not ordered:
        return ordered
    best = ordered[0].max_error
    tied = [s for s in ordered if s.max_error <= best + max(TIE, 0.01 * best)]
    return sorted(tied, key=_prior) + ordered[len(tied) :]


def _subset(count: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int)) if count else np.arange(0)


def explain(
    features,
    rois,
    reference,
    *,
    image_size=None,
    spatial_scale=None,
    assume=None,
    top=5,
    paths=("FEATURES", "ROIS"),
    backend="auto",
    layout="nchw",
    progress=None,
) -> Explanation:
    """Search, then check the best against the tolerance of `roialign diff`, and compare it with
    what the user assumed. `paths` name the files in the reproducing command; `backend` picks the
    engine as `roialign pool` does (the result's `engine` says which ran); `layout` 'nhwc' reads
    channels-last features [N, H, W, C] and a reference [K, PH, PW, C], as TF and NNAPI give them;
    `progress` see `search`."""
    from .compare import compare
    from .limits import check_work
    from .validation import check_layout

    check_layout(layout, np.ndim(features))
    if layout == "nhwc":
        check_layout(layout, np.ndim(reference))
        features, reference = np.asarray(features).transpose(0, 3, 1, 2), np.asarray(reference).transpose(0, 3, 1, 2)
    features, rois, reference = _checked(features, rois, reference)
    choice = engines.choose(backend, features)
    problem = _problem(features, rois, reference, image_size, choice)
    result = search(problem, spatial_scale=spatial_scale, top=top, progress=progress)
    result.engine = choice
    best = result.best.candidate
    result.matched = _matches(problem, result.best, compare)
    result.command = pool_command(best, *paths, image_size, result.output_size, layout)
    if result.framework_lines()["torchvision"][0] != "exact":
        result.layer = layer_text(best, result.output_size)
    if assume:
        like = assumed_candidate(assume, image_size, spatial_scale, features.shape[3], best)
        check_work(*problem.call(like), engine=problem.backend)
        result.assumed = problem.score(like)
        result.assumption_lines = explain_assumption(result.assumed, result.best)
    return result


def _matches(problem: Problem, best: Scored, compare) -> bool:
    """Whether the best is within `roialign diff`'s default tolerance everywhere. Its max error
    settles that without pooling it again when it is within ATOL (every element is then within
    ATOL + RTOL x |reference|) or, finite, beyond ATOL + RTOL x the reference's largest magnitude."""
    if best.max_error <= ATOL:
        return True
    if math.isfinite(best.max_error) and best.max_error > ATOL + RTOL * float(np.abs(problem.reference).max()):
        return False
    return compare(problem.pooled(best.candidate), problem.reference).matches


def _problem(features, rois, reference, image_size, choice: engines.Choice) -> Problem:
    if choice.name == "cuda" and isinstance(features, np.ndarray):
        import cupy

        features = cupy.asarray(features)  # once, not once per candidate
    output_size = (int(reference.shape[2]), int(reference.shape[3]))
    reference = np.asarray(reference, dtype=np.float64)
    return Problem(features, rois, reference, output_size, image_size, choice.engine, choice.name)


def _checked(features, rois, reference):
    from .errors import InputError
    from .validation import check_features, check_rois

    check_features(features.shape, features.dtype)
    rois = check_rois(rois, features.shape[0])
    reference = np.asarray(reference)
    channels = features.shape[1]
    bins = reference.shape[2] * reference.shape[3] if reference.ndim == 4 else 0
    sensitive = bins and channels % bins == 0 and reference.shape[1] == channels // bins
    if reference.ndim != 4 or reference.shape[0] != len(rois) or not (reference.shape[1] == channels or sensitive):
        raise InputError(
            f"reference has shape {list(reference.shape)}; expected [{len(rois)}, {channels}, PH, PW] "
            f"(one pooled map per roi and feature channel), or [{len(rois)}, {channels} / (PH * PW), PH, PW] "
            "for position-sensitive pooling"
        )
    if reference.dtype.kind != "f":
        raise InputError(f"reference must be floating point, not {reference.dtype}")
    if len(rois) == 0:
        raise InputError("there are no rois: nothing to explain")
    return np.asarray(features), rois, reference


def search(problem: Problem, *, spatial_scale=None, top=5, progress=None) -> Explanation:
    """Score every candidate that can still rank on a subset, confirm the leaders on everything, rank them.

    Subsets of rois and channels give lower bounds of a candidate's max error on more data (the
    max over fewer elements), so a candidate whose bound already exceeds what the leaders reach
    is dropped unscored: candidates are costed before they run (`Problem.work`), a costly one is
    tried on a tiny sample of the subset before the subset itself, and the leaders are bounded on a
    medium sample before all of the data (`_Confirmation`). The answer is the one scoring every
    candidate everywhere would give. `progress`, if given, is called as progress(stage, done, total)."""
    alike = _alike(problem.rois, problem.features.shape, problem.image_size, spatial_scale, problem.position_sensitive)
    sub = problem.subset(_subset(len(problem.rois), SUBSET_ROIS), _subset(problem.reference.shape[1], SUBSET_CHANNELS))
    tiny = sub.subset(_subset(len(sub.rois), TINY_ROIS), _subset(sub.reference.shape[1], TINY_CHANNELS))
    board = _Board(max(CONFIRMED, top), alike)
    pool, notes = _affordable([same[0] for same in alike.values()], sub, problem)
    _screen(pool, sub, tiny, board, progress)
    quick = rank(board.scored)
    leaders, confirm_note = _confirmable([s.candidate for s in quick[: max(CONFIRMED, top)]], problem)
    confirmation = _Confirmation(problem, progress)
    allowed = {id(c) for c in leaders}
    leading = [s for s in quick[: max(CONFIRMED, top)] if id(s.candidate) in allowed]
    confirmed = confirmation.ranked(leading, top, "confirming the leaders on all the data")
    explanation = Explanation(
        confirmed, len(alike), problem.output_size, problem.image_size, notes=notes + confirm_note
    )
    explanation.frameworks = _framework_matches(quick, confirmation, problem, alike)
    return explanation


def _screen(pool: list[Candidate], sub: Problem, tiny: Problem, board: _Board, progress) -> None:
    """Add to `board` the subset scores of the candidates that can still rank (see `search`):
    first, cheapest first, every candidate on the tiny sample, or straight on the subset where that
    costs as little; then, lowest bound first, those whose bound does not rule them out."""
    work = {_key(c): sub.work(c) for c in pool}
    bounds = []
    for done, candidate in enumerate(sorted(pool, key=lambda c: work[_key(c)])):
        if progress:
            progress("scoring candidates on a sample", done, len(pool))
        if work[_key(candidate)] < TINY_FIRST_WORK:
            board.add(sub.score(candidate))
        else:
            bounds.append(tiny.score(candidate))
    bounds.sort(key=lambda s: s.max_error)
    for done, bound in enumerate(bounds):
        if progress:
            progress("scoring the likely ones on a subset", done, len(bounds))
        if not board.beyond(bound):
            board.add(sub.score(bound.candidate))


class _Board:
    """Subset scores so far, and whether a lower bound of a candidate's error rules it out: it
    could rank neither among the first `keep` nor among the first FRAMEWORK_NEAREST of a framework
    that can call it."""

    def __init__(self, keep: int, alike: dict):
        self.keep, self.alike = keep, alike
        self.scored: list[Scored] = []
        self.errors = {framework: [] for framework in FRAMEWORKS}
        self.errors[None] = []

    def _frameworks(self, candidate: Candidate) -> set:
        return {_framework_of(c) for c in self.alike[_key(candidate)]} - {None}

    def add(self, scored: Scored) -> None:
        self.scored.append(scored)
        for group in {None, *self._frameworks(scored.candidate)}:
            bisect.insort(self.errors[group], scored.max_error)

    def beyond(self, bound: Scored) -> bool:
        if not _beyond(bound.max_error, self.errors[None], self.keep):
            return False
        return all(
            _beyond(bound.max_error, self.errors[f], FRAMEWORK_NEAREST) for f in self._frameworks(bound.candidate)
        )


def _beyond(bound: float, errors: list[float], keep: int) -> bool:
    """Whether a candidate whose max error is at least `bound` ranks after the first `keep` of
    candidates with the sorted max `errors` (ties with the best are never beyond: `rank` orders them by `_prior`)."""
    if len(errors) < keep:
        return False
    best = errors[0]
    limit = max(errors[keep - 1], best + max(TIE, 0.01 * best))
    return bound > limit + BOUND_SLACK * (1 + abs(limit))


def _framework_of(candidate: Candidate) -> str | None:
    """The framework whose own call this candidate is (its preset, reading absolute boxes), or None."""
    if candidate.reading.coordinates != "absolute":
        return None
    return next((f for f, names in FRAMEWORKS.items() if candidate.preset.name in names), None)


class _Confirmation:
    """Scores on all the data, each computed once, of the candidates that can still rank. A
    candidate's max error on a medium subset of the data (or, for small problems, on the search's
    subset) bounds its max error on all of it from below: candidates are confirmed lowest bound
    first, and only while their bound lets them rank."""

    def __init__(self, problem: Problem, progress):
        self.problem, self.progress = problem, progress
        rois, channels = len(problem.rois), problem.reference.shape[1]
        medium = rois > MEDIUM_ROIS or channels > MEDIUM_CHANNELS
        self.medium = problem.subset(_subset(rois, MEDIUM_ROIS), _subset(channels, MEDIUM_CHANNELS)) if medium else None
        self.full: dict[tuple, Scored] = {}
        self.bounds: dict[tuple, float] = {}

    def bound(self, scored: Scored) -> float:
        key = _key(scored.candidate)
        if key in self.full:
            return self.full[key].max_error
        if self.medium is None:
            return scored.max_error
        if key not in self.bounds:
            self.bounds[key] = max(scored.max_error, self.medium.score(scored.candidate).max_error)
        return self.bounds[key]

    def score(self, candidate: Candidate) -> Scored:
        key = _key(candidate)
        if key not in self.full:
            self.full[key] = self.problem.score(candidate)
        return Scored(candidate, self.full[key].max_error, self.full[key].mean_error)

    def ranked(self, scored: list[Scored], keep: int, stage: str) -> list[Scored]:
        """The full scores of those of `scored` (subset scores) that can rank among the first `keep`, ranked."""
        order = sorted(scored, key=self.bound)
        confirmed: list[Scored] = []
        for done, s in enumerate(order):
            if self.progress:
                self.progress(stage, done, len(order))
            if not _beyond(self.bound(s), sorted(c.max_error for c in confirmed), keep):
                confirmed.append(self.score(s.candidate))
        return rank(confirmed)


def _confirmable(leaders: list[Candidate], problem: Problem) -> tuple[list[Candidate], list[str]]:
    """The leaders, in rank order, whose scores on all the data fit the time limit together."""
    from .limits import estimate, search_budget

    fits, note = search_budget([estimate(*problem.call(c))[0] for c in leaders], share=1, cheapest_first=False)
    return [c for c, fit in zip(leaders, fits, strict=True) if fit], [note] if note else []


def _affordable(pool: list[Candidate], subset: Problem, problem: Problem) -> tuple[list[Candidate], list[str]]:
    """The candidates that `limits` lets the search try: each within a share of the time limit on the
    subset and within the limit on all the data, and the cheapest first while the search's budget
    lasts; a note on those skipped."""
    from .errors import InputError
    from .limits import EXPLAIN_SHARE, estimate, search_budget, work_problem

    engine = problem.backend
    problems = [
        work_problem(*subset.call(c), share=EXPLAIN_SHARE, engine=engine)
        or work_problem(*problem.call(c), engine=engine)
        for c in pool
    ]
    kept = [c for c, problem in zip(pool, problems, strict=True) if problem is None]
    skipped = [problem for problem in problems if problem is not None]
    if not kept:
        raise InputError(f"no candidate can be tried: {skipped[0]}")
    fits, budget_note = search_budget([estimate(*subset.call(c))[0] for c in kept])
    notes = [budget_note] if budget_note else []
    if skipped:
        notes.insert(0, f"{len(skipped)} of {len(pool)} candidates skipped as too costly or out of range, "
                        f"e.g.: {skipped[0]}")  # fmt: skip
    return [c for c, fit in zip(kept, fits, strict=True) if fit], notes


FRAMEWORKS = {
    "torchvision": ("caffe2", "torchvision-aligned"),
    "ONNX": ("onnxruntime",),
    "TensorRT": ("tensorrt",),
    "OpenVINO": ("openvino-half-pixel", "openvino-max"),
}


def _framework_matches(quick, confirmation: _Confirmation, problem: Problem, alike: dict):
    """For each framework: the best candidate it can express (exact or nearest) and its call. A
    candidate scored under another preset's name counts under each name of its group."""
    out = {}
    for framework in FRAMEWORKS:
        own = [
            Scored(c, s.max_error, s.mean_error)
            for s in quick
            for c in alike[_key(s.candidate)]
            if _framework_of(c) == framework
        ][:FRAMEWORK_NEAREST]
        if not own:
            out[framework] = (None, f"not expressible in {framework}: it reads absolute boxes x spatial_scale")
            continue
        scored = confirmation.ranked(own, 1, f"confirming {framework}'s nearest call")[0]
        out[framework] = (scored, call_text(scored.candidate, problem.output_size))
    return out


def call_text(candidate: Candidate, output_size) -> str:
    text = candidate.preset.equivalent(candidate.convention, CallSpec(output_size, candidate.spatial_scale))
    if candidate.reading.times_image:
        text += "  (boxes multiplied by the image width and height first)"
    return text


def layer_text(candidate: Candidate, output_size) -> str:
    """The roialign_cli.torch.RoIAlign layer that computes a candidate, with gradients."""
    spec = CallSpec(output_size, candidate.spatial_scale)
    options = tuple((k, v) for k, v in candidate.options if candidate.preset.option(k).default != v)
    text = torch_layer(candidate.convention, spec, candidate.preset.name, options)
    if candidate.reading.times_image:
        text += "  (boxes multiplied by the image width and height first)"
    return text


def pool_command(candidate: Candidate, features: str, rois: str, image_size, output_size, layout="nchw") -> str:
    """The `roialign pool` command line that reproduces a candidate."""
    conv, preset = candidate.convention, candidate.preset
    words = ["roialign pool", features, rois, "--preset", preset.name]
    if tuple(output_size) != (7, 7):
        words.append(f"--output-size {output_size[0]}x{output_size[1]}")
    words += [f"--option {k}={v}" for k, v in candidate.options if preset.option(k).default != v]
    if candidate.mode == "max" and preset.convention.pooling == "avg":
        words.append("--mode max")
    base = preset.with_options(preset.convention, dict(candidate.options))
    if conv.sampling_ratio != base.sampling_ratio:
        words.append(f"--sampling-ratio {format_value(conv.sampling_ratio)}")
    if candidate.reading.scaled:
        words.append(f"--spatial-scale {scale_expression(candidate.spatial_scale)}")
    if candidate.reading.times_image:
        words.append(f"--image-size {image_size[0]}x{image_size[1]}")
    if conv.coordinates != base.coordinates:
        words.append(f"--switch coordinates={conv.coordinates}")
    if layout != "nchw":
        words.append(f"--layout {layout}")
    return " ".join(words)


def assumed_candidate(name: str, image_size, spatial_scale, features_width: int, best: Candidate) -> Candidate:
    """What the user has been running: a preset at their scale (else the feature/image ratio, else
    the best match's), with relative boxes x the image size when they gave one."""
    preset = get(name)
    conv = preset.convention
    readings = {"relative-feature": RELATIVE_FEATURE, "tf-normalized": TF_NORMALIZED}
    reading = readings.get(conv.coordinates, RELATIVE_IMAGE if image_size else ABSOLUTE)
    if spatial_scale is None:
        spatial_scale = features_width / image_size[0] if image_size else best.spatial_scale
    return Candidate(preset, (), "avg" if conv.pooling == "avg" else "max", reading, spatial_scale, conv)


def explain_assumption(assumed: Scored, best: Scored) -> list[str]:
    """Sentences saying what differs between the assumed setting and the best match."""
    a, b = assumed.candidate, best.candidate
    lines = [
        f"the reference {_switch_words(name, vb, b)}; your setting {_switch_words(name, va, a)}"
        for name, va, vb in differences(a.convention, b.convention)
        if name != "coordinates"
    ]
    if a.reading != b.reading:
        lines.append(f"the reference reads the boxes as {b.reading.name}; your setting reads them as {a.reading.name}")
    if b.reading.scaled and a.reading.scaled and not _same_scale(a.spatial_scale, b.spatial_scale):
        lines.append(
            f"the reference uses spatial scale {scale_expression(b.spatial_scale)}; "
            f"yours is {scale_expression(a.spatial_scale)}"
        )
    return lines


def _sampling_words(conv: Convention) -> str:
    if conv.one_point_per_cell:
        return "takes one point per output cell, end to end"
    if conv.whole_pixels:
        return "pools every whole pixel of each bin (RoIPool)"
    if isinstance(conv.sampling_ratio, tuple):
        ry, rx = (str(r) if r else "adaptive" for r in conv.sampling_ratio)
        return f"takes {ry} x {rx} samples per bin (y x x)"
    if conv.sampling_ratio == 1:
        return "takes one centre sample per bin"
    if conv.sampling_ratio > 1:
        return f"averages {conv.sampling_ratio} x {conv.sampling_ratio} samples per bin"
    return "averages ceil(roi h / PH) x ceil(roi w / PW) samples per bin"


_WORDS = {
    "pixel_offset": lambda v: f"adds {v:g} to box coordinates before scaling" if v else "adds nothing before scaling",
    "sample_offset": lambda v: f"shifts boxes by -{v:g} feature pixel" if v else "does not shift by half a pixel",
    "end_plus_one": lambda v: {
        "none": "takes the box size as x2 - x1",
        "coordinate": "ends boxes at x2 + 1 before scaling",
        "size": "adds +1 to box sizes (x2 - x1 + 1)",
    }[v],
    "min_size": lambda v: "keeps sizes below one pixel" if v is None else f"makes every box at least {v:g} pixel",
    "clip_box": lambda v: "clips boxes to the map first" if v else "does not clip boxes",
    "clip_bins": lambda v: "clips bin edges to the map" if v else "does not clip bin edges",
    "scale_in_compute_dtype": lambda v: "scales boxes in float32 steps" if v else "scales boxes in double",
    "sample_step": lambda v: (
        "places samples at p * bin + (bin / grid) * (i + 0.5) (OpenVINO's rounding)"
        if v == "bin-over-grid"
        else "places samples at p * bin + (i + 0.5) * bin / grid"
    ),
    "pooling": lambda v: {
        "avg": "averages",
        "max": "takes the max of interpolated samples",
        "corner-max": "takes the max of single weighted corners (corner-max)",
    }[v],
    "max_floor": lambda v: "starts its max at -inf" if v is None else f"starts its max at {v:g}",
    "border": lambda v: {
        "caffe2": "zeroes samples beyond [-1, size] and clamps the rest",
        "clamp": "clamps samples to the map",
        "fill": "fills samples outside [0, size - 1]",
        "caffe-ssd": "weighs a sample on the last row or column 0",
    }[v],
    "interpolation": lambda v: "reads the nearest pixel (roundf)" if v == "nearest" else "interpolates bilinearly",
    "fill_value": lambda v: f"fills outside samples with {v:g}",
    "box_rounding": lambda v: {
        "none": "keeps box coordinates as they are",
        "after-scale": "rounds box edges after scaling (round(x * s))",
        "after-scale-exact": "rounds box edges after scaling, of the exact product (round(x * s))",
        "before-scale": "rounds box edges before scaling (round(x) * s)",
    }[v],
    "channel_mapping": lambda v: (
        "reads one input channel group per bin (position-sensitive)"
        if v == "position-sensitive"
        else "reads every channel in every bin"
    ),
    "empty_value": lambda v: f"gives {v:g} for a bin without samples",
}


def _switch_words(name: str, value, candidate: Candidate) -> str:
    if name in ("sampling_ratio", "grid"):
        return _sampling_words(candidate.convention)
    return _WORDS[name](value)
