"""The NumPy engine's ways of running a call agree with each other and with torchvision.

A call runs inline with a gathered product when its work is small, or on threads with SciPy's
CSR product; over one or several channel blocks; in chunks of any size; over channels-last rows
padded or not. None of that may change the numbers.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from helpers import subprocess_env
from roialign_cli.conventions import Convention
from roialign_cli.engines import numpy_engine
from roialign_cli.presets import resolve

CONVENTIONS = {
    "torchvision": Convention(),
    "aligned sr 2": Convention(sample_offset=0.5, min_size=None, sampling_ratio=2),
    "tf corners fill": Convention(
        coordinates="tf-normalized", grid="corners", border="fill", fill_value=1.5, min_size=None, sampling_ratio=1
    ),
    "caffe ssd": Convention(
        coordinates="relative-feature", clip_box=True, end_plus_one="size", sampling_ratio=1, border="caffe-ssd"
    ),
    "inverted rois give nan": Convention(min_size=None, empty_value=float("nan")),
    "max": Convention(pooling="max"),
    "corner max": Convention(pooling="corner-max", sample_offset=0.5, min_size=None),
}


def make_rois(rng, count: int, batch: int, width: float, height: float) -> np.ndarray:
    """Boxes of all sizes, some past the border and some inverted."""
    x1 = rng.uniform(-0.1 * width, width, count)
    y1 = rng.uniform(-0.1 * height, height, count)
    x2 = x1 + rng.uniform(-0.05 * width, 0.6 * width, count)
    y2 = y1 + rng.uniform(-0.05 * height, 0.6 * height, count)
    return np.stack([rng.integers(0, batch, count), x1, y1, x2, y2], axis=1)


def scaled_rois(rng, conv: Convention, count: int, batch: int, h: int, w: int, scale: float) -> np.ndarray:
    if conv.coordinates == "absolute":
        return make_rois(rng, count, batch, w / scale, h / scale)
    return make_rois(rng, count, batch, 1.0, 1.0)


def run(features, rois, conv, output_size=(5, 4), scale=0.25):
    return numpy_engine.pool(features, rois, output_size, scale, conv)


def same(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", CONVENTIONS)
def test_small_and_threaded_paths_agree(name, rng, monkeypatch):
    conv = CONVENTIONS[name]
    features = rng.standard_normal((2, 6, 13, 17)).astype(np.float32)
    rois = scaled_rois(rng, conv, 40, 2, 13, 17, 0.25)
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)
    threaded = run(features, rois, conv)
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 1 << 40)
    same(run(features, rois, conv), threaded)
    monkeypatch.setattr(numpy_engine, "GATHER_BLOCK_BYTES", 1)  # one row at a time
    same(run(features, rois, conv), threaded)


@pytest.mark.parametrize("name", CONVENTIONS)
def test_channel_blocks_waves_and_chunk_sizes_do_not_change_results(name, rng, monkeypatch):
    conv = CONVENTIONS[name]
    features = rng.standard_normal((2, 9, 11, 14)).astype(np.float32)
    rois = scaled_rois(rng, conv, 30, 2, 11, 14, 0.25)
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)
    whole = run(features, rois, conv)
    # blocks of 2 channels (the last block has 1), one roi per chunk, one chunk per wave
    monkeypatch.setattr(numpy_engine, "IMAGE_BLOCK_BYTES", 2 * 11 * 14 * 4)
    monkeypatch.setattr(numpy_engine, "MAX_IMAGE_BLOCK_BYTES", 2 * 11 * 14 * 4)
    monkeypatch.setattr(numpy_engine, "MATRIX_BYTES", 1)
    monkeypatch.setattr(numpy_engine, "WORKING_BYTES", numpy_engine.IMAGE_BLOCK_BYTES + 2)
    monkeypatch.setattr(numpy_engine, "MIN_CHUNK_BYTES", 1)
    assert len(numpy_engine._channel_blocks(features.shape, np.dtype(np.float32))) == 5
    plan = numpy_engine._Plan(rois, features.shape, (5, 4), 0.25, conv, np.dtype(np.float32))
    chunks = plan.chunks(2, workers=2)
    assert all(len(sel) == 1 for group in chunks.values() for sel in group)
    assert all(len(numpy_engine._waves(plan, group)) == len(group) for group in chunks.values())
    same(whole, run(features, rois, conv))


@pytest.mark.parametrize(
    ("shape", "widths"),
    [
        ((2, 256, 200, 336), [52, 52, 52, 52, 48]),  # 16 MB blocks
        ((1, 256, 100, 168), [128, 128]),  # padded rows of 128 channels still fit
        ((1, 64, 1500, 1500), [11] * 5 + [9]),  # 9 MB planes: as many as the largest block holds
        ((1, 8, 4000, 4000), [1] * 8),  # 64 MB planes
    ],
)
def test_channel_blocks(shape, widths):
    ct = np.dtype(np.float32)
    blocks = numpy_engine._channel_blocks(shape, ct)
    assert [c1 - c0 for c0, c1 in blocks] == widths
    assert blocks[0][0] == 0 and blocks[-1][1] == shape[1]
    buffer = shape[2] * shape[3] * numpy_engine._row_width(widths[0], ct) * ct.itemsize
    assert buffer <= max(numpy_engine.IMAGE_BLOCK_BYTES, numpy_engine.MAX_IMAGE_BLOCK_BYTES)


@pytest.mark.parametrize(
    ("channels", "dtype"), [(128, np.float32), (256, np.float32), (64, np.float64), (3, np.float16)]
)
def test_padded_channels_last_rows(channels, dtype, rng, monkeypatch):
    """Rows of 512-byte multiples are padded with zero columns that never reach the output."""
    ct = numpy_engine.compute_dtype(dtype)
    padded = numpy_engine._row_width(channels, ct) > channels
    assert padded == (channels * ct.itemsize % 512 == 0)
    features = rng.standard_normal((1, channels, 6, 7)).astype(dtype)
    rois = make_rois(rng, 12, 1, 28, 24)
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)
    threaded = run(features, rois, resolve(None, aligned=True, sampling_ratio=2))
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 1 << 40)
    small = run(features, rois, resolve(None, aligned=True, sampling_ratio=2))
    assert threaded.dtype == small.dtype == dtype
    rtol = 1e-3 if dtype == np.float16 else 1e-6
    np.testing.assert_allclose(threaded.astype(np.float64), small.astype(np.float64), rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("stage_bytes", [1, 1 << 18])
@pytest.mark.parametrize("compacted", [False, True])
def test_channels_last_copy(workers, stage_bytes, compacted, rng, monkeypatch):
    monkeypatch.setattr(numpy_engine, "STAGE_BYTES", stage_bytes)
    block = rng.standard_normal((5, 37, 29)).astype(np.float16)
    pixels = np.flatnonzero(rng.random(37 * 29) < 0.3) if compacted else None
    out = np.full((37 * 29, 7), np.nan, dtype=np.float32)
    with numpy_engine._mapper(workers) as each:
        numpy_engine.channels_last(block, out, each, workers, pixels)
    expected = block.reshape(5, -1).T.astype(np.float32)
    rows = len(expected) if pixels is None else len(pixels)
    np.testing.assert_array_equal(out[:rows, :5], expected if pixels is None else expected[pixels])
    assert not out[:rows, 5:].any()


def test_compaction_reads_only_the_pixels_of_few_small_rois(rng, monkeypatch):
    """A large map holding a few small rois: only the pixels their matrices read are copied, and
    the output is the one of the whole copy."""
    features = rng.standard_normal((2, 6, 90, 120)).astype(np.float32)
    x1, y1 = rng.uniform(0, 440, 9), rng.uniform(0, 320, 9)
    sides = rng.uniform(4, 40, (2, 9))
    rois = np.stack([np.arange(9) % 2, x1, y1, x1 + sides[0], y1 + sides[1]], axis=1)
    conv = resolve(None, aligned=True, sampling_ratio=2)
    monkeypatch.setattr(numpy_engine, "SMALL_WORK", 0)
    copied = []
    real = numpy_engine.channels_last
    monkeypatch.setattr(numpy_engine, "channels_last", lambda *args: copied.append(args[4] is not None) or real(*args))
    compacted = run(features, rois, conv)
    monkeypatch.setattr(numpy_engine, "COMPACT_SHARE", 0)
    whole = run(features, rois, conv)
    assert copied == [True, True, False, False]
    np.testing.assert_array_equal(compacted, whole)


def test_no_compaction_without_a_sparse_product_or_for_most_of_the_image(rng):
    values = np.ones((4, 2), dtype=np.float32)
    product = numpy_engine._SparseProduct(values, np.array([[0, 1], [2, 3], [0, 5], [6, 6]], np.int32), 10)
    other = numpy_engine._SparseProduct(values[:1], np.array([[8, 1]], np.int32), 10)
    with numpy_engine._mapper(2) as each:
        assert numpy_engine._compact([product, None], 10, each, 2) is None
        assert numpy_engine._compact([product, other], 11, each, 2) is None  # 7 of 11 pixels
        pixels = numpy_engine._compact([product, other], 12, each, 2)  # 7 of 12
    np.testing.assert_array_equal(pixels, [0, 1, 2, 3, 5, 6, 8])
    np.testing.assert_array_equal(product.matrix.indices, [0, 1, 2, 3, 0, 4, 5, 5])
    np.testing.assert_array_equal(other.matrix.indices, [6, 1])


def test_chunks_cover_every_roi_once_balanced_costliest_first(rng, monkeypatch):
    monkeypatch.setattr(numpy_engine, "MIN_CHUNK_BYTES", 1)
    conv = resolve(None, aligned=True, sampling_ratio=0)
    rois = make_rois(rng, 300, 3, 400, 300)
    plan = numpy_engine._Plan(rois, (3, 16, 75, 100), (7, 7), 0.25, conv, np.dtype(np.float32))
    workers = 2
    groups = plan.chunks(16, workers)
    assert sorted(groups) == sorted(set(plan.batch.tolist()))
    for b, chunks in groups.items():
        assert np.array_equal(np.sort(np.concatenate(chunks)), np.flatnonzero(plan.batch == b))
        # padded to the widest roi along each axis, each chunk is at most an even share of the image
        row = numpy_engine._row_width(16, plan.ct) * 4
        padded = [
            len(c) * (numpy_engine.ENTRY_BYTES * plan.taps_y[c].max() * plan.taps_x[c].max() + row) for c in chunks
        ]
        own = numpy_engine.ENTRY_BYTES * plan.taps_y * plan.taps_x + row
        share = own[plan.batch == b].sum() / (numpy_engine.CHUNKS_PER_WORKER * workers)
        assert all(size <= share or len(c) == 1 for size, c in zip(padded, chunks, strict=True))
        assert len(chunks) >= numpy_engine.CHUNKS_PER_WORKER * workers
        assert padded == sorted(padded, reverse=True)


def test_working_memory_stays_within_budget(rng):
    """tracemalloc sees NumPy's buffers: the peak beyond the output stays under WORKING_BYTES."""
    import tracemalloc

    import scipy.sparse  # noqa: F401  (its import allocates; not part of a call)

    features = rng.standard_normal((1, 64, 120, 160)).astype(np.float32)
    rois = make_rois(rng, 200, 1, 640, 480)
    conv = resolve(None, aligned=True, sampling_ratio=0)
    run(features, rois, conv)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = run(features, rois, conv, output_size=(7, 7))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak - out.nbytes < numpy_engine.WORKING_BYTES


def test_torchvision_agrees_on_both_paths(rng, monkeypatch):
    torch = pytest.importorskip("torch")
    ops = pytest.importorskip("torchvision.ops")
    features = rng.standard_normal((2, 32, 25, 30)).astype(np.float32)
    rois = make_rois(rng, 60, 2, 120, 100)
    for sampling_ratio, aligned in ((0, False), (2, True), (0, True)):
        reference = ops.roi_align(
            torch.from_numpy(features), torch.from_numpy(rois).float(), (7, 7), 0.25, sampling_ratio, aligned
        ).numpy()
        conv = resolve(None, aligned=aligned, sampling_ratio=sampling_ratio)
        for small_work in (0, 1 << 40):
            monkeypatch.setattr(numpy_engine, "SMALL_WORK", small_work)
            np.testing.assert_allclose(run(features, rois, conv, (7, 7)), reference, rtol=0, atol=1e-5)


@pytest.mark.parametrize("block_bytes", [1, 5000, 1 << 30])
def test_gathered_product_is_the_sparse_product(block_bytes, rng, monkeypatch):
    monkeypatch.setattr(numpy_engine, "GATHER_BLOCK_BYTES", block_bytes)
    values = rng.standard_normal((300, 9)).astype(np.float32)
    values[rng.random(values.shape) < 0.4] = 0  # padding
    columns = rng.integers(0, 50, values.shape).astype(np.int32)
    image = rng.standard_normal((50, 7)).astype(np.float32)
    gathered = numpy_engine._gathered_product(values, columns, len(image))(image)
    sparse = numpy_engine._SparseProduct(values, columns, len(image))(image)
    np.testing.assert_allclose(gathered, sparse, rtol=1e-6, atol=1e-6)


def test_small_calls_do_not_import_scipy():
    """Importing SciPy costs more than a small call: the seed-sized case runs without it, and gives
    what the CSR product gives."""
    script = """
import sys
import numpy as np
from roialign_cli import roi_align
features = np.random.default_rng(0).standard_normal((1, 128, 24, 72), dtype=np.float32)
rois = np.array([[0, 10, 20, 300, 150], [0, 100, 5, 560, 190], [0, 400, 100, 410, 104]], dtype=np.float64)
gathered = roi_align(features, rois, 7, 1 / 8, backend="numpy")
loaded = "scipy" in sys.modules
from roialign_cli.engines import numpy_engine
numpy_engine.SMALL_WORK = 0
sparse = roi_align(features, rois, 7, 1 / 8, backend="numpy")
print(loaded, float(np.abs(gathered - sparse).max()))
"""
    done = subprocess.run([sys.executable, "-c", script], env=subprocess_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded, difference = done.stdout.split()
    assert loaded == "False"
    assert float(difference) <= 1e-6


@pytest.mark.parametrize("name", ["max", "corner max"])
@pytest.mark.parametrize("step_bytes", [1, 3000, 1 << 30])
def test_max_pooling_sample_steps_match_the_reference(name, step_bytes, rng, monkeypatch):
    """One sample per step, a few rows of samples, or the whole grid at once: the reference's numbers."""
    from roialign_cli.engines import reference_engine

    conv = CONVENTIONS[name].with_(sampling_ratio=0)
    features = rng.standard_normal((2, 3, 9, 12)).astype(np.float32)
    rois = scaled_rois(rng, conv, 12, 2, 9, 12, 1.0)  # scale 1: adaptive grids of several samples per bin
    monkeypatch.setattr(numpy_engine, "MAX_STEP_BYTES", step_bytes)
    expected = reference_engine.pool(features, rois, (3, 2), 1.0, conv)
    same(run(features, rois, conv, (3, 2), 1.0), expected)
