"""`roialign show`, `diff --plot` and `explain --plot`: valid images of the size asked for, the numbers of
the geometry drawn, and bad arguments refused with one line and exit code 2."""

from __future__ import annotations

import re
import struct
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from helpers import REPO

pytest.importorskip("matplotlib")

SAMPLES = REPO / "samples"
SEED = (
    "show",
    SAMPLES / "detections.npy",
    "--roi",
    "0",
    "--features",
    SAMPLES / "features.npy",
    "--image-size",
    "576x192",
    "--spatial-scale",
    "1/8",
)


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def reported_size(stderr: str) -> tuple[int, int]:
    width, height = re.search(r"\((\d+)x(\d+) pixels\)", stderr).groups()
    return int(width), int(height)


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0]


def test_show_draws_the_seed_box_under_two_conventions(cli, tmp_path):
    out = tmp_path / "seed.png"
    result = cli(*SEED, "--preset", "torchvision", "--vs", "caffe-ssd-roialign", "-o", out)
    assert result.exit_code == 0, result.output
    assert png_size(out) == reported_size(result.stderr)
    assert png_size(out)[0] == 1200


@pytest.mark.parametrize("size", ["7x7", "14x14"])
def test_show_draws_a_box_from_the_command_line_at_the_width_asked(cli, tmp_path, size):
    out = tmp_path / "box.png"
    result = cli(
        "show",
        "--box",
        "3.2,4.1,14.7,11.3",
        "--feature-size",
        "20x16",
        "--output-size",
        size,
        "--preset",
        "torchvision",
        "--vs",
        "torchvision-aligned",
        "--overlay",
        "--width",
        "800",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    assert png_size(out)[0] == 800 and png_size(out) == reported_size(result.stderr)


def test_show_writes_svg_by_extension(cli, tmp_path):
    out = tmp_path / "box.svg"
    result = cli(
        "show", "--box", "0.1,0.2,0.5,0.9", "--feature-size", "40x30", "--preset", "tf-crop-and-resize", "-o", out
    )
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg") and root.get("width") == "864pt"  # 1200 pixels at 100 dpi = 12 in = 864 pt


def test_the_figure_draws_the_drawings_sample_points_and_taps():
    """What lands on the page is the geometry: the sample markers sit where the drawing's samples are."""
    from roialign_cli import pictures
    from roialign_cli.drawing_geometry import layouts
    from roialign_cli.presets import get

    conventions = [("A", get("torchvision").convention), ("B", get("caffe-ssd-roialign").convention)]
    drawings = layouts((0.246, 0.105, 1.0, 1.0), conventions, (72, 24), (7, 7), 1 / 8, (576, 192))
    fig = pictures.roi_figure(drawings, (6, 6, 0, 0), "seed")
    axes = {ax.get_label(): ax for ax in fig.axes}
    for i, drawing in enumerate(drawings):
        drawn = np.concatenate([c.get_offsets() for c in axes[f"map {i}"].collections if c.get_gid() == "samples"])
        expected = drawing.samples()[:, 4:]
        np.testing.assert_allclose(np.sort(drawn, axis=0), np.sort(expected, axis=0))
        tap = drawing.tap(6, 6, 0, 0)
        weights = sorted(float(t.get_text().split()[1]) for t in axes[f"close-up {i}"].texts)
        np.testing.assert_allclose(weights, sorted(tap.weights), atol=5e-4)  # printed to 3 decimals
    pictures.pyplot().close(fig)


def test_diff_plot_draws_the_heat_map_and_keeps_the_verdict(cli, tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(b, np.ones((16, 128, 7, 7), np.float32))
    wrong = np.ones((16, 128, 7, 7), np.float32)
    wrong[3, 17] += 0.5
    np.save(a, wrong)
    out = tmp_path / "errors.png"
    result = cli("diff", a, b, "--plot", out, "--quiet")
    assert result.exit_code == 1
    assert png_size(out)[0] == 1200


def test_explain_plot_draws_the_assumed_setting_and_the_best_match(cli, tmp_path):
    out = tmp_path / "best.png"
    result = cli(
        "explain",
        SAMPLES / "features.npy",
        SAMPLES / "detections.npy",
        SAMPLES / "reference.npy",
        "--image-size",
        "576x192",
        "--spatial-scale",
        "1/8",
        "--assume",
        "torchvision",
        "--plot",
        out,
        "--backend",
        "numpy",
    )
    assert result.exit_code == 0, result.output
    assert png_size(out)[0] == 1200


@pytest.mark.parametrize(
    "args, words",
    [
        (("show", "--feature-size", "8x8", "-o", "x.png"), ["either ROIS"]),
        (
            ("show", SAMPLES / "detections.npy", "--box", "1,1,2,2", "--feature-size", "8x8", "-o", "x.png"),
            ["either ROIS"],
        ),
        (("show", SAMPLES / "detections.npy", "--feature-size", "8x8", "-o", "x.png"), ["--roi K"]),
        (
            ("show", SAMPLES / "detections.npy", "--roi", "16", "--feature-size", "8x8", "-o", "x.png"),
            ["out of range", "16 rois"],
        ),
        (("show", "--box", "1,1,2", "--feature-size", "8x8", "-o", "x.png"), ["--box takes 4 numbers"]),
        (("show", "--box", "1,1,2,nan", "--feature-size", "8x8", "-o", "x.png"), ["--box takes 4 numbers"]),
        (("show", "--box", "1,1,2,2", "-o", "x.png"), ["--features FILE or --feature-size"]),
        (("show", "--box", "1,1,2,2", "--feature-size", "8x0", "-o", "x.png"), ["feature size"]),
        (("show", "--box", "1,1,2,2", "--feature-size", "8x8", "-o", "x.jpg"), [".png or .svg"]),
        (("show", "--box", "1,1,2,2", "--feature-size", "8x8", "--preset", "nope", "-o", "x.png"), ["unknown preset"]),
        (("show", "--box", "1,1,2,2", "--feature-size", "8x8", "--vs-switch", "border=clamp", "-o", "x.png"), ["--vs"]),
        (
            ("show", "--box", "1,1,2,2", "--feature-size", "8x8", "--switch", "border=round", "-o", "x.png"),
            ["border must be one of"],
        ),
        (
            ("show", "--box", "1,1,5,5", "--feature-size", "8x8", "--sample", "0,0,9,0", "-o", "x.png"),
            ["no sample (9, 0)"],
        ),
        (
            ("show", "--box", "1,1,5,5", "--feature-size", "8x8", "--sample", "0,-1,0,0", "-o", "x.png"),
            ["--sample takes four integers"],
        ),
        (("show", "--box", "1,1,5,5", "--features", SAMPLES / "make_samples.py", "-o", "x.png"), ["not a .npy"]),
        (("diff", SAMPLES / "reference.npy", SAMPLES / "reference.npy", "--plot", "e.pdf"), [".png or .svg"]),
        (
            (
                "explain",
                SAMPLES / "features.npy",
                SAMPLES / "detections.npy",
                SAMPLES / "reference.npy",
                "--plot",
                "b.png",
            ),
            ["--assume"],
        ),
        (
            (
                "explain",
                SAMPLES / "features.npy",
                SAMPLES / "detections.npy",
                SAMPLES / "reference.npy",
                "--assume",
                "torchvision",
                "--plot",
                "b.png",
                "--plot-roi",
                "16",
            ),
            ["--plot-roi 16 is out of range"],
        ),
    ],
)
def test_bad_arguments_fail_with_one_line(cli, tmp_path, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    one_line_error(cli(*args), *words)
    assert not list(tmp_path.iterdir())  # nothing written


def test_diff_plot_needs_pooled_outputs(cli, tmp_path):
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((3, 4)))
    one_line_error(cli("diff", flat, flat, "--plot", tmp_path / "e.png"), "[K, C, PH, PW]")
    assert not (tmp_path / "e.png").exists()


def test_a_picture_is_never_written_over_an_input(cli, tmp_path):
    rois = tmp_path / "rois.png"  # a .npy array under a picture's name
    rois.write_bytes((SAMPLES / "detections.npy").read_bytes())
    before = rois.read_bytes()
    one_line_error(cli("show", rois, "--roi", "0", "--feature-size", "72x24", "-o", rois), "also an input")
    assert rois.read_bytes() == before


def test_without_matplotlib_drawing_fails_with_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = cli("show", "--box", "1,1,5,5", "--feature-size", "8x8", "-o", tmp_path / "x.png")
    one_line_error(result, "roialign-cli[plot]")


def test_the_readmes_pictures_are_what_the_documented_script_makes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_pictures", REPO / "docs" / "make_pictures.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    made = script.make(tmp_path)
    assert [p.name for p in made] == ["seed-box.png", "naive-vs-caffe.png"]
    for path in made:
        assert png_size(path) == png_size(REPO / "docs" / path.name)
        assert f"docs/{path.name}" in (REPO / "README.md").read_text()


def test_explain_draws_each_candidate_reading_the_boxes_its_own_way():
    from roialign_cli.cli.explain import plot_drawings
    from roialign_cli.explain import explain

    features = np.load(SAMPLES / "features.npy")
    rois = np.load(SAMPLES / "detections.npy")[0, 0, :16]
    rois = np.concatenate([rois[:, :1], rois[:, 3:]], axis=1)  # SSD rows -> (batch, x1, y1, x2, y2)
    result = explain(features, rois, np.load(SAMPLES / "reference.npy"), image_size=(576, 192), spatial_scale=1 / 8,
                     assume="torchvision", backend="numpy")  # fmt: skip
    assumed, best = plot_drawings(result, rois, (72, 24), 3)
    x1, y1, x2, y2 = rois[3, 1:]
    # yours: relative x the image (576 x 192) x 1/8; the fork's: relative x the feature size (72 x 24)
    np.testing.assert_allclose(assumed.given, (x1 * 72, y1 * 24, x2 * 72, y2 * 24), rtol=1e-6)
    np.testing.assert_allclose(best.given, (x1 * 72, y1 * 24, x2 * 72, y2 * 24), rtol=1e-6)
    assert best.convention == result.best.candidate.convention and "caffe-ssd-roialign" in best.label
    assert assumed.convention.end_plus_one == "none" and best.convention.end_plus_one == "size"


def test_two_conventions_are_labelled_a_and_b_with_their_options_and_switches():
    from roialign_cli.cli.show import Compared
    from roialign_cli.presets import get

    compared = Compared("torchvision", (), ("border=clamp",), -1, None, "onnxruntime",
                        ("coordinate_transformation_mode=output_half_pixel",), ())  # fmt: skip
    (label_a, a), (label_b, b) = compared.conventions()
    assert label_a == "A: torchvision border=clamp" and a == get("torchvision").convention.with_(border="clamp")
    assert label_b == "B: onnxruntime coordinate_transformation_mode=output_half_pixel"
    assert b.sample_offset == 0  # output_half_pixel: no half-pixel shift


def test_show_over_a_pyramid_draws_the_box_on_the_level_the_first_mapper_picks(cli, tmp_path):
    maps = {f"p{k}": np.zeros((1, 2, 192 >> k, 576 >> k), np.float32) for k in (2, 3, 4, 5)}
    np.savez(tmp_path / "pyramid.npz", **maps)
    out = tmp_path / "levels.png"
    # seed roi 0 is 434 x 171 input pixels: sqrt area 272, floor(4 + log2(272 / 224)) = P4 (36 x 12 at 1/16)
    result = cli(*SEED[:4], "--features", tmp_path / "pyramid.npz", "--image-size", "576x192",
                 "--level-mapper", "torchvision,mmdet", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "level picked by torchvision P4, mmdet P4; drawn on P4 (36x12, scale 1/16)" in result.stderr
    assert png_size(out) == reported_size(result.stderr)


def test_a_level_mapper_needs_a_pyramid(cli, tmp_path):
    result = cli(*SEED, "--level-mapper", "torchvision", "-o", tmp_path / "x.png")
    one_line_error(result, "--level-mapper belongs to a pyramid")
