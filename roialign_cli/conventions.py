"""What a RoIAlign convention is: every silent switch of section 3 of the reference, as data.

Engines take a `Convention`; presets are named conventions; nothing else carries flags.
This module is pure Python so that `roialign --help` and `roialign presets` stay fast.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields, replace

COORDINATES = ("absolute", "relative-feature", "tf-normalized")
END_PLUS_ONE = ("none", "coordinate", "size")
SAMPLE_STEPS = ("offset-times-bin", "bin-over-grid")
GRIDS = ("bins", "corners", "corners-pinned", "pixels", "pixels-exact")
BOX_ROUNDINGS = ("none", "after-scale", "before-scale", "after-scale-exact")
CHANNEL_MAPPINGS = ("none", "position-sensitive")
POOLINGS = ("avg", "max", "corner-max")
BORDERS = ("caffe2", "clamp", "fill", "caffe-ssd")
INTERPOLATIONS = ("bilinear", "nearest")
# Feature layouts the API and CLI read: NCHW (PyTorch, ONNX, Caffe) or channels-last NHWC (TF,
# TFLite, NNAPI). Not a switch: a layout changes where values lie, not what is computed.
LAYOUTS = ("nchw", "nhwc")
Y, X = 0, 1  # indices of the per-axis pairs (sampling ratios, spatial scales): height first, as output sizes


def _switch(default, doc):
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Convention:
    """One complete reading of RoIAlign. Defaults are Caffe2 / torchvision aligned=False."""

    coordinates: str = _switch(
        "absolute",
        "how box coordinates become feature pixels: 'absolute' (x spatial_scale), "
        "'relative-feature' (0..1 x feature width/height), 'tf-normalized' (0..1 x (size - 1))",
    )
    box_rounding: str = _switch(
        "none",
        "'after-scale': box edges rounded half away from zero after scaling, round(x * s) (Caffe ROIPooling); "
        "'before-scale': round(x) * s (R-FCN PSROIPooling); 'after-scale-exact': round(x * s) of the product in "
        "double, not of its float32 rounding (OpenVINO ROIPooling: 14.999999 * 0.3 rounds to 4, not 5)",
    )
    pixel_offset: float = _switch(0.0, "added to box coordinates before scaling (OpenVINO half_pixel: 0.5)")
    scale_in_compute_dtype: bool = _switch(
        False,
        "box coordinates scaled in the compute precision, rounded at each step, with the spatial scale rounded to "
        "it too (torchvision, onnxruntime, OpenVINO with a half-pixel offset: x * s - 0.5 in float32); False: in "
        "double, rounded once",
    )
    sample_offset: float = _switch(0.0, "subtracted after scaling (aligned / half_pixel: 0.5)")
    end_plus_one: str = _switch(
        "none",
        "'coordinate': x2 + 1 before scaling (mmdetection v1); 'size': size = end - start + 1 (Caffe forks)",
    )
    min_size: float | None = _switch(1.0, "roi size clamped to at least this many feature pixels; None: no clamp")
    clip_box: bool = _switch(False, "start clamped >= 0 and end <= size - 1 before sizing (Caffe SSD fork)")
    clip_bins: bool = _switch(False, "bin edges clamped to [0, size - 1] (Caffe ROIAlignment)")
    sampling_ratio: int | tuple[int, int] = _switch(
        0,
        "samples per bin along each axis; 0: adaptive ceil(roi size / output size); "
        "Y,X (height first) where the axes differ",
    )
    sample_step: str = _switch(
        "offset-times-bin",
        "how float arithmetic places sample i of bin p: 'offset-times-bin' start + p * bin + ((i + 0.5) * bin) / grid "
        "(Caffe2, torchvision, onnxruntime); 'bin-over-grid' start + p * bin + (bin / grid) * (i + 0.5) (OpenVINO's "
        "CPU plugin): the same number, rounded differently on large grids",
    )
    grid: str = _switch(
        "bins",
        "'bins': samples inside each output bin; 'corners': one point per output cell, end to end (TF); "
        "'corners-pinned': the same with the last point exactly on the box end (OpenVINO ROIPooling bilinear); "
        "'pixels': every whole pixel from floor(bin start) to ceil(bin end), read as it is (RoIPool); "
        "'pixels-exact': the same with bin edges floor(p * size / P) and ceil((p + 1) * size / P) exact, "
        "not from a float bin size (OpenVINO ROIPooling max)",
    )
    pooling: str = _switch(
        "avg",
        "'avg'; 'max': max over bilinear samples; 'corner-max': max over samples of the largest weighted corner",
    )
    max_floor: float | None = _switch(None, "max pooling's running maximum starts here (OpenVINO: 0); None: -inf")
    interpolation: str = _switch(
        "bilinear",
        "how a sample reads the map: 'bilinear' (four pixels), 'nearest' (the pixel nearest the sample, "
        "halves rounded up as C's roundf: TF crop_and_resize method='nearest')",
    )
    border: str = _switch(
        "caffe2",
        "'caffe2': zero outside [-1, size], then edge clamp; 'clamp': edge clamp only; "
        "'fill': fill_value outside [0, size - 1] (TF); 'caffe-ssd': clamp, neighbour min(i + 1, size - 1), "
        "weights from the neighbours (a sample on the last row or column weighs 0)",
    )
    fill_value: float = _switch(0.0, "value of a sample that falls outside the map under the 'fill' rule")
    empty_value: float = _switch(0.0, "output of a bin with no samples (TensorRT and Paddle give NaN)")
    channel_mapping: str = _switch(
        "none",
        "'position-sensitive': output channel c of bin (ph, pw) reads input channel (c * PH + ph) * PW + pw, "
        "so the output has C / (PH * PW) channels (R-FCN, torchvision ps_roi_align)",
    )

    def __post_init__(self) -> None:
        for name, allowed in (
            ("coordinates", COORDINATES),
            ("end_plus_one", END_PLUS_ONE),
            ("grid", GRIDS),
            ("sample_step", SAMPLE_STEPS),
            ("box_rounding", BOX_ROUNDINGS),
            ("channel_mapping", CHANNEL_MAPPINGS),
            ("pooling", POOLINGS),
            ("border", BORDERS),
            ("interpolation", INTERPOLATIONS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        # One number when both axes agree, a (y, x) pair only where they differ: every convention
        # has one spelling, so that equal conventions compare and hash equal.
        object.__setattr__(self, "sampling_ratio", _ratio_value(self.sampling_ratio))
        if self.interpolation == "nearest" and self.pooling == "corner-max":
            raise ValueError("corner-max pools bilinear corners; nearest interpolation reads one pixel")

    @property
    def sampling_ratios(self) -> tuple[int, int]:
        """Samples per bin along (y, x); 0 is adaptive on that axis."""
        ratio = self.sampling_ratio
        return (ratio, ratio) if isinstance(ratio, int) else ratio

    @property
    def adaptive(self) -> bool:
        """Bins of sample grids sized by the roi on some axis (where an empty roi has no samples)."""
        return self.takes_sampling_ratio and 0 in self.sampling_ratios

    @property
    def one_point_per_cell(self) -> bool:
        """The grid takes one point per output cell, so a sampling ratio does not apply."""
        return self.grid in ("corners", "corners-pinned")

    @property
    def takes_sampling_ratio(self) -> bool:
        """Only bins of sample grids have a sampling ratio."""
        return self.grid == "bins"

    @property
    def rounds_after_scale(self) -> bool:
        """Box edges are whole feature pixels, round(x * s) (RoIPool)."""
        return self.box_rounding in ("after-scale", "after-scale-exact")

    @property
    def whole_pixels(self) -> bool:
        """RoIPool's grid: bins of whole pixels, each read as it is."""
        return self.grid in ("pixels", "pixels-exact")

    def with_(self, **changes) -> Convention:
        return replace(self, **changes)

    def switches(self) -> dict[str, object]:
        """Every switch and its value, in declaration order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _ratio_value(ratio) -> int | tuple[int, int]:
    """An int or a (y, x) pair of ints >= 0, as the field holds it: an int when the axes agree."""
    pair = (ratio, ratio) if isinstance(ratio, numbers.Real) else tuple(ratio)
    if len(pair) != 2 or any(isinstance(v, bool) or int(v) != v for v in pair):
        raise ValueError(f"sampling_ratio must be an integer or a (y, x) pair of integers, not {ratio!r}")
    y, x = (int(v) for v in pair)
    if min(y, x) < 0:
        raise ValueError("sampling_ratio must be >= 0 (0 is adaptive)")
    return y if y == x else (y, x)


def parse_switch(text: str) -> tuple[str, object]:
    """'coordinates=relative-feature' -> ('coordinates', 'relative-feature'), typed as the field is."""
    from .errors import InputError

    name, sep, value = (part.strip() for part in text.partition("="))
    known = {f.name: f for f in fields(Convention)}
    if not sep or name not in known:
        raise InputError(f"a switch is NAME=VALUE with NAME one of {', '.join(known)}; got {text!r}")
    default = known[name].default
    try:
        if value.lower() == "none" and name in ("min_size", "max_floor"):
            return name, None
        if name == "sampling_ratio":
            ratios = tuple(int(v) for v in value.split(","))
            return name, _ratio_value(ratios[0] if len(ratios) == 1 else ratios)
        if isinstance(default, bool):
            if value.lower() not in ("true", "false"):
                raise ValueError
            return name, value.lower() == "true"
        if isinstance(default, int):
            return name, int(value)
        if isinstance(default, float) or default is None:
            return name, float(value)
    except ValueError:
        raise InputError(f"switch {name} cannot be {value!r} ({switch_doc(name)})") from None
    return name, value


def with_switches(conv: Convention, items) -> Convention:
    """`conv` with NAME=VALUE texts applied; an impossible combination is an InputError."""
    from .errors import InputError

    try:
        return conv.with_(**dict(parse_switch(item) for item in items))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def switch_doc(name: str) -> str:
    return next(f.metadata["doc"] for f in fields(Convention) if f.name == name)


def format_value(value: object) -> str:
    if isinstance(value, tuple):  # a per-axis pair, written as on the command line
        return ",".join(map(format_value, value))
    if value is None:
        return "none"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def differences(a: Convention, b: Convention) -> list[tuple[str, object, object]]:
    """The switches on which two conventions disagree: (name, value in a, value in b)."""
    out = []
    for name, va in a.switches().items():
        vb = getattr(b, name)
        same = va == vb or (isinstance(va, float) and isinstance(vb, float) and math.isnan(va) and math.isnan(vb))
        if not same:
            out.append((name, va, vb))
    return out
