"""How to ask each framework itself for a convention: one renderer per framework.

A renderer takes a convention and the per-call numbers (`CallSpec`) and returns the framework's
own call, node or layer as text. It first reads the framework's arguments off the convention,
then rebuilds the convention those arguments give (through the framework's preset) and compares:
a convention the framework cannot express (say, corner-max asked of torchvision) gets a sentence
saying which switches no call of that framework reaches, never a call that would compute
something else. Pure Python, like the registry that uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .conventions import Convention, differences


@dataclass(frozen=True)
class CallSpec:
    """The per-call numbers a framework call needs besides the convention."""

    output_size: tuple[int, int] = (7, 7)  # (height, width)
    spatial_scale: float = 1 / 16


def scale_expression(s: float) -> str:
    """A Python expression for a scale: 1/16 for 0.0625, else the shortest float text."""
    if 0 < s < 1 and (1 / s).is_integer():
        return f"1/{int(1 / s)}"
    return repr(float(s))


def decimal(s: float) -> str:
    """A scale as a plain decimal number, as attribute and prototxt values are written."""
    return f"{s:.10g}"


def _unreachable(framework: str, conv: Convention, preset: str, **how) -> str | None:
    """None when the framework call read off `conv` computes `conv`; else why not, in one line."""
    from .presets import resolve  # the registry imports this module

    expected = resolve(preset, **how)
    changed = [name for name, _, _ in differences(conv, expected)]
    if not changed:
        return None
    return f"no {framework} call computes this convention (it cannot reach: {', '.join(changed)})"


def _pool_mode(conv: Convention) -> str:
    return "avg" if conv.pooling == "avg" else "max"


def torchvision_call(conv: Convention, spec: CallSpec) -> str:
    aligned = conv.sample_offset == 0.5
    sr = conv.sampling_ratio
    problem = _unreachable("torchvision", conv, "torchvision", aligned=aligned, sampling_ratio=sr, mode="avg")
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f"torchvision.ops.roi_align(x, rois, output_size=({ph}, {pw}), "
        f"spatial_scale={scale_expression(spec.spatial_scale)}, sampling_ratio={sr if sr > 0 else -1}, aligned={aligned})"
    )


def _onnx_mode(conv: Convention) -> str:
    return "half_pixel" if conv.sample_offset == 0.5 else "output_half_pixel"


def onnx_node(conv: Convention, spec: CallSpec) -> str:
    ctm, mode = _onnx_mode(conv), _pool_mode(conv)
    how = dict(options={"coordinate_transformation_mode": ctm}, sampling_ratio=conv.sampling_ratio, mode=mode)
    problem = _unreachable("ONNX RoiAlign", conv, "onnxruntime", **how)
    if problem:
        return problem
    ph, pw = spec.output_size
    # sampling_ratio is always written: onnx-tensorrt and OpenVINO read an omitted one as 1
    node = (
        f'onnx.helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], mode="{mode}", '
        f"output_height={ph}, output_width={pw}, sampling_ratio={conv.sampling_ratio}, "
        f"spatial_scale={decimal(spec.spatial_scale)}"
    )
    if ctm == "half_pixel":
        return node + ', coordinate_transformation_mode="half_pixel")  # opset 16'
    return node + ")  # opset 10; at opset 16 add coordinate_transformation_mode=\"output_half_pixel\""


def tensorrt_plugin(conv: Convention, spec: CallSpec) -> str:
    ctm, mode = _onnx_mode(conv), _pool_mode(conv)
    how = dict(options={"coordinate_transformation_mode": ctm}, sampling_ratio=conv.sampling_ratio, mode=mode)
    problem = _unreachable("TensorRT ROIAlign_TRT", conv, "tensorrt", **how)
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f"ROIAlign_TRT plugin fields: coordinate_transformation_mode={int(ctm == 'half_pixel')}, "
        f"mode={int(mode == 'avg')} ({mode}), output_height={ph}, output_width={pw}, "
        f"sampling_ratio={conv.sampling_ratio}, spatial_scale={decimal(spec.spatial_scale)}"
    )


OPENVINO_ALIGNED_MODES = {(0.0, 0.0): "asymmetric", (0.0, 0.5): "half_pixel_for_nn", (0.5, 0.5): "half_pixel"}


def openvino_op(conv: Convention, spec: CallSpec) -> str:
    aligned_mode = OPENVINO_ALIGNED_MODES.get((conv.pixel_offset, conv.sample_offset))
    if aligned_mode is None:
        return (
            f"no OpenVINO ROIAlign call computes this convention (no aligned_mode has pixel offset "
            f"{conv.pixel_offset:g} and sample offset {conv.sample_offset:g})"
        )
    mode = _pool_mode(conv)
    how = dict(options={"aligned_mode": aligned_mode}, sampling_ratio=conv.sampling_ratio, mode=mode)
    problem = _unreachable("OpenVINO ROIAlign", conv, "openvino-half-pixel", **how)
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f"openvino.runtime.opset9.roi_align(data, rois, batch_indices, pooled_h={ph}, pooled_w={pw}, "
        f"sampling_ratio={conv.sampling_ratio}, spatial_scale={decimal(spec.spatial_scale)}, mode='{mode}', "
        f"aligned_mode='{aligned_mode}')"
    )


def mmcv_module(conv: Convention, spec: CallSpec) -> str:
    aligned, mode = conv.sample_offset == 0.5, _pool_mode(conv)
    problem = _unreachable("mmcv", conv, "mmcv", aligned=aligned, sampling_ratio=conv.sampling_ratio, mode=mode)
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f"mmcv.ops.RoIAlign(output_size=({ph}, {pw}), spatial_scale={scale_expression(spec.spatial_scale)}, "
        f"sampling_ratio={conv.sampling_ratio}, pool_mode='{mode}', aligned={aligned})"
    )


def mmdet_v1_module(conv: Convention, spec: CallSpec) -> str:
    problem = _unreachable("mmdetection v1", conv, "mmdet-v1", sampling_ratio=conv.sampling_ratio)
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f"mmdet.ops.RoIAlign(out_size=({ph}, {pw}), spatial_scale={scale_expression(spec.spatial_scale)}, "
        f"sample_num={conv.sampling_ratio})"
    )


def tf_crop_and_resize(conv: Convention, spec: CallSpec) -> str:
    if not math.isfinite(conv.fill_value):
        return "no tf.image.crop_and_resize call computes this convention (its fill value is not finite)"
    value = repr(float(conv.fill_value))
    problem = _unreachable(
        "tf.image.crop_and_resize", conv, "tf-crop-and-resize", options={"extrapolation_value": value}
    )
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f"tf.image.crop_and_resize(image_nhwc, boxes_yxyx, box_indices, crop_size=({ph}, {pw}), "
        f"method='bilinear', extrapolation_value={value})  # boxes normalized: 1.0 is pixel H-1 / W-1"
    )


# The Caffe SSD fork's GPU kernel with inter_times 4 takes the max of 2x2 samples; 1 is one centre sample.
CAFFE_SSD_INTER_TIMES = {(1, "avg"): "1", (2, "max"): "4"}


def caffe_ssd_layer(conv: Convention, spec: CallSpec) -> str:
    inter_times = CAFFE_SSD_INTER_TIMES.get((conv.sampling_ratio, conv.pooling))
    if inter_times is None:
        return "no RoiAlign layer computes this convention (inter_times 1 is one centre sample, 4 the max of 2x2)"
    problem = _unreachable("RoiAlign layer", conv, "caffe-ssd-roialign", options={"inter_times": inter_times})
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f'layer {{ type: "RoiAlign" bottom: "features" bottom: "detection_out" top: "pooled" '
        f"roi_align_param {{ roi_resized_height: {ph} roi_resized_width: {pw} inter_times: {inter_times} }} }}"
        "  # spatial_scale is unused: boxes are relative, x feature width/height"
    )


def caffe_roialignment_layer(conv: Convention, spec: CallSpec) -> str:
    problem = _unreachable("ROIAlignment layer", conv, "caffe-roialignment")
    if problem:
        return problem
    ph, pw = spec.output_size
    return (
        f'layer {{ type: "ROIAlignment" bottom: "features" bottom: "rois" top: "pooled" '
        f"roi_alignment_param {{ pooled_h: {ph} pooled_w: {pw} spatial_scale: {decimal(spec.spatial_scale)} }} }}"
    )


def torch_layer(conv: Convention, spec: CallSpec, preset: str, options: tuple[tuple[str, str], ...] = ()) -> str:
    """The `roialign_cli.torch.RoIAlign` layer that computes `conv` (and trains: it has a backward pass),
    written from `preset` with its `options`; what they leave different is set as `switches`."""
    from .presets import get  # the registry imports this module

    named = get(preset)
    base = named.with_options(named.convention, dict(options))
    changed = {name: value for name, _, value in differences(base, conv)}
    ph, pw = spec.output_size
    words = [f"output_size=({ph}, {pw})", f"spatial_scale={scale_expression(spec.spatial_scale)}"]
    if "sampling_ratio" in changed:
        words.append(f"sampling_ratio={changed.pop('sampling_ratio')}")
    words.append(f"preset={named.name!r}")
    words += [f"{name}={value!r}" for name, value in options]
    if changed:
        words.append("switches={" + ", ".join(f"{k!r}: {_python(v)}" for k, v in changed.items()) + "}")
    return f"roialign_cli.torch.RoIAlign({', '.join(words)})"


def _python(value) -> str:
    """A switch value as Python source (NaN and infinities as float('nan') and so on)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)


def pytorch_call(conv: Convention, spec: CallSpec, preset: str, options: tuple[tuple[str, str], ...] = ()) -> str:
    """A train-ready PyTorch call for `conv`: torchvision's own where it computes the convention, else the layer."""
    call = torchvision_call(conv, spec)
    if call.startswith("torchvision."):
        return call
    return f"{torch_layer(conv, spec, preset, options)}  # torchvision cannot compute this convention"
