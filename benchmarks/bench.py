"""Time roialign's engines against the CPU peers' RoIAlign on identical inputs, in one process.

    python benchmarks/bench.py                      # all workloads, 5 repeats, a table on stdout
    python benchmarks/bench.py --workloads 2,3 --repeats 9
    python benchmarks/bench.py --markdown BENCHMARKS.md   # regenerate the committed report

Workloads (float32 features, torchvision semantics: no preset):
  1 seed      [1,128,24,72], 18 SSD-like relative boxes x a 576x192 image, 7x7, scale 1/8, adaptive, not aligned
  2 box head  [2,256,200,336], 1000 boxes, 7x7, sampling ratio 2, aligned, scale 1/4
  3 adaptive  as 2 with sampling ratio 0
  4 mask head [2,256,100,168], 512 boxes, 14x14, sampling ratio 2, not aligned, scale 1/8
  5 pyramid   four levels P2..P5 of a 1344x800 image (strides 4..32, finest [2,256,200,336]), 1000 boxes of
              16..700 px, 7x7, sampling ratio 2, torchvision's level mapper and inferred scales, against
              torchvision.ops.MultiScaleRoIAlign (the other peers have no pyramid op)
  6 roi pool  as 2 with RoIPool (preset torchvision-roi-pool = Caffe ROIPooling), 7x7, scale 1/4, against
              torchvision.ops.roi_pool (the other peers' RoIAlign ops do not apply)

Boxes of workloads 2-4 are drawn with `random_boxes`: width and height uniform in 16..400 px, placed
uniformly inside the 1344x800 input image (so that the box fits), batch index uniform; features are
standard normal. Every workload has its own fixed seed (--seed plus its number).

Each repeat runs every engine once, one after the other, so that all engines see the same machine
state, each after a pause of SETTLE_SECONDS: the peers' thread pools (onnxruntime's, OpenMP's, TBB's)
keep spinning for a while after a call and would slow down whichever engine runs next; the table gives
the median. CPU engines: roialign's NumPy engine (os.cpu_count() threads),
torchvision's CPU op (torch.get_num_threads() threads; its roi_align kernel itself is serial), and,
where installed, onnxruntime's CPU RoiAlign (a one-node opset-16 model) and OpenVINO's ROIAlign-9
(f32), each with os.cpu_count() intra-op threads; the ratio to the fastest of them is roialign's
lead. With
a GPU: roialign's CUDA engine and torchvision's CUDA op, timed with CUDA events on device-resident
arrays (kernel time) and with a host clock from NumPy arrays to a NumPy result (end to end).
"Working memory" is the peak resident memory a call adds beyond its own output, measured in a fresh
subprocess per workload and engine (the peak is reset through /proc/self/clear_refs just before the
call). Without torchvision only roialign's engines and the other installed peers are timed.
Then: the seed case against `python -c "import numpy"`, the NumPy engine's profile and its
memory-traffic bound (benchmarks/engine_profile.py), and `roialign explain` without hints.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

IMAGE_SIZE = (1344, 800)  # (width, height) of the input image of workloads 2-5
STRIDES = (4, 8, 16, 32)  # the pyramid's levels P2..P5 (workload 5)
# Pause before each timed call, long enough for the previous engine's spinning threads to go to sleep.
SETTLE_SECONDS = 0.2


@dataclass(frozen=True)
class Workload:
    number: int
    name: str
    features: tuple[int, int, int, int]
    rois: int
    output_size: int
    spatial_scale: float
    sampling_ratio: int
    aligned: bool
    pyramid: bool = False  # features: P2..P5 of IMAGE_SIZE, the finest of shape `features`
    roi_pool: bool = False  # RoIPool (torchvision.ops.roi_pool) instead of RoIAlign

    def describe(self) -> str:
        sr = "adaptive" if self.sampling_ratio <= 0 else f"sr {self.sampling_ratio}"
        scale = f"1/{round(1 / self.spatial_scale)}"
        if self.roi_pool:
            size = f"{self.output_size}x{self.output_size}"
            return f"{list(self.features)}, {self.rois} rois, {size}, RoIPool, scale {scale}"
        if self.pyramid:
            return (
                f"P2..P5 of a {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} image, finest {list(self.features)}, {self.rois} rois, "
                f"{self.output_size}x{self.output_size}, {sr}, torchvision's level mapper (MultiScaleRoIAlign)"
            )
        return (
            f"{list(self.features)}, {self.rois} rois, {self.output_size}x{self.output_size}, {sr}, "
            f"{'aligned' if self.aligned else 'not aligned'}, scale {scale}"
        )


WORKLOADS = {
    w.number: w
    for w in (
        Workload(1, "seed", (1, 128, 24, 72), 18, 7, 1 / 8, 0, False),
        Workload(2, "box head", (2, 256, 200, 336), 1000, 7, 1 / 4, 2, True),
        Workload(3, "adaptive", (2, 256, 200, 336), 1000, 7, 1 / 4, 0, True),
        Workload(4, "mask head", (2, 256, 100, 168), 512, 14, 1 / 8, 2, False),
        Workload(5, "pyramid", (2, 256, 200, 336), 1000, 7, 1 / 4, 2, False, pyramid=True),
        Workload(6, "roi pool", (2, 256, 200, 336), 1000, 7, 1 / 4, -1, False, roi_pool=True),
    )
}


def random_boxes(rng, count: int, batch: int, image_size=IMAGE_SIZE, sizes=(16.0, 400.0)) -> np.ndarray:
    """[count, 5] rois (batch, x1, y1, x2, y2) in image pixels: sides uniform in `sizes`, inside the image."""
    width, height = image_size
    w = rng.uniform(*sizes, count)
    h = rng.uniform(*sizes, count)
    x1 = rng.uniform(0, width - w)
    y1 = rng.uniform(0, height - h)
    b = rng.integers(0, batch, count)
    return np.stack([b, x1, y1, x1 + w, y1 + h], axis=1)


def ssd_boxes(rng, count: int, image_size=(576, 192)) -> np.ndarray:
    """[count, 5] rois like an SSD detector's: relative boxes (0..1) times the input image size."""
    x1, y1 = rng.uniform(0.0, 0.8, count), rng.uniform(0.0, 0.7, count)
    x2 = np.minimum(x1 + rng.uniform(0.05, 0.35, count), 1.0)
    y2 = np.minimum(y1 + rng.uniform(0.1, 0.5, count), 1.0)
    width, height = image_size
    return np.stack([np.zeros(count), x1 * width, y1 * height, x2 * width, y2 * height], axis=1)


def make_inputs(workload: Workload, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + workload.number)
    if workload.pyramid:
        n, c, _, _ = workload.features
        width, height = IMAGE_SIZE
        maps = [rng.standard_normal((n, c, -(-height // s), -(-width // s)), dtype=np.float32) for s in STRIDES]
        rois = random_boxes(rng, workload.rois, n, sizes=(16.0, 700.0))
        return maps, rois[np.argsort(rois[:, 0], kind="stable")]  # by image, the order MultiScaleRoIAlign returns
    features = rng.standard_normal(workload.features, dtype=np.float32)
    if workload.number == 1:
        rois = ssd_boxes(rng, workload.rois)
    else:
        rois = random_boxes(rng, workload.rois, workload.features[0])
    return features, rois


# --- engines: each is a callable (features, rois) -> NumPy result, built once per workload ---------


def ours(workload: Workload, backend: str):
    from roialign_cli import roi_align
    from roialign_cli.api import multi_scale_roi_align

    if workload.pyramid:
        return lambda maps, rois: multi_scale_roi_align(
            maps,
            rois,
            workload.output_size,
            image_size=IMAGE_SIZE,
            sampling_ratio=workload.sampling_ratio,
            backend=backend,
        )

    if workload.roi_pool:
        size, scale = workload.output_size, workload.spatial_scale
        return lambda features, rois: roi_align(
            features, rois, size, scale, preset="torchvision-roi-pool", backend=backend
        )

    def run(features, rois):
        return roi_align(
            features,
            rois,
            workload.output_size,
            workload.spatial_scale,
            workload.sampling_ratio,
            workload.aligned,
            backend=backend,
        )

    return run


def torchvision_op(workload: Workload, device: str = "cpu"):
    import torch
    from torchvision.ops import roi_align

    if workload.pyramid:
        return torchvision_pyramid(workload, device)

    def run(features, rois):
        if workload.roi_pool:
            from torchvision.ops import roi_pool

            return roi_pool(features, rois, workload.output_size, workload.spatial_scale)
        return roi_align(
            features, rois, workload.output_size, workload.spatial_scale, workload.sampling_ratio, workload.aligned
        )

    def on_host(features, rois):
        f = torch.from_numpy(features).to(device)
        r = torch.from_numpy(rois.astype(np.float32)).to(device)
        return run(f, r).cpu().numpy()

    return run, on_host


PEER_THREADS = os.cpu_count() or 1  # intra-op threads of onnxruntime and OpenVINO: as many as roialign's engine uses


def onnxruntime_op(workload: Workload):
    """onnxruntime's CPU RoiAlign (one-node opset-16 model, PEER_THREADS intra-op threads) on the
    workload's convention: half_pixel is torchvision's aligned=True, output_half_pixel aligned=False."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node(
        "RoiAlign",
        ["X", "rois", "batch_indices"],
        ["Y"],
        mode="avg",
        output_height=workload.output_size,
        output_width=workload.output_size,
        sampling_ratio=max(workload.sampling_ratio, 0),
        spatial_scale=workload.spatial_scale,
        coordinate_transformation_mode="half_pixel" if workload.aligned else "output_half_pixel",
    )
    graph = helper.make_graph(
        [node],
        "roi_align",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("rois", TensorProto.FLOAT, None),
            helper.make_tensor_value_info("batch_indices", TensorProto.INT64, None),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = PEER_THREADS
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def prepare(features, rois):
        inputs = {"X": features, "rois": rois[:, 1:].astype(np.float32), "batch_indices": rois[:, 0].astype(np.int64)}
        return lambda: session.run(None, inputs)[0]

    return prepare


def openvino_op(workload: Workload):
    """OpenVINO's CPU ROIAlign-9 (PEER_THREADS threads, f32 precision): aligned_mode half_pixel_for_nn is
    torchvision's aligned=True, asymmetric aligned=False."""
    import openvino as ov
    import openvino.opset9 as ops

    def prepare(features, rois):
        data = ops.parameter(list(features.shape), ov.Type.f32)
        boxes = ops.parameter([len(rois), 4], ov.Type.f32)
        batch = ops.parameter([len(rois)], ov.Type.i32)
        node = ops.roi_align(
            data,
            boxes,
            batch,
            workload.output_size,
            workload.output_size,
            max(workload.sampling_ratio, 0),
            workload.spatial_scale,
            "avg",
            "half_pixel_for_nn" if workload.aligned else "asymmetric",
        )
        config = {"INFERENCE_NUM_THREADS": PEER_THREADS, "INFERENCE_PRECISION_HINT": "f32"}
        compiled = ov.Core().compile_model(ov.Model([node], [data, boxes, batch]), "CPU", config)
        request = compiled.create_infer_request()
        inputs = [features, rois[:, 1:].astype(np.float32), rois[:, 0].astype(np.int32)]
        return lambda: np.array(request.infer(inputs)[0])

    return prepare


def torchvision_pyramid(workload: Workload, device: str):
    """MultiScaleRoIAlign over maps (a list) and rois [K, 5]: boxes split per image, as it takes them."""
    from collections import OrderedDict

    import torch
    from torchvision.ops import MultiScaleRoIAlign

    names = [f"p{k}" for k in range(2, 2 + len(STRIDES))]
    pooler = MultiScaleRoIAlign(names, workload.output_size, workload.sampling_ratio)

    def run(maps, rois):
        boxes = [rois[rois[:, 0] == b, 1:] for b in range(maps[0].shape[0])]
        return pooler(OrderedDict(zip(names, maps)), boxes, [IMAGE_SIZE[::-1]] * maps[0].shape[0])

    def on_host(maps, rois):
        tensors = [torch.from_numpy(m).to(device) for m in maps]
        return run(tensors, torch.from_numpy(rois.astype(np.float32)).to(device)).cpu().numpy()

    return run, on_host


def peer_missing(module: str) -> str | None:
    try:
        __import__(module)
    except ImportError as exc:
        return f"{module} not importable ({exc})"
    return None


def cuda_missing() -> str | None:
    """Why the CUDA comparison cannot run here, or None."""
    try:
        from roialign_cli.engines import cuda_engine
    except ImportError as exc:
        return f"roialign's CUDA engine is not importable ({exc})"
    usable, reason = cuda_engine.availability()
    if not usable:
        return reason
    if peer_missing("torchvision") is None:
        import torch

        if not torch.cuda.is_available():
            return "torch sees no CUDA device"
    return None


# --- timing -------------------------------------------------------------------------------------


@dataclass
class Result:
    workload: Workload
    engine: str
    threads: str
    seconds: list[float]
    max_diff: float | None = None  # against torchvision on the same device
    speedup: float | None = None  # torchvision's median time over this one, same device and clock
    vs_fastest: float | None = None  # the fastest CPU peer's median time over this one
    fastest: str | None = None  # that peer
    working_bytes: int | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def interleaved(calls: dict, repeats: int) -> dict[str, list[float]]:
    """Time each call `repeats` times, round-robin after one warm-up call each, each call on a
    settled machine (see SETTLE_SECONDS)."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            time.sleep(SETTLE_SECONDS)
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return times


def _torchvision_cpu(workload: Workload, features, rois):
    import torch

    run, _ = torchvision_op(workload)
    f = [torch.from_numpy(m) for m in features] if workload.pyramid else torch.from_numpy(features)
    r = torch.from_numpy(rois.astype(np.float32))
    return lambda: run(f, r).numpy(), f"{torch.get_num_threads()} (kernel serial)"


# CPU peers: name -> (the module it needs, a builder (workload, features, rois) -> (call, threads))
CPU_PEERS = {
    "torchvision cpu": ("torchvision", _torchvision_cpu),
    "onnxruntime cpu": ("onnxruntime", lambda w, f, r: (onnxruntime_op(w)(f, r), str(PEER_THREADS))),
    "openvino cpu": ("openvino", lambda w, f, r: (openvino_op(w)(f, r), str(PEER_THREADS))),
}


def cpu_calls(workload: Workload, features, rois, missing: dict) -> dict[str, tuple[object, str]]:
    """roialign's NumPy engine and every installed CPU peer: name -> (a call on these inputs, its threads)."""
    mine = ours(workload, "numpy")
    calls = {"roialign numpy": (lambda: mine(features, rois), str(os.cpu_count()))}
    for name, (module, build) in CPU_PEERS.items():
        # the other peers' RoiAlign ops compute neither a pyramid nor RoIPool
        if missing[module] is None and (module == "torchvision" or not (workload.pyramid or workload.roi_pool)):
            calls[name] = build(workload, features, rois)
    return calls


def bench_cpu(workload: Workload, features, rois, repeats: int, missing: dict) -> list[Result]:
    """roialign's NumPy engine and every installed CPU peer, interleaved; ratios against torchvision
    and against the fastest peer, all from the same run."""
    calls = cpu_calls(workload, features, rois, missing)
    outputs = {name: call() for name, (call, _) in calls.items()}
    times = interleaved({name: call for name, (call, _) in calls.items()}, repeats)
    results = [Result(workload, name, threads, times[name]) for name, (_, threads) in calls.items()]
    by_name = {r.engine: r for r in results}
    torch_row = by_name.get("torchvision cpu")
    for r in results:
        if torch_row is not None:
            r.max_diff = None if r is torch_row else float(np.abs(outputs[r.engine] - outputs[torch_row.engine]).max())
            r.speedup = None if r is torch_row else torch_row.median / r.median
    peers = [r for r in results if r.engine != "roialign numpy"]
    if peers:
        fastest = min(peers, key=lambda r: r.median)
        by_name["roialign numpy"].vs_fastest = fastest.median / by_name["roialign numpy"].median
        by_name["roialign numpy"].fastest = fastest.engine
    return results


def bench_cuda(workload: Workload, features, rois, repeats: int, with_torch: bool) -> list[Result]:
    """Kernel time (CUDA events, device-resident inputs) and end-to-end time (host arrays in and out)."""
    import cupy

    mine = ours(workload, "cuda")
    device_inputs = (cupy.asarray(features), cupy.asarray(rois))
    calls = {"roialign cuda": lambda: mine(*device_inputs)}
    ends = {"roialign cuda": lambda: cupy.asnumpy(mine(cupy.asarray(features), cupy.asarray(rois)))}
    # per engine: a new timing event, a device synchronization, milliseconds between two events
    events = {"roialign cuda": (cupy.cuda.Event, cupy.cuda.Device().synchronize, cupy.cuda.get_elapsed_time)}
    reference = {"roialign cuda": ends["roialign cuda"]()}
    if with_torch:
        import torch

        run, on_host = torchvision_op(workload, "cuda")
        f = torch.from_numpy(features).cuda()
        r = torch.from_numpy(rois.astype(np.float32)).cuda()
        calls["torchvision cuda"] = lambda: run(f, r)
        ends["torchvision cuda"] = lambda: on_host(features, rois)
        events["torchvision cuda"] = (
            lambda: torch.cuda.Event(enable_timing=True),
            torch.cuda.synchronize,
            lambda a, b: a.elapsed_time(b),
        )
        reference["torchvision cuda"] = ends["torchvision cuda"]()
    kernel = {name: [] for name in calls}
    for call in calls.values():
        call()
    for _ in range(repeats):
        for name, call in calls.items():
            make_event, synchronize, elapsed_ms = events[name]
            start, stop = make_event(), make_event()
            synchronize()
            start.record()
            call()
            stop.record()
            stop.synchronize()
            kernel[name].append(elapsed_ms(start, stop) / 1000)
    end_to_end = interleaved(ends, repeats)
    results = []
    for name in calls:
        results.append(Result(workload, f"{name} (events)", "GPU", kernel[name]))
        results.append(Result(workload, f"{name} (end to end)", "GPU", end_to_end[name]))
    if with_torch:
        diff = float(np.abs(reference["roialign cuda"] - reference["torchvision cuda"]).max())
        for row, peer in zip(results[:2], results[2:]):
            row.max_diff = diff
            row.speedup = peer.median / row.median
    return results


# --- memory: one fresh process per workload and engine -------------------------------------------


def _read_status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_probe(number: int, engine: str, seed: int) -> dict:
    """Run one call and report the peak resident memory it added beyond its output (this process)."""
    workload = WORKLOADS[number]
    features, rois = make_inputs(workload, seed)
    if engine == "roialign numpy":
        import scipy.sparse  # noqa: F401  (imported by the engine; not part of its working memory)

        mine = ours(workload, "numpy")

        def call():
            return mine(features, rois)

    else:
        call = CPU_PEERS[engine][1](workload, features, rois)[0]  # its session or tensors built before the reset
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current resident size
    before = _read_status_kb("VmRSS")
    out = call()
    peak = _read_status_kb("VmHWM")
    return {"added": (peak - before) * 1024, "output": int(out.nbytes)}


def working_memory(workload: Workload, engine: str, seed: int) -> int | None:
    if not Path("/proc/self/clear_refs").exists():
        return None
    command = [sys.executable, __file__, "--memory-probe", str(workload.number), engine, "--seed", str(seed)]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"memory probe failed for {engine} on workload {workload.number}: {done.stderr.strip()}", file=sys.stderr)
        return None
    probe = json.loads(done.stdout)
    return max(0, probe["added"] - probe["output"])


# --- start-up ------------------------------------------------------------------------------------


def _installed_env() -> dict[str, str]:
    """This checkout on the path, with cached bytecode as an installed package has it (pip compiles it at
    install); without the cache every start would compile roialign's modules."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _cli(*args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    env = _installed_env()
    flags = ["-X", "importtime"] if importtime else []
    command = [sys.executable, *flags, "-m", "roialign_cli", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, env=env, cwd=REPO)


def _import_seconds(stderr: str) -> float:
    """Total of the top-level imports' cumulative times in `python -X importtime` output."""
    total = 0
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)\S", line)
        if match and not match.group(2):  # top level: nested imports are indented further
            total += int(match.group(1))
    return total / 1e6


def startup(repeats: int) -> list[dict]:
    """Wall time, import time and heavy imports of `--help`, `presets` and `pool` on the seed sample."""
    seed = [
        "pool",
        "samples/features.npy",
        "samples/detections.npy",
        "--image-size",
        "576x192",
        "--spatial-scale",
        "1/8",
        "--json",
    ]
    commands = (
        ("roialign --help", ["--help"]),
        ("roialign presets", ["presets"]),
        ("roialign pool, seed sample, --backend numpy", seed + ["--backend", "numpy"]),
        ("roialign pool, seed sample, --backend auto", seed + ["--backend", "auto"]),
    )
    rows = []
    for label, args in commands:
        walls, imports, work = [], [], []
        for _ in range(repeats):
            started = time.perf_counter()
            done = _cli(*args, importtime=True)
            walls.append(time.perf_counter() - started)
            if done.returncode != 0:
                break
            imports.append(_import_seconds(done.stderr))
            if args[0] == "pool":
                work.append(json.loads(done.stdout)["seconds"])
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            rows.append({"command": label, "note": f"failed: {last.split(' (')[0][:100]}"})
            continue
        heavy = [
            m for m in ("numpy", "scipy", "cupy", "torch") if re.search(rf"\|\s+{m}(\.|$)", done.stderr, re.MULTILINE)
        ]
        rows.append(
            {
                "command": label,
                "wall": statistics.median(walls),
                "imports": statistics.median(imports),
                "work": statistics.median(work) if work else None,
                "heavy": ", ".join(heavy) or "none",
            }
        )
    return rows


def seed_against_numpy(repeats: int) -> Section:
    """Wall time of the README's seed-case command beside a bare `python -c "import numpy"`, interleaved
    (at least 15 repeats: fresh processes on a shared machine vary by a few milliseconds)."""
    import tempfile

    env = _installed_env()
    with tempfile.TemporaryDirectory() as folder:
        seed = ["pool", "samples/features.npy", "samples/detections.npy", "--image-size", "576x192",
                "--spatial-scale", "1/8", "-o", os.path.join(folder, "pooled.npy")]  # fmt: skip
        commands = {
            'python -c "import numpy"': [sys.executable, "-c", "import numpy"],
            "roialign pool on the seed sample (-o pooled.npy)": [sys.executable, "-m", "roialign_cli", *seed],
        }
        for command in commands.values():  # writes the bytecode cache
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
        walls = {label: [] for label in commands}
        for _ in range(max(repeats, 15)):
            for label, command in commands.items():
                started = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
                walls[label].append(time.perf_counter() - started)
    base = statistics.median(next(iter(walls.values())))
    rows = [[label, _ms(statistics.median(w)), f"{statistics.median(w) / base:.2f}x"] for label, w in walls.items()]
    intro = [
        "Fresh processes, interleaved, median of the repeats (at least 15); the ratio is to the bare NumPy import.",
        "The command is the README's, writing a file; bytecode is cached, as in an installed package.",
    ]
    return Section("Seed case against `import numpy`", intro, ["command", "wall ms", "x import numpy"], rows)


# --- where the time goes -------------------------------------------------------------------------


def profile_section(workloads: list[Workload], seed: int, repeats: int) -> Section:
    import engine_profile

    rows = []
    for workload in workloads:
        features, rois = make_inputs(workload, seed)
        mine = ours(workload, "numpy")
        spent = engine_profile.profile(lambda mine=mine, f=features, r=rois: mine(f, r), repeats)
        total = sum(spent[name] for name in engine_profile.PHASES)
        cells = [f"{spent[name] * 1000:.0f} ({spent[name] / total:.0%})" for name in engine_profile.PHASES]
        rows.append([f"{workload.number} {workload.name}", _ms(spent["wall"]), *cells])
    intro = [
        "The NumPy engine's phases (see benchmarks/engine_profile.py), median of the repeats in a separate run:",
        "thread-milliseconds summed over its worker threads, and each phase's share of their total.",
    ]
    header = ["workload", "wall ms", *(f"{name} thread-ms" for name in engine_profile.PHASES)]
    return Section("Where the NumPy engine's time goes", intro, header, rows)


def traffic_section(results: list[Result], workloads: list[Workload]) -> Section:
    import engine_profile

    rate = engine_profile.bandwidth()
    rows = []
    for workload in workloads:
        mine = next(r for r in results if r.workload == workload and r.engine == "roialign numpy")
        n, c, h, w = workload.features
        moved = engine_profile.traffic(n * c * h * w * 4, workload.rois * c * workload.output_size**2 * 4)
        bound, passes = moved["least"] / rate, moved["passes"] / rate
        rows.append([f"{workload.number} {workload.name}", f"{moved['least'] / 1e6:.0f}", _ms(bound), _ms(passes),
                     _ms(mine.median), f"{bound / mine.median:.0%}"])  # fmt: skip
    intro = [
        f"Bandwidth of this machine: {rate / 1e9:.1f} GB/s (bytes read + written by a 256 MB copy on",
        f"{os.cpu_count()} threads, best of 5). Bound: reading the features once and writing the output once",
        "at that rate. The engine's passes: its channels-last copy written and read back, its product's rows",
        "written and read back by the transposing write (about 3 x features + 3 x output). Measured: the Results",
        "table's median.",
    ]
    header = ["workload", "least MB moved", "bound ms", "engine's passes ms", "measured ms", "bound / measured"]
    return Section("Memory-traffic bound", intro, header, rows)


EXPLAIN_CASE = ((1, 256, 100, 168), 1000, (16.0, 300.0), 1 / 8)  # features, boxes, their sides in px, scale


def explain_section(repeats: int) -> Section:
    """`roialign explain` in a fresh process on 1000 boxes x 256 channels, without and with the scale."""
    import tempfile

    from roialign_cli import roi_align

    shape, count, sides, scale = EXPLAIN_CASE
    rng = np.random.default_rng(19)
    features = rng.standard_normal(shape, dtype=np.float32)
    rois = random_boxes(rng, count, shape[0], IMAGE_SIZE, sides)
    references = {
        "torchvision aligned=False, adaptive": roi_align(features, rois, (7, 7), scale),
        "torchvision aligned=True, sampling ratio 2": roi_align(features, rois, (7, 7), scale, 2, aligned=True),
    }
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        np.save(f"{folder}/feat.npy", features)
        np.save(f"{folder}/rois.npy", rois)
        for name, reference in references.items():
            np.save(f"{folder}/ref.npy", reference)
            for hints in ([], ["--spatial-scale", "1/8"]):
                walls = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    done = _cli("explain", f"{folder}/feat.npy", f"{folder}/rois.npy", f"{folder}/ref.npy",
                                "--backend", "numpy", "--json", *hints)  # fmt: skip
                    walls.append(time.perf_counter() - started)
                best = json.loads(done.stdout)
                rows.append([name, " ".join(hints) or "none", f"{statistics.median(walls):.2f}",
                             f"{best['best']['label']} at {best['best']['spatial_scale']}",
                             str(best["matched"])])  # fmt: skip
    intro = [
        f"Features {list(shape)}, {count} boxes of {sides[0]:g}..{sides[1]:g} px in a {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]}",
        f"image, scale 1/{round(1 / scale)}, 7x7; the reference made by torchvision's convention as named.",
        "Fresh processes (`roialign explain ... --backend numpy --json`), median of the repeats.",
    ]
    header = ["reference", "hints", "wall s", "best match", "matched"]
    return Section("`roialign explain` on 1000 boxes x 256 channels", intro, header, rows)


# --- report --------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    info = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas(),
    }
    for name in ("scipy", "torch", "torchvision", "onnxruntime", "openvino", "cupy"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = "not installed"
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        info[var] = os.environ.get(var, "unset")
    return info


def _blas() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):
        return "unknown"


def _openblas_note() -> str:
    found = {var: os.environ.get(var) for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if not any(found.values()):
        return "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE were unset for this run."
    return "This run had " + ", ".join(f"{k}={v}" for k, v in found.items() if v) + "."


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def table_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        speedup = "-" if r.speedup is None else f"{r.speedup:.1f}x"
        fastest = "-" if r.vs_fastest is None else f"{r.vs_fastest:.1f}x ({r.fastest})"
        memory = "-" if r.working_bytes is None else f"{r.working_bytes / 2**20:.0f}"
        diff = "-" if r.max_diff is None else f"{r.max_diff:.1e}"
        name = f"{r.workload.number} {r.workload.name}"
        rows.append([name, r.engine, r.threads, _ms(r.median), speedup, fastest, memory, diff])
    return rows


HEADER = [
    "workload",
    "engine",
    "threads",
    "median ms",
    "speed-up vs torchvision",
    "vs the fastest CPU peer",
    "working MB beyond output",
    "max |diff| vs torchvision",
]


@dataclass
class Section:
    """A further table of the report: a title, sentences saying what it shows, its columns and rows."""

    title: str
    intro: list[str]
    header: list[str]
    rows: list[list[str]]


def markdown(results, startup_rows, info, command, repeats, skipped=(), sections=()) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `benchmarks/bench.py` (see its docstring for the inputs); regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Date: {time.strftime('%Y-%m-%d')}. Median of {repeats} repeats; every repeat runs all engines in turn, so",
        f"that they share the machine's state, each after a {SETTLE_SECONDS:g} s pause (the peers' thread pools spin",
        "for a while after a call). Speed-up: torchvision's median over roialign's, same device.",
        "Working memory: peak resident memory a call adds beyond its own output, one fresh process per row.",
        "Max |diff|: largest absolute difference between roialign's and torchvision's outputs on identical inputs.",
        f"{_openblas_note()} They can be set on this project's machines and slow NumPy's BLAS: the command unsets",
        "them for the benchmark only; tests and CI leave them alone.",
        "",
        "## Workloads",
        "",
    ]
    seen = []
    for r in results:
        if r.workload not in seen:
            seen.append(r.workload)
            lines.append(f"{r.workload.number}. {r.workload.name}: {r.workload.describe()}")
    lines += ["", "## Results", "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    if startup_rows:
        lines += [
            "",
            "## Start-up",
            "",
            "Fresh processes, median of the repeats. Imports: total of the top-level imports that",
            "`python -X importtime` reports (the engine's own lazy import included). Engine call: the `seconds`",
            "that `pool --json` reports (validation, engine import and pooling).",
            "",
            "| command | wall ms | imports ms | engine call ms | numpy/scipy/cupy/torch imported |",
            "|---|---|---|---|---|",
        ]
        for s in startup_rows:
            if "note" in s:
                lines.append(f"| {s['command']} | - | - | - | {s['note']} |")
            else:
                cells = [s["command"], _ms(s["wall"]), _ms(s["imports"]), _ms(s["work"]), s["heavy"]]
                lines.append("| " + " | ".join(cells) + " |")
    for section in sections:
        lines += ["", f"## {section.title}", "", *section.intro, ""]
        lines += ["| " + " | ".join(section.header) + " |", "|" + "---|" * len(section.header)]
        lines += ["| " + " | ".join(row) + " |" for row in section.rows]
    if skipped:
        lines += ["", "## Not measured", ""] + [f"- {reason}" for reason in skipped]
    lines += ["", "## Machine", ""] + [f"- {k}: {v}" for k, v in info.items()] + [""]
    return "\n".join(lines)


def print_table(results, startup_rows, skipped, sections=()) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    table = Table(title="roialign vs torchvision")
    for column in HEADER:
        table.add_column(column)
    for row in table_rows(results):
        table.add_row(*row)
    console.print(table)
    if startup_rows:
        start = Table(title="start-up")
        for column in ("command", "wall ms", "imports ms", "engine call ms", "heavy imports"):
            start.add_column(column)
        for s in startup_rows:
            if "note" in s:
                start.add_row(s["command"], "-", "-", "-", s["note"])
            else:
                start.add_row(s["command"], _ms(s["wall"]), _ms(s["imports"]), _ms(s["work"]), s["heavy"])
        console.print(start)
    for section in sections:
        extra = Table(title=section.title)
        for column in section.header:
            extra.add_column(column)
        for row in section.rows:
            extra.add_row(*row)
        console.print(extra)
    for reason in skipped:
        console.print(f"skipped: {reason}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="1,2,3,4,5,6", help="comma-separated workload numbers (default: all)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per engine (default 5); median reported")
    parser.add_argument("--seed", type=int, default=8, help="base seed of the inputs (default 8)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report as Markdown to FILE")
    parser.add_argument("--no-memory", action="store_true", help="skip the working-memory subprocesses")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurements")
    parser.add_argument("--no-profile", action="store_true", help="skip the engine's profile and traffic bound")
    parser.add_argument("--no-explain", action="store_true", help="skip timing `roialign explain`")
    parser.add_argument("--memory-probe", nargs=2, metavar=("WORKLOAD", "ENGINE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(int(args.memory_probe[0]), args.memory_probe[1], args.seed)))
        return

    chosen = [WORKLOADS[int(n)] for n in args.workloads.split(",")]
    missing = {module: peer_missing(module) for module, _ in CPU_PEERS.values()}
    reasons = {**missing, "the CUDA engine against torchvision CUDA (workloads 2-4)": cuda_missing()}
    skipped = [f"{what}: {reason}" for what, reason in reasons.items() if reason]
    with_torch = missing["torchvision"] is None
    with_cuda = reasons["the CUDA engine against torchvision CUDA (workloads 2-4)"] is None
    results = []
    for workload in chosen:
        features, rois = make_inputs(workload, args.seed)
        cpu = bench_cpu(workload, features, rois, args.repeats, missing)
        if not args.no_memory:
            for r in cpu:
                r.working_bytes = working_memory(workload, r.engine, args.seed)
        results += cpu
        if with_cuda and workload.number != 1 and not (workload.pyramid or workload.roi_pool):
            results += bench_cuda(workload, features, rois, args.repeats, with_torch)
        print(f"workload {workload.number} done", file=sys.stderr)
    startup_rows = [] if args.no_startup else startup(args.repeats)
    sections = [] if args.no_startup else [seed_against_numpy(args.repeats)]
    heavy = [w for w in chosen if w.number != 1]
    if heavy and not args.no_profile:
        sections += [profile_section(heavy, args.seed, args.repeats), traffic_section(results, heavy)]
    if not args.no_explain:
        sections.append(explain_section(max(1, args.repeats // 3)))
    print_table(results, startup_rows, skipped, sections)
    if args.markdown:
        unset = [var for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if var not in os.environ]
        prefix = ["env", *(f"-u {var}" for var in unset)] if unset else []
        command = " ".join([*prefix, "python benchmarks/bench.py", *(argv if argv is not None else sys.argv[1:])])
        report = markdown(results, startup_rows, machine(), command, args.repeats, skipped, sections)
        Path(args.markdown).write_text(report)


if __name__ == "__main__":
    main()
