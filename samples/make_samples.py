"""Make the seed scenario under samples/: a Caffe SSD detector's feature map and detections.

    python samples/make_samples.py

features.npy    [1, 128, 24, 72] float32: the `p3_conv` map of a 576x192 input (stride 8)
detections.npy  [1, 1, 18, 7] float32: SSD DetectionOutput rows (batch, label, score, xmin, ymin,
                xmax, ymax) with relative (0..1) coordinates; the last two rows are padding (-1)
reference.npy   the Caffe SSD fork's RoIAlign (preset caffe-ssd-roialign) of those boxes, 7x7
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def seed_features(rng) -> np.ndarray:
    # smooth structure plus noise, so that sampling conventions give visibly different numbers
    y, x = np.mgrid[0:24, 0:72].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (128, 1, 1)).astype(np.float32)
    freq = rng.uniform(0.1, 0.6, (128, 1, 1)).astype(np.float32)
    smooth = np.sin(freq * x + phase) * np.cos(0.7 * freq * y - phase)
    return (smooth + 0.1 * rng.standard_normal((128, 24, 72))).astype(np.float32)[None]


def seed_detections(rng) -> np.ndarray:
    real = 16
    x1, y1 = rng.uniform(0.0, 0.8, real), rng.uniform(0.0, 0.7, real)
    x2 = np.minimum(x1 + rng.uniform(0.05, 0.35, real), 1.0)
    y2 = np.minimum(y1 + rng.uniform(0.1, 0.5, real), 1.0)
    x2[0], y2[0] = 1.0, 1.0  # one box touches the bottom-right border
    rows = np.stack([np.zeros(real), rng.integers(1, 4, real), rng.uniform(0.3, 1.0, real), x1, y1, x2, y2], 1)
    padding = -np.ones((2, 7))
    return np.concatenate([rows, padding]).astype(np.float32)[None, None]


def main() -> None:
    rng = np.random.default_rng(2026)
    features = seed_features(rng)
    detections = seed_detections(rng)
    np.save(HERE / "features.npy", features)
    np.save(HERE / "detections.npy", detections)
    try:
        from roialign_cli import roi_align
        from roialign_cli.boxes import parse_rois
    except ImportError:
        return
    try:
        rois = parse_rois(detections).rois
        reference = roi_align(features, rois, (7, 7), preset="caffe-ssd-roialign", backend="numpy")
    except Exception as exc:  # the preset may not exist in an older checkout
        print(f"reference.npy not made: {exc}")
        return
    np.save(HERE / "reference.npy", reference)


if __name__ == "__main__":
    main()
