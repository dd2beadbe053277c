"""The Python API: `roi_align`, one call for every convention and engine."""

from __future__ import annotations

from . import engines
from .conventions import Convention
from .position_sensitive import output_channels
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
    """Validate, pick an engine and run it. Returns (output, engine choice).

    `rois` are `boxes.Boxes` in absolute coordinates or an array [K, 5] (batch, x1, y1, x2, y2): they
    are checked here, once, and reach the engine as float64 [K, 5].
    """
    check_features(tuple(features.shape), features.dtype)
    output_size = check_output_size(output_size)
    if convention.channel_mapping == "position-sensitive":
        output_channels(features.shape[1], output_size)
    rois = check_rois(_to_host(rois), features.shape[0])
    choice = engines.choose(backend, features)
    return engines.run(choice, features, rois, output_size, float(spatial_scale), convention), choice


def _to_host(rois):
    get = getattr(rois, "get", None)  # CuPy arrays copy to the host with .get()
    return get() if callable(get) and not hasattr(rois, "__array_interface__") else rois


def multi_scale_roi_align(
    features_list,
    rois,
    output_size=(7, 7),
    *,
    image_size=None,
    spatial_scales=None,
    level_mapper="torchvision",
    sampling_ratio: int = -1,
    aligned: bool | None = None,
    mode: str | None = None,
    preset: str | Convention | None = None,
    options: dict[str, str] | None = None,
    backend: str = "auto",
):
    """RoIAlign over a feature pyramid, as `torchvision.ops.MultiScaleRoIAlign` -> [K, C, PH, PW].

    `features_list` holds one [N, C, H, W] map per level, finest first; `rois` [K, 5] are in
    input-image pixels. Each roi goes to the level `level_mapper` (a name from
    `roialign_cli.level_mappers`, or a `LevelMapper`) assigns and is pooled there with that level's
    spatial scale: `spatial_scales` as given, or inferred from `image_size` (width, height) and the
    maps' heights as torchvision does. The convention on every level is `preset` with `aligned`,
    `sampling_ratio`, `mode` and `options` as in `roi_align`. Rows come back in the rois' order; a
    roi the mapper gives no level (OpenVINO: an empty box) is all zeros.
    """
    from .pyramid import pool_pyramid

    convention = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=options)
    return pool_pyramid(
        features_list,
        rois,
        output_size,
        convention,
        mapper=level_mapper,
        image_size=image_size,
        spatial_scales=spatial_scales,
        backend=backend,
    ).output
