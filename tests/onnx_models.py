"""Small ONNX models with RoiAlign nodes, built with onnx.helper, and feeds for them.

Shared by the `roialign onnx` tests, the OpenVINO fixture script and the README example.
"""

from __future__ import annotations

import numpy as np

FEATURES = (2, 3, 12, 14)  # N, C, H, W of the map the RoiAlign nodes pool
SCALE = 0.5


def _onnx():
    import onnx

    return onnx


def roialign_model(opset: int = 16, *, conv: bool = False, second: dict | None = None, **attributes):
    """X [N,C,H,W], rois [K,4], batch_indices [K] -> RoiAlign (-> Y); `conv` puts a 1x1 Conv (weights
    in the file) between X and the node, so that its features are an intermediate; `second` adds another
    RoiAlign node with these attributes, on the same inputs, as output Y2."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    nodes, initializers, features = [], [], "X"
    if conv:
        c = FEATURES[1]
        weights = np.eye(c, dtype=np.float32)[::-1].reshape(c, c, 1, 1) * 2.0  # channels reversed, doubled
        initializers.append(numpy_helper.from_array(weights, "conv_w"))
        nodes.append(helper.make_node("Conv", ["X", "conv_w"], ["features"], name="conv"))
        features = "features"
    nodes.append(
        helper.make_node("RoiAlign", [features, "rois", "batch_indices"], ["Y"], name="roi_align", **attributes)
    )
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
    if second is not None:
        nodes.append(
            helper.make_node("RoiAlign", [features, "rois", "batch_indices"], ["Y2"], name="roi_align_2", **second)
        )
        outputs.append(helper.make_tensor_value_info("Y2", TensorProto.FLOAT, None))
    inputs = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, list(FEATURES)),
        helper.make_tensor_value_info("rois", TensorProto.FLOAT, ["K", 4]),
        helper.make_tensor_value_info("batch_indices", TensorProto.INT64, ["K"]),
    ]
    graph = helper.make_graph(nodes, "roi_align_model", inputs, outputs, initializer=initializers)
    return _model(onnx, graph, opset)


def one_node_model(node, opset: int = 16):
    """A model of one RoiAlign `node` reading X, rois and batch_indices (any shapes) into Y."""
    onnx = _onnx()
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("rois", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("batch_indices", TensorProto.INT64, None),
    ]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
    return _model(onnx, helper.make_graph([node], "roi_align", inputs, outputs), opset)


def torchvision_opset11_model(spatial_scale: float = SCALE, **attributes):
    """What torchvision's old opset-11 export wrote for roi_align(aligned=True): rois [K,5] split by Gather
    into batch indices (Cast to int64) and boxes, the boxes shifted by Sub(0.5 / spatial_scale)."""
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    constant = helper.make_node  # Constant nodes, as torch.onnx writes them
    nodes = [
        constant("Constant", [], ["batch_column"], value=numpy_helper.from_array(np.array([0], np.int64))),
        constant("Constant", [], ["box_columns"], value=numpy_helper.from_array(np.array([1, 2, 3, 4], np.int64))),
        constant(
            "Constant", [], ["half_pixel"], value=numpy_helper.from_array(np.array(0.5 / spatial_scale, np.float32))
        ),
        helper.make_node("Gather", ["rois", "batch_column"], ["batch_2d"], axis=1),
        helper.make_node("Squeeze", ["batch_2d"], ["batch_float"], axes=[1]),
        helper.make_node("Cast", ["batch_float"], ["batch_indices"], to=TensorProto.INT64),
        helper.make_node("Gather", ["rois", "box_columns"], ["boxes"], axis=1),
        helper.make_node("Sub", ["boxes", "half_pixel"], ["boxes_aligned"], name="aligned_shift"),
        helper.make_node(
            "RoiAlign",
            ["X", "boxes_aligned", "batch_indices"],
            ["Y"],
            name="roi_align",
            spatial_scale=spatial_scale,
            **attributes,
        ),
    ]
    inputs = [
        helper.make_tensor_value_info("X", TensorProto.FLOAT, list(FEATURES)),
        helper.make_tensor_value_info("rois", TensorProto.FLOAT, ["K", 5]),
    ]
    outputs = [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
    return _model(onnx, helper.make_graph(nodes, "torchvision_export", inputs, outputs), 11)


def custom_op_model(op_type: str, domain: str, **attributes):
    """A model with one custom RoIAlign node (mmcv's MMCVRoiAlign takes rois [K,5]; ROIAlign_TRT three inputs)."""
    onnx = _onnx()
    from onnx import TensorProto, helper

    names = ["X", "rois"] if op_type.startswith("MMCV") else ["X", "rois", "batch_indices"]
    node = helper.make_node(op_type, names, ["Y"], name="custom_roi_align", domain=domain, **attributes)
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names]
    graph = helper.make_graph([node], "custom", inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = _model(onnx, graph, 16)
    model.opset_import.append(helper.make_opsetid(domain, 1))
    return model


def _model(onnx, graph, opset: int):
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    model.ir_version = 8  # readable by every onnxruntime that implements opset 16
    return model


def save(model, path) -> str:
    _onnx().save(model, str(path))
    return str(path)


def boxes(seed: int = 3) -> np.ndarray:
    """[K, 5] rois in input pixels (x SCALE = feature pixels): large, small, sub-pixel, partly outside."""
    rng = np.random.default_rng(seed)
    k = 12
    x1, y1 = rng.uniform(-4, 22, k), rng.uniform(-4, 18, k)
    rois = np.stack(
        [rng.integers(0, FEATURES[0], k), x1, y1, x1 + rng.uniform(1, 20, k), y1 + rng.uniform(1, 16, k)], axis=1
    )
    special = [[0, 0, 0, 27, 23], [1, 10, 12, 10.6, 12.4], [0, 20, 4, 20, 4], [1, 24, 20, 34, 30]]
    return np.concatenate([rois, special]).astype(np.float32)


def feeds(seed: int = 3, *, rois5: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(FEATURES).astype(np.float32)
    r = boxes(seed)
    if rois5:
        return {"X": x, "rois": r}
    return {"X": x, "rois": np.ascontiguousarray(r[:, 1:]), "batch_indices": r[:, 0].astype(np.int64)}


# Attribute sets of the OpenVINO fixture (tests/fixtures/make_onnx_openvino.py): (name, opset, attributes).
OPENVINO_CASES = [
    ("opset10_sr_absent", 10, {}),
    ("opset10_sr0", 10, {"sampling_ratio": 0}),
    ("opset10_max_sr2", 10, {"mode": "max", "sampling_ratio": 2}),
    ("opset16_absent", 16, {}),
    ("opset16_output_half_pixel_sr0", 16, {"coordinate_transformation_mode": "output_half_pixel", "sampling_ratio": 0}),
    (
        "opset16_half_pixel_max_sr2",
        16,
        {"coordinate_transformation_mode": "half_pixel", "mode": "max", "sampling_ratio": 2},
    ),
    ("opset16_max_sr_absent", 16, {"mode": "max"}),
    ("opset22_sr0", 22, {"sampling_ratio": 0}),
]
OPENVINO_GEOMETRY = {"output_height": 3, "output_width": 2, "spatial_scale": SCALE}


def write_example(directory) -> None:
    """The README's example: a detector head at opset 16 (a Conv, then RoiAlign with sampling_ratio and the
    coordinate mode left out, as exporters often write it), and feeds for it."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    save(
        roialign_model(16, conv=True, output_height=7, output_width=7, spatial_scale=SCALE), out / "detector_head.onnx"
    )
    np.savez(out / "feeds.npz", **feeds())


if __name__ == "__main__":
    import sys

    write_example(sys.argv[1] if len(sys.argv) > 1 else "onnx-example")
