"""Drawings with matplotlib (Agg, no display): a roi under one or two conventions, and an error map.

The numbers come from `drawing_geometry` (the engines' own geometry) and `error_map`; this module only
draws them. matplotlib is imported here, inside functions, and only by the commands that draw
(`roialign show`, `diff --plot`, `explain --plot`), so the other commands start without it.

Pictures are meant for a white page and for print: colour-blind safe colours that also differ in line
style and marker, labelled axes, one legend outside the plot, and marker sizes that follow the bin
size so that 7x7 and 14x14 grids stay legible.
"""

from __future__ import annotations

import io
import struct
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .conventions import differences, format_value
from .drawing_geometry import Drawing
from .errors import InputError, RoiAlignError

FORMATS = {".png": "png", ".svg": "svg"}
DPI = 100
WIDTH = 1200  # pixels; heights follow the drawing
MAX_PIXEL_DOTS = 22500


@dataclass(frozen=True)
class Style:
    colour: str
    line: str
    marker: str


# Okabe-Ito blue and vermillion: apart for colour-blind readers and, by line style and marker, in grey print.
STYLES = (
    Style("#0072B2", "-", "o"),
    Style("#D55E00", "--", "s"),
)
GREY = "0.55"


def pyplot():
    """matplotlib's pyplot on the Agg backend, or a one-line error saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise RoiAlignError("drawing needs matplotlib: pip install 'roialign-cli[plot]'") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def output_format(path: str) -> str:
    """'png' or 'svg' from the output's extension."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"the picture's file name must end in .png or .svg, not {path!r}")
    return fmt


def save(fig, path: str, inputs=()) -> tuple[int, int]:
    """Render `fig` to bytes, then write it atomically (never over an input); returns its size in pixels."""
    from .arrayio import check_output_path
    from .output_files import write_all

    if path == "-":
        raise InputError("a picture is written to a file: give -o NAME.png or NAME.svg")
    check_output_path(path, list(inputs))
    fmt = output_format(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=DPI, facecolor="white")
    size = tuple(round(v) for v in fig.bbox.size)
    pyplot().close(fig)
    data = buffer.getvalue()
    if fmt == "png":
        data = _palette_png(data)
        size = struct.unpack(">II", data[16:24])  # the image header's width and height
    write_all([(path, lambda f: f.write(data))])
    return size


def _palette_png(data: bytes) -> bytes:
    """The PNG with 256 colours, a third of the size: line drawings and one colour map need no more.
    (Pillow comes with matplotlib.)"""
    from PIL import Image

    image = (
        Image.open(io.BytesIO(data))
        .convert("RGB")
        .quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    )
    out = io.BytesIO()
    image.save(out, format="png", optimize=True)
    return out.getvalue()


# ------------------------------------------------------------------ a roi under conventions


def difference_lines(drawings: list[Drawing]) -> list[str]:
    """'switch: value in A | value in B' for every switch on which two conventions differ."""
    if len(drawings) < 2:
        return []
    a, b = drawings
    return [
        f"{name}: {format_value(va)} | {format_value(vb)}" for name, va, vb in differences(a.convention, b.convention)
    ]


def roi_figure(
    drawings: list[Drawing], sample: tuple[int, int, int, int], title: str, overlay: bool = False, width: int = WIDTH
):
    """A row per convention: the roi on the feature grid, and a close-up of the chosen sample's taps with
    their weights. With `overlay`, one panel holds every convention's roi."""
    plt = pyplot()
    view = _view(drawings, sample)
    aspect = (view[3] - view[1]) / (view[2] - view[0])
    inches = width / DPI
    row = min(max(inches * 0.7 * aspect, 2.6), 8.0)
    subtitle = _subtitle(drawings, width)
    rows = 1 if overlay else len(drawings)
    panels = max(row * rows, 2.8 * len(drawings))  # every close-up gets room for its four weights
    height = panels + 0.35 * (len(_wrapped(title, width)) + len(subtitle)) + 0.3 * _legend_rows(drawings)
    fig = plt.figure(figsize=(inches, height), layout="constrained", dpi=DPI)
    grid = fig.add_gridspec(len(drawings), 2, width_ratios=(3, 1))
    mains = [fig.add_subplot(grid[:, 0] if overlay else grid[i, 0], label=f"map {i}") for i in range(rows)]
    for i, drawing in enumerate(drawings):
        main = mains[0 if overlay else i]
        main.set_title("\n".join(d.label for d in drawings) if overlay else drawing.label, fontsize=11)
        if len(drawings) > 1:  # the legend names them by letter; the panel titles say them in full
            drawing = replace(drawing, label="AB"[i])
        if i == 0 or not overlay:
            _feature_grid(main, drawing, view)
        _panel(main, drawing, STYLES[i], sample, view)
        _close_up(fig.add_subplot(grid[i, 1], label=f"close-up {i}"), drawing, STYLES[i], sample)
    fig.suptitle("\n".join([*_wrapped(title, width), *subtitle]), fontsize=11, ha="left", x=0.01)
    _shared_legend(fig, fig.axes)
    fig.canvas.draw()  # lay out first: marker sizes follow the bins' size on the page
    for ax in fig.axes:
        _size_markers(ax)
    return fig


def _legend_rows(drawings) -> int:
    return 2 + 3 * len(drawings)


def _subtitle(drawings: list[Drawing], width: int) -> list[str]:
    lines = difference_lines(drawings)
    if not lines:
        return []
    return _wrapped("differs (A | B): " + "; ".join(lines), width)


def _wrapped(text: str, width: int) -> list[str]:
    """Lines that fit a figure `width` pixels wide at the title's size (about 9 pixels a character)."""
    return [part for line in text.splitlines() for part in textwrap.wrap(line, width // 9)]


def _view(drawings: list[Drawing], sample) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 in feature pixels: every box, sample and tap, plus a margin."""
    xs, ys = [], []
    for d in drawings:
        for box in (d.given, d.read):
            xs += [box[0], box[2]]
            ys += [box[1], box[3]]
        points = d.samples()
        xs += list(points[:, 4])
        ys += list(points[:, 5])
        tap = _tap_or_none(d, sample)
        if tap is not None:
            xs += [p[0] for p in tap.pixels] + [tap.point[0]]
            ys += [p[1] for p in tap.pixels] + [tap.point[1]]
    margin = 1.0 + 0.04 * max(max(xs) - min(xs), max(ys) - min(ys))
    return (min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin)


def has_sample(drawing: Drawing, sample) -> bool:
    return _tap_or_none(drawing, sample) is not None


def _tap_or_none(drawing: Drawing, sample):
    """The chosen sample's taps; None when this convention's bin has no such sample."""
    try:
        return drawing.tap(*sample)
    except InputError:
        return None


def _panel(ax, d: Drawing, style: Style, sample, view, weights: bool = False) -> None:
    ax.add_patch(
        _rectangle(d.read, edgecolor=style.colour, linestyle=style.line, linewidth=2.2, label=f"{d.label}: box as read")
    )
    ax.add_patch(_rectangle(d.given, edgecolor="black", linestyle=":", linewidth=1.2, zorder=2, label="box as given"))
    _bin_edges(ax, d, style)
    _samples(ax, d, style)
    _taps(ax, d, style, sample, weights)
    ax.set_xlim(view[0], view[2])
    ax.set_ylim(view[3], view[1])  # rows grow downwards, as in an image
    ax.set_aspect("equal")
    ax.set_xlabel("x (feature pixels; pixel i is centred on i)")
    ax.set_ylabel("y (feature pixels)")


def _close_up(ax, d: Drawing, style: Style, sample) -> None:
    """The chosen sample, the pixels it reads and their weights, a few pixels across."""
    try:
        tap = d.tap(*sample)
    except InputError as exc:  # this convention's bin has fewer samples: say so where the close-up would be
        ax.axis("off")
        ax.text(0.5, 0.5, textwrap.fill(str(exc), 28), ha="center", va="center", fontsize=9, transform=ax.transAxes)
        return
    xs = [p[0] for p in tap.pixels] + [tap.point[0]]
    ys = [p[1] for p in tap.pixels] + [tap.point[1]]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2 + 0.9
    view = (cx - half, cy - half, cx + half, cy + half)
    _feature_grid(ax, d, view)
    _panel(ax, d, style, sample, view, weights=True)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    where = (
        "outside the map: reads the fill value" if not tap.inside else f"at x={tap.point[0]:.3f}, y={tap.point[1]:.3f}"
    )
    ax.set_title(f"{_sample_words(d, tap.bin, tap.index)}\n{where}", fontsize=9)


def _sample_words(d: Drawing, bin_, index) -> str:
    if d.x.edges is None:  # a corner grid: one point per output cell
        return f"the point of output cell ({bin_[0]},{bin_[1]})"
    return f"sample ({index[0]},{index[1]}) of bin ({bin_[0]},{bin_[1]})"


def _rectangle(box, **style):
    from matplotlib.patches import Rectangle

    x1, y1, x2, y2 = box
    return Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, **style)


def _feature_grid(ax, d: Drawing, view) -> None:
    width, height = d.feature_size
    xs = np.arange(max(0, int(np.ceil(view[0]))), min(width - 1, int(np.floor(view[2]))) + 1)
    ys = np.arange(max(0, int(np.ceil(view[1]))), min(height - 1, int(np.floor(view[3]))) + 1)
    step = 1 + int(np.sqrt(xs.size * ys.size / MAX_PIXEL_DOTS))  # more dots than that are a grey wash
    gx, gy = np.meshgrid(xs[::step], ys[::step])
    label = "feature pixel centres" + (f" (every {step}th)" if step > 1 else "")
    ax.scatter(gx.ravel(), gy.ravel(), s=4, color=GREY, linewidths=0, label=label, zorder=1)
    edge = (-0.5, -0.5, width - 0.5, height - 0.5)
    ax.add_patch(_rectangle(edge, edgecolor=GREY, linewidth=1.0, label=f"feature map {width}x{height} (pixel areas)"))


def _bin_edges(ax, d: Drawing, style: Style) -> None:
    if d.x.edges is None:
        return  # a corner grid (TF crop_and_resize) has points, not bins
    (x0, x1), (y0, y1) = (d.x.edges[[0, -1]], d.y.edges[[0, -1]])
    kw = {"color": style.colour, "linestyle": style.line, "linewidth": 0.7, "alpha": 0.8}
    ax.vlines(d.x.edges[1:-1], y0, y1, **kw)
    ax.hlines(d.y.edges[1:-1], x0, x1, label=f"{d.label}: bin edges ({d.output_size[0]}x{d.output_size[1]})", **kw)


def _samples(ax, d: Drawing, style: Style) -> None:
    points = d.samples()
    inside = np.array(
        [d.x.inside[int(px), int(ix)] and d.y.inside[int(py), int(iy)] for py, px, iy, ix, _, _ in points], dtype=bool
    )
    count = f"{len(points)} sample points"
    ax.scatter(
        points[inside, 4],
        points[inside, 5],
        marker=style.marker,
        color=style.colour,
        s=12,
        linewidths=0,
        label=f"{d.label}: {count}",
        zorder=3,
        gid="samples",
    )
    if (~inside).any():
        ax.scatter(
            points[~inside, 4],
            points[~inside, 5],
            marker="x",
            color=style.colour,
            s=12,
            linewidths=1,
            label=f"{d.label}: samples outside the map (read as {format_value(d.convention.fill_value)})",
            zorder=3,
            gid="samples",
        )


def _taps(ax, d: Drawing, style: Style, sample, weights: bool) -> None:
    tap = _tap_or_none(d, sample)
    if tap is None:
        return
    ax.scatter(
        *tap.point,
        marker="*",
        s=160,
        color=style.colour,
        edgecolors="black",
        linewidths=0.8,
        zorder=5,
        label=f"{d.label}: {_sample_words(d, tap.bin, tap.index)} and its taps",
    )
    for (x, y), weight in tap.weighted().items():
        ax.plot([tap.point[0], x], [tap.point[1], y], color=style.colour, linewidth=1.0, zorder=4)
        ax.scatter(x, y, s=60, facecolors="none", edgecolors=style.colour, linewidths=1.4, zorder=4)
        if weights:
            # beside the pixel, away from the sample (screen y grows upwards, rows downwards)
            right, down = x >= tap.point[0], y > tap.point[1]
            ax.annotate(
                f"w {weight:.3f}",
                (x, y),
                xytext=(7 if right else -7, -7 if down else 7),
                textcoords="offset points",
                ha="left" if right else "right",
                va="top" if down else "bottom",
                fontsize=9,
                color="black",
                zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )


def _shared_legend(fig, axes) -> None:
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncols=2, fontsize=9, frameon=False)


def _size_markers(ax) -> None:
    """Sample markers about a third of the smallest sample spacing on the page, between 1.5 and 7 points."""
    points_per_unit = ax.get_window_extent().width / (ax.get_xlim()[1] - ax.get_xlim()[0]) * 72 / DPI
    for collection in ax.collections:
        if collection.get_gid() != "samples":
            continue
        spacing = _spacing(collection.get_offsets()) * points_per_unit
        side = float(np.clip(spacing * 0.4, 1.5, 7.0))
        collection.set_sizes([side**2])


def _spacing(offsets) -> float:
    offsets = np.asarray(offsets, dtype=np.float64)
    gaps = [np.diff(np.unique(np.round(offsets[:, axis], 6))) for axis in (0, 1)]
    gaps = np.concatenate(gaps)
    return float(gaps.min()) if gaps.size else 1.0


# ------------------------------------------------------------------ where two outputs differ


def error_figure(emap, title: str, atol: float, worst: int = 5, width: int = WIDTH):
    """A heat map of max |a - b| per roi and channel (worst cells marked) over a log histogram of |a - b|."""
    plt = pyplot()
    inches = width / DPI
    fig = plt.figure(figsize=(inches, inches * 0.62), layout="constrained", dpi=DPI)
    grid = fig.add_gridspec(2, 2, height_ratios=(1.5, 1), width_ratios=(1.6, 1))
    heat = fig.add_subplot(grid[0, :])
    _heat_map(fig, heat, emap, worst)
    _histogram(fig.add_subplot(grid[1, 0]), emap, atol)
    _worst_table(fig.add_subplot(grid[1, 1]), emap, worst)
    fig.suptitle("\n".join(_wrapped(title, width)), fontsize=11, ha="left", x=0.01)
    fig.canvas.draw()  # lay out first: the rank numbers are placed in points on the page
    _number_cells(heat, emap.worst(worst))
    return fig


def _heat_map(fig, ax, emap, worst: int) -> None:
    import matplotlib
    import matplotlib.colors as mcolors
    from matplotlib.ticker import MaxNLocator

    cells = emap.cells
    finite = cells[np.isfinite(cells) & (cells > 0)]
    top = float(finite.max()) if finite.size else 1.0
    low = max(float(finite.min()) if finite.size else top, top * 1e-6)
    # white: exactly equal; orange (Okabe-Ito vermillion): a NaN or infinity on one side only
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="white", over="#D55E00")
    shown = np.ma.masked_where(cells == 0, np.where(np.isinf(cells), top * 10, np.maximum(cells, low)))
    norm = mcolors.LogNorm(vmin=low, vmax=top * (1 + 1e-9)) if low < top else mcolors.Normalize(0, top * 2)
    image = ax.imshow(shown, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    bar = fig.colorbar(image, ax=ax, extend="max" if emap.nonfinite else "neither")
    bar.set_label(
        "max |a - b| per cell\n(white: equal" + ("; orange: NaN or inf on one side)" if emap.nonfinite else ")")
    )
    ax.set_xlabel("channel")
    ax.set_ylabel("roi")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rois and channels are whole numbers
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for roi, channel, _ in emap.worst(worst):
        ax.scatter(channel, roi, s=90, facecolors="none", edgecolors="#CC0000", linewidths=1.6, zorder=3)


def _number_cells(ax, cells) -> None:
    """Rank numbers beside the circled cells, each on the first side where it covers no earlier number."""
    placed: list[tuple[float, float, float, float]] = []
    for rank, (roi, channel, _) in enumerate(cells, 1):
        x, y = ax.transData.transform((channel, roi)) * 72 / DPI  # in points
        for dx, dy in ((6, 4), (-13, 4), (6, -13), (-13, -13)):
            box = (x + dx, y + dy, x + dx + 7 * len(str(rank)), y + dy + 9)
            if not any(_overlap(box, other) for other in placed):
                break
        placed.append(box)
        ax.annotate(
            str(rank),
            (channel, roi),
            xytext=(dx, dy),
            textcoords="offset points",
            fontsize=8,
            color="black",
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.9},
        )


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _histogram(ax, emap, atol: float) -> None:
    if emap.counts.size:
        ax.stairs(emap.counts, emap.edges, fill=True, color="#0072B2", alpha=0.8, baseline=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)  # bars stand on the axis: a count of 1 shows
        ax.axvline(atol, color="black", linestyle="--", linewidth=1, label=f"atol {atol:g}")
        ax.legend(fontsize=8, loc="upper left")
    else:
        ax.text(0.5, 0.5, "no finite differences", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("|a - b| (finite pairs; log scale)")
    ax.set_ylabel("elements (log scale)")
    ax.set_title(
        f"{emap.exact} equal, {int(emap.counts.sum())} differ, {emap.nonfinite} non-finite mismatches", fontsize=9
    )


def _worst_table(ax, emap, worst: int) -> None:
    ax.axis("off")
    rows = [
        [str(rank), str(roi), str(ch), "NaN/inf" if np.isinf(v) else f"{v:.3e}"]
        for rank, (roi, ch, v) in enumerate(emap.worst(worst), 1)
    ]
    if not rows:
        ax.text(0.5, 0.5, "A and B are equal", ha="center", va="center")
        return
    table = ax.table(
        cellText=rows, colLabels=["#", "roi", "channel", "max |a - b|"], loc="upper center", cellLoc="right"
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.3)
    ax.set_title("worst cells (circled and numbered on the map)", fontsize=9)
