"""The candidate-summary builder: values from the fits, incremental, runnable by mrun."""

import json
import logging
from datetime import datetime

import click.testing
import pytest
from jobflow import run_locally
from maggma.cli import run as mrun
from maggma.cli.serial import serial
from monty.serialization import dumpfn, loadfn
from typer.testing import CliRunner

from sianode_flows.builders import (
    CandidateSummaryBuilder,
    failures_store,
    summary_builders,
    summary_store,
)
from sianode_flows.cli.main import app
from sianode_flows.results import candidate_documents, fit_documents, summary_documents
from sianode_flows.stores import build_job_store
from tests.builders.screened import LI15SI4, LI30SI7GE, channel_maker


def build(location) -> int:
    """Run a fresh candidate builder, as `mrun` would; return how many it (re)built."""
    builder = summary_builders(location)[0]
    serial(builder, no_bars=True)
    return builder.total


def summaries(location) -> dict:
    store = summary_store(location)
    store.connect()
    return {doc["candidate_id"]: doc for doc in store.query({})}


def test_one_summary_per_candidate_holds_its_fit_and_provenance(location):
    assert build(location) == 2
    job_store = build_job_store(location)
    job_store.connect()
    fits = {f.candidate_id: f for f in fit_documents(job_store)}
    candidates = {c.candidate_id: c for c in candidate_documents(job_store)}
    store = summary_store(location)
    store.connect()
    found = {s.candidate_id: s for s in summary_documents(store)}
    assert set(found) == set(fits) == {LI15SI4, LI30SI7GE}
    for candidate_id, summary in found.items():
        fit = fits[candidate_id]
        for name in (
            "formula",
            "capacity_mAh_g",
            "r_t_charged",
            "slope",
            "slope_err",
            "pearson_r",
            "pearson_p",
            "spearman_rho",
            "n_configs",
            "n_failed",
            "verdict",
            "run_key",
            "relax_maker",
        ):
            assert getattr(summary, name) == getattr(fit, name), name
        assert summary.slope is not None and summary.n_configs == 3
        # provenance: the candidate it came from, and the job that fitted it
        candidate = candidates[candidate_id]
        assert summary.provenance == candidate.provenance
        assert (summary.nsites, summary.host_formula) == (38, candidate.host_formula)
        assert job_store.query_one({"uuid": summary.fit_uuid})["output"]["run_key"] == fit.run_key
        assert summary.n_fits == 1 and summary.run_keys == [fit.run_key]
    assert found[LI30SI7GE].elements == ["Ge", "Li", "Si"]
    assert found[LI30SI7GE].chemsys == "Ge-Li-Si"
    assert found[LI15SI4].capacity_mAh_g == pytest.approx(3578.6, abs=0.1)


def test_rebuilds_only_candidates_with_new_or_changed_outputs(location):
    assert build(location) == 2
    before = summaries(location)
    assert build(location) == 0
    assert summaries(location) == before

    # resubmitting Li15Si4 with the same settings relaxes nothing and adds one fit output
    job_store = build_job_store(location)
    job_store.connect()
    relaxes = job_store.count({"name": {"$regex": "^relax"}})
    candidate = next(c for c in candidate_documents(job_store) if c.candidate_id == LI15SI4)
    run_locally(channel_maker().make(candidate), store=job_store, ensure_success=True, log=False)
    assert job_store.count({"name": {"$regex": "^relax"}}) == relaxes
    assert build(location) == 1
    after = summaries(location)
    assert after[LI30SI7GE] == before[LI30SI7GE]
    assert after[LI15SI4]["created_at"] > before[LI15SI4]["created_at"]
    assert after[LI15SI4]["n_fits"] == 2 and len(after[LI15SI4]["run_keys"]) == 1
    assert after[LI15SI4]["slope"] == before[LI15SI4]["slope"]

    # an output stored again (as a rerun of its firework does) is rebuilt
    docs = job_store.docs_store
    fit = docs.query_one({"output.@class": "SlopeFitDocument", "output.candidate_id": LI30SI7GE})
    fit.pop("_id")
    docs.update([{**fit, "completed_at": datetime.now().isoformat()}], key=["uuid", "index"])
    assert build(location) == 1
    assert len(summaries(location)) == 2


def test_an_unreadable_fit_is_recorded_as_failed_and_the_rest_is_built(location):
    job_store = build_job_store(location)
    job_store.connect()
    broken = {"@module": "sianode_flows.schemas.fit", "@class": "SlopeFitDocument"}
    job_store.docs_store.update(
        [
            {
                "uuid": "not-a-fit",
                "index": 1,
                "completed_at": datetime.now().isoformat(),
                "output": {**broken, "candidate_id": "test:broken"},
            }
        ],
        key=["uuid", "index"],
    )
    assert build(location) == 3
    docs = summaries(location)
    assert docs["test:broken"]["state"] == "failed"
    assert "validation error" in docs["test:broken"]["error"]
    store = summary_store(location)
    store.connect()
    assert {s.candidate_id for s in summary_documents(store)} == {LI15SI4, LI30SI7GE}
    assert build(location) == 0  # not retried until its output changes


def test_serialized_builders_run_with_mrun_and_the_cli(location, tmp_path):
    path = tmp_path / "builders.json"
    dumpfn(summary_builders(location), path)
    loaded = loadfn(path)
    assert isinstance(loaded[0], CandidateSummaryBuilder)
    assert loaded[0].source.collection_name == "outputs"
    assert (loaded[0].query, loaded[0].chunk_size) == (None, 100)

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        result = click.testing.CliRunner().invoke(mrun, [str(path), "--no_bars"])
    finally:
        root.handlers[:], root.level = handlers, level
    assert result.exit_code == 0, result.output
    assert len(summaries(location)) == 2
    failures = failures_store(location)
    failures.connect()
    assert failures.count() == 2

    saved = tmp_path / "saved.json"
    runner = CliRunner()
    assert runner.invoke(app, ["build", "--store", location, "--save", str(saved)]).exit_code == 0
    assert loadfn(saved)[0].as_dict() == loaded[0].as_dict()
    assert runner.invoke(app, ["build", "--store", location]).exit_code == 0
    assert len(summaries(location)) == 2


def test_a_second_potential_gets_its_own_summary(location):
    """A SevenNet fit of a candidate sits beside its CHGNet fit; neither replaces the other."""
    from sianode_flows.results import query_candidates

    assert build(location) == 2
    job_store = build_job_store(location)
    job_store.connect()
    docs = job_store.docs_store
    fit = docs.query_one({"output.@class": "SlopeFitDocument", "output.candidate_id": LI15SI4})
    fit.pop("_id")
    second = {
        **fit["output"],
        "potential": "SevenNet",
        "relax_maker": "BatchedRelaxMaker(SevenNet)",
        "slope": fit["output"]["slope"] + 1.0,
    }
    docs.update(
        [
            {
                **fit,
                "uuid": "sevennet-fit",
                "output": second,
                "completed_at": datetime.now().isoformat(),
            }
        ],
        key=["uuid", "index"],
    )
    assert build(location) == 1
    store = summary_store(location)
    store.connect()
    ids = sorted(doc["summary_id"] for doc in store.query({"candidate_id": LI15SI4}))
    assert ids == [f"{LI15SI4}|CHGNet|torch-sim", f"{LI15SI4}|SevenNet|torch-sim"]

    chgnet = query_candidates(location, build=False, potential="chgnet")
    assert {s.candidate_id for s in chgnet} == {LI15SI4, LI30SI7GE}
    assert next(s for s in chgnet if s.candidate_id == LI15SI4).slope == fit["output"]["slope"]
    [sevennet] = query_candidates(location, build=False, potential="SevenNet")
    assert sevennet.slope == pytest.approx(fit["output"]["slope"] + 1.0)
    assert len(query_candidates(location, build=False)) == 3

    runner = CliRunner()
    shown = runner.invoke(app, ["results", "--store", str(location), "--json", "--no-build"])
    assert [row["potential"] for row in json.loads(shown.stdout)] == ["CHGNet"] * 2
    every = runner.invoke(
        app, ["results", "--store", str(location), "--json", "--no-build", "--potential", "all"]
    )
    assert len(json.loads(every.stdout)) == 3
