"""The ONNX project's own RoiAlign checks, against the `onnxruntime` preset (onnx is a dependency: no runtime needed).

- The node test cases onnx ships (`onnx.backend.test.case.node.roialign`: aligned false, aligned true, max
  mode), with their expected outputs, at the tolerance ONNX's backend runner uses (rtol 1e-3, atol 1e-7).
  Their inputs and outputs are printed to four decimals, so a rounded expectation differs from any exact
  implementation by up to about 1e-4: the cases are also checked against `onnx.reference`, the spec's
  executable reference, to 1e-6.
- `onnx.reference`'s RoiAlign on random one-node models (both coordinate modes, avg and max, sampling
  ratios 0..3, scales, boxes inside, across and outside the map, tiny and inverted), to 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
node_cases = pytest.importorskip("onnx.backend.test.case.node.roialign")
from onnx import helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from onnx_models import one_node_model  # noqa: E402
from roialign_cli import roi_align  # noqa: E402


def shipped_cases() -> list[tuple]:
    """(name, node, [X, rois, batch_indices], Y) of every RoiAlign case onnx ships, recorded from its exporters."""
    recorded = []
    expect = node_cases.expect
    node_cases.expect = lambda node, inputs, outputs, name, **_: recorded.append((name, node, inputs, outputs[0]))
    try:
        for name in sorted(dir(node_cases.RoiAlign)):
            if name.startswith("export"):
                getattr(node_cases.RoiAlign, name)()
    finally:
        node_cases.expect = expect
    return recorded


def attributes(node) -> dict:
    values = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in values.items()}


def ours(features, rois, batch_indices, attrs: dict) -> np.ndarray:
    """The node through roi_align with the onnxruntime preset, its attributes as ONNX's defaults fill them."""
    k5 = np.concatenate([batch_indices[:, None].astype(np.float64), rois.astype(np.float64)], axis=1)
    return roi_align(
        features,
        k5,
        (attrs.get("output_height", 1), attrs.get("output_width", 1)),
        attrs.get("spatial_scale", 1.0),
        attrs.get("sampling_ratio", 0),
        preset="onnxruntime",
        mode=attrs.get("mode", "avg"),
        options={"coordinate_transformation_mode": attrs.get("coordinate_transformation_mode", "half_pixel")},
        backend="numpy",
    )


def reference(node, features, rois, batch_indices) -> np.ndarray:
    feeds = {"X": features, "rois": rois.astype(np.float32), "batch_indices": batch_indices.astype(np.int64)}
    return ReferenceEvaluator(one_node_model(node)).run(None, feeds)[0]


CASES = shipped_cases()


def test_onnx_ships_its_three_roialign_cases():
    names = {name for name, *_ in CASES}
    assert {"test_roialign_aligned_false", "test_roialign_aligned_true", "test_roialign_mode_max"} <= names


@pytest.mark.parametrize("name, node, inputs, expected", CASES, ids=[c[0] for c in CASES])
def test_onnx_node_case(name, node, inputs, expected):
    features, rois, batch_indices = inputs
    got = ours(features, rois, batch_indices, attributes(node))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(got, reference(node, features, rois, batch_indices), rtol=0, atol=1e-6)


def random_node_case(rng):
    attrs = {
        "output_height": int(rng.integers(1, 6)),
        "output_width": int(rng.integers(1, 6)),
        "sampling_ratio": int(rng.integers(0, 4)),
        "spatial_scale": float(rng.choice([1.0, 0.5, 0.25, 0.125])),
        "mode": str(rng.choice(["avg", "max"])),
        "coordinate_transformation_mode": str(rng.choice(["half_pixel", "output_half_pixel"])),
    }
    n, c, h, w = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 12)), int(rng.integers(1, 12))
    features = rng.standard_normal((n, c, h, w)).astype(np.float32)
    k = int(rng.integers(1, 6))
    extent = max(h, w) / attrs["spatial_scale"]
    x1, y1 = rng.uniform(-0.3 * extent, extent, k), rng.uniform(-0.3 * extent, extent, k)
    # sizes from a fraction of a pixel to past the map; now and then inverted (onnxruntime accepts them too)
    x2 = x1 + rng.uniform(-0.1, 1.2, k) * extent
    y2 = y1 + rng.uniform(-0.1, 1.2, k) * extent
    rois = np.round(np.stack([x1, y1, x2, y2], axis=1), 2).astype(np.float32)
    batch_indices = rng.integers(0, n, k)
    return attrs, features, rois, batch_indices


@pytest.mark.parametrize("seed", range(60))
def test_random_nodes_against_the_onnx_reference(seed):
    attrs, features, rois, batch_indices = random_node_case(np.random.default_rng(9000 + seed))
    node = helper.make_node("RoiAlign", ["X", "rois", "batch_indices"], ["Y"], **attrs)
    expected = reference(node, features, rois, batch_indices)
    got = ours(features, rois, batch_indices, attrs)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=str(attrs))
