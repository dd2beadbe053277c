"""Named conventions: the one registry that `pool`, `presets`, `explain` and the docs read.

Each preset names the framework it reproduces, its exact switches, what its "max" mode means,
how to ask the framework itself for the same thing, and the traps users of that framework hit.
Pure Python: importing this must not pull in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .conventions import Convention
from .errors import InputError


@dataclass(frozen=True)
class CallSpec:
    """The per-call numbers a framework call needs besides the convention."""

    output_size: tuple[int, int] = (7, 7)
    spatial_scale: float = 1.0
    sampling_ratio: int = 0


@dataclass(frozen=True)
class Preset:
    name: str
    reproduces: str
    convention: Convention
    aliases: tuple[str, ...] = ()
    # switches that turn the preset's average into its own max mode; None: it has no max mode
    max_mode: dict | None = None
    # the equivalent call in the framework the preset names
    equivalent: Callable[[Convention, CallSpec], str] | None = None
    traps: tuple[str, ...] = ()
    # named variants of the preset (option value -> switches), e.g. ONNX coordinate modes
    options: dict[str, dict[str, dict]] = field(default_factory=dict)


def _scale_text(s: float) -> str:
    if s > 0 and (1 / s).is_integer() and s < 1:
        return f"1/{int(1 / s)}"
    return f"{s:g}"


def _torchvision_call(conv: Convention, spec: CallSpec) -> str:
    aligned = conv.sample_offset == 0.5
    sr = conv.sampling_ratio if conv.sampling_ratio > 0 else -1
    ph, pw = spec.output_size
    return (
        f"torchvision.ops.roi_align(x, rois, output_size=({ph}, {pw}), "
        f"spatial_scale={_scale_text(spec.spatial_scale)}, sampling_ratio={sr}, aligned={aligned})"
    )


_CAFFE2 = Convention()
_ALIGNED = Convention(sample_offset=0.5, min_size=None)

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="caffe2",
        aliases=("torchvision",),
        reproduces=(
            "Caffe2 RoIAlign, torchvision aligned=False, maskrcnn-benchmark, ONNX opset 10 / output_half_pixel, "
            "TensorRT coordinateTransformationMode=0, OpenVINO asymmetric"
        ),
        convention=_CAFFE2,
        equivalent=_torchvision_call,
    ),
    Preset(
        name="torchvision-aligned",
        aliases=("detectron2",),
        reproduces=(
            "torchvision aligned=True, detectron2 ROIAlignV2, Paddle default, ONNX opset 16 half_pixel, "
            "OpenVINO half_pixel_for_nn"
        ),
        convention=_ALIGNED,
        equivalent=_torchvision_call,
    ),
)

_BY_NAME: dict[str, Preset] = {}
for _p in PRESETS:
    for _n in (_p.name, *_p.aliases):
        _BY_NAME[_n] = _p


def names() -> list[str]:
    return sorted(_BY_NAME)


def get(name: str) -> Preset:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; known presets: {', '.join(p.name for p in PRESETS)}") from None


def resolve(
    preset: str | Convention | None = None,
    *,
    aligned: bool | None = None,
    sampling_ratio: int = -1,
    mode: str | None = None,
) -> Convention:
    """The convention a call asks for.

    `preset` (a name or a Convention) is the base; without one the base is torchvision's
    aligned=False. `aligned` (None: the preset's own) switches the half-pixel offset and the
    legacy minimum size; `sampling_ratio` -1 keeps the preset's own, 0 is adaptive, n > 0 fixed;
    `mode` 'avg' or 'max' picks the preset's own flavour of max.
    """
    named = get(preset) if isinstance(preset, str) else None
    conv = named.convention if named else preset if isinstance(preset, Convention) else _CAFFE2
    if aligned is not None:
        conv = conv.with_(sample_offset=0.5 if aligned else 0.0, min_size=None if aligned else 1.0)
    if sampling_ratio is not None and sampling_ratio >= 0:
        conv = conv.with_(sampling_ratio=int(sampling_ratio))
    elif sampling_ratio is not None and sampling_ratio < -1:
        raise InputError(f"sampling ratio must be -1 (the preset's own), 0 (adaptive) or positive, not {sampling_ratio}")
    if mode in (None, "avg"):
        if mode == "avg" and conv.pooling != "avg":
            conv = conv.with_(pooling="avg", max_floor=None)
        return conv
    if mode != "max":
        raise InputError(f"mode must be 'avg' or 'max', not {mode!r}")
    if named is None:
        return conv.with_(pooling="max") if conv.pooling == "avg" else conv
    if conv.pooling != "avg":
        return conv
    if named.max_mode is None:
        raise InputError(f"preset {named.name!r} has no max mode")
    return conv.with_(**named.max_mode)
