"""The design estimator of the slope: fixed end weight, collapsed strata, paired differences."""

import numpy as np
import pytest
from scipy import stats

from sianode_flows.analysis.calibration import Population
from sianode_flows.analysis.intervals import (
    DesignPoints,
    collapsed_groups,
    end_weight,
    estimate_difference,
    estimate_slope,
)


def synthetic(slope=0.5, noise=0.1, replicates=300, strata=18, seed=0, curved=False):
    """A population of (SOC, R_t) configurations: a line (or a plateau) plus noise."""
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, 1, strata + 1)
    soc = rng.uniform(edges[:-1, None], edges[1:, None], size=(strata, replicates))
    soc = np.clip(np.round(soc * 30), 1, 29) / 30
    mean = 1.45 + 0.25 * soc if curved else 1.0 + slope * soc
    value = mean + noise * rng.normal(size=soc.shape)
    charged, empty = (1.61, 0.61) if curved else (1.0 + slope, 1.0)
    return Population("synthetic", soc, value, charged, empty)


def test_the_first_round_is_least_squares_and_later_ends_keep_their_share():
    population = synthetic(curved=True)
    rng = np.random.default_rng(1)
    one = population.design(population.draw_rounds(rng, 20, 10, 1), 20)
    assert one.end_weight == 1.0
    ols = stats.linregress(one.soc, one.value)
    assert estimate_slope(one).slope == pytest.approx(ols.slope, abs=1e-12)
    four = population.design(population.draw_rounds(rng, 20, 10, 4), 20)
    # 18 + 30 interior points: each end weighs 48 / 18, i.e. 1/20 of the fit as in round 1
    assert four.end_weight == pytest.approx(48 / 18)
    assert four.end_weight / (2 * four.end_weight + 48) == pytest.approx(1 / 20)
    assert end_weight(48, 0) == 1.0


def test_the_estimand_does_not_drift_with_rounds_where_least_squares_does():
    """R_t is a plateau then the empty framework: plain OLS loses the ends' weight."""
    population = synthetic(curved=True, noise=0.05)
    rng = np.random.default_rng(2)
    design, ols = [], []
    for _ in range(200):
        points = population.design(population.draw_rounds(rng, 20, 10, 9), 20)
        design.append(estimate_slope(points).slope)
        ols.append(stats.linregress(points.soc, points.value).slope)
    truth = population.truth(20)
    assert np.mean(design) == pytest.approx(truth, abs=0.01)
    assert np.mean(ols) < truth - 0.08  # the ends' share fell from 1/20 to 1/100


def test_collapsed_strata_pair_neighbours_within_rounds():
    points = DesignPoints.build(
        soc=np.linspace(0, 1, 27),
        value=np.zeros(27),
        config_index=np.arange(27),
        rounds=[1] * 17 + [2] * 10,
        n_ends=2,
        first_round=17,
        round_size=10,
    )
    groups = collapsed_groups(points)
    assert list(groups[:2]) == [-1, -1]  # the ends
    # 15 interior strata in round 1: seven groups, the last of three
    assert list(groups[2:17]) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6]
    assert list(groups[17:]) == [7, 7, 8, 8, 9, 9, 10, 10, 11, 11]


def test_later_rounds_group_the_same_stratum_across_rounds():
    """Rounds 2 and 3 share their ten strata: stratum h of both is one group of two."""
    index = np.arange(20 + 10 + 10)
    rounds = np.array([1] * 20 + [2] * 10 + [3] * 10)
    keep = index != 25  # stratum 5 of round 2 failed: stratum 5 of round 3 joins stratum 4
    points = DesignPoints.build(
        np.linspace(0, 1, 40)[keep], np.zeros(39), index[keep], rounds[keep], 2, 20, 10
    )
    groups = collapsed_groups(points)
    later = dict(zip(index[keep][20:], groups[20:], strict=True))
    assert [later[30 + h] == later[20 + h] for h in (0, 1, 2, 3, 6, 7, 8, 9)] == [True] * 8
    assert later[35] == later[24] == later[34]
    assert len(set(groups[20:])) == 9


@pytest.mark.parametrize("curved", [False, True])
def test_the_design_error_matches_the_spread_of_the_slope(curved):
    """Over many designs the variance estimate is the slope's variance (or above it)."""
    population = synthetic(curved=curved)
    rng = np.random.default_rng(3)
    slopes, variances = [], []
    for _ in range(1500):
        estimate = estimate_slope(population.design(population.draw_rounds(rng, 20, 10, 5), 20))
        slopes.append(estimate.slope)
        variances.append(estimate.se**2)
    ratio = np.mean(variances) / np.var(slopes)
    assert 0.9 < ratio < 1.25


def test_pairing_removes_the_shared_noise():
    """Twins drawing the same configurations: the paired error is far below the unpaired."""
    population = synthetic(noise=0.15)
    shifted = Population(
        "twin",
        population.soc,
        population.value - 0.1 * population.soc + 0.01,
        population.charged - 0.1 + 0.01,
        population.empty + 0.01,
    )
    rng = np.random.default_rng(4)
    choices = population.draw_rounds(rng, 20, 10, 3)
    a, b = shifted.design(choices, 20), population.design(choices, 20)
    paired = estimate_difference(a, b, paired=True)
    unpaired = estimate_difference(a, b, paired=False)
    assert paired.slope == pytest.approx(-0.1, abs=1e-9)  # the same noise cancels exactly
    assert paired.se == pytest.approx(0, abs=1e-9)
    assert unpaired.se > 0.02 and unpaired.paired is False
