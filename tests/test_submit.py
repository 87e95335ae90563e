"""Submit to a FireWorks launchpad, run with FireWorks' own rlaunch in another process.

Two launchpads: one persisted to a file (no server; always run) and a real MongoDB
(when ``SIANODE_TEST_MONGO_URI`` is set). Workers run with ``OMP_NUM_THREADS=1``: on
a busy 2-core machine torch's OpenMP threads spin against other processes (a 5-step
CHGNet relax of 38 atoms took 52 s with 2 threads, 3 s with one, measured here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bson import json_util
from jobflow import run_locally
from monty.serialization import dumpfn
from typer.testing import CliRunner

from sianode_flows.builtin import builtin_records, li15si4, substituted
from sianode_flows.cli.main import app
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.results import fit_documents, query_candidates
from sianode_flows.stores import build_job_store

MONGO_URI = os.environ.get("SIANODE_TEST_MONGO_URI")
MONGO_SKIP = "set SIANODE_TEST_MONGO_URI to run the launchpad tests against MongoDB"
RELAX_STEPS = 5
RLAUNCH = shutil.which("rlaunch", path=str(Path(sys.executable).parent)) or "rlaunch"


@dataclass
class Backend:
    """Where the launchpad and the job store of one test live."""

    kind: str
    launchpad_args: list[str]
    location: str
    env: dict[str, str] = field(default_factory=dict)
    launchpad_file: Path | None = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``sianode`` in a fresh process."""
        done = subprocess.run(
            [sys.executable, "-m", "sianode_flows.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, done.stderr[-3000:]
        return done

    def submit(self, *args: str) -> dict:
        done = self.cli("submit", *self.launchpad_args, "--json", *args)
        return json.loads(done.stdout)

    def worker(self, log: Path) -> subprocess.Popen:
        """Start ``rlaunch rapidfire`` (FireWorks' rocket launcher) in a new process."""
        lpad = [] if self.kind == "file" else ["-l", self.launchpad_args[1]]
        return subprocess.Popen(
            [RLAUNCH, *lpad, "rapidfire"],
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def states(self) -> list[str]:
        """Return the state of every firework in the launchpad."""
        if self.kind == "file":
            database = json_util.loads(self.launchpad_file.read_text())["fireworks"]
            return [doc["state"] for _, doc in database["fireworks"]["documents"]]
        from fireworks import LaunchPad

        launchpad = LaunchPad.from_file(self.launchpad_args[1])
        return [doc["state"] for doc in launchpad.fireworks.find({}, {"state": 1})]


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MONGOMOCK_SERVERSTORE_FILE"}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(params=["file", "mongo"])
def backend(request, tmp_path, monkeypatch):
    """A file launchpad with the embedded store, or MongoDB for both."""
    if request.param == "file":
        launchpad_file = tmp_path / "launchpad.json"
        env = worker_env() | {"MONGOMOCK_SERVERSTORE_FILE": str(launchpad_file)}
        yield Backend(
            "file", ["--local", str(launchpad_file)], str(tmp_path / "store"), env, launchpad_file
        )
        return
    if not MONGO_URI:
        pytest.skip(MONGO_SKIP)
    from pymongo import MongoClient

    name = f"sianode_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SIANODE_MONGO_DATABASE", name)
    lpad_yaml = tmp_path / "my_launchpad.yaml"
    dumpfn({"host": MONGO_URI, "uri_mode": True, "name": f"{name}_fw"}, lpad_yaml)
    try:
        yield Backend("mongo", ["--launchpad", str(lpad_yaml)], MONGO_URI, worker_env())
    finally:
        client = MongoClient(MONGO_URI)
        client.drop_database(name)
        client.drop_database(f"{name}_fw")


def test_submitted_screening_runs_with_rlaunch_like_run_locally(
    backend, tmp_path, memory_store, one_thread
):
    args = ["--store", backend.location, "--configs", "3", "--steps", str(RELAX_STEPS)]
    args += ["--keep-unconverged"]
    args += ["--min-capacity", "3500"]  # the built-in Li15Si4 only
    submission = backend.submit(*args)
    assert submission["added"] and len(submission["fw_ids"]) == 2

    worker = backend.worker(tmp_path / "worker.log")
    assert worker.wait(timeout=600) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    states = backend.states()
    # candidates, screen, delithiate, configurations, one batched relax, 3 channels, fit,
    # and the job that hands the configurations job's output (the fit) on; the screen's
    # output is the references to the fits, given in its response
    assert len(states) == 10 and set(states) == {"COMPLETED"}

    # the same screening, run in this process
    maker = ScreeningMaker(
        min_capacity=3500,
        channel_maker=ChannelStabilityMaker(
            n_configs=3,
            relax_maker=default_relax_maker(steps=RELAX_STEPS),
            fit_unconverged=True,
        ),
    )
    flow = maker.make(builtin_records())
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    [expected] = flow.output.resolve(memory_store)

    job_store = build_job_store(backend.location)
    job_store.connect()
    [fit] = fit_documents(job_store)
    assert fit.run_key == expected.run_key
    assert [(p.config_index, p.soc) for p in fit.points] == [
        (p.config_index, p.soc) for p in expected.points
    ]
    assert [p.r_t for p in fit.points] == pytest.approx([p.r_t for p in expected.points], abs=1e-6)
    for name in ("slope", "slope_err", "pearson_r", "spearman_rho", "r_t_charged"):
        assert getattr(fit, name) == pytest.approx(getattr(expected, name), abs=1e-6), name
    assert fit.capacity_mAh_g == pytest.approx(3578.6, abs=0.1)
    # relaxed structures went to the data store
    channels = list(job_store.docs_store.query({"output.@class": "ChannelDocument"}))
    blobs = [c["output"]["structure"]["blob_uuid"] for c in channels]
    assert len(blobs) == 3
    assert job_store.additional_stores["data"].count({"blob_uuid": {"$in": blobs}}) == 3

    # the builder summarizes it, and the query API finds it
    [summary] = query_candidates(backend.location, min_capacity=3500, elements=["Si"])
    assert summary.candidate_id == fit.candidate_id == "builtin:Li15Si4"
    assert summary.slope == pytest.approx(fit.slope, abs=1e-12)
    assert summary.verdict == fit.verdict and summary.n_configs == 3
    assert summary.provenance[0].source == "builtin"
    assert query_candidates(backend.location, build=False, elements=["Ge"]) == []

    result = CliRunner().invoke(app, ["results", "--store", backend.location, "--json"])
    rows = json.loads(result.stdout)
    assert [r["candidate_id"] for r in rows] == ["builtin:Li15Si4"]
    assert rows[0]["slope"] == pytest.approx(fit.slope, abs=1e-12)


def count(store, criteria) -> int:
    for _ in range(50):  # the worker may hold the database for a moment
        try:
            return store.docs_store.count(criteria)
        except Exception:
            time.sleep(0.1)
    raise AssertionError("the store stayed locked")


FIT = {"output.@class": "SlopeFitDocument"}


def relax_count(store, candidate_id) -> int:
    return count(store, {"name": {"$regex": "relax"}, "metadata.candidate_id": candidate_id})


def test_killed_worker_loses_no_finished_fit_and_a_rerun_completes(backend, tmp_path):
    host = li15si4()
    dumpfn([host, substituted(host, "Ge")], tmp_path / "inputs.json")
    args = ["--input", str(tmp_path / "inputs.json"), "--store", backend.location]
    # one flow per candidate (no reference: rounds of all candidates would finish the
    # relaxations of both before the first fit), so that a kill falls between the two
    args += ["--reference", "none"]
    backend.submit(*args, "--configs", "3", "--steps", str(RELAX_STEPS), "--keep-unconverged")
    submitted = backend.launchpad_file.read_bytes() if backend.launchpad_file else None

    store = build_job_store(backend.location)
    store.connect()
    worker = backend.worker(tmp_path / "worker1.log")
    deadline = time.monotonic() + 300
    while count(store, FIT) == 0:
        assert worker.poll() is None, "the worker ended before any fit"
        assert time.monotonic() < deadline, "no fit within 300 s"
        time.sleep(0.2)
    worker.send_signal(signal.SIGKILL)
    assert worker.wait(timeout=60) == -signal.SIGKILL

    # what the worker finished is in the store; the other candidate is not fitted
    [done] = fit_documents(store)
    assert count(store, FIT) == 1
    relaxed = relax_count(store, done.candidate_id)
    assert relaxed == 1  # its three configurations, relaxed in one batched job
    if backend.kind == "file":
        # SIGKILL wrote nothing back: the launchpad is as submitted
        assert backend.launchpad_file.read_bytes() == submitted
    else:
        from fireworks import LaunchPad

        launchpad = LaunchPad.from_file(backend.launchpad_args[1])
        # the firework it was running (none if it was killed between two)
        _, lost_fw_ids, _ = launchpad.detect_lostruns(expiration_secs=0, rerun=True)
        assert len(lost_fw_ids) <= 1

    worker = backend.worker(tmp_path / "worker2.log")
    assert worker.wait(timeout=600) == 0, (tmp_path / "worker2.log").read_text()[-3000:]
    assert set(backend.states()) == {"COMPLETED"}

    fits = {f.candidate_id: f for f in fit_documents(store)}
    assert len(fits) == 2 and all(f.n_configs == 3 for f in fits.values())
    # the finished candidate was not relaxed again; its fit is the same
    assert relax_count(store, done.candidate_id) == relaxed
    assert fits[done.candidate_id].slope == done.slope
    (other,) = set(fits) - {done.candidate_id}
    assert relax_count(store, other) >= 1

    # one summary per candidate, however many times it was run
    summaries = query_candidates(backend.location)
    assert sorted(s.candidate_id for s in summaries) == sorted(fits)
    summary = next(s for s in summaries if s.candidate_id == done.candidate_id)
    assert len(summary.run_keys) == 1 and summary.slope == done.slope


def test_workers_write_to_the_store_of_their_jobflow_yaml(tmp_path):
    """Submitted without a store, a workflow's outputs go where the worker's config says."""
    from pymatgen.core import Lattice, Structure

    silicon = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    silicon.to(filename=str(tmp_path / "Si.cif"))
    launchpad_file = tmp_path / "launchpad.json"
    env = worker_env() | {"MONGOMOCK_SERVERSTORE_FILE": str(launchpad_file)}
    backend = Backend("file", ["--local", str(launchpad_file)], "", env, launchpad_file)
    submission = backend.submit("--input", str(tmp_path / "Si.cif"), "--worker-store")
    assert submission["added"] and submission["store"] is None
    # submitting the same thing again adds nothing
    again = backend.submit("--input", str(tmp_path / "Si.cif"), "--worker-store")
    assert not again["added"] and again["fw_ids"] == submission["fw_ids"]

    folder = tmp_path / "worker_store"
    spec = {
        "type": "MontyStore",
        "database_path": str(folder),
        "database_name": "sianode",
        "storage": "sqlite",
    }
    dumpfn(
        {
            "JOB_STORE": {
                "docs_store": {**spec, "collection_name": "outputs"},
                "additional_stores": {"data": {**spec, "collection_name": "outputs_blobs"}},
            }
        },
        tmp_path / "jobflow.yaml",
    )
    backend.env["JOBFLOW_CONFIG_FILE"] = str(tmp_path / "jobflow.yaml")
    worker = backend.worker(tmp_path / "worker.log")
    assert worker.wait(timeout=300) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert set(backend.states()) == {"COMPLETED"}

    store = build_job_store(str(folder))
    store.connect()
    selection = store.query_one({"output.@class": "CandidateSelectionDocument"}, load=True)
    failures = selection["output"]["failures"]
    assert [(f["input"], f["step"]) for f in failures] == [("file:Si", "validate")]
