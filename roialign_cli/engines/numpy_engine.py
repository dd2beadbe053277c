"""The NumPy engine: every convention, on the CPU, vectorized and in bounded memory.

Average pooling is linear in the features: for each roi the output is a sparse interpolation
matrix (rows: roi x bin; columns: pixels of the roi's image) times that image laid out
channels-last, (H*W, C). The bilinear weights are separable, so each bin's row is the outer
product of a y-weight vector and an x-weight vector, merged over the bin's samples before the
product; the matrix is built once per chunk of rois and shared by all channels (SciPy's CSR
product, which releases the GIL, so chunks run on all cores). Max pooling is not linear: it walks
the samples of a chunk and keeps a running maximum of gathered values.

Where the time goes, and what keeps it down: each chunk's matrix is built once per image and
applied to the image one block of channels at a time (a small buffer, reused, instead of a fresh
copy of the whole image); the channels-last copy of a block is staged through cache (see
`channels_last`), and holds only the pixels the matrices read where that is a small part of the
image (a large map with a few small rois: the finest level of a pyramid); chunks group rois so
that little of their padding is built, and run costliest first; the transposing write of each
chunk into the [K, C, PH, PW] output reads rows padded off 512-byte multiples (see
`_row_width`). Small calls run in the calling thread with a gathered product, so that they pay
for neither threads nor SciPy's import. benchmarks/bench.py measures all of it against torchvision.

The geometry (positions, taps, weights) is `roialign_cli.geometry`, the specification; this
module holds only the speed, and the reference engine checks it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from ..conventions import Convention, X, Y
from ..geometry import AxisGeometry, AxisTaps, axis_geometry, axis_scales, compute_dtype, pixel_bins, sample_taps

# Working memory beyond the output: one channels-last block of channels, the matrices of the chunks
# applied to it, and per worker one chunk being built, sharing the rest (a single roi larger than
# its share still makes a chunk).
WORKING_BYTES = 256 << 20
IMAGE_BLOCK_BYTES = 16 << 20
MATRIX_BYTES = 96 << 20
# Very large maps get a larger block, up to this, so that it keeps MIN_BLOCK_CHANNELS channels:
# the product slows down many times over on rows of a few channels.
MAX_IMAGE_BLOCK_BYTES = 96 << 20
MIN_BLOCK_CHANNELS = 16
# Bytes per matrix entry while a chunk's matrix is built (values, pixel indices, their compaction).
ENTRY_BYTES = 24
# Copies of the chunk's output a max-pooling sample step holds (four weighted corners and their reduction).
MAX_STEP_COPIES = 8
# Working memory of such a step when it takes several samples at once (small chunks, large grids).
MAX_STEP_BYTES = 8 << 20
# Chunks per worker and image (load balance), and the smallest chunk worth its fixed cost.
CHUNKS_PER_WORKER = 4
MIN_CHUNK_BYTES = 1 << 21
# Calls with at most this many multiply-adds run in the calling thread and, for average pooling,
# gather instead of importing SciPy: threads and the import would cost more than the work.
SMALL_WORK = 1 << 22
# Gathered pixels per block of rows in that case: well inside a core's L2 cache.
GATHER_BLOCK_BYTES = 512 << 10
# Staging block of the transposing copy: well inside a core's L2 cache.
STAGE_BYTES = 256 << 10
# Copy only the pixels the chunks' matrices read, where they are at most this share of the image
# (a large map holding few small rois: the finest level of a pyramid); a gathering copy costs more
# per pixel than a contiguous one.
COMPACT_SHARE = 0.6


def axis_weights(taps: AxisTaps, length: int, ct) -> tuple[np.ndarray, np.ndarray]:
    """Each bin's pixels and weights along one axis, summed over its samples: ([Kc, P, T] int, [Kc, P, T]).

    Two layouts, whichever is narrower for the chunk: a window of consecutive pixels with the
    samples' taps summed into it (dense grids, where neighbouring samples share pixels), or the
    raw list of two taps per sample (sparse grids in large bins, where a window would be mostly
    empty; repeated pixels are summed by the matrix product). Samples outside the map or beyond
    their roi's grid weigh nothing.
    """
    use = taps.present & taps.inside
    kc, pooled, grid = use.shape
    big = np.iinfo(np.int64).max
    base = np.where(use, taps.low, big).min(axis=2)
    base = np.where(base == big, 0, base)
    r_low = np.where(use, taps.low - base[:, :, None], 0)
    r_high = np.where(use, taps.high - base[:, :, None], 0)
    width = int(r_high.max(initial=0)) + 1
    if width > 2 * grid:
        index = np.concatenate([taps.low, taps.high], axis=2)
        weights = np.concatenate([np.where(use, taps.w_low, 0), np.where(use, taps.w_high, 0)], axis=2)
        return index, weights.astype(ct)
    row = np.arange(kc * pooled).reshape(kc, pooled, 1) * width
    total = kc * pooled * width
    weights = np.bincount((row + r_low)[use], taps.w_low[use], minlength=total)
    weights += np.bincount((row + r_high)[use], taps.w_high[use], minlength=total)
    # window pixels past the map's edge weigh 0; clip them onto a pixel that exists
    index = np.minimum(base[:, :, None] + np.arange(width), length - 1)
    return index, weights.reshape(kc, pooled, width).astype(ct)


def _taps_per_bin(geo: AxisGeometry) -> np.ndarray:
    """An upper bound on the pixels a bin reads along one axis (see `axis_weights`), per roi."""
    return np.maximum(np.minimum(2 * geo.grid, np.floor(np.abs(geo.bin.astype(np.float64))) + 3), 1)


def _inside_counts(taps: AxisTaps) -> np.ndarray:
    return (taps.present & taps.inside).sum(axis=2)


def _samples(taps: AxisTaps) -> np.ndarray:
    """Samples per bin along one axis [Kc, P]."""
    return taps.present.sum(axis=2)


def _bin_counts(ty: AxisTaps, tx: AxisTaps) -> np.ndarray:
    """Samples per output bin [Kc, PH, PW]."""
    return _samples(ty)[:, :, None] * _samples(tx)[:, None, :]


class _Plan:
    """Geometry of all rois, and their split into chunks of similar cost per batch image."""

    def __init__(self, rois, shape, output_size, spatial_scale, conv: Convention, ct):
        _, c, h, w = shape
        self.ph, self.pw = output_size
        self.height, self.width = h, w
        self.conv, self.ct = conv, ct
        sy, sx = axis_scales(spatial_scale)
        self.y = axis_geometry(rois[:, 2], rois[:, 4], h, sy, self.ph, conv, ct, Y)
        self.x = axis_geometry(rois[:, 1], rois[:, 3], w, sx, self.pw, conv, ct, X)
        self.batch = rois[:, 0].astype(np.int64)
        self.taps_y, self.taps_x = _taps_per_bin(self.y), _taps_per_bin(self.x)
        self.small = self.ph * self.pw * (self.taps_y * self.taps_x).sum() * c <= SMALL_WORK

    def chunks(self, channels: int, workers: int) -> dict[int, list[np.ndarray]]:
        """Roi indices per batch image, in groups whose working memory over a channels-last block
        of `channels` fits a worker's share of WORKING_BYTES, costliest first; about
        CHUNKS_PER_WORKER groups per worker and image so that the workers finish together.

        Average pooling pads a group's matrix rows to its widest roi along each axis, so rois are
        grouped by their taps along y, then x, then by where they start along y (a group of rois
        of a band of the image reads fewer rows of the channels-last block, which then stay in
        cache); its output is [rois, bins, channels]. Max pooling
        holds a few such arrays per sample step, whatever the roi; its rois are grouped by their
        grids along y, then x, since a chunk steps through the samples of its largest grid.
        """
        row = _row_width(channels, self.ct) * self.ct.itemsize
        if self.conv.pooling == "avg":
            ty, tx, per_entry, per_bin = self.taps_y, self.taps_x, ENTRY_BYTES, row
        else:
            # grouped by their grids too: a chunk steps through the samples of its largest grid
            ty, tx = self.y.grid, self.x.grid
            per_entry, per_bin = 0, MAX_STEP_COPIES * row
        bins = self.ph * self.pw

        def size(rois, wide_y, wide_x):
            return rois * bins * (per_entry * wide_y * wide_x + per_bin)

        share = (WORKING_BYTES - self.height * self.width * row - MATRIX_BYTES) // workers
        order = np.lexsort((self.y.start, tx, ty, self.batch))
        groups: dict[int, list[np.ndarray]] = {}
        for b in np.flatnonzero(np.bincount(self.batch)):
            mine = order[self.batch[order] == b]
            even = size(1, ty[mine], tx[mine]).sum() / (CHUNKS_PER_WORKER * workers)
            budget = min(share, max(even, MIN_CHUNK_BYTES))
            start, found = 0, []
            while start < len(mine):
                stop, wide_y, wide_x = start + 1, ty[mine[start]], tx[mine[start]]
                while stop < len(mine):
                    y, x = max(wide_y, ty[mine[stop]]), max(wide_x, tx[mine[stop]])
                    if size(stop - start + 1, y, x) > budget:
                        break
                    stop, wide_y, wide_x = stop + 1, y, x
                found.append((size(stop - start, wide_y, wide_x), mine[start:stop]))
                start = stop
            groups[int(b)] = [sel for _, sel in sorted(found, key=lambda item: -item[0])]
        return groups

    def taps(self, sel) -> tuple[AxisTaps, AxisTaps]:
        ct, conv = self.ct, self.conv
        return sample_taps(self.y, sel, self.ph, self.height, conv, ct), sample_taps(
            self.x, sel, self.pw, self.width, conv, ct
        )


class _Prepared(NamedTuple):
    """A chunk prepared from its rois' geometry once: `apply` maps one channels-last image block
    [pixels, Cb] -> [Kc, PH, PW, Cb]; `product` is its sparse product where it has one (it reads
    only the pixels of its matrix, which can then be renumbered onto a compacted image)."""

    apply: Callable[[np.ndarray], np.ndarray]
    product: _SparseProduct | None = None


def _prepare_avg(plan: _Plan, sel) -> _Prepared:
    """Average pooling of the rois `sel`."""
    ct, conv = plan.ct, plan.conv
    ty, tx = plan.taps(sel)
    count = _bin_counts(ty, tx)
    values, columns = _interpolation_rows(plan, ty, tx)
    if plan.small:
        product, sparse = _gathered_product(values, columns, plan.height * plan.width), None
    else:
        product = sparse = _SparseProduct(values, columns, plan.height * plan.width)
    fill = None
    if conv.fill_value != 0:
        outside = count - _inside_counts(ty)[:, :, None] * _inside_counts(tx)[:, None, :]
        fill = (ct.type(conv.fill_value) * outside / np.maximum(count, 1)).astype(ct)[..., None]

    def apply(image):
        out = product(image).reshape(len(sel), plan.ph, plan.pw, image.shape[1])
        if fill is not None:
            out += fill
        return _mark_empty(out, count, conv)

    return _Prepared(apply, sparse)


def _prepare_max(plan: _Plan, sel) -> _Prepared:
    """Max pooling of the rois `sel`."""
    if plan.conv.whole_pixels and plan.conv.pooling == "max":
        return _Prepared(lambda image: _pixel_max_chunk(plan, sel, image))
    return _Prepared(lambda image: _max_chunk(plan, sel, image))


def _pixel_max_chunk(plan: _Plan, sel, image: np.ndarray) -> np.ndarray:
    """RoIPool's max over bins of whole pixels, [Kc, PH, PW, Cb]: a bin is a rectangle of pixels, so its
    max is the max over its columns of the max over its rows, and each bin row's max over the roi's
    columns serves every bin of that row (instead of one sample step per pixel of the largest bin)."""
    conv, ct = plan.conv, plan.ct
    pixels = image.reshape(plan.height, plan.width, -1)
    ylo, yhi = pixel_bins(plan.y, sel, plan.ph, plan.height, conv, ct)
    xlo, xhi = pixel_bins(plan.x, sel, plan.pw, plan.width, conv, ct)
    out = np.empty((len(sel), plan.ph, plan.pw, image.shape[1]), dtype=ct)
    for k in range(len(sel)):
        x0, x1 = xlo[k].min(), xhi[k].max()
        rows = np.stack([pixels[a:b, x0:x1].max(axis=0, initial=-np.inf) for a, b in zip(ylo[k], yhi[k])])
        out[k] = np.stack([rows[:, a - x0 : b - x0].max(axis=1, initial=-np.inf) for a, b in zip(xlo[k], xhi[k])], 1)
    if conv.max_floor is not None:
        np.maximum(out, ct.type(conv.max_floor), out=out)
    return _mark_empty(out, (yhi - ylo)[:, :, None] * (xhi - xlo)[:, None, :], conv)


def _interpolation_rows(plan: _Plan, ty: AxisTaps, tx: AxisTaps) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's interpolation matrix, one row per (roi, bin) and padded to a common width:
    weights [R, T] (divided by the bin's sample count, axis by axis) and the channels-last pixels they read [R, T]."""
    ct = plan.ct
    iy, wy = axis_weights(ty, plan.height, ct)
    ix, wx = axis_weights(tx, plan.width, ct)
    wy = wy * (ct.type(1) / np.maximum(_samples(ty), 1).astype(ct))[:, :, None]
    wx = wx * (ct.type(1) / np.maximum(_samples(tx), 1).astype(ct))[:, :, None]
    values = wy[:, :, None, :, None] * wx[:, None, :, None, :]
    # int32 pixel indices where they fit: SciPy would otherwise copy both index arrays
    index_type = np.int32 if plan.height * plan.width < 2**31 else np.int64
    iy = iy.astype(index_type) * index_type(plan.width)
    columns = iy[:, :, None, :, None] + ix.astype(index_type)[:, None, :, None, :]
    rows = len(wy) * plan.ph * plan.pw
    return values.reshape(rows, -1), columns.reshape(rows, -1)


class _SparseProduct:
    """The padded rows values/columns [R, T] as a CSR matrix: called on an image block [pixels, Cb], -> [R, Cb]."""

    def __init__(self, values: np.ndarray, columns: np.ndarray, pixels: int):
        import scipy.sparse

        # Dropping the zero entries (padding of ragged bins) costs less than multiplying them.
        keep = values != 0
        if keep.all():  # rows of one width, nothing to drop: the arrays are the matrix as they are
            indptr = np.arange(0, values.size + 1, values.shape[1], dtype=columns.dtype)
            data, indices = values.ravel(), columns.ravel()
        else:
            indptr = np.zeros(len(values) + 1, dtype=columns.dtype)
            np.cumsum(keep.sum(axis=1), out=indptr[1:])
            data, indices = values[keep], columns[keep]
        self.matrix = scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(values), pixels))

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self.matrix @ image

    def mark_read(self, read: np.ndarray) -> None:
        """Set the pixels the matrix reads in `read`, a boolean mask over the image's pixels."""
        read[self.matrix.indices] = True

    def renumber(self, position: np.ndarray) -> None:
        """Read pixel `position[p]` where the matrix read pixel p (the image's rows compacted)."""
        self.matrix.indices = position[self.matrix.indices]


def _gathered_product(values: np.ndarray, columns: np.ndarray, pixels: int):
    """The same product as gathers and weighted sums, a block of rows at a time so that the
    gathered pixels stay in cache: for work too small to pay for importing SciPy."""

    def apply(image):
        out = np.empty((len(values), image.shape[1]), dtype=image.dtype)
        step = max(1, GATHER_BLOCK_BYTES // (values.shape[1] * image.shape[1] * image.itemsize))
        for r0 in range(0, len(values), step):
            rows = slice(r0, r0 + step)
            np.matmul(values[rows, None, :], image[columns[rows]], out=out[rows, None, :])
        return out

    return apply


def _max_chunk(plan: _Plan, sel, image: np.ndarray) -> np.ndarray:
    """Max or corner-max pooling of the rois `sel` over one channels-last image block, a block of
    samples (rows of y samples x columns of x samples) at a time: many samples per step when the
    chunk is small, so that a large grid (43 x 43 samples per bin at scale 1) takes few steps.
    The steps of one shape share two buffers: fresh large arrays cost page faults."""
    ct, conv = plan.ct, plan.conv
    ty, tx = plan.taps(sel)
    floor = -np.inf if conv.max_floor is None else conv.max_floor
    out = np.full((len(sel), plan.ph, plan.pw, image.shape[1]), floor, dtype=ct)
    grid_y, grid_x = ty.low.shape[2], tx.low.shape[2]
    per_sample = out.nbytes * MAX_STEP_COPIES
    step_x = min(grid_x, max(1, MAX_STEP_BYTES // per_sample))
    step_y = min(grid_y, max(1, MAX_STEP_BYTES // (per_sample * step_x)))
    buffers: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    for y0 in range(0, grid_y, step_y):
        for x0 in range(0, grid_x, step_x):
            ys, xs = slice(y0, y0 + step_y), slice(x0, x0 + step_x)
            np.maximum(out, _max_step(ty, tx, ys, xs, image, plan.width, conv, buffers), out=out)
    return _mark_empty(out, _bin_counts(ty, tx), conv)


def _max_step(ty: AxisTaps, tx: AxisTaps, ys: slice, xs: slice, image, w: int, conv: Convention, buffers) -> np.ndarray:
    """The largest value over the samples ys x xs of every bin, [Kc, PH, PW, Cb]; -inf where none
    is present. Each sample's value is the sum (max for corner-max) of its four weighted corners,
    accumulated in the order w_ll v_ll, w_lh v_lh, w_hl v_hl, w_hh v_hh."""

    def y_axis(a):
        return a[:, :, ys, None, None]  # [Kc, PH, sy, 1, 1]

    def x_axis(a):
        return a[:, None, None, :, xs]  # [Kc, 1, 1, PW, sx]

    corners = [
        (y_axis(yi) * w + x_axis(xi), y_axis(wy) * x_axis(wx))
        for yi, wy in ((ty.low, ty.w_low), (ty.high, ty.w_high))
        for xi, wx in ((tx.low, tx.w_low), (tx.high, tx.w_high))
    ]
    shape = (*corners[0][0].shape, image.shape[1])
    if shape not in buffers:
        buffers[shape] = (np.empty(shape, dtype=image.dtype), np.empty(shape, dtype=image.dtype))
    value, term = buffers[shape]
    for i, (index, weight) in enumerate(corners):
        target = value if i == 0 else term
        np.take(image, index, axis=0, out=target)
        np.multiply(weight[..., None], target, out=target)
        if i and conv.pooling == "corner-max":
            np.maximum(value, term, out=value)
        elif i:
            np.add(value, term, out=value)
    np.copyto(value, image.dtype.type(conv.fill_value), where=~(y_axis(ty.inside) & x_axis(tx.inside))[..., None])
    np.copyto(value, image.dtype.type(-np.inf), where=~(y_axis(ty.present) & x_axis(tx.present))[..., None])
    if shape[2] == shape[4] == 1:
        return value[:, :, 0, :, 0]
    return value.max(axis=(2, 4))


def _mark_empty(out: np.ndarray, count: np.ndarray, conv: Convention) -> np.ndarray:
    """Bins without samples (count [Kc, PH, PW] == 0) take the convention's empty value."""
    empty = count == 0
    if empty.any():
        out[empty] = conv.empty_value
    return out


def _channel_blocks(shape, ct):
    """Channel ranges of one width (the last may be narrower) whose channels-last copy, padded rows
    included, fits IMAGE_BLOCK_BYTES, or MAX_IMAGE_BLOCK_BYTES where that makes room for
    MIN_BLOCK_CHANNELS."""
    _, c, h, w = shape
    plane = h * w * ct.itemsize
    fit = max(1, IMAGE_BLOCK_BYTES // plane, min(MIN_BLOCK_CHANNELS, MAX_IMAGE_BLOCK_BYTES // plane))
    step = -(-c // -(-c // fit))
    if step > 1 and h * w * _row_width(step, ct) * ct.itemsize > max(IMAGE_BLOCK_BYTES, fit * plane):
        step -= 1  # then the row is no multiple of 512 bytes and takes no padding
    return [(c0, min(c, c0 + step)) for c0 in range(0, c, step)]


def _waves(plan: _Plan, chunks: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Consecutive chunks whose prepared matrices (at most their padded entries) fit MATRIX_BYTES together."""
    entry = plan.ct.itemsize + 8
    waves, size = [[]], 0
    for sel in chunks:
        need = len(sel) * plan.ph * plan.pw * plan.taps_y[sel].max() * plan.taps_x[sel].max() * entry
        if waves[-1] and size + need > MATRIX_BYTES:
            waves.append([])
            size = 0
        waves[-1].append(sel)
        size += need
    return waves


# `pool` can write its rows into a larger output (see engines.run)
WRITES_INTO = True


def pool(features: np.ndarray, rois: np.ndarray, output_size, spatial_scale, conv: Convention, into=None) -> np.ndarray:
    """RoIAlign of `features` [N, C, H, W] over validated `rois` [K, 5] -> [K, C, PH, PW];
    `spatial_scale` is one number or a (y, x) pair. `into` (out, rows) writes roi i's result
    into out[rows[i]] instead, and returns out."""
    features = np.asarray(features)
    ct = compute_dtype(features.dtype)
    _, c, h, w = features.shape
    ph, pw = output_size
    out, rows = into if into is not None else (np.empty((len(rois), c, ph, pw), dtype=features.dtype), None)
    if len(rois) == 0 or c == 0:  # nothing to pool
        return out
    plan = _Plan(rois, features.shape, output_size, spatial_scale, conv, ct)
    prepare = _prepare_avg if conv.pooling == "avg" else _prepare_max
    workers = 1 if plan.small else os.cpu_count() or 1
    blocks = _channel_blocks(features.shape, ct)
    # One small channels-last buffer for every image and block: fresh memory is slow to come by
    # (the kernel clears every page), and the smaller block runs the product faster too.
    buffer = np.empty(h * w * _row_width(blocks[0][1] - blocks[0][0], ct), dtype=ct)
    with _mapper(workers) as each:
        for b, chunks in plan.chunks(blocks[0][1] - blocks[0][0], workers).items():
            # average pooling keeps a wave of chunks' matrices across the blocks; max pooling keeps nothing
            for wave in _waves(plan, chunks) if conv.pooling == "avg" else [chunks]:
                # each chunk with the output rows its rois fill
                prepared = each(lambda sel: (sel if rows is None else rows[sel], prepare(plan, sel)), wave)
                pixels = _compact([chunk.product for _, chunk in prepared], h * w, each, workers)
                for c0, c1 in blocks:
                    image = buffer[: h * w * _row_width(c1 - c0, ct)].reshape(h * w, -1)
                    channels_last(features[b, c0:c1], image, each, workers, pixels)

                    def run(job, image=image, c0=c0, c1=c1):
                        target, chunk = job
                        # float16 output: values beyond its range (mmcv's -FLT_MAX for an empty bin)
                        # become infinities, as in a float16 kernel
                        with np.errstate(over="ignore"):
                            out[target, c0:c1] = chunk.apply(image)[..., : c1 - c0].transpose(0, 3, 1, 2)

                    each(run, prepared)
    return out


def _compact(products: list[_SparseProduct | None], count: int, each, workers: int) -> np.ndarray | None:
    """The pixels that the chunks' sparse products read, in order, with the products renumbered to
    read them from the first rows of the image; None where some chunk reads every pixel or they
    read more than COMPACT_SHARE of the `count` pixels (then the whole image is copied). Each
    worker marks the pixels of its share of the products in a mask of its own."""
    if any(product is None for product in products):
        return None

    def mark(share):
        read = np.zeros(count, dtype=bool)
        for product in share:
            product.mark_read(read)
        return read

    shares = [products[i::workers] for i in range(min(workers, len(products)))]
    pixels = np.flatnonzero(np.logical_or.reduce(each(mark, shares)))
    if len(pixels) > COMPACT_SHARE * count:
        return None
    position = np.zeros(count, dtype=products[0].matrix.indices.dtype)
    position[pixels] = np.arange(len(pixels), dtype=position.dtype)
    each(lambda product: product.renumber(position), products)
    return pixels


def _row_width(channels: int, ct) -> int:
    """Values per pixel in the channels-last buffer. A row of a multiple of 512 bytes gets one
    cache line more (zeros, pooled and dropped): the transposing copies walk down columns, and
    rows of such sizes would map every step of that walk onto the same few cache sets."""
    return channels + (64 // ct.itemsize if channels * ct.itemsize % 512 == 0 else 0)


@contextmanager
def _mapper(workers: int):
    """A function that applies fn to every item, on `workers` threads (NumPy and SciPy release the GIL)."""
    if workers == 1:
        yield lambda fn, items: list(map(fn, items))
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as executor:
        yield lambda fn, items: list(executor.map(fn, items))


def channels_last(block: np.ndarray, out: np.ndarray, each, workers: int, pixels: np.ndarray | None = None) -> None:
    """Copy [Cb, H, W] into the first Cb columns of `out`, a contiguous [H*W, >= Cb] in the compute
    dtype (the layout the gathers and the matrix product read), and zero the other columns; or,
    given `pixels` (flat indices, in order), copy only those pixels, into the first rows of `out`.

    A direct transposing copy reads each cache line of the source many times, far apart. So the
    copy goes through a small staging block [Cb, a few hundred pixels] that stays in cache, whose
    row stride is off powers of two so that its rows do not share cache sets; the pixels are split
    among the workers.
    """
    cb = block.shape[0]
    flat = block.reshape(cb, -1)
    count = flat.shape[1] if pixels is None else len(pixels)
    # an odd number of pixels per staging block keeps its row stride off multiples of 512 bytes
    step = max(16, STAGE_BYTES // (cb * out.itemsize)) | 1
    share = max(1, -(-count // workers))

    def copy(lo):
        hi = min(count, lo + share)
        out[lo:hi, cb:] = 0
        stage = np.empty(cb * step, dtype=out.dtype)
        for p0 in range(lo, hi, step):
            n = min(step, hi - p0)
            part = stage[: cb * n].reshape(cb, n)
            if pixels is None:
                part[...] = flat[:, p0 : p0 + n]
            elif flat.dtype == part.dtype:  # straight into the block (unbuffered: mode "clip"), NumPy's fastest gather
                np.take(flat, pixels[p0 : p0 + n], axis=1, out=part, mode="clip")
            else:
                part[...] = flat[:, pixels[p0 : p0 + n]]
            out[p0 : p0 + n, :cb] = part.T

    each(copy, range(0, count, share))


def pool_backward(
    grad_output, rois, features_shape, output_size, spatial_scale, conv, deterministic=False, features=None
):
    """The gradient with respect to the features: see `numpy_backward` (deterministic in any case)."""
    from .numpy_backward import pool_backward

    return pool_backward(grad_output, rois, features_shape, output_size, spatial_scale, conv, deterministic, features)
