"""The screening flow survives jobflow-remote's serialization and runs from it.

jobflow-remote (``jf``) never runs the Flow object a user builds. What it does, read
in jobflow-remote 1.0.1:

- ``submit_flow`` -> ``JobController.add_flow`` stores every job of ``get_flow(flow)``
  in its MongoDB queue as ``jsanitize(job, strict=True, allow_bson=True)``
  (``JobDoc.as_db_dict``, ``jobflow_remote/jobs/data.py``), with its parents' uuids;
- the runner resolves the job's references against the JobStore on that raw dict
  (``resolve_job_dict_args``, ``jobflow_remote/remote/data.py``) and writes it with an
  *empty per-job* JobStore to ``jfremote_in.json`` (``get_remote_in_file``: jsanitize,
  then orjson);
- the worker rebuilds job and store with ``monty.serialization.loadfn`` (MontyDecoder)
  and calls ``job.run(store=store)`` (``run_remote_job``, ``jobflow_remote/jobs/run.py``);
  replace/addition/detour responses become Flows (``get_flow``) and are dumped with
  ``dumpfn`` (MontyEncoder) to ``jfremote_out.json``;
- the runner copies the per-job store into the JobStore (``update_store``), reads the
  response without decoding it (``loadfn(..., cls=None)``), rebuilds the new Flow's
  jobs without decoding their functions and arguments and stores each one like the
  submitted ones (``JobController._append_flow``, ``jobs/jobcontroller.py``); a waiting
  job becomes ready when the last index of each parent uuid is completed
  (``refresh_children``).

These tests do the same without MongoDB or ``jf``: a JSON round trip of the flow, a run
of the deserialized flow, and a small queue that runs every job, the dynamic ones
included, from its own JSON document and an empty store of its own. Where jobflow-remote
is installed, the same queue also runs with jobflow-remote's own functions.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from contextlib import chdir
from pathlib import Path
from typing import Any

import orjson
import pytest
from jobflow import Flow, Job, JobStore, OnMissing, Response, run_locally
from jobflow.core.flow import get_flow
from jobflow.core.reference import find_and_resolve_references
from maggma.stores import MemoryStore
from monty.json import MontyDecoder, MontyEncoder, jsanitize

from sianode_flows.builtin import builtin_records
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.schemas import SlopeFitDocument
from sianode_flows.stores import build_job_store
from tests.conftest import TEST_RELAX_STEPS

N_CONFIGS = 3


def screening_flow(n_candidates: int = 1, **options: Any) -> Flow:
    """The real screening flow: Li30Si7Ge (38 sites) against Li15Si4, 3 configurations.

    The default screen compares with the built-in Li15Si4, sampled in the same rounds.
    """
    maker = ScreeningMaker(
        channel_maker=ChannelStabilityMaker(
            n_configs=N_CONFIGS,
            relax_maker=default_relax_maker(steps=TEST_RELAX_STEPS),
            fit_unconverged=True,
        ),
        **options,
    )
    return maker.make(builtin_records()[1 : 1 + n_candidates])


def new_store() -> JobStore:
    """A memory JobStore with the ``data`` store the jobs write structures to."""
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    store.connect()
    return store


def queue_round_trip(obj: Any) -> Any:
    """Store as jobflow-remote stores jobs and inputs (jsanitize, orjson), decode as its worker."""
    text = orjson.dumps(
        jsanitize(obj, strict=True, allow_bson=True, enum_values=True), default=float_subclass
    )
    return MontyDecoder().process_decoded(orjson.loads(text))


def dumpfn_round_trip(obj: Any) -> Any:
    """Dump as the worker dumps its response (``dumpfn``), load with MontyDecoder."""
    return MontyDecoder().decode(json.dumps(obj, cls=MontyEncoder))


def float_subclass(obj: Any) -> float:
    """orjson's fallback in jobflow-remote (``default_orjson_serializer``)."""
    if type(obj) is not float and isinstance(obj, float):
        return float(obj)
    raise TypeError


def edges(flow: Flow) -> set[tuple[str, str]]:
    return set(flow.graph.edges)


def parents_of(flow: Flow) -> set[tuple[str, int, tuple[str, ...]]]:
    return {(job.uuid, job.index, tuple(sorted(parents))) for job, parents in flow.iterflow()}


def fits_of(flow: Flow, store: JobStore) -> list[SlopeFitDocument]:
    fits = flow.output.resolve(store)
    assert all(isinstance(fit, SlopeFitDocument) for fit in fits)
    return fits


# --------------------------------------------------------------------------------------
# A small stand-in for jobflow-remote's queue: no MongoDB, the same serialization steps


def partial_flow(flow_dict: dict) -> Flow:
    """Rebuild a Flow dict without decoding job functions or arguments.

    As ``deserialize_partial_flow`` in ``JobController._append_flow``.
    """
    if flow_dict.get("@class") == "Flow":
        init = {
            k: v for k, v in flow_dict.items() if k not in ("@module", "@class", "@version", "job")
        }
        init["jobs"] = [partial_flow(d) for d in flow_dict["jobs"]]
        return Flow(**init)
    init = {k: v for k, v in flow_dict.items() if k not in ("@module", "@class", "@version")}
    init["config"] = MontyDecoder().process_decoded(init["config"])
    return Job(**init)


class PlainWorker:
    """Each step of jobflow-remote redone with jobflow and monty alone."""

    def job_document(self, job: Job) -> dict:
        """The job as stored in the queue database (BSON there, JSON text here)."""
        return orjson.loads(orjson.dumps(jsanitize(job, strict=True, allow_bson=True)))

    def run(self, job_dict: dict, store: JobStore, run_dir: Path) -> tuple[dict | None, str]:
        """Resolve, write the input file, run the job from it, copy the outputs back."""
        config = job_dict["config"]
        if config["resolve_references"]:
            on_missing = OnMissing(config["on_missing_references"])
            cache: dict = {}
            job_dict["function_args"] = tuple(
                find_and_resolve_references(job_dict["function_args"], store, cache, on_missing)
            )
            job_dict["function_kwargs"] = find_and_resolve_references(
                job_dict["function_kwargs"], store, cache, on_missing
            )
        remote = JobStore(
            MemoryStore(), additional_stores={k: MemoryStore() for k in store.additional_stores}
        )
        in_text = orjson.dumps(
            jsanitize(
                {"job": job_dict, "store": remote}, strict=True, allow_bson=True, enum_values=True
            ),
            default=float_subclass,
        )
        run_dir.mkdir(parents=True)
        with chdir(run_dir):
            try:  # as run_remote_job: any error, the response's conversion included, fails the job
                in_data = MontyDecoder().decode(in_text)  # loadfn
                job, job_store = in_data["job"], in_data["store"]
                assert isinstance(job, Job) and not isinstance(job.function, dict)
                job_store.connect()
                response = job.run(store=job_store)
                response.output = None
                for kind in ("addition", "detour", "replace"):
                    if getattr(response, kind):
                        setattr(response, kind, get_flow(getattr(response, kind)))
                out_text = json.dumps({"response": response, "error": None}, cls=MontyEncoder)
            except Exception as exc:
                return None, f"{type(exc).__name__}: {exc}"
        for name, remote_add in job_store.additional_stores.items():
            for doc in remote_add.query():
                doc.pop("_id", None)
                store.additional_stores[name].update(doc, key="blob_uuid")
        (main_doc,) = list(job_store.docs_store.query({}))
        main_doc.pop("_id", None)
        store.docs_store.update(main_doc, key=["uuid", "index"])
        return json.loads(out_text)["response"], ""  # loadfn(..., cls=None)


class JobflowRemoteWorker:
    """The same steps with jobflow-remote's own functions (the worker's ``run_remote_job``)."""

    def __init__(self) -> None:
        jfr = pytest.importorskip("jobflow_remote")
        from jobflow_remote.jobs.data import IN_FILENAME, OUT_FILENAME, get_initial_job_doc_dict
        from jobflow_remote.jobs.run import run_remote_job
        from jobflow_remote.remote import data

        self.version = jfr.__version__
        self.in_file, self.out_file = IN_FILENAME, OUT_FILENAME
        self.initial_doc = get_initial_job_doc_dict
        self.run_remote_job = run_remote_job
        self.data = data

    def job_document(self, job: Job) -> dict:
        doc = self.initial_doc(job, None, "1", "worker", None, None, 0)
        return json.loads(json.dumps(doc["job"]))

    def run(self, job_dict: dict, store: JobStore, run_dir: Path) -> tuple[dict | None, str]:
        from monty.serialization import loadfn

        self.data.resolve_job_dict_args(job_dict, store)
        remote = self.data.get_remote_store(store, run_dir, None)
        run_dir.mkdir(parents=True)
        in_file = self.data.get_remote_in_file(job_dict, remote)
        (run_dir / self.in_file).write_bytes(in_file.getvalue())
        self.run_remote_job(run_dir)
        out = loadfn(run_dir / self.out_file, cls=None)
        if out.get("error"):
            return None, out["error"]
        self.data.update_store(store, self.data.get_remote_store(store, run_dir, None), 1)
        return out["response"], ""


class Queue:
    """Jobs as JSON documents with their parents' uuids, run when their parents are done."""

    def __init__(self, worker: PlainWorker | JobflowRemoteWorker, store: JobStore, base: Path):
        self.worker, self.store, self.base = worker, store, base
        self.docs: list[dict] = []
        self.dynamic: list[str] = []  # names of the jobs added at run time

    def add_flow(self, flow: Flow, default_parents: list[str] | None = None) -> None:
        for job, parents in flow.iterflow():
            self.docs.append(
                {
                    "job": self.worker.job_document(job),
                    "parents": parents or default_parents or [],
                    "state": "WAITING",
                    "error": "",
                }
            )

    def latest(self) -> dict[str, dict]:
        return {d["job"]["uuid"]: d for d in sorted(self.docs, key=lambda d: d["job"]["index"])}

    def ready(self) -> dict | None:
        latest = self.latest()
        for doc in latest.values():
            allowed = {"COMPLETED"}
            if doc["job"]["config"]["on_missing_references"] != OnMissing.ERROR.value:
                allowed.add("FAILED")
            if doc["state"] == "WAITING" and all(
                latest[p]["state"] in allowed for p in doc["parents"]
            ):
                return doc
        return None

    def run(self, max_jobs: int = 200) -> None:
        for _ in range(max_jobs):
            doc = self.ready()
            if doc is None:
                return
            job = doc["job"]
            run_dir = self.base / f"{job['uuid']}_{job['index']}"
            response, doc["error"] = self.worker.run(dict(job), self.store, run_dir)
            doc["state"] = "FAILED" if response is None else "COMPLETED"
            if response is None:
                continue
            assert not response["stop_jobflow"] and not response["stop_children"]
            for kind in ("replace", "addition", "detour"):
                if response[kind] is None:
                    continue
                new_flow = partial_flow(response[kind])
                self.dynamic += [j.name for j, _ in new_flow.iterflow()]
                parents = doc["parents"] if kind == "replace" else [job["uuid"]]
                self.add_flow(new_flow, parents)
                if kind == "detour":
                    leaves = [v for v, d in new_flow.graph.out_degree() if d == 0]
                    for other in self.docs:
                        if job["uuid"] in other["parents"]:
                            other["parents"] += leaves
        raise AssertionError(f"more than {max_jobs} jobs")


def run_queue(
    worker_factory: Callable[[], PlainWorker | JobflowRemoteWorker], flow: Flow, base: Path
) -> tuple[Queue, JobStore]:
    store = build_job_store(str(base / "store"))  # jobflow-remote closes and reopens it
    store.connect()
    queue = Queue(worker_factory(), store, base)
    queue.add_flow(get_flow(flow))
    queue.run()
    store.connect()
    return queue, store


# --------------------------------------------------------------------------------------


class Reference:
    """The original flow run in memory with ``run_locally``, and the flows its jobs replaced."""

    def __init__(self, folder: Path) -> None:
        self.replace_flows: list[Flow] = []
        original_run = Job.run

        def recording_run(job: Job, store: JobStore, job_dir: Path | None = None) -> Response:
            response = original_run(job, store, job_dir)
            if response.replace is not None:
                self.replace_flows.append(get_flow(response.replace))
            return response

        with pytest.MonkeyPatch.context() as patch:  # as the autouse clean_dir fixture
            patch.chdir(folder)
            for key in [k for k in os.environ if k.startswith("SIANODE_")]:
                patch.delenv(key)
            patch.setenv("SIANODE_CONFIG_FILE", str(folder / "no-config.yaml"))
            patch.setattr(Job, "run", recording_run)
            flow = screening_flow()
            store = new_store()
            run_locally(flow, store=store, ensure_success=True, log=False)
        (self.fit,) = fits_of(flow, store)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    return Reference(tmp_path_factory.mktemp("reference"))


def test_flow_json_round_trip_keeps_jobs_and_graph():
    flow = screening_flow()
    text = json.dumps(jsanitize(flow.as_dict(), strict=True, allow_bson=True))

    for rebuilt in (MontyDecoder().decode(text), Flow.from_dict(json.loads(text))):
        assert isinstance(rebuilt, Flow)
        assert rebuilt.uuid == flow.uuid
        assert rebuilt.job_uuids == flow.job_uuids
        assert [j.name for j in rebuilt.jobs] == [j.name for j in flow.jobs]
        assert [j.name for j in flow.jobs] == ["candidates", "screen"]
        assert edges(rebuilt) == edges(flow) and edges(flow)
        assert rebuilt.output.uuid == flow.output.uuid
        # the makers come back as makers, with their settings
        channel_maker = rebuilt.jobs[1].function_args[1]
        assert isinstance(channel_maker, ChannelStabilityMaker)
        assert channel_maker.n_configs == N_CONFIGS
        assert channel_maker.relax_maker.steps == TEST_RELAX_STEPS
        # serializing the rebuilt flow gives the same text: nothing lost or changed
        assert json.dumps(jsanitize(rebuilt.as_dict(), strict=True, allow_bson=True)) == text

    # each job alone, as jobflow-remote stores it and its worker reads it
    for job, _ in flow.iterflow():
        again = queue_round_trip(job)
        assert (again.uuid, again.index, again.name) == (job.uuid, job.index, job.name)
        assert jsanitize(again, strict=True) == jsanitize(job, strict=True)


def test_deserialized_flow_runs_to_the_same_fit(reference):
    flow = queue_round_trip(screening_flow())
    store = new_store()
    run_locally(flow, store=store, ensure_success=True, log=False)

    (fit,) = fits_of(flow, store)
    assert fit.formula == "Li30Si7Ge" and fit.reference == "builtin:Li15Si4"
    assert fit.n_configs == N_CONFIGS
    assert fit.slope is not None and math.isfinite(fit.slope)
    assert fit.slope == pytest.approx(reference.fit.slope, abs=1e-9)
    assert fit.run_key == reference.fit.run_key


def test_replace_flows_round_trip(reference):
    """The flows the dynamic jobs return survive the worker's dump and the runner's rebuild."""
    # screen -> the first round; the round -> relax jobs, channels, the reference's and the
    # candidate's fits, the next round; next round -> the reference's final fit
    assert len(reference.replace_flows) == 3
    for replace in reference.replace_flows:
        again = dumpfn_round_trip(replace)
        assert again.job_uuids == replace.job_uuids
        assert [j.name for j in again.jobs] == [j.name for j in replace.jobs]
        assert edges(again) == edges(replace)
        partial = partial_flow(json.loads(json.dumps(replace, cls=MontyEncoder)))
        assert parents_of(partial) == parents_of(replace)


@pytest.mark.parametrize("worker", [PlainWorker, JobflowRemoteWorker])
def test_every_job_runs_from_its_json_document(worker, reference, tmp_path):
    flow = screening_flow()
    queue, store = run_queue(worker, flow, tmp_path / "runs")

    failed = {d["job"]["name"]: d["error"] for d in queue.docs if d["state"] == "FAILED"}
    assert not failed
    assert all(d["state"] == "COMPLETED" for d in queue.docs)
    # the dynamic jobs were reached and went through the same serialization
    assert {"pooled round", "fit", "fit reference", "reference fit"} <= set(queue.dynamic)
    assert sum(name.startswith("batched relax") for name in queue.dynamic) == 2
    # the candidate's configurations and the reference's
    assert sum(name.startswith("channel") for name in queue.dynamic) == 2 * N_CONFIGS
    assert len(list((tmp_path / "runs").glob("*_*"))) == len(queue.docs)

    (fit,) = fits_of(flow, store)
    assert fit.n_configs == N_CONFIGS
    assert fit.slope == pytest.approx(reference.fit.slope, abs=1e-9)
    assert fit.run_key == reference.fit.run_key


@pytest.mark.parametrize("worker", [PlainWorker, JobflowRemoteWorker])
def test_pooled_screening_runs_from_json_documents(worker, reference, tmp_path):
    """A screen of a few candidates carries them with its rounds: no store lookup.

    Beyond ``INLINE_CANDIDATES`` the rounds read the selection from the running job's
    store (so that no FireWorks spec nears 16 MB), which jobflow-remote's empty
    per-job store does not hold: submit larger screens in chunks there.
    """
    flow = screening_flow(n_candidates=2, pool_atoms=2000)
    queue, store = run_queue(worker, flow, tmp_path / "runs")

    failed = {d["job"]["name"]: d["error"] for d in queue.docs if d["state"] == "FAILED"}
    assert not failed, failed
    fits = fits_of(flow, store)
    assert [fit.formula for fit in fits] == ["Li30Si7Ge", "Li30Si7Sn"]
    assert all(fit.n_configs == N_CONFIGS and math.isfinite(fit.slope) for fit in fits)
    # pooled relaxations are batch invariant: the same fit as a relax job per candidate
    assert fits[0].slope == pytest.approx(reference.fit.slope, abs=1e-9)
    assert fits[0].relative_difference == pytest.approx(reference.fit.relative_difference)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="jobflow-remote runs each job with an empty store of its own (get_remote_store), "
    "so CURRENT_JOB.store lookups (stored_fit, stored_measurements) find nothing and a "
    "resubmitted screening relaxes everything again",
)
def test_resubmission_reuses_the_stored_fit(tmp_path):
    store = build_job_store(str(tmp_path / "store"))
    for attempt in (1, 2):
        store.connect()
        queue = Queue(PlainWorker(), store, tmp_path / f"runs{attempt}")
        queue.add_flow(get_flow(screening_flow()))
        queue.run()
    # as under run_locally: the second screening's round finds the stored fit, relaxes nothing
    assert not any(name.startswith("batched relax") for name in queue.dynamic)
