"""Time the CUDA engine against torchvision's CUDA roi_align on detector-like shapes.

    python benchmarks/cuda_roi_align.py [--repeat 50]

Needs a GPU and CuPy; torchvision with CUDA is optional (its column is left empty without it).
Each figure is the median of `--repeat` runs in milliseconds, measured with CUDA events around
work already on the device: `engine` is the whole call (channels-last copy and launch),
`kernel` the launch alone on features that already are channels-last.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from roialign_cli.conventions import Convention  # noqa: E402
from roialign_cli.engines import cuda_engine  # noqa: E402

ALIGNED = Convention(sample_offset=0.5, min_size=None)
# (name, features shape [N, C, H, W], rois, output size, sampling ratio, spatial scale, dtype)
CASES = (
    ("box head, P2 stride 4", (2, 256, 200, 304), 1000, (7, 7), 2, 0.25, "float32"),
    ("box head, P2, half", (2, 256, 200, 304), 1000, (7, 7), 2, 0.25, "float16"),
    ("mask head, P3 stride 8", (2, 256, 100, 152), 100, (14, 14), 2, 0.125, "float32"),
    ("adaptive sampling, P4", (2, 256, 50, 76), 1000, (7, 7), 0, 0.0625, "float32"),
    ("few rois, large map", (1, 256, 200, 304), 16, (7, 7), 2, 0.25, "float32"),
)


def random_rois(rng, count, batch, height, width, scale):
    size = rng.uniform(8, 256, (count, 2))
    corner = rng.uniform(0, 1, (count, 2)) * (np.array([width, height]) / scale - size)
    return np.column_stack([rng.integers(0, batch, count), corner, corner + size]).astype(np.float64)


def median_ms(run, repeat):
    import cupy

    run()  # compile and warm up
    times = []
    for _ in range(repeat):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        run()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def time_case(case, repeat, rng):
    import cupy

    name, shape, count, size, sampling, scale, dtype = case
    features = cupy.asarray(rng.standard_normal(shape, dtype=np.float32).astype(dtype))
    rois = random_rois(rng, count, shape[0], shape[2], shape[3], scale)
    conv = ALIGNED.with_(sampling_ratio=sampling)
    channels_last = cupy.ascontiguousarray(features.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    row = {
        "case": name,
        "engine": median_ms(lambda: cuda_engine.pool(features, rois, size, scale, conv), repeat),
        "kernel": median_ms(lambda: cuda_engine.pool(channels_last, rois, size, scale, conv), repeat),
        "torchvision": None,
    }
    try:
        import torch
        from torchvision.ops import roi_align
    except ImportError:
        return row
    if torch.cuda.is_available():
        x = torch.from_dlpack(features)
        r = torch.from_numpy(rois.astype(dtype)).cuda()
        row["torchvision"] = median_ms(lambda: roi_align(x, r, size, scale, sampling, True), repeat)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    usable, reason = cuda_engine.availability()
    if not usable:
        sys.exit(f"no usable GPU: {reason}")
    print(reason)
    rng = np.random.default_rng(0)
    print(f"{'case':28} {'engine ms':>10} {'kernel ms':>10} {'torchvision ms':>15}")
    for case in CASES:
        row = time_case(case, args.repeat, rng)
        tv = "" if row["torchvision"] is None else f"{row['torchvision']:.3f}"
        print(f"{row['case']:28} {row['engine']:10.3f} {row['kernel']:10.3f} {tv:>15}")


if __name__ == "__main__":
    main()
