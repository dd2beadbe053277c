"""How to ask each framework itself for a convention: one renderer per framework.

A renderer takes a convention, the per-call numbers (`CallSpec`) and a resolver, and returns the framework's
own call, node or layer as text. It first reads the framework's arguments off the convention,
then rebuilds the convention those arguments give (through the framework's preset and the
registry's resolver, which the caller passes in: this module does not import the registry) and compares:
a convention the framework cannot express (say, corner-max asked of torchvision) gets a sentence
saying which switches no call of that framework reaches, never a call that would compute
something else. Pure Python, like the registry that uses it.

Per-axis values (a (y, x) spatial scale or sampling ratio whose axes differ) reach only NNAPI (and
the conventions that ignore the scale); every other renderer takes one value for both axes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from .conventions import Convention, differences


@dataclass(frozen=True)
class CallSpec:
    """The per-call numbers a framework call needs besides the convention."""

    output_size: tuple[int, int] = (7, 7)  # (height, width)
    spatial_scale: float | tuple[float, float] = 1 / 16  # or (y, x)

    @property
    def scales(self) -> tuple[float, float]:
        s = self.spatial_scale
        return (float(s[0]), float(s[1])) if isinstance(s, (tuple, list)) else (float(s), float(s))


def scale_expression(s) -> str:
    """A Python expression for a scale: 1/16 for 0.0625, else the shortest float text; a pair
    as Y,X (1/2,1.0), as --spatial-scale takes it."""
    if isinstance(s, (tuple, list)):
        return ",".join(scale_expression(v) for v in s)
    if 0 < s < 1 and (1 / s).is_integer():
        return f"1/{int(1 / s)}"
    return repr(float(s))


def scale_text(s) -> str:
    """A scale as --spatial-scale takes it: 0.125 or, per axis, 0.5,1 (height first)."""
    return ",".join(f"{v:g}" for v in s) if isinstance(s, (tuple, list)) else f"{s:g}"


def decimal(s: float) -> str:
    """A scale as a plain decimal number, as attribute and prototxt values are written."""
    return f"{s:.10g}"


Resolver = Callable[..., Convention]


class Unreachable(Exception):
    """Raised by a renderer's reader: no call of the framework has arguments for this convention."""


def renderer(framework: str, preset: str, per_axis: bool = False):
    """Turn `read(conv, spec) -> (resolve keywords, call text)` into a renderer `(conv, spec, resolve) -> text`.

    The renderer rebuilds the convention the call's arguments give (`resolve(preset, **keywords)`, the
    registry's resolver, passed in so that this module never imports the registry) and returns the
    call only when that is `conv`; otherwise, or when `read` raises `Unreachable`, a sentence saying why
    no `framework` call computes `conv`. Unless `per_axis`, the framework takes one spatial scale and
    one sampling ratio for both axes, and `read` sees the one scale.
    """

    def wrap(read: Callable[[Convention, CallSpec], tuple[dict, str]]):
        @functools.wraps(read)
        def render(conv: Convention, spec: CallSpec, resolve: Resolver) -> str:
            if not per_axis:
                sy, sx = spec.scales
                if isinstance(conv.sampling_ratio, tuple) or sy != sx:
                    return (
                        f"no {framework} call computes this convention (it takes one spatial scale and one "
                        "sampling ratio for both axes)"
                    )
                spec = replace(spec, spatial_scale=sx)
            try:
                how, text = read(conv, spec)
            except Unreachable as why:
                return str(why)
            changed = [name for name, _, _ in differences(conv, resolve(preset, **how))]
            if changed:
                return f"no {framework} call computes this convention (it cannot reach: {', '.join(changed)})"
            return text

        return render

    return wrap


def _pool_mode(conv: Convention) -> str:
    return "avg" if conv.pooling == "avg" else "max"


@renderer("torchvision", "torchvision")
def torchvision_call(conv: Convention, spec: CallSpec):
    aligned, sr = conv.sample_offset == 0.5, conv.sampling_ratio
    ph, pw = spec.output_size
    scale = scale_expression(spec.spatial_scale)
    return dict(aligned=aligned, sampling_ratio=sr, mode="avg"), (
        f"torchvision.ops.roi_align(x, rois, output_size=({ph}, {pw}), spatial_scale={scale}, "
        f"sampling_ratio={sr if sr > 0 else -1}, aligned={aligned})"
    )


def _onnx_mode(conv: Convention) -> str:
    return "half_pixel" if conv.sample_offset == 0.5 else "output_half_pixel"


def _onnx_how(conv: Convention) -> dict:
    """resolve() keywords for an ONNX RoiAlign node's (or the TensorRT plugin's) attributes."""
    options = {"coordinate_transformation_mode": _onnx_mode(conv)}
    return dict(options=options, sampling_ratio=conv.sampling_ratio, mode=_pool_mode(conv))


@renderer("ONNX RoiAlign", "onnxruntime")
def onnx_node(conv: Convention, spec: CallSpec):
    ctm, mode = _onnx_mode(conv), _pool_mode(conv)
    ph, pw = spec.output_size
    # sampling_ratio is always written: onnx-tensorrt and OpenVINO read an omitted one as 1
    node = (
        f'onnx.helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], mode="{mode}", '
        f"output_height={ph}, output_width={pw}, sampling_ratio={conv.sampling_ratio}, "
        f"spatial_scale={decimal(spec.spatial_scale)}"
    )
    if ctm == "half_pixel":
        return _onnx_how(conv), node + ', coordinate_transformation_mode="half_pixel")  # opset 16'
    return _onnx_how(conv), node + ')  # opset 10; at opset 16 add coordinate_transformation_mode="output_half_pixel"'


@renderer("TensorRT ROIAlign_TRT", "tensorrt")
def tensorrt_plugin(conv: Convention, spec: CallSpec):
    ctm, mode = _onnx_mode(conv), _pool_mode(conv)
    ph, pw = spec.output_size
    return _onnx_how(conv), (
        f"ROIAlign_TRT plugin fields: coordinate_transformation_mode={int(ctm == 'half_pixel')}, "
        f"mode={int(mode == 'avg')} ({mode}), output_height={ph}, output_width={pw}, "
        f"sampling_ratio={conv.sampling_ratio}, spatial_scale={decimal(spec.spatial_scale)}"
    )


OPENVINO_ALIGNED_MODES = {(0.0, 0.0): "asymmetric", (0.0, 0.5): "half_pixel_for_nn", (0.5, 0.5): "half_pixel"}


@renderer("OpenVINO ROIAlign", "openvino-half-pixel")
def openvino_op(conv: Convention, spec: CallSpec):
    aligned_mode = OPENVINO_ALIGNED_MODES.get((conv.pixel_offset, conv.sample_offset))
    if aligned_mode is None:
        raise Unreachable(
            f"no OpenVINO ROIAlign call computes this convention (no aligned_mode has pixel offset "
            f"{conv.pixel_offset:g} and sample offset {conv.sample_offset:g})"
        )
    mode = _pool_mode(conv)
    ph, pw = spec.output_size
    return dict(options={"aligned_mode": aligned_mode}, sampling_ratio=conv.sampling_ratio, mode=mode), (
        f"openvino.runtime.opset9.roi_align(data, rois, batch_indices, pooled_h={ph}, pooled_w={pw}, "
        f"sampling_ratio={conv.sampling_ratio}, spatial_scale={decimal(spec.spatial_scale)}, mode='{mode}', "
        f"aligned_mode='{aligned_mode}')"
    )


@renderer("mmcv", "mmcv")
def mmcv_module(conv: Convention, spec: CallSpec):
    aligned, mode = conv.sample_offset == 0.5, _pool_mode(conv)
    ph, pw = spec.output_size
    return dict(aligned=aligned, sampling_ratio=conv.sampling_ratio, mode=mode), (
        f"mmcv.ops.RoIAlign(output_size=({ph}, {pw}), spatial_scale={scale_expression(spec.spatial_scale)}, "
        f"sampling_ratio={conv.sampling_ratio}, pool_mode='{mode}', aligned={aligned})"
    )


@renderer("mmdetection v1", "mmdet-v1")
def mmdet_v1_module(conv: Convention, spec: CallSpec):
    ph, pw = spec.output_size
    return dict(sampling_ratio=conv.sampling_ratio), (
        f"mmdet.ops.RoIAlign(out_size=({ph}, {pw}), spatial_scale={scale_expression(spec.spatial_scale)}, "
        f"sample_num={conv.sampling_ratio})"
    )


@renderer("tf.image.crop_and_resize", "tf-crop-and-resize", per_axis=True)  # it ignores the scale
def tf_crop_and_resize(conv: Convention, spec: CallSpec):
    if not math.isfinite(conv.fill_value):
        raise Unreachable("no tf.image.crop_and_resize call computes this convention (its fill value is not finite)")
    value, method = repr(float(conv.fill_value)), conv.interpolation
    ph, pw = spec.output_size
    return dict(options={"extrapolation_value": value, "method": method}), (
        f"tf.image.crop_and_resize(image_nhwc, boxes_yxyx, box_indices, crop_size=({ph}, {pw}), "
        f"method='{method}', extrapolation_value={value})  # boxes normalized: 1.0 is pixel H-1 / W-1"
    )


@renderer("NNAPI ROI_ALIGN", "nnapi", per_axis=True)
def nnapi_operation(conv: Convention, spec: CallSpec):
    ry, rx = conv.sampling_ratios
    ph, pw = spec.output_size
    sy, sx = spec.scales
    return dict(options={"sampling_points_height": str(ry), "sampling_points_width": str(rx)}), (
        f"ANEURALNETWORKS_ROI_ALIGN inputs 3..9: output_height={ph}, output_width={pw}, "
        f"height_ratio={decimal(1 / sy)}, width_ratio={decimal(1 / sx)}, sampling_points_height={ry}, "
        f"sampling_points_width={rx}, layout=false (NHWC)  # boxes [K, 4] x1, y1, x2, y2 in image pixels"
    )


# The Caffe SSD fork's GPU kernel with inter_times 4 takes the max of 2x2 samples; 1 is one centre sample.
CAFFE_SSD_INTER_TIMES = {(1, "avg"): "1", (2, "max"): "4"}


@renderer("RoiAlign layer", "caffe-ssd-roialign", per_axis=True)  # boxes x the feature size: no scale
def caffe_ssd_layer(conv: Convention, spec: CallSpec):
    inter_times = CAFFE_SSD_INTER_TIMES.get((conv.sampling_ratio, conv.pooling))
    if inter_times is None:
        raise Unreachable(
            "no RoiAlign layer computes this convention (inter_times 1 is one centre sample, 4 the max of 2x2)"
        )
    ph, pw = spec.output_size
    return dict(options={"inter_times": inter_times}), (
        f'layer {{ type: "RoiAlign" bottom: "features" bottom: "detection_out" top: "pooled" '
        f"roi_align_param {{ roi_resized_height: {ph} roi_resized_width: {pw} inter_times: {inter_times} }} }}"
        "  # spatial_scale is unused: boxes are relative, x feature width/height"
    )


@renderer("ROIAlignment layer", "caffe-roialignment")
def caffe_roialignment_layer(conv: Convention, spec: CallSpec):
    ph, pw = spec.output_size
    return {}, (
        f'layer {{ type: "ROIAlignment" bottom: "features" bottom: "rois" top: "pooled" '
        f"roi_alignment_param {{ pooled_h: {ph} pooled_w: {pw} spatial_scale: {decimal(spec.spatial_scale)} }} }}"
    )


@renderer("RoIPool", "caffe-roi-pooling")
def roi_pool_call(conv: Convention, spec: CallSpec):
    ph, pw = spec.output_size
    scale = decimal(spec.spatial_scale)
    return {}, (
        f"torchvision.ops.roi_pool(x, rois, output_size=({ph}, {pw}), "
        f"spatial_scale={scale_expression(spec.spatial_scale)})"
        f"  # = Caffe ROIPooling {{ pooled_h: {ph} pooled_w: {pw} spatial_scale: {scale} }}"
        f' = onnx.helper.make_node("MaxRoiPool", ["X", "rois"], ["Y"], pooled_shape=[{ph}, {pw}], '
        f"spatial_scale={scale})"
    )


@renderer("OpenVINO ROIPooling", "openvino-roi-pooling")
def openvino_roi_pooling(conv: Convention, spec: CallSpec):
    method = "bilinear" if conv.one_point_per_cell else "max"
    ph, pw = spec.output_size
    scale = decimal(spec.spatial_scale) if method == "max" else "1.0"  # bilinear reads normalized boxes
    return dict(options={"method": method}), (
        f"openvino.runtime.opset2.roi_pooling(data, rois, output_roi=[{ph}, {pw}], spatial_scale={scale}, "
        f"method='{method}')"
    )


@renderer("ps_roi_align", "torchvision-ps-roi-align")
def ps_roi_align_call(conv: Convention, spec: CallSpec):
    ph, pw = spec.output_size
    sr = conv.sampling_ratio if conv.sampling_ratio > 0 else -1
    return dict(sampling_ratio=conv.sampling_ratio), (
        f"torchvision.ops.ps_roi_align(x, rois, output_size=({ph}, {pw}), "
        f"spatial_scale={scale_expression(spec.spatial_scale)}, sampling_ratio={sr})"
    )


@renderer("PSROIPooling layer", "rfcn-psroi-pooling")
def psroi_pooling_layer(conv: Convention, spec: CallSpec):
    ph, pw = spec.output_size
    if ph != pw:
        raise Unreachable(
            f"no PSROIPooling layer computes a {ph}x{pw} output (group_size is both its height and width)"
        )
    return {}, (
        f'layer {{ type: "PSROIPooling" bottom: "features" bottom: "rois" top: "pooled" psroi_pooling_param {{ '
        f"spatial_scale: {decimal(spec.spatial_scale)} output_dim: C/{ph * pw} group_size: {ph} }} }}"
    )
