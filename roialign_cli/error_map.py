"""Where two RoIAlign outputs differ: max |a - b| per roi and channel, and the spread of the errors.

The numbers behind `roialign diff --plot`, on `compare`'s terms: errors are taken over pairs finite on
both sides, a NaN or an infinity on one side only is a non-finite mismatch (an infinite error, worst of
all), and the same non-finite value on both sides matches. The arrays are read a block of rois at a
time, so memory-mapped outputs larger than memory work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .compare import CHUNK_ELEMENTS
from .errors import InputError

DECADE_STEPS = 10  # histogram bins per decade of |a - b|
_LOG_RANGE = (-330, 310)  # every positive float64 lies within 10**-324 .. 10**308


@dataclass(frozen=True)
class ErrorMap:
    cells: np.ndarray  # [K, C] max |a - b| over each roi and channel; inf where a non-finite mismatch lies
    counts: np.ndarray  # histogram of |a - b| > 0 over finite pairs, on log10 bins
    edges: np.ndarray  # [len(counts) + 1] bin edges of |a - b| (powers of 10 in DECADE_STEPS steps)
    exact: int  # finite pairs with a == b
    nonfinite: int  # non-finite mismatches

    def worst(self, k: int) -> list[tuple[int, int, float]]:
        """The k worst (roi, channel, max |a - b|) cells with an error, worst first; ties go to the lower index."""
        flat = self.cells.reshape(-1)
        order = np.lexsort((np.arange(flat.size), -flat))
        picked = [i for i in order[:k] if flat[i] > 0]
        channels = self.cells.shape[1]
        return [(int(i // channels), int(i % channels), float(flat[i])) for i in picked]


def error_map(a, b, chunk_elements: int = CHUNK_ELEMENTS) -> ErrorMap:
    """The error map of A against B, both [K, C, PH, PW] (NumPy arrays or memory maps of one shape)."""
    a, b = np.asanyarray(a), np.asanyarray(b)
    if a.ndim != 4 or a.shape != b.shape:
        raise InputError(
            f"a plot of errors per roi and channel needs two [K, C, PH, PW] arrays of one shape; got "
            f"{list(a.shape)} and {list(b.shape)}"
        )
    rois, channels = a.shape[:2]
    per_roi = max(1, int(np.prod(a.shape[1:])))
    step = max(1, chunk_elements // per_roi)
    cells = np.zeros((rois, channels))
    log_edges = np.arange(_LOG_RANGE[0] * DECADE_STEPS, _LOG_RANGE[1] * DECADE_STEPS + 1) / DECADE_STEPS
    counts = np.zeros(len(log_edges) - 1, dtype=np.int64)
    exact = nonfinite = 0
    for first in range(0, rois, step):
        error, mismatch, both = _block_errors(a[first : first + step], b[first : first + step])
        cells[first : first + step] = np.where(mismatch.any(axis=(2, 3)), np.inf, error.max(axis=(2, 3), initial=0.0))
        finite = error[both]
        exact += int(np.count_nonzero(finite == 0))
        nonfinite += int(np.count_nonzero(mismatch))
        positive = finite[finite > 0]
        counts += np.histogram(np.log10(positive), bins=log_edges)[0]
    used = np.flatnonzero(counts)
    lo, hi = (used[0], used[-1] + 1) if used.size else (0, 0)
    return ErrorMap(cells, counts[lo:hi], 10.0 ** log_edges[lo : hi + 1], exact, nonfinite)


def _block_errors(a, b):
    """|a - b| where both are finite (0 elsewhere), the non-finite mismatches, and where both are finite."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.where(both, np.abs(a - b), 0.0)
    same = (np.isnan(a) & np.isnan(b)) | (a == b)
    return error, ~both & ~same, both
