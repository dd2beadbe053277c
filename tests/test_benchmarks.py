"""benchmarks/: the peers bench.py times compute what roialign computes, and the engine profile
times the engine's phases without changing it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench
import engine_profile

from roialign_cli.engines import numpy_engine

SMALL = [
    bench.Workload(90, "aligned sr 2", (2, 8, 20, 30), 25, 7, 1 / 4, 2, True),
    bench.Workload(91, "adaptive", (2, 8, 20, 30), 25, 5, 1 / 8, 0, False),
]


def small_inputs(workload):
    rng = np.random.default_rng(workload.number)
    features = rng.standard_normal(workload.features, dtype=np.float32)
    image = (workload.features[3] / workload.spatial_scale, workload.features[2] / workload.spatial_scale)
    rois = bench.random_boxes(rng, workload.rois, workload.features[0], image, sizes=(4.0, 60.0))
    return features, rois


@pytest.mark.parametrize("workload", SMALL, ids=lambda w: w.name)
@pytest.mark.parametrize("peer", ["onnxruntime", "openvino"])
def test_peers_compute_the_workloads_convention(workload, peer):
    pytest.importorskip(peer)
    features, rois = small_inputs(workload)
    build = bench.onnxruntime_op if peer == "onnxruntime" else bench.openvino_op
    theirs = build(workload)(features, rois)()
    ours = bench.ours(workload, "numpy")(features, rois)
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-5)


def test_profile_times_every_phase_and_restores_the_engine(monkeypatch):
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)  # threads and the sparse product, as on a large call
    workload = SMALL[0]
    features, rois = small_inputs(workload)
    real = numpy_engine._mapper, numpy_engine._SparseProduct.__call__, numpy_engine._gathered_product
    mine = bench.ours(workload, "numpy")
    spent = engine_profile.profile(lambda: mine(features, rois), repeats=2)
    assert (numpy_engine._mapper, numpy_engine._SparseProduct.__call__, numpy_engine._gathered_product) == real
    assert set(spent) == {"wall", *engine_profile.PHASES}
    assert all(spent[name] > 0 for name in ("wall", "channels-last copy", "building the matrices", "product"))
    assert spent["transposing write"] >= 0


def test_traffic_and_bandwidth():
    assert engine_profile.traffic(100, 20) == {"least": 120.0, "passes": 360.0}
    assert engine_profile.bandwidth(megabytes=4, workers=2, repeats=1) > 1e8
