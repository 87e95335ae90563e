"""R_t against state of charge or lithiation, with the fitted line and its confidence band.

The paper's Figures 2 (database series) and 4 (relaxed configurations of a candidate).
No ``pyplot``: figures are plain :class:`matplotlib.figure.Figure` objects drawn on the
Agg canvas, so nothing global is touched and no display is needed.
"""

from __future__ import annotations

import math
from itertools import cycle
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from sianode_flows.report.style import ANGSTROM, FIT_COLOR, legend_text, save

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike

    from sianode_flows.schemas import DatabaseSeriesDocument, FitStatistics, SlopeFitDocument


def confidence_band(
    x: ArrayLike, y: ArrayLike, grid: ArrayLike, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the least-squares line and its confidence band for the mean on a grid.

    The band is ``yhat +- t * s * sqrt(1/n + (g - mean(x))**2 / Sxx)`` with ``s`` the
    residual standard deviation and ``t`` the two-sided Student quantile at ``n - 2``
    degrees of freedom: at ``g = 0`` its half-width is ``t`` times the intercept's
    standard error.

    Parameters
    ----------
    x, y
        The fitted points.
    grid
        Abscissae at which to evaluate the line and the band.
    level
        Confidence level (0-1).

    Returns
    -------
    tuple of numpy.ndarray
        Fitted values, lower limits and upper limits on the grid.

    Raises
    ------
    ValueError
        With fewer than three points or a constant x.
    """
    x_arr = np.asarray(x, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    g = np.asarray(grid, dtype=float)
    n = x_arr.size
    if n < 3 or np.ptp(x_arr) == 0:
        raise ValueError("a confidence band needs three points and a varying x")
    fit = stats.linregress(x_arr, y_arr)
    residuals = y_arr - (fit.intercept + fit.slope * x_arr)
    s = math.sqrt(float(np.sum(residuals**2)) / (n - 2))
    sxx = float(np.sum((x_arr - x_arr.mean()) ** 2))
    t = float(stats.t.ppf(0.5 + level / 2, n - 2))
    yhat = fit.intercept + fit.slope * g
    half = t * s * np.sqrt(1.0 / n + (g - x_arr.mean()) ** 2 / sxx)
    return yhat, yhat - half, yhat + half


def _p(value: float | None) -> str:
    """Format a p-value compactly (two significant digits)."""
    return "-" if value is None else f"{value:.2g}"


def _stat(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


POINT_COLOR = "#1f77b4"
EXCLUDED_MARKERS = ("o", "s", "^", "D", "v", "P")
"""Markers of the excluded points, one per reason, in order of first appearance."""


def _fitted_points(ax: Axes, x: np.ndarray, y: np.ndarray, unconverged: np.ndarray) -> list:
    """Draw the fitted points, filled (squares: fitted although not converged)."""
    handles = []
    for chosen, marker, label in (
        (~unconverged, "o", "structures (n = {})"),
        (unconverged, "s", "fitted, not converged (n = {})"),
    ):
        if chosen.any():
            handles.append(
                ax.scatter(
                    100 * x[chosen],
                    y[chosen],
                    s=36,
                    marker=marker,
                    color=POINT_COLOR,
                    edgecolor="black",
                    linewidth=0.5,
                    zorder=3,
                    label=label.format(int(chosen.sum())),
                )
            )
    return handles


def _excluded_points(ax: Axes, x: np.ndarray, y: np.ndarray, reasons: Sequence[str | None]) -> list:
    """Draw the points left out of the fit hollow, one marker and legend entry per reason."""
    handles = []
    distinct = list(dict.fromkeys(r for r in reasons if r is not None))
    for reason, marker in zip(distinct, cycle(EXCLUDED_MARKERS), strict=False):
        chosen = np.array([r == reason for r in reasons], dtype=bool)
        handles.append(
            ax.scatter(
                100 * x[chosen],
                y[chosen],
                s=36,
                marker=marker,
                facecolor="none",
                edgecolor=POINT_COLOR,
                linewidth=1.2,
                zorder=3,
                label=f"excluded: {reason} ({int(chosen.sum())})",
            )
        )
    return handles


def _fit_line(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    statistics: FitStatistics,
    x_unit: str,
    handles: list,
) -> None:
    """Draw the stored line and the band of the fitted points; add the statistics."""
    slope, intercept = statistics.slope, statistics.intercept
    grid = np.linspace(x.min(initial=0.0), x.max(initial=1.0), 101)  # SOC 0 to 1 at least
    (fit_line,) = ax.plot(
        100 * grid,
        intercept + slope * grid,
        color=FIT_COLOR,
        linewidth=1.8,
        label=(
            f"slope {slope:.2f} \N{PLUS-MINUS SIGN} "
            f"{statistics.slope_err or 0:.2f} {ANGSTROM} per {x_unit}"
        ),
    )
    handles.append(fit_line)
    ci_low = getattr(statistics, "slope_ci_low", None)
    ci_high = getattr(statistics, "slope_ci_high", None)
    if ci_low is not None and ci_high is not None:
        level = getattr(statistics, "ci_level", None) or 0.95
        method = getattr(statistics, "interval_method", None) or "pairs-bootstrap"
        legend_text(
            handles,
            f"slope {100 * level:.0f} % interval ({method}) [{ci_low:.2f}, {ci_high:.2f}]",
        )
    difference = getattr(statistics, "relative_difference", None)
    if difference is not None:
        low_d = getattr(statistics, "relative_ci_low", None)
        high_d = getattr(statistics, "relative_ci_high", None)
        interval = "" if low_d is None else f" [{low_d:+.2f}, {high_d:+.2f}]"
        legend_text(
            handles,
            f"minus {statistics.reference}: {difference:+.2f}{interval}, "
            f"{statistics.relative_verdict}",
        )
    try:
        _, low, high = confidence_band(x, y, grid)
    except ValueError:
        pass
    else:
        handles.append(
            ax.fill_between(
                100 * grid, low, high, color=FIT_COLOR, alpha=0.15, label="95 % confidence band"
            )
        )
    legend_text(
        handles, f"Pearson r = {_stat(statistics.pearson_r)} (p = {_p(statistics.pearson_p)})"
    )
    legend_text(
        handles,
        f"Spearman \N{GREEK SMALL LETTER RHO} = {_stat(statistics.spearman_rho)} "
        f"(p = {_p(statistics.spearman_p)})",
    )


def fit_line_plot(
    x: Sequence[float],
    y: Sequence[float],
    statistics: FitStatistics,
    *,
    title: str,
    xlabel: str,
    x_unit: str,
    excluded: Sequence[str | None] | None = None,
    unconverged: Sequence[bool] | None = None,
    note: str | None = None,
) -> Figure:
    """Draw R_t against a fraction (SOC or lithiation) with the stored fit and its band.

    Parameters
    ----------
    x
        Abscissae as fractions (0-1); drawn in percent.
    y
        Channel radii R_t (A).
    statistics
        The stored fit of the points not excluded: slope (A per 100 %), intercept,
        Pearson and Spearman.
    title, xlabel
        Title (may hold a second line) and x-axis label.
    x_unit
        Unit of the slope's denominator, e.g. ``"100 % SOC"``.
    excluded
        Per point, why it was left out of the fit, or ``None`` when fitted. Excluded
        points are drawn hollow, with the reason and count in the legend; the band is
        that of the fitted points.
    unconverged
        Per point, whether its relaxation did not converge although it was fitted
        (drawn as filled squares).
    note
        Why no slope was fitted, shown when there is none.

    Returns
    -------
    Figure
        The figure.
    """
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot()
    x_arr = np.asarray(x, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    reasons = list(excluded) if excluded is not None else [None] * len(x_arr)
    fitted = np.array([r is None for r in reasons], dtype=bool)
    open_fit = np.asarray(unconverged if unconverged is not None else [False] * len(x_arr))
    handles = _fitted_points(ax, x_arr[fitted], y_arr[fitted], open_fit.astype(bool)[fitted])
    handles += _excluded_points(ax, x_arr, y_arr, reasons)
    if statistics.slope is not None and statistics.intercept is not None:
        _fit_line(ax, x_arr[fitted], y_arr[fitted], statistics, x_unit, handles)
    else:
        legend_text(handles, f"no fit: {note or 'too few points'}")
    if y_arr.size:
        # the band of a few points is wide: keep the points readable, let it run off
        pad = max(0.6 * float(np.ptp(y_arr)), 0.3)
        ax.set_ylim(float(y_arr.min()) - pad, float(y_arr.max()) + pad)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"channel radius $R_t$ ({ANGSTROM})")
    ax.set_title(title, **({"fontsize": 10} if "\n" in title else {}))
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.9)
    return fig


def fit_line_figure(
    x: Sequence[float],
    y: Sequence[float],
    statistics: FitStatistics,
    path: Path,
    **options: Any,
) -> Path:
    """Plot R_t against a fraction and write it as a PNG (see :func:`fit_line_plot`).

    Parameters
    ----------
    x, y, statistics
        The points and the stored fit.
    path
        PNG to write.
    **options
        Title, labels and point kinds of :func:`fit_line_plot`.

    Returns
    -------
    Path
        The PNG written.
    """
    return save(fit_line_plot(x, y, statistics, **options), path)


def sampling_line(fit: SlopeFitDocument) -> str | None:
    """Return how a fit was sampled, e.g. ``"3 rounds, 30 configurations, stopped: decided"``.

    Parameters
    ----------
    fit
        A slope fit.

    Returns
    -------
    str or None
        The rounds, the configurations drawn in them and why sampling stopped, with
        the potential and engine when recorded; ``None`` for a single round.
    """
    if len(fit.rounds) <= 1:
        return None
    drawn = sum(len(r.config_indices) for r in fit.rounds)
    line = f"{len(fit.rounds)} rounds, {drawn} configurations"
    if fit.stop_reason:
        line += f", stopped: {fit.stop_reason}"
    ran = ", ".join(part for part in (fit.potential, fit.engine) if part)
    return f"{line} ({ran})" if ran else line


def slope_fit_plot(fit: SlopeFitDocument) -> Figure:
    """Draw one candidate's R_t against state of charge (paper, Figures 2 and 4).

    Points left out of the fit are drawn hollow with their reason; with sequential
    sampling the title says how many rounds were drawn and why sampling stopped.

    Parameters
    ----------
    fit
        The candidate's slope fit; every measured configuration is a point.

    Returns
    -------
    Figure
        The figure.
    """
    points = sorted(fit.points, key=lambda p: p.soc)
    title = f"{fit.formula}: {fit.shown_verdict} ({fit.candidate_id})"
    sampling = sampling_line(fit)
    return fit_line_plot(
        [p.soc for p in points],
        [p.r_t for p in points],
        fit,
        title=title if sampling is None else f"{title}\n{sampling}",
        xlabel="state of charge (% of the Li of the charged cell)",
        x_unit="100 % SOC",
        excluded=[p.excluded for p in points],
        unconverged=[p.excluded is None and p.converged is False for p in points],
        note=fit.note,
    )


def slope_fit_figure(fit: SlopeFitDocument, path: Path) -> Path:
    """Plot one candidate's R_t against state of charge as a PNG (see :func:`slope_fit_plot`).

    Parameters
    ----------
    fit
        The candidate's slope fit.
    path
        PNG to write.

    Returns
    -------
    Path
        The PNG written.
    """
    return save(slope_fit_plot(fit), path)


def series_figure(series: DatabaseSeriesDocument, path: Path) -> Path:
    """Plot R_t of a chemical system's database structures against their lithiation.

    Parameters
    ----------
    series
        The database series; every structure is a point.
    path
        PNG to write.

    Returns
    -------
    Path
        The PNG written.
    """
    points = sorted(series.points, key=lambda p: p.lithiation)
    return fit_line_figure(
        [p.lithiation for p in points],
        [p.r_t for p in points],
        series,
        path,
        title=f"{series.chemsys}: {series.n_structures} database structures",
        xlabel="relative lithiation (% of the most lithiated structure)",
        x_unit="100 % lithiation",
        note=series.note,
    )
