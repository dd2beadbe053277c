"""What each runtime computes for an ONNX RoiAlign node: the reading rules, as data, with their sources.

Every rule was read in the runtime's own importer or kernel (named in `source`) and is checked
live against onnxruntime where it can be (tests/test_onnx_*.py). A rule turns a node's attributes
into one of the presets (`presets.py`) with its options, mode and sampling ratio; the
disagreements between runtimes are the switches on which those conventions differ.
Pure Python: the node comes from `onnx_model`, which does the reading of the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import presets
from .conventions import Convention, differences, format_value
from .onnx_model import RoiAlignNode

RUNTIMES = ("onnx", "onnxruntime", "tensorrt", "openvino")
# RoiAlign's versions in the ONNX standard; a model's opset picks the newest one not above it.
OP_VERSIONS = (10, 16, 22)
ONNX_SPEC_SOURCE = "onnx/onnx onnx/defs/object_detection/defs.cc (RoiAlign-10, -16, -22)"
# What an absent attribute is, per the ONNX spec (identical in RoiAlign-10, -16 and -22, except that
# coordinate_transformation_mode only exists from 16 on); the runtimes' own fill-ins are in the rules.
SPEC_DEFAULTS = {"mode": "avg", "output_height": 1, "output_width": 1, "sampling_ratio": 0, "spatial_scale": 1.0}
CTM = "coordinate_transformation_mode"


@dataclass(frozen=True)
class StandardRule:
    """How one runtime reads the standard RoiAlign node."""

    runtime: str
    source: str
    op_versions: tuple[int, ...]  # the RoiAlign versions it implements
    before_16: str  # coordinate reading below opset 16 (RoiAlign-10 has no such attribute)
    absent: str  # opset >= 16, attribute absent
    written: Mapping[str, str]  # opset >= 16, attribute written -> reading
    otherwise: str  # any other written value
    sampling_ratio_absent: int
    preset_by_mode: Mapping[str, str]
    option: str  # the preset option that carries the coordinate reading
    missing_version: str = ""  # why an op version outside op_versions cannot run
    refuses_ctm_before_16: bool = False  # the model is refused when RoiAlign-10 carries the opset-16 attribute

    def coordinate_mode(self, op_version: int, written: str | None) -> str:
        if op_version < 16:
            return self.before_16
        if written is None:
            return self.absent
        return self.written.get(written, self.otherwise)


_ONNX_MODES = {"half_pixel": "half_pixel", "output_half_pixel": "output_half_pixel"}

STANDARD_RULES = (
    StandardRule(
        runtime="onnx",
        source=ONNX_SPEC_SOURCE + "; onnx/onnx onnx/reference/ops/op_roi_align.py (max is corner-max)",
        op_versions=OP_VERSIONS,
        before_16="output_half_pixel",
        absent="half_pixel",
        written=_ONNX_MODES,
        otherwise="output_half_pixel",  # not a valid value; the reference reads anything but half_pixel so
        sampling_ratio_absent=0,
        preset_by_mode={"avg": "onnxruntime", "max": "onnxruntime"},
        option=CTM,
    ),
    StandardRule(
        runtime="onnxruntime",
        # RoiAlignBase: half_pixel_ = (mode == "half_pixel"); schema defaults are filled in before the kernel
        source="microsoft/onnxruntime onnxruntime/core/providers/cpu/object_detection/roialign.h, roialign.cc",
        op_versions=(10, 16),
        before_16="output_half_pixel",
        absent="half_pixel",
        written=_ONNX_MODES,
        otherwise="output_half_pixel",
        sampling_ratio_absent=0,
        preset_by_mode={"avg": "onnxruntime", "max": "onnxruntime"},
        option=CTM,
        missing_version="onnxruntime's CPU provider has no RoiAlign-22 kernel (it refuses the model)",
        refuses_ctm_before_16=True,  # checked live: INVALID_GRAPH, the attribute is not in RoiAlign-10's schema
    ),
    StandardRule(
        runtime="tensorrt",
        # importRoiAlign: opset < 16 -> 0; else attrs.get(ctm, "half_pixel") == "half_pixel" ? 1 : 0;
        # sampling_ratio defaults to 1; mode == "avg" ? avg : max; builds the ROIAlign_TRT plugin
        source="onnx/onnx-tensorrt onnxOpImporters.cpp (RoiAlign -> ROIAlign_TRT); "
        "NVIDIA/TensorRT plugin/roiAlignPlugin/roiAlignKernel.cu",
        op_versions=OP_VERSIONS,
        before_16="output_half_pixel",
        absent="half_pixel",
        written={"half_pixel": "half_pixel"},
        otherwise="output_half_pixel",
        sampling_ratio_absent=1,
        preset_by_mode={"avg": "tensorrt", "max": "tensorrt"},
        option=CTM,
    ),
    StandardRule(
        runtime="openvino",
        # opset_1 (opsets 1-15): ASYMMETRIC; opset_16: HALF_PIXEL_FOR_NN unless "output_half_pixel";
        # sampling_ratio defaults to 1 in both; ROIAlign-9 max starts its running max at 0
        source="openvinotoolkit/openvino src/frontends/onnx/frontend/src/op/roi_align.cpp; "
        "src/core/reference/include/openvino/reference/roi_align.hpp",
        op_versions=OP_VERSIONS,
        before_16="asymmetric",
        absent="half_pixel_for_nn",
        written={"output_half_pixel": "asymmetric"},
        otherwise="half_pixel_for_nn",
        sampling_ratio_absent=1,
        preset_by_mode={"avg": "openvino-half-pixel", "max": "openvino-max"},
        option="aligned_mode",
    ),
)


@dataclass(frozen=True)
class CustomRule:
    """How the runtimes that run a custom op read it; the others do not run it at all."""

    op_kind: str  # RoiAlignNode.kind
    runtimes: Mapping[str, str]  # runtime -> how it runs the op (library or plugin)
    source: str
    preset: str
    defaults: Mapping[str, object]  # the op's own defaults for absent attributes
    # attribute -> {written value -> mode or coordinate reading}
    mode_values: Mapping[object, str] = field(default_factory=dict)
    coordinate_values: Mapping[object, str] = field(default_factory=dict)


CUSTOM_RULES = (
    CustomRule(
        op_kind="mmcv",
        runtimes={
            "onnxruntime": "with mmcv's custom-op library "
            "(open-mmlab/mmcv mmcv/ops/csrc/onnxruntime/cpu/roi_align.cpp)",
            "tensorrt": "with mmdeploy's MMCVRoiAlign plugin (open-mmlab/mmdeploy "
            "csrc/mmdeploy/backend_ops/tensorrt/roi_align/trt_roi_align.cpp)",
        },
        source="open-mmlab/mmcv mmcv/ops/roi_align.py (symbolic writes mmcv::MMCVRoiAlign with output_height, "
        "output_width, spatial_scale, sampling_ratio, mode, aligned)",
        preset="mmcv",
        # mmdeploy's plugin creator: 7x7, scale 1, adaptive, aligned; mode has no default there (mmcv's is avg)
        defaults={
            "mode": "avg",
            "aligned": 1,
            "sampling_ratio": 0,
            "spatial_scale": 1.0,
            "output_height": 7,
            "output_width": 7,
        },
        mode_values={"avg": "avg", "max": "max"},
        coordinate_values={1: "aligned", 0: "legacy"},
    ),
    CustomRule(
        op_kind="tensorrt-plugin",
        runtimes={"tensorrt": "the ROIAlign_TRT plugin itself"},
        source="NVIDIA/TensorRT plugin/roiAlignPlugin/README.md (integer fields, defaults 1, 1, 1, 1, 0, 1.0: "
        "coordinate_transformation_mode 1 = half_pixel, mode 1 = avg and 0 = max, sampling_ratio 0 = adaptive)",
        preset="tensorrt",
        defaults={CTM: 1, "mode": 1, "sampling_ratio": 0, "spatial_scale": 1.0, "output_height": 1, "output_width": 1},
        mode_values={1: "avg", 0: "max"},
        coordinate_values={1: "half_pixel", 0: "output_half_pixel"},
    ),
)


@dataclass(frozen=True)
class Reading:
    """What one runtime computes for one node: a preset with options, or why it does not run the node."""

    runtime: str
    source: str
    preset: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    mode: str = "avg"
    sampling_ratio: int = 0
    aligned: bool | None = None  # mmcv's aligned attribute; None: the preset's own
    switches: Mapping[str, object] = field(default_factory=dict)  # set last, on top of the preset's
    assumed: tuple[str, ...] = ()  # what the runtime fills in for the attributes left out
    unavailable: str = ""

    @property
    def runs(self) -> bool:
        return self.preset is not None

    def convention(self) -> Convention:
        conv = presets.resolve(
            self.preset,
            aligned=self.aligned,
            sampling_ratio=self.sampling_ratio,
            mode=self.mode,
            options=dict(self.options),
        )
        return conv.with_(**self.switches)


@dataclass(frozen=True)
class TrapHit:
    key: str
    text: str
    fix: str


@dataclass(frozen=True)
class NodeReport:
    node: RoiAlignNode
    op_version: int | None
    resolved: Mapping[str, object]  # the attributes with the op's defaults filled in
    readings: tuple[Reading, ...] = ()
    disagreements: tuple[str, ...] = ()
    traps: tuple[TrapHit, ...] = ()
    notes: tuple[str, ...] = ()
    problem: str = ""  # set when nothing can be said about the node

    @property
    def output_size(self) -> tuple[int, int]:
        return int(self.resolved["output_height"]), int(self.resolved["output_width"])

    @property
    def spatial_scale(self) -> float:
        return float(self.resolved["spatial_scale"])

    def shifted_convention(self, reading: Reading) -> Convention | None:
        """The runtime's convention on the rois before the Sub that shifts them, if one does."""
        shift = self.node.rois_shift
        if shift is None:
            return None
        conv = reading.convention()
        return conv.with_(sample_offset=conv.sample_offset + shift.value * self.spatial_scale)


def op_version(opset: int | None) -> int | None:
    """The RoiAlign version a model's standard opset selects; None before opset 10 (no RoiAlign yet)."""
    if opset is None:
        return None
    known = [v for v in OP_VERSIONS if v <= opset]
    return known[-1] if known else None


def read_node(node: RoiAlignNode) -> NodeReport:
    if node.kind == "standard":
        return _read_standard(node)
    return _read_custom(node, next(r for r in CUSTOM_RULES if r.op_kind == node.kind))


def _read_standard(node: RoiAlignNode) -> NodeReport:
    version = op_version(node.opset)
    if version is None:
        return NodeReport(
            node,
            None,
            dict(node.written),
            problem=f"opset {node.opset} has no RoiAlign (it came with opset 10); the rules cover "
            f"RoiAlign-{', -'.join(map(str, OP_VERSIONS))}",
        )
    resolved = {**SPEC_DEFAULTS, **({CTM: "half_pixel"} if version >= 16 else {}), **node.written}
    if resolved["mode"] not in ("avg", "max"):
        return NodeReport(node, version, resolved, problem=f"mode {resolved['mode']!r} is neither avg nor max")
    notes = []
    if version < 16 and CTM in node.written:
        notes.append(
            f"{CTM} is not an attribute of RoiAlign-10: TensorRT and OpenVINO ignore it, onnxruntime "
            "refuses the model; export at opset 16 to use it"
        )
    if node.opset > OP_VERSIONS[-1]:
        notes.append(f"opset {node.opset} is newer than the rules (read through RoiAlign-22)")
    readings = tuple(_standard_reading(rule, node, version, resolved) for rule in STANDARD_RULES)
    return _finish(NodeReport(node, version, resolved, readings, notes=tuple(notes)))


def _standard_reading(rule: StandardRule, node: RoiAlignNode, version: int, resolved) -> Reading:
    if version not in rule.op_versions:
        return Reading(rule.runtime, rule.source, unavailable=rule.missing_version)
    if rule.refuses_ctm_before_16 and version < 16 and CTM in node.written:
        return Reading(rule.runtime, rule.source, unavailable=f"it refuses the model: RoiAlign-10 has no {CTM}")
    mode = rule.coordinate_mode(version, node.written.get(CTM) if version >= 16 else None)
    assumed = []
    if version >= 16 and CTM not in node.written:
        assumed.append(f"{CTM} absent: {mode}")
    sampling_ratio = int(node.written.get("sampling_ratio", rule.sampling_ratio_absent))
    if "sampling_ratio" not in node.written:
        assumed.append(f"sampling_ratio absent: {rule.sampling_ratio_absent}")
    pooling = resolved["mode"]
    return Reading(
        rule.runtime,
        rule.source,
        preset=rule.preset_by_mode[pooling],
        options={rule.option: mode},
        mode=pooling,
        sampling_ratio=sampling_ratio,
        switches={},
        assumed=tuple(assumed),
    )


def _read_custom(node: RoiAlignNode, rule: CustomRule) -> NodeReport:
    resolved = {**rule.defaults, **node.written}
    mode = rule.mode_values.get(resolved["mode"])
    coordinate = rule.coordinate_values.get(resolved.get("aligned", resolved.get(CTM)))
    if mode is None or coordinate is None:
        return NodeReport(node, node.opset, resolved, problem=f"{node.op_type} attributes out of range: {resolved}")
    assumed = tuple(f"{k} absent: {v}" for k, v in rule.defaults.items() if k not in node.written)
    readings = []
    for runtime in RUNTIMES:
        how = rule.runtimes.get(runtime)
        if how is None:
            readings.append(Reading(runtime, rule.source, unavailable=f"{node.op_type} is not an op it runs"))
            continue
        aligned = {"aligned": True, "legacy": False}.get(coordinate)
        options = {} if aligned is not None else {CTM: coordinate}
        readings.append(
            Reading(
                runtime,
                f"{rule.source}; {runtime} runs it {how}",
                preset=rule.preset,
                options=options,
                mode=mode,
                sampling_ratio=int(resolved["sampling_ratio"]),
                aligned=aligned,
                assumed=assumed,
            )
        )
    return _finish(NodeReport(node, node.opset, resolved, tuple(readings)))


def _finish(report: NodeReport) -> NodeReport:
    """Fill in the disagreements and the traps, which both follow from the readings."""
    from dataclasses import replace

    return replace(report, disagreements=tuple(disagreements(report.readings)), traps=tuple(_traps(report)))


def disagreements(readings) -> list[str]:
    """The switches on which the runtimes that run the node differ, in the convention's order."""
    conventions = [r.convention() for r in readings if r.runs]
    names: set[str] = set()
    for other in conventions[1:]:
        names.update(name for name, _, _ in differences(conventions[0], other))
    return [name for name in Convention().switches() if name in names and _can_matter(name, conventions)]


def _can_matter(name: str, conventions) -> bool:
    """Whether a switch that differs can change an output: some act only where another switch lets them."""
    if name == "sample_step":  # float32 rounding of sample points only: last bits, not a different reading
        return False
    if name == "empty_value":  # only a bin without samples shows it: adaptive sampling of a box that may be empty
        acting = [c for c in conventions if c.adaptive and (c.min_size is None or c.min_size <= 0)]
    elif name == "max_floor":
        acting = [c for c in conventions if c.pooling != "avg"]
    elif name == "fill_value":
        acting = [c for c in conventions if c.border == "fill"]
    else:
        return True
    return len({format_value(getattr(c, name)) for c in acting}) > 1


@dataclass(frozen=True)
class ModelTrap:
    """A trap that only a model shows; the others are the presets' own, cited by their keys."""

    key: str
    text: str


ROIS_SHIFTED = ModelTrap(
    "onnx-rois-shifted-before-roialign",
    "a Sub takes a constant off the rois before RoiAlign: torchvision's old opset-11 export (pytorch/vision "
    "torchvision/ops/_register_onnx_ops.py, until opset 16 was supported) and mmcv's export without custom ops "
    "emulate aligned=True this way by subtracting 0.5/spatial_scale; RoiAlign-10 still forces every roi to at "
    "least 1x1 feature pixels, so boxes smaller than that differ from aligned=True.",
)
TENSORRT_PLUGIN_ONLY = ModelTrap(
    "tensorrt-plugin-node",
    "ROIAlign_TRT is a TensorRT plugin written into the graph: only TensorRT runs the model.",
)


def _traps(report: NodeReport) -> list[TrapHit]:
    node, hits = report.node, []
    running = {r.runtime: r for r in report.readings if r.runs}
    standard = node.kind == "standard"
    if standard and "sampling_ratio" not in node.written:
        hits.append(
            _hit(
                "omitted-sampling-ratio-is-1",
                "write sampling_ratio explicitly: 0 keeps ONNX's adaptive sampling for every runtime, "
                "or a fixed value such as 2",
            )
        )
    if standard and report.resolved.get("mode") == "max":
        hits.append(
            _hit(
                "onnx-max-is-corner-max",
                "no attribute makes the max modes agree: export mode=avg, or check each runtime's output "
                "(--run shows by how much they differ)",
            )
        )
        hits.append(_hit("openvino-max-floored-at-0", "as above: OpenVINO's max is its own"))
    if standard and report.op_version and report.op_version >= 16 and CTM not in node.written:
        hits.append(
            _hit(
                "onnx-opset-16-default-half-pixel",
                f"write {CTM} explicitly: half_pixel for aligned=True models, output_half_pixel for aligned=False",
            )
        )
    nan = [name for name, r in running.items() if _empty_grid_is_nan(r.convention())]
    if nan:
        hits.append(
            _hit(
                "empty-grid-nan",
                f"{' and '.join(nan)} give NaN there: write a fixed sampling_ratio (such as 2), or keep boxes at "
                "least one sample wide",
            )
        )
    if node.rois_shift is not None:
        hits.extend(_shift_traps(report, running))
    if node.kind == "mmcv" and report.resolved.get("mode") == "max":
        hits.append(_hit("mmcv-cpu-max-starts-at-minus-10000", "use mmcv's CUDA build, or mode avg"))
    if node.kind == "tensorrt-plugin":
        hits.append(
            TrapHit(
                TENSORRT_PLUGIN_ONLY.key,
                TENSORRT_PLUGIN_ONLY.text,
                "export the standard RoiAlign (opset 16) to run the model elsewhere",
            )
        )
    return hits


def _empty_grid_is_nan(conv: Convention) -> bool:
    return conv.adaptive and conv.min_size is None and math.isnan(conv.empty_value)


def _shift_traps(report: NodeReport, running) -> list[TrapHit]:
    shift = report.node.rois_shift
    half_pixel = math.isclose(shift.value * report.spatial_scale, 0.5, rel_tol=1e-5)
    hits = [
        TrapHit(
            ROIS_SHIFTED.key,
            ROIS_SHIFTED.text,
            f"export at opset >= 16 with {CTM}=half_pixel and no Sub"
            + ("" if half_pixel else f" (this Sub takes {shift.value:g}, not 0.5/spatial_scale)"),
        )
    ]
    doubled = [r for r, reading in running.items() if reading.convention().sample_offset > 0]
    if doubled:
        hits.append(
            _hit(
                "mmcv-onnx-double-half-pixel",
                f"write {CTM}=output_half_pixel on this node (or drop the Sub); now "
                f"{', '.join(doubled)} shift the boxes again",
            )
        )
    return hits


def _hit(key: str, fix: str) -> TrapHit:
    """A preset's trap, by its key, with what to change in the export."""
    trap = next(t for name in presets.names() for t in presets.get(name).traps if t.key == key)
    return TrapHit(trap.key, trap.text, fix)


# The rois as they were before the Sub that shifts them: the model's own input, which --run does not capture.
UNSHIFTED_ROIS = "ROIS_BEFORE_SUB.npy"


def pool_command(report: NodeReport, reading: Reading, features: str, rois: str, *, shifted: bool = False) -> str:
    """The `roialign pool` call that computes what `reading` says (on the unshifted rois when `shifted`)."""
    ph, pw = report.output_size
    words = ["roialign pool", features, rois, "--preset", reading.preset]
    words += [f"--option {name}={value}" for name, value in reading.options.items()]
    if reading.aligned is not None:
        words.append("--aligned" if reading.aligned else "--no-aligned")
    words += [
        f"--output-size {ph}x{pw}",
        f"--spatial-scale {report.spatial_scale!r}",
        f"--sampling-ratio {reading.sampling_ratio}",
        f"--mode {reading.mode}",
    ]
    words += [f"--switch {name}={format_value(value)}" for name, value in reading.switches.items()]
    if shifted:
        words.append(f"--switch sample_offset={report.shifted_convention(reading).sample_offset!r}")
    return " ".join(words)


def describe(report: NodeReport, features: str = "FEATURES.npy", rois: str = "ROIS.npy") -> dict:
    """The node's reading as plain data (the `--json` shape); `features` and `rois` name the files in commands."""
    node = report.node
    runtimes = {}
    for reading in report.readings:
        entry = {"source": reading.source}
        if reading.runs:
            entry.update(
                preset=reading.preset,
                options=dict(reading.options),
                mode=reading.mode,
                sampling_ratio=reading.sampling_ratio,
                assumed=list(reading.assumed),
                switches=reading.convention().switches(),
                command=pool_command(report, reading, features, rois),
            )
            if node.rois_shift is not None:
                entry["switches_on_unshifted_rois"] = report.shifted_convention(reading).switches()
                entry["command_on_unshifted_rois"] = pool_command(
                    report, reading, features, UNSHIFTED_ROIS, shifted=True
                )
        else:
            entry.update(preset=None, unavailable=reading.unavailable)
        if reading.aligned is not None:
            entry["aligned"] = reading.aligned
        runtimes[reading.runtime] = entry
    shift = node.rois_shift
    return {
        "name": node.name,
        "op_type": node.op_type,
        "domain": node.domain,
        "opset": node.opset,
        "op_version": report.op_version,
        "inputs": list(node.inputs),
        "outputs": list(node.outputs),
        "written": dict(node.written),
        "attributes": dict(report.resolved),
        "rois_shift": None if shift is None else {"value": shift.value, "sub_node": shift.sub_node},
        "runtimes": runtimes,
        "disagreements": list(report.disagreements),
        "traps": [{"key": t.key, "text": t.text, "fix": t.fix} for t in report.traps],
        "notes": list(report.notes),
        "problem": report.problem or None,
    }
