"""Linear fit of channel radius against state of charge, with its statistics."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

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


DEFAULT_RESAMPLES = 1000
"""Bootstrap resamples per interval."""

DEFAULT_LEVEL = 0.95
"""Confidence level of the bootstrap intervals."""


@dataclass(frozen=True)
class SlopeInterval:
    """Percentile bootstrap interval of a slope (or of a difference of slopes).

    The resamples are drawn by ``scipy.stats.bootstrap`` (paired, percentile);
    resamples in which x did not vary have no slope and are left out of the
    quantiles (scipy alone would return NaN bounds for them).

    Attributes
    ----------
    low, high
        Bounds of the interval, in the units of the slope.
    level
        Confidence level, e.g. 0.95.
    n_resamples
        Resamples drawn.
    n_used
        Resamples in which x varied (a slope is defined); the others are dropped.
    seed
        Seed of the resampling.
    """

    low: float
    high: float
    level: float
    n_resamples: int
    n_used: int
    seed: int

    def contains(self, value: float) -> bool:
        """Return whether a value lies inside the interval (bounds included)."""
        return self.low <= value <= self.high


def _checked_xy(x: ArrayLike, *ys: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x_arr = np.asarray(x, dtype=float)
    y_arr = np.asarray(ys, dtype=float)
    if y_arr.shape[1:] != x_arr.shape:
        raise ValueError(f"x and y differ in length: {x_arr.size} vs {y_arr.shape[-1]}")
    if x_arr.size < MIN_POINTS:
        raise ValueError(f"a slope needs at least {MIN_POINTS} points, got {x_arr.size}")
    if np.ptp(x_arr) == 0:
        raise ValueError("x does not vary: every point has the same state of charge")
    return x_arr, y_arr


def _slopes(x: np.ndarray, *ys: np.ndarray, axis: int = -1) -> np.ndarray:
    """Least-squares slopes of each y against x along an axis; NaN where x is constant."""
    dx = x - x.mean(axis=axis, keepdims=True)
    sxx = np.sum(dx * dx, axis=axis)
    varied = np.ptp(x, axis=axis) > 0
    slopes = []
    for y in ys:
        sxy = np.sum(dx * (y - y.mean(axis=axis, keepdims=True)), axis=axis)
        slopes.append(np.where(varied, sxy / np.where(varied, sxx, 1.0), np.nan))
    return np.stack(slopes)


def bootstrap_slopes(
    x: ArrayLike,
    *ys: ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """Least-squares slopes of y against x over bootstrap resamples of the points.

    Each resample draws ``len(x)`` points with replacement (a case, or pairs,
    bootstrap: a point is one configuration with its x and every y), drawn by
    ``scipy.stats.bootstrap`` with ``paired=True``. Several y series share the same
    draws, so their slopes stay paired. Resamples in which x does not vary have no
    slope and are dropped.

    Parameters
    ----------
    x
        Abscissae, e.g. states of charge.
    *ys
        One or more ordinate series of the same length as x.
    n_resamples
        Resamples to draw.
    seed
        Seed of the random draws.

    Returns
    -------
    numpy.ndarray
        Slopes, shape ``(len(ys), n_used)``.

    Raises
    ------
    ValueError
        If there are fewer than three points, x does not vary, or the lengths differ.
    """
    x_arr, y_arr = _checked_xy(x, *ys)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    with warnings.catch_warnings():  # NaN bounds from constant-x resamples: handled below
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            (x_arr, *y_arr),
            _slopes,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    slopes = np.asarray(result.bootstrap_distribution).reshape(len(y_arr), n_resamples)
    used = np.all(np.isfinite(slopes), axis=0)  # x varied within the resample
    return slopes[:, used]


def _interval(values: np.ndarray, level: float, n_resamples: int, seed: int) -> SlopeInterval:
    if values.size == 0:
        raise ValueError("no bootstrap resample had a varying x")
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return SlopeInterval(
        low=float(low),
        high=float(high),
        level=level,
        n_resamples=n_resamples,
        n_used=int(values.size),
        seed=seed,
    )


def bootstrap_slope_interval(
    x: ArrayLike,
    y: ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> SlopeInterval:
    """Percentile bootstrap interval of the least-squares slope of y against x.

    Resampling the configurations (not the residuals) makes no assumption of
    normal or equal errors, which the spread of channel radii at one state of
    charge does not satisfy. The same seed gives the same interval.

    Parameters
    ----------
    x
        Abscissae, e.g. states of charge (fraction).
    y
        Ordinates, e.g. channel radii (A).
    n_resamples
        Resamples to draw (1000 by default).
    level
        Confidence level (0.95 by default).
    seed
        Seed of the resampling.

    Returns
    -------
    SlopeInterval
        The interval, in the units of the slope.

    Raises
    ------
    ValueError
        If no slope can be fitted (see :func:`fit_slope`) or ``level`` is not in (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    slopes = bootstrap_slopes(x, y, n_resamples=n_resamples, seed=seed)[0]
    return _interval(slopes, level, n_resamples, seed)


def bootstrap_difference_interval(
    x: ArrayLike,
    y_a: ArrayLike,
    y_b: ArrayLike,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> SlopeInterval:
    """Paired bootstrap interval of ``slope(y_a) - slope(y_b)`` on the same points.

    Both series are measured on the same configurations (two potentials relaxing
    the same cells, say), so each resample draws the same configurations for
    both and the interval reflects only how differently they respond.

    Parameters
    ----------
    x
        Abscissae shared by both series.
    y_a, y_b
        The two ordinate series, point by point on the same configurations.
    n_resamples
        Resamples to draw.
    level
        Confidence level.
    seed
        Seed of the resampling.

    Returns
    -------
    SlopeInterval
        The interval of the difference of slopes.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    slopes = bootstrap_slopes(x, y_a, y_b, n_resamples=n_resamples, seed=seed)
    return _interval(slopes[0] - slopes[1], level, n_resamples, seed)


def relative_volumes(
    soc: ArrayLike, volumes: ArrayLike
) -> tuple[np.ndarray, float, Literal["charged", "largest"]]:
    """Volumes relative to the charged configuration, or to the largest one.

    Parameters
    ----------
    soc
        States of charge of the configurations (fraction).
    volumes
        Their relaxed volumes per framework (non-Li) atom (A^3/atom).

    Returns
    -------
    tuple
        ``V / V_ref`` per configuration, ``V_ref`` (A^3/atom), and which reference
        was used: ``"charged"`` (mean over the SOC 1 configurations) when any was
        measured, else ``"largest"`` (the largest volume).

    Raises
    ------
    ValueError
        If there is no volume or a volume is not positive.
    """
    soc_arr = np.asarray(soc, dtype=float)
    vol = np.asarray(volumes, dtype=float)
    if vol.size == 0 or vol.shape != soc_arr.shape:
        raise ValueError("need one volume per state of charge")
    if np.any(vol <= 0) or not np.all(np.isfinite(vol)):
        raise ValueError("volumes must be positive and finite")
    charged = np.isclose(soc_arr, 1.0)
    if charged.any():
        reference = float(vol[charged].mean())
        return vol / reference, reference, "charged"
    reference = float(vol.max())
    return vol / reference, reference, "largest"
