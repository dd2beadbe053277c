"""Time roialign's backward pass (the gradient with respect to the features) against torchvision's CPU
backward on the box-head workload of bench.py, on identical inputs in one process, engines interleaved.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_backward.py --repeats 5

torchvision's side is its backward kernel itself (torch.ops.torchvision._roi_align_backward, what autograd
calls), so neither side pays for autograd's bookkeeping. Prints a Markdown section for BENCHMARKS.md. Needs
torch and torchvision; `--workloads` picks others of bench.py's workloads (2: box head, the default).
"""

from __future__ import annotations

import argparse
import os
import statistics
from datetime import date

import numpy as np
from bench import WORKLOADS, Workload, interleaved, machine, make_inputs


def ours(workload: Workload, features, rois, deterministic=False):
    from roialign_cli import roi_align_backward

    def run(grad):
        return roi_align_backward(grad, rois, features.shape, None, workload.spatial_scale, workload.sampling_ratio,
                                  workload.aligned, backend="numpy", deterministic=deterministic)  # fmt: skip

    return run


def torchvision_backward(workload: Workload, features, rois):
    import torch
    import torchvision  # noqa: F401 -- registers torch.ops.torchvision

    n, c, h, w = features.shape
    boxes = torch.from_numpy(rois.astype(np.float32))
    size = workload.output_size

    def run(grad):
        return torch.ops.torchvision._roi_align_backward(
            torch.from_numpy(grad),
            boxes,
            workload.spatial_scale,
            size,
            size,
            n,
            c,
            h,
            w,
            workload.sampling_ratio,
            workload.aligned,
        ).numpy()

    return run


def bench(workload: Workload, repeats: int, seed: int) -> list[list[str]]:
    features, rois = make_inputs(workload, seed)
    rng = np.random.default_rng(seed)
    size = workload.output_size
    grad = rng.standard_normal((len(rois), features.shape[1], size, size), dtype=np.float32)
    calls = {
        "roialign numpy": ours(workload, features, rois),
        "torchvision cpu": torchvision_backward(workload, features, rois),
    }
    expected = calls["torchvision cpu"](grad)
    diff = float(np.abs(calls["roialign numpy"](grad) - expected).max())
    times = interleaved({name: (lambda call=call: call(grad)) for name, call in calls.items()}, repeats)
    ours_ms = statistics.median(times["roialign numpy"]) * 1000
    theirs_ms = statistics.median(times["torchvision cpu"]) * 1000
    return [
        [f"{workload.number} {workload.name}", "roialign numpy", str(os.cpu_count()), f"{ours_ms:.1f}",
         f"{theirs_ms / ours_ms:.1f}x", f"{diff:.1e}"],
        [f"{workload.number} {workload.name}", "torchvision cpu", f"{os.cpu_count()} (kernel serial)",
         f"{theirs_ms:.1f}", "-", "-"],
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="2", help="bench.py workload numbers, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = [row for n in args.workloads.split(",") for row in bench(WORKLOADS[int(n)], args.repeats, args.seed)]
    info = machine()
    print(f"Date: {date.today()}. Median of {args.repeats} repeats, engines interleaved; float32, a random gradient "
          "of the output. Speed-up: torchvision's median over roialign's. Max |diff|: largest absolute difference "
          "between the two gradients.\n")  # fmt: skip
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + "\n")
    print("| workload | engine | threads | median ms | speed-up vs torchvision | max |diff| vs torchvision |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
