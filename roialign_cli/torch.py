"""A PyTorch layer for every convention: `RoIAlign` (an nn.Module) and `roi_align` (its function).

Both take torch tensors and return one with gradients for the features, so a model ported from
Caffe, ONNX or TensorFlow trains with the RoIAlign it was built with. The forward pass is
`roialign_cli.api.pool`, the backward pass `roialign_cli.api.pool_backward`: CPU tensors go
through the NumPy engine as NumPy views of the same memory (no copies either way), CUDA tensors
through DLPack to CuPy and the CUDA engine, on the tensor's current stream, and back. The boxes
get no gradient, as in every framework.

PyTorch is an optional dependency (`pip install 'roialign-cli[torch]'`); only this module imports it.
"""

from __future__ import annotations

try:
    import torch
except ImportError as exc:  # the one place torch is imported: say how to get it
    raise ModuleNotFoundError(
        "roialign_cli.torch needs PyTorch, which is not installed: pip install 'roialign-cli[torch]'", name="torch"
    ) from exc

from contextlib import contextmanager

from .conventions import Convention
from .errors import InputError
from .presets import resolve

__all__ = ["RoIAlign", "convention_of", "roi_align"]

_DTYPES = (torch.float16, torch.float32, torch.float64)


def convention_of(preset=None, aligned=None, sampling_ratio=-1, mode=None, switches=None, **options) -> Convention:
    """The convention the layer's arguments ask for: `roialign_cli.roi_align`'s rules, then `switches`
    (a dict of Convention fields) last; `options` are the preset's own, as its framework spells them."""
    conv = resolve(preset, aligned=aligned, sampling_ratio=sampling_ratio, mode=mode,
                   options={k: str(v) for k, v in options.items()} or None)  # fmt: skip
    try:
        return conv.with_(**(switches or {}))
    except (TypeError, ValueError) as exc:
        raise InputError(f"switches {switches!r}: {exc}") from None


def roi_align(
    input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=None, *, preset=None, mode=None,
    switches=None, deterministic=False, **options,
):  # fmt: skip
    """RoIAlign of `input` [N, C, H, W] over `boxes` -> [K, C, PH, PW], differentiable in `input`.

    `boxes` is a [K, 5] tensor (batch, x1, y1, x2, y2) or a list of [L, 4] tensors, one per image,
    as torchvision takes them. Without a preset this is `torchvision.ops.roi_align`; `preset`,
    `mode`, `options` and `aligned` / `sampling_ratio` work as in `roialign_cli.roi_align`, and
    `switches` sets any Convention field last. `deterministic` makes the CUDA backward add its sums
    in a fixed order (the CPU always does).
    """
    convention = convention_of(preset, aligned, sampling_ratio, mode, switches, **options)
    return _RoIAlign.apply(input, _as_rois(boxes), _pair(output_size), float(spatial_scale), convention, deterministic)


class RoIAlign(torch.nn.Module):
    """`roi_align` as a layer: RoIAlign(output_size, spatial_scale, sampling_ratio, preset=..., **options)."""

    def __init__(
        self, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=None, *, preset=None, mode=None,
        switches=None, deterministic=False, **options,
    ):  # fmt: skip
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.convention = convention_of(preset, aligned, sampling_ratio, mode, switches, **options)
        self.preset = preset
        self.deterministic = deterministic

    def forward(self, input, boxes):
        rois = _as_rois(boxes)
        return _RoIAlign.apply(input, rois, self.output_size, self.spatial_scale, self.convention, self.deterministic)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale:g}, preset={self.preset!r}"


class _RoIAlign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features, rois, output_size, spatial_scale, convention, deterministic):
        from . import api

        if features.dtype not in _DTYPES:
            raise InputError(f"features must be float16, float32 or float64, not {features.dtype}")
        host_rois = rois.detach().to("cpu", torch.float64).numpy()
        with _engine_view(features) as (view, backend):
            out, _ = api.pool(view(features), host_rois, output_size, spatial_scale, convention, backend)
            result = _tensor(out)
        # max pooling finds its selected samples again from the features; average needs only their shape
        ctx.save_for_backward(features if convention.pooling != "avg" else None)
        ctx.setup = (host_rois, tuple(features.shape), output_size, spatial_scale, convention, deterministic)
        return result

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        from . import api

        (features,) = ctx.saved_tensors
        host_rois, shape, output_size, spatial_scale, convention, deterministic = ctx.setup
        with _engine_view(grad_output) as (view, backend):
            held = None if features is None else view(features)
            grad, _ = api.pool_backward(view(grad_output), host_rois, shape, output_size, spatial_scale, convention,
                                        backend, deterministic, held)  # fmt: skip
            grad_features = _tensor(grad)
        return grad_features, None, None, None, None, None


@contextmanager
def _engine_view(tensor):
    """(a function from tensors to arrays the engine takes, the engine's backend), for `tensor`'s device.

    CPU: NumPy views of the tensors' memory. CUDA: CuPy arrays over the same memory through DLPack,
    with CuPy on the tensor's device and current stream, so that the kernels run in order with
    torch's work on that stream.
    """
    if tensor.device.type == "cpu":
        yield (lambda t: t.detach().numpy()), "numpy"
        return
    if tensor.device.type != "cuda":
        raise InputError(f"tensors on {tensor.device.type} are not supported: use CPU or CUDA tensors")
    import cupy

    stream = torch.cuda.current_stream(tensor.device)
    with cupy.cuda.Device(tensor.device.index), cupy.cuda.ExternalStream(stream.cuda_stream):
        yield (lambda t: cupy.from_dlpack(t.detach())), "cuda"


def _tensor(array):
    """A NumPy array as a tensor over the same memory; a CuPy array through DLPack."""
    import numpy as np

    return torch.from_numpy(array) if isinstance(array, np.ndarray) else torch.from_dlpack(array)


def _as_rois(boxes):
    """[K, 5] rois from a [K, 5] tensor or a list of [L, 4] tensors (one per image, torchvision's form)."""
    if isinstance(boxes, (list, tuple)):
        if not boxes:
            return torch.zeros((0, 5), dtype=torch.float64)
        batch = [torch.full((len(b), 1), i, dtype=b.dtype, device=b.device) for i, b in enumerate(boxes)]
        return torch.cat([torch.cat(batch), torch.cat(list(boxes))], dim=1)
    if not isinstance(boxes, torch.Tensor):
        raise InputError(f"boxes must be a tensor [K, 5] or a list of [L, 4] tensors, not {type(boxes).__name__}")
    return boxes


def _pair(size):
    return (int(size), int(size)) if isinstance(size, int) else tuple(int(v) for v in size)
