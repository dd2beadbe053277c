"""Checks every engine relies on, done once on the host before any work.

An out-of-range batch index would make the reference kernels read out of bounds; here it is an error.
"""

from __future__ import annotations

import numpy as np

from .conventions import LAYOUTS
from .errors import InputError

FLOAT_KINDS = ("float16", "float32", "float64")


def check_features(shape: tuple[int, ...], dtype) -> None:
    if len(shape) != 4:
        raise InputError(f"features must be 4-d [N, C, H, W], got shape {list(shape)}")
    if str(np.dtype(dtype)) not in FLOAT_KINDS:
        raise InputError(f"features must be float16, float32 or float64, not {np.dtype(dtype)}")
    # an empty batch is an empty dataloader batch (torchvision pools it to [0, C, PH, PW]); any roi then names
    # a missing image, which check_rois reports
    if min(shape[2], shape[3]) == 0:
        raise InputError(f"features have an empty height or width: shape {list(shape)}")


def check_rois(rois, batch_size: int) -> np.ndarray:
    """Rois (`Boxes`, or an array [K, 5]: batch, x1, y1, x2, y2) as float64 [K, 5], after checking their
    shape and finiteness (as `boxes.read` does for every format) and their batch indices."""
    from .boxes import as_boxes, write

    boxes = as_boxes(rois)
    check_batch(boxes.batch, batch_size)
    return write(boxes, "rois5")


def check_batch(batch: np.ndarray, batch_size: int) -> None:
    """Every batch index an integer in 0 .. batch_size - 1."""
    fractional = batch != np.round(batch)
    if fractional.any():
        k = int(np.flatnonzero(fractional)[0])
        raise InputError(f"roi {k} has a non-integer batch index {batch[k]:g}")
    outside = (batch < 0) | (batch >= batch_size)
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        valid = f"valid: 0..{batch_size - 1}" if batch_size else "the batch is empty: only an empty set of rois fits it"
        raise InputError(
            f"roi {k} has batch index {int(batch[k])}, outside the features' batch of {batch_size} ({valid})"
        )


def check_layout(layout: str, ndim: int) -> None:
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    if layout == "nhwc" and ndim != 4:  # NCHW features get check_features' message
        raise InputError(f"features must be 4-d [N, H, W, C] (layout nhwc), got {ndim} dimensions")


def check_spatial_scale(spatial_scale) -> tuple[float, float]:
    """One positive finite scale or a (y, x) pair of them -> (sy, sx)."""
    try:
        pair = (spatial_scale,) * 2 if np.ndim(spatial_scale) == 0 else tuple(spatial_scale)
        sy, sx = (float(v) for v in pair)
    except (TypeError, ValueError):
        raise InputError(f"spatial scale must be a number or a (y, x) pair of numbers, not {spatial_scale!r}") from None
    if not all(0 < v < np.inf for v in (sy, sx)):
        raise InputError(f"spatial scale must be positive and finite, not {spatial_scale!r}")
    return sy, sx


def check_output_size(output_size) -> tuple[int, int]:
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    ph, pw = (int(v) for v in output_size)
    if ph <= 0 or pw <= 0:
        raise InputError(f"output size must be positive, got {ph}x{pw}")
    return ph, pw
