"""Named conventions: the one registry that `pool`, `presets`, `explain` and the docs read.

Each preset names the framework it reproduces, its exact switches (read from the framework's
source, named in `source`), its options as the framework spells them, what its "max" mode means,
how to ask the framework itself for the same thing, and the traps users of that framework hit.
Pure Python: importing this must not pull in NumPy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import equivalents as eq
from .conventions import Convention, X, Y
from .equivalents import CallSpec
from .errors import InputError

__all__ = ["CallSpec", "Option", "Preset", "PRESETS", "TRAPS", "Trap", "get", "names", "option_scale", "resolve"]

# The largest float32: mmcv's CUDA max pooling starts its running maximum at -FLT_MAX.
FLT_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Option:
    """A named variant of a preset, spelled as its framework spells it.

    Either an enumeration (`values`: each value -> the switches it changes), a free number
    written into one switch (`number_switch`; with `axis`, an integer sampling ratio of that axis,
    0 adaptive), or a stride of one axis (`stride_axis`): no switch, but the call's spatial scale
    on that axis is 1/stride (see `option_scale`).
    """

    name: str
    doc: str
    default: str
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    number_switch: str | None = None
    axis: int | None = None
    stride_axis: int | None = None

    def changes(self, text: str, preset: str, conv: Convention) -> dict[str, object]:
        if self.axis is not None:
            ratios = list(conv.sampling_ratios)
            ratios[self.axis] = self._integer(text, preset)
            return {self.number_switch: tuple(ratios)}
        if self.stride_axis is not None:
            self.stride(text, preset)  # checked here too, so that a bad stride fails wherever it is read
            return {}
        if self.number_switch:
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise InputError(f"option {self.name} of preset {preset!r} must be a finite number, not {text!r}")
            return {self.number_switch: number}
        if text not in self.values:
            raise InputError(
                f"option {self.name} of preset {preset!r} must be one of {', '.join(self.values)}, not {text!r}"
            )
        return dict(self.values[text])

    def _integer(self, text: str, preset: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise InputError(
                f"option {self.name} of preset {preset!r} must be an integer >= 0 (0: adaptive), not {text!r}"
            )
        return value

    def stride(self, text: str, preset: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not 0 < value < math.inf:
            raise InputError(f"option {self.name} of preset {preset!r} must be a positive number, not {text!r}")
        return value


@dataclass(frozen=True)
class Trap:
    """A fact about a framework that silently changes the numbers, named so that it can be cited."""

    key: str
    text: str


@dataclass(frozen=True)
class Preset:
    name: str
    reproduces: str
    convention: Convention  # with every option at its default
    source: str  # where the switches were read: repository and path
    # renders the equivalent call in the framework the preset names (see equivalents.renderer)
    renderer: Callable[[Convention, CallSpec, Callable[..., Convention]], str]
    aliases: tuple[str, ...] = ()
    # switches that turn the preset's average into its own max mode; None: it has no max mode
    max_mode: Mapping[str, object] | None = None
    # switches that turn a max preset into its framework's average (default: plain avg, no floor)
    avg_mode: Mapping[str, object] | None = None
    traps: tuple[Trap, ...] = ()
    options: tuple[Option, ...] = ()

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        known = ", ".join(o.name for o in self.options) or "none"
        raise InputError(f"preset {self.name!r} has no option {name!r} (its options: {known})")

    def equivalent(self, conv: Convention, spec: CallSpec) -> str:
        """The framework's own call computing `conv`, or why none does."""
        return self.renderer(conv, spec, resolve)

    def with_options(self, conv: Convention, chosen: Mapping[str, str]) -> Convention:
        for name, text in chosen.items():
            conv = conv.with_(**self.option(name).changes(str(text), self.name, conv))
        return conv


# Half-pixel model of torchvision aligned=True: shift by half a pixel, no minimum roi size. x * s - 0.5
# is float32 arithmetic there (and in onnxruntime, OpenVINO, ps_roi_align): with a scale that is not a
# power of 2 the product rounds before the shift, and a width of whole pixels can land an ulp off.
_HALF_PIXEL = {"sample_offset": 0.5, "min_size": None, "scale_in_compute_dtype": True}
# (no offset: x * s rounds once either way, so float32 steps and double agree)
_LEGACY = {"pixel_offset": 0.0, "sample_offset": 0.0, "min_size": 1.0, "scale_in_compute_dtype": False}

_CAFFE2 = Convention()
_ALIGNED = Convention(**_HALF_PIXEL)

_ONNX_MODES = Option(
    name="coordinate_transformation_mode",
    doc="half_pixel: x*s - 0.5, no minimum size (opset 16 default); output_half_pixel: x*s, size >= 1 (opset 10)",
    default="half_pixel",
    values={"half_pixel": _HALF_PIXEL, "output_half_pixel": _LEGACY},
)

_OPENVINO_MODES = {
    "asymmetric": _LEGACY,
    "half_pixel_for_nn": {"pixel_offset": 0.0, **_HALF_PIXEL},
    "half_pixel": {"pixel_offset": 0.5, **_HALF_PIXEL},
}


def _openvino_modes(default: str) -> Option:
    return Option(
        name="aligned_mode",
        doc="asymmetric: x*s, size >= 1; half_pixel_for_nn: x*s - 0.5; half_pixel: (x + 0.5)*s - 0.5 (no minimum size)",
        default=default,
        values=_OPENVINO_MODES,
    )


# an empty bin: the average divides 0 by 0 (NaN), the max keeps its floor 0
_OPENVINO_MAX = {"pooling": "max", "max_floor": 0.0, "empty_value": 0.0}
# OpenVINO's CPU plugin steps samples by bin / grid (roi_align.cpp), rounding large grids' samples otherwise
_OPENVINO_STEP = "bin-over-grid"

# Traps shared by several presets.
_OMITTED_SAMPLING_RATIO = Trap(
    "omitted-sampling-ratio-is-1",
    "onnx-tensorrt and OpenVINO's ONNX importer fill an omitted sampling_ratio with 1, not ONNX's default 0 "
    "(adaptive): write sampling_ratio into every RoiAlign node.",
)
_CORNER_MAX = Trap(
    "onnx-max-is-corner-max",
    "ONNX RoiAlign's max (onnxruntime, TensorRT) is corner-max: the max over samples of the largest single "
    "weighted corner w_i*v_i, not of the interpolated value; at a sample midway between four pixels that is "
    "about a quarter of it. onnxruntime warns about it when it loads such a model.",
)
_EMPTY_GRID_NAN = Trap(
    "empty-grid-nan",
    "TensorRT's ROIAlign_TRT and Paddle divide by the sample count without a floor: with adaptive sampling "
    "a box of zero width or height (half pixel model) has no samples and averages to 0/0 = NaN; torchvision, "
    "onnxruntime and mmcv give 0.",
)

# RoIPool: box edges round(x * s), size end - start + 1 (>= 1), bins of whole pixels from floor to ceil,
# the max over them, 0 for an empty bin.
_ROI_POOL = Convention(box_rounding="after-scale", end_plus_one="size", min_size=1.0, grid="pixels", pooling="max")
_ROI_POOL_ROUNDING = Trap(
    "roi-pool-rounds-half-away",
    "RoIPool rounds box edges with C's round(), halves away from zero (2.5 -> 3, -2.5 -> -3); NumPy's and Python's "
    "round() go to even (2.5 -> 2): a reimplementation with them moves boxes on half-pixel boundaries by a pixel.",
)
_ROI_POOL_QUANTIZED = Trap(
    "roi-pool-quantizes",
    "RoIPool snaps boxes and bins to whole pixels (round, floor, ceil) and takes the max: it is not RoIAlign with "
    "sampling_ratio=1, and no RoIAlign switch reproduces it.",
)
_PS_CHANNELS = Trap(
    "position-sensitive-channel-order",
    "position-sensitive pooling reads input channel (c * PH + ph) * PW + pw for output channel c of bin (ph, pw): "
    "the input needs C_out * PH * PW channels in that order, class-major, not bin-major.",
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        name="caffe2",
        aliases=("torchvision",),
        reproduces=(
            "Caffe2 RoIAlign, torchvision aligned=False, maskrcnn-benchmark, ONNX opset 10 / output_half_pixel, "
            "TensorRT coordinate_transformation_mode=0, OpenVINO asymmetric"
        ),
        convention=_CAFFE2,
        source="pytorch/vision torchvision/csrc/ops/cpu/roi_align_kernel.cpp",
        renderer=eq.torchvision_call,
        traps=(
            Trap(
                "torchvision-aligned-defaults-false",
                "torchvision's aligned defaults to False: the boxes sit half a pixel off detectron2's, Paddle's and "
                "ONNX opset 16's default (half_pixel) reading.",
            ),
            Trap(
                "adaptive-is-minus-one-or-zero",
                "sampling_ratio -1 (torchvision) and 0 (Caffe2, ONNX) both mean adaptive: ceil(roi size / output "
                "size).",
            ),
        ),
    ),
    Preset(
        name="torchvision-aligned",
        aliases=("detectron2",),
        reproduces=(
            "torchvision aligned=True, detectron2 ROIAlignV2 (sampling_ratio 0), Paddle default, "
            "ONNX opset 16 half_pixel, OpenVINO half_pixel_for_nn"
        ),
        convention=_ALIGNED,
        source="pytorch/vision torchvision/csrc/ops/cpu/roi_align_kernel.cpp",
        renderer=eq.torchvision_call,
        traps=(_EMPTY_GRID_NAN,),
    ),
    Preset(
        name="mmcv",
        reproduces="mmcv.ops.RoIAlign (aligned=True by default; pool_mode 'avg' or 'max')",
        convention=_ALIGNED,
        source="open-mmlab/mmcv mmcv/ops/csrc/common/cuda/roi_align_cuda_kernel.cuh",
        renderer=eq.mmcv_module,
        # max over the bilinear samples (0 for a sample outside the map); a bin without samples
        # keeps the starting value -FLT_MAX
        max_mode={"pooling": "max", "empty_value": -FLT_MAX},
        traps=(
            Trap(
                "mmcv-onnx-double-half-pixel",
                "mmcv's ONNX export subtracts 0.5/spatial_scale from the boxes itself and writes RoiAlign without "
                "coordinate_transformation_mode; at opset >= 16 that defaults to half_pixel, which shifts by half "
                "a pixel again: a whole pixel in all.",
            ),
            _CORNER_MAX,
            Trap(
                "mmcv-cpu-max-starts-at-minus-10000",
                "mmcv's CPU kernel starts its max at -10000, not -FLT_MAX: values below -10000 and bins without "
                "samples give -10000 on the CPU (this preset follows the CUDA kernel).",
            ),
        ),
    ),
    Preset(
        name="onnxruntime",
        reproduces="onnxruntime RoiAlign (CPU and CUDA), opset 10 and 16, both coordinate modes",
        convention=_ALIGNED,
        source="microsoft/onnxruntime onnxruntime/core/providers/cpu/object_detection/roialign.cc; "
        "onnx/onnx onnx/reference/ops/op_roi_align.py",
        renderer=eq.onnx_node,
        options=(_ONNX_MODES,),
        max_mode={"pooling": "corner-max"},
        traps=(
            _CORNER_MAX,
            _OMITTED_SAMPLING_RATIO,
            Trap(
                "onnx-opset-16-default-half-pixel",
                "opset 10 has no coordinate_transformation_mode and behaves as output_half_pixel; opset 16 "
                "defaults to half_pixel, so re-exporting a model at a newer opset shifts its boxes by half a pixel.",
            ),
        ),
    ),
    Preset(
        name="tensorrt",
        reproduces="TensorRT ROIAlign_TRT plugin (what onnx-tensorrt builds for RoiAlign)",
        # coordinate_transformation_mode 1 (half pixel) is the plugin's default; an empty grid is 0/0.
        # Not modelled: the plugin does not clamp ceil(bin) at 0, so a box inverted by at least the
        # output size (in feature pixels) gets a negative grid; unless the other axis's grid is 0,
        # the count is non-zero and the plugin gives 0 where this preset gives NaN.
        convention=_ALIGNED.with_(empty_value=math.nan),
        source="NVIDIA/TensorRT plugin/roiAlignPlugin/roiAlignKernel.cu; onnx/onnx-tensorrt onnxOpImporters.cpp",
        renderer=eq.tensorrt_plugin,
        options=(_ONNX_MODES,),
        # the max keeps 0 when no sample runs
        max_mode={"pooling": "corner-max", "empty_value": 0.0},
        traps=(_OMITTED_SAMPLING_RATIO, _EMPTY_GRID_NAN, _CORNER_MAX),
    ),
    Preset(
        name="openvino-half-pixel",
        reproduces="OpenVINO ROIAlign-9 aligned_mode=half_pixel (and its other aligned modes)",
        convention=Convention(pixel_offset=0.5, **_HALF_PIXEL, empty_value=math.nan, sample_step=_OPENVINO_STEP),
        source="openvinotoolkit/openvino src/core/reference/include/openvino/reference/roi_align.hpp; "
        "src/plugins/intel_cpu/src/nodes/roi_align.cpp",
        renderer=eq.openvino_op,
        options=(_openvino_modes("half_pixel"),),
        max_mode=_OPENVINO_MAX,
        traps=(
            Trap(
                "openvino-half-pixel-is-not-onnx-half-pixel",
                "OpenVINO's half_pixel is (x + 0.5)*s - 0.5, not ONNX's half_pixel x*s - 0.5 (that one is "
                "OpenVINO's half_pixel_for_nn): the two differ by s/2 feature pixels, half an input pixel.",
            ),
            _OMITTED_SAMPLING_RATIO,
            Trap(
                "openvino-empty-bin-nan",
                "with adaptive sampling a box of zero width or height (no minimum size) has no samples: OpenVINO's "
                "average gives 0/0 = NaN there, its max 0; torchvision and onnxruntime give 0.",
            ),
            Trap(
                "openvino-inverted-box-asserts",
                "an inverted box (x2 < x1) with adaptive sampling fails an assertion in OpenVINO (negative sample "
                "count); here its bins are empty and give 0.",
            ),
        ),
    ),
    Preset(
        name="openvino-max",
        reproduces="OpenVINO ROIAlign mode=max (opset 3 and 9; asymmetric by default)",
        convention=Convention(**_OPENVINO_MAX, sample_step=_OPENVINO_STEP),
        source="openvinotoolkit/openvino src/core/reference/include/openvino/reference/roi_align.hpp; "
        "src/plugins/intel_cpu/src/nodes/roi_align.cpp",
        renderer=eq.openvino_op,
        options=(_openvino_modes("asymmetric"),),
        max_mode=_OPENVINO_MAX,
        avg_mode={"pooling": "avg", "max_floor": None, "empty_value": math.nan},
        traps=(
            Trap(
                "openvino-max-floored-at-0",
                "the running max starts at 0: a bin whose samples are all negative gives 0, not their maximum; a "
                "sample outside the map counts as 0 too.",
            ),
        ),
    ),
    Preset(
        name="mmdet-v1",
        reproduces="mmdetection v1 RoIAlign (mmdet.ops.roi_align, legacy forward_v1)",
        # end (x2 + 1)*s; roi size max(., 0): no 1-pixel minimum; an empty grid is 0/0
        convention=Convention(end_plus_one="coordinate", min_size=0.0, empty_value=math.nan),
        source="open-mmlab/mmdetection mmdet/ops/roi_align/src/roi_align_kernel.cu (v1.x)",
        renderer=eq.mmdet_v1_module,
        traps=(
            Trap(
                "mmdet-v1-configs-sample-num-2",
                "mmdetection v1 configs set sample_num=2 (the op's default is 0, adaptive): pass --sampling-ratio 2 "
                "for models trained with them.",
            ),
            Trap(
                "mmdet-v1-end-plus-one",
                "boxes end at (x2 + 1)*spatial_scale: one input pixel larger than torchvision's.",
            ),
            Trap(
                "mmdet-v1-empty-grid-nan",
                "with adaptive sampling a box of zero size (x2 = x1 - 1) has no samples and gives 0/0 = NaN.",
            ),
        ),
    ),
    Preset(
        name="tf-crop-and-resize",
        reproduces="tf.image.crop_and_resize, method='bilinear' or 'nearest'",
        # 1.0 is the last pixel; one point per output cell from y1*(H-1) to y2*(H-1); fill outside [0, H-1]
        convention=Convention(coordinates="tf-normalized", grid="corners", border="fill", min_size=None),
        source="tensorflow/tensorflow tensorflow/core/kernels/image/crop_and_resize_op.cc",
        renderer=eq.tf_crop_and_resize,
        options=(
            Option(
                name="extrapolation_value",
                doc="the value of an output point that falls outside the image",
                default="0.0",
                number_switch="fill_value",
            ),
            Option(
                name="method",
                doc="bilinear: each point interpolates four pixels; nearest: the pixel at roundf(point) "
                "(halves away from zero)",
                default="bilinear",
                values={"bilinear": {"interpolation": "bilinear"}, "nearest": {"interpolation": "nearest"}},
            ),
        ),
        traps=(
            Trap(
                "tf-boxes-yxyx-normalized-to-last-pixel",
                "boxes are [y1, x1, y2, x2], normalized so that 1.0 is the last pixel (H - 1), not the image edge; "
                "rois here are (batch, x1, y1, x2, y2) in that normalized space, and spatial_scale does not apply.",
            ),
            Trap(
                "tf-one-point-per-cell",
                "one bilinear point per output cell and no averaging: a large box is subsampled, not pooled; "
                "crop_size 1 takes the box centre.",
            ),
            Trap(
                "tf-nearest-rounds-halves-up",
                "method='nearest' reads the pixel at roundf(point), which rounds halves away from zero (2.5 -> 3), "
                "not NumPy's half-to-even; a point outside [0, H - 1] still gets extrapolation_value.",
            ),
        ),
    ),
    Preset(
        name="nnapi",
        reproduces="Android NNAPI ANEURALNETWORKS_ROI_ALIGN (API level 29 reference CPU implementation)",
        # boxes x (1 / ratio) per axis, size max(., 1), adaptive ceil(size / out) or a fixed count per axis,
        # samples clamped to the last row / column (rois must lie inside the map, so nothing falls outside)
        convention=_CAFFE2,
        source="aosp frameworks/ml/nn common/operations/RoiAlign.cpp (roiAlignNhwc)",
        renderer=eq.nnapi_operation,
        options=(
            Option(
                name="height_ratio",
                doc="image rows per feature row (the stride): the y spatial scale is 1/height_ratio",
                default="1",
                stride_axis=Y,
            ),
            Option(
                name="width_ratio",
                doc="image columns per feature column (the stride): the x spatial scale is 1/width_ratio",
                default="1",
                stride_axis=X,
            ),
            Option(
                name="sampling_points_height",
                doc="samples per bin along y; 0: adaptive ceil(roi height / output height)",
                default="0",
                number_switch="sampling_ratio",
                axis=Y,
            ),
            Option(
                name="sampling_points_width",
                doc="samples per bin along x; 0: adaptive ceil(roi width / output width)",
                default="0",
                number_switch="sampling_ratio",
                axis=X,
            ),
        ),
        traps=(
            Trap(
                "nnapi-ratios-are-strides",
                "height_ratio and width_ratio are strides (image pixels per feature pixel), the inverse of "
                "spatial_scale, one per axis: --option height_ratio=H --option width_ratio=W, or "
                "--spatial-scale 1/H,1/W.",
            ),
            Trap(
                "nnapi-nhwc-by-default",
                "the layout input false (the usual value) means NHWC maps and [K, PH, PW, C] outputs: pass "
                "--layout nhwc.",
            ),
            Trap(
                "nnapi-rejects-boxes-outside-the-map",
                "the reference implementation fails on a box outside the map or inverted (x2 < x1); roialign "
                "computes such boxes by Caffe2's rule instead.",
            ),
        ),
    ),
    Preset(
        name="caffe-ssd-roialign",
        reproduces="Caffe SSD fork RoiAlign layer reading DetectionOutput rows (RemoDet; CPU kernel)",
        # start = x1*W clamped >= 0, end = x2*W clamped <= W-1, size = end - start + 1 (>= 1), one sample at
        # each bin centre, neighbour min(x0 + 1, W - 1) with weights from the neighbours
        convention=Convention(
            coordinates="relative-feature", clip_box=True, end_plus_one="size", sampling_ratio=1, border="caffe-ssd"
        ),
        source="UrwLee/Experience remodet_repository_LEE/src/caffe/layers/roi_align_layer.cpp (and .cu)",
        renderer=eq.caffe_ssd_layer,
        options=(
            Option(
                name="inter_times",
                doc="1: one sample at the bin centre; 4 (GPU kernel only): the max of 2x2 samples at 1/4 and 3/4",
                default="1",
                values={"1": {"sampling_ratio": 1, "pooling": "avg"}, "4": {"sampling_ratio": 2, "pooling": "max"}},
            ),
        ),
        traps=(
            Trap(
                "caffe-ssd-relative-times-feature-size",
                "boxes are relative (0..1) and multiplied by the FEATURE width and height, not the image size; "
                "spatial_scale is ignored.",
            ),
            Trap(
                "caffe-ssd-last-row-weighs-zero",
                "a bin centre on the last row or column gets zero weights: boxes touching the bottom-right border "
                "give 0 there.",
            ),
            Trap(
                "caffe-ssd-gpu-inter-times",
                "the CPU kernel ignores inter_times; the GPU kernel with inter_times 4 takes the max of 2x2 samples "
                "(--option inter_times=4).",
            ),
            Trap(
                "ssd-padding-rows",
                "DetectionOutput pads an empty result with rows of -1; the layer aborts on them (roialign drops them).",
            ),
        ),
    ),
    Preset(
        name="caffe-roialignment",
        reproduces="AffordanceNet Caffe ROIAlignment layer (its CPU and GPU kernels compute the same)",
        # size = x2*s - x1*s + 1 (>= 1), bin edges clamped to [0, H-1], one sample at the clamped bin's centre
        convention=Convention(end_plus_one="size", clip_bins=True, sampling_ratio=1, border="clamp"),
        source="nqanh/affordance-net caffe-affordance-net/src/caffe/layers/roi_alignment_layer.cpp",
        renderer=eq.caffe_roialignment_layer,
        traps=(
            Trap(
                "caffe-roialignment-size-plus-one",
                "the roi size is x2 - x1 + 1 feature pixels: one feature pixel larger than torchvision's.",
            ),
            Trap(
                "caffe-roialignment-clamped-bins",
                "bin edges are clamped to the map, so bins past the border repeat its last row or column.",
            ),
        ),
    ),
    Preset(
        name="caffe-roi-pooling",
        aliases=("torchvision-roi-pool", "onnx-maxroipool"),
        reproduces="Caffe ROIPooling (py-faster-rcnn), torchvision.ops.roi_pool, ONNX MaxRoiPool (onnxruntime)",
        convention=_ROI_POOL,
        source="pytorch/vision torchvision/csrc/ops/cpu/roi_pool_kernel.cpp; onnx/onnx "
        "onnx/reference/ops/op_max_roi_pool.py; rbgirshick/caffe-fast-rcnn src/caffe/layers/roi_pooling_layer.cpp",
        renderer=eq.roi_pool_call,
        traps=(_ROI_POOL_ROUNDING, _ROI_POOL_QUANTIZED),
    ),
    Preset(
        name="openvino-roi-pooling",
        reproduces="OpenVINO ROIPooling-1 / -2, method max or bilinear",
        # box edges round(x * s) of the product in double; bin edges in integers: floor(p * size / P),
        # ceil((p + 1) * size / P) (getBordersForMaxMode)
        convention=_ROI_POOL.with_(box_rounding="after-scale-exact", grid="pixels-exact"),
        source="openvinotoolkit/openvino src/plugins/intel_cpu/src/nodes/roi_pooling.cpp (getBordersForMaxMode, "
        "getXYForBilinearMode); src/core/reference/include/openvino/reference/roi_pooling.hpp",
        renderer=eq.openvino_roi_pooling,
        options=(
            Option(
                name="method",
                doc="max: RoIPool (rounded boxes x spatial_scale, +1 sizes, max over whole pixels); bilinear: one "
                "point per output cell over boxes normalized to (W - 1, H - 1), the last on the box end, 0 outside",
                default="max",
                values={
                    "max": {},
                    "bilinear": {
                        "coordinates": "tf-normalized",
                        "box_rounding": "none",
                        "end_plus_one": "none",
                        "min_size": None,
                        "grid": "corners-pinned",
                        "pooling": "avg",
                        "border": "fill",
                    },
                },
            ),
        ),
        traps=(
            _ROI_POOL_ROUNDING,
            Trap(
                "openvino-roi-pooling-plus-one",
                "OpenVINO's ROIPooling specification describes no +1 in the box size, but its reference "
                "implementation and CPU plugin add it (end - start + 1), as Caffe does.",
            ),
            Trap(
                "openvino-roi-pooling-exact-bins",
                "OpenVINO's CPU plugin computes RoIPool bin edges in integers, floor(p * size / P) and "
                "ceil((p + 1) * size / P); torchvision, Caffe and ONNX MaxRoiPool multiply p by a float32 bin "
                "size, which can land a hair past a whole number and take one more pixel (size 7 over 13 bins: the "
                "last bin ends at pixel 8 there, 7 here); and it rounds box edges from the product x * s in double, "
                "where they round its float32 value (x = 14.999999, s = 0.3: 4.4999999 -> 4 here, float32 4.5 -> 5 "
                "there). Switches grid=pixels and box_rounding=after-scale give theirs.",
            ),
            Trap(
                "openvino-roi-pooling-bilinear-normalized",
                "method=bilinear reads boxes normalized to [0, 1] (1.0 is pixel W - 1) and ignores spatial_scale.",
            ),
        ),
    ),
    Preset(
        name="torchvision-ps-roi-align",
        reproduces="torchvision.ops.ps_roi_align (position-sensitive RoIAlign)",
        # x * s - 0.5 without a minimum size; adaptive grid; an empty grid is 0 / 0
        convention=_ALIGNED.with_(empty_value=math.nan, channel_mapping="position-sensitive"),
        source="pytorch/vision torchvision/csrc/ops/cpu/ps_roi_align_kernel.cpp",
        renderer=eq.ps_roi_align_call,
        traps=(
            _PS_CHANNELS,
            Trap(
                "ps-roi-align-always-aligned",
                "ps_roi_align has no aligned argument: it always shifts by half a pixel and keeps sizes below one "
                "pixel; a box of zero width or height has no samples and gives 0/0 = NaN.",
            ),
        ),
    ),
    Preset(
        name="rfcn-psroi-pooling",
        reproduces="R-FCN Caffe PSROIPooling (average over whole pixels, position-sensitive)",
        # start = round(x1) * s, end = (round(x2) + 1) * s, size >= 0.1, bins floor(start + p * bin) to
        # ceil(start + (p + 1) * bin) clipped to the map, the mean of their pixels, 0 when empty
        convention=Convention(
            box_rounding="before-scale",
            end_plus_one="coordinate",
            min_size=0.1,
            grid="pixels",
            channel_mapping="position-sensitive",
        ),
        source="daijifeng001/caffe-rfcn src/caffe/layers/psroi_pooling_layer.cu",
        renderer=eq.psroi_pooling_layer,
        traps=(
            _PS_CHANNELS,
            Trap(
                "rfcn-rounds-before-scaling",
                "PSROIPooling rounds the box in image pixels and then scales it (round(x) * s, (round(x2) + 1) * s), "
                "where RoIPool scales first and rounds after: bins differ by up to a feature pixel.",
            ),
        ),
    ),
)

# Every trap by its key, for commands that cite them.
TRAPS: dict[str, Trap] = {t.key: t for p in PRESETS for t in p.traps}

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
    sampling_ratio: int | tuple[int, int] = -1,
    mode: str | None = None,
    options: Mapping[str, str] | None = None,
) -> Convention:
    """The convention a call asks for.

    `preset` (a name or a Convention) is the base; without one the base is torchvision's
    aligned=False. `options` (name -> value, as the framework spells them) pick the preset's
    variants. `aligned` (None: the preset's own) switches to the half-pixel model (sample offset
    0.5, no minimum size) or the legacy one (no offsets, size >= 1); `sampling_ratio` -1 keeps the
    preset's own, 0 is adaptive, n > 0 fixed, or a (y, x) pair of those; `mode` 'avg' or 'max'
    picks the preset's own flavour of max.
    """
    named = get(preset) if isinstance(preset, str) else None
    conv = named.convention if named else preset if isinstance(preset, Convention) else _CAFFE2
    if options:
        if named is None:
            raise InputError("options belong to a preset: name one with --preset")
        conv = named.with_options(conv, options)
    if aligned is not None:
        conv = conv.with_(**(_HALF_PIXEL if aligned else _LEGACY))
    conv = _with_sampling_ratio(conv, sampling_ratio)
    return _with_mode(conv, mode, named)


def option_scale(preset: str | Convention | None, options: Mapping[str, str] | None, spatial_scale, explicit=True):
    """The call's spatial scale once the preset's stride options (NNAPI's height_ratio,
    width_ratio) are read: each sets 1/stride on its axis. An `explicit` scale for that axis
    other than the default 1 must agree; a default one (explicit False) is replaced."""
    named = get(preset) if isinstance(preset, str) else None
    chosen = [(named.option(k), v) for k, v in (options or {}).items()] if named else []
    strides = [(option, v) for option, v in chosen if option.stride_axis is not None]
    if not strides:
        return spatial_scale
    scales = list(spatial_scale) if isinstance(spatial_scale, (tuple, list)) else [spatial_scale] * 2
    for option, text in strides:
        wanted, given = 1 / option.stride(text, named.name), float(scales[option.stride_axis])
        if explicit and given != 1 and not math.isclose(given, wanted):
            raise InputError(f"option {option.name}={text} means spatial scale {wanted:g} on its axis, not {given:g}")
        scales[option.stride_axis] = wanted
    return tuple(scales)


def _with_sampling_ratio(conv: Convention, sampling_ratio) -> Convention:
    """`conv` with a sampling ratio (or a (y, x) pair) applied; -1 on an axis keeps the convention's own."""
    if sampling_ratio is None:
        return conv
    pair = (sampling_ratio,) * 2 if isinstance(sampling_ratio, numbers.Real) else tuple(sampling_ratio)
    if len(pair) != 2 or not all(_is_ratio(r) for r in pair):
        raise InputError(
            "sampling ratio must be -1 (the preset's own), 0 (adaptive) or positive, or a (y, x) pair of those, "
            f"not {sampling_ratio!r}"
        )
    if pair == (-1, -1):
        return conv
    if conv.one_point_per_cell:
        raise InputError("this convention takes one point per output cell: a sampling ratio does not apply")
    if conv.whole_pixels:
        raise InputError(
            "this convention pools every whole pixel of each bin (RoIPool): a sampling ratio does not apply"
        )
    return conv.with_(
        sampling_ratio=tuple(own if r == -1 else int(r) for r, own in zip(pair, conv.sampling_ratios, strict=True))
    )


def _is_ratio(r) -> bool:
    """-1, 0 or a positive integer (any integral number type, not a bool)."""
    return isinstance(r, numbers.Real) and not isinstance(r, bool) and int(r) == r and r >= -1


def _with_mode(conv: Convention, mode: str | None, named: Preset | None) -> Convention:
    if mode in (None, "avg"):
        if mode == "avg" and conv.pooling != "avg":
            conv = conv.with_(**((named and named.avg_mode) or {"pooling": "avg", "max_floor": None}))
        return conv
    if mode != "max":
        raise InputError(f"mode must be 'avg' or 'max', not {mode!r}")
    if conv.pooling != "avg":
        return conv
    if named is None:
        return conv.with_(pooling="max")
    if named.max_mode is None:
        with_max = ", ".join(p.name for p in PRESETS if p.max_mode is not None)
        raise InputError(f"preset {named.name!r} has no max mode (presets with one: {with_max})")
    return conv.with_(**named.max_mode)
