"""Box layouts and coordinate spaces: the one place where box arrays are parsed.

Engines take rois as a float64 array [K, 5] of (batch, x1, y1, x2, y2) in the coordinate space
their convention names. Everything that reads boxes from users goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .sizes import parse_size  # noqa: F401  (re-exported: callers parse sizes as boxes.parse_size)


@dataclass(frozen=True)
class ParsedRois:
    rois: np.ndarray  # [K, 5] float64 (batch, x1, y1, x2, y2)
    layout: str  # what the input was read as
    dropped: int = 0  # SSD padding rows removed


def _ssd_rows(array: np.ndarray) -> ParsedRois:
    rows = array.reshape(-1, 7).astype(np.float64)
    keep = rows[:, 0] != -1  # DetectionOutput pads an empty result with rows of -1
    rows = rows[keep]
    rois = np.concatenate([rows[:, :1], rows[:, 3:7]], axis=1)
    return ParsedRois(rois, "ssd DetectionOutput rows (batch, label, score, x1, y1, x2, y2)", int((~keep).sum()))


def parse_rois(array: np.ndarray) -> ParsedRois:
    """Read the roi layouts `roialign pool` accepts: [K,5], [K,4] (batch 0), [K,7] or [1,1,K,7] SSD rows."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise InputError(f"rois must be numeric, not {array.dtype}")
    shape = array.shape
    if array.ndim == 4 and shape[:2] == (1, 1) and shape[3] == 7:
        return _ssd_rows(array)
    if array.ndim == 2 and shape[1] == 7:
        return _ssd_rows(array)
    if array.ndim == 2 and shape[1] == 5:
        return ParsedRois(array.astype(np.float64), "rois (batch, x1, y1, x2, y2)")
    if array.ndim == 2 and shape[1] == 4:
        rois = np.concatenate([np.zeros((shape[0], 1)), array.astype(np.float64)], axis=1)
        return ParsedRois(rois, "boxes (x1, y1, x2, y2), all in batch 0")
    if array.ndim == 1 and shape[0] == 0:
        return ParsedRois(np.zeros((0, 5)), "no rois")
    raise InputError(
        f"rois have shape {list(shape)}; expected [K,5] (batch,x1,y1,x2,y2), [K,4] (x1,y1,x2,y2), "
        "or SSD DetectionOutput rows [K,7] / [1,1,K,7]"
    )


def scale_relative(rois: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Relative (0..1) boxes times the image size (width, height) -> absolute image pixels."""
    width, height = image_size
    out = rois.astype(np.float64, copy=True)
    out[:, [1, 3]] *= width
    out[:, [2, 4]] *= height
    return out


def looks_relative(rois: np.ndarray) -> bool:
    """True when every coordinate lies in [0, 1]: boxes that were probably normalized."""
    coords = rois[:, 1:5]
    return coords.size > 0 and bool(np.all((coords >= 0) & (coords <= 1)))
