"""The train-ready PyTorch call that `presets` and `explain` print: torchvision's where it computes the
convention, else a roialign_cli.torch.RoIAlign layer that computes exactly that convention."""

from __future__ import annotations

import json

import pytest

from roialign_cli import torch_calls as eq
from roialign_cli.presets import PRESETS, resolve

SPEC = eq.CallSpec((7, 7), 1 / 8)
# (preset, options, mode): every preset, and variants that need options, switches or a sampling ratio
VARIANTS = [(p.name, {}, None) for p in PRESETS] + [
    ("caffe-ssd-roialign", {"inter_times": "4"}, None),
    ("onnxruntime", {"coordinate_transformation_mode": "output_half_pixel"}, "max"),
    ("tf-crop-and-resize", {"extrapolation_value": "-1.5"}, None),
    ("mmcv", {}, "max"),
]


@pytest.mark.parametrize(("preset", "options", "mode"), VARIANTS)
def test_the_layer_text_builds_the_same_convention(preset, options, mode):
    torch_layer = pytest.importorskip("roialign_cli.torch")
    conv = resolve(preset, options=options, mode=mode)
    for given in ((), tuple(options.items())):
        text = eq.torch_layer(conv, SPEC, preset, given)
        assert text.startswith("roialign_cli.torch.RoIAlign(")
        layer = eval(text, {"roialign_cli": __import__("roialign_cli.torch")})
        assert isinstance(layer, torch_layer.RoIAlign)
        assert not eq.differences(conv, layer.convention)  # NaN switches compare equal there
        assert layer.output_size == (7, 7) and layer.spatial_scale == 1 / 8


def test_torchvision_is_named_where_it_computes_the_convention():
    assert eq.pytorch_call(resolve("detectron2"), SPEC, "detectron2").startswith("torchvision.ops.roi_align(")
    caffe = eq.pytorch_call(resolve("caffe-ssd-roialign"), SPEC, "caffe-ssd-roialign")
    assert caffe == (
        "roialign_cli.torch.RoIAlign(output_size=(7, 7), spatial_scale=1/8, preset='caffe-ssd-roialign')"
        "  # torchvision cannot compute this convention"
    )


def test_presets_print_the_layer(cli):
    result = cli("presets", "caffe-ssd-roialign", "--option", "inter_times=4")
    assert "in PyTorch, with gradients" in result.stdout
    assert "roialign_cli.torch.RoIAlign(output_size=(7, 7), spatial_scale=1/16, preset='caffe-ssd-roialign', " \
           "inter_times='4')" in result.stdout  # fmt: skip
    described = json.loads(cli("presets", "--json").stdout)["presets"]
    by_name = {p["name"]: p["pytorch"] for p in described}
    assert by_name["caffe2"].startswith("torchvision.ops.roi_align(")
    assert by_name["tensorrt"].startswith("roialign_cli.torch.RoIAlign(")


def test_explain_names_the_layer_for_the_seed(cli):
    from helpers import REPO

    samples = REPO / "samples"
    result = cli("explain", samples / "features.npy", samples / "detections.npy", samples / "reference.npy",
                 "--image-size", "576x192", "--spatial-scale", "1/8", "--backend", "numpy", "--json")  # fmt: skip
    layer = json.loads(result.stdout)["torch_layer"]
    assert layer == "roialign_cli.torch.RoIAlign(output_size=(7, 7), spatial_scale=1.0, preset='caffe-ssd-roialign')"
    text = cli("explain", samples / "features.npy", samples / "detections.npy", samples / "reference.npy",
               "--image-size", "576x192", "--spatial-scale", "1/8", "--backend", "numpy").stdout  # fmt: skip
    assert f"train with: {layer}" in text
