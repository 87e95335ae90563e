import numpy as np
import pytest
from scipy import stats

from sianode_flows.analysis.fit import fit_slope


def test_fit_equals_scipy():
    rng = np.random.default_rng(3)
    soc = rng.uniform(0, 1, 30)
    r_t = 0.8 * soc + 0.9 + rng.normal(0, 0.1, 30)
    fit = fit_slope(soc, r_t)
    reference = stats.linregress(soc, r_t)
    spearman = stats.spearmanr(soc, r_t)
    assert fit.slope == pytest.approx(reference.slope)
    assert fit.slope_err == pytest.approx(reference.stderr)
    assert fit.intercept == pytest.approx(reference.intercept)
    assert fit.pearson_r == pytest.approx(reference.rvalue)
    assert fit.pearson_p == pytest.approx(reference.pvalue)
    assert fit.spearman_rho == pytest.approx(spearman.statistic)
    assert fit.spearman_p == pytest.approx(spearman.pvalue)
    assert fit.n_points == 30


def test_exact_line():
    fit = fit_slope([0.0, 0.5, 1.0], [1.0, 1.25, 1.5])
    assert fit.slope == pytest.approx(0.5)
    assert fit.slope_err == pytest.approx(0.0, abs=1e-12)
    assert fit.intercept == pytest.approx(1.0)
    assert fit.pearson_r == pytest.approx(1.0)
    assert fit.spearman_rho == pytest.approx(1.0)


def test_constant_radius_has_no_correlation():
    fit = fit_slope([0.0, 0.5, 1.0], [1.6, 1.6, 1.6])
    assert fit.slope == 0.0
    assert fit.pearson_r is None and fit.spearman_rho is None


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
        fit_slope(x, y)
