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


def write_many(folder: str, worker: int, n: int, start_at: float) -> int:
    """Open a fresh embedded store at a given moment and write n documents; count errors."""
    import time

    while time.time() < start_at:
        time.sleep(0.001)
    store = build_job_store(folder)
    store.connect()
    errors = 0
    for index in range(n):
        try:
            document = {"uuid": f"{worker}-{index}", "index": 1, "output": index}
            store.docs_store.update(document, key=["uuid", "index"])
        except Exception:  # counted: the test says how many writes raised
            errors += 1
    return errors


def test_concurrent_writers_lose_nothing(tmp_path):
    import multiprocessing
    import time

    folder = str(tmp_path / "shared_store")  # fresh: no table exists yet
    start_at = time.time() + 4.0  # every worker opens the store at the same moment
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        errors = pool.starmap(write_many, [(folder, w, 300, start_at) for w in range(3)])
    store = build_job_store(folder)
    store.connect()
    assert errors == [0, 0, 0]
    assert store.docs_store.count() == 900
    assert {d["uuid"] for d in store.docs_store.query({}, properties=["uuid"])} == {
        f"{w}-{i}" for w in range(3) for i in range(300)
    }


def test_a_writer_that_cannot_write_says_so(tmp_path):
    from filelock import FileLock

    from sianode_flows.stores import LockedMontyStore, StoreBusyError

    store = build_job_store(str(tmp_path / "store")).docs_store
    assert isinstance(store, LockedMontyStore)
    store.connect()
    store.lock_timeout = 0.2
    with FileLock(str(store.lock_path)), pytest.raises(StoreBusyError, match=r"more than 0\.2 s"):
        store.update({"uuid": "a", "index": 1}, key=["uuid", "index"])
    store.update({"uuid": "a", "index": 1}, key=["uuid", "index"])  # free again: written
    assert store.count() == 1
    # the store still serializes and deserializes (FireWorks sends it as a dict)
    from monty.json import MontyDecoder

    copy = MontyDecoder().process_decoded(store.as_dict())
    assert isinstance(copy, LockedMontyStore) and copy.lock_timeout == 0.2


def test_many_blobs_by_uuid_read_back_as_montydb_answers(tmp_path):
    """jobflow's ``$in`` query for an output's blobs: one scan, same answer."""
    store = build_job_store(str(tmp_path / "store"))
    store.connect()
    data = store.additional_stores["data"]
    data.update(
        [{"blob_uuid": f"b{i}", "data": {"n": i}, "extra": i} for i in range(60)], key="blob_uuid"
    )
    asked = [f"b{i}" for i in range(0, 60, 2)] + ["missing"]
    found = list(data.query({"blob_uuid": {"$in": asked}}, properties=["data"]))
    assert sorted(doc["data"]["n"] for doc in found) == list(range(0, 60, 2))
    assert all(set(doc) <= {"_id", "data"} for doc in found)
    plain = MontyStore.query(data, {"blob_uuid": {"$in": asked}}, properties=["blob_uuid"])
    fast = data.query({"blob_uuid": {"$in": asked}}, properties=["blob_uuid"])
    assert sorted(d["blob_uuid"] for d in fast) == sorted(d["blob_uuid"] for d in plain)
    # a few uuids, other criteria: MontyDB's own query
    assert [d["extra"] for d in data.query({"blob_uuid": {"$in": ["b3"]}})] == [3]
