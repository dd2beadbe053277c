"""The Python API: `roi_align`, one call for every convention and engine."""

from __future__ import annotations

from . import engines
from .conventions import Convention
from .limits import check_work
from .presets import resolve
from .validation import check_features, check_output_size, check_rois


def roi_align(
    features,
    rois,
    output_size=(7, 7),
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool | None = None,
    *,
    mode: str | None = None,
    preset: str | Convention | None = None,
    options: dict[str, str] | None = None,
    backend: str = "auto",
):
    """RoIAlign of `features` [N, C, H, W] over `rois` [K, 5] (batch, x1, y1, x2, y2) -> [K, C, PH, PW].

    Without a preset this is `torchvision.ops.roi_align` (aligned defaults to False). `preset` is a
    preset name or a `Convention`; then `aligned`, `sampling_ratio` and `mode` left at their
    defaults (None, -1, None) keep the preset's own. `mode` is 'avg' or 'max' (the preset's own
    kind of max). `options` pick a preset's variants as its framework spells them, e.g.
    {"coordinate_transformation_mode": "output_half_pixel"} (see `roialign presets NAME`).
    `backend` is 'auto', 'numpy' or 'cuda'; CuPy features give a CuPy result on the same device.
    float16 features are computed in float32 and returned as float16.
    """
    convention = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=options)
    return pool(features, rois, output_size, spatial_scale, convention, backend)[0]


def pool(features, rois, output_size, spatial_scale, convention: Convention, backend: str = "auto"):
    """Validate, pick an engine and run it. Returns (output, engine choice)."""
    check_features(tuple(features.shape), features.dtype)
    output_size = check_output_size(output_size)
    rois = check_rois(_to_host(rois), features.shape[0])
    choice = engines.choose(backend, features)
    check_work(rois, features, output_size, float(spatial_scale), convention, engine=choice.name)
    return engines.run(choice, features, rois, output_size, float(spatial_scale), convention), choice


def _to_host(rois):
    get = getattr(rois, "get", None)  # CuPy arrays copy to the host with .get()
    return get() if callable(get) and not hasattr(rois, "__array_interface__") else rois
