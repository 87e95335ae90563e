"""Group-sequential looks: repeated confidence intervals that hold their level over all looks.

Sequential sampling looks at a candidate after every round and stops once the
interval decides. A plain 95 % interval at every look errs far more often than 5 %
over the whole procedure (it has several chances to). Here the critical value of
each look comes from an alpha-spending function (Lan and DeMets, Biometrika 70, 659
(1983)) over the looks the protocol plans, computed by recursive numerical
integration of the canonical joint distribution of the looks' z statistics
(Jennison and Turnbull, *Group Sequential Methods*, 2000, ch. 7 and 19): the
intervals then cover the true value at *every* look at once with probability at
least the level, so any decision read from them, at whatever look sampling
stopped, is wrong with probability at most ``(1 - level) / 2`` per side.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
from scipy import optimize, special, stats

if TYPE_CHECKING:
    from sianode_flows.analysis.intervals import SlopeEstimate

Spending = Literal["obrien-fleming", "pocock", "bonferroni", "none"]
"""Alpha-spending of the looks.

``"obrien-fleming"``: Lan-DeMets' O'Brien-Fleming-type function, strict early and
close to the fixed design's critical value at the last look; ``"pocock"``: the
Pocock-type function, about the same value at every look; ``"bonferroni"``: level
split equally over the planned looks; ``"none"``: the nominal value at every look,
valid only for a single look (a fixed design)."""

DEFAULT_LEVEL = 0.95
"""Confidence level of the intervals, held over all the looks of a sequential protocol."""
DEFAULT_SPENDING: Spending = "obrien-fleming"
"""Alpha-spending of the looks: on the calibration's real points it decides more, for
fewer relaxations per decided candidate, than Pocock's or any fixed design (README)."""
DEFAULT_MIN_CONFIGS = 20
"""Fewest fitted configurations for any verdict (the calibration's smallest design)."""
DEFAULT_MARGIN = 0.1
"""Half-width of the ``similar`` band against the reference (A per 100 % SOC)."""

GRID_POINTS = 801
"""Points of the integration grid per look."""
MAX_BOUND = 12.0
"""Largest critical value: a look that may spend (next to) nothing gets this one."""


def spent(fraction: float, alpha: float, spending: Spending) -> float:
    """Return the error spent up to an information fraction (two-sided).

    Parameters
    ----------
    fraction
        Information fraction of the look, in (0, 1].
    alpha
        Total two-sided error, ``1 - level``.
    spending
        ``"obrien-fleming"`` or ``"pocock"``.
    """
    t = min(max(fraction, 0.0), 1.0)
    if t <= 0:
        return 0.0
    if spending == "obrien-fleming":
        return float(2.0 * stats.norm.sf(stats.norm.isf(alpha / 2.0) / math.sqrt(t)))
    if spending == "pocock":
        return float(alpha * math.log(1.0 + (math.e - 1.0) * t))
    raise ValueError(f"no spending function for {spending!r}")


def _exit_probability(
    grid: np.ndarray, density: np.ndarray, previous: float, current: float, bound: float
) -> float:
    """Probability of crossing ``|Z| >= bound`` at a look, having continued so far."""
    scale = math.sqrt(current - previous)
    edge = bound * math.sqrt(current)
    outside = stats.norm.cdf((-edge - grid) / scale) + stats.norm.sf((edge - grid) / scale)
    return float(np.trapezoid(density * outside, grid))


@cache
def _boundaries(fractions: tuple[float, ...], alpha: float, spending: Spending) -> tuple:
    n_looks = len(fractions)
    if spending == "none":
        return (float(stats.norm.ppf(1.0 - alpha / 2.0)),) * n_looks
    if spending == "bonferroni":
        return (float(stats.norm.ppf(1.0 - alpha / (2.0 * n_looks))),) * n_looks
    bounds = []
    grid = density = None
    previous_fraction = 0.0
    previous_spent = 0.0
    for fraction in fractions:
        target = spent(fraction, alpha, spending) - previous_spent
        if grid is None:  # first look: |Z| ~ N(0, 1)
            bound = float(stats.norm.isf(target / 2.0)) if target > 0 else MAX_BOUND
            bound = min(bound, MAX_BOUND)
            edge = bound * math.sqrt(fraction)
            grid = np.linspace(-edge, edge, GRID_POINTS)
            density = stats.norm.pdf(grid, scale=math.sqrt(fraction))
        else:

            def excess(
                b: float, g=grid, d=density, p=previous_fraction, f=fraction, a=target
            ) -> float:
                return _exit_probability(g, d, p, f, b) - a

            if excess(MAX_BOUND) >= 0:  # nothing (to double precision) left to spend here
                bound = MAX_BOUND
            else:
                bound = float(optimize.brentq(excess, 0.5, MAX_BOUND, xtol=1e-10))
            scale = math.sqrt(fraction - previous_fraction)
            edge = bound * math.sqrt(fraction)
            new_grid = np.linspace(-edge, edge, GRID_POINTS)
            kernel = stats.norm.pdf((new_grid[:, None] - grid[None, :]) / scale) / scale
            density = np.trapezoid(kernel * density[None, :], grid, axis=1)
            grid = new_grid
        bounds.append(bound)
        previous_fraction, previous_spent = fraction, previous_spent + target
    return tuple(bounds)


def boundaries(
    fractions: list[float] | tuple[float, ...],
    level: float = DEFAULT_LEVEL,
    spending: Spending = DEFAULT_SPENDING,
) -> list[float]:
    """Return the two-sided normal critical value of each look.

    Parameters
    ----------
    fractions
        Information fraction of each planned look, increasing, the last 1.
    level
        Simultaneous coverage of the repeated intervals.
    spending
        The spending function (see :data:`Spending`).

    Returns
    -------
    list of float
        ``c_k`` such that ``P(|Z_j| < c_j for every j) = level`` under the canonical
        joint distribution (``corr(Z_j, Z_k) = sqrt(t_j / t_k)``).
    """
    if spending not in get_args(Spending):
        raise ValueError(f"spending must be one of {get_args(Spending)}, got {spending!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    values = tuple(float(f) for f in fractions)
    if not values or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"information fractions must increase, got {values}")
    if values[0] <= 0 or values[-1] > 1 + 1e-12:
        raise ValueError(f"information fractions must lie in (0, 1], got {values}")
    return list(_boundaries(values, round(1.0 - level, 12), spending))


@dataclass(frozen=True)
class LookPlan:
    """The looks a sequential protocol plans, and the critical value of each.

    A look is taken after a round once at least ``min_configs`` configurations are
    fitted; the looks planned are the rounds from there up to the cap. The
    information of a look is its number of interior (random) configurations.

    Parameters
    ----------
    first_round
        Configurations of the first round, ends included.
    round_size
        Configurations of each further round.
    max_configs
        Cap of sampling; ``None`` or ``first_round`` for a fixed design (one look).
    n_ends
        Fixed ends of the design (0-2).
    min_configs
        Fewest configurations for any verdict.
    level
        Simultaneous coverage of the intervals over all looks.
    spending
        The alpha-spending function.
    """

    first_round: int
    round_size: int = 10
    max_configs: int | None = None
    n_ends: int = 2
    min_configs: int = DEFAULT_MIN_CONFIGS
    level: float = DEFAULT_LEVEL
    spending: Spending = DEFAULT_SPENDING
    sizes: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        """Lay out the planned looks."""
        looks = tuple(n for n in self.round_sizes if n >= self.min_configs)
        object.__setattr__(self, "sizes", looks)

    @property
    def round_sizes(self) -> list[int]:
        """Configurations drawn after each planned round (a look or not)."""
        sizes = [self.first_round]
        while self.max_configs is not None and sizes[-1] + self.round_size <= self.max_configs:
            sizes.append(sizes[-1] + self.round_size)
        return sizes

    @property
    def n_looks(self) -> int:
        """Planned looks."""
        return len(self.sizes)

    @property
    def fractions(self) -> list[float]:
        """Information fraction of each look (its interior configurations over the last's)."""
        last = self.sizes[-1] - self.n_ends
        return [(n - self.n_ends) / last for n in self.sizes]

    @cached_property
    def critical_values(self) -> list[float]:
        """Normal critical value of each look."""
        if not self.sizes:
            return []
        return boundaries(self.fractions, self.level, self.spending)

    def look_of(self, n_configs: int) -> int | None:
        """Return the look (0-based) a fit of ``n_configs`` drawn configurations is.

        Rounds count by the configurations drawn (failures included), so a look is
        the same whatever failed; ``None`` below the minimum.
        """
        eligible = [k for k, size in enumerate(self.sizes) if size <= n_configs]
        return eligible[-1] if eligible else None

    def critical(self, look: int, df: float) -> float:
        """Return the critical value of a look for a t statistic with ``df`` degrees.

        The normal boundary's tail probability is carried over to Student's t, so
        that small designs keep their level.
        """
        z = self.critical_values[look]
        if not math.isfinite(df) or df > 1e6:
            return z
        return float(-special.stdtrit(df, special.ndtr(-z)))  # the tail, to full precision


AbsoluteVerdict = Literal["stable", "unstable", "undecided"]
RelativeVerdict = Literal["lower", "higher", "similar", "undecided"]


def absolute_verdict(low: float, high: float, threshold: float) -> AbsoluteVerdict:
    """Judge a slope's interval against ``+-threshold``.

    ``"stable"`` when the whole interval lies within ``[-threshold, threshold]``,
    ``"unstable"`` when it lies wholly outside, else ``"undecided"``.
    """
    if -threshold <= low and high <= threshold:
        return "stable"
    if low > threshold or high < -threshold:
        return "unstable"
    return "undecided"


def relative_verdict(low: float, high: float, margin: float) -> RelativeVerdict:
    """Judge the interval of a slope minus the reference's.

    ``"lower"`` when the whole interval lies below 0, ``"higher"`` when above 0 (a
    difference shown, whatever its size); otherwise ``"similar"`` when it lies
    within ``[-margin, margin]`` (a difference of more than the margin excluded);
    else ``"undecided"``. Each is wrong with probability at most ``(1 - level) / 2``
    when the interval holds its level.
    """
    if high < 0:
        return "lower"
    if low > 0:
        return "higher"
    if -margin <= low and high <= margin:
        return "similar"
    return "undecided"


def look_interval(
    estimate: SlopeEstimate, plan: LookPlan, drawn: int
) -> tuple[float, float] | None:
    """Return the repeated confidence interval of an estimate at the look of ``drawn``.

    ``None`` below the plan's minimum of configurations, or where the design leaves
    no standard error. Every verdict, at every look, is read from this interval.
    """
    look = plan.look_of(drawn)
    if look is None or estimate.se is None or estimate.df <= 0:
        return None
    return estimate.interval(plan.critical(look, estimate.df))
