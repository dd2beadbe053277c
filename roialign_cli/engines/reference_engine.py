"""The reference engine: RoIAlign as the specification reads, one roi, bin and sample at a time.

Slow and plain on purpose: no chunks, matrices or layouts, only the geometry of
`roialign_cli.geometry` and the pooling rule of the convention, so that it is easy to check by
eye. Every other engine and every preset is tested against it; `--backend reference` runs it for
a second opinion on small inputs. It maps position-sensitive channels itself, apart from the
shared wrapper the other engines use.
"""

from __future__ import annotations

import numpy as np

from ..conventions import Convention, X, Y
from ..geometry import axis_geometry, axis_scales, compute_dtype, sample_taps

POSITION_SENSITIVE = True  # computes channel_mapping='position-sensitive' itself


def pool(features, rois, output_size, spatial_scale, conv: Convention) -> np.ndarray:
    """RoIAlign of `features` [N, C, H, W] over validated `rois` [K, 5] -> [K, C, PH, PW];
    `spatial_scale` is one number or a (y, x) pair."""
    features = np.asarray(features)
    ct = compute_dtype(features.dtype)
    images = features.astype(ct, copy=False)
    _, channels, height, width = features.shape
    ph, pw = output_size
    sy, sx = axis_scales(spatial_scale)
    sensitive = conv.channel_mapping == "position-sensitive"
    out = np.empty((len(rois), channels // (ph * pw) if sensitive else channels, ph, pw), dtype=features.dtype)
    for k, (batch, x1, y1, x2, y2) in enumerate(np.asarray(rois, dtype=np.float64)):
        ys = axis_samples(y1, y2, height, sy, ph, conv, ct, Y)
        xs = axis_samples(x1, x2, width, sx, pw, conv, ct, X)
        for i in range(ph):
            for j in range(pw):
                # output channel c of bin (i, j) reads input channel (c * PH + i) * PW + j
                image = images[int(batch), i * pw + j :: ph * pw] if sensitive else images[int(batch)]
                with np.errstate(over="ignore"):  # float16 output: beyond its range is infinity
                    out[k, :, i, j] = pool_bin(image, ys[i], xs[j], conv, ct)
    return out


def axis_samples(c1: float, c2: float, length: int, spatial_scale: float, pooled: int, conv: Convention, ct, axis):
    """For each bin along one axis of one roi, its samples as (low, high, w_low, w_high, inside)."""
    geo = axis_geometry(np.array([c1]), np.array([c2]), length, spatial_scale, pooled, conv, ct, axis)
    taps = sample_taps(geo, [0], pooled, length, conv, ct)
    fields = (taps.low, taps.high, taps.w_low, taps.w_high, taps.inside)
    return [
        [tuple(f[0, p, s] for f in fields) for s in range(taps.low.shape[2]) if taps.present[0, p, s]]
        for p in range(pooled)
    ]


def pool_bin(image: np.ndarray, ys: list, xs: list, conv: Convention, ct) -> np.ndarray:
    """One output cell over every channel: the bin's samples pooled by the convention's rule."""
    values = [sample(image, y, x, conv, ct) for y in ys for x in xs]
    if not values:
        return np.full(image.shape[0], conv.empty_value, dtype=ct)
    if conv.pooling == "avg":
        return np.sum(values, axis=0) / ct.type(len(values))
    floor = -np.inf if conv.max_floor is None else conv.max_floor
    return np.maximum.reduce([np.full(image.shape[0], floor, dtype=ct), *values])


def sample(image: np.ndarray, y: tuple, x: tuple, conv: Convention, ct) -> np.ndarray:
    """One sample point over every channel: bilinear, or its largest weighted corner for corner-max."""
    (y_low, y_high, wy_low, wy_high, y_inside), (x_low, x_high, wx_low, wx_high, x_inside) = y, x
    if not (y_inside and x_inside):
        return np.full(image.shape[0], conv.fill_value, dtype=ct)
    terms = [
        (wy * wx) * image[:, yi, xi]
        for yi, wy in ((y_low, wy_low), (y_high, wy_high))
        for xi, wx in ((x_low, wx_low), (x_high, wx_high))
    ]
    return np.maximum.reduce(terms) if conv.pooling == "corner-max" else terms[0] + terms[1] + terms[2] + terms[3]


def pool_backward(
    grad_output, rois, features_shape, output_size, spatial_scale: float, conv: Convention, deterministic=False,
    features=None,
) -> np.ndarray:  # fmt: skip
    """The gradient of `pool` with respect to the features [N, C, H, W], for `grad_output` [K, C, PH, PW].

    Average pooling scatters each cell's gradient x weight / sample count onto the taps of its
    samples inside the map. Max pooling sends it to the taps of the one selected sample (and
    corner-max to the selected corner only), which needs the `features`: the first sample in scan
    order (y, then x) that beats the running maximum, as the forward pass's maximum is taken (see
    `select`). Fill values, floors and empty bins are constants: no gradient. Always deterministic.
    """
    grad_output = np.asarray(grad_output)
    ct = compute_dtype(grad_output.dtype)
    grads = grad_output.astype(ct, copy=False)
    images = None if features is None else np.asarray(features).astype(ct, copy=False)
    _, _, height, width = features_shape
    ph, pw = output_size
    out = np.zeros(features_shape, dtype=ct)
    sy, sx = axis_scales(spatial_scale)
    for k, (batch, x1, y1, x2, y2) in enumerate(np.asarray(rois, dtype=np.float64)):
        ys = axis_samples(y1, y2, height, sy, ph, conv, ct, Y)
        xs = axis_samples(x1, x2, width, sx, pw, conv, ct, X)
        b = int(batch)
        for i in range(ph):
            for j in range(pw):
                image = None if images is None else images[b]
                for yi, xi, amount in bin_gradient(image, ys[i], xs[j], grads[k, :, i, j], conv, ct):
                    out[b, :, yi, xi] += amount
    return out.astype(grad_output.dtype, copy=False)


def bin_gradient(image, ys: list, xs: list, grad: np.ndarray, conv: Convention, ct):
    """What one output cell sends back to the map: (y, x, amount per channel) for each tap it read."""
    samples = [(y, x) for y in ys for x in xs if y[4] and x[4]]  # inside the map: fill values are constants
    if conv.pooling == "avg":
        share = grad / ct.type(max(len(ys) * len(xs), 1))
        return [(yi, xi, share * w) for y, x in samples for yi, xi, w in taps(y, x)]
    if image is None:
        raise ValueError("max pooling's gradient needs the features (the selected samples depend on them)")
    values = [sample(image, y, x, conv, ct) for y in ys for x in xs]
    if not values:
        return []
    floor = -np.inf if conv.max_floor is None else conv.max_floor
    chosen = select(values, floor)
    terms = []
    every = [(y, x) for y in ys for x in xs]
    for s, (y, x) in enumerate(every):
        mine = chosen == s
        if not (mine.any() and y[4] and x[4]):
            continue
        corners = taps(y, x)
        if conv.pooling == "corner-max":
            corner = select([w * image[:, yi, xi] for yi, xi, w in corners], -np.inf)
            terms += [(yi, xi, np.where(mine & (corner == t), grad * w, 0)) for t, (yi, xi, w) in enumerate(corners)]
        else:
            terms += [(yi, xi, np.where(mine, grad * w, 0)) for yi, xi, w in corners]
    return terms


def taps(y: tuple, x: tuple) -> list:
    """The four pixels a sample reads and their weights, in the order the forward pass sums them."""
    (y_low, y_high, wy_low, wy_high, _), (x_low, x_high, wx_low, wx_high, _) = y, x
    return [
        (yi, xi, wy * wx)
        for yi, wy in ((y_low, wy_low), (y_high, wy_high))
        for xi, wx in ((x_low, wx_low), (x_high, wx_high))
    ]


def select(values: list, floor: float) -> np.ndarray:
    """Per channel, the index of the value that a running maximum from `floor` ends on (-1: the floor).

    The maximum moves to a value strictly greater than it, or to the first NaN (which then stays,
    as numpy.maximum propagates it): so among equal maxima the first in scan order wins, as in
    mmcv's and Caffe2's arg-max kernels.
    """
    best = np.full(values[0].shape, floor, dtype=values[0].dtype)
    chosen = np.full(values[0].shape, -1)
    for s, value in enumerate(values):
        take = (value > best) | (np.isnan(value) & ~np.isnan(best))
        best = np.where(take, value, best)
        chosen = np.where(take, s, chosen)
    return chosen
