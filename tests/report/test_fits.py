"""R_t against SOC or lithiation: the confidence band and the figures of real fits."""

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from scipy import stats

from sianode_flows.report.fits import (
    POINT_COLOR,
    confidence_band,
    series_figure,
    slope_fit_figure,
    slope_fit_plot,
)
from sianode_flows.results import fit_documents
from tests.report.images import assert_png

# R_t (A) of relaxed Li15Si4 configurations against SOC (measured, 8 configurations)
SOC = [1.0, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25, 0.0]
R_T = [1.61, 1.71, 1.74, 1.65, 1.89, 1.48, 1.51, 0.72]


def test_confidence_band_matches_the_standard_errors_of_the_fit():
    fit = stats.linregress(SOC, R_T)
    t = stats.t.ppf(0.975, len(SOC) - 2)
    grid = [0.0, float(np.mean(SOC)), 1.0]
    yhat, low, high = confidence_band(SOC, R_T, grid)
    assert yhat == pytest.approx([fit.intercept, np.mean(R_T), fit.intercept + fit.slope])
    # at SOC 0 the band is the intercept's confidence interval
    assert (high[0] - low[0]) / 2 == pytest.approx(t * fit.intercept_stderr)
    # at the mean SOC it is t * s / sqrt(n)
    residuals = np.asarray(R_T) - (fit.intercept + fit.slope * np.asarray(SOC))
    s = np.sqrt((residuals**2).sum() / (len(SOC) - 2))
    assert (high[1] - low[1]) / 2 == pytest.approx(t * s / np.sqrt(len(SOC)))
    assert (high[1] - low[1]) < (high[0] - low[0])
    with pytest.raises(ValueError, match="three points"):
        confidence_band([0.0, 1.0], [1.0, 2.0], grid)


def test_slope_fit_figures(screened_store, tmp_path):
    for fit in fit_documents(screened_store):
        assert_png(slope_fit_figure(fit, tmp_path / f"{fit.formula}.png"))
    no_slope = fit.model_copy(update={"slope": None, "note": "too few points"})
    assert_png(slope_fit_figure(no_slope, tmp_path / "no_slope.png"))


def test_excluded_points_are_hollow_and_named(verdict_fits):
    fit = next(f for f in verdict_fits if f.n_excluded)
    kept = [p for p in fit.points if p.excluded is None]
    left_out = [p for p in fit.points if p.excluded == "not converged"]
    assert len(left_out) == 2
    (ax,) = slope_fit_plot(fit).axes
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "excluded: not converged (2)" in legend
    assert "excluded: channel not found (1)" in legend
    assert f"structures (n = {len(kept)})" in legend
    drawn = {c.get_label(): c for c in ax.collections}
    hollow = drawn["excluded: not converged (2)"]
    assert len(hollow.get_facecolor()) == 0  # no fill
    assert tuple(hollow.get_edgecolor()[0]) == to_rgba(POINT_COLOR)
    assert sorted(map(tuple, hollow.get_offsets())) == sorted(
        (100 * p.soc, p.r_t) for p in left_out
    )
    filled = drawn[f"structures (n = {len(kept)})"]
    assert tuple(filled.get_facecolor()[0]) == to_rgba(POINT_COLOR)
    # the band is that of the fitted points only
    band = drawn["95 % confidence band"].get_paths()[0].vertices
    _, low, high = confidence_band([p.soc for p in kept], [p.r_t for p in kept], [0.0, 1.0])
    assert band[:, 1].max() == pytest.approx(max(high))
    assert band[:, 1].min() == pytest.approx(min(low))
    # three rounds of sequential sampling, said under the title
    assert "3 rounds, 30 configurations, stopped: cap reached" in ax.get_title()


def test_series_figure(series_document, tmp_path):
    # real MP structures: R_t grows with lithiation, as in the paper's Figure 2
    assert series_document.n_structures >= 10
    assert series_document.slope > 0.4 and series_document.pearson_r > 0.6
    assert_png(series_figure(series_document, tmp_path / "series.png"))
