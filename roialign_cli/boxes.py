"""Box formats: the one place where box arrays are read, checked, filtered and written.

Every format (see box_formats.FORMATS) is read into `Boxes` (batch index, x1 y1 x2 y2, optional
SSD scores and labels, all float64, and the coordinate space) and written back from it, so a
conversion is: read, filter, change space (coordinates.py), write. Engines take rois [K, 5]
(batch, x1, y1, x2, y2); `parse_rois` reads what `roialign pool` accepts into `Boxes`, and
`as_boxes` what `api.pool` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from . import arrayio, coordinates
from .box_formats import LAYOUTS, BoxFormat, box_format, check_space
from .coordinates import Frame
from .errors import InputError

# A frame that knows neither the image size nor the scale (Frame is frozen: one instance serves all).
NO_FRAME = Frame()

# What an ssd row gets when the boxes carry no label or score.
SSD_FILL_LABEL, SSD_FILL_SCORE = 0, 1.0


@dataclass(frozen=True)
class Boxes:
    """K boxes in one coordinate space."""

    batch: np.ndarray  # float64 [K]: integers in well-formed input; kept as read so that odd ones can be reported
    xyxy: np.ndarray  # float64 [K, 4] (x1, y1, x2, y2)
    space: str
    scores: np.ndarray | None = None  # float64 [K] (ssd)
    labels: np.ndarray | None = None  # int64 [K] (ssd)

    def __len__(self) -> int:
        return len(self.xyxy)

    def take(self, keep: np.ndarray) -> Boxes:
        def pick(a):
            return None if a is None else a[keep]

        return replace(
            self, batch=self.batch[keep], xyxy=self.xyxy[keep], scores=pick(self.scores), labels=pick(self.labels)
        )

    def to_space(self, space: str, frame: Frame) -> Boxes:
        return replace(self, xyxy=coordinates.convert(self.xyxy, self.space, space, frame), space=space)


class Read(NamedTuple):
    boxes: Boxes
    padding: int = 0  # ssd padding rows (batch -1) dropped


# ---------------------------------------------------------------- coordinate layouts


def _layout_to_xyxy(coords: np.ndarray, layout: str) -> np.ndarray:
    a, b, c, d = coords.T
    if layout == "yxyx":
        return coords[:, [1, 0, 3, 2]]
    if layout == "xywh":
        return np.stack([a, b, a + c, b + d], axis=1)
    if layout == "cxcywh":
        return np.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=1)
    return coords


def xyxy_to_layout(xyxy: np.ndarray, layout: str) -> np.ndarray:
    """Boxes [K, 4] (x1, y1, x2, y2) laid out as `layout` (a key of box_formats.LAYOUTS)."""
    x1, y1, x2, y2 = xyxy.T
    if layout == "yxyx":
        return xyxy[:, [1, 0, 3, 2]]
    if layout == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    if layout == "cxcywh":
        return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
    return xyxy


# ---------------------------------------------------------------- reading


def _expected_shape(fmt: BoxFormat, columns: int) -> str:
    coords = LAYOUTS[fmt.layout]
    if columns == 7:
        return f"[K,7] or [1,1,K,7] (batch, label, score, {coords})"
    return f"[K,{columns}] ({'batch, ' if columns == 5 else ''}{coords})"


def _guess(shape: tuple[int, ...]) -> str:
    """A hint naming the formats an array of this shape could be."""
    if len(shape) == 2 and shape[1] in (4, 5, 7):
        names = {4: "xyxy, xywh, cxcywh or yxyx", 5: "rois5", 7: "ssd"}[shape[1]]
        return f" (its shape fits {names})"
    return ""


def _matrix(array, columns: int, fmt: BoxFormat, what: str) -> np.ndarray:
    """`array` as float64 [K, columns], after checking its type and shape."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise InputError(f"{what} must be numeric, not {array.dtype}")
    shape = array.shape
    if array.size == 0 and array.ndim == 1:
        return np.zeros((0, columns))
    if fmt.name == "ssd" and array.ndim == 4 and shape[:2] == (1, 1) and shape[3] == 7:
        return array.reshape(-1, 7).astype(np.float64)
    if array.ndim != 2 or shape[1] != columns:
        raise InputError(
            f"{what} has shape {list(shape)}, but the {fmt.name} format expects "
            f"{_expected_shape(fmt, columns)}{_guess(shape)}"
        )
    return array.astype(np.float64)


def _indices(array, count: int, what: str) -> np.ndarray:
    """Batch indices as float64 [count]."""
    array = np.asarray(array)
    if array.dtype.kind not in "fiu":
        raise InputError(f"{what} must be numeric, not {array.dtype}")
    if array.shape != (count,) and not (array.size == count and array.ndim == 2 and 1 in array.shape):
        raise InputError(f"{what} has shape {list(array.shape)}, but there are {count} boxes: expected [{count}]")
    return array.reshape(count).astype(np.float64)


def _require_finite(values: np.ndarray, what: str) -> None:
    """Refuse rows [K, n] holding a NaN or an infinity."""
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        others = f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else ""
        raise InputError(f"{what} {k} has a NaN or infinite value: {values[k].tolist()}{others}")


def _member(arrays: dict, key: str, fmt: BoxFormat):
    if key not in arrays:
        held = ", ".join(arrays) or "nothing"
        raise InputError(f"the {fmt.name} format is an .npz holding {key!r}; this archive holds {held}")
    return arrays[key]


def _separate_batch(count: int, batch_index, batch_indices) -> np.ndarray:
    if batch_index is not None and batch_indices is not None:
        raise InputError("give a batch index or a file of batch indices, not both")
    if batch_indices is not None:
        return _indices(batch_indices, count, "batch indices")
    return np.full(count, 0 if batch_index is None else batch_index, dtype=np.float64)


def _ssd(rows: np.ndarray, space: str) -> Read:
    padding = rows[:, 0] == -1  # DetectionOutput pads an empty result with rows of -1
    rows = rows[~padding]
    _require_finite(rows, "ssd row")
    labels = rows[:, 1]
    fractional = labels != np.round(labels)
    if fractional.any():
        k = int(np.flatnonzero(fractional)[0])
        raise InputError(
            f"ssd row {k} has the non-integer label {labels[k]:g} in column 1: SSD DetectionOutput rows are "
            "(batch, label, score, x1, y1, x2, y2)"
        )
    boxes = Boxes(rows[:, 0], rows[:, 3:7], space, scores=rows[:, 2], labels=labels.astype(np.int64))
    return Read(boxes, int(padding.sum()))


def read(fmt: str, data, *, space: str | None = None, batch_index: int | None = None, batch_indices=None) -> Read:
    """Read boxes given in format `fmt`.

    `data` is the array for single-array formats, or a mapping of named arrays (an .npz) for
    onnx, tf and per-image. `space` overrides the format's own coordinate space. The (K, 4)
    formats take their batch index from `batch_index` (default 0) or `batch_indices` [K].
    """
    f = box_format(fmt)
    space = check_space(space or f.space)
    if f.batch != "separate" and (batch_index is not None or batch_indices is not None):
        raise InputError(
            f"the {fmt} format holds its own batch indices; a separate batch index applies to "
            "xyxy, xywh, cxcywh and yxyx only"
        )
    if f.archive and not isinstance(data, dict):
        raise InputError(f"the {fmt} format is an .npz archive of named arrays, not a single array")
    if fmt == "ssd":
        return _ssd(_matrix(data, 7, f, "boxes"), space)
    if fmt == "rois5":
        rois = _matrix(data, 5, f, "rois")
        _require_finite(rois, "roi")
        return Read(Boxes(rois[:, 0], rois[:, 1:5], space))
    if fmt == "per-image":
        return Read(_per_image(data, f, space))
    if fmt in ("onnx", "tf"):
        coords_key, batch_key = ("rois", "batch_indices") if fmt == "onnx" else ("boxes", "box_indices")
        coords = _matrix(_member(data, coords_key, f), 4, f, coords_key)
        batch = _indices(_member(data, batch_key, f), len(coords), batch_key)
    else:
        coords = _matrix(data, 4, f, "boxes")
        batch = _separate_batch(len(coords), batch_index, batch_indices)
    _require_finite(np.concatenate([batch[:, None], coords], axis=1), "box")
    return Read(Boxes(batch, _layout_to_xyxy(coords, f.layout), space))


def _per_image(arrays: dict, f: BoxFormat, space: str) -> Boxes:
    parts = [_matrix(array, 4, f, f"array {name!r}") for name, array in arrays.items()]
    coords = np.concatenate(parts) if parts else np.zeros((0, 4))
    batch = np.repeat(np.arange(len(parts), dtype=np.float64), [len(p) for p in parts])
    _require_finite(coords, "box")
    return Boxes(batch, coords, space)


# ---------------------------------------------------------------- writing


def integer_batch(boxes: Boxes, where: str) -> np.ndarray:
    """The batch indices as int64, refusing fractional ones (which `where` could not store)."""
    fractional = boxes.batch != np.round(boxes.batch)
    if fractional.any():
        k = int(np.flatnonzero(fractional)[0])
        raise InputError(f"{where} stores batch indices as integers, but box {k} has {boxes.batch[k]:g}")
    return boxes.batch.astype(np.int64)


def write(boxes: Boxes, fmt: str, dtype="float64"):
    """Boxes as format `fmt`: an array, or a dict of named arrays for the .npz formats.

    Coordinates are written as `dtype` (float32 or float64); the (K, 4) formats write the
    coordinates only (the batch indices are `boxes.batch`).
    """
    f = box_format(fmt)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputError(f"boxes are written as float32 or float64, not {dtype}")
    largest = float(np.abs(boxes.xyxy).max(initial=0))
    if largest > float(np.finfo(dtype).max) / 4:  # a margin for sizes and centres, which add coordinates
        raise InputError(
            f"box coordinates reach {largest:.3g}, more than {dtype} holds; check them, or give --dtype float64"
        )
    if fmt == "rois5":
        return np.concatenate([boxes.batch[:, None], boxes.xyxy], axis=1).astype(dtype)
    if fmt == "ssd":
        return _ssd_rows(boxes).astype(dtype)
    coords = xyxy_to_layout(boxes.xyxy, f.layout).astype(dtype)
    if fmt == "onnx":
        return {"rois": coords, "batch_indices": integer_batch(boxes, f"the {fmt} format")}
    if fmt == "tf":
        return {"boxes": coords, "box_indices": integer_batch(boxes, f"the {fmt} format").astype(np.int32)}
    if fmt == "per-image":
        return _per_image_arrays(boxes, coords)
    return coords


def _ssd_rows(boxes: Boxes) -> np.ndarray:
    count = len(boxes)
    if count == 0:  # as DetectionOutput does: one row of -1 instead of an empty blob
        return -np.ones((1, 1, 1, 7))
    labels = np.full(count, SSD_FILL_LABEL) if boxes.labels is None else boxes.labels
    scores = np.full(count, SSD_FILL_SCORE) if boxes.scores is None else boxes.scores
    rows = np.column_stack([boxes.batch, labels, scores, boxes.xyxy])
    return rows[None, None]


def _per_image_arrays(boxes: Boxes, coords: np.ndarray) -> dict[str, np.ndarray]:
    batch = integer_batch(boxes, "the per-image format")
    if (batch < 0).any():
        raise InputError(f"per-image lists need batch indices >= 0, but one is {int(batch.min())}")
    images = int(batch.max()) + 1 if len(batch) else 0
    return {f"image_{i}": coords[batch == i] for i in range(images)}


# ---------------------------------------------------------------- filters and checks


def select(boxes: Boxes, *, labels=None, min_score: float | None = None) -> tuple[Boxes, dict[str, int]]:
    """Keep the boxes whose label is in `labels` and whose score is >= `min_score`.

    Returns the kept boxes and how many each filter dropped (a box is counted by the first filter
    it fails: labels, then score).
    """
    dropped = {"labels": 0, "min_score": 0}
    keep = np.ones(len(boxes), dtype=bool)
    if labels is not None:
        if boxes.labels is None:
            raise InputError("filtering by label needs boxes that carry labels (the ssd format)")
        keep = np.isin(boxes.labels, np.asarray(list(labels), dtype=np.int64))
        dropped["labels"] = int((~keep).sum())
    if min_score is not None:
        if boxes.scores is None:
            raise InputError("filtering by score needs boxes that carry scores (the ssd format)")
        low = keep & (boxes.scores < min_score)
        dropped["min_score"] = int(low.sum())
        keep &= ~low
    return boxes.take(keep), dropped


def suspicions(boxes: Boxes, frame: Frame) -> list[str]:
    """Warnings about data that is probably misread: wrong space, layout or batch column."""
    if len(boxes) == 0:
        return []
    batch, xyxy = boxes.batch, boxes.xyxy
    checks = (
        (batch != np.round(batch), "have a non-integer batch index: is the first column really the batch index?"),
        (batch < 0, "have a negative batch index"),
        (
            (xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1]),
            "have x2 < x1 or y2 < y1: is the layout right (xyxy, yxyx, xywh, cxcywh)?",
        ),
    )
    found = [_report(boxes, mask, text) for mask, text in checks if mask.any()]
    return found + _space_suspicions(boxes, frame)


def _report(boxes: Boxes, mask: np.ndarray, text: str) -> str:
    k = int(np.flatnonzero(mask)[0])
    numbers = " ".join(f"{v:.6g}" for v in boxes.xyxy[k])
    return (
        f"{int(mask.sum())} of {len(boxes)} boxes {text} (box {k}: batch {boxes.batch[k]:g}, "
        f"x1 y1 x2 y2 = {numbers} {boxes.space})"
    )


def _space_suspicions(boxes: Boxes, frame: Frame) -> list[str]:
    xyxy, space = boxes.xyxy, boxes.space
    normalized = space in ("relative", "tf")
    relative = (
        None
        if normalized
        else relative_warning(
            boxes, f"{space} pixels", "; give --from-space relative (with --image-size WxH) if they are relative"
        )
    )
    if relative:
        return [relative]
    largest = np.abs(xyxy).max()
    if normalized and largest > 2:
        return [
            f"coordinates reach {largest:g}: these look like pixels, but they are read as {space} (0..1); "
            "give --from-space absolute if they are pixels"
        ]
    unit = xyxy if normalized else _relative_or_none(boxes, frame)
    if unit is None:
        return []
    outside = ((unit < 0) | (unit > 1)).any(axis=1)
    image = "the image" if frame.image_size is None else "the {}x{} image".format(*frame.image_size)
    return [_report(boxes, outside, f"reach outside {image}")] if outside.any() else []


def _relative_or_none(boxes: Boxes, frame: Frame) -> np.ndarray | None:
    if frame.image_size is None or (boxes.space == "feature" and frame.spatial_scale is None):
        return None
    return coordinates.convert(boxes.xyxy, boxes.space, "relative", frame)


# ---------------------------------------------------------------- the whole conversion


@dataclass(frozen=True)
class Conversion:
    source_format: str
    target_format: str
    source: Boxes  # as read, after the filters, in the source space
    result: Boxes  # the same boxes in the target space
    output: object  # what `write` made: an array or a dict of named arrays
    dropped: dict[str, int] = field(default_factory=dict)  # padding, labels, min_score
    warnings: list[str] = field(default_factory=list)


def convert(
    data,
    source: str,
    target: str,
    *,
    from_space: str | None = None,
    to_space: str | None = None,
    frame: Frame = NO_FRAME,
    batch_index: int | None = None,
    batch_indices=None,
    labels=None,
    min_score: float | None = None,
    dtype="float64",
) -> Conversion:
    """Read `data` as format `source`, filter, convert to `to_space` and write as format `target`.

    Spaces default to each format's own (ssd: relative, tf: tf, others: absolute).
    """
    parsed = read(source, data, space=from_space, batch_index=batch_index, batch_indices=batch_indices)
    kept, dropped = select(parsed.boxes, labels=labels, min_score=min_score)
    result = kept.to_space(check_space(to_space or box_format(target).space), frame)
    output = write(result, target, dtype)
    warnings = suspicions(kept, frame)
    if target == "ssd" and len(result) and result.labels is None:
        warnings.append(
            f"{source} boxes carry no labels or scores: the ssd rows get label {SSD_FILL_LABEL} "
            f"and score {SSD_FILL_SCORE:g}"
        )
    return Conversion(source, target, kept, result, output, {"padding": parsed.padding, **dropped}, warnings)


# ---------------------------------------------------------------- files


def load(spec: str, fmt: str):
    """The arrays of a file (`-`: stdin) of format `fmt`, as `read` and `convert` take them."""
    return arrayio.load_npz(spec, "boxes") if box_format(fmt).archive else arrayio.load_array(spec, "boxes")


def save(out: str, output, inputs=()) -> None:
    """Write what `write` made to `out` (`-`: stdout): an .npz for dicts, else an .npy."""
    arrayio.save_all([(out, output)], inputs)


# ---------------------------------------------------------------- what `roialign pool` reads


class ParsedRois(NamedTuple):
    boxes: Boxes  # in the space the caller named
    layout: str  # what the input was read as
    dropped: int = 0  # SSD padding rows removed

    @property
    def rois(self) -> np.ndarray:
        """The boxes as rois [K, 5] float64 (batch, x1, y1, x2, y2)."""
        return write(self.boxes, "rois5")


def detect_format(shape: tuple[int, ...]) -> str | None:
    """The single-array format an array of this shape is read as by `roialign pool`, if any."""
    if (len(shape) == 4 and shape[:2] == (1, 1) and shape[3] == 7) or (len(shape) == 2 and shape[1] == 7):
        return "ssd"
    if len(shape) == 2 and shape[1] in (4, 5):
        return {4: "xyxy", 5: "rois5"}[shape[1]]
    if shape == (0,):
        return "rois5"
    return None


_POOL_LAYOUTS = {
    "ssd": "ssd DetectionOutput rows (batch, label, score, x1, y1, x2, y2)",
    "rois5": "rois (batch, x1, y1, x2, y2)",
    "xyxy": "boxes (x1, y1, x2, y2), all in batch 0",
}


def parse_rois(array: np.ndarray, space: str = "absolute") -> ParsedRois:
    """Read the roi layouts `roialign pool` accepts: [K,5], [K,4] (batch 0), [K,7] or [1,1,K,7] SSD rows.

    The coordinates are taken as given, in coordinate space `space`; `Boxes.to_space` converts them.
    """
    array = np.asarray(array)
    fmt = detect_format(array.shape)
    if fmt is None:
        raise InputError(
            f"rois have shape {list(array.shape)}; expected [K,5] (batch,x1,y1,x2,y2), [K,4] (x1,y1,x2,y2), "
            "or SSD DetectionOutput rows [K,7] / [1,1,K,7]"
        )
    parsed = read(fmt, array, space=space)
    return ParsedRois(parsed.boxes, _POOL_LAYOUTS[fmt], parsed.padding)


def as_boxes(rois) -> Boxes:
    """`rois` as Boxes: Boxes as they are, an array [K, 5] (batch, x1, y1, x2, y2) read and checked."""
    return rois if isinstance(rois, Boxes) else read("rois5", rois, space="absolute").boxes


def scale_relative(rois: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Relative (0..1) rois [K, 5] times the image size (width, height) -> absolute image pixels."""
    boxes = Boxes(rois[:, 0].astype(np.float64), rois[:, 1:5], "relative")
    return write(boxes.to_space("absolute", Frame(image_size=tuple(image_size))), "rois5")


def looks_relative(coords: np.ndarray, margin: float = 0.0) -> bool:
    """True when there are coordinates and all lie in [-margin, 1 + margin]: boxes that were
    probably normalized (a margin admits relative boxes that reach a little past the image)."""
    return coords.size > 0 and bool(np.all((coords >= -margin) & (coords <= 1 + margin)))


def relative_warning(boxes: Boxes, read_as: str, remedy: str) -> str | None:
    """The one wording of 'these boxes look relative but are read as pixels', or None when they do not."""
    if not looks_relative(boxes.xyxy):
        return None
    return f"every coordinate lies in [0, 1]: these look like relative boxes, but they are read as {read_as}{remedy}"
