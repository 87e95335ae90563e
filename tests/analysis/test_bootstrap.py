"""Bootstrap intervals of slopes: containment, seeds, pairing, coverage."""

import numpy as np
import pytest
from scipy import stats

from sianode_flows.analysis.fit import (
    bootstrap_difference_interval,
    bootstrap_slope_interval,
    bootstrap_slopes,
    fit_slope,
    relative_volumes,
)


def noisy_line(seed: int, n: int = 30, slope: float = 0.8, noise: float = 0.15):
    rng = np.random.default_rng(seed)
    soc = np.concatenate([[1.0, 0.0], rng.uniform(0, 1, n - 2)])
    return soc, slope * soc + 1.0 + rng.normal(0, noise, n)


def test_interval_contains_the_least_squares_slope_and_is_reproducible():
    soc, r_t = noisy_line(7)
    fit = fit_slope(soc, r_t)
    interval = bootstrap_slope_interval(soc, r_t, seed=11)
    assert interval.contains(fit.slope)
    assert interval.low < fit.slope < interval.high
    assert interval.level == 0.95 and interval.n_resamples == 1000
    assert interval.n_used == 1000  # 30 distinct SOCs: x always varies
    # about two standard errors either side, as for a well-behaved linear model
    width = interval.high - interval.low
    assert 2.5 * fit.slope_err < width < 6 * fit.slope_err
    assert bootstrap_slope_interval(soc, r_t, seed=11) == interval
    other = bootstrap_slope_interval(soc, r_t, seed=12)
    assert other != interval
    assert other.low == pytest.approx(interval.low, abs=0.05)


def test_an_exact_line_has_a_zero_width_interval():
    interval = bootstrap_slope_interval([0.0, 0.25, 0.5, 1.0], [1.0, 1.125, 1.25, 1.5])
    assert interval.low == pytest.approx(0.5) and interval.high == pytest.approx(0.5)


def test_degenerate_resamples_are_dropped():
    # three points: 3 of the 27 equally likely resamples repeat one point
    interval = bootstrap_slope_interval([0.0, 0.5, 1.0], [1.0, 1.4, 1.5], n_resamples=2000)
    assert 0.8 * 2000 < interval.n_used < 0.95 * 2000
    assert interval.low >= 0.0


def test_same_interval_as_a_hand_written_pairs_bootstrap():
    """scipy's paired percentile bootstrap, seeded alike, gives the former hand-written bounds."""
    soc, r_t = noisy_line(3, n=20)
    ours = bootstrap_slope_interval(soc, r_t, n_resamples=4000, seed=0)
    index = np.random.default_rng(0).integers(0, soc.size, size=(4000, soc.size))
    slopes = [stats.linregress(soc[i], r_t[i]).slope for i in index]
    low, high = np.quantile(slopes, [0.025, 0.975])
    assert ours.low == pytest.approx(low, abs=1e-12)
    assert ours.high == pytest.approx(high, abs=1e-12)


def test_coverage_is_near_nominal():
    """Over many noisy data sets the 95 % interval holds the true slope ~95 % of the time."""
    hits = [
        bootstrap_slope_interval(*noisy_line(seed), n_resamples=500, seed=seed).contains(0.8)
        for seed in range(300)
    ]
    assert 0.88 < np.mean(hits) < 0.99


def test_paired_difference_sees_only_the_difference():
    soc, r_t = noisy_line(5)
    shifted = r_t - 0.3 * soc  # the same points with a slope 0.3 smaller
    interval = bootstrap_difference_interval(soc, r_t, shifted, seed=2)
    assert interval.low == pytest.approx(0.3) and interval.high == pytest.approx(0.3)
    # each slope alone is uncertain; the pairing removes the shared noise
    alone = bootstrap_slope_interval(soc, r_t, seed=2)
    assert alone.high - alone.low > 0.15


def test_several_series_share_the_draws():
    soc, r_t = noisy_line(9)
    both = bootstrap_slopes(soc, r_t, 2 * r_t, n_resamples=50, seed=4)
    assert both.shape == (2, 50)
    np.testing.assert_allclose(both[1], 2 * both[0])


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([0, 1], [1, 2], "at least 3"),
        ([1, 1, 1], [1, 2, 3], "does not vary"),
        ([0, 1, 2], [1, 2], "differ"),
    ],
)
def test_bad_inputs(x, y, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_slope_interval(x, y)


def test_relative_volumes():
    relative, reference, label = relative_volumes([1.0, 0.5, 0.0], [76.0, 50.0, 20.0])
    assert label == "charged" and reference == 76.0
    np.testing.assert_allclose(relative, [1.0, 50 / 76, 20 / 76])
    relative, reference, label = relative_volumes([0.9, 0.5, 0.0], [70.0, 50.0, 20.0])
    assert label == "largest" and reference == 70.0
    with pytest.raises(ValueError, match="positive"):
        relative_volumes([1.0, 0.0], [10.0, -1.0])
