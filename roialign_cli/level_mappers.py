"""Level mappers: which level of a feature pyramid (FPN) each box is pooled from, as data.

Every framework maps a box of sqrt-area s to level k = canonical_level + log2(s / canonical_size),
but each spells it differently: eps inside or outside the log, +1 in the box sizes, floor or round,
a clamp to a fixed range or to the maps given, normalized boxes, TensorRT's strict area thresholds,
OpenVINO's "no level" for empty boxes. A `LevelMapper` names every one of those choices; the
presets below were read from the sources named in their `source` (section 7 of the conventions
reference). Boxes near a boundary go to different levels under different mappers.

All arithmetic is done in float32, as the frameworks do with float32 boxes (a float32 box gives
the same level here as there; a float64 box is rounded to float32 first).
Pure Python at import: NumPy is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError

ROUNDINGS = ("floor", "round")
LOGS = ("log2", "ln")
EMPTY = ("finest", "none")


@dataclass(frozen=True)
class LevelMapper:
    """One framework's rule from a box to a pyramid level.

    The level k is computed in the mapper's own numbering; the maps given are levels
    first_level, first_level + 1, ... (first_level None: the finest map's level is -log2 of its
    spatial scale, as torchvision and detectron2 take it), and k is clamped to the maps there are.
    """

    name: str
    reproduces: str
    source: str  # repository and path the rule was read from
    canonical_size: float = 224.0  # sqrt-area (input pixels) of a box that goes to canonical_level
    canonical_level: int = 4
    eps: float = 1e-6
    eps_in_log: bool = True  # log2(s / s0 + eps); False: log2(s / s0) + eps
    area_plus_one: bool = False  # box sizes x2 - x1 + 1 and y2 - y1 + 1
    rounding: str = "floor"  # "floor" or "round" (half to even, as tf.round)
    log: str = "log2"  # "log2", or "ln": ln(v) / ln(2) (TensorFlow has no log2)
    # canonical_level added before the floor/round (in float32 a tiny negative log then rounds up to it);
    # False: after, as TensorFlow code writes floordiv(log) + 4
    level_before_rounding: bool = True
    first_level: int | None = None  # level of the finest map; None: -log2(its spatial scale)
    max_levels: int | None = None  # the mapper only knows this many levels (P2..P5: 4)
    normalized: bool = False  # sizes from boxes normalized by the image: sqrt(h w) / (s0 / sqrt(H W))
    thresholds: bool = False  # TensorRT: normalized area > (s0^2 / (H W)) / 4, x4 per level, strict
    clip_to_image: bool = False  # boxes clipped to the image before their area is taken
    empty: str = "finest"  # a box of area <= 0: "finest" (what log2(0) = -inf clamps to) or "none" (zeros)
    aliases: tuple[str, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        for field_name, allowed in (("rounding", ROUNDINGS), ("log", LOGS), ("empty", EMPTY)):
            if getattr(self, field_name) not in allowed:
                raise ValueError(f"{field_name} must be one of {', '.join(allowed)}")

    @property
    def needs_image_size(self) -> bool:
        return self.normalized or self.thresholds or self.clip_to_image

    def formula(self) -> str:
        """The rule in one line, generated from the fields."""
        if self.thresholds:
            return (
                f"P2 + #(normalized area > t, 4t, 16t) with t = ({self.canonical_size:g}^2 / (H W)) / 4, "
                "strict >, boxes clipped to the image"
            )
        size = "(w + 1)(h + 1)" if self.area_plus_one else "w h"
        s = f"sqrt({size})" if not self.normalized else "sqrt(h w) x sqrt(H W) (normalized boxes)"
        ratio = f"s / {self.canonical_size:g}"
        log = "log2" if self.log == "log2" else "ln(.)/ln 2 of"
        inner = f"{log}({ratio} + {self.eps:g})" if self.eps and self.eps_in_log else f"{log}({ratio})"
        outer = f" + {self.eps:g}" if self.eps and not self.eps_in_log else ""
        if not self.canonical_level:
            return f"{self.rounding}({inner}{outer}), s = {s}"
        if self.level_before_rounding:
            return f"{self.rounding}({self.canonical_level} + {inner}{outer}), s = {s}"
        return f"{self.canonical_level} + {self.rounding}({inner}{outer}), s = {s}"

    def levels_text(self) -> str:
        first = "-log2(finest scale)" if self.first_level is None else f"{self.first_level}"
        span = f", at most {self.max_levels} levels" if self.max_levels else ""
        empty = "; area <= 0: no level (zeros)" if self.empty == "none" else ""
        return f"clamped to the maps given, the finest being level {first}{span}{empty}"

    # ------------------------------------------------------------------ arithmetic

    def raw_levels(self, xyxy, image_size=None):
        """Each box's level in the mapper's numbering, before the clamp: float32, -inf for a box
        of area 0 where the framework's log takes it there, NaN where it gives the box no level."""
        import numpy as np

        if self.needs_image_size and image_size is None:
            raise InputError(f"level mapper {self.name} needs the image size (--image-size WxH)")
        boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
        if self.thresholds:
            return self._threshold_levels(boxes, image_size)
        w, h = self._sides(boxes, image_size)
        area = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            value = self._ratio(area, image_size)
            exact = value + np.float32(self.eps) if self.eps_in_log else value
            log = np.log2(exact) if self.log == "log2" else np.log(exact) / np.log(np.float32(2))
            canonical = np.float32(self.canonical_level)
            level = log + canonical if self.level_before_rounding else log
            if not self.eps_in_log:
                level = level + np.float32(self.eps)
            level = np.floor(level) if self.rounding == "floor" else np.round(level)
            if not self.level_before_rounding:
                level = level + canonical
        if self.empty == "none":
            level = np.where(area > 0, level, np.float32(np.nan))
        return level

    def _sides(self, boxes, image_size):
        import numpy as np

        if self.clip_to_image:
            width, height = (np.float32(v) for v in image_size)
            boxes = np.stack(
                [
                    np.clip(boxes[:, 0], 0, width),
                    np.clip(boxes[:, 1], 0, height),
                    np.clip(boxes[:, 2], 0, width),
                    np.clip(boxes[:, 3], 0, height),
                ],
                axis=1,
            )
        one = np.float32(1 if self.area_plus_one else 0)
        if self.normalized:
            width, height = (np.float32(v) for v in image_size)
            return (boxes[:, 2] - boxes[:, 0] + one) / width, (boxes[:, 3] - boxes[:, 1] + one) / height
        return boxes[:, 2] - boxes[:, 0] + one, boxes[:, 3] - boxes[:, 1] + one

    def _ratio(self, area, image_size):
        """s / s0, in the order the framework divides."""
        import numpy as np

        s0 = np.float32(self.canonical_size)
        if self.normalized:  # matterport: sqrt(h w) / (224 / sqrt(image area))
            image_area = np.float32(image_size[0]) * np.float32(image_size[1])
            return np.sqrt(area) / (s0 / np.sqrt(image_area))
        return np.sqrt(area) / s0

    def _threshold_levels(self, boxes, image_size):
        """TensorRT's PyramidROIAlign: corners sorted, clipped to the image and normalized; the
        normalized area is compared with a first threshold, then x4 per level, strictly."""
        import numpy as np

        width, height = np.float32(image_size[0]), np.float32(image_size[1])
        x1, x2 = np.minimum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 0], boxes[:, 2])
        y1, y2 = np.minimum(boxes[:, 1], boxes[:, 3]), np.maximum(boxes[:, 1], boxes[:, 3])
        x1, x2 = (np.clip(v, 0, width) / width for v in (x1, x2))
        y1, y2 = (np.clip(v, 0, height) / height for v in (y1, y2))
        one_x, one_y = (np.float32(1) / width, np.float32(1) / height) if self.area_plus_one else (0, 0)
        area = (y2 - y1 + np.float32(one_y)) * (x2 - x1 + np.float32(one_x))
        s0 = np.float32(self.canonical_size)
        norm_scale = np.sqrt(s0 * s0 / np.float32(int(image_size[0]) * int(image_size[1])))
        threshold = norm_scale * norm_scale / np.float32(4)
        level = np.full(len(boxes), np.float32(2))
        for _ in range(3):
            level += area > threshold
            threshold = threshold * np.float32(4)
        return level

    def assign(self, xyxy, count: int, finest_level: int | None = None, image_size=None, coarsest_level=None):
        """Map index (0 = the finest map) of every box over `count` maps; -1: no level.

        `finest_level` and `coarsest_level` are the first and last maps' levels by their spatial
        scales (-log2 scale); mappers with their own numbering (first_level) ignore them. A mapper
        numbering by scale clamps to [finest_level, coarsest_level] and takes the map at
        level - finest_level, as torchvision's LevelMapper and MultiScaleRoIAlign do: where the
        inferred scales repeat (0.125, 0.125, 0.0625) the last map is never used, and where they
        skip a level a box mapped past the last map is pooled from none (zeros)."""
        import numpy as np

        first = self.first_level if self.first_level is not None else finest_level
        if first is None:
            raise InputError(
                f"level mapper {self.name} numbers levels by scale: the spatial scales must be powers of 2"
            )
        usable = min(count, self.max_levels) if self.max_levels else count
        last = first + usable - 1 if self.first_level is not None or coarsest_level is None else coarsest_level
        raw = self.raw_levels(xyxy, image_size)
        index = np.clip(np.where(np.isnan(raw), 0, raw), first, max(last, first)).astype(np.int64) - first
        return np.where(np.isnan(raw) | (index >= usable), -1, index)


# Sources (section 7 of the conventions reference); each entry was checked against its file.
TORCHVISION = "pytorch/vision torchvision/ops/poolers.py (LevelMapper, _setup_scales, _infer_scale)"

MAPPERS: tuple[LevelMapper, ...] = (
    LevelMapper(
        "torchvision",
        "torchvision.ops.MultiScaleRoIAlign (LevelMapper, canonical_scale=224, canonical_level=4)",
        TORCHVISION,
        eps_in_log=False,
        note="levels k_min..k_max from the inferred scales 2**round(log2(feature height / image height))",
    ),
    LevelMapper(
        "detectron2",
        "detectron2 ROIPooler / assign_boxes_to_levels",
        "facebookresearch/detectron2 detectron2/modeling/poolers.py (assign_boxes_to_levels)",
        eps=2.220446049250313e-16,
        note="eps is sys.float_info.epsilon, lost when added to a float32 ratio; scales are given, not inferred",
    ),
    LevelMapper(
        "maskrcnn-benchmark",
        "maskrcnn-benchmark Pooler / LevelMapper",
        "facebookresearch/maskrcnn-benchmark maskrcnn_benchmark/modeling/poolers.py; "
        "maskrcnn_benchmark/structures/bounding_box.py (area with TO_REMOVE = 1)",
        area_plus_one=True,
    ),
    LevelMapper(
        "detectron",
        "Detectron (Caffe2) map_rois_to_fpn_levels",
        "facebookresearch/Detectron detectron/modeling/FPN.py (map_rois_to_fpn_levels); "
        "detectron/utils/boxes.py (boxes_area: +1)",
        area_plus_one=True,
    ),
    LevelMapper(
        "mmdet",
        "mmdetection 2.x/3.x SingleRoIExtractor.map_roi_levels (finest_scale=56)",
        "open-mmlab/mmdetection mmdet/models/roi_heads/roi_extractors/single_level_roi_extractor.py",
        canonical_size=56.0,
        canonical_level=0,
        first_level=0,
        note="0-based: the first map given is level 0 whatever its stride",
    ),
    LevelMapper(
        "mmdet-v1",
        "mmdetection 1.x SingleRoIExtractor.map_roi_levels (finest_scale=56, +1 sizes)",
        "open-mmlab/mmdetection mmdet/models/roi_extractors/single_level.py (v1.x)",
        canonical_size=56.0,
        canonical_level=0,
        first_level=0,
        area_plus_one=True,
    ),
    LevelMapper(
        "matterport",
        "matterport Mask R-CNN PyramidROIAlign",
        "matterport/Mask_RCNN mrcnn/model.py (PyramidROIAlign, log2_graph)",
        eps=0.0,
        rounding="round",
        log="ln",
        level_before_rounding=False,
        first_level=2,
        max_levels=4,
        normalized=True,
        note="round, not floor; P2..P5 only; the pooling itself is tf.image.crop_and_resize",
    ),
    LevelMapper(
        "tf-models",
        "TensorFlow Model Garden multilevel_crop_and_resize",
        "tensorflow/models official/vision/ops/spatial_transform_ops.py (multilevel_crop_and_resize)",
        eps=0.0,
        log="ln",
        level_before_rounding=False,
        note="no eps; levels min_level..max_level of the features given",
    ),
    LevelMapper(
        "tensorrt-pyramid",
        "TensorRT PyramidROIAlign_TRT plugin (fpn_scale=224)",
        "NVIDIA/TensorRT plugin/pyramidROIAlignPlugin/pyramidROIAlignPlugin.cpp; "
        "plugin/common/kernels/maskRCNNKernels.cu (roiAlign_kernel)",
        eps=0.0,
        first_level=2,
        max_levels=4,
        thresholds=True,
        clip_to_image=True,
        aliases=("tensorrt",),
        note="a box of sqrt-area exactly 112 stays on P2 (strict >), where the floor rules give P3; "
        "the plugin's legacy (UFF) mode, with t = 224^2 * 2 / (H W) / 16, is not modeled",
    ),
    LevelMapper(
        "openvino-experimental-detectron",
        "OpenVINO ExperimentalDetectronROIFeatureExtractor-6",
        "openvinotoolkit/openvino src/core/reference/src/op/experimental_detectron_roi_feature_extractor.cpp "
        "(redistribute_rois)",
        canonical_level=2,
        first_level=0,
        empty="none",
        aliases=("openvino",),
        note="0-based with canonical level 2; a box of area <= 0 is pooled from no level (zeros)",
    ),
)


def mapper_names() -> list[str]:
    return [m.name for m in MAPPERS]


def get_mapper(name) -> LevelMapper:
    """A mapper by name or alias (a LevelMapper passes through)."""
    if isinstance(name, LevelMapper):
        return name
    for mapper in MAPPERS:
        if name == mapper.name or name in mapper.aliases:
            return mapper
    raise InputError(f"unknown level mapper {name!r}; known: {', '.join(mapper_names())}")


def parse_mapper_list(text: str | None) -> list[LevelMapper]:
    """'torchvision,mmdet' -> those mappers; None or empty -> all of them."""
    if not text:
        return list(MAPPERS)
    chosen = [get_mapper(part.strip()) for part in text.split(",") if part.strip()]
    if len({m.name for m in chosen}) != len(chosen):
        raise InputError(f"a level mapper is named twice in {text!r}")
    return chosen
