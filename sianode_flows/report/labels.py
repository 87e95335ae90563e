"""Label points of a scatter plot without overlap: a greedy search in display coordinates.

Each label tries positions on rings of growing radius around its point, in a fixed
order of directions, and takes the first whose box stays inside the axes and clears
every marker and every label placed before it; a label set away from its point gets a
thin leader line. A label that fits nowhere is replaced by a number, and the numbers
are returned as a key for the legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.text import Annotation

RINGS = (6.0, 12.0, 20.0, 32.0, 46.0, 62.0)
"""Distances (points) from a point's center at which its label is tried, nearest first."""
DIRECTIONS = (45, 0, -45, 135, 180, -135, 90, -90)
"""Directions (degrees) tried on each ring: right above first, as a plain label sits."""
PAD = 1.5
"""Clearance (points) kept between a label and anything else."""


@dataclass
class PlacedLabels:
    """What :func:`place_labels` drew.

    Parameters
    ----------
    annotations
        The labels, one per point (a number where the full text did not fit).
    key
        ``(number, text)`` of the points labelled by a number, for a legend.
    """

    annotations: list[Annotation] = field(default_factory=list)
    key: list[tuple[int, str]] = field(default_factory=list)


def renderer_of(ax: Axes) -> RendererBase:
    """Return the renderer of an axes' figure, attaching an Agg canvas if it has none."""
    canvas = ax.figure.canvas
    if not hasattr(canvas, "get_renderer"):
        canvas = FigureCanvasAgg(ax.figure)
    return canvas.get_renderer()


def _alignment(angle: float) -> tuple[str, str]:
    """Horizontal and vertical alignment of a label set off in a direction (degrees)."""
    dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    ha = "left" if dx > 0.3 else "right" if dx < -0.3 else "center"
    va = "bottom" if dy > 0.3 else "top" if dy < -0.3 else "center"
    return ha, va


def _positions() -> Iterator[tuple[float, float, str, str, bool]]:
    """Yield offset (points), alignment and whether a leader line is needed, in order."""
    for ring, radius in enumerate(RINGS):
        for angle in DIRECTIONS:
            ha, va = _alignment(angle)
            dx = radius * math.cos(math.radians(angle))
            dy = radius * math.sin(math.radians(angle))
            yield dx, dy, ha, va, ring > 0


def _fits(box: Bbox, area: Bbox, taken: Sequence[Bbox]) -> bool:
    """Whether a box lies inside an area and overlaps none of the taken boxes."""
    inside = box.x0 >= area.x0 and box.x1 <= area.x1 and box.y0 >= area.y0 and box.y1 <= area.y1
    return inside and not any(box.overlaps(other) for other in taken)


def _try_place(
    ax: Axes,
    xy: tuple[float, float],
    text: str,
    taken: list[Bbox],
    renderer: RendererBase,
    fontsize: float,
) -> tuple[Annotation, bool] | None:
    """Annotate a point at the first free position; ``None`` (nothing drawn) if none is."""
    pad = PAD * ax.figure.dpi / 72
    area = ax.get_window_extent(renderer)
    label = ax.annotate(text, xy, textcoords="offset points", xytext=(0, 0), fontsize=fontsize)
    for dx, dy, ha, va, leader in _positions():
        label.set_position((dx, dy))
        label.set_horizontalalignment(ha)
        label.set_verticalalignment(va)
        box = label.get_window_extent(renderer).padded(pad)
        if _fits(box, area, taken):
            taken.append(box)
            return label, leader
    label.remove()
    return None


def _leader(ax: Axes, xy: tuple[float, float], label: Annotation, renderer: RendererBase) -> None:
    """Draw a thin line from a point to the nearest corner or edge middle of its label."""
    box = label.get_window_extent(renderer)
    point = ax.transData.transform(xy)
    anchors = [
        (x, y)
        for x in (box.x0, (box.x0 + box.x1) / 2, box.x1)
        for y in (box.y0, (box.y0 + box.y1) / 2, box.y1)
    ]
    end = min(anchors, key=lambda a: math.dist(a, point))
    (x0, y0), (x1, y1) = ax.transData.inverted().transform([point, end])
    ax.plot([x0, x1], [y0, y1], color="0.45", linewidth=0.5, zorder=2.5, scalex=False, scaley=False)


def place_labels(
    ax: Axes,
    xy: Sequence[tuple[float, float]],
    texts: Sequence[str],
    obstacles: Sequence[Bbox] = (),
    fontsize: float = 8,
) -> PlacedLabels:
    """Label points so that no two labels overlap, nor a label and an obstacle.

    The axes limits are frozen first (labels are placed in display coordinates), so
    draw everything that sets them before calling this. Offsets are in points, so the
    layout holds at any resolution the figure is saved at.

    Parameters
    ----------
    ax
        The axes, its data already drawn.
    xy
        The points, in data coordinates.
    texts
        A label per point, in the order they are placed (most important first).
    obstacles
        Boxes labels must keep clear of (markers, error bars), in display coordinates.
    fontsize
        Font size of the labels (points).

    Returns
    -------
    PlacedLabels
        The labels drawn, and the key of those numbered for want of room.
    """
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    renderer = renderer_of(ax)
    taken = list(obstacles)
    placed = PlacedLabels()
    for point, text in zip(xy, texts, strict=True):
        found = _try_place(ax, point, text, taken, renderer, fontsize)
        if found is None:
            number = str(len(placed.key) + 1)
            found = _try_place(ax, point, number, taken, renderer, fontsize)
            if found is None:  # no room at all: the number sits beside its point anyway
                label = ax.annotate(number, point, textcoords="offset points", xytext=(4, 3))
                label.set_fontsize(fontsize)
                found = (label, False)
            placed.key.append((int(number), text))
        label, leader = found
        if leader:
            _leader(ax, point, label, renderer)
        placed.annotations.append(label)
    return placed


def display_box(ax: Axes, low: tuple[float, float], high: tuple[float, float], pad: float) -> Bbox:
    """Return the display box spanning two data points, widened by ``pad`` points.

    A marker of radius r at ``xy`` is ``display_box(ax, xy, xy, r)``; an error bar is
    the box from its low to its high end, widened by its cap.
    """
    (x0, y0), (x1, y1) = ax.transData.transform([low, high])
    scale = pad * ax.figure.dpi / 72
    return Bbox.from_extents(
        min(x0, x1) - scale, min(y0, y1) - scale, max(x0, x1) + scale, max(y0, y1) + scale
    )
