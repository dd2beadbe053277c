"""Find the convention that reproduces a reference output.

The search space is every preset with its options and modes, times the ways the rois may have
been read (absolute pixels x spatial_scale, relative x image size, relative x feature size, TF
normalized), times spatial scales (per axis where the feature map's aspect differs from the
image's) and sampling ratios. Every candidate is scored on a small
subset of rois and channels; the leaders are confirmed on all of the data. The pooling runs on
any engine (`roialign_cli.engines`), the GPU's included.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from .boxes import looks_relative, scale_relative
from .conventions import Convention, differences, format_value
from .diff_defaults import ATOL
from . import engines
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
    return all(math.isclose(u, v) for u, v in zip(_scale_pair(a), _scale_pair(b)))


def _scale_pair(s) -> tuple[float, float]:
    return tuple(s) if isinstance(s, (tuple, list)) else (s, s)


def candidates(rois, features_shape, image_size=None, spatial_scale=None, position_sensitive=False) -> list[Candidate]:
    """The whole search space, without duplicates (same convention, reading and scale); position-sensitive
    conventions alone when the reference has C / (PH * PW) channels, else none of them."""
    seen, out = set(), []
    scales = _scales(features_shape, image_size, spatial_scale)
    for preset, options, mode, base in _bases():
        if (base.channel_mapping == "position-sensitive") != position_sensitive:
            continue
        ratios = sorted({base.sampling_ratio, *SAMPLING_RATIOS}) if base.takes_sampling_ratio else [base.sampling_ratio]
        for reading in _readings(rois, image_size):
            for ratio, scale in itertools.product(ratios, scales if reading.scaled else [1.0]):
                conv = base.with_(coordinates=reading.coordinates, sampling_ratio=ratio)
                key = (conv, reading.times_image, scale)
                if key not in seen:
                    seen.add(key)
                    out.append(Candidate(preset, options, mode, reading, scale, conv))
    return out


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

    def pooled(self, candidate: Candidate) -> np.ndarray:
        rois = engine_rois(self.rois, candidate.reading, self.image_size)
        got = self.engine.pool(self.features, rois, self.output_size, candidate.spatial_scale, candidate.convention)
        return got if isinstance(got, np.ndarray) else got.get()  # CuPy results come back to the host

    def score(self, candidate: Candidate) -> Scored:
        return Scored(candidate, *_errors(self.pooled(candidate), self.reference))

    @property
    def position_sensitive(self) -> bool:
        """The reference has C / (PH * PW) channels: each bin read its own input channels."""
        return self.reference.shape[1] != self.features.shape[1]

    def subset(self, rois: np.ndarray, channels: np.ndarray) -> "Problem":
        """The same problem on some rois and reference channels (a contiguous copy of the input
        channels they read)."""
        inputs = channels
        if self.position_sensitive:
            bins = self.output_size[0] * self.output_size[1]
            inputs = (channels[:, None] * bins + np.arange(bins)).ravel()
        features = self.features[:, inputs].copy()
        return replace(self, features=features, rois=self.rois[rois], reference=self.reference[rois][:, channels])


def _errors(got: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Max and mean absolute error; NaN where only one side is NaN counts as infinite."""
    diff = np.abs(got.astype(np.float64) - reference)
    both_nan = np.isnan(got) & np.isnan(reference)
    diff = np.where(both_nan, 0.0, np.where(np.isnan(diff), np.inf, diff))
    return (float(diff.max()), float(diff.mean())) if diff.size else (0.0, 0.0)


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
            paths=("FEATURES", "ROIS"), backend="auto", layout="nchw") -> Explanation:
    """Search, then check the best against the tolerance of `roialign diff`, and compare it with
    what the user assumed. `paths` name the files in the reproducing command; `backend` picks the
    engine as `roialign pool` does (the result's `engine` says which ran); `layout` 'nhwc' reads
    channels-last features [N, H, W, C] and a reference [K, PH, PW, C], as TF and NNAPI give them."""
    from .compare import compare
    from .validation import check_layout

    check_layout(layout, np.ndim(features))
    if layout == "nhwc":
        check_layout(layout, np.ndim(reference))
        features, reference = np.asarray(features).transpose(0, 3, 1, 2), np.asarray(reference).transpose(0, 3, 1, 2)
    features, rois, reference = _checked(features, rois, reference)
    choice = engines.choose(backend, features)
    problem = _problem(features, rois, reference, image_size, choice)
    result = search(problem, spatial_scale=spatial_scale, top=top)
    result.engine = choice
    best = result.best.candidate
    result.matched = compare(problem.pooled(best), reference).matches
    result.command = pool_command(best, *paths, image_size, result.output_size, layout)
    if assume:
        like = assumed_candidate(assume, image_size, spatial_scale, features.shape[3], best)
        result.assumed = problem.score(like)
        result.assumption_lines = explain_assumption(result.assumed, result.best)
    return result


def _problem(features, rois, reference, image_size, choice: engines.Choice) -> Problem:
    if choice.name == "cuda" and isinstance(features, np.ndarray):
        import cupy

        features = cupy.asarray(features)  # once, not once per candidate
    output_size = (int(reference.shape[2]), int(reference.shape[3]))
    reference = np.asarray(reference, dtype=np.float64)
    return Problem(features, rois, reference, output_size, image_size, choice.engine)


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


def search(problem: Problem, *, spatial_scale=None, top=5) -> Explanation:
    """Score every candidate on a subset, confirm the leaders on everything, rank them."""
    pool = candidates(
        problem.rois, problem.features.shape, problem.image_size, spatial_scale, problem.position_sensitive
    )
    sub = problem.subset(_subset(len(problem.rois), SUBSET_ROIS), _subset(problem.reference.shape[1], SUBSET_CHANNELS))
    quick = rank([sub.score(c) for c in pool])
    confirmed = rank([problem.score(s.candidate) for s in quick[: max(CONFIRMED, top)]])
    explanation = Explanation(confirmed, len(pool), problem.output_size, problem.image_size)
    explanation.frameworks = _framework_matches(quick, confirmed, problem)
    return explanation


FRAMEWORKS = {
    "torchvision": ("caffe2", "torchvision-aligned"),
    "ONNX": ("onnxruntime",),
    "TensorRT": ("tensorrt",),
    "OpenVINO": ("openvino-half-pixel", "openvino-max"),
}


def _framework_matches(quick, confirmed, problem: Problem):
    """For each framework: the best candidate it can express (exact or nearest) and its call.
    Candidates already confirmed on all the data keep their score."""
    known = {id(s.candidate): s for s in confirmed}
    out = {}
    for framework, names in FRAMEWORKS.items():
        own = [s for s in quick if s.candidate.preset.name in names and s.candidate.reading.coordinates == "absolute"]
        if not own:
            out[framework] = (None, f"not expressible in {framework}: it reads absolute boxes x spatial_scale")
            continue
        scored = rank([known.get(id(s.candidate)) or problem.score(s.candidate) for s in own[:3]])[0]
        out[framework] = (scored, call_text(scored.candidate, problem.output_size))
    return out


def call_text(candidate: Candidate, output_size) -> str:
    text = candidate.preset.equivalent(candidate.convention, CallSpec(output_size, candidate.spatial_scale))
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
            f"the reference uses spatial scale {scale_expression(b.spatial_scale)}; yours is {scale_expression(a.spatial_scale)}"
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
    "sample_step": lambda v: "places samples at p * bin + (bin / grid) * (i + 0.5) (OpenVINO's rounding)"
    if v == "bin-over-grid"
    else "places samples at p * bin + (i + 0.5) * bin / grid",
    "pooling": lambda v: {"avg": "averages", "max": "takes the max of interpolated samples",
                          "corner-max": "takes the max of single weighted corners (corner-max)"}[v],
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
    "channel_mapping": lambda v: "reads one input channel group per bin (position-sensitive)"
    if v == "position-sensitive"
    else "reads every channel in every bin",
    "empty_value": lambda v: f"gives {v:g} for a bin without samples",
}


def _switch_words(name: str, value, candidate: Candidate) -> str:
    if name in ("sampling_ratio", "grid"):
        return _sampling_words(candidate.convention)
    return _WORDS[name](value)
