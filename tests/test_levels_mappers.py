"""Every level mapper on boxes worked out by hand from its framework's source (arithmetic in the
comments; s = sqrt(box area) in input pixels, P2..P5 = map indices 0..3)."""

import numpy as np
import pytest

from roialign_cli.errors import InputError
from roialign_cli.level_mappers import MAPPERS, get_mapper, parse_mapper_list
from roialign_cli.pyramid import assign_levels, pyramid_of

P2_P5 = pyramid_of([1 / 4, 1 / 8, 1 / 16, 1 / 32])
BELOW_224 = float(np.nextafter(np.float32(224), np.float32(0)))  # 223.99998: one float32 step under 224


def levels(name, boxes, image_size=None, pyramid=P2_P5):
    rois = np.concatenate([np.zeros((len(boxes), 1)), np.asarray(boxes, dtype=np.float64)], axis=1)
    return assign_levels(rois, get_mapper(name), pyramid, image_size).tolist()


def square(side, at=0.0):
    return [at, at, at + side, at + side]


def test_torchvision():
    # floor(4 + log2(s / 224) + 1e-6): s 111 -> 4 - 1.013 = 2.99 -> P2; 112 -> 3.000001 -> P3;
    # 224 -> 4; 223.99998 -> log2 = -1.0e-7, + 1e-6 -> 4.0000009 -> P4; 448 -> 5; 1000 -> 6.16 -> clamp P5;
    # area 0 -> log2(0) = -inf -> clamp P2
    boxes = [square(111), square(112), square(224), square(BELOW_224), square(448), square(1000), [5, 5, 5, 90]]
    assert levels("torchvision", boxes) == [0, 1, 2, 2, 3, 3, 0]
    assert levels("detectron2", boxes) == [0, 1, 2, 2, 3, 3, 0]  # eps 2.2e-16 vanishes in float32


def test_plus_one_areas():
    # maskrcnn-benchmark and Detectron: (x2 - x1 + 1)(y2 - y1 + 1): box 0..111 has s = 112 -> 3.0000029 -> P3
    # (torchvision: s = 111 -> P2); box 0..222 -> s = 223 -> floor(3.9935) -> P3; box 0..223 -> s = 224 -> P4
    # (torchvision: 222 and 223 -> floor(3.987), floor(3.994) -> P3)
    boxes = [square(111), square(222), square(223)]
    assert levels("torchvision", boxes) == [0, 1, 1]
    for name in ("maskrcnn-benchmark", "detectron"):
        assert levels(name, boxes) == [1, 1, 2]


def test_mmdet_is_zero_based():
    # floor(log2(s / 56 + 1e-6)) clamped to [0, 3]: 55 -> -0.026 -> -1 -> 0; 112 -> 1.0000007 -> 1;
    # 224 -> 2; 448 -> 3. Over P3..P5 the first map is still level 0: 224 goes to index 2 (P5),
    # where torchvision (finest level 3) sends it to P4.
    assert levels("mmdet", [square(55), square(112), square(224), square(448)]) == [0, 1, 2, 3]
    p3_p5 = pyramid_of([1 / 8, 1 / 16, 1 / 32])
    assert levels("mmdet", [square(224)], pyramid=p3_p5) == [2]
    assert levels("torchvision", [square(224)], pyramid=p3_p5) == [1]
    # mmdet v1 adds 1 to the sides: box 0..111 -> s = 112 -> 1 (mmdet 2.x: s = 111 -> 0.99 -> 0)
    assert levels("mmdet", [square(111)]) == [0]
    assert levels("mmdet-v1", [square(111)]) == [1]


def test_matterport_rounds():
    # 4 + round(log2(sqrt(h w) / (224 / sqrt(H W)))) on normalized boxes, image 1024x1024:
    # 112 px -> 0.109375 / 0.21875 = 0.5 -> -1 -> P3; 160 px -> 0.714 -> -0.485 -> round 0 -> P4
    # (torchvision floors 3.51 to P3); 80 px -> log2(0.357) = -1.49 -> -1 -> P3 (torchvision: P2)
    image = (1024, 1024)
    assert levels("matterport", [square(112), square(160), square(80)], image) == [1, 2, 1]
    assert levels("torchvision", [square(112), square(160), square(80)]) == [1, 1, 0]
    with pytest.raises(InputError, match="image size"):
        levels("matterport", [square(112)])


def test_tf_models_has_no_eps():
    # floor(ln(s / 224) / ln 2) + 4: 224 -> 0 -> P4; 223.99998 -> ln < 0 -> -1 -> P3, where the eps of
    # torchvision (1e-6 > 1e-7) keeps it on P4; 448 -> ln 2 / ln 2 = 1 -> P5
    assert levels("tf-models", [square(224), square(BELOW_224), square(448)]) == [2, 1, 3]


def test_tensorrt_thresholds_are_strict():
    # image 1024x1024: t = (sqrt(224^2 / 1024^2))^2 / 4 = 0.0119629; a 112-px box has normalized area
    # (112/1024)^2 = 0.0119629 = t, not > t -> P2 (torchvision: P3); 113 px -> P3; a box at 900..1200 is
    # clipped to 900..1024 (124 px) -> P3, where torchvision takes its 300 px to P4; 500 px > 448 -> P5
    image = (1024, 1024)
    boxes = [square(112), square(113), square(300, at=900), square(500)]
    assert levels("tensorrt-pyramid", boxes, image) == [0, 1, 1, 3]
    assert levels("torchvision", boxes) == [1, 1, 2, 3]


def test_openvino_gives_empty_boxes_no_level():
    # floor(log2(s / 224 + 1e-6) + 2) clamped to [0, L-1]: 112 -> floor(1.0000029) = 1; 1000 -> 4.16 -> 3;
    # area 0 -> level L: pooled from no map (its output stays 0)
    assert levels("openvino", [square(112), square(1000), [5, 5, 5, 90], square(50)]) == [1, 3, -1, 0]


def test_fixed_ranges_clamp_to_four_levels():
    # matterport and TensorRT know P2..P5 only: over five maps a huge box still goes to P5 (index 3)
    p2_p6 = pyramid_of([1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64])
    assert levels("tensorrt-pyramid", [square(1000)], (1024, 1024), pyramid=p2_p6) == [3]
    assert levels("torchvision", [square(1000)], pyramid=p2_p6) == [4]


def test_scale_numbered_mappers_need_powers_of_two():
    with pytest.raises(InputError, match="powers of 2"):
        levels("torchvision", [square(100)], pyramid=pyramid_of([0.3, 0.15]))
    assert levels("mmdet", [square(100)], pyramid=pyramid_of([0.3, 0.15])) == [0]


def test_registry():
    assert get_mapper("openvino").name == "openvino-experimental-detectron"
    assert get_mapper("tensorrt").name == "tensorrt-pyramid"
    assert [m.name for m in parse_mapper_list("mmdet, torchvision")] == ["mmdet", "torchvision"]
    assert parse_mapper_list(None) == list(MAPPERS)
    with pytest.raises(InputError, match="unknown level mapper"):
        get_mapper("fpn")
    with pytest.raises(InputError, match="twice"):
        parse_mapper_list("mmdet,mmdet")
    for mapper in MAPPERS:
        assert "/" in mapper.source and mapper.formula() and mapper.levels_text()
