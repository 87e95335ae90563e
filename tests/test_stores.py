import os

import pytest
from jobflow import job, run_locally
from maggma.stores import MontyStore

from sianode_flows.stores import build_job_store, is_mongo_uri


@job
def double(value):
    return {"value": 2 * value}


def test_embedded_store_persists_on_disk(tmp_path):
    location = tmp_path / "store"
    store = build_job_store(str(location))
    assert isinstance(store.docs_store, MontyStore)
    assert isinstance(store.additional_stores["data"], MontyStore)
    flow = double(21)
    run_locally(flow, store=store, log=False, ensure_success=True)
    reopened = build_job_store(str(location))
    reopened.connect()
    assert reopened.get_output(flow.uuid) == {"value": 42}
    assert (location / "sianode").is_dir()


def test_default_location_comes_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("SIANODE_STORE", str(tmp_path / "elsewhere"))
    store = build_job_store()
    store.connect()
    assert (tmp_path / "elsewhere").is_dir()


def test_uri_detection():
    assert is_mongo_uri("mongodb://localhost:27017")
    assert is_mongo_uri("mongodb+srv://cluster.example/db")
    assert not is_mongo_uri("sianode_data")


MONGO_URI = os.environ.get("SIANODE_TEST_MONGO_URI")


@pytest.mark.skipif(not MONGO_URI, reason="set SIANODE_TEST_MONGO_URI to test against MongoDB")
def test_mongodb_store_round_trip():
    store = build_job_store(MONGO_URI, database="sianode_test")
    flow = double(5)
    run_locally(flow, store=store, log=False, ensure_success=True)
    store.connect()
    assert store.get_output(flow.uuid) == {"value": 10}
    store.remove_docs({"uuid": flow.uuid})
