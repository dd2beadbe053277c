"""Coordinate spaces of boxes and the conversions between them, in float64.

Every space is tied to absolute input-image pixels by one scale per axis (see box_formats.SPACES):
relative x W, tf x (W - 1), feature / spatial_scale. A conversion goes through absolute pixels,
multiplying by a scale in the direction where the space is defined by a product, so that
absolute -> feature computes x * spatial_scale exactly as the engines do.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .box_formats import check_space
from .errors import InputError


class Frame(NamedTuple):
    """What ties the spaces together: the input image's size and the feature map's scale."""

    image_size: tuple[int, int] | None = None  # (width, height) of the input image
    spatial_scale: float | None = None  # feature pixels per input-image pixel (1 / stride)


def convert(xyxy: np.ndarray, source: str, target: str, frame: Frame) -> np.ndarray:
    """Boxes [K, 4] (x1, y1, x2, y2) in space `source` -> the same boxes in space `target`, float64."""
    check_space(source)
    check_space(target)
    xyxy = np.asarray(xyxy, dtype=np.float64)
    if source == target:
        return xyxy.copy()
    return _from_absolute(_to_absolute(xyxy, source, frame), target, frame)


def _to_absolute(xyxy: np.ndarray, space: str, frame: Frame) -> np.ndarray:
    if space == "relative":
        return xyxy * _image_scale(frame, space)
    if space == "tf":
        return xyxy * (_image_scale(frame, space) - 1)
    if space == "feature":
        return xyxy / _spatial_scale(frame)
    return xyxy.copy()


def _from_absolute(xyxy: np.ndarray, space: str, frame: Frame) -> np.ndarray:
    if space == "relative":
        return xyxy / _image_scale(frame, space)
    if space == "tf":
        return xyxy / (_image_scale(frame, space) - 1)
    if space == "feature":
        return xyxy * _spatial_scale(frame)
    return xyxy


def _image_scale(frame: Frame, space: str) -> np.ndarray:
    """(W, H, W, H) as float64, for the columns x1, y1, x2, y2."""
    if frame.image_size is None:
        raise InputError(f"{space} coordinates need the input image size: give --image-size WxH")
    width, height = frame.image_size
    smallest = 2 if space == "tf" else 1  # tf divides by size - 1
    if min(width, height) < smallest:
        raise InputError(
            f"{space} coordinates need an image at least {smallest} pixels wide and high, not {width}x{height}"
        )
    return np.array([width, height, width, height], dtype=np.float64)


def _spatial_scale(frame: Frame) -> float:
    scale = frame.spatial_scale
    if scale is None:
        raise InputError("feature-map coordinates need the spatial scale: give --spatial-scale S or --stride N")
    if not (0 < scale < float("inf")):
        raise InputError(f"the spatial scale must be positive and finite, not {scale!r}")
    return float(scale)
