"""The NumPy engine's backward pass: the gradient of RoIAlign with respect to the features.

Average pooling is a sparse interpolation matrix M per image (rows: roi x bin; columns: pixels)
times the image, so its gradient is the transposed product M^T @ G, with G the output's gradient
laid out channels-last [rois x bins, C]. M is the forward engine's own matrix (its interpolation
rows, per chunk of rois, from `numpy_engine`), so both passes read one geometry. Max pooling
walks the samples again to find the selected one of every cell (the first in scan order that
beats the running maximum, as the forward takes it), and adds the cell's gradient times the
selected sample's tap weights with a bincount.

Both are deterministic: SciPy's product and NumPy's bincount add in a fixed order, and chunks
and channel blocks write disjoint parts of the result, so the `deterministic` switch of the
engine interface changes nothing here. Working memory follows the forward engine's budget: one
block of channels at a time, and the matrices of one wave of chunks.
"""

from __future__ import annotations

import os

import numpy as np

from ..conventions import Convention
from ..geometry import compute_dtype
from .numpy_engine import _channel_blocks, _interpolation_rows, _mapper, _Plan, _row_width, _waves, channels_last


def pool_backward(
    grad_output, rois, features_shape, output_size, spatial_scale: float, conv: Convention, deterministic=False,
    features=None,
) -> np.ndarray:  # fmt: skip
    """The gradient [N, C, H, W] of `pool` for `grad_output` [K, C, PH, PW] (max pooling needs `features`)."""
    grad_output = np.asarray(grad_output)
    ct = compute_dtype(grad_output.dtype)
    out = np.zeros(features_shape, dtype=grad_output.dtype)
    if len(rois) == 0 or out.size == 0:
        return out
    if conv.pooling != "avg" and features is None:
        raise ValueError("max pooling's gradient needs the features (the selected samples depend on them)")
    plan = _Plan(rois, features_shape, output_size, spatial_scale, conv, ct)
    workers = 1 if plan.small else os.cpu_count() or 1
    blocks = _channel_blocks(features_shape, ct)
    # float16 gradients are summed in float32 over the whole image, then rounded once
    total = out if out.dtype == ct else np.zeros(features_shape[1:], dtype=ct)
    with _mapper(workers) as each:
        for b, chunks in plan.chunks(blocks[0][1] - blocks[0][0], workers).items():
            image_total = total[b] if total is out else total
            if conv.pooling == "avg":
                _avg_image(plan, chunks, grad_output, blocks, image_total, each)
            else:
                _max_image(plan, chunks, grad_output, np.asarray(features)[b], blocks, image_total, each, workers)
            if total is not out:
                out[b] = image_total
                image_total[...] = 0
    return out


def _avg_image(plan: _Plan, chunks, grad_output, blocks, total: np.ndarray, each) -> None:
    """Add M^T @ G of one image's rois to `total` [C, H, W], a wave of chunks' matrices at a time."""
    for wave in _waves(plan, chunks):
        rows = each(lambda sel: _interpolation_rows(plan, *plan.taps(sel)), wave)
        transposed = _transposed_matrix(rows, plan.height * plan.width)
        order = np.concatenate(wave)

        def run(block, transposed=transposed, order=order):
            c0, c1 = block
            grads = grad_output[order, c0:c1].transpose(0, 2, 3, 1).reshape(-1, c1 - c0).astype(plan.ct)
            total[c0:c1] += (transposed @ grads).T.reshape(c1 - c0, plan.height, plan.width)

        each(run, blocks)


def _transposed_matrix(rows: list, pixels: int):
    """The chunks' padded interpolation rows (of a width per chunk) stacked into one matrix, transposed:
    [pixels, rows]. The zero entries (padding of ragged bins, samples outside the map) are dropped."""
    import scipy.sparse

    kept = [(values != 0, values, columns) for values, columns in rows]
    data = np.concatenate([values[keep] for keep, values, _ in kept])
    indices = np.concatenate([columns[keep] for keep, _, columns in kept])
    counts = np.concatenate([keep.sum(axis=1) for keep, _, _ in kept])
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return scipy.sparse.csr_matrix((data, indices, indptr), shape=(len(counts), pixels)).T


def _max_image(plan: _Plan, chunks, grad_output, image: np.ndarray, blocks, total: np.ndarray, each, workers) -> None:
    """Add the gradient that one image's rois send to their selected samples to `total` [C, H, W], a block
    of channels at a time. Each worker adds the chunks of a fixed share (every workers-th chunk) into its
    own sum, and the sums are added in worker order: the same result whatever the threads' timing."""
    h, w, ct = plan.height, plan.width, plan.ct
    lanes = [chunks[i::workers] for i in range(min(workers, len(chunks)))]
    for c0, c1 in blocks:
        cb = c1 - c0
        pixels = np.empty((h * w, _row_width(cb, ct)), dtype=ct)
        channels_last(image[c0:c1], pixels, each, 1)
        grads = grad_output[:, c0:c1]

        def lane(mine, pixels=pixels[:, :cb], grads=grads):
            sums = np.zeros(h * w * pixels.shape[1], dtype=ct)
            for sel in mine:
                np.add.at(sums, *_max_chunk_gradient(plan, sel, pixels, grads[sel]))
            return sums

        for sums in each(lane, lanes):
            total[c0:c1] += sums.reshape(h * w, cb).T.reshape(cb, h, w)


def _max_chunk_gradient(plan: _Plan, sel, image: np.ndarray, grads: np.ndarray):
    """For the rois `sel` over a channels-last block `image` [H*W, Cb]: the flat indices (pixel x Cb +
    channel) that their cells' gradients `grads` [Kc, Cb, PH, PW] go to, and the amounts."""
    ty, tx = plan.taps(sel)
    cy, cx, corner = _selected_samples(plan, ty, tx, image)
    k = np.arange(len(sel))[:, None, None, None]
    p = np.arange(plan.ph)[None, :, None, None]
    q = np.arange(plan.pw)[None, None, :, None]
    iy, ix = np.maximum(cy, 0), np.maximum(cx, 0)
    chosen = (cy >= 0) & ty.inside[k, p, iy] & tx.inside[k, q, ix]  # a fill value takes no gradient
    channel = np.arange(image.shape[1])
    grads = grads.transpose(0, 2, 3, 1).astype(plan.ct)
    # the selected sample's taps along each axis, gathered once: (pixel, weight) for low and high
    ys = [(yi[k, p, iy], wy[k, p, iy]) for yi, wy in ((ty.low, ty.w_low), (ty.high, ty.w_high))]
    xs = [(xi[k, q, ix], wx[k, q, ix]) for xi, wx in ((tx.low, tx.w_low), (tx.high, tx.w_high))]
    index, amount = [], []
    for t, ((y_pixel, wy), (x_pixel, wx)) in enumerate((y, x) for y in ys for x in xs):
        mine = chosen if corner is None else chosen & (corner == t)
        index.append(((y_pixel * plan.width + x_pixel) * image.shape[1] + channel)[mine])
        amount.append((grads * (wy * wx))[mine])
    return np.concatenate(index), np.concatenate(amount)


def _selected_samples(plan: _Plan, ty, tx, image: np.ndarray):
    """The sample each cell's maximum ends on, per channel: (y index, x index) in the bin's grid, -1
    where the floor stays (or the bin is empty), and for corner-max the selected corner (0..3).

    A sample is taken when its value is greater than the running maximum, or is the first NaN;
    so of equal values the first in scan order (y, then x) wins, as in the reference engine.
    """
    ct, conv, w = plan.ct, plan.conv, plan.width
    shape = (ty.low.shape[0], plan.ph, plan.pw, image.shape[1])
    best = np.full(shape, -np.inf if conv.max_floor is None else conv.max_floor, dtype=ct)
    cy, cx = np.full(shape, -1), np.full(shape, -1)
    corner = np.zeros(shape, dtype=np.int64) if conv.pooling == "corner-max" else None
    for iy in range(ty.low.shape[2]):
        for ix in range(tx.low.shape[2]):
            present = (ty.present[:, :, iy, None] & tx.present[:, None, :, ix])[..., None]
            if not present.any():
                continue
            terms = [
                (wy[:, :, iy, None] * wx[:, None, :, ix])[..., None]
                * image[yi[:, :, iy, None] * w + xi[:, None, :, ix]]
                for yi, wy in ((ty.low, ty.w_low), (ty.high, ty.w_high))
                for xi, wx in ((tx.low, tx.w_low), (tx.high, tx.w_high))
            ]
            if corner is None:
                value = terms[0] + terms[1] + terms[2] + terms[3]
            else:
                value, largest = _first_maximum(terms)
            inside = (ty.inside[:, :, iy, None] & tx.inside[:, None, :, ix])[..., None]
            value = np.where(inside, value, ct.type(conv.fill_value))
            take = present & ((value > best) | (np.isnan(value) & ~np.isnan(best)))
            best = np.where(take, value, best)
            cy[take], cx[take] = iy, ix
            if corner is not None:
                corner[take] = largest[take]
    return cy, cx, corner


def _first_maximum(terms: list):
    """The running maximum of `terms` under the selection rule, and the index of the term it ends on."""
    best, index = terms[0], np.zeros(terms[0].shape, dtype=np.int64)
    for t, term in enumerate(terms[1:], 1):
        take = (term > best) | (np.isnan(term) & ~np.isnan(best))
        best = np.where(take, term, best)
        index[take] = t
    return best, index
