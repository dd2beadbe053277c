"""Pyramid pooling against OpenVINO's ExperimentalDetectronROIFeatureExtractor-6 on the CPU, live.

The op is reached through OpenVINO's ONNX frontend (domain org.openvinotoolkit), as exported
Detectron / mmdetection models use it. Its RoIAlign is Caffe2's with `aligned` as a half-pixel
offset and the 1-pixel minimum size kept in both modes.
"""

import numpy as np
import pytest

from roialign_cli.presets import resolve
from roialign_cli.pyramid import pool_pyramid

ov = pytest.importorskip("openvino", reason="live checks need openvino")
onnx = pytest.importorskip("onnx")

STRIDES = (4, 8, 16, 32)


def extractor(boxes, maps, aligned: bool, sampling_ratio: int, output_size: int, tmp_path):
    from onnx import TensorProto, helper

    names = ["rois"] + [f"p{i}" for i in range(len(maps))]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(a.shape)) for n, a in zip(names, [boxes, *maps])]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("features", "rois_out")]
    node = helper.make_node(
        "ExperimentalDetectronROIFeatureExtractor",
        names,
        ["features", "rois_out"],
        domain="org.openvinotoolkit",
        output_size=output_size,
        sampling_ratio=sampling_ratio,
        pyramid_scales=list(STRIDES),
        aligned=int(aligned),
    )
    model = helper.make_model(
        helper.make_graph([node], "extractor", inputs, outputs),
        opset_imports=[helper.make_opsetid("", 11), helper.make_opsetid("org.openvinotoolkit", 1)],
    )
    path = tmp_path / "extractor.onnx"
    onnx.save(model, path)
    core = ov.Core()
    return core.compile_model(core.read_model(str(path)), "CPU")([boxes, *maps])[0]


def inputs(rng):
    width, height = 256, 160
    maps = [rng.standard_normal((1, 3, -(-height // s), -(-width // s))).astype(np.float32) for s in STRIDES]
    xy = rng.uniform(0, 220, (60, 2))
    boxes = np.concatenate([xy, xy + np.exp(rng.uniform(np.log(2), np.log(600), (60, 2)))], axis=1)
    boxes[:6] = [
        [10, 10, 10, 50],  # area 0: no level, zeros
        [0, 0, 112, 112],
        [0, 0, 224, 224],
        [5, 5, 453, 453],  # on the level boundaries
        [30, 30, 31, 30.5],  # under a feature pixel: the minimum size 1 applies
        [40, 40, 600, 700],
    ]  # larger than the image
    return maps, boxes.astype(np.float32)


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [0, 2])
def test_matches_experimental_detectron_roi_feature_extractor(rng, tmp_path, aligned, sampling_ratio):
    maps, boxes = inputs(rng)
    expected = extractor(boxes, maps, aligned, sampling_ratio, 7, tmp_path)
    convention = resolve("caffe2", sampling_ratio=sampling_ratio).with_(sample_offset=0.5 if aligned else 0.0)
    rois = np.concatenate([np.zeros((len(boxes), 1), np.float32), boxes], axis=1)
    result = pool_pyramid(
        maps,
        rois,
        7,
        convention,
        mapper="openvino-experimental-detectron",
        spatial_scales=[1 / s for s in STRIDES],
        backend="numpy",
    )
    assert result.levels[0] == -1 and not expected[0].any()
    np.testing.assert_allclose(result.output, expected, rtol=0, atol=1e-5)
