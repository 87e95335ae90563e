"""Queries: filtered candidate summaries from the Python API and ``sianode results``."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from sianode_flows.cli.main import app
from sianode_flows.results import (
    SUMMARY_FIELDS,
    candidate_documents,
    failure_documents,
    fit_documents,
    query_candidates,
    rank,
    summary_criteria,
)
from sianode_flows.schemas import CandidateSummaryDocument
from sianode_flows.stores import build_job_store
from tests.builders.screened import LI15SI4, LI30SI7GE, screened_copy


@pytest.fixture
def location(tmp_path, tmp_path_factory) -> str:
    return screened_copy(tmp_path_factory.getbasetemp(), tmp_path / "store")


def test_criteria_of_the_filters():
    assert summary_criteria() == {"state": "successful"}
    assert summary_criteria(
        min_capacity=2000, max_slope=-0.5, elements=["Si", "Ge", "Si"], source="mp"
    ) == {
        "state": "successful",
        "capacity_mAh_g": {"$gte": 2000},
        "slope": {"$gte": -0.5, "$lte": 0.5},
        "elements": {"$all": ["Ge", "Si"]},
        "provenance.source": "mp",
    }


def test_query_candidates_filters_the_summaries(location):
    found = query_candidates(location)
    assert all(isinstance(s, CandidateSummaryDocument) for s in found)
    assert found == rank(found) and len(found) == 2
    by_id = {s.candidate_id: s for s in found}
    assert [s.candidate_id for s in query_candidates(location, min_capacity=3500)] == [LI15SI4]
    assert [s.candidate_id for s in query_candidates(location, elements=["Ge"])] == [LI30SI7GE]
    assert len(query_candidates(location, source="builtin")) == 2
    assert query_candidates(location, source="mp") == []
    flattest = min(found, key=lambda s: abs(s.slope))
    steepest = max(found, key=lambda s: abs(s.slope))
    kept = query_candidates(location, max_slope=(abs(flattest.slope) + abs(steepest.slope)) / 2)
    assert [s.candidate_id for s in kept] == [flattest.candidate_id]
    # Li15Si4 is the reference of the screen; three configurations give Li30Si7Ge no verdict
    assert by_id[LI15SI4].shown_verdict == "reference"
    assert [s.candidate_id for s in query_candidates(location, verdict="reference")] == [LI15SI4]
    assert by_id[LI30SI7GE].relative_verdict == "insufficient-data"
    assert [s.candidate_id for s in query_candidates(location, verdict="insufficient-data")] == [
        LI30SI7GE
    ]
    assert query_candidates(location, verdict="lower") == []

    # the job-store readers still work beside the summaries
    job_store = build_job_store(location)
    job_store.connect()
    fits = fit_documents(job_store)
    assert {f.candidate_id: f.slope for f in fits} == {k: s.slope for k, s in by_id.items()}
    assert len(candidate_documents(job_store)) == 2
    assert {f.input for f in failure_documents(job_store)} == {"file:broken.cif", "test:no-li"}


def test_results_command_filters_and_formats(location):
    runner = CliRunner()
    rows = json.loads(runner.invoke(app, ["results", "--store", location, "--json"]).stdout)
    assert [list(r) for r in rows] == [list(SUMMARY_FIELDS)] * 2
    assert {r["candidate_id"] for r in rows} == {LI15SI4, LI30SI7GE}

    args = ["results", "--store", location, "--format", "csv", "--min-capacity", "3500"]
    table = list(csv.DictReader(io.StringIO(runner.invoke(app, args).stdout)))
    assert [r["candidate_id"] for r in table] == [LI15SI4]
    assert float(table[0]["slope"]) == pytest.approx(
        rows[0 if rows[0]["candidate_id"] == LI15SI4 else 1]["slope"]
    )

    args = ["results", "--store", location, "--elements", "Ge,Si", "--source", "builtin"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Li30Si7Ge" in result.stdout and "Li15Si4" not in result.stdout
    result = runner.invoke(app, ["results", "--store", location, "--source", "mp"])
    assert "no candidate matches" in result.stdout
