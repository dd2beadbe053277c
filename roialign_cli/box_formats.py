"""The catalogue of box formats and coordinate spaces: their names and what they mean.

Pure Python (no NumPy), so that the CLI can print it in --help without slowing `roialign --help`.
`boxes.py` reads and writes the formats, `coordinates.py` converts between the spaces.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import InputError

# How the four coordinates of a box are laid out in its columns.
LAYOUTS = {
    "xyxy": "x1, y1, x2, y2",
    "yxyx": "y1, x1, y2, x2",
    "xywh": "x1, y1, width, height",
    "cxcywh": "centre x, centre y, width, height",
}


class BoxFormat(NamedTuple):
    name: str
    layout: str  # a key of LAYOUTS: the order of the four coordinates
    space: str  # the coordinate space it is read in unless told otherwise
    # where the batch index lives: "column" of the array, "separate" (an option or a file), or "archive"
    # (the format is an .npz of named arrays, which hold it)
    batch: str
    description: str

    @property
    def archive(self) -> bool:
        return self.batch == "archive"


FORMATS = {
    f.name: f
    for f in (
        BoxFormat("rois5", "xyxy", "absolute", "column", "[K,5] (batch, x1, y1, x2, y2): torchvision/Caffe2 rois"),
        BoxFormat(
            "xyxy",
            "xyxy",
            "absolute",
            "separate",
            "[K,4] (x1, y1, x2, y2); batch index from --batch-index or --batch-file",
        ),
        BoxFormat("xywh", "xywh", "absolute", "separate", "[K,4] (x1, y1, width, height); batch index as for xyxy"),
        BoxFormat(
            "cxcywh",
            "cxcywh",
            "absolute",
            "separate",
            "[K,4] (centre x, centre y, width, height); batch index as for xyxy",
        ),
        BoxFormat("yxyx", "yxyx", "absolute", "separate", "[K,4] (y1, x1, y2, x2); batch index as for xyxy"),
        BoxFormat(
            "ssd",
            "xyxy",
            "relative",
            "column",
            "Caffe SSD DetectionOutput rows [K,7] or [1,1,K,7] (batch, label, score, x1, y1, x2, y2); "
            "padding rows (batch -1) are dropped",
        ),
        BoxFormat(
            "onnx",
            "xyxy",
            "absolute",
            "archive",
            ".npz with rois [K,4] (x1, y1, x2, y2) and batch_indices [K] int64: the inputs of ONNX RoiAlign",
        ),
        BoxFormat(
            "tf",
            "yxyx",
            "tf",
            "archive",
            ".npz with boxes [K,4] (y1, x1, y2, x2) and box_indices [K] int32: the inputs of tf.image.crop_and_resize",
        ),
        BoxFormat(
            "per-image",
            "xyxy",
            "absolute",
            "archive",
            ".npz with one [L,4] (x1, y1, x2, y2) array per image, in batch order (the archive's order); "
            "written as image_0, image_1, ...",
        ),
    )
}

SPACES = {
    "relative": "0..1 of the input image: x times its width W, y times its height H (needs --image-size)",
    "absolute": "input-image pixels",
    "feature": "feature-map pixels: absolute times the spatial scale (needs --spatial-scale or --stride)",
    "tf": "TensorFlow normalized: 1.0 is the last pixel, x times (W - 1), y times (H - 1) (needs --image-size)",
}


def box_format(name: str) -> BoxFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"unknown box format {name!r}; known formats: {', '.join(FORMATS)}") from None


def check_space(name: str) -> str:
    if name not in SPACES:
        raise InputError(f"unknown coordinate space {name!r}; known spaces: {', '.join(SPACES)}")
    return name
