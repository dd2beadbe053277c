"""The reference engine: RoIAlign as the specification reads, one roi, bin and sample at a time.

Slow and plain on purpose: no chunks, matrices or layouts, only the geometry of
`roialign_cli.geometry` and the pooling rule of the convention, so that it is easy to check by
eye. Every other engine and every preset is tested against it; `--backend reference` runs it for
a second opinion on small inputs. It maps position-sensitive channels itself, apart from the
shared wrapper the other engines use.
"""

from __future__ import annotations

import numpy as np

from ..conventions import Convention
from ..geometry import axis_geometry, compute_dtype, sample_taps

POSITION_SENSITIVE = True  # computes channel_mapping='position-sensitive' itself


def pool(features, rois, output_size, spatial_scale: float, conv: Convention) -> np.ndarray:
    """RoIAlign of `features` [N, C, H, W] over validated `rois` [K, 5] -> [K, C, PH, PW]."""
    features = np.asarray(features)
    ct = compute_dtype(features.dtype)
    images = features.astype(ct, copy=False)
    _, channels, height, width = features.shape
    ph, pw = output_size
    sensitive = conv.channel_mapping == "position-sensitive"
    out = np.empty((len(rois), channels // (ph * pw) if sensitive else channels, ph, pw), dtype=features.dtype)
    for k, (batch, x1, y1, x2, y2) in enumerate(np.asarray(rois, dtype=np.float64)):
        ys = axis_samples(y1, y2, height, spatial_scale, ph, conv, ct)
        xs = axis_samples(x1, x2, width, spatial_scale, pw, conv, ct)
        for i in range(ph):
            for j in range(pw):
                # output channel c of bin (i, j) reads input channel (c * PH + i) * PW + j
                image = images[int(batch), i * pw + j :: ph * pw] if sensitive else images[int(batch)]
                with np.errstate(over="ignore"):  # float16 output: beyond its range is infinity
                    out[k, :, i, j] = pool_bin(image, ys[i], xs[j], conv, ct)
    return out


def axis_samples(c1: float, c2: float, length: int, spatial_scale: float, pooled: int, conv: Convention, ct):
    """For each bin along one axis of one roi, its samples as (low, high, w_low, w_high, inside)."""
    geo = axis_geometry(np.array([c1]), np.array([c2]), length, spatial_scale, pooled, conv, ct)
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
