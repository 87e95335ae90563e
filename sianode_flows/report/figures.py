"""Figures over all candidates: capacity against R_t, slope against capacity.

The paper's Figure 3, and the slope of every screened candidate against its
capacity (the generation figures, Figure 5, are in
:mod:`sianode_flows.report.generation`). Each function writes one PNG and returns its
path, or ``None`` when there is nothing to draw.
"""

from __future__ import annotations

from collections import Counter
from itertools import cycle
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter
from pymatgen.core import Composition

from sianode_flows.report.labels import display_box, place_labels
from sianode_flows.report.style import (
    ANGSTROM,
    PALETTE,
    STATUS_COLORS,
    VERDICTS,
    legend_beside,
    legend_text,
    save,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from matplotlib.axes import Axes
    from matplotlib.transforms import Bbox

    from sianode_flows.schemas import CandidateDocument, SlopeFitDocument

LOG_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0, 10.0)
"""Labelled channel radii (A) of the log axis."""
MARKER_RADIUS = 3.0
"""Radius of a slope marker (points)."""
STAR_RADIUS = 8.0
"""Half-size of the reference star (points)."""
CAP = 3.0
"""Half-width of an error bar's cap (points)."""


def _category_colors(labels: Sequence[str], fixed: Mapping[str, str]) -> dict[str, str]:
    """Give each label a color, in legend order.

    Labels with a fixed color come first, in the order of ``fixed`` (verdicts in
    ranking order); the others follow, most frequent first, in the palette colors
    no fixed label took.
    """
    counts = Counter(labels)
    colors = {label: color for label, color in fixed.items() if label in counts}
    palette = cycle([c for c in PALETTE if c not in colors.values()] or PALETTE)
    for label, _ in counts.most_common():
        if label not in colors:
            colors[label] = next(palette)
    return colors


def capacity_channel_figure(
    candidates: Sequence[CandidateDocument],
    labels: Mapping[str, str],
    path: Path,
    *,
    min_capacity: float,
    r_t_window: tuple[float, float],
    color_title: str,
) -> Path | None:
    """Plot capacity against the charged channel radius on a log axis (paper, Figure 3).

    Parameters
    ----------
    candidates
        Candidates; those without a charged R_t are left out (and counted).
    labels
        Candidate identifier to the category that colors it (source or status).
    path
        PNG to write.
    min_capacity
        Capacity threshold drawn as a horizontal line (mAh/g).
    r_t_window
        Channel-radius window shaded (A).
    color_title
        Title of the color legend, e.g. ``"source"``.

    Returns
    -------
    Path or None
        The PNG written, or ``None`` when no candidate has a channel radius.
    """
    radius = {
        c.candidate_id: c.r_t_charged
        for c in candidates
        if c.r_t_charged is not None and c.r_t_charged > 0
    }
    drawn = [c for c in candidates if c.candidate_id in radius]
    if not drawn:
        return None
    low, high = r_t_window
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    categories = [labels.get(c.candidate_id, "unknown") for c in drawn]
    colors = _category_colors(categories, STATUS_COLORS)
    for category, color in colors.items():
        chosen = [c for c, k in zip(drawn, categories, strict=True) if k == category]
        ax.scatter(
            [radius[c.candidate_id] for c in chosen],
            [c.capacity_mAh_g for c in chosen],
            s=22 if len(drawn) < 200 else 8,
            color=color,
            alpha=0.8,
            edgecolor="black" if len(drawn) < 200 else "none",
            linewidth=0.4,
            label=f"{category} ({len(chosen)})",
            zorder=3,
        )
    ax.axhline(min_capacity, color="black", linestyle="--", linewidth=1)
    ax.axvspan(low, high, color="#ffbf00", alpha=0.15, zorder=1)
    in_window = sum(
        c.capacity_mAh_g >= min_capacity and low <= radius[c.candidate_id] <= high for c in drawn
    )
    ax.set_xscale("log")
    x_low = min(*radius.values(), low) / 1.15
    x_high = max(*radius.values(), high) * 1.15
    ax.set_xlim(x_low, x_high)
    ax.xaxis.set_major_locator(FixedLocator([t for t in LOG_TICKS if x_low <= t <= x_high]))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"channel radius $R_t$ of the charged structure ({ANGSTROM}, log scale)")
    ax.set_ylabel("gravimetric capacity (mAh/g)")
    left = len(candidates) - len(drawn)
    ax.set_title(
        f"{len(drawn)} candidates; {in_window} above {min_capacity:.0f} mAh/g with "
        f"$R_t$ in {low:g}-{high:g} {ANGSTROM}" + (f" ({left} without $R_t$)" if left else ""),
        fontsize=10,
    )
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", linestyle="--", label=f"{min_capacity:.0f} mAh/g"))
    handles.append(
        ax.fill_between([], [], color="#ffbf00", alpha=0.3, label=f"$R_t$ window {low:g}-{high:g}")
    )
    ax.legend(handles=handles, title=color_title, fontsize=8, loc="best", framealpha=0.9)
    ax.grid(alpha=0.3, which="both")
    return save(fig, path)


def _chemsys(formula: str) -> str:
    return Composition(formula).chemical_system


def _error_bars(fits: Sequence[SlopeFitDocument]) -> list[list[float]]:
    """Return the lower and upper error bars: the slope's interval, else its standard error."""
    low, high = [], []
    for fit in fits:
        if fit.slope_ci_low is not None and fit.slope_ci_high is not None:
            low.append(max(fit.slope - fit.slope_ci_low, 0.0))
            high.append(max(fit.slope_ci_high - fit.slope, 0.0))
        else:
            low.append(fit.slope_err or 0.0)
            high.append(fit.slope_err or 0.0)
    return [low, high]


def _slope_points(ax: Axes, drawn: Sequence[tuple[SlopeFitDocument, float]]) -> None:
    """Draw the slopes with their intervals, one legend entry per verdict shown."""
    for verdict in VERDICTS:
        chosen = [(f, slope) for f, slope in drawn if f.shown_verdict == verdict]
        if not chosen:
            continue
        ax.errorbar(
            [f.capacity_mAh_g for f, _ in chosen],
            [slope for _, slope in chosen],
            yerr=_error_bars([f for f, _ in chosen]),
            fmt="o",
            markersize=2 * MARKER_RADIUS,
            color=STATUS_COLORS[verdict],
            markeredgecolor="black",
            markeredgewidth=0.5,
            elinewidth=1,
            capsize=CAP,
            label=f"{verdict} ({len(chosen)})",
            zorder=3,
        )


def _point_obstacles(
    ax: Axes, drawn: Sequence[tuple[SlopeFitDocument, float]], references: set[str]
) -> list[Bbox]:
    """Display boxes of the markers, stars and error bars that labels must clear."""
    boxes = []
    for fit, slope in drawn:
        xy = (fit.capacity_mAh_g, slope)
        radius = STAR_RADIUS if fit.candidate_id in references else MARKER_RADIUS
        boxes.append(display_box(ax, xy, xy, radius))
        (below,), (above,) = _error_bars([fit])
        if below or above:
            low = (fit.capacity_mAh_g, slope - below)
            high = (fit.capacity_mAh_g, slope + above)
            boxes.append(display_box(ax, low, high, CAP))
    return boxes


def slope_capacity_plot(
    fits: Sequence[SlopeFitDocument],
    *,
    reference_chemsys: str = "Li-Si",
    label_limit: int = 25,
) -> Figure | None:
    """Draw each screened candidate's slope against its capacity, against the reference's band.

    Each point carries its slope's interval (the standard error where there is
    none) and is colored by the verdict shown (against the reference, else the
    absolute one). The reference's own fit, where the fits hold one, is a
    horizontal band (its interval) and line (its slope); without one, the band of
    the slope threshold is drawn instead. Pure Li-Si is starred. The relative
    verdicts come from the interval of each difference (paired where the draws
    are), not from whether the two intervals overlap. With at most ``label_limit`` points each is
    labelled with its formula where there is room (see
    :func:`sianode_flows.report.labels.place_labels`), else with a number keyed in
    the legend; labels never overlap.

    Parameters
    ----------
    fits
        Slope fits; those without a slope are left out.
    reference_chemsys
        Chemical system drawn as the reference (a star).
    label_limit
        Label points when there are at most this many.

    Returns
    -------
    Figure or None
        The figure, or ``None`` when no fit has a slope.
    """
    drawn = [(f, slope) for f in fits if (slope := f.slope) is not None]
    if not drawn:
        return None
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    reference = max(
        (f for f, _ in drawn if f.role == "reference"), key=lambda f: f.n_configs, default=None
    )
    band_handle = None
    if reference is not None and reference.slope_ci_low is not None:
        band_handle = ax.axhspan(
            reference.slope_ci_low,
            reference.slope_ci_high,
            color=STATUS_COLORS["reference"],
            alpha=0.10,
            zorder=1,
            label=f"reference {reference.formula}: {reference.slope:.2f} "
            f"[{reference.slope_ci_low:.2f}, {reference.slope_ci_high:.2f}], "
            f"{reference.n_configs} configurations",
        )
        ax.axhline(reference.slope, color=STATUS_COLORS["reference"], linewidth=0.8, zorder=1)
    else:
        threshold = Counter(f.slope_threshold for f, _ in drawn).most_common(1)[0][0]
        ax.axhspan(-threshold, threshold, color=STATUS_COLORS["stable"], alpha=0.08, zorder=1)
    _slope_points(ax, drawn)
    references = [(f, slope) for f, slope in drawn if _chemsys(f.formula) == reference_chemsys]
    if references:
        ax.scatter(
            [f.capacity_mAh_g for f, _ in references],
            [slope for _, slope in references],
            marker="*",
            s=(2 * STAR_RADIUS) ** 2,
            facecolor="none",
            edgecolor="black",
            linewidth=1.2,
            zorder=4,
            label=f"reference: pure {reference_chemsys}",
        )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("gravimetric capacity (mAh/g)")
    ax.set_ylabel(f"slope d$R_t$/dSOC ({ANGSTROM} per 100 % SOC)")
    ax.set_title(f"{len(drawn)} screened candidates", fontsize=10)
    ax.margins(x=0.15, y=0.15)
    ax.grid(alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if band_handle is None:
        handles.append(
            ax.fill_between(
                [],
                [],
                color=STATUS_COLORS["stable"],
                alpha=0.2,
                label=f"|slope| \N{LESS-THAN OR EQUAL TO} {threshold:g} (stable)",
            )
        )
    if len(drawn) <= label_limit:
        placed = place_labels(
            ax,
            [(f.capacity_mAh_g, slope) for f, slope in drawn],
            [f.formula for f, _ in drawn],
            obstacles=_point_obstacles(ax, drawn, {f.candidate_id for f, _ in references}),
        )
        for number, text in placed.key:
            legend_text(handles, f"{number}: {text}")
    # beside the axes, so that it hides no point and no label
    legend_beside(ax, handles)
    return fig


def slope_capacity_figure(
    fits: Sequence[SlopeFitDocument],
    path: Path,
    *,
    reference_chemsys: str = "Li-Si",
    label_limit: int = 25,
) -> Path | None:
    """Plot each screened candidate's slope against its capacity (see :func:`slope_capacity_plot`).

    Parameters
    ----------
    fits
        Slope fits; those without a slope are left out.
    path
        PNG to write.
    reference_chemsys
        Chemical system drawn as the reference (a star).
    label_limit
        Label points with their formula when there are at most this many.

    Returns
    -------
    Path or None
        The PNG written, or ``None`` when no fit has a slope.
    """
    fig = slope_capacity_plot(fits, reference_chemsys=reference_chemsys, label_limit=label_limit)
    return None if fig is None else save(fig, path)
