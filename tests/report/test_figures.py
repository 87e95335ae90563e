"""Figures over all candidates, drawn from the documents of a real screening."""

import itertools

import pytest

from sianode_flows.report.figures import (
    capacity_channel_figure,
    slope_capacity_figure,
    slope_capacity_plot,
)
from sianode_flows.report.style import STATUS_COLORS, VERDICTS
from sianode_flows.results import candidate_documents, fit_documents
from tests.report.images import assert_png


def test_slope_capacity_figure(screened_store, tmp_path):
    fits = fit_documents(screened_store)
    assert_png(slope_capacity_figure(fits, tmp_path / "slopes.png"))
    no_slope = [fit.model_copy(update={"slope": None}) for fit in fits]
    assert slope_capacity_figure(no_slope, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def legend_entries(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("dpi", [100, 150])  # as drawn, and as saved
def test_slope_labels_do_not_overlap(crowded_fits, verdict_fits, dpi):
    fits = crowded_fits + verdict_fits
    fig = slope_capacity_plot(fits)
    fig.set_dpi(dpi)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    labels = [t for t in ax.texts if t.get_text()]
    # each candidate with a slope is named: on the plot, or by a number keyed in the legend
    named = {t.get_text() for t in labels}
    keyed = {e.split(": ", 1)[1] for e in legend_entries(ax) if e[:1].isdigit()}
    assert named - keyed == {f.formula for f in fits if f.slope is not None} - keyed
    boxes = [t.get_window_extent(renderer) for t in labels]
    for (a, box_a), (b, box_b) in itertools.combinations(zip(labels, boxes, strict=True), 2):
        assert not box_a.overlaps(box_b), (a.get_text(), b.get_text())
    # and no label covers a point
    points = ax.transData.transform([(f.capacity_mAh_g, f.slope) for f in fits if f.slope])
    for label, box in zip(labels, boxes, strict=True):
        assert not any(box.contains(x, y) for x, y in points), label.get_text()


def test_slope_figure_has_a_legend_entry_per_verdict(verdict_fits):
    fig = slope_capacity_plot(verdict_fits)
    (ax,) = fig.axes
    entries = legend_entries(ax)
    fitted = [f for f in verdict_fits if f.slope is not None]
    for verdict in {f.shown_verdict for f in fitted}:
        assert f"{verdict} (1)" in entries
    assert "undecided (1)" in entries
    # the reference's interval is the band the others are drawn against
    reference = next(f for f in verdict_fits if f.role == "reference")
    (band,) = [e for e in entries if e.startswith("reference Li15Si4")]
    assert f"[{reference.slope_ci_low:.2f}, {reference.slope_ci_high:.2f}]" in band
    colors = {bars.get_label(): bars.lines[0].get_color() for bars in ax.containers}
    assert colors["undecided (1)"] == STATUS_COLORS["undecided"]
    assert len(set(STATUS_COLORS[v] for v in VERDICTS)) == len(VERDICTS)


def test_capacity_channel_figure(screened_store, tmp_path):
    candidates = candidate_documents(screened_store)
    sources = {c.candidate_id: c.source for c in candidates}
    path = capacity_channel_figure(
        candidates,
        sources,
        tmp_path / "capacity.png",
        min_capacity=1500,
        r_t_window=(1.5, 2.5),
        color_title="source",
    )
    assert_png(path)
    without = [c.model_copy(update={"r_t_charged": None}) for c in candidates]
    kwargs = {"min_capacity": 1500, "r_t_window": (1.5, 2.5), "color_title": "source"}
    assert capacity_channel_figure(without, sources, tmp_path / "x.png", **kwargs) is None
