"""`roialign grad FEATURES ROIS GRAD_OUTPUT`: the gradient of RoIAlign with respect to the features."""

from __future__ import annotations

import time

import click

from .common import UserError, reports_errors
from .options import convention_options, json_option, output_destination, output_option
from .pool import read_rois, report, summary_of, tell


@click.command()
@click.argument("features")
@click.argument("rois")
@click.argument("grad_output")
@output_option(
    "Write the gradient [N,C,H,W] here (.npy); '-' for stdout. "
    "Without it the array goes to stdout when stdout is a pipe, and nowhere otherwise."
)
@convention_options("Pooled size (7 or HxW); default: GRAD_OUTPUT's, which it must match.", output_size_default=None)
@click.option(
    "--deterministic",
    is_flag=True,
    help="CUDA: add the gradient up in a fixed order (the same bits every run) instead of with atomicAdd. "
    "The NumPy engine always is deterministic.",
)
@json_option()
@reports_errors
def grad(features, rois, grad_output, output, call, deterministic, as_json):
    """The gradient of `roialign pool FEATURES ROIS` with respect to FEATURES, for GRAD_OUTPUT
    [K,C,PH,PW] (the gradient of the pooled output), with every option of `pool`. All .npy; one
    may be '-'.

    Average pooling needs only the shape of FEATURES; max pooling reads them too: the gradient
    goes to the sample each maximum ended on (the first in scan order among equal values).
    Gradients dumped from two frameworks can then be compared with `roialign diff`.
    """
    from .. import api, arrayio

    paths = [features, rois, grad_output]
    if paths.count("-") > 1:
        raise UserError("only one of FEATURES, ROIS and GRAD_OUTPUT can be read from stdin")
    if call.layout != "nchw":
        raise UserError("grad reads FEATURES [N,C,H,W] and GRAD_OUTPUT [K,C,PH,PW]: --layout nhwc is for pool")
    output = output_destination(output, as_json, "the gradient")
    convention, scale, size = call.convention(), call.scale(), call.size()
    if output is not None:
        arrayio.check_output_path(output, paths)
    feature_array = arrayio.load_array(features, "features")
    parsed, relative = read_rois(rois, call.image_size, convention, scale)
    grad_array = arrayio.load_array(grad_output, "grad_output")
    if grad_array.dtype != feature_array.dtype:
        raise UserError(f"GRAD_OUTPUT is {grad_array.dtype} but FEATURES are {feature_array.dtype}: give both alike")
    started = time.perf_counter()
    result, choice = api.pool_backward(grad_array, parsed.boxes, feature_array.shape, size, scale, convention,
                                       call.backend, deterministic, feature_array)  # fmt: skip
    elapsed = time.perf_counter() - started
    if output is not None:
        arrayio.save_array(output, result, inputs=paths)
    tell(relative, choice, call.backend)
    size = size or tuple(grad_array.shape[2:4])
    summary = summary_of(feature_array, parsed, result, output, call, convention, size, scale, choice.name, elapsed)
    summary |= {"grad_output": {"shape": list(grad_array.shape), "dtype": str(grad_array.dtype)}}
    report(summary | {"deterministic": deterministic}, as_json, output, "roialign grad")
