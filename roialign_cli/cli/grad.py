"""`roialign grad FEATURES ROIS GRAD_OUTPUT`: the gradient of RoIAlign with respect to the features."""

from __future__ import annotations

import time

import click

from .common import UserError, note, reports_errors
from .pool import output_target, pool_options, read_rois, read_setup, report, summary_of


@click.command()
@click.argument("features")
@click.argument("rois")
@click.argument("grad_output")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="Write the gradient [N,C,H,W] here (.npy); '-' for stdout. "
    "Without it the array goes to stdout when stdout is a pipe, and nowhere otherwise.",
)
@click.option(
    "--output-size", default=None, help="Pooled size (7 or HxW); default: GRAD_OUTPUT's, which it must match."
)
@click.option(
    "--deterministic",
    is_flag=True,
    help="CUDA: add the gradient up in a fixed order (the same bits every run) instead of with atomicAdd. "
    "The NumPy engine always is deterministic.",
)
@pool_options
@reports_errors
def grad(features, rois, grad_output, output, output_size, deterministic, backend, image_size, as_json,
         **convention_options):  # fmt: skip
    """The gradient of `roialign pool FEATURES ROIS` with respect to FEATURES, for GRAD_OUTPUT
    [K,C,PH,PW] (the gradient of the pooled output), with every option of `pool`. All .npy; one
    may be '-'.

    Average pooling needs only the shape of FEATURES; max pooling reads them too: the gradient
    goes to the sample each maximum ended on (the first in scan order among equal values).
    Gradients dumped from two frameworks can then be compared with `roialign diff`.
    """
    from .. import api, arrayio, boxes

    inputs = [("FEATURES", features), ("ROIS", rois), ("GRAD_OUTPUT", grad_output)]
    output = output_target(output, as_json, inputs)
    setup = read_setup(**convention_options)
    feature_array = arrayio.load_array(features, "features")
    parsed, roi_array = read_rois(rois, image_size, setup["convention"], setup["scale"])
    grad_array = arrayio.load_array(grad_output, "grad_output")
    size = boxes.parse_size(output_size, "output size") if output_size else tuple(grad_array.shape[2:4])
    if grad_array.dtype != feature_array.dtype:
        raise UserError(f"GRAD_OUTPUT is {grad_array.dtype} but FEATURES are {feature_array.dtype}: give both alike")

    started = time.perf_counter()
    result, choice = api.pool_backward(grad_array, roi_array, feature_array.shape, size, setup["scale"],
                                       setup["convention"], backend, deterministic, feature_array)  # fmt: skip
    elapsed = time.perf_counter() - started
    if choice.note and backend == "auto":
        note(choice.note)
    if output is not None:
        arrayio.save_array(output, result, inputs=[path for _, path in inputs])
    summary = summary_of(feature_array, parsed, result, output, size, setup, convention_options["preset"], choice)
    summary["grad_output"] = {"shape": list(grad_array.shape), "dtype": str(grad_array.dtype)}
    report(summary | {"deterministic": deterministic, "seconds": round(elapsed, 6)}, as_json, "roialign grad", output)
