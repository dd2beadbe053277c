"""The train-ready PyTorch call for a convention: torchvision's own where it computes the convention, else
`roialign_cli.torch.RoIAlign` (which has a backward pass for every convention) written from a preset.

It reads the registry (`presets`), which reads the renderers (`equivalents`): this module sits above both.
"""

from __future__ import annotations

import math

from .conventions import Convention, differences
from .equivalents import CallSpec, scale_expression
from .presets import get


def torch_layer(conv: Convention, spec: CallSpec, preset: str, options: tuple[tuple[str, str], ...] = ()) -> str:
    """The `roialign_cli.torch.RoIAlign` layer that computes `conv` (and trains: it has a backward pass),
    written from `preset` with its `options`; what they leave different is set as `switches`."""
    named = get(preset)
    base = named.with_options(named.convention, dict(options))
    changed = {name: value for name, _, value in differences(base, conv)}
    ph, pw = spec.output_size
    words = [f"output_size=({ph}, {pw})", f"spatial_scale={scale_expression(spec.spatial_scale)}"]
    if "sampling_ratio" in changed:
        words.append(f"sampling_ratio={changed.pop('sampling_ratio')}")
    words.append(f"preset={named.name!r}")
    words += [f"{name}={value!r}" for name, value in options]
    if changed:
        words.append("switches={" + ", ".join(f"{k!r}: {_python(v)}" for k, v in changed.items()) + "}")
    return f"roialign_cli.torch.RoIAlign({', '.join(words)})"


def _python(value) -> str:
    """A switch value as Python source (NaN and infinities as float('nan') and so on)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    return repr(value)


def pytorch_call(conv: Convention, spec: CallSpec, preset: str, options: tuple[tuple[str, str], ...] = ()) -> str:
    """A train-ready PyTorch call for `conv`: torchvision's own where it computes the convention, else the layer."""
    call = get("torchvision").equivalent(conv, spec)
    if call.startswith("torchvision."):
        return call
    return f"{torch_layer(conv, spec, preset, options)}  # torchvision cannot compute this convention"
