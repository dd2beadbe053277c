"""Where the NumPy engine's time goes, and how far it is from the memory-traffic bound.

`profile` runs a NumPy-engine call with its phases timed: the channels-last copy of each channel
block, building the interpolation matrices, the sparse (or gathered) product, and the
transposing write of each chunk into the [K, C, PH, PW] output (the chunk's run less its
product). The engine's phases run on its worker threads, so their times are thread-seconds,
summed over the threads, beside the call's wall time.

`bandwidth` measures what this machine copies per second with the engine's threads (bytes read
plus bytes written); `traffic` turns a workload's sizes into the least a call must move (read the
features once, write the output once) and what the engine's passes move (the features, their
channels-last copy written and read back, the product's rows written and read back by the
transposing write, the output written: about 3 x features + 3 x output).
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

PHASES = ("channels-last copy", "building the matrices", "product", "transposing write")


def profile(call, repeats: int) -> dict[str, float]:
    """Median wall seconds of `call()` and median thread-seconds of each of PHASES."""
    from roialign_cli.engines import numpy_engine as engine

    spent = defaultdict(float)

    def timed(fn, key):
        def run(*args):
            started = time.perf_counter()
            try:
                return fn(*args)
            finally:
                spent[key] += time.perf_counter() - started

        return run

    real = engine._mapper, engine._SparseProduct.__call__, engine._gathered_product

    @contextmanager
    def mapper(workers):
        with real[0](workers) as each:
            yield lambda fn, items: each(timed(fn, fn.__name__), items)

    def gathered(*args):
        return timed(real[2](*args), "product")

    engine._mapper, engine._gathered_product = mapper, gathered
    engine._SparseProduct.__call__ = timed(real[1], "product")
    samples = defaultdict(list)
    try:
        call()
        for _ in range(repeats):
            spent.clear()
            started = time.perf_counter()
            call()
            samples["wall"].append(time.perf_counter() - started)
            # names of the functions the engine hands its workers (see numpy_engine.pool)
            phase = {
                "channels-last copy": spent["copy"],
                # the chunks prepared, and the pixels they read marked for a compacted copy
                "building the matrices": spent["<lambda>"] + spent["mark"],
                "product": spent["product"],
                "transposing write": spent["run"] - spent["product"],
            }
            for name, seconds in phase.items():
                samples[name].append(seconds)
    finally:
        engine._mapper, engine._SparseProduct.__call__, engine._gathered_product = real
    return {name: statistics.median(values) for name, values in samples.items()}


def bandwidth(megabytes: int = 256, workers: int | None = None, repeats: int = 5) -> float:
    """Bytes per second (read + written) of a large copy split among `workers` threads, best of `repeats`."""
    workers = workers or os.cpu_count() or 1
    source = np.ones(megabytes << 18, dtype=np.float32)
    target = np.zeros_like(source)
    parts = np.array_split(np.arange(len(source)), workers)
    bounds = [(p[0], p[-1] + 1) for p in parts if len(p)]
    best = float("inf")
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(repeats):
            started = time.perf_counter()
            list(pool.map(lambda b: np.copyto(target[b[0] : b[1]], source[b[0] : b[1]]), bounds))
            best = min(best, time.perf_counter() - started)
    return 2 * source.nbytes / best


def traffic(features_bytes: int, output_bytes: int) -> dict[str, float]:
    """Bytes a call must move at least, and bytes the engine's passes move."""
    return {"least": float(features_bytes + output_bytes), "passes": 3.0 * (features_bytes + output_bytes)}
