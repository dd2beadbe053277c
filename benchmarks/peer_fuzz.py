"""Randomized differential checks of roialign against every live peer installed here (not a test).

    python benchmarks/peer_fuzz.py --cases 500                 # every peer that imports, 500 cases per check
    python benchmarks/peer_fuzz.py --cases 200 --checks tv-roi-align,ort-roi-align --seed 7
    python benchmarks/peer_fuzz.py --replay tv-roi-align:1234  # one case again, printed in full

torchvision lives in its own venv, TensorFlow in the main one: run the script under each
(`PYTHONPATH=. /work/tvenv/bin/python benchmarks/peer_fuzz.py`); a check whose peer does not import is
listed as skipped. Each case draws a small map (1..20 pixels a side, batch 1..3), a handful of boxes of
every kind (inside, partly and wholly outside, tiny, zero-size, huge, on whole- and half-pixel edges,
inverted where the peer accepts them) and the peer's own arguments, and runs roialign through one of its
entry points: the API on the NumPy engine, the API on the reference engine, or the `roialign pool` CLI
(in-process, through .npy files). A case disagrees when the shapes differ, NaNs lie elsewhere or a value
differs by more than --atol; a peer that raises on a case is counted as refused. The table on stdout gives,
per check: the peer, the preset, the cases run, the disagreements, the refusals and the largest difference;
then the seeds of the first disagreements, to --replay.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from roialign_cli import roi_align  # noqa: E402
from roialign_cli.api import multi_scale_roi_align  # noqa: E402

SCALES = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125)
# scales that are not powers of 2, as float32 holds them (ONNX and OpenVINO store a float attribute)
ODD_SCALES = tuple(float(np.float32(s)) for s in (1 / 3, 0.3, 0.7, 2.0, 1 / 6))


def draw_scale(rng):
    """A power of 2 mostly; now and then one whose products round."""
    return float(rng.choice(ODD_SCALES if rng.random() < 0.2 else SCALES))


BOX_KINDS = ("inside", "partly", "outside", "tiny", "zero", "huge", "pixel", "half-pixel", "whole-width", "inverted")


class Refused(Exception):
    """The peer rejects the case (its own assertion or error)."""


@dataclass
class Tally:
    check: str
    peer: str
    presets: set = field(default_factory=set)
    cases: int = 0
    disagree: int = 0
    refused: int = 0
    worst: float = 0.0
    failures: list = field(default_factory=list)
    vias: dict = field(default_factory=dict)


# ---------------------------------------------------------------- random inputs


def draw_boxes(rng, k, w, h, scale, inverted=True, kinds=BOX_KINDS):
    """k boxes (x1, y1, x2, y2) in image units for a w x h map at `scale`, each of a random kind."""
    kinds = [kd for kd in kinds if inverted or kd != "inverted"]
    out = np.empty((k, 4))
    for i in range(k):
        kind = kinds[rng.integers(len(kinds))]
        out[i] = _box(rng, kind, w, h) / scale
    return out


def _box(rng, kind, w, h):
    """One box in feature pixels."""
    ext = np.array([w, h, w, h], dtype=np.float64)
    if kind == "inside":
        a, b = np.sort(rng.uniform(0, 1, (2, 2)), axis=0)
        return np.concatenate([a, b]) * ext
    if kind == "partly":
        a, b = np.sort(rng.uniform(-0.6, 1.6, (2, 2)), axis=0)
        return np.concatenate([a, b]) * ext
    if kind == "outside":
        side = rng.integers(4)
        a, b = np.sort(rng.uniform(1.1, 3, (2, 2)), axis=0) * ext[:2] + 1.5
        box = np.concatenate([a, b])
        return -box[[2, 3, 0, 1]] if side == 0 else box if side == 1 else _mix(box, rng, ext)
    if kind == "tiny":
        x, y = rng.uniform(-1, 1, 2) + rng.uniform(0, 1, 2) * ext[:2]
        dw, dh = rng.uniform(0, 1, 2) * rng.choice([1, 0.1, 0.01])
        return np.array([x, y, x + dw, y + dh])
    if kind == "zero":
        x, y = rng.uniform(-1, 1.2, 2) * ext[:2]
        dw, dh = rng.choice([0.0, 1.0, 3.0], 2) * (rng.random(2) < 0.5)
        return np.array([x, y, x + dw, y + dh])
    if kind == "huge":
        a = rng.uniform(-20, 0, 2) * ext[:2]
        return np.concatenate([a, a + rng.uniform(2, 30, 2) * ext[:2]])
    if kind == "pixel":
        a = rng.integers(-2, max(w, h) + 2, 4).astype(np.float64)
        return np.concatenate([np.minimum(a[:2], a[2:]), np.maximum(a[:2], a[2:])])
    if kind == "whole-width":  # a random start, whole feature pixels wide: float32 steps land an ulp off
        a = rng.uniform(-2, max(w, h), 2)
        return np.concatenate([a, a + rng.integers(1, 6, 2)])
    if kind == "half-pixel":
        a = rng.integers(-2, max(w, h) + 2, 4) + 0.5
        return np.concatenate([np.minimum(a[:2], a[2:]), np.maximum(a[:2], a[2:])])
    a, b = rng.uniform(-0.2, 1.2, (2, 2)) * ext[:2]  # inverted on at least one axis
    lo, hi = np.minimum(a, b), np.maximum(a, b) + 0.5
    flip = rng.random(2) < 0.7
    flip[rng.integers(2)] = True
    return np.concatenate([np.where(flip, hi, lo), np.where(flip, lo, hi)])


def _mix(box, rng, ext):
    """A box outside on one axis, anywhere on the other."""
    a, b = np.sort(rng.uniform(-0.5, 1.5, 2)) * ext[0]
    return np.array([a, box[1], b, box[3]]) if rng.random() < 0.5 else np.array([box[0], -box[3], box[2], -box[1]])


def draw_map(rng, dtype=np.float32, channels=None):
    n = int(rng.integers(1, 4))
    c = channels or int(rng.integers(1, 4))
    h, w = (int(v) for v in rng.choice([1, 2, 3, 5, 8, 13, 20], 2))
    return (rng.standard_normal((n, c, h, w)) * 2).astype(dtype)


def rois_for(rng, features, boxes):
    batch = rng.integers(0, features.shape[0], (len(boxes), 1))
    return np.concatenate([batch, boxes], axis=1).astype(features.dtype)


def out_size(rng, top=14):
    return int(rng.integers(1, top + 1)), int(rng.integers(1, top + 1))


# ---------------------------------------------------------------- roialign, three ways in


def ours(via, features, rois, size, scale=1.0, ratio=-1, aligned=None, mode=None, preset=None, options=None, **kw):
    if via in ("numpy", "reference"):
        return np.asarray(
            roi_align(
                features,
                rois,
                size,
                scale,
                ratio,
                aligned,
                mode=mode,
                preset=preset,
                options=options,
                backend=via,
                **kw,
            )  # fmt: skip
        )
    args = ["--output-size", f"{size[0]}x{size[1]}", "--spatial-scale", _scale_text(scale), "--sampling-ratio"]
    args.append(",".join(map(str, ratio)) if isinstance(ratio, tuple) else str(ratio))
    if aligned is not None:
        args.append("--aligned" if aligned else "--no-aligned")
    if mode:
        args += ["--mode", mode]
    if preset:
        args += ["--preset", preset]
    for name, value in (options or {}).items():
        args += ["--option", f"{name}={value}"]
    if kw.get("layout"):
        args += ["--layout", kw["layout"]]
    return run_cli(features, rois, args)


def _scale_text(scale):
    return ",".join(repr(float(s)) for s in scale) if isinstance(scale, tuple) else repr(float(scale))


def run_cli(features, rois, args, maps=None):
    from click.testing import CliRunner

    from roialign_cli.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        fpath, rpath, opath = Path(tmp, "f.npy"), Path(tmp, "r.npy"), Path(tmp, "out.npy")
        if maps is not None:
            fpath = Path(tmp, "f.npz")
            np.savez(fpath, **{f"p{i}": m for i, m in enumerate(maps)})
        else:
            np.save(fpath, features)
        np.save(rpath, rois)
        result = CliRunner().invoke(
            main, ["pool", str(fpath), str(rpath), "-o", str(opath), "--backend", "numpy", *args]
        )
        if result.exit_code != 0:
            raise RuntimeError(f"roialign pool exited {result.exit_code}: {result.output.strip()[-300:]}")
        return np.load(opath)


def pick_via(rng):
    """The NumPy engine mostly; the reference engine and the CLI now and then."""
    r = rng.random()
    return "cli" if r < 0.1 else "reference" if r < 0.25 else "numpy"


# ---------------------------------------------------------------- torchvision


def tv_roi_align(rng, via):
    import torch
    from torchvision.ops import roi_align as tv

    dtype = rng.choice([np.float32, np.float64])
    features = draw_map(rng, dtype)
    scale = draw_scale(rng)
    aligned = bool(rng.random() < 0.5)
    ratio = int(rng.choice([-1, 0, 1, 2, 3]))
    size = out_size(rng)
    k = int(rng.integers(1, 7))
    # torchvision aligned=True refuses nothing, but an inverted box with aligned=True is undefined (negative bins)
    boxes = draw_boxes(rng, k, features.shape[3], features.shape[2], scale, inverted=not aligned)
    rois = rois_for(rng, features, boxes)
    theirs = tv(torch.from_numpy(features), torch.from_numpy(rois), size, scale, ratio, aligned).numpy()
    preset = "torchvision-aligned" if aligned else "torchvision"
    return theirs, ours(via, features, rois, size, scale, ratio, preset=preset), preset


def tv_roi_pool(rng, via):
    import torch
    from torchvision.ops import roi_pool

    features = draw_map(rng, rng.choice([np.float32, np.float64]))
    scale = draw_scale(rng)
    size = out_size(rng)
    boxes = draw_boxes(rng, int(rng.integers(1, 7)), features.shape[3], features.shape[2], scale)
    rois = rois_for(rng, features, boxes)
    theirs = roi_pool(torch.from_numpy(features), torch.from_numpy(rois), size, scale).numpy()
    return theirs, ours(via, features, rois, size, scale, preset="torchvision-roi-pool"), "torchvision-roi-pool"


def tv_ps_roi_align(rng, via):
    import torch
    from torchvision.ops import ps_roi_align

    size = out_size(rng, 5)
    features = draw_map(rng, rng.choice([np.float32, np.float64]), channels=size[0] * size[1] * int(rng.integers(1, 3)))
    scale = draw_scale(rng)
    ratio = int(rng.choice([-1, 0, 1, 2, 3]))
    boxes = draw_boxes(rng, int(rng.integers(1, 6)), features.shape[3], features.shape[2], scale, inverted=False)
    rois = rois_for(rng, features, boxes)
    theirs = ps_roi_align(torch.from_numpy(features), torch.from_numpy(rois), size, scale, ratio).numpy()
    preset = "torchvision-ps-roi-align"
    return theirs, ours(via, features, rois, size, scale, ratio, preset=preset), preset


def _pyramid_inputs(rng):
    w, h = (int(v) for v in rng.integers(33, 400, 2))
    strides = [(4, 8, 16, 32), (8, 16, 32), (4, 8), (2, 4, 8, 16, 32, 64)][rng.integers(4)]
    n = int(rng.integers(1, 3))
    maps = [rng.standard_normal((n, 2, -(-h // s), -(-w // s))).astype(np.float32) for s in strides]
    k = int(rng.integers(1, 12))
    sides = np.exp(rng.uniform(np.log(0.5), np.log(1200), (k, 2)))
    sides[rng.random(k) < 0.15] = rng.choice([56.0, 112.0, 224.0, 448.0, 0.0])
    x1y1 = rng.uniform(-0.2, 1.0, (k, 2)) * [w, h]
    boxes = np.concatenate([x1y1, x1y1 + sides], axis=1).astype(np.float32)
    rois = np.concatenate([rng.integers(0, n, (k, 1)), boxes], axis=1).astype(np.float32)
    return maps, rois, (w, h), strides


def tv_multiscale(rng, via):
    import torch
    from torchvision.ops import MultiScaleRoIAlign

    maps, rois, (w, h), _ = _pyramid_inputs(rng)
    size = out_size(rng, 8)
    ratio = int(rng.choice([-1, 0, 1, 2]))
    canonical = (224, 4) if rng.random() < 0.7 else (int(rng.choice([112, 200, 300])), int(rng.choice([3, 4, 5])))
    names = [f"p{i}" for i in range(len(maps))]
    pooler = MultiScaleRoIAlign(names, size, ratio, canonical_scale=canonical[0], canonical_level=canonical[1])
    x = OrderedDict((nm, torch.from_numpy(m)) for nm, m in zip(names, maps, strict=True))
    per_image = [torch.from_numpy(rois[rois[:, 0] == i, 1:]) for i in range(maps[0].shape[0])]
    theirs = pooler(x, per_image, [(h, w)] * maps[0].shape[0]).numpy()
    order = np.concatenate([np.flatnonzero(rois[:, 0] == i) for i in range(maps[0].shape[0])])
    rois = rois[order]  # torchvision's rows are image by image
    from dataclasses import replace

    from roialign_cli.level_mappers import get_mapper

    mapper = replace(get_mapper("torchvision"), canonical_size=float(canonical[0]), canonical_level=canonical[1])
    if via == "cli" and canonical == (224, 4):
        args = ["--output-size", f"{size[0]}x{size[1]}", "--sampling-ratio", str(ratio), "--image-size", f"{w}x{h}"]
        got = run_cli(None, rois, [*args, "--level-mapper", "torchvision"], maps=maps)
    else:
        got = multi_scale_roi_align(maps, rois, size, image_size=(w, h), level_mapper=mapper, sampling_ratio=ratio,
                                    backend="reference" if via == "reference" else "numpy")  # fmt: skip
    return theirs, got, "torchvision (MultiScaleRoIAlign)"


def tv_level_mapper(rng, via):
    import torch
    from torchvision.ops.poolers import LevelMapper

    from roialign_cli.level_mappers import get_mapper
    from roialign_cli.pyramid import assign_levels, pyramid_of

    k_min, k_max = int(rng.integers(1, 4)), int(rng.integers(4, 7))
    k = 64
    sides = np.exp(rng.uniform(np.log(1), np.log(2000), (k, 2))).astype(np.float32)
    exact = np.float32(224 * 2.0 ** rng.integers(-3, 3, k))
    pick = rng.random(k)
    sides[pick < 0.3] = exact[pick < 0.3, None]
    step = pick > 0.85
    sides[step] = np.nextafter(exact[step, None], np.float32(rng.choice([0, 1e9]))).astype(np.float32)
    x1y1 = rng.uniform(0, 500, (k, 2)).astype(np.float32)
    boxes = np.concatenate([x1y1, x1y1 + sides], axis=1).astype(np.float32)
    theirs = LevelMapper(k_min, k_max)([torch.from_numpy(boxes)]).numpy()
    pyramid = pyramid_of([2.0**-lvl for lvl in range(k_min, k_max + 1)])
    rois = np.concatenate([np.zeros((k, 1), np.float32), boxes], axis=1)
    return theirs, assign_levels(rois, get_mapper("torchvision"), pyramid), "torchvision (LevelMapper)"


# ---------------------------------------------------------------- onnxruntime


def _ort_session(node, inputs, opset, elem_type):
    import onnxruntime as ort
    from onnx import helper

    ort.set_default_logger_severity(3)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("Y", elem_type, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def ort_roi_align(rng, via):
    from onnx import TensorProto, helper

    opset = int(rng.choice([10, 16]))
    dtype = np.float64 if rng.random() < 0.25 else np.float32
    features = draw_map(rng, dtype)
    scale = draw_scale(rng)
    size = out_size(rng)
    mode = str(rng.choice(["avg", "max"]))
    coord = "output_half_pixel" if opset == 10 else str(rng.choice(["half_pixel", "output_half_pixel", "absent"]))
    ratio = rng.choice([0, 1, 2, -1])  # -1: attribute absent
    attrs = {"output_height": size[0], "output_width": size[1], "spatial_scale": scale, "mode": mode}
    if ratio >= 0:
        attrs["sampling_ratio"] = int(ratio)
    if opset == 16 and coord != "absent":
        attrs["coordinate_transformation_mode"] = coord
    boxes = draw_boxes(rng, int(rng.integers(1, 7)), features.shape[3], features.shape[2], scale)
    rois = rois_for(rng, features, boxes)
    et = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    node = helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], **attrs)
    inputs = [helper.make_tensor_value_info("X", et, None), helper.make_tensor_value_info("rois", et, None),
              helper.make_tensor_value_info("batch_indices", TensorProto.INT64, None)]  # fmt: skip
    session = _ort_session(node, inputs, opset, et)
    feeds = {"X": features, "rois": rois[:, 1:].copy(), "batch_indices": rois[:, 0].astype(np.int64)}
    try:
        theirs = session.run(None, feeds)
    except Exception as exc:  # an inverted box's negative adaptive grid overflows onnxruntime's SafeInt
        raise Refused(str(exc).splitlines()[0][-160:]) from None
    option = "half_pixel" if coord == "absent" else coord
    got = ours(via, features, rois, size, scale, max(int(ratio), 0), mode=mode, preset="onnxruntime",
               options={"coordinate_transformation_mode": option})  # fmt: skip
    return theirs[0], got, "onnxruntime"


def ort_max_roi_pool(rng, via):
    from onnx import TensorProto, helper

    dtype = np.float32  # onnxruntime's CPU MaxRoiPool is float only
    features = draw_map(rng, dtype)
    scale = draw_scale(rng)
    size = out_size(rng)
    boxes = draw_boxes(rng, int(rng.integers(1, 7)), features.shape[3], features.shape[2], scale)
    rois = rois_for(rng, features, boxes)
    et = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    node = helper.make_node("MaxRoiPool", ["X", "rois"], ["Y"], pooled_shape=list(size), spatial_scale=scale)
    inputs = [helper.make_tensor_value_info("X", et, None), helper.make_tensor_value_info("rois", et, None)]
    theirs = _ort_session(node, inputs, 16, et).run(None, {"X": features, "rois": rois})[0]
    return theirs, ours(via, features, rois, size, scale, preset="onnx-maxroipool"), "onnx-maxroipool"


# ---------------------------------------------------------------- OpenVINO


def _ov_compile(outputs, params):
    import openvino as ov

    return ov.Core().compile_model(ov.Model(outputs, params), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})


def ov_roi_align(rng, via):
    import openvino.opset9 as ops

    features = draw_map(rng)
    scale = draw_scale(rng)
    size = out_size(rng)
    mode = str(rng.choice(["avg", "max"]))
    aligned_mode = str(rng.choice(["asymmetric", "half_pixel_for_nn", "half_pixel"]))
    ratio = int(rng.choice([0, 1, 2, 3]))
    # OpenVINO asserts on inverted boxes with adaptive sampling (trap openvino-inverted-box-asserts)
    boxes = draw_boxes(rng, int(rng.integers(1, 7)), features.shape[3], features.shape[2], scale, inverted=ratio > 0)
    rois = rois_for(rng, features, boxes)
    data = ops.parameter(list(features.shape), np.float32)
    coords = ops.parameter([len(rois), 4], np.float32)
    batch = ops.parameter([len(rois)], np.int32)
    node = ops.roi_align(data, coords, batch, pooled_h=size[0], pooled_w=size[1], sampling_ratio=ratio,
                         spatial_scale=scale, mode=mode, aligned_mode=aligned_mode)  # fmt: skip
    try:
        theirs = _ov_compile([node], [data, coords, batch])([features, rois[:, 1:], rois[:, 0].astype(np.int32)])[0]
    except RuntimeError as exc:
        raise Refused(str(exc).splitlines()[0]) from None
    preset = "openvino-max" if mode == "max" else "openvino-half-pixel"
    got = ours(
        via, features, rois, size, scale, ratio, mode=mode, preset=preset, options={"aligned_mode": aligned_mode}
    )
    return theirs, got, preset


def ov_roi_pooling(rng, via):
    import openvino.opset2 as ops

    features = draw_map(rng)
    method = str(rng.choice(["max", "bilinear"]))
    size = out_size(rng)
    k = int(rng.integers(1, 7))
    if method == "max":
        scale = draw_scale(rng)
        boxes = draw_boxes(rng, k, features.shape[3], features.shape[2], scale, inverted=False)
    else:  # normalized boxes; 1.0 is the last pixel
        scale = 1.0
        boxes = draw_boxes(rng, k, 1, 1, 1.0, inverted=False, kinds=("inside", "partly", "tiny", "zero", "pixel"))
        boxes = np.clip(boxes, -0.5, 1.5)
    rois = rois_for(rng, features, boxes)
    data = ops.parameter(list(features.shape), np.float32)
    coords = ops.parameter(list(rois.shape), np.float32)
    node = ops.roi_pooling(data, coords, output_roi=list(size), spatial_scale=scale, method=method)
    theirs = _ov_compile([node], [data, coords])([features, rois])[0]
    got = ours(via, features, rois, size, scale, preset="openvino-roi-pooling", options={"method": method})
    return theirs, got, "openvino-roi-pooling"


def ov_feature_extractor(rng, via):
    import openvino as ov
    from onnx import TensorProto, helper

    from roialign_cli.presets import resolve
    from roialign_cli.pyramid import pool_pyramid

    maps, rois, _, strides = _pyramid_inputs(rng)
    maps = [m[:1] for m in maps]  # the op pools one image
    rois[:, 0] = 0
    size = int(rng.integers(1, 9))
    ratio = int(rng.choice([0, 1, 2]))
    aligned = bool(rng.random() < 0.5)
    names = ["rois"] + [f"p{i}" for i in range(len(maps))]
    arrays = [rois[:, 1:].copy(), *maps]
    inputs = [
        helper.make_tensor_value_info(nm, TensorProto.FLOAT, list(a.shape)) for nm, a in zip(names, arrays, strict=True)
    ]
    outputs = [helper.make_tensor_value_info(nm, TensorProto.FLOAT, None) for nm in ("features", "rois_out")]
    node = helper.make_node("ExperimentalDetectronROIFeatureExtractor", names, ["features", "rois_out"],
                            domain="org.openvinotoolkit", output_size=size, sampling_ratio=ratio,
                            pyramid_scales=list(strides), aligned=int(aligned))  # fmt: skip
    model = helper.make_model(
        helper.make_graph([node], "extractor", inputs, outputs),
        opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid("org.openvinotoolkit", 1)],
    )
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "m.onnx")
        onnx.save(model, path)
        core = ov.Core()
        theirs = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(arrays)[0]
    convention = resolve("caffe2", sampling_ratio=ratio).with_(sample_offset=0.5 if aligned else 0.0)
    got = pool_pyramid(maps, rois, size, convention, mapper="openvino", spatial_scales=[1 / s for s in strides],
                       backend="reference" if via == "reference" else "numpy").output  # fmt: skip
    return theirs, got, "caffe2 + openvino mapper"


# ---------------------------------------------------------------- TensorFlow


def tf_crop_and_resize(rng, via):
    import tensorflow as tf

    features = draw_map(rng)
    image = np.ascontiguousarray(features.transpose(0, 2, 3, 1))
    size = out_size(rng, 16)
    method = str(rng.choice(["bilinear", "nearest"]))
    fill = float(rng.choice([0.0, -0.5, 3.25]))
    k = int(rng.integers(1, 7))
    boxes = draw_boxes(rng, k, 1, 1, 1.0) if rng.random() < 0.7 else rng.integers(-2, 7, (k, 4)) / 4.0
    rois = rois_for(rng, features, boxes)  # (b, x1, y1, x2, y2) in TF's normalized space
    yxyx = rois[:, [2, 1, 4, 3]].astype(np.float32)
    theirs = tf.image.crop_and_resize(image, yxyx, rois[:, 0].astype(np.int32), size, method=method,
                                      extrapolation_value=fill).numpy()  # fmt: skip
    got = ours(via, image, rois, size, preset="tf-crop-and-resize", layout="nhwc",
               options={"method": method, "extrapolation_value": repr(fill)})  # fmt: skip
    return theirs, got, "tf-crop-and-resize"


# ---------------------------------------------------------------- driver

CHECKS = {
    "tv-roi-align": ("torchvision", ("torch", "torchvision"), tv_roi_align),
    "tv-roi-pool": ("torchvision", ("torch", "torchvision"), tv_roi_pool),
    "tv-ps-roi-align": ("torchvision", ("torch", "torchvision"), tv_ps_roi_align),
    "tv-multiscale": ("torchvision", ("torch", "torchvision"), tv_multiscale),
    "tv-level-mapper": ("torchvision", ("torch", "torchvision"), tv_level_mapper),
    "ort-roi-align": ("onnxruntime", ("onnx", "onnxruntime"), ort_roi_align),
    "ort-max-roi-pool": ("onnxruntime", ("onnx", "onnxruntime"), ort_max_roi_pool),
    "ov-roi-align": ("openvino", ("openvino",), ov_roi_align),
    "ov-roi-pooling": ("openvino", ("openvino",), ov_roi_pooling),
    "ov-feature-extractor": ("openvino", ("openvino", "onnx"), ov_feature_extractor),
    "tf-crop-and-resize": ("tensorflow", ("tensorflow",), tf_crop_and_resize),
}


def compare(theirs, got, atol):
    """(largest difference, why they disagree or '')."""
    theirs, got = np.asarray(theirs), np.asarray(got)
    if theirs.shape != got.shape:
        return np.inf, f"shape {got.shape} vs peer {theirs.shape}"
    if not np.array_equal(np.isnan(theirs), np.isnan(got)):
        return np.inf, f"NaN at {np.argwhere(np.isnan(theirs) != np.isnan(got))[0].tolist()}"
    diff = np.abs(np.nan_to_num(theirs.astype(np.float64) - got.astype(np.float64)))
    worst = float(diff.max(initial=0.0))
    if not worst <= atol:
        return worst, f"max |diff| {worst:.3g} at {np.argwhere(diff == worst)[0].tolist()}"
    return worst, ""


def run_case(name, seed, atol):
    """(status, via, largest difference, why, preset) of one case."""
    rng = np.random.default_rng([seed, zlib_key(name)])
    via = pick_via(np.random.default_rng(seed))
    try:
        theirs, got, preset = CHECKS[name][2](rng, via)
    except Refused as exc:
        return "refused", via, 0.0, str(exc), "?"
    worst, why = compare(theirs, got, atol)
    return ("disagree" if why else "agree"), via, worst, why, preset


def zlib_key(name):
    import zlib

    return zlib.crc32(name.encode())


def available(modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


def fuzz(names, cases, seed, atol, budget, trace=False):
    tallies = []
    for name in names:
        peer, modules, _ = CHECKS[name]
        if not available(modules):
            print(f"{name}: skipped ({', '.join(modules)} not importable in {sys.executable})", file=sys.stderr)
            continue
        tally = Tally(name, peer)
        start = time.perf_counter()
        for i in range(cases):
            case_seed = seed * 1_000_003 + i
            try:
                status, via, worst, why, preset = run_case(name, case_seed, atol)
            except Exception as exc:  # roialign or the peer raised: a disagreement to look at
                status, via, worst, why, preset = "disagree", "?", np.inf, f"raised {exc!r}"[:240], "?"
                if trace:
                    traceback.print_exc()
            tally.cases += 1
            tally.vias[via] = tally.vias.get(via, 0) + 1
            tally.presets.add(preset)
            tally.worst = max(tally.worst, worst)
            if status == "refused":
                tally.refused += 1
            elif status == "disagree":
                tally.disagree += 1
                tally.failures.append((case_seed, via, why))
            if time.perf_counter() - start > budget:
                break
        tallies.append(tally)
    return tallies


def report(tallies):
    head = ("check", "peer", "presets", "cases", "disagree", "refused", "max |diff|", "via numpy/ref/cli")
    rows = [
        (
            t.check,
            t.peer,
            ", ".join(sorted(t.presets - {"?"})),
            str(t.cases),
            str(t.disagree),
            str(t.refused),
            f"{t.worst:.2g}",
            "/".join(str(t.vias.get(v, 0)) for v in ("numpy", "reference", "cli")),
        )  # fmt: skip
        for t in tallies
    ]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    for t in tallies:
        for case_seed, via, why in t.failures[:5]:
            print(f"  {t.check}:{case_seed} ({via}): {why}")


def replay(spec, atol):
    name, seed = spec.split(":")
    status, via, worst, why, preset = run_case(name, int(seed), atol)
    print(f"{name}:{seed} {status} via {via}, preset {preset}, max |diff| {worst:.3g} {why}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="cases per check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--checks", default="", help="comma-separated check names (default: all)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per check at most")
    parser.add_argument("--replay", help="CHECK:SEED, one case again")
    parser.add_argument("--trace", action="store_true", help="print tracebacks of roialign's own errors")
    args = parser.parse_args()
    if args.replay:
        replay(args.replay, args.atol)
        return
    names = [n for n in args.checks.split(",") if n] or list(CHECKS)
    unknown = set(names) - set(CHECKS)
    if unknown:
        parser.error(f"unknown checks {', '.join(sorted(unknown))}; known: {', '.join(CHECKS)}")
    report(fuzz(names, args.cases, args.seed, args.atol, args.budget, args.trace))


if __name__ == "__main__":
    main()
