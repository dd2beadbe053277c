"""Position-sensitive pooling (R-FCN PSROIPooling, torchvision ps_roi_align) over any engine.

Output channel c of bin (ph, pw) reads input channel (c * PH + ph) * PW + pw: the input's channels
are C / (PH * PW) runs of PH * PW, one channel per bin. Pooling the channels of one bin as a plain
map and keeping only that bin gives every engine the position-sensitive variant of every
convention without knowing about it; each engine call still pools all bins, so this costs
PH * PW times the work of the output, in memory no more than the output.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError


def output_channels(channels: int, output_size) -> int:
    """C / (PH * PW), or an InputError naming the mismatch."""
    bins = output_size[0] * output_size[1]
    if channels % bins:
        raise InputError(
            f"position-sensitive pooling needs input channels divisible by PH * PW = {bins}; the features have "
            f"{channels} (R-FCN: channels = output channels x {output_size[0]} x {output_size[1]})"
        )
    return channels // bins


def pool(engine_pool, features, rois, output_size, spatial_scale, conv):
    """`engine_pool` (an engine's plain `pool`) run per bin over that bin's channels -> [K, C / (PH * PW), PH, PW]."""
    ph, pw = output_size
    plain = conv.with_(channel_mapping="none")
    out = None
    for i in range(ph):
        for j in range(pw):
            part = engine_pool(features[:, i * pw + j :: ph * pw], rois, output_size, spatial_scale, plain)
            if out is None:
                out = np.empty_like(part)  # NumPy or CuPy, as the engine returns (NEP 18 dispatch)
            out[:, :, i, j] = part[:, :, i, j]
    return out


def pool_backward(engine_backward, grad_output, rois, features_shape, output_size, spatial_scale, conv,
                  deterministic=False, features=None):  # fmt: skip
    """The gradient [N, C, H, W] of `pool`: each bin's output gradient sent back, by `engine_backward`
    (an engine's plain `pool_backward`), into the channels that bin reads."""
    ph, pw = output_size
    bins = ph * pw
    plain = conv.with_(channel_mapping="none")
    n, channels, height, width = features_shape
    out = None
    alone = np.zeros_like(grad_output)  # one bin's gradient at a time, NumPy or CuPy as given
    for i in range(ph):
        for j in range(pw):
            group = i * pw + j
            alone[:, :, i, j] = grad_output[:, :, i, j]
            part = engine_backward(
                alone, rois, (n, channels // bins, height, width), output_size, spatial_scale, plain,
                deterministic, None if features is None else features[:, group::bins],
            )  # fmt: skip
            alone[:, :, i, j] = 0
            if out is None:
                out = np.zeros_like(part, shape=tuple(features_shape))
            out[:, group::bins] = part
    return out
