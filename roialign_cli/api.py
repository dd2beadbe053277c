"""The Python API: `roi_align`, one call for every convention and engine."""

from __future__ import annotations

from . import engines
from .conventions import Convention
from .errors import InputError
from .limits import check_work
from .position_sensitive import output_channels
from .presets import option_scale, resolve
from .validation import check_features, check_layout, check_output_size, check_rois, check_spatial_scale


def roi_align(
    features,
    rois,
    output_size=(7, 7),
    spatial_scale: float | tuple[float, float] = 1.0,
    sampling_ratio: int | tuple[int, int] = -1,
    aligned: bool | None = None,
    *,
    mode: str | None = None,
    preset: str | Convention | None = None,
    options: dict[str, str] | None = None,
    backend: str = "auto",
    layout: str = "nchw",
):
    """RoIAlign of `features` [N, C, H, W] over `rois` [K, 5] (batch, x1, y1, x2, y2) -> [K, C, PH, PW].

    Without a preset this is `torchvision.ops.roi_align` (aligned defaults to False). `preset` is a
    preset name or a `Convention`; then `aligned`, `sampling_ratio` and `mode` left at their
    defaults (None, -1, None) keep the preset's own. `mode` is 'avg' or 'max' (the preset's own
    kind of max). `options` pick a preset's variants as its framework spells them, e.g.
    {"coordinate_transformation_mode": "output_half_pixel"} (see `roialign presets NAME`).
    `backend` is 'auto', 'numpy' or 'cuda'; CuPy features give a CuPy result on the same device.
    float16 features are computed in float32 and returned as float16.

    Per axis: `spatial_scale` may be a (y, x) pair (NNAPI's 1/height_ratio, 1/width_ratio) and
    `sampling_ratio` too (-1 on an axis keeps the preset's own there); a preset's stride options
    (nnapi's height_ratio, width_ratio) set the scale of their axis. `layout` 'nhwc' reads
    channels-last features [N, H, W, C] (TF, TFLite, NNAPI) without a copy and returns
    [K, PH, PW, C] as those frameworks do (a transposed view of the engine's output).
    """
    convention = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=options)
    scale = option_scale(preset, options, spatial_scale)
    return pool(features, rois, output_size, scale, convention, backend, layout)[0]


def pool(
    features, rois, output_size, spatial_scale, convention: Convention, backend: str = "auto", layout="nchw", into=None
):
    """Validate, pick an engine and run it. Returns (output, engine choice).

    `rois` are `boxes.Boxes` in absolute coordinates or an array [K, 5] (batch, x1, y1, x2, y2): they
    are checked here, once, and reach the engine as float64 [K, 5]. `into` (out, rows), for NCHW
    only: roi i's result goes to out[rows[i]] and the output is out (the levels of a pyramid).
    """
    check_layout(layout, len(features.shape))
    if layout == "nhwc":
        features = features.transpose(0, 3, 1, 2)  # a view: the engines read any strides
    check_features(tuple(features.shape), features.dtype)
    output_size = check_output_size(output_size)
    if convention.channel_mapping == "position-sensitive":
        output_channels(features.shape[1], output_size)
    scale = check_spatial_scale(spatial_scale)
    rois = check_rois(_to_host(rois), features.shape[0])
    choice = engines.choose(backend, features)
    check_work(rois, features, output_size, scale, convention, engine=choice.name)
    out = engines.run(choice, features, rois, output_size, scale, convention, into)
    return (out.transpose(0, 2, 3, 1) if layout == "nhwc" else out), choice


def _to_host(rois):
    get = getattr(rois, "get", None)  # CuPy arrays copy to the host with .get()
    return get() if callable(get) and not hasattr(rois, "__array_interface__") else rois


def roi_align_backward(
    grad_output,
    rois,
    features_shape,
    output_size=None,
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool | None = None,
    *,
    mode: str | None = None,
    preset: str | Convention | None = None,
    options: dict[str, str] | None = None,
    backend: str = "auto",
    deterministic: bool = False,
    features=None,
):
    """The gradient of `roi_align` with respect to the features: [N, C, H, W] for `grad_output` [K, C, PH, PW].

    The convention arguments are `roi_align`'s; `output_size` defaults to grad_output's. Max pooling
    (any kind) needs the forward's `features`: the gradient goes to the sample each maximum ended on
    (the first in scan order among equal values). On CUDA the sums use atomicAdd, whose order (and
    last bits) vary from run to run; `deterministic=True` adds them in a fixed order. The NumPy and
    reference engines are always deterministic. No framework returns a gradient for the boxes; neither
    does this.
    """
    convention = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode, options=options)
    return pool_backward(
        grad_output, rois, features_shape, output_size, spatial_scale, convention, backend, deterministic, features
    )[0]


def pool_backward(grad_output, rois, features_shape, output_size, spatial_scale, convention: Convention,
                  backend: str = "auto", deterministic: bool = False, features=None):  # fmt: skip
    """Validate, pick an engine and run its backward pass. Returns (gradient, engine choice)."""
    shape = tuple(int(v) for v in features_shape)
    check_features(shape, grad_output.dtype)
    grad_shape = tuple(grad_output.shape)
    output_size = check_output_size(grad_shape[2:] if output_size is None and len(grad_shape) == 4 else output_size)
    channels = shape[1]
    if convention.channel_mapping == "position-sensitive":
        channels = output_channels(shape[1], output_size)
    if len(grad_shape) != 4 or grad_shape[1] != channels:
        raise InputError(
            f"the output's gradient must be [K, {channels}, PH, PW] for features {list(shape)}, got {list(grad_shape)}"
        )
    if output_size != grad_shape[2:]:
        raise InputError(
            f"output size {output_size[0]}x{output_size[1]} differs from the gradient's {list(grad_shape)}"
        )
    rois = check_rois(_to_host(rois), shape[0])
    if len(rois) != grad_shape[0]:
        raise InputError(f"{len(rois)} rois but the output's gradient has {grad_shape[0]} (shape {list(grad_shape)})")
    if features is not None and tuple(features.shape) != shape:
        raise InputError(f"features have shape {list(features.shape)}, not {list(shape)}")
    if convention.pooling != "avg" and features is None:
        raise InputError("max pooling's gradient needs the features: it goes to the sample each maximum ended on")
    choice = engines.choose(backend, grad_output)
    grad = engines.run_backward(
        choice, grad_output, rois, shape, output_size, check_spatial_scale(spatial_scale), convention, deterministic,
        features,
    )  # fmt: skip
    return grad, choice


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
