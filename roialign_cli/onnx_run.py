"""Running a model in onnxruntime with its RoiAlign nodes' inputs and output captured, then pooling
those inputs under every runtime's reading and measuring each against onnxruntime's own output.

The onnxruntime row proves the reading (its error is a few float32 ulps); the others say by how much
TensorRT and OpenVINO would differ on the user's own data.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import api, arrayio
from .compare import compare
from .errors import InputError
from .onnx_model import load_model
from .onnx_reading import NodeReport


@dataclass(frozen=True)
class Captured:
    features: np.ndarray
    rois: np.ndarray  # [K, 5]: batch index, x1, y1, x2, y2
    output: np.ndarray  # onnxruntime's


@dataclass(frozen=True)
class Measured:
    max_abs_error: float | None
    verdict: str  # compare's: match, differ, shape-mismatch


def onnxruntime_module():
    try:
        import onnxruntime
    except ImportError:
        raise InputError("--run needs onnxruntime: pip install onnxruntime") from None
    onnxruntime.set_default_logger_severity(3)  # its max mode warns about corner-max on every session
    return onnxruntime


def capture(model_path: str, feeds_path: str, reports: list[NodeReport]) -> dict[int, Captured]:
    """Run the model on the feeds; each standard RoiAlign node's inputs and output, by node index."""
    ort = onnxruntime_module()
    model = load_model(model_path, with_weights=True)
    feeds = check_feeds(model, arrayio.load_npz(feeds_path, "feeds"), feeds_path)
    wanted = [r.node for r in reports if r.node.kind == "standard" and len(r.node.inputs) == 3]
    present = {o.name for o in model.graph.output}
    for name in dict.fromkeys(n for node in wanted for n in (*node.inputs, node.outputs[0])):
        if name not in present:
            model.graph.output.add().name = name  # untyped: onnxruntime infers the type
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        values = dict(zip(names, session.run(names, feeds)))
    except Exception as exc:  # noqa: BLE001 (onnxruntime's errors derive from Exception alone)
        raise InputError(f"onnxruntime cannot run the model: {_first_line(exc)}") from None
    return {node.index: _captured(node, values) for node in wanted}


def _captured(node, values) -> Captured:
    features, boxes, batch, output = (values[n] for n in (*node.inputs, node.outputs[0]))
    rois = np.concatenate([np.asarray(batch, np.float64).reshape(-1, 1), np.asarray(boxes, np.float64)], axis=1)
    return Captured(features=features, rois=rois, output=output)


def check_feeds(model, feeds: Mapping[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """The feeds for the model's inputs, each present with the declared dtype and fixed dimensions."""
    from onnx import helper

    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    names = [i.name for i in inputs]
    for extra in set(feeds) - set(names):
        raise InputError(f"{source}: {extra!r} is not an input of the model (its inputs: {', '.join(names)})")
    out = {}
    for value_info in inputs:
        name, tensor = value_info.name, value_info.type.tensor_type
        if name not in feeds:
            raise InputError(
                f"{source}: no array for the model's input {name!r} (it holds {', '.join(feeds) or 'none'})"
            )
        array = feeds[name]
        want = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type)) if tensor.elem_type else array.dtype
        if array.dtype != want:
            raise InputError(f"{source}: input {name!r} is {array.dtype}; the model wants {want}")
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
        if tensor.HasField("shape") and not _fits(array.shape, dims):
            raise InputError(f"{source}: input {name!r} has shape {list(array.shape)}; the model declares {dims}")
        out[name] = array
    return out


def _fits(shape, dims) -> bool:
    return len(shape) == len(dims) and all(not isinstance(d, int) or d == s for s, d in zip(shape, dims))


def errors_against_onnxruntime(report: NodeReport, captured: Captured, backend: str) -> dict[str, Measured]:
    """Each runtime's reading pooled over the captured inputs, against onnxruntime's output."""
    out = {}
    for reading in report.readings:
        if not reading.runs:
            continue
        pooled, _ = api.pool(
            captured.features, captured.rois, report.output_size, report.spatial_scale, reading.convention(), backend
        )
        result = compare(pooled, captured.output, top=0)
        out[reading.runtime] = Measured(result.max_abs_error, result.verdict)
    return out


def save_captured(directory: str, report: NodeReport, captured: Captured, inputs: list[str]) -> dict[str, str]:
    """Write the node's captured arrays as .npy files for `roialign pool` and `diff`; their paths by role."""
    os.makedirs(directory, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", report.node.label)
    paths = {}
    for role, array in (("features", captured.features), ("rois", captured.rois), ("output", captured.output)):
        paths[role] = os.path.join(directory, f"{stem}.{role}.npy")
        arrayio.save_array(paths[role], array, inputs=inputs)
    return paths


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
