"""Linear fit of channel radius against state of charge, with its statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from collections.abc import Sequence

MIN_POINTS = 3
"""Fewest points for which a slope and its standard error are defined."""


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line ``y = slope * x + intercept`` and rank statistics.

    With x the state of charge as a fraction (0-1), the slope is in units of y per
    100 % SOC. Statistics that are undefined for the data (a constant y, say) are
    ``None``.
    """

    slope: float
    slope_err: float
    intercept: float
    intercept_err: float
    pearson_r: float | None
    pearson_p: float | None
    spearman_rho: float | None
    spearman_p: float | None
    n_points: int


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def fit_slope(x: Sequence[float], y: Sequence[float]) -> SlopeFit:
    """Fit y against x by ordinary least squares (scipy ``linregress``).

    Parameters
    ----------
    x
        Abscissae, e.g. states of charge (fraction).
    y
        Ordinates, e.g. channel radii (A).

    Returns
    -------
    SlopeFit
        Slope, its standard error, intercept and its standard error, Pearson r and
        its two-sided p-value, Spearman rho and its two-sided p-value.

    Raises
    ------
    ValueError
        If there are fewer than three points or x does not vary.
    """
    x_arr = np.asarray(x, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    if x_arr.shape != y_arr.shape:
        raise ValueError(f"x and y differ in length: {x_arr.size} vs {y_arr.size}")
    if x_arr.size < MIN_POINTS:
        raise ValueError(f"a slope needs at least {MIN_POINTS} points, got {x_arr.size}")
    if np.ptp(x_arr) == 0:
        raise ValueError("x does not vary: every point has the same state of charge")
    result = stats.linregress(x_arr, y_arr)
    constant_y = np.ptp(y_arr) == 0
    if constant_y:
        pearson_r = pearson_p = spearman_rho = spearman_p = None
    else:
        spearman = stats.spearmanr(x_arr, y_arr)
        pearson_r, pearson_p = _finite(result.rvalue), _finite(result.pvalue)
        spearman_rho, spearman_p = _finite(spearman.statistic), _finite(spearman.pvalue)
    return SlopeFit(
        slope=float(result.slope),
        slope_err=float(result.stderr),
        intercept=float(result.intercept),
        intercept_err=float(result.intercept_stderr),
        pearson_r=pearson_r,
        pearson_p=pearson_p,
        spearman_rho=spearman_rho,
        spearman_p=spearman_p,
        n_points=int(x_arr.size),
    )
