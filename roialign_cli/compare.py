"""Compare two arrays element by element: error statistics, tolerance verdict, worst places.

`compare(a, b)` treats B as the reference. An element is within tolerance when
|a - b| <= atol + rtol * |b| (numpy.isclose with B as the reference); NaN against NaN and an
infinity against the same infinity match, any other pair with a NaN or an infinity (a
"non-finite mismatch") does not. Error statistics (max/mean abs error, RMSE, max relative error,
cosine similarity) are taken over the pairs where both sides are finite.

The work runs over blocks of at most `chunk_elements` elements in C order, converted to float64
one block at a time, so memory-mapped inputs far larger than memory work; an array that fits in
one block is one pass of plain NumPy, cheap enough to score many candidates from Python.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .diff_defaults import ATOL, RTOL, TOP
from .errors import InputError

# Elements per block: each float64 temporary of a block is 8 MiB, and a block needs only a few of them at once.
CHUNK_ELEMENTS = 1 << 20

ROI_AXES = ("roi", "channel", "y", "x")


@dataclass(frozen=True)
class Side:
    """One input as compared: shape after any squeeze, shape as stored, dtype, non-finite counts."""

    shape: tuple[int, ...]
    stored_shape: tuple[int, ...]
    dtype: str
    nan: int | None = None
    posinf: int | None = None
    neginf: int | None = None


@dataclass(frozen=True)
class IndexErrors:
    """The errors of one index along axis 0 or 1 (one roi, one channel)."""

    index: int
    max_abs_error: float  # over finite pairs
    mismatches: int  # elements out of tolerance, non-finite mismatches included
    nonfinite_mismatches: int


@dataclass(frozen=True)
class Element:
    index: tuple[int, ...]
    a: float
    b: float
    abs_error: float  # NaN or infinite for a non-finite mismatch


@dataclass(frozen=True)
class OneSidedNan:
    index: tuple[int, ...]
    nan_in: str  # "a" or "b"


@dataclass(frozen=True)
class Report:
    """Everything `compare` found; `to_dict()` is the `roialign diff --json` document."""

    verdict: str  # "match", "differ" or "shape-mismatch"
    a: Side
    b: Side
    atol: float
    rtol: float
    top: int
    axes: tuple[str, ...]
    notes: tuple[str, ...] = ()
    size: int = 0
    within_tolerance: int | None = None
    finite_pairs: int | None = None
    max_abs_error: float | None = None
    mean_abs_error: float | None = None
    rmse: float | None = None
    max_rel_error: float | None = None
    cosine_similarity: float | None = None
    nonfinite_mismatches: int | None = None
    nan_only_in_a: int | None = None
    nan_only_in_b: int | None = None
    one_sided_nans: tuple[OneSidedNan, ...] = ()
    worst_axis0: tuple[IndexErrors, ...] | None = None
    worst_axis1: tuple[IndexErrors, ...] | None = None
    worst_elements: tuple[Element, ...] = ()

    @property
    def matches(self) -> bool:
        return self.verdict == "match"

    @property
    def mismatches(self) -> int | None:
        return None if self.within_tolerance is None else self.size - self.within_tolerance

    @property
    def within_tolerance_fraction(self) -> float | None:
        if self.within_tolerance is None:
            return None
        return self.within_tolerance / self.size if self.size else 1.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["mismatches"] = self.mismatches
        out["within_tolerance_fraction"] = self.within_tolerance_fraction
        return out


def axis_names(ndim: int) -> tuple[str, ...]:
    return ROI_AXES if ndim == 4 else tuple(f"axis{i}" for i in range(ndim))


def compare(
    a,
    b,
    atol: float = ATOL,
    rtol: float = RTOL,
    top: int = TOP,
    *,
    squeeze: bool = False,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> Report:
    """Compare `a` against the reference `b` (NumPy arrays or memory maps); see the module doc.

    `top` is how many rois, channels and elements the worst-of tables keep; `squeeze` drops
    singleton dimensions of both first. Different shapes give the verdict "shape-mismatch".
    """
    if not (atol >= 0 and rtol >= 0 and math.isfinite(atol) and math.isfinite(rtol)):
        raise InputError(f"tolerances must be finite and >= 0, not atol={atol} rtol={rtol}")
    if top < 0:
        raise InputError(f"top must be >= 0, not {top}")
    a, b = np.asanyarray(a), np.asanyarray(b)
    for name, array in (("A", a), ("B", b)):
        if array.dtype.kind not in "biuf":
            raise InputError(f"{name} has dtype {array.dtype}: only real numeric arrays can be compared")
    stored = a.shape, b.shape
    if squeeze:
        a, b = np.squeeze(a), np.squeeze(b)
    header = dict(atol=float(atol), rtol=float(rtol), top=int(top), notes=_notes(a, b, stored, squeeze))
    if a.shape != b.shape:
        sides = Side(a.shape, stored[0], str(a.dtype)), Side(b.shape, stored[1], str(b.dtype))
        return Report("shape-mismatch", *sides, axes=(), **header)
    # 0-d and 1-d arrays get trailing unit axes so that every block maps onto a (roi, channel) grid.
    padded = a.shape + (1,) * (2 - a.ndim)
    tally = _Tally(padded, top, atol, rtol)
    a_view, b_view = a.reshape(padded), b.reshape(padded)
    for block in _blocks(padded, max(1, chunk_elements)):
        tally.add(a_view[block.slicer], b_view[block.slicer], block)
    return tally.report(a, b, stored, header)


def _notes(a, b, stored, squeeze) -> tuple[str, ...]:
    notes = []
    if a.dtype != b.dtype:
        compared = ": values compared in float64" if a.shape == b.shape else ""
        notes.append(f"dtypes differ (A {a.dtype}, B {b.dtype}){compared}")
    if squeeze and (a.shape, b.shape) != stored:
        notes.append(f"squeezed: A {list(stored[0])} -> {list(a.shape)}, B {list(stored[1])} -> {list(b.shape)}")
    if not squeeze and a.shape != b.shape and np.squeeze(a).shape == np.squeeze(b).shape:
        notes.append("the shapes agree once singleton dimensions are dropped (--squeeze)")
    return tuple(notes)


@dataclass(frozen=True)
class _Block:
    """A C-order run of an array (ndim >= 2): its slice, flat start, and the (roi, channel) cells it covers."""

    slicer: tuple
    start: int
    rows: tuple[int, int]  # first axis-0 index, count
    channels: tuple[int, int]  # first axis-1 index, count


def _blocks(shape, limit: int):
    """Cover `shape` (ndim >= 2) in C order with blocks of at most `limit` elements (one at least)."""
    if math.prod(shape) == 0:
        return
    strides = [math.prod(shape[i + 1 :]) for i in range(len(shape))]
    # Split along the outermost axis whose trailing rows fit in a block; the axes before it go one index at a time.
    axis = next(i for i in range(len(shape)) if strides[i] <= limit)
    step = max(1, limit // strides[axis])
    for prefix in np.ndindex(*shape[:axis]):
        for first in range(0, shape[axis], step):
            count = min(step, shape[axis] - first)
            start = sum(i * s for i, s in zip(prefix + (first,), strides, strict=False))
            if axis == 0:
                rows, channels = (first, count), (0, shape[1])
            elif axis == 1:
                rows, channels = (prefix[0], 1), (first, count)
            else:
                rows, channels = (prefix[0], 1), (prefix[1], 1)
            yield _Block(prefix + (slice(first, first + count),), start, rows, channels)


def _largest(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` largest keys, ties going to the earliest positions."""
    if len(keys) <= k:
        return np.arange(len(keys))
    if k == 0:
        return np.arange(0)
    cut = np.partition(keys, len(keys) - k)[len(keys) - k]
    above = np.flatnonzero(keys > cut)
    return np.concatenate([above, np.flatnonzero(keys == cut)[: k - len(above)]])


class _TopK:
    """The `k` largest positive keys offered so far with their columns; offers come in position order."""

    def __init__(self, k: int):
        self.k = k
        self.keys = np.empty(0)
        self.positions = np.empty(0, np.int64)
        self.columns: list[np.ndarray] | None = None

    def offer(self, keys: np.ndarray, first: int, *columns: np.ndarray) -> None:
        """Offer `keys` at positions first, first + 1, ... with one value per key in each column."""
        pick = _largest(keys, self.k)
        pick = pick[keys[pick] > 0]
        if not len(pick):
            return
        keys = np.concatenate([self.keys, keys[pick]])
        positions = np.concatenate([self.positions, first + pick])
        picked = [np.asarray(column)[pick] for column in columns]
        if self.columns is not None:
            picked = [np.concatenate([old, new]) for old, new in zip(self.columns, picked, strict=True)]
        keep = np.lexsort((positions, -keys))[: self.k]
        self.keys, self.positions, self.columns = keys[keep], positions[keep], [c[keep] for c in picked]

    def entries(self):
        """(position, column values...) from the largest key down."""
        if self.columns is None:
            return []
        return list(zip(self.positions.tolist(), *(c.tolist() for c in self.columns), strict=True))


def _ranking_key(max_abs: np.ndarray, nonfinite: np.ndarray) -> np.ndarray:
    # A NaN or infinity on one side only is the worst kind of difference: it ranks as an infinite error.
    return np.where(nonfinite > 0, np.inf, max_abs)


class _Tally:
    """Running sums, maxima and top-K lists over the blocks of one comparison."""

    def __init__(self, shape, top: int, atol: float, rtol: float):
        self.atol, self.rtol, self.top = atol, rtol, top
        self.size = math.prod(shape)
        self.counts = dict.fromkeys(
            (
                "within",
                "finite_pairs",
                "nonfinite_mismatches",
                "nan_only_a",
                "nan_only_b",
                "nan_a",
                "posinf_a",
                "neginf_a",
                "nan_b",
                "posinf_b",
                "neginf_b",
            ),
            0,
        )
        self.sums = dict.fromkeys(("abs", "square", "dot", "norm_a", "norm_b"), 0.0)
        self.max_abs = self.max_rel = 0.0
        self.one_sided: list[tuple[int, str]] = []
        self.elements, self.worst_rows = _TopK(top), _TopK(top)
        self.open_row = None  # (index, max, mismatches, nonfinite) of a roi whose elements may go on in the next block
        channels = shape[1]
        self.channel_max = np.zeros(channels)
        self.channel_mismatches = np.zeros(channels, np.int64)
        self.channel_nonfinite = np.zeros(channels, np.int64)

    def add(self, a_block, b_block, block: _Block) -> None:
        """Fold in one block of each side (any real dtype; converted to float64 here)."""
        a = values_a = np.ascontiguousarray(a_block, dtype=np.float64).reshape(-1)
        b = values_b = np.ascontiguousarray(b_block, dtype=np.float64).reshape(-1)
        with np.errstate(invalid="ignore", over="ignore"):
            error = np.abs(a - b)
            abs_b = np.abs(b)
            within = error <= self.atol + self.rtol * abs_b
            if np.isfinite(error).all():  # the usual case: no NaN or infinity anywhere in this block
                nonfinite = None
                self.counts["finite_pairs"] += len(a)
            else:
                both = np.isfinite(a) & np.isfinite(b)
                within, nonfinite = self._nonfinite(a, b, both, within, block.start)
                a, b, error, abs_b = (np.where(both, x, 0.0) for x in (a, b, error, abs_b))
                self.counts["finite_pairs"] += int(np.count_nonzero(both))
        self._statistics(a, b, error, abs_b, within)
        key = error if nonfinite is None else np.where(nonfinite, np.inf, error)
        self.elements.offer(key, block.start, values_a, values_b)
        self._per_index(error, within, nonfinite, block)

    def _nonfinite(self, a, b, both, within, start):
        """Count NaNs and infinities; decide the pairs with one: the same non-finite value on both sides matches."""
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        within = np.where(both, within, (nan_a & nan_b) | (a == b))
        nonfinite = ~both & ~within
        self.counts["nonfinite_mismatches"] += int(np.count_nonzero(nonfinite))
        for side, values, nan in (("a", a, nan_a), ("b", b, nan_b)):
            self.counts[f"nan_{side}"] += int(np.count_nonzero(nan))
            self.counts[f"posinf_{side}"] += int(np.count_nonzero(np.isposinf(values)))
            self.counts[f"neginf_{side}"] += int(np.count_nonzero(np.isneginf(values)))
        only_a, only_b = nan_a & ~nan_b, nan_b & ~nan_a
        self.counts["nan_only_a"] += int(np.count_nonzero(only_a))
        self.counts["nan_only_b"] += int(np.count_nonzero(only_b))
        room = self.top - len(self.one_sided)
        if room > 0:
            for position in np.flatnonzero(only_a | only_b)[:room].tolist():
                self.one_sided.append((start + position, "a" if only_a[position] else "b"))
        return within, nonfinite

    def _statistics(self, a, b, error, abs_b, within) -> None:
        """Accumulate over finite pairs (the caller zeroed the others, which adds nothing)."""
        self.counts["within"] += int(np.count_nonzero(within))
        self.sums["abs"] += float(error.sum())
        self.sums["square"] += float(error @ error)
        self.sums["dot"] += float(a @ b)
        self.sums["norm_a"] += float(a @ a)
        self.sums["norm_b"] += float(b @ b)
        self.max_abs = max(self.max_abs, float(error.max()))
        # Relative to the reference B, where B is not zero (zeros are what atol is for).
        relative = np.divide(error, abs_b, out=np.zeros_like(error), where=abs_b > 0)
        self.max_rel = max(self.max_rel, float(relative.max()))

    def _per_index(self, error, within, nonfinite, block: _Block) -> None:
        """Fold the block into per-roi and per-channel maxima and mismatch counts."""
        (row, rows), (channel, channels) = block.rows, block.channels

        def grid(values, reduce):
            return reduce(values.reshape(rows, channels, -1), axis=2)

        maxima = grid(error, np.max)
        mismatches = grid(~within, np.count_nonzero)
        nonfinites = np.zeros_like(mismatches) if nonfinite is None else grid(nonfinite, np.count_nonzero)
        cells = slice(channel, channel + channels)
        np.maximum(self.channel_max[cells], maxima.max(axis=0), out=self.channel_max[cells])
        self.channel_mismatches[cells] += mismatches.sum(axis=0)
        self.channel_nonfinite[cells] += nonfinites.sum(axis=0)
        self._rows(row, maxima.max(axis=1), mismatches.sum(axis=1), nonfinites.sum(axis=1))

    def _rows(self, first, maxima, mismatches, nonfinites) -> None:
        # A roi larger than a block spans several blocks: its totals are final once a later roi starts.
        if self.open_row is not None and self.open_row[0] == first:
            _, open_max, open_mismatches, open_nonfinites = self.open_row
            maxima[0] = max(maxima[0], open_max)
            mismatches[0] += open_mismatches
            nonfinites[0] += open_nonfinites
        else:
            self._close_row()
        self._offer_rows(first, maxima[:-1], mismatches[:-1], nonfinites[:-1])
        self.open_row = (first + len(maxima) - 1, maxima[-1], mismatches[-1], nonfinites[-1])

    def _close_row(self) -> None:
        if self.open_row is not None:
            index, *totals = self.open_row
            self._offer_rows(index, *(np.array([total]) for total in totals))
            self.open_row = None

    def _offer_rows(self, first, maxima, mismatches, nonfinites) -> None:
        self.worst_rows.offer(_ranking_key(maxima, nonfinites), first, maxima, mismatches, nonfinites)

    def report(self, a, b, stored, header) -> Report:
        self._close_row()
        counts, sums, finite = self.counts, self.sums, self.counts["finite_pairs"]
        norms = math.sqrt(sums["norm_a"]) * math.sqrt(sums["norm_b"])
        return Report(
            verdict="match" if counts["within"] == self.size else "differ",
            a=Side(a.shape, stored[0], str(a.dtype), counts["nan_a"], counts["posinf_a"], counts["neginf_a"]),
            b=Side(b.shape, stored[1], str(b.dtype), counts["nan_b"], counts["posinf_b"], counts["neginf_b"]),
            axes=axis_names(a.ndim),
            size=self.size,
            within_tolerance=counts["within"],
            finite_pairs=finite,
            max_abs_error=self.max_abs if finite else None,
            mean_abs_error=sums["abs"] / finite if finite else None,
            rmse=math.sqrt(sums["square"] / finite) if finite else None,
            max_rel_error=self.max_rel if finite else None,
            cosine_similarity=min(1.0, max(-1.0, sums["dot"] / norms)) if norms > 0 else None,
            nonfinite_mismatches=counts["nonfinite_mismatches"],
            nan_only_in_a=counts["nan_only_a"],
            nan_only_in_b=counts["nan_only_b"],
            one_sided_nans=tuple(OneSidedNan(_index(p, a.shape), side) for p, side in self.one_sided),
            worst_axis0=self._worst(self.worst_rows) if a.ndim >= 1 else None,
            worst_axis1=self._worst(self._channels()) if a.ndim >= 2 else None,
            worst_elements=tuple(
                Element(_index(p, a.shape), va, vb, abs(va - vb)) for p, va, vb in self.elements.entries()
            ),
            **header,
        )

    def _channels(self) -> _TopK:
        worst = _TopK(self.top)
        worst.offer(
            _ranking_key(self.channel_max, self.channel_nonfinite),
            0,
            self.channel_max,
            self.channel_mismatches,
            self.channel_nonfinite,
        )
        return worst

    @staticmethod
    def _worst(top: _TopK) -> tuple[IndexErrors, ...]:
        return tuple(IndexErrors(*row) for row in top.entries())


def _index(position: int, shape) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(position, shape))
