"""Box formats and coordinate spaces: known values, errors, filters, warnings, and the seed SSD case."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from roialign_cli import api, arrayio, boxes
from roialign_cli import presets as registry
from roialign_cli.coordinates import Frame, convert
from roialign_cli.errors import InputError
from seed_case import SEED_IMAGE, SEED_STRIDE, hand_converted, seed_detections

# ---------------------------------------------------------------- the seed case


def test_seed_ssd_blob_becomes_the_hand_computed_rois(rng):
    detections = seed_detections(rng)
    conversion = boxes.convert(detections, "ssd", "rois5", frame=Frame(image_size=SEED_IMAGE))
    assert conversion.dropped["padding"] == 2
    assert conversion.output.shape == (16, 5)
    assert conversion.output.dtype == np.float64
    assert np.array_equal(conversion.output, hand_converted(detections))


def test_seed_rois_make_torchvision_reproduce_the_intended_pooling(rng):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    features = rng.standard_normal((1, 16, 24, 72)).astype(np.float32)
    detections = seed_detections(rng)
    rois = boxes.convert(detections, "ssd", "rois5", frame=Frame(image_size=SEED_IMAGE), dtype="float32").output
    expected = api.roi_align(features, rois, (7, 7), 1 / SEED_STRIDE, backend="numpy")
    pooled = torchvision.ops.roi_align(
        torch.from_numpy(features),
        torch.from_numpy(rois),
        (7, 7),
        spatial_scale=1 / SEED_STRIDE,
        sampling_ratio=-1,
        aligned=False,
    ).numpy()
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    # The user's first attempt, relative boxes straight into torchvision, pools something else.
    relative = boxes.parse_rois(detections).rois.astype(np.float32)
    wrong = torchvision.ops.roi_align(
        torch.from_numpy(features),
        torch.from_numpy(relative),
        (7, 7),
        spatial_scale=1 / SEED_STRIDE,
        sampling_ratio=-1,
        aligned=False,
    ).numpy()
    assert not np.allclose(wrong, expected, atol=1e-3)


def test_ssd_blob_of_only_padding_gives_no_boxes():
    conversion = boxes.convert(-np.ones((1, 1, 3, 7), np.float32), "ssd", "rois5", frame=Frame(image_size=(8, 8)))
    assert conversion.output.shape == (0, 5)
    assert conversion.dropped["padding"] == 3


def test_empty_ssd_output_is_one_padding_row_as_detection_output_writes():
    empty = boxes.Boxes(np.zeros(0), np.zeros((0, 4)), "relative")
    assert np.array_equal(boxes.write(empty, "ssd"), -np.ones((1, 1, 1, 7)))


# ---------------------------------------------------------------- layouts and spaces, by known values


@pytest.mark.parametrize(
    "fmt, row, xyxy",
    [
        ("xyxy", [10, 20, 40, 60], [10, 20, 40, 60]),
        ("xywh", [10, 20, 30, 40], [10, 20, 40, 60]),
        ("cxcywh", [25, 40, 30, 40], [10, 20, 40, 60]),
        ("yxyx", [20, 10, 60, 40], [10, 20, 40, 60]),
    ],
)
def test_four_column_layouts(fmt, row, xyxy):
    read = boxes.read(fmt, np.array([row], np.float32))
    assert read.boxes.xyxy.tolist() == [xyxy]
    assert boxes.write(read.boxes, fmt).tolist() == [row]


def test_archive_formats_name_their_arrays():
    b = boxes.Boxes(np.array([0.0, 2.0]), np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]]), "absolute")
    onnx = boxes.write(b, "onnx")
    assert onnx["rois"].tolist() == b.xyxy.tolist() and onnx["batch_indices"].dtype == np.int64
    tf = boxes.write(b, "tf")
    assert tf["boxes"].tolist() == [[2, 1, 4, 3], [6, 5, 8, 7]] and tf["box_indices"].dtype == np.int32
    lists = boxes.write(b, "per-image")
    assert list(lists) == ["image_0", "image_1", "image_2"]
    assert [a.shape for a in lists.values()] == [(1, 4), (0, 4), (1, 4)]


def test_per_image_groups_boxes_by_image_in_batch_order():
    b = boxes.Boxes(np.array([1.0, 0.0, 1.0]), np.arange(12.0).reshape(3, 4), "absolute")
    back = boxes.read("per-image", boxes.write(b, "per-image")).boxes
    assert back.batch.tolist() == [0, 1, 1]
    assert back.xyxy.tolist() == [[4, 5, 6, 7], [0, 1, 2, 3], [8, 9, 10, 11]]


@pytest.mark.parametrize(
    "source, xyxy, target, expected",
    [
        ("relative", [0.5, 0.25, 1, 1], "absolute", [288, 48, 576, 192]),
        ("tf", [0, 0, 1, 1], "absolute", [0, 0, 575, 191]),
        ("absolute", [8, 16, 80, 160], "feature", [1, 2, 10, 20]),
        ("relative", [0.5, 0.5, 1, 1], "feature", [36, 12, 72, 24]),
        ("absolute", [0, 0, 575, 191], "tf", [0, 0, 1, 1]),
        ("feature", [36, 12, 72, 24], "relative", [0.5, 0.5, 1, 1]),
    ],
)
def test_spaces_by_known_values(source, xyxy, target, expected):
    frame = Frame(image_size=SEED_IMAGE, spatial_scale=1 / SEED_STRIDE)
    assert convert(np.array([xyxy], float), source, target, frame).tolist() == [expected]


@pytest.mark.parametrize(
    "source, target, frame, message",
    [
        ("relative", "absolute", Frame(), "--image-size"),
        ("absolute", "tf", Frame(spatial_scale=0.5), "--image-size"),
        ("absolute", "feature", Frame(image_size=(4, 4)), "--spatial-scale"),
        ("tf", "absolute", Frame(image_size=(1, 4)), "at least 2 pixels"),
        ("absolute", "nowhere", Frame(), "unknown coordinate space"),
    ],
)
def test_conversions_say_what_they_miss(source, target, frame, message):
    with pytest.raises(InputError, match=message):
        convert(np.zeros((1, 4)), source, target, frame)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "fmt, array, message",
    [
        ("rois5", np.zeros((3, 6)), r"shape \[3, 6\].*rois5 format expects \[K,5\]"),
        ("xyxy", np.zeros((3, 5)), r"fits rois5"),
        ("ssd", np.zeros((2, 1, 3, 7)), r"\[K,7\] or \[1,1,K,7\]"),
        ("rois5", np.array([[0, 1, np.nan, 3, 4]]), "NaN or infinite"),
        ("xywh", np.array([[1, np.inf, 3, 4]]), "NaN or infinite"),
        ("ssd", np.array([[0, 0.5, 0.9, 0.1, 0.1, 0.2, 0.2]]), "non-integer label"),
        ("rois5", np.array([["a"] * 5]), "numeric"),
        ("squares", np.zeros((1, 4)), "unknown box format 'squares'"),
    ],
)
def test_bad_arrays_are_refused(fmt, array, message):
    with pytest.raises(InputError, match=message):
        boxes.read(fmt, array)


def test_archive_formats_need_their_arrays():
    with pytest.raises(InputError, match="'batch_indices'.*holds rois"):
        boxes.read("onnx", {"rois": np.zeros((1, 4))})
    with pytest.raises(InputError, match="archive of named arrays"):
        boxes.read("tf", np.zeros((1, 4)))
    with pytest.raises(InputError, match=r"box_indices has shape \[2\], but there are 1 boxes"):
        boxes.read("tf", {"boxes": np.zeros((1, 4)), "box_indices": np.zeros(2, np.int32)})


def test_batch_index_options_apply_to_four_column_formats_only():
    assert boxes.read("xyxy", np.zeros((2, 4)), batch_index=3).boxes.batch.tolist() == [3, 3]
    assert boxes.read("xyxy", np.zeros((2, 4)), batch_indices=np.array([1, 2])).boxes.batch.tolist() == [1, 2]
    with pytest.raises(InputError, match="holds its own batch indices"):
        boxes.read("rois5", np.zeros((2, 5)), batch_index=1)
    with pytest.raises(InputError, match="not both"):
        boxes.read("xyxy", np.zeros((2, 4)), batch_index=1, batch_indices=np.array([1, 2]))


def test_integer_batch_formats_refuse_fractional_batch_indices():
    b = boxes.Boxes(np.array([0.5]), np.zeros((1, 4)), "absolute")
    for fmt in ("onnx", "tf", "per-image"):
        with pytest.raises(InputError, match="integers, but box 0 has 0.5"):
            boxes.write(b, fmt)
    assert boxes.write(b, "rois5")[0, 0] == 0.5  # rois5 keeps what it was given; the checks warn


# ---------------------------------------------------------------- filters and warnings


def test_filters_count_what_they_drop():
    rows = np.array(
        [[0, 1, 0.9, 0, 0, 1, 1], [0, 2, 0.9, 0, 0, 1, 1], [0, 1, 0.2, 0, 0, 1, 1], [0, 3, 0.1, 0, 0, 1, 1], [-1] * 7],
        np.float32,
    )
    conversion = boxes.convert(rows, "ssd", "ssd", labels=[1, 3], min_score=0.5)
    assert conversion.dropped == {"padding": 1, "labels": 1, "min_score": 2}
    assert conversion.result.labels.tolist() == [1]


def test_filters_need_scores_and_labels():
    with pytest.raises(InputError, match="carry scores"):
        boxes.convert(np.zeros((1, 5)), "rois5", "rois5", min_score=0.5)
    with pytest.raises(InputError, match="carry labels"):
        boxes.convert(np.zeros((1, 4)), "xyxy", "rois5", labels=[1])


def warnings_for(rows, fmt="rois5", **options) -> str:
    return "\n".join(boxes.convert(np.array(rows, float), fmt, "rois5", **options).warnings)


def test_warnings_for_suspicious_data():
    assert "look like relative" in warnings_for([[0, 0.1, 0.2, 0.5, 0.6]])
    assert "look like pixels" in warnings_for([[0, 0, 0, 30, 40, 50, 60]], "ssd", frame=Frame(image_size=(64, 64)))
    assert "x2 < x1" in warnings_for([[0, 10, 10, 5, 20]])
    assert "non-integer batch index" in warnings_for([[0.5, 10, 10, 20, 20]])
    assert "outside the 64x64 image" in warnings_for([[0, 10, 10, 80, 20]], frame=Frame(image_size=(64, 64)))
    assert "outside" in warnings_for([[0, 0, 0, 0.5, 0.5, 1.2, 0.9]], "ssd", frame=Frame(image_size=(64, 64)))
    assert warnings_for([[0, 10, 10, 20, 20]], frame=Frame(image_size=(64, 64))) == ""


def test_ssd_output_without_labels_says_what_it_fills_in():
    conversion = boxes.convert(np.array([[0.0, 1, 2, 3, 4]]), "rois5", "ssd", to_space="absolute")
    assert conversion.output[0, 0, 0, :3].tolist() == [0, boxes.SSD_FILL_LABEL, boxes.SSD_FILL_SCORE]
    assert any("label 0 and score 1" in w for w in conversion.warnings)


# ---------------------------------------------------------------- what `roialign pool` reads


@pytest.mark.parametrize(
    "array, layout, dropped",
    [
        (np.array([[0, 1, 2, 3, 4]], np.float32), "rois", 0),
        (np.array([[1, 2, 3, 4]]), "boxes", 0),
        (np.array([[[[0, 1, 0.5, 1, 2, 3, 4], [-1] * 7]]]), "ssd", 1),
        (np.zeros(0), "rois", 0),
    ],
)
def test_parse_rois_reads_what_pool_accepts(array, layout, dropped):
    parsed = boxes.parse_rois(array)
    assert parsed.layout.startswith(layout) and parsed.dropped == dropped
    assert parsed.rois.dtype == np.float64 and parsed.rois.shape == (1 - (array.size == 0), 5)
    if array.size:
        assert parsed.rois[0, 1:].tolist() == [1, 2, 3, 4]


def test_scale_relative_multiplies_by_the_image_size():
    rois = boxes.scale_relative(np.array([[1, 0.5, 0.25, 1, 1]]), (576, 192))
    assert rois.tolist() == [[1, 288, 48, 576, 192]]


# ---------------------------------------------------------------- files


def test_archives_round_trip_through_files(tmp_path):
    b = boxes.Boxes(np.array([0.0, 1.0]), np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]]), "absolute")
    for fmt in ("onnx", "tf", "per-image"):
        path = str(tmp_path / f"{fmt}.npz")
        boxes.save(path, boxes.write(b, fmt))
        assert np.array_equal(boxes.read(fmt, boxes.load(path, fmt)).boxes.xyxy, b.xyxy)


def test_load_npz_refuses_single_arrays_and_pickles(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(InputError, match="not an .npz archive"):
        arrayio.load_npz(str(tmp_path / "one.npy"))
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(InputError, match="pickled"):
        arrayio.load_npz(str(tmp_path / "objects.npz"))
    with pytest.raises(InputError, match="no such file"):
        arrayio.load_npz(str(tmp_path / "missing.npz"))


def test_api_pool_takes_parsed_boxes_or_a_rois_array_alike(rng):
    features = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    rows = np.array([[[[1, 3, 0.9, 0.1, 0.2, 0.6, 0.7], [-1] * 7]]])
    parsed = boxes.parse_rois(rows, "relative").boxes.to_space("absolute", Frame(image_size=(16, 16)))
    rois = np.array([[1, 1.6, 3.2, 9.6, 11.2]])
    from_boxes, _ = api.pool(features, parsed, (2, 2), 0.5, registry.resolve(), "numpy")
    from_array, _ = api.pool(features, rois, (2, 2), 0.5, registry.resolve(), "numpy")
    np.testing.assert_allclose(from_boxes, from_array, atol=1e-6)
    with pytest.raises(InputError, match="batch index 1, outside the features' batch of 1"):
        api.pool(features[:1], parsed, (2, 2), 0.5, registry.resolve(), "numpy")


def test_relative_warning_is_one_sentence_for_every_caller():
    relative = boxes.Boxes(np.zeros(1), np.array([[0.1, 0.2, 0.5, 0.6]]), "absolute")
    text = boxes.relative_warning(relative, "absolute pixels", "; do something")
    assert text == (
        "every coordinate lies in [0, 1]: these look like relative boxes, but they are read as "
        "absolute pixels; do something"
    )
    assert boxes.relative_warning(replace(relative, xyxy=relative.xyxy * 10), "absolute pixels", "") is None
