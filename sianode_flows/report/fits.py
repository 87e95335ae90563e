"""R_t against state of charge or lithiation, with the fitted line and its confidence band.

The paper's Figures 2 (database series) and 4 (relaxed configurations of a candidate).
No ``pyplot``: figures are plain :class:`matplotlib.figure.Figure` objects drawn on the
Agg canvas, so nothing global is touched and no display is needed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from sianode_flows.report.style import ANGSTROM, FIT_COLOR, legend_text, save

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

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


def fit_line_figure(
    x: Sequence[float],
    y: Sequence[float],
    statistics: FitStatistics,
    path: Path,
    *,
    title: str,
    xlabel: str,
    x_unit: str,
    hollow: Sequence[bool] | None = None,
    note: str | None = None,
) -> Path:
    """Plot R_t against a fraction (SOC or lithiation) with the stored fit and its band.

    Parameters
    ----------
    x
        Abscissae as fractions (0-1); drawn in percent.
    y
        Channel radii R_t (A).
    statistics
        The stored fit: slope (A per 100 %), intercept, Pearson and Spearman.
    path
        PNG to write.
    title, xlabel
        Title and x-axis label.
    x_unit
        Unit of the slope's denominator, e.g. ``"100 % SOC"``.
    hollow
        Points to draw hollow (e.g. relaxations that did not converge).
    note
        Why no slope was fitted, shown when there is none.

    Returns
    -------
    Path
        The PNG written.
    """
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot()
    x_arr = np.asarray(x, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    open_mask = np.asarray(hollow if hollow is not None else [False] * len(x_arr), dtype=bool)
    handles: list = []
    if (~open_mask).any():
        handles.append(
            ax.scatter(
                100 * x_arr[~open_mask],
                y_arr[~open_mask],
                s=36,
                color="#1f77b4",
                edgecolor="black",
                linewidth=0.5,
                zorder=3,
                label=f"structures (n = {int((~open_mask).sum())})",
            )
        )
    if open_mask.any():
        handles.append(
            ax.scatter(
                100 * x_arr[open_mask],
                y_arr[open_mask],
                s=36,
                facecolor="none",
                edgecolor="#1f77b4",
                linewidth=1.2,
                zorder=3,
                label=f"not converged (n = {int(open_mask.sum())})",
            )
        )
    if statistics.slope is not None and statistics.intercept is not None:
        grid = np.linspace(min(0.0, x_arr.min()), max(1.0, x_arr.max()), 101)
        line = statistics.intercept + statistics.slope * grid
        (fit_line,) = ax.plot(
            100 * grid,
            line,
            color=FIT_COLOR,
            linewidth=1.8,
            label=(
                f"slope {statistics.slope:.2f} \N{PLUS-MINUS SIGN} "
                f"{statistics.slope_err or 0:.2f} {ANGSTROM} per {x_unit}"
            ),
        )
        handles.append(fit_line)
        ci_low = getattr(statistics, "slope_ci_low", None)
        ci_high = getattr(statistics, "slope_ci_high", None)
        if ci_low is not None and ci_high is not None:
            level = getattr(statistics, "ci_level", None) or 0.95
            legend_text(
                handles,
                f"slope {100 * level:.0f} % bootstrap interval [{ci_low:.2f}, {ci_high:.2f}]",
            )
        try:
            _, low, high = confidence_band(x_arr, y_arr, grid)
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
    else:
        legend_text(handles, f"no fit: {note or 'too few points'}")
    if y_arr.size:
        # the band of a few points is wide: keep the points readable, let it run off
        pad = max(0.6 * float(np.ptp(y_arr)), 0.3)
        ax.set_ylim(float(y_arr.min()) - pad, float(y_arr.max()) + pad)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"channel radius $R_t$ ({ANGSTROM})")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.9)
    return save(fig, path)


def slope_fit_figure(fit: SlopeFitDocument, path: Path) -> Path:
    """Plot one candidate's R_t against state of charge (paper, Figures 2 and 4).

    Parameters
    ----------
    fit
        The candidate's slope fit; every configuration is a point.
    path
        PNG to write.

    Returns
    -------
    Path
        The PNG written.
    """
    points = sorted(fit.points, key=lambda p: p.soc)
    return fit_line_figure(
        [p.soc for p in points],
        [p.r_t for p in points],
        fit,
        path,
        title=f"{fit.formula}: {fit.verdict} ({fit.candidate_id})",
        xlabel="state of charge (% of the Li of the charged cell)",
        x_unit="100 % SOC",
        hollow=[p.converged is False for p in points],
        note=fit.note,
    )


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
