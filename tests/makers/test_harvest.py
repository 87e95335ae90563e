"""Harvest and database-series flows on the real shared data."""

import itertools

import pytest
from jobflow import Flow, run_locally
from monty.serialization import dumpfn
from pymatgen.io.cif import CifWriter

from sianode_flows.builtin import li15si4
from sianode_flows.makers import (
    ChannelStabilityMaker,
    DatabaseSeriesMaker,
    HarvestMaker,
    ScreeningMaker,
)
from sianode_flows.sources import LocalFileSource, MaterialsProjectSource
from tests.sources.servers import write_rows


def test_harvest_all_shared_data(shared_data, memory_store, monkeypatch):
    """Every file of ../shared/data, an unavailable MP source, and the counts per stage."""
    monkeypatch.delenv("MP_API_KEY", raising=False)
    monkeypatch.delenv("PMG_MAPI_KEY", raising=False)
    sources = [LocalFileSource(str(p), name=p.name) for p in sorted(shared_data.glob("*.csv.gz"))]
    flow = HarvestMaker(workers=2).make([MaterialsProjectSource(), *sources])
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    harvest = flow.output.resolve(memory_store)

    assert sum(s.n_seen for s in harvest.sources) == 36738 + 2803 + 9929
    assert harvest.sources[0].error and "MP_API_KEY" in harvest.sources[0].error
    assert harvest.failures[0].input == "source mp"
    formulas = {c.formula for c in harvest.candidates}
    assert {"Li15Si4", "Li13Si4", "Li21Si5", "Li22Si5", "Li12Si7"} <= formulas
    assert all(c.capacity_mAh_g >= 1500 for c in harvest.candidates)
    assert all(c.capacity_mAh_g < 1500 for c in harvest.below_threshold)
    # the stages account for every entry
    stages = {s.stage: s for s in harvest.stages}
    assert stages["prefilter"].n_in == 36738 + 2803 + 9929
    ordered = harvest.stages
    for before, after in itertools.pairwise(ordered):
        assert after.n_in == before.n_in - before.n_dropped
    assert stages["alloying"].n_dropped > 250  # silicates and nitrides
    assert stages["capacity"].n_in - stages["capacity"].n_dropped == len(harvest.candidates)
    li15si4_doc = next(c for c in harvest.candidates if c.formula == "Li15Si4")
    assert 1.55 < li15si4_doc.r_t_charged < 1.70


def test_duplicates_bad_rows_and_screening_downstream(
    shared_data, li_si_rows, tmp_path, memory_store, quick_relax_maker
):
    """Two sources with the same Li15Si4, bad rows, then the screening of the harvest."""
    li15si4_row = next(r for r in li_si_rows if r["source_id"] == "mp-569849")
    disordered = li15si4()
    disordered.replace(0, {"Li": 0.5})
    rows = [
        li15si4_row,
        {**li15si4_row, "source_id": "broken-cif", "cif": "data_x\n_cell_length_a ?\n"},
        {**li15si4_row, "source_id": "half-li", "cif": str(CifWriter(disordered))},
    ]
    csv_path = write_rows(rows, tmp_path / "subset.csv.gz")
    dumpfn([li15si4()], tmp_path / "published.json")
    sources = [
        LocalFileSource(str(csv_path), name="mp2018"),
        LocalFileSource(str(tmp_path / "published.json"), name="published"),
    ]
    harvest = HarvestMaker(min_capacity=3500).make(sources)
    screen = ScreeningMaker(
        min_capacity=3500,
        channel_maker=ChannelStabilityMaker(
            n_configs=3, relax_maker=quick_relax_maker, fit_unconverged=True
        ),
    ).make(harvest.output.candidates)
    run_locally(Flow([harvest, screen]), store=memory_store, ensure_success=True, log=False)

    document = harvest.output.resolve(memory_store)
    (candidate,) = document.candidates
    assert document.n_duplicates_merged == 1
    assert [p.source for p in candidate.provenance] == ["materials_project", "file"]
    stages = {s.stage: s for s in document.stages}
    assert stages["parse"].n_dropped == 1 and document.failures[0].step == "read"
    assert stages["ordered"].reasons == {"disordered (partial occupancies)": 1}
    (fit,) = screen.output.resolve(memory_store)
    assert fit.candidate_id == candidate.candidate_id == "materials_project:mp-569849"
    assert fit.n_configs == 3


def test_li_si_database_series(shared_data, memory_store):
    """The paper's Figure 2 from the database structures: a positive, significant slope."""
    sources = [LocalFileSource(str(p), name=p.name) for p in sorted(shared_data.glob("*.csv.gz"))]
    flow = DatabaseSeriesMaker(chemsys="Li-Si").make(sources)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    series = flow.output.resolve(memory_store)
    assert series.n_structures >= 14
    assert {p.formula for p in series.points} >= {"Si", "LiSi", "Li15Si4", "Li22Si5"}
    assert series.slope > 0 and series.slope > 2 * series.slope_err
    assert series.pearson_r > 0.5 and series.pearson_p < 0.01
    assert series.spearman_rho > 0.5 and series.spearman_p < 0.01
    assert max(p.lithiation for p in series.points) == pytest.approx(1.0)
    assert min(p.lithiation for p in series.points) == 0.0


def test_harvested_candidates_and_failures_are_queryable(shared_data, memory_store, monkeypatch):
    from sianode_flows.results import candidate_documents, failure_documents

    monkeypatch.delenv("MP_API_KEY", raising=False)
    monkeypatch.delenv("PMG_MAPI_KEY", raising=False)
    source = LocalFileSource(str(shared_data / "gnome_li_or_si.csv.gz"), name="gnome")
    flow = HarvestMaker().make([MaterialsProjectSource(), source])
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    harvest = flow.output.resolve(memory_store)
    found = candidate_documents(memory_store)
    assert len(found) == len(harvest.candidates) + len(harvest.below_threshold) > 0
    assert [f.input for f in failure_documents(memory_store)] == ["source mp"]
