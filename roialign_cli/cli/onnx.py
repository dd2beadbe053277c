"""`roialign onnx MODEL.onnx`: what onnxruntime, TensorRT and OpenVINO compute for each RoiAlign node."""

from __future__ import annotations

import click

from .common import UserError, console, print_json, reports_errors
from .options import backend_option, json_option

PLACEHOLDERS = ("FEATURES.npy", "ROIS.npy")


@click.command("onnx")
@click.argument("model", metavar="MODEL.onnx")
@click.option(
    "--run",
    "feeds",
    metavar="FEEDS.npz",
    help="Run the model in onnxruntime on these inputs (keyed by "
    "the model's input names) and pool each node's captured inputs under every runtime's reading.",
)
@click.option(
    "--save-captured",
    metavar="DIR",
    help="With --run: write each node's captured features, rois "
    "([K,5]) and onnxruntime output as .npy files here, for `roialign pool` and `roialign diff`.",
)
@backend_option()
@json_option("Print the readings as JSON on stdout.")
@reports_errors
def onnx_command(model, feeds, save_captured, backend, as_json):
    """What onnxruntime, TensorRT and OpenVINO compute for each RoiAlign node of MODEL.onnx.

    Every RoiAlign node (standard opsets 10, 16, 22; mmcv's MMCVRoiAlign; TensorRT's ROIAlign_TRT) is
    read as the ONNX spec, onnxruntime, TensorRT and OpenVINO read it: the roialign preset, options and
    switches that reproduce each, where the rule comes from, the switches on which they disagree and the
    traps that apply, with what to change in the export.

    The weights are not read (external data may be missing) unless --run needs them.
    Exit status: 0 when the runtimes agree on every node (and --run finds every runtime within `diff`'s
    tolerance of onnxruntime), 1 when they disagree, 2 on an error.
    """
    from ..onnx_model import find_nodes
    from ..onnx_reading import describe, read_node

    if save_captured and not feeds:
        raise UserError("--save-captured needs --run FEEDS.npz")
    found = find_nodes(model)
    reports = [read_node(node) for node in found.nodes]
    if reports and all(r.problem for r in reports):
        raise UserError(f"{model}: " + "; ".join(f"{r.node.label}: {r.problem}" for r in reports))
    measured, files = _run(model, feeds, save_captured, reports, backend) if feeds else ({}, {})
    nodes = []
    for report in reports:
        entry = describe(report, *files.get(report.node.index, PLACEHOLDERS))
        if report.node.index in measured:
            entry["run"] = measured[report.node.index]
        nodes.append(entry)
    payload = {"model": model, "opsets": dict(found.opsets), "nodes": nodes}
    if as_json:
        print_json(payload)
    else:
        _print(payload, console(stderr=False))
    click.get_current_context().exit(1 if _differs(nodes) else 0)


def _run(model, feeds, save_dir, reports, backend):
    """{node index: {runtime: error}} and {node index: (features path, rois path)} of the saved arrays."""
    from ..onnx_run import capture, errors_against_onnxruntime, save_captured

    captured = capture(model, feeds, reports)
    measured, files = {}, {}
    for report in reports:
        arrays = captured.get(report.node.index)
        if arrays is None or report.problem:
            continue
        errors = errors_against_onnxruntime(report, arrays, backend)
        measured[report.node.index] = {
            k: {"max_abs_error": v.max_abs_error, "verdict": v.verdict} for k, v in errors.items()
        }
        if save_dir:
            paths = save_captured(save_dir, report, arrays, [model, feeds])
            files[report.node.index] = (paths["features"], paths["rois"])
    return measured, files


def _differs(nodes) -> bool:
    measured = [v["verdict"] for n in nodes for v in n.get("run", {}).values()]
    return any(n["disagreements"] for n in nodes) or any(v != "match" for v in measured)


def _print(payload, out) -> None:
    from rich.markup import escape

    if not payload["nodes"]:
        out.print(f"{escape(payload['model'])}: no RoiAlign node (nor MMCVRoiAlign or ROIAlign_TRT)")
        return
    for node in payload["nodes"]:
        _print_node(node, out, escape)


def _print_node(node, out, escape) -> None:
    version = f", RoiAlign-{node['op_version']}" if node["op_type"] == "RoiAlign" and node["op_version"] else ""
    out.print(
        f"[bold]{escape(node['name'] or node['op_type'])}[/bold]: {node['op_type']}"
        f"{' (' + node['domain'] + ')' if node['domain'] else ''}, opset {node['opset']}{version}; "
        f"{escape(', '.join(node['inputs']))} -> {escape(', '.join(node['outputs']))}"
    )
    out.print(f"  written: {escape(_pairs(node['written']))}")
    out.print(f"  resolved: {escape(_pairs(node['attributes']))}")
    for line in node["notes"] + ([node["problem"]] if node["problem"] else []):
        out.print(f"  note: {escape(line)}")
    if node["rois_shift"]:
        shift = node["rois_shift"]
        pixels = shift["value"] * node["attributes"]["spatial_scale"]
        out.print(
            f"  rois: {escape(shift['sub_node'])} subtracts {shift['value']:g} from them before the node, "
            f"{pixels:g} feature pixels (0.5 is torchvision's and mmcv's aligned=True emulation)"
        )
    for runtime, entry in node["runtimes"].items():
        _print_runtime(runtime, entry, node.get("run", {}).get(runtime) if "run" in node else False, out, escape)
    _print_disagreements(node, out, escape)


def _print_runtime(runtime, entry, measured, out, escape) -> None:
    if entry["preset"] is None:
        out.print(f"  [bold]{runtime}[/bold]: does not run it: {escape(entry['unavailable'])}")
        return
    options = "".join(f", {k}={v}" for k, v in entry["options"].items())
    if "aligned" in entry:
        options += f", aligned={entry['aligned']}"
    run = "" if measured is False else f"; max |error| vs onnxruntime {_error(measured)}"
    out.print(
        f"  [bold]{runtime}[/bold]: preset {entry['preset']}{options}, sampling_ratio "
        f"{entry['sampling_ratio']}, {entry['mode']}{run}"
    )
    if entry["assumed"]:
        out.print(f"    {escape('; '.join(entry['assumed']))}")
    out.print(f"    rule: {escape(entry['source'])}")
    out.print(f"    {escape(entry['command'])}", soft_wrap=True)


def _error(measured) -> str:
    if measured is None:
        return "-"
    value = measured["max_abs_error"]
    return f"{'-' if value is None else format(value, '.3g')} ({measured['verdict']})"


def _print_disagreements(node, out, escape) -> None:
    from rich.table import Table

    from ..conventions import format_value

    running = {k: v for k, v in node["runtimes"].items() if v["preset"] is not None}
    if node["disagreements"]:
        table = Table(title="switches on which the runtimes disagree", title_justify="left")
        for column in ("switch", *running):
            table.add_column(column)
        for name in node["disagreements"]:
            table.add_row(name, *(format_value(entry["switches"][name]) for entry in running.values()))
        out.print(table)
    else:
        out.print(f"  the {len(running)} runtimes that run it agree on every switch")
    for trap in node["traps"]:
        out.print(f"  trap [bold]{trap['key']}[/bold]: {escape(trap['text'])}\n    fix: {escape(trap['fix'])}")


def _pairs(mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in mapping.items()) or "(none)"
