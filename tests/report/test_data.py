"""What a report reads from a store."""

from sianode_flows.report.data import (
    BELOW_CAPACITY,
    NOT_SCREENED,
    gather,
    generation_data,
    series_documents,
)
from sianode_flows.results import candidate_documents, failure_documents, fit_documents
from tests.report.conftest import store_documents


def test_gather_reads_a_screening_store(screened_store):
    data = gather(screened_store, "here")
    assert data.location == "here" and not data.is_empty
    assert [f.formula for f in data.fits] != []
    assert {f.candidate_id for f in data.fits} == {
        f.candidate_id for f in fit_documents(screened_store)
    }
    assert len(data.candidates) == len(candidate_documents(screened_store)) == 2
    assert data.candidates[0].capacity_mAh_g >= data.candidates[1].capacity_mAh_g
    assert [f.input for f in data.failures] == [f.input for f in failure_documents(screened_store)]
    assert [f.input for f in data.failures] == ["test:no-li"]
    assert data.series == [] and data.generation.is_empty
    verdicts = {f.candidate_id: f.shown_verdict for f in data.fits}
    assert data.status(1500) == verdicts
    # an unfitted candidate is below the capacity line or not screened yet
    data.fits = []
    assert set(data.status(3000).values()) == {BELOW_CAPACITY, NOT_SCREENED}
    assert data.candidate("builtin:Li15Si4").formula == "Li15Si4"
    assert data.candidate("nowhere") is None


def test_series_documents_newest_per_chemical_system(memory_store, series_document):
    older = series_document.model_copy(update={"n_failed": 3})
    newer = series_document.model_copy(
        update={"created_at": series_document.created_at.replace(year=2100)}
    )
    other = series_document.model_copy(update={"chemsys": "Ge-Li-Si"})
    store_documents(memory_store, older, newer, other)
    found = series_documents(memory_store)
    assert [s.chemsys for s in found] == ["Ge-Li-Si", "Li-Si"]
    assert found[1].created_at.year == 2100 and found[1].n_failed == 0
    assert found[1].slope == series_document.slope


def test_a_store_without_generation_documents_has_no_generation_data(screened_store, memory_store):
    for store in (screened_store, memory_store):
        generation = generation_data(store)
        assert generation.is_empty
        assert (generation.samples, generation.metrics, generation.sweeps) == ([], [], [])
