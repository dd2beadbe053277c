"""`roialign onnx MODEL`: the readings of RoiAlign nodes per runtime, their disagreements and traps.

The rules come from the importers' sources (named in roialign_cli/onnx_reading.py); the readings
are checked here on models built with onnx.helper, and live against onnxruntime, the ONNX
reference and OpenVINO in test_onnx_run.py.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnx")

import onnx_models as models

ALL_RUNTIMES = ["onnx", "onnxruntime", "tensorrt", "openvino"]


def read(cli, tmp_path, model, *extra):
    path = models.save(model, tmp_path / "model.onnx")
    result = cli("onnx", path, "--json", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)


def runtime(node, name):
    return node["runtimes"][name]


def trap_keys(node):
    return [t["key"] for t in node["traps"]]


@pytest.mark.parametrize("version", [10, 16, 22])
def test_spec_defaults_are_the_installed_onnx_schemas(version):
    import onnx
    from onnx import helper

    from roialign_cli.onnx_reading import CTM, SPEC_DEFAULTS

    schema = onnx.defs.get_schema("RoiAlign", version)
    defaults = {name: helper.get_attribute_value(a.default_value) for name, a in schema.attributes.items()}
    expected = {**SPEC_DEFAULTS, **({CTM: "half_pixel"} if version >= 16 else {})}
    assert {k: v.decode() if isinstance(v, bytes) else v for k, v in defaults.items()} == expected


def test_opset_10_without_sampling_ratio(cli, tmp_path):
    code, payload = read(cli, tmp_path, models.roialign_model(10, output_height=3, output_width=2, spatial_scale=0.5))
    (node,) = payload["nodes"]
    assert node["opset"] == 10 and node["op_version"] == 10
    assert node["written"] == {"output_height": 3, "output_width": 2, "spatial_scale": 0.5}
    assert node["attributes"] == {
        "mode": "avg",
        "output_height": 3,
        "output_width": 2,
        "sampling_ratio": 0,
        "spatial_scale": 0.5,
    }
    assert list(node["runtimes"]) == ALL_RUNTIMES
    # ONNX and onnxruntime fill in 0 (adaptive); onnx-tensorrt and OpenVINO's importer 1
    assert [runtime(node, r)["sampling_ratio"] for r in ALL_RUNTIMES] == [0, 0, 1, 1]
    assert runtime(node, "onnxruntime")["options"] == {"coordinate_transformation_mode": "output_half_pixel"}
    assert runtime(node, "tensorrt")["options"] == {"coordinate_transformation_mode": "output_half_pixel"}
    assert runtime(node, "openvino")["options"] == {"aligned_mode": "asymmetric"}
    assert node["disagreements"] == ["sampling_ratio"]
    assert trap_keys(node) == ["omitted-sampling-ratio-is-1"]
    assert "sampling_ratio explicitly" in node["traps"][0]["fix"]
    assert code == 1


def test_every_runtime_names_its_source_and_a_pool_command(cli, tmp_path):
    _, payload = read(cli, tmp_path, models.roialign_model(16, sampling_ratio=2, spatial_scale=0.25))
    (node,) = payload["nodes"]
    sources = {r: runtime(node, r)["source"] for r in ALL_RUNTIMES}
    assert "onnx/onnx onnx/defs/object_detection/defs.cc" in sources["onnx"]
    assert "microsoft/onnxruntime" in sources["onnxruntime"] and "roialign" in sources["onnxruntime"]
    assert "onnx/onnx-tensorrt" in sources["tensorrt"]
    assert "openvinotoolkit/openvino src/frontends/onnx/frontend/src/op/roi_align.cpp" in sources["openvino"]
    command = runtime(node, "openvino")["command"]
    assert command.startswith("roialign pool FEATURES.npy ROIS.npy --preset openvino-half-pixel")
    assert "--option aligned_mode=half_pixel_for_nn" in command and "--sampling-ratio 2" in command
    assert "--spatial-scale 0.25" in command and "--output-size 1x1" in command
    assert len(runtime(node, "tensorrt")["switches"]) >= 14


def test_opset_16_written_in_full_agrees_everywhere(cli, tmp_path):
    model = models.roialign_model(
        16,
        coordinate_transformation_mode="half_pixel",
        sampling_ratio=2,
        mode="avg",
        output_height=2,
        output_width=2,
        spatial_scale=0.5,
    )
    code, payload = read(cli, tmp_path, model)
    (node,) = payload["nodes"]
    assert node["disagreements"] == [] and node["traps"] == []
    assert runtime(node, "openvino")["options"] == {"aligned_mode": "half_pixel_for_nn"}
    assert {runtime(node, r)["switches"]["sample_offset"] for r in ALL_RUNTIMES} == {0.5}
    assert code == 0


def test_opset_16_default_coordinate_mode_is_half_pixel_everywhere(cli, tmp_path):
    _, payload = read(cli, tmp_path, models.roialign_model(16, sampling_ratio=0))
    (node,) = payload["nodes"]
    assert node["attributes"]["coordinate_transformation_mode"] == "half_pixel"
    assert runtime(node, "tensorrt")["options"] == {"coordinate_transformation_mode": "half_pixel"}
    assert "onnx-opset-16-default-half-pixel" in trap_keys(node)
    # adaptive half-pixel sampling: a zero-size box has no samples, and ROIAlign_TRT gives NaN there
    assert node["disagreements"] == ["empty_value"] and "empty-grid-nan" in trap_keys(node)


def test_output_half_pixel_at_opset_16(cli, tmp_path):
    model = models.roialign_model(16, coordinate_transformation_mode="output_half_pixel", sampling_ratio=0)
    code, payload = read(cli, tmp_path, model)
    (node,) = payload["nodes"]
    assert runtime(node, "openvino")["options"] == {"aligned_mode": "asymmetric"}
    assert {runtime(node, r)["switches"]["min_size"] for r in ALL_RUNTIMES} == {1.0}
    # a minimum roi size of 1 keeps every adaptive grid non-empty: TensorRT's NaN cannot show
    assert node["disagreements"] == [] and code == 0


def test_max_mode_disagrees_on_the_kind_of_max(cli, tmp_path):
    _, payload = read(cli, tmp_path, models.roialign_model(16, mode="max", sampling_ratio=2))
    (node,) = payload["nodes"]
    pools = {r: runtime(node, r)["switches"]["pooling"] for r in ALL_RUNTIMES}
    assert pools == {"onnx": "corner-max", "onnxruntime": "corner-max", "tensorrt": "corner-max", "openvino": "max"}
    assert runtime(node, "openvino")["preset"] == "openvino-max"
    assert runtime(node, "openvino")["switches"]["max_floor"] == 0.0
    assert node["disagreements"] == ["pooling", "max_floor"]
    assert {"onnx-max-is-corner-max", "openvino-max-floored-at-0"} <= set(trap_keys(node))


def test_coordinate_mode_written_at_opset_10(cli, tmp_path):
    _, payload = read(
        cli, tmp_path, models.roialign_model(10, coordinate_transformation_mode="half_pixel", sampling_ratio=2)
    )
    (node,) = payload["nodes"]
    assert "refuses the model" in runtime(node, "onnxruntime")["unavailable"]  # onnxruntime: INVALID_GRAPH
    assert runtime(node, "tensorrt")["options"] == {"coordinate_transformation_mode": "output_half_pixel"}
    assert runtime(node, "openvino")["options"] == {"aligned_mode": "asymmetric"}
    assert any("not an attribute of RoiAlign-10" in n for n in node["notes"])


def test_opset_22_is_not_run_by_onnxruntime(cli, tmp_path):
    _, payload = read(cli, tmp_path, models.roialign_model(22, sampling_ratio=1))
    (node,) = payload["nodes"]
    assert node["op_version"] == 22
    assert runtime(node, "onnxruntime")["preset"] is None
    assert "RoiAlign-22" in runtime(node, "onnxruntime")["unavailable"]
    assert runtime(node, "tensorrt")["preset"] == "tensorrt"


def test_opset_newer_than_the_rules_reads_through_roialign_22(cli, tmp_path):
    _, payload = read(cli, tmp_path, models.roialign_model(30, sampling_ratio=1))
    (node,) = payload["nodes"]
    assert node["op_version"] == 22 and any("newer than the rules" in n for n in node["notes"])


def test_torchvision_opset11_export_shift_is_found(cli, tmp_path):
    _, payload = read(
        cli, tmp_path, models.torchvision_opset11_model(0.25, sampling_ratio=0, output_height=2, output_width=2)
    )
    (node,) = payload["nodes"]
    assert node["rois_shift"] == {"value": 2.0, "sub_node": "aligned_shift"}  # 0.5 / 0.25
    assert "onnx-rois-shifted-before-roialign" in trap_keys(node)
    assert "mmcv-onnx-double-half-pixel" not in trap_keys(node)  # opset 11 reads output_half_pixel: one shift only
    # on the rois before the Sub: half a feature pixel (2.0 x 0.25) with RoiAlign-10's 1-pixel minimum size
    unshifted = runtime(node, "onnxruntime")["switches_on_unshifted_rois"]
    assert unshifted["sample_offset"] == 0.5 and unshifted["min_size"] == 1.0


def test_shift_at_opset_16_doubles_the_half_pixel(cli, tmp_path):
    model = models.torchvision_opset11_model(0.5, sampling_ratio=2)
    model.opset_import[0].version = 16  # the same graph, re-exported without writing the coordinate mode
    _, payload = read(cli, tmp_path, model)
    (node,) = payload["nodes"]
    assert "mmcv-onnx-double-half-pixel" in trap_keys(node)
    assert runtime(node, "tensorrt")["switches_on_unshifted_rois"]["sample_offset"] == 1.0


def test_two_nodes_are_read_apart(cli, tmp_path):
    model = models.roialign_model(16, conv=True, sampling_ratio=2, second={"mode": "max", "sampling_ratio": 1})
    _, payload = read(cli, tmp_path, model)
    first, second = payload["nodes"]
    assert (first["name"], second["name"]) == ("roi_align", "roi_align_2")
    assert first["inputs"] == ["features", "rois", "batch_indices"]
    assert first["disagreements"] == [] and "pooling" in second["disagreements"]


def test_mmcv_custom_op(cli, tmp_path):
    model = models.custom_op_model(
        "MMCVRoiAlign",
        "mmcv",
        output_height=7,
        output_width=7,
        spatial_scale=0.25,
        sampling_ratio=2,
        mode="avg",
        aligned=0,
    )
    _, payload = read(cli, tmp_path, model)
    (node,) = payload["nodes"]
    assert node["domain"] == "mmcv" and node["opset"] == 1
    assert runtime(node, "onnx")["preset"] is None and runtime(node, "openvino")["preset"] is None
    mmcv = runtime(node, "onnxruntime")
    assert mmcv["preset"] == "mmcv" and mmcv["aligned"] is False and "--no-aligned" in mmcv["command"]
    assert mmcv["switches"]["sample_offset"] == 0.0 and mmcv["switches"]["min_size"] == 1.0
    assert "open-mmlab/mmcv mmcv/ops/roi_align.py" in mmcv["source"]


def test_tensorrt_plugin_node_reads_its_integer_fields(cli, tmp_path):
    model = models.custom_op_model(
        "ROIAlign_TRT",
        "",
        coordinate_transformation_mode=0,
        mode=0,
        output_height=2,
        output_width=3,
        sampling_ratio=2,
        spatial_scale=0.5,
    )
    _, payload = read(cli, tmp_path, model)
    (node,) = payload["nodes"]
    trt = runtime(node, "tensorrt")
    assert trt["options"] == {"coordinate_transformation_mode": "output_half_pixel"} and trt["mode"] == "max"
    assert [r for r in ALL_RUNTIMES if runtime(node, r)["preset"]] == ["tensorrt"]
    assert "tensorrt-plugin-node" in trap_keys(node)


def test_a_model_without_roialign_says_so(cli, tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = models.save(helper.make_model(graph), tmp_path / "relu.onnx")
    result = cli("onnx", path)
    assert result.exit_code == 0 and "no RoiAlign node" in " ".join(result.stdout.split())
    assert json.loads(cli("onnx", path, "--json").stdout)["nodes"] == []


def test_human_report_names_rules_commands_and_fixes(cli, tmp_path):
    path = models.save(models.roialign_model(10, spatial_scale=0.5), tmp_path / "m.onnx")
    result = cli("onnx", path)
    assert result.exit_code == 1
    text = " ".join(result.stdout.split())
    assert "rule: onnx/onnx-tensorrt onnxOpImporters.cpp" in text
    assert "roialign pool FEATURES.npy ROIS.npy --preset tensorrt" in text
    assert "trap omitted-sampling-ratio-is-1" in text and "fix: write sampling_ratio explicitly" in text
