"""Figures over all candidates, drawn from the documents of a real screening."""

from sianode_flows.report.data import GenerationResults
from sianode_flows.report.figures import (
    capacity_channel_figure,
    generation_figure,
    slope_capacity_figure,
)
from sianode_flows.results import candidate_documents, fit_documents
from tests.report.images import assert_png


def test_slope_capacity_figure(screened_store, tmp_path):
    fits = fit_documents(screened_store)
    assert_png(slope_capacity_figure(fits, tmp_path / "slopes.png"))
    no_slope = [fit.model_copy(update={"slope": None}) for fit in fits]
    assert slope_capacity_figure(no_slope, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


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


def test_generation_figure_only_with_results(tmp_path):
    assert generation_figure([], tmp_path / "g.png") is None
    assert generation_figure([GenerationResults("R_t", [], [])], tmp_path / "g.png") is None
    result = GenerationResults(
        "R_t (A)", [1.5, 1.5, 2.0, 2.0], [1.42, 1.61, 1.83, 2.12], {"valid": 0.75}
    )
    assert_png(generation_figure([result], tmp_path / "g.png"))
