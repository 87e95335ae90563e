"""Calibrate intervals and the sequential rule on designs simulated from measured points.

Replicate designs with real relaxations (one seed each) measure the spread of the
slope, but a handful of them cannot measure a coverage. For that, many designs are
simulated from the measured points themselves: each configuration of a simulated
design takes the measured (SOC, R_t) of one replicate's configuration in the same
SOC stratum, drawn at random (a nonparametric population built from the real
relaxations). The population's own slope, with the design's weights, is the truth
the intervals must cover. Twin candidates (the same Li sites, the same seeds) draw
the same replicate configuration, as common random numbers do in a real screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import stats

from sianode_flows.analysis.fit import bootstrap_slope_interval
from sianode_flows.analysis.intervals import (
    DesignPoints,
    SlopeEstimate,
    collapsed_groups,
    estimate_difference,
    estimate_slope,
    influence,
)
from sianode_flows.analysis.sequential import (
    LookPlan,
    absolute_verdict,
    look_interval,
    relative_verdict,
)

CHARGED, EMPTY = 0, 1
"""Configuration indices of the ends in round 1 (the charged cell first)."""


@dataclass(frozen=True)
class Population:
    """The measured configurations of replicate designs, stratum by stratum.

    Attributes
    ----------
    label
        What was measured (e.g. the formula).
    soc, value
        Shape ``(n_strata, n_replicates)``: the interior configuration of each
        stratum in each replicate design (NaN where it failed).
    charged, empty
        Value at the charged and the empty end (the same structures in every
        design: their mean over the replicates).
    """

    label: str
    soc: np.ndarray
    value: np.ndarray
    charged: float
    empty: float

    @classmethod
    def from_designs(
        cls, label: str, designs: dict[str, list[dict]], n_configs: int, n_ends: int = 2
    ) -> Population:
        """Build it from replicate designs of ``n_configs`` configurations (ends first).

        Parameters
        ----------
        label
            What was measured.
        designs
            Points of each replicate design (``config_index``, ``soc``, ``r_t``,
            ``converged``), by seed; unconverged points count as missing.
        n_configs
            Configurations per design, ends included.
        n_ends
            Ends per design (both are required here).
        """
        if n_ends != 2:
            raise ValueError("a population needs both ends")
        seeds = sorted(designs, key=int)
        n_strata = n_configs - n_ends
        soc = np.full((n_strata, len(seeds)), np.nan)
        value = np.full((n_strata, len(seeds)), np.nan)
        ends: dict[int, list[float]] = {CHARGED: [], EMPTY: []}
        for column, seed in enumerate(seeds):
            for point in designs[seed]:
                if point.get("converged") is False:
                    continue
                index = point["config_index"]
                if index in ends:
                    ends[index].append(point["r_t"])
                elif n_ends <= index < n_configs:
                    soc[index - n_ends, column] = point["soc"]
                    value[index - n_ends, column] = point["r_t"]
        return cls(label, soc, value, float(np.mean(ends[CHARGED])), float(np.mean(ends[EMPTY])))

    @property
    def n_strata(self) -> int:
        """Strata of the replicate designs."""
        return self.soc.shape[0]

    @property
    def n_replicates(self) -> int:
        """Replicate designs."""
        return self.soc.shape[1]

    def truth(self, first_round: int, shift: float = 0.0) -> float:
        """Return the population's slope for designs whose first round has ``first_round``.

        Each end weighs ``1 / first_round`` and the interior the rest, spread evenly
        over the strata and, within one, over its measured configurations: the value
        that the design estimator converges to. ``shift`` adds ``shift * SOC`` to
        every value (a slope moved by exactly ``shift``).
        """
        w_end = 1.0 / first_round
        keep = np.isfinite(self.value)
        per_stratum = keep.sum(axis=1, keepdims=True)
        w_interior = np.where(keep, (1.0 - 2.0 * w_end) / self.n_strata / per_stratum, 0.0)
        x = np.concatenate([[1.0, 0.0], self.soc[keep]])
        y = np.concatenate([[self.charged, self.empty], self.value[keep]]) + shift * x
        w = np.concatenate([[w_end, w_end], w_interior[keep]])
        x_mean = np.sum(w * x) / w.sum()
        y_mean = np.sum(w * y) / w.sum()
        return float(np.sum(w * (x - x_mean) * (y - y_mean)) / np.sum(w * (x - x_mean) ** 2))

    def choose(self, rng: np.random.Generator, n_strata: int) -> np.ndarray:
        """Draw one round: per stratum of ``n_strata``, a (population stratum, replicate).

        The SOC is drawn uniformly within the round's stratum; the population
        stratum holding it gives a measured configuration, one of its replicates at
        random (among those measured).
        """
        target = (np.arange(n_strata) + rng.random(n_strata)) / n_strata
        stratum = np.minimum((target * self.n_strata).astype(int), self.n_strata - 1)
        counts = self._measured_counts[stratum]
        pick = (rng.random(n_strata) * counts).astype(int)
        replicate = self._measured_order[stratum, pick]
        return np.stack([stratum, replicate], axis=1)

    @cached_property
    def _measured_counts(self) -> np.ndarray:
        return np.isfinite(self.value).sum(axis=1)

    @cached_property
    def _measured_order(self) -> np.ndarray:
        """Per stratum, the measured replicates first (their columns), in order."""
        return np.argsort(~np.isfinite(self.value), axis=1, kind="stable")

    def design(
        self,
        choices: list[np.ndarray],
        first_round: int,
        shift: float = 0.0,
    ) -> DesignPoints:
        """Return the design points of drawn rounds (round 1 with both ends first)."""
        soc = [1.0, 0.0]
        value = [self.charged, self.empty]
        rounds = [1, 1]
        for number, choice in enumerate(choices, 1):
            soc += self.soc[choice[:, 0], choice[:, 1]].tolist()
            value += self.value[choice[:, 0], choice[:, 1]].tolist()
            rounds += [number] * len(choice)
        x = np.asarray(soc)
        y = np.asarray(value) + shift * x
        keep = np.isfinite(y)
        round_size = len(choices[1]) if len(choices) > 1 else None
        return DesignPoints.build(
            x[keep],
            y[keep],
            np.arange(x.size)[keep],
            np.asarray(rounds)[keep],
            2,
            first_round,
            round_size,
        )

    def draw_rounds(
        self, rng: np.random.Generator, first_round: int, round_size: int, n_rounds: int
    ) -> list[np.ndarray]:
        """Draw the choices of ``n_rounds`` rounds (see :meth:`choose`)."""
        sizes = [first_round - 2] + [round_size] * (n_rounds - 1)
        return [self.choose(rng, size) for size in sizes]


# ----------------------------------------------------------------------------------------
# interval methods compared by the calibration


def _weighted_slopes(points: DesignPoints, picks: np.ndarray) -> np.ndarray:
    """Design-weighted slopes of resamples: ``picks`` of shape (B, n) index the points."""
    x = points.soc[picks]
    y = points.value[picks]
    ends = points.is_end[picks]
    n_interior = np.count_nonzero(~ends, axis=1, keepdims=True)
    designed = max(points.designed_interior, 1)
    w = np.where(ends, n_interior / designed if points.designed_interior else 1.0, 1.0)
    x_mean = np.sum(w * x, axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    y_mean = np.sum(w * y, axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
    sxx = np.sum(w * (x - x_mean) ** 2, axis=1)
    sxy = np.sum(w * (x - x_mean) * (y - y_mean), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slopes = sxy / sxx
    return slopes[np.isfinite(slopes)]


def _percentile(slopes: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(slopes, [tail, 1.0 - tail])
    return float(low), float(high)


def pairs_bootstrap(
    points: DesignPoints, rng: np.random.Generator, level: float = 0.95, n_resamples: int = 1000
) -> tuple[float, float] | None:
    """Today's interval: least squares, every configuration resampled with replacement.

    :func:`~sianode_flows.analysis.fit.bootstrap_slope_interval` as the fits used it.
    Its slope is plain least squares, whose ends lose weight as rounds add points,
    so it estimates the design's slope only in the first round: ``None`` after it.
    """
    if np.unique(points.round).size > 1:
        return None
    seed = int(rng.integers(2**31))
    interval = bootstrap_slope_interval(points.soc, points.value, n_resamples, level, seed)
    return interval.low, interval.high


def strata_bootstrap(
    points: DesignPoints, rng: np.random.Generator, level: float = 0.95, n_resamples: int = 1000
) -> tuple[float, float]:
    """Percentile interval from resampling within collapsed strata, the ends kept."""
    groups = collapsed_groups(points)
    picks = np.tile(np.arange(points.soc.size), (n_resamples, 1))
    for group in np.unique(groups[groups >= 0]):
        members = np.flatnonzero(groups == group)
        picks[:, members] = rng.choice(members, size=(n_resamples, members.size))
    return _percentile(_weighted_slopes(points, picks), level)


def ols_interval(points: DesignPoints, level: float = 0.95) -> tuple[float, float]:
    """Return the textbook t-interval: residuals as i.i.d. noise, n - 2 degrees."""
    slope = influence(points)[0]
    w = points.weights
    x_mean = np.sum(w * points.soc) / w.sum()
    y_mean = np.sum(w * points.value) / w.sum()
    residuals = points.value - y_mean - slope * (points.soc - x_mean)
    sxx = np.sum(w * (points.soc - x_mean) ** 2)
    df = points.soc.size - 2
    se = np.sqrt(np.sum(w * residuals**2) / (w.sum() * df / points.soc.size) / sxx)
    half = stats.t.ppf(0.5 + level / 2.0, df) * se
    return slope - half, slope + half


def between_rounds(points: DesignPoints, level: float = 0.95) -> tuple[float, float] | None:
    """Random groups: every round (with the ends) is a replicate design of the slope.

    Returns ``None`` with fewer than two rounds.
    """
    rounds = np.unique(points.round)
    if rounds.size < 2:
        return None
    slopes, sizes = [], []
    for number in rounds:
        keep = points.is_end | (points.round == number)
        slopes.append(estimate_slope(points.subset(keep)).slope)
        sizes.append(np.count_nonzero(~points.is_end & (points.round == number)))
    weight = np.asarray(sizes, dtype=float) / np.sum(sizes)
    slopes_arr = np.asarray(slopes)
    centre = estimate_slope(points).slope
    variance = (
        rounds.size
        / (rounds.size - 1)
        * np.sum(weight**2 * (slopes_arr - slopes_arr @ weight) ** 2)
    )
    half = stats.t.ppf(0.5 + level / 2.0, rounds.size - 1) * np.sqrt(variance)
    return centre - half, centre + half


def collapsed_strata(points: DesignPoints, level: float = 0.95) -> tuple[float, float]:
    """Return the design's interval from collapsed strata, Student's t (the default)."""
    return estimate_slope(points).interval(level=level)


METHODS: dict[str, Callable] = {
    "pairs bootstrap (today)": lambda p, rng: pairs_bootstrap(p, rng),
    "strata bootstrap, ends kept": lambda p, rng: strata_bootstrap(p, rng),
    "OLS t-interval": lambda p, rng: ols_interval(p),
    "between rounds": lambda p, rng: between_rounds(p),
    "collapsed strata (adopted)": lambda p, rng: collapsed_strata(p),
}
"""The interval methods of the calibration table, by name."""


@dataclass
class Coverage:
    """Coverage and mean width of one method over simulated designs."""

    method: str
    covered: int = 0
    total: int = 0
    width: float = 0.0

    def add(self, interval: tuple[float, float] | None, truth: float) -> None:
        """Count one design's interval."""
        if interval is None:
            return
        self.total += 1
        self.covered += int(interval[0] <= truth <= interval[1])
        self.width += interval[1] - interval[0]

    @property
    def rate(self) -> float:
        """Fraction of intervals that held the truth."""
        return self.covered / self.total if self.total else float("nan")

    @property
    def mean_width(self) -> float:
        """Mean width of the intervals."""
        return self.width / self.total if self.total else float("nan")

    @property
    def standard_error(self) -> float:
        """Monte Carlo standard error of the rate."""
        return float(np.sqrt(self.rate * (1 - self.rate) / self.total)) if self.total else 0.0


def simulated_coverage(
    population: Population,
    first_round: int,
    round_size: int,
    n_rounds: int,
    n_designs: int,
    seed: int = 0,
    methods: dict[str, Callable] | None = None,
) -> tuple[list[Coverage], float, float]:
    """Coverage of each method over designs simulated from a population.

    Returns the coverages, the truth, and the standard deviation of the slope over
    the simulated designs.
    """
    methods = METHODS if methods is None else methods
    rng = np.random.default_rng(seed)
    truth = population.truth(first_round)
    results = [Coverage(name) for name in methods]
    slopes = []
    for _ in range(n_designs):
        points = population.design(
            population.draw_rounds(rng, first_round, round_size, n_rounds), first_round
        )
        slopes.append(estimate_slope(points).slope)
        for result, method in zip(results, methods.values(), strict=True):
            result.add(method(points, rng), truth)
    return results, truth, float(np.std(slopes, ddof=1))


# ----------------------------------------------------------------------------------------
# the sequential procedure


@dataclass
class ProcedureOutcome:
    """What one simulated sequential screen ended with."""

    verdict: str
    configs: int
    estimate: float
    low: float | None
    high: float | None


def run_procedure(
    interval_at: Callable[[int, int], tuple[float, float, float] | None],
    plan: LookPlan,
    decide: Callable[[float, float], str],
) -> ProcedureOutcome:
    """Run a group-sequential procedure look by look until it decides or the cap.

    Parameters
    ----------
    interval_at
        Given the rounds drawn (1-based) and the configurations drawn, the estimate
        and interval ``(estimate, low, high)`` the rule reads at that look, or
        ``None`` where it gives none (below the minimum, say).
    plan
        The planned looks.
    decide
        Verdict of an interval (``"undecided"`` to go on).
    """
    sizes = plan.round_sizes
    estimate = float("nan")
    low = high = None
    for rounds, drawn in enumerate(sizes, 1):
        found = interval_at(rounds, drawn)
        if found is None:
            continue
        estimate, low, high = found
        verdict = decide(low, high)
        if verdict != "undecided":
            return ProcedureOutcome(verdict, drawn, estimate, low, high)
    return ProcedureOutcome("undecided", sizes[-1], estimate, low, high)


def design_interval(
    estimate: SlopeEstimate, plan: LookPlan, drawn: int
) -> tuple[float, float, float] | None:
    """Return the estimate and the product's interval at a look (see ``look_interval``)."""
    interval = look_interval(estimate, plan, drawn)
    return None if interval is None else (estimate.slope, *interval)


def simulate_comparison(
    reference: Population,
    candidate: Population,
    paired: bool,
    plan: LookPlan,
    margin: float = 0.1,
    n_screens: int = 1000,
    shift: float = 0.0,
    seed: int = 0,
) -> list[ProcedureOutcome]:
    """Simulate screens of a candidate against the reference, both drawn from populations.

    The rule is the product's: at each planned look, the repeated interval of the
    slope difference (:func:`design_interval`) judged by
    :func:`~sianode_flows.analysis.sequential.relative_verdict`. ``shift`` moves the
    candidate's slope by exactly that much (``+ shift * SOC``), e.g. onto the
    reference's to measure the error at the boundary.
    """
    rng = np.random.default_rng(seed)
    n_rounds = len(plan.round_sizes)
    first = plan.first_round
    outcomes = []
    for _ in range(n_screens):
        ref_rounds = reference.draw_rounds(rng, first, plan.round_size, n_rounds)
        own = ref_rounds if paired else candidate.draw_rounds(rng, first, plan.round_size, n_rounds)

        def interval_at(k: int, drawn: int, r=ref_rounds, c=own) -> tuple | None:
            difference = estimate_difference(
                candidate.design(c[:k], first, shift), reference.design(r[:k], first), paired
            )
            return design_interval(difference, plan, drawn)

        outcomes.append(
            run_procedure(interval_at, plan, lambda lo, hi: relative_verdict(lo, hi, margin))
        )
    return outcomes


def simulate_threshold(
    population: Population,
    plan: LookPlan,
    threshold: float,
    n_screens: int = 1000,
    shift: float = 0.0,
    seed: int = 0,
    interval: Callable[[DesignPoints, LookPlan, int], tuple | None] | None = None,
) -> list[ProcedureOutcome]:
    """Simulate screens of one candidate judged against ``+-threshold`` (the absolute rule).

    ``interval`` gives the estimate and interval of a look from the points, the plan
    and the configurations drawn; the product's by default.
    """
    rng = np.random.default_rng(seed)
    n_rounds = len(plan.round_sizes)
    first = plan.first_round
    if interval is None:

        def interval(points: DesignPoints, plan: LookPlan, drawn: int) -> tuple | None:
            return design_interval(estimate_slope(points), plan, drawn)

    outcomes = []
    for _ in range(n_screens):
        rounds = population.draw_rounds(rng, first, plan.round_size, n_rounds)
        outcomes.append(
            run_procedure(
                lambda k, drawn, r=rounds: interval(
                    population.design(r[:k], first, shift), plan, drawn
                ),
                plan,
                lambda lo, hi: absolute_verdict(lo, hi, threshold),
            )
        )
    return outcomes
