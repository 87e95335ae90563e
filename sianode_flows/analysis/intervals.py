"""The slope of R_t against SOC as the stratified design estimates it, with its error.

The configurations of a candidate are a stratified design: the charged cell and the
empty framework (the ends, the same structures in every design) and, per sampling
round, one random configuration in each of equal-width SOC strata. This module
estimates the slope and its standard error for that design:

- **the estimand stays put across looks**: each end keeps the weight it has in the
  first round (``1 / n_configs`` of the total), however many interior points later
  rounds add; plain least squares would let the ends' share fall with every round
  and, since R_t is not linear in SOC (a plateau, then the empty framework), let
  the slope drift as sampling goes on;
- **the error is the design's**: the slope is linearized into one influence value
  per interior configuration, and their variance is estimated within *collapsed
  strata* (neighbouring strata of a round in pairs; Wolter, *Introduction to
  Variance Estimation*, 2nd ed., sec. 2.5), so that the curvature of R_t(SOC)
  counts as what it is, a fixed feature of the design, not noise. The ends are
  fixed, so they add no variance.

Differences between two candidates are estimated the same way, paired
configuration by configuration when both drew the same Li sites (common random
numbers), else unpaired with Welch-Satterthwaite degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

INTERVAL_METHOD = "collapsed-strata"
"""Name of the interval this module gives, as recorded on every fit."""


@dataclass(frozen=True)
class DesignPoints:
    """The measured configurations of one candidate, as the design drew them.

    Attributes
    ----------
    soc
        State of charge of each configuration (fraction).
    value
        Its measured value (R_t in A, say).
    config_index
        Configuration index (the same index is the same draw in a twin candidate).
    round
        Sampling round that drew it (1-based).
    is_end
        Whether it is a fixed end of the design (the charged cell or the empty
        framework), which every design holds.
    designed_interior
        Interior configurations of the first round (its size less its ends): the
        ends weigh as much against them as one interior point (see
        :func:`end_weight`); 0 for plain least squares.
    stratum
        Position of each interior configuration among its round's strata, in SOC
        order (-1 for the ends); rounds after the first share one layout, so the
        same position is the same stratum in each of them.
    """

    soc: np.ndarray
    value: np.ndarray
    config_index: np.ndarray
    round: np.ndarray
    is_end: np.ndarray
    designed_interior: int = 0
    stratum: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        soc: ArrayLike,
        value: ArrayLike,
        config_index: ArrayLike,
        rounds: ArrayLike,
        n_ends: int,
        first_round: int,
        round_size: int | None = None,
    ) -> DesignPoints:
        """Return the points with their ends marked, their strata and the ends' weight.

        Parameters
        ----------
        soc, value, config_index, rounds
            One entry per measured configuration.
        n_ends
            Ends the protocol draws in its first round (0, 1 or 2): configurations
            ``0 .. n_ends - 1`` of round 1.
        first_round
            Configurations of the first round, ends included.
        round_size
            Configurations of each later round (they are indexed after the rounds
            before them); needed when there are later rounds.
        """
        index = np.asarray(config_index, dtype=int)
        round_of = np.asarray(rounds, dtype=int)
        is_end = (round_of == 1) & (index < n_ends)
        later = round_of > 1
        if later.any() and round_size is None:
            raise ValueError("points of several rounds need the protocol's round_size")
        first_of_round = np.where(later, first_round + (round_of - 2) * (round_size or 0), n_ends)
        return cls(
            soc=np.asarray(soc, dtype=float),
            value=np.asarray(value, dtype=float),
            config_index=index,
            round=round_of,
            is_end=is_end,
            designed_interior=max(first_round - n_ends, 0),
            stratum=np.where(is_end, -1, index - first_of_round),
        )

    def subset(self, keep: np.ndarray) -> DesignPoints:
        """Return the points where ``keep`` is true."""
        return DesignPoints(
            soc=self.soc[keep],
            value=self.value[keep],
            config_index=self.config_index[keep],
            round=self.round[keep],
            is_end=self.is_end[keep],
            designed_interior=self.designed_interior,
            stratum=None if self.stratum is None else self.stratum[keep],
        )

    @property
    def end_weight(self) -> float:
        """Weight of each end (see :func:`end_weight`)."""
        return end_weight(int(np.count_nonzero(~self.is_end)), self.designed_interior)

    @property
    def weights(self) -> np.ndarray:
        """Weight of each point in the fit."""
        return np.where(self.is_end, self.end_weight, 1.0)


def end_weight(n_interior: int, designed_interior: int) -> float:
    """Return the weight that keeps each end at its first-round share of the fit.

    In the first round every point weighs 1, so each end is ``1 / first_round`` of
    the fit; with ``n_interior`` interior points measured, an end weighing
    ``n_interior / designed_interior`` (the first round's interior count) keeps that
    share. The first round's fit is therefore ordinary least squares, and later
    rounds estimate the same slope.
    """
    if designed_interior <= 0 or n_interior <= 0:
        return 1.0
    return n_interior / designed_interior


def collapsed_groups(points: DesignPoints) -> np.ndarray:
    """Return the variance group of each interior point (-1 for the ends).

    Rounds after the first share one stratification, so where two or more of them
    were measured, the configurations in the same stratum of different rounds are
    independent draws from one distribution: they form a group (with no collapse,
    the variance within it is unbiased). The first round, and a later round alone,
    has one configuration per stratum: its neighbouring strata (in SOC order) are
    collapsed in pairs, the last three together when it has an odd number. A
    stratum left with one configuration (the others failed) joins the neighbouring
    stratum's group.
    """
    groups = np.full(points.soc.size, -1, dtype=int)
    position = (
        points.stratum
        if points.stratum is not None
        else np.where(points.is_end, -1, points.config_index)
    )
    next_group = 0

    def pair_within(members: np.ndarray) -> None:
        nonlocal next_group
        members = members[np.argsort(position[members], kind="stable")]
        n_pairs = members.size // 2
        if n_pairs == 0:
            return  # a single interior point: no variance within its round
        groups[members] = np.minimum(np.arange(members.size) // 2, n_pairs - 1) + next_group
        next_group += n_pairs

    interior = ~points.is_end
    pair_within(np.flatnonzero(interior & (points.round == 1)))
    later = interior & (points.round > 1)
    if np.unique(points.round[later]).size < 2:
        pair_within(np.flatnonzero(later))
        return groups
    strata = np.unique(position[later])
    members = [np.flatnonzero(later & (position == h)) for h in strata]
    merged: list[np.ndarray] = []
    for group in members:  # a stratum measured once joins its neighbour
        if merged and (group.size < 2 or merged[-1].size < 2):
            merged[-1] = np.concatenate([merged[-1], group])
        else:
            merged.append(group)
    if len(merged) > 1 and merged[-1].size < 2:
        merged[-2] = np.concatenate([merged[-2], merged.pop()])
    for group in merged:
        if group.size > 1:
            groups[group] = next_group
            next_group += 1
    return groups


@dataclass(frozen=True)
class SlopeEstimate:
    """A slope (or a difference of slopes) with its design standard error.

    Attributes
    ----------
    slope
        The estimate, in the units of the values per unit of SOC.
    se
        Its standard error; ``None`` when the design leaves no degree of freedom.
    df
        Degrees of freedom of the error.
    n_points
        Configurations used.
    intercept
        Fitted value at SOC 0 (for a single slope).
    paired
        For a difference: whether it was paired configuration by configuration.
    """

    slope: float
    se: float | None
    df: float
    n_points: int
    intercept: float | None = None
    paired: bool | None = None

    def interval(self, critical: float | None = None, level: float = 0.95) -> tuple[float, float]:
        """Return ``slope -+ critical * se``; ``critical`` is the t quantile of ``level``.

        Raises
        ------
        ValueError
            If there is no standard error.
        """
        if self.se is None or self.df <= 0:
            raise ValueError("no standard error: too few configurations in the design")
        if self.se == 0:  # no scatter left (a flat or exactly paired design)
            return self.slope, self.slope
        if critical is None:
            critical = float(special.stdtrit(self.df, 0.5 + level / 2.0))
        return self.slope - critical * self.se, self.slope + critical * self.se


def _weighted_line(points: DesignPoints) -> tuple[float, float, float, float, np.ndarray]:
    """Weighted least squares: slope, intercept, mean SOC, Sxx and residuals."""
    w = points.weights
    total = w.sum()
    soc_mean = float(np.sum(w * points.soc) / total)
    value_mean = float(np.sum(w * points.value) / total)
    dx = points.soc - soc_mean
    sxx = float(np.sum(w * dx * dx))
    if sxx <= 0:
        raise ValueError("x does not vary: every point has the same state of charge")
    slope = float(np.sum(w * dx * (points.value - value_mean)) / sxx)
    residuals = points.value - value_mean - slope * dx
    return slope, value_mean - slope * soc_mean, soc_mean, sxx, residuals


def influence(points: DesignPoints) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Return the slope, the intercept, and each point's influence and leverage.

    The slope is a ratio of weighted sums; to first order its error is the sum of
    the influences ``w_i (x_i - x_mean) e_i / Sxx`` over the points (``e_i`` the
    residual), and ``w_i (x_i - x_mean) / Sxx`` is the leverage. The ends are fixed,
    so only the interior points' influences vary from design to design.
    """
    slope, intercept, soc_mean, sxx, residuals = _weighted_line(points)
    leverage = points.weights * (points.soc - soc_mean) / sxx
    return slope, intercept, leverage * residuals, leverage


def _collapsed_variance(
    values: np.ndarray, groups: np.ndarray, leverage: np.ndarray
) -> tuple[float, float]:
    """Variance of a sum of influences within collapsed strata, and its degrees of freedom.

    The variance is the sum over groups of ``m/(m-1) * sum (v - mean)^2``. Its degrees
    of freedom are Satterthwaite's for the design: a group's share of the variance
    is taken as the sum of its points' squared leverages (``w (x - x_mean)``), which
    depends on where the configurations lie, not on their noisy residuals. A design
    whose variance sits in a few groups (the strata next to the ends, whose points
    pull hardest on the slope) has fewer degrees of freedom than groups.
    """
    interior = groups >= 0
    if not interior.any():
        return 0.0, 0.0
    labels = groups[interior]
    v = values[interior]
    size = np.bincount(labels).astype(float)
    used = size > 1
    mean = np.bincount(labels, weights=v) / np.where(size > 0, size, 1.0)
    squares = np.bincount(labels, weights=(v - mean[labels]) ** 2)
    variance = float(np.sum(size[used] / (size[used] - 1) * squares[used]))
    share = np.bincount(labels, weights=leverage[interior] ** 2)[used]
    if share.sum() <= 0:
        return variance, 0.0
    df = float(share.sum() ** 2 / np.sum(share**2 / (size[used] - 1)))
    return variance, df


MIN_POINTS = 3
"""Fewest configurations for which a slope is defined."""


def _check(points: DesignPoints) -> None:
    if points.soc.size < MIN_POINTS:
        raise ValueError(f"a slope needs at least {MIN_POINTS} points, got {points.soc.size}")


def estimate_slope(points: DesignPoints) -> SlopeEstimate:
    """Estimate the slope and its design standard error (collapsed strata).

    Parameters
    ----------
    points
        The measured configurations.

    Returns
    -------
    SlopeEstimate
        The slope, its standard error and degrees of freedom (``se`` is ``None``
        when no round holds two interior points).

    Raises
    ------
    ValueError
        If there are fewer than three points or SOC does not vary.
    """
    _check(points)
    slope, intercept, values, leverage = influence(points)
    variance, df = _collapsed_variance(values, collapsed_groups(points), leverage)
    se = math.sqrt(variance) if df > 0 else None
    return SlopeEstimate(slope, se, df, int(points.soc.size), intercept=intercept)


def common_points(a: DesignPoints, b: DesignPoints) -> tuple[DesignPoints, DesignPoints]:
    """Return both designs restricted to the configuration indices both measured."""
    shared = np.intersect1d(a.config_index, b.config_index)
    return a.subset(np.isin(a.config_index, shared)), b.subset(np.isin(b.config_index, shared))


def estimate_difference(a: DesignPoints, b: DesignPoints, paired: bool) -> SlopeEstimate:
    """Estimate ``slope(a) - slope(b)`` with its design standard error.

    Parameters
    ----------
    a, b
        The two candidates' configurations.
    paired
        Both drew the same Li sites configuration by configuration (common random
        numbers): the difference is taken over the configurations both measured,
        and its error from the differences of their influences, within the same
        collapsed strata. Otherwise the two errors add, with Welch-Satterthwaite
        degrees of freedom.

    Returns
    -------
    SlopeEstimate
        The difference and its standard error.
    """
    if paired:
        a, b = common_points(a, b)
        order_a, order_b = np.argsort(a.config_index), np.argsort(b.config_index)
        a, b = a.subset(order_a), b.subset(order_b)
        _check(a)
        slope_a, _, values_a, leverage = influence(a)
        slope_b, _, values_b, _ = influence(b)
        variance, df = _collapsed_variance(values_a - values_b, collapsed_groups(a), leverage)
        se = math.sqrt(variance) if df > 0 else None
        return SlopeEstimate(slope_a - slope_b, se, df, int(a.soc.size), paired=True)
    first, second = estimate_slope(a), estimate_slope(b)
    slope = first.slope - second.slope
    if first.se is None or second.se is None:
        return SlopeEstimate(slope, None, 0.0, first.n_points + second.n_points, paired=False)
    variance = first.se**2 + second.se**2
    denominator = first.se**4 / first.df + second.se**4 / second.df
    df = variance**2 / denominator if denominator > 0 else first.df + second.df
    return SlopeEstimate(
        slope, math.sqrt(variance), df, first.n_points + second.n_points, paired=False
    )


def ols_estimate(soc: Sequence[float], value: Sequence[float]) -> SlopeEstimate:
    """Ordinary least squares slope with its textbook (i.i.d. errors) standard error.

    For comparison only: it treats the curvature of R_t(SOC) as noise.
    """
    x = np.asarray(soc, dtype=float)
    y = np.asarray(value, dtype=float)
    if x.size < MIN_POINTS:
        raise ValueError(f"a slope needs at least {MIN_POINTS} points, got {x.size}")
    result = stats.linregress(x, y)
    return SlopeEstimate(
        float(result.slope),
        float(result.stderr),
        float(x.size - 2),
        int(x.size),
        intercept=float(result.intercept),
    )
