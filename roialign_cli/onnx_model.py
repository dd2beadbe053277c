"""Reading an ONNX model's RoiAlign nodes: what is written in the file, and nothing about runtimes.

The `onnx` package is imported inside the functions (so that `roialign --help` stays light) and
the model is read without its external data: the attributes and the graph's wiring are all a
reading needs. `onnx_reading` says what each runtime makes of the nodes found here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import InputError

STANDARD_DOMAINS = ("", "ai.onnx")
# The custom ops that stand in for RoiAlign in exported detectors, by their op_type (any domain).
MMCV_OPS = ("MMCVRoiAlign", "MMCVRoIAlign")  # mmcv's symbolic writes MMCVRoiAlign; mmdeploy docs spell both
TENSORRT_PLUGIN_OPS = ("ROIAlign_TRT",)
# Ops a rois tensor may pass through between a Sub and the RoiAlign node without changing its values.
_VALUE_PRESERVING = ("Gather", "Slice", "Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze")


@dataclass(frozen=True)
class RoisShift:
    """A constant subtracted from the rois right before the node (torchvision's and mmcv's aligned emulation)."""

    value: float
    sub_node: str


@dataclass(frozen=True)
class RoiAlignNode:
    index: int  # position among the model's RoiAlign-like nodes
    name: str
    op_type: str
    domain: str
    opset: int | None  # the model's opset for the node's domain
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    written: Mapping[str, object] = field(default_factory=dict)  # attributes as written in the file
    rois_shift: RoisShift | None = None

    @property
    def kind(self) -> str:
        """'standard' (ONNX RoiAlign), 'mmcv' or 'tensorrt-plugin'."""
        if self.op_type in MMCV_OPS:
            return "mmcv"
        if self.op_type in TENSORRT_PLUGIN_OPS:
            return "tensorrt-plugin"
        return "standard"

    @property
    def label(self) -> str:
        return self.name or f"{self.op_type}#{self.index}"


@dataclass(frozen=True)
class ModelNodes:
    path: str
    opsets: Mapping[str, int]
    nodes: tuple[RoiAlignNode, ...]


def onnx_module():
    try:
        import onnx
    except ImportError:
        raise InputError("reading ONNX models needs the onnx package: pip install onnx") from None
    return onnx


def load_model(path: str, *, with_weights: bool = False):
    """The ModelProto at `path`; without weights unless asked (external data is then read from beside it)."""
    onnx = onnx_module()
    from google.protobuf.message import Error as ProtobufError

    if not os.path.exists(path):
        raise InputError(f"model: no such file: {path}")
    if os.path.isdir(path):
        raise InputError(f"model: {path} is a directory, not an .onnx file")
    try:
        model = onnx.load(path, load_external_data=False)
    except (ProtobufError, ValueError, OSError) as exc:  # the bytes are not a ModelProto
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: not an ONNX model, or a truncated one ({first})") from None
    if not model.HasField("graph") or not model.opset_import:
        raise InputError(f"{path}: not an ONNX model (no graph or no opset in it)")
    if with_weights:
        _load_weights(onnx, model, path)
    return model


def _load_weights(onnx, model, path: str) -> None:
    from onnx.external_data_helper import load_external_data_for_model

    try:
        load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
    except (OSError, ValueError, onnx.checker.ValidationError) as exc:  # the checker refuses a missing file
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: its external data cannot be read ({first}); running the model needs it") from None


def find_nodes(path: str) -> ModelNodes:
    """Every RoiAlign-like node of the model's main graph, with its attributes and any rois shift."""
    model = load_model(path)
    opsets = {_domain(o.domain): int(o.version) for o in model.opset_import}
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    constants = _constant_tensors(graph)
    found = []
    for node in graph.node:
        domain = _domain(node.domain)
        standard = node.op_type == "RoiAlign" and domain in STANDARD_DOMAINS
        if not (standard or node.op_type in MMCV_OPS + TENSORRT_PLUGIN_OPS):
            continue
        rois = node.input[1] if len(node.input) > 1 else ""
        found.append(
            RoiAlignNode(
                index=len(found),
                name=node.name,
                op_type=node.op_type,
                domain=domain,
                opset=opsets.get("" if domain in STANDARD_DOMAINS else domain),
                inputs=tuple(node.input),
                outputs=tuple(node.output),
                written={a.name: _attribute_value(a) for a in node.attribute},
                rois_shift=_rois_shift(rois, producers, constants),
            )
        )
    return ModelNodes(path=path, opsets=opsets, nodes=tuple(found))


def _domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def _attribute_value(attribute):
    from onnx import helper

    value = helper.get_attribute_value(attribute)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _constant_tensors(graph) -> dict:
    """Constant tensors by name, unconverted: initializers and Constant nodes' values."""
    tensors = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attribute in node.attribute:
                if attribute.name in ("value", "value_float"):
                    tensors[node.output[0]] = attribute.t if attribute.name == "value" else attribute.f
    return tensors


def _scalar(tensor) -> float | None:
    """A one-element float constant's value; None for anything else (or external data we did not load)."""
    from onnx import numpy_helper

    if isinstance(tensor, float):
        return tensor
    if tensor is None or tensor.data_location == tensor.EXTERNAL:
        return None
    array = numpy_helper.to_array(tensor)
    return float(array.reshape(())) if array.size == 1 and array.dtype.kind == "f" else None


def _rois_shift(rois: str, producers, constants) -> RoisShift | None:
    """The scalar that a Sub takes off the rois on their way to the node, if one does."""
    for _ in range(len(_VALUE_PRESERVING) + 1):
        node = producers.get(rois)
        if node is None or not node.input:
            return None
        shift = _scalar(constants.get(node.input[1])) if node.op_type == "Sub" and len(node.input) == 2 else None
        if shift is not None:
            return RoisShift(value=shift, sub_node=node.name or node.output[0])
        if node.op_type not in _VALUE_PRESERVING:
            return None
        rois = node.input[0]
    return None
