"""Find the convention that reproduces a reference output.

The search space is every preset with its options and modes, times the ways the rois may have
been read (absolute pixels x spatial_scale, relative x image size, relative x feature size, TF
normalized), times spatial scales and sampling ratios. Every candidate is scored on a small
subset of rois and channels; the leaders are confirmed on all of the data.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .boxes import looks_relative, scale_relative
from .conventions import Convention, differences
from .diff_defaults import ATOL
from .engines import numpy_engine
from .equivalents import CallSpec, scale_expression
from .presets import PRESETS, Preset, get

SCALES = tuple(1 / 2**k for k in range(7))  # 1 .. 1/64
SAMPLING_RATIOS = (0, 1, 2, 3, 4)
SUBSET_ROIS = 12
SUBSET_CHANNELS = 8
CONFIRMED = 12
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
    spatial_scale: float
    convention: Convention

    @property
    def label(self) -> str:
        """The preset, its options that differ from their defaults, and max when it is max."""
        opts = "".join(f" {k}={v}" for k, v in self.options if self.preset.option(k).default != v)
        return f"{self.preset.name}{opts}" + (" max" if self.mode == "max" else "")


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
        "sampling": "corners" if c.convention.grid == "corners" else str(c.convention.sampling_ratio or "adaptive"),
        "max_error": s.max_error,
        "mean_error": s.mean_error,
        "convention": c.convention.switches(),
    }


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


def _scales(features_shape, image_size, given: float | None) -> list[float]:
    if given is not None:
        return [given]
    scales = list(SCALES)
    if image_size:
        ratio = features_shape[3] / image_size[0]
        if all(not math.isclose(ratio, s) for s in scales):
            scales.append(ratio)
    return scales


def candidates(rois, features_shape, image_size=None, spatial_scale=None) -> list[Candidate]:
    """The whole search space, without duplicates (same convention, reading and scale)."""
    seen, out = set(), []
    scales = _scales(features_shape, image_size, spatial_scale)
    for preset, options, mode, base in _bases():
        ratios = [base.sampling_ratio] if base.grid == "corners" else sorted({base.sampling_ratio, *SAMPLING_RATIOS})
        for reading in _readings(rois, image_size):
            for ratio, scale in itertools.product(ratios, scales if reading.scaled else [1.0]):
                conv = base.with_(coordinates=reading.coordinates, sampling_ratio=ratio)
                key = (conv, reading.times_image, scale)
                if key not in seen:
                    seen.add(key)
                    out.append(Candidate(preset, options, mode, reading, scale, conv))
    return out


def _engine_rois(rois: np.ndarray, reading: Reading, image_size) -> np.ndarray:
    return scale_relative(rois, image_size) if reading.times_image else rois


def _errors(got: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Max and mean absolute error; NaN where only one side is NaN counts as infinite."""
    diff = np.abs(got.astype(np.float64) - reference)
    both_nan = np.isnan(got) & np.isnan(reference)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    return (float(diff.max()), float(diff.mean())) if diff.size else (0.0, 0.0)


def score(candidate: Candidate, features, rois, reference, output_size, image_size) -> Scored:
    engine_rois = _engine_rois(rois, candidate.reading, image_size)
    got = numpy_engine.pool(features, engine_rois, output_size, candidate.spatial_scale, candidate.convention)
    return Scored(candidate, *_errors(got, reference))


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
    return sorted(tied, key=_prior) + ordered[len(tied):]


def _subset(count: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, count - 1, min(count, limit)).round().astype(int)) if count else np.arange(0)


def explain(features, rois, reference, *, image_size=None, spatial_scale=None, assume=None, top=5,
            paths=("FEATURES", "ROIS")) -> Explanation:
    """Search, then check the best against the tolerance of `roialign diff`, and compare it with
    what the user assumed. `paths` name the files in the reproducing command."""
    from .compare import compare
    from .limits import check_work

    features, rois, reference = _checked(features, rois, reference)
    result = search(features, rois, reference, image_size=image_size, spatial_scale=spatial_scale, top=top)
    best = result.best.candidate
    got = numpy_engine.pool(features, _engine_rois(rois, best.reading, image_size), result.output_size,
                            best.spatial_scale, best.convention)
    result.matched = compare(got, reference).matches
    result.command = pool_command(best, *paths, image_size, result.output_size)
    if assume:
        like = assumed_candidate(assume, image_size, spatial_scale, features.shape[3], best)
        check_work(_engine_rois(rois, like.reading, image_size), features, result.output_size, like.spatial_scale,
                   like.convention)
        result.assumed = score(like, features, rois, reference, result.output_size, image_size)
        result.assumption_lines = explain_assumption(result.assumed, result.best)
    return result


def _checked(features, rois, reference):
    from .errors import InputError
    from .validation import check_features, check_rois

    check_features(features.shape, features.dtype)
    rois = check_rois(rois, features.shape[0])
    reference = np.asarray(reference)
    if reference.ndim != 4 or reference.shape[:2] != (len(rois), features.shape[1]):
        raise InputError(
            f"reference has shape {list(reference.shape)}; expected [{len(rois)}, {features.shape[1]}, PH, PW] "
            "(one pooled map per roi and feature channel)"
        )
    if reference.dtype.kind != "f":
        raise InputError(f"reference must be floating point, not {reference.dtype}")
    if len(rois) == 0:
        raise InputError("there are no rois: nothing to explain")
    return np.asarray(features), rois, reference


def search(features, rois, reference, *, image_size=None, spatial_scale=None, top=5) -> Explanation:
    """Score every candidate on a subset, confirm the leaders on everything, rank them."""
    reference = np.asarray(reference, dtype=np.float64)
    output_size = (int(reference.shape[2]), int(reference.shape[3]))
    ri, ci = _subset(len(rois), SUBSET_ROIS), _subset(features.shape[1], SUBSET_CHANNELS)
    sub = (np.ascontiguousarray(features[:, ci]), rois[ri], reference[ri][:, ci])
    pool, notes = _affordable(candidates(rois, features.shape, image_size, spatial_scale), sub[:2],
                              (features, rois), output_size, image_size)
    quick = rank([score(c, *sub, output_size, image_size) for c in pool])
    full = (features, rois, reference, output_size, image_size)
    leaders, confirm_note = _confirmable([s.candidate for s in quick[: max(CONFIRMED, top)]], full)
    confirmed = rank([score(c, *full) for c in leaders])
    explanation = Explanation(confirmed, len(pool), output_size, image_size, notes=notes + confirm_note)
    explanation.frameworks = _framework_matches(quick, confirmed, full)
    return explanation


def _call(c: Candidate, features, rois, output_size, image_size):
    """The engine call that scores a candidate, as `limits` estimates it."""
    return _engine_rois(rois, c.reading, image_size), features, output_size, c.spatial_scale, c.convention


def _confirmable(leaders: list[Candidate], full) -> tuple[list[Candidate], list[str]]:
    """The leaders, in rank order, whose scores on all the data fit the time limit together."""
    from .limits import estimate, search_budget

    features, rois, _, output_size, image_size = full
    fits, note = search_budget([estimate(*_call(c, features, rois, output_size, image_size))[0] for c in leaders],
                               share=1, cheapest_first=False)
    return [c for c, fit in zip(leaders, fits) if fit], [note] if note else []


def _affordable(pool: list[Candidate], subset, full, output_size, image_size) -> tuple[list[Candidate], list[str]]:
    """The candidates that `limits` lets the search try: each within a share of the time limit on the
    subset and within the limit on all the data, and the cheapest first while the search's budget
    lasts; a note on those skipped."""
    from .errors import InputError
    from .limits import EXPLAIN_SHARE, estimate, search_budget, work_problem

    def call(c: Candidate, data):
        return _call(c, *data, output_size, image_size)

    problems = [work_problem(*call(c, subset), share=EXPLAIN_SHARE) or work_problem(*call(c, full)) for c in pool]
    kept = [c for c, problem in zip(pool, problems) if problem is None]
    skipped = [problem for problem in problems if problem is not None]
    if not kept:
        raise InputError(f"no candidate can be tried: {skipped[0]}")
    fits, budget_note = search_budget([estimate(*call(c, subset))[0] for c in kept])
    notes = [budget_note] if budget_note else []
    if skipped:
        notes.insert(0, f"{len(skipped)} of {len(pool)} candidates skipped as too costly or out of range, "
                        f"e.g.: {skipped[0]}")
    return [c for c, fit in zip(kept, fits) if fit], notes


FRAMEWORKS = {
    "torchvision": ("caffe2", "torchvision-aligned"),
    "ONNX": ("onnxruntime",),
    "TensorRT": ("tensorrt",),
    "OpenVINO": ("openvino-half-pixel", "openvino-max"),
}


def _framework_matches(quick, confirmed, full):
    """For each framework: the best candidate it can express (exact or nearest) and its call.
    Candidates already confirmed on all the data keep their score."""
    known = {id(s.candidate): s for s in confirmed}
    out = {}
    for framework, names in FRAMEWORKS.items():
        own = [s for s in quick if s.candidate.preset.name in names and s.candidate.reading.coordinates == "absolute"]
        if not own:
            out[framework] = (None, f"not expressible in {framework}: it reads absolute boxes x spatial_scale")
            continue
        scored = rank([known.get(id(s.candidate)) or score(s.candidate, *full) for s in own[:3]])[0]
        out[framework] = (scored, call_text(scored.candidate, full[3]))
    return out


def call_text(candidate: Candidate, output_size) -> str:
    text = candidate.preset.equivalent(candidate.convention, CallSpec(output_size, candidate.spatial_scale))
    if candidate.reading.times_image:
        text += "  (boxes multiplied by the image width and height first)"
    return text


def pool_command(candidate: Candidate, features: str, rois: str, image_size, output_size) -> str:
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
        words.append(f"--sampling-ratio {conv.sampling_ratio}")
    if candidate.reading.scaled:
        words.append(f"--spatial-scale {scale_expression(candidate.spatial_scale)}")
    if candidate.reading.times_image:
        words.append(f"--image-size {image_size[0]}x{image_size[1]}")
    if conv.coordinates != base.coordinates:
        words.append(f"--switch coordinates={conv.coordinates}")
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
    if b.reading.scaled and a.reading.scaled and not math.isclose(a.spatial_scale, b.spatial_scale):
        lines.append(
            f"the reference uses spatial scale {scale_expression(b.spatial_scale)}; yours is {scale_expression(a.spatial_scale)}"
        )
    return lines


def _sampling_words(conv: Convention) -> str:
    if conv.grid == "corners":
        return "takes one point per output cell, end to end"
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
    "pooling": lambda v: {"avg": "averages", "max": "takes the max of interpolated samples",
                          "corner-max": "takes the max of single weighted corners (corner-max)"}[v],
    "max_floor": lambda v: "starts its max at -inf" if v is None else f"starts its max at {v:g}",
    "border": lambda v: {
        "caffe2": "zeroes samples beyond [-1, size] and clamps the rest",
        "clamp": "clamps samples to the map",
        "fill": "fills samples outside [0, size - 1]",
        "caffe-ssd": "weighs a sample on the last row or column 0",
    }[v],
    "fill_value": lambda v: f"fills outside samples with {v:g}",
    "empty_value": lambda v: f"gives {v:g} for a bin without samples",
}


def _switch_words(name: str, value, candidate: Candidate) -> str:
    if name in ("sampling_ratio", "grid"):
        return _sampling_words(candidate.convention)
    return _WORDS[name](value)
