"""The failures builder: nested and job failures, one document each, incremental."""

from jobflow import run_locally
from maggma.cli.serial import serial

from sianode_flows.builders import FailureBuilder, failures_store
from sianode_flows.jobs.channel import measure_channel
from sianode_flows.jobs.delithiate import configurations_of
from sianode_flows.results import candidate_documents
from sianode_flows.schemas import FailureDocument
from sianode_flows.stores import DOCS_COLLECTION, build_job_store, build_store
from tests.builders.screened import LI15SI4, channel_maker


def build(location) -> int:
    builder = FailureBuilder(build_store(location, DOCS_COLLECTION), failures_store(location))
    serial(builder, no_bars=True)
    return builder.total


def test_failures_of_selections_and_jobs_become_one_document_each(location):
    # a configuration whose relax produced nothing: the channel job records the failure
    job_store = build_job_store(location)
    job_store.connect()
    (candidate,) = [c for c in candidate_documents(job_store) if c.candidate_id == LI15SI4]
    configuration = configurations_of(candidate, channel_maker().protocol)[1]
    run_locally(measure_channel(None, configuration), store=job_store, log=False)

    assert build(location) == 2  # the selection and the channel job
    store = failures_store(location)
    store.connect()
    docs = sorted(store.query({}), key=lambda d: d["failure_id"])
    assert len(docs) == 3
    by_input = {d["input"]: d for d in docs}
    assert by_input["file:broken.cif"]["step"] == "read"
    assert by_input["test:no-li"]["step"] == "validate"
    relax = by_input[f"{LI15SI4} config {configuration.config_index}"]
    assert (relax["step"], relax["job_name"]) == ("relax", "channel")
    assert relax["candidate_id"] == LI15SI4 and relax["soc"] == configuration.soc
    assert all(d["failure_id"].startswith(d["source_key"]) for d in docs)
    fields = FailureDocument.model_fields
    parsed = [FailureDocument(**{k: v for k, v in d.items() if k in fields}) for d in docs]
    assert {f.step for f in parsed} == {"read", "validate", "relax"}

    assert build(location) == 0
    assert store.count() == 3
