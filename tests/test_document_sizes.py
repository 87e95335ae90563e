"""No stored document reaches MongoDB's 16 MB at the paper's scale, and outputs read back.

The documents are those the jobs store, built at full size without running the
physics: a harvest, a selection and a screen of 6,000 candidates, and a 380-site
candidate with 90 configurations relaxed in one pool of ~20,000 atoms (1,000 steps
each). Each is stored the way jobflow stores the job's output (``Job.run``: the job's
``data=`` objects go to the data store), and every document of both stores is
measured with ``bson.encode``. The store is the embedded default (MontyDB on disk).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

import bson
import numpy as np
import pytest
from jobflow import JobStore, OutputReference
from monty.json import jsanitize
from pymatgen.core import Structure

from sianode_flows.builders._base import as_naive
from sianode_flows.builtin import li15si4
from sianode_flows.forcefields import RelaxOutcome
from sianode_flows.jobs.batched_relax import BatchedRelaxMaker, task_document
from sianode_flows.jobs.candidates import select_candidates
from sianode_flows.jobs.delithiate import configurations_of, delithiate_candidate
from sianode_flows.jobs.fit import fit_channel_slope, slope_fit_document
from sianode_flows.jobs.harvest import harvest_candidates
from sianode_flows.jobs.screen import screen_candidates
from sianode_flows.makers import ChannelStabilityMaker
from sianode_flows.schemas import (
    CandidateDocument,
    CandidateSelectionDocument,
    ChannelPoint,
    FailureDocument,
    HarvestDocument,
    Provenance,
)
from sianode_flows.stores import build_job_store

logger = logging.getLogger(__name__)
MONGO_LIMIT = 16 * 1024 * 1024
N_CANDIDATES = 6000

pytestmark = pytest.mark.slow


def store_like_jobflow(job, output, store: JobStore) -> Any:
    """Store ``output`` as ``job``'s output, as ``jobflow.Job.run`` stores it.

    Returns the output as serialized for storing: what the store must give back.
    """
    save = {k: "output" if v is True else v for k, v in job._kwargs.items()}
    document = {
        "uuid": job.uuid,
        "index": job.index,
        "output": jsanitize(output, strict=True, enum_values=True, allow_bson=True),
        "completed_at": datetime.now().isoformat(),
        "metadata": {},
        "hosts": [],
        "name": job.name,
    }
    store.update(document, key=["uuid", "index"], save=save)
    return document["output"]


def largest_documents(store: JobStore) -> dict[str, int]:
    """BSON size of the largest document of the docs store and of the data store."""
    sizes = {}
    for name, part in (("docs", store.docs_store), ("data", store.additional_stores["data"])):
        sizes[name] = max(len(bson.encode(doc)) for doc in part.query({}))
    return sizes


def read_back(job, store: JobStore) -> Any:
    """A job's stored output, its blobs loaded from the data store (not decoded)."""
    return store.get_output(job.uuid, load=True)


def stored_screen_refs(document: dict) -> list[OutputReference]:
    return [OutputReference.from_dict(entry) for entry in document["output"]]


def bson_date(value: Any) -> str:
    """A date as BSON keeps it: in UTC, naive, to the millisecond."""
    if isinstance(value, datetime):
        return as_naive(value).isoformat(timespec="milliseconds")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def same(stored: Any, serialized: Any) -> bool:
    """Whether an output read back is the one serialized (dates as BSON keeps them)."""
    texts = [json.dumps(x, sort_keys=True, default=bson_date) for x in (stored, serialized)]
    return texts[0] == texts[1]


@pytest.fixture
def job_store(tmp_path) -> JobStore:
    """The embedded default store (MontyDB on disk), as ``sianode screen`` uses it."""
    store = build_job_store(str(tmp_path / "store"))
    store.connect()
    return store


@pytest.fixture(scope="module")
def candidates() -> list[CandidateDocument]:
    """6,000 candidates of 76 sites (Li15Si4 cells with their atoms moved a little)."""
    first = CandidateDocument.from_structure(
        li15si4(primitive=False), [Provenance(source="test", source_id="0")]
    )
    rng = np.random.default_rng(0)
    found = []
    for index in range(N_CANDIDATES):
        moved = first.structure.cart_coords + rng.normal(0, 0.01, (len(first.structure), 3))
        structure = Structure(
            first.structure.lattice, first.structure.species, moved, coords_are_cartesian=True
        )
        found.append(
            first.model_copy(
                update={
                    "candidate_id": f"test:{index}",
                    "provenance": [Provenance(source="test", source_id=str(index))],
                    "structure": structure,
                }
            )
        )
    return found


def test_a_6000_candidate_harvest_selection_and_screen_stay_small(candidates, job_store):
    failures = [
        FailureDocument(
            input=f"file:broken-{i}.cif", step="read", error_type="ValueError", message="bad CIF"
        )
        for i in range(1000)
    ]
    harvest = HarvestDocument(
        required_elements=["Li", "Si"],
        min_capacity_mAh_g=1500,
        max_sites=400,
        candidates=candidates,
        below_threshold=candidates[:1000],
        failures=failures,
    )
    selection = CandidateSelectionDocument(
        min_capacity_mAh_g=1500,
        n_inputs=N_CANDIDATES + 2000,
        selected=candidates,
        below_threshold=candidates[:1000],
        failures=failures,
    )
    points = [ChannelPoint(config_index=i, soc=i / 29, r_t=1.6 - 0.2 * i / 29) for i in range(30)]
    protocol = ChannelStabilityMaker(n_configs=30).protocol
    fit = slope_fit_document([], candidates[0], protocol, 0.5, reused=points)
    # the screen's output refers to one fit job per candidate: three are stored
    # here (6,000 separate writes would only measure the store's speed)
    maker = ChannelStabilityMaker()
    fit_jobs = [fit_channel_slope([], c, maker) for c in candidates[:3]]
    fits = [fit.model_copy(update={"candidate_id": c.candidate_id}) for c in candidates[:3]]
    serialized_fits = [
        store_like_jobflow(fit_job, stored_fit, job_store)
        for fit_job, stored_fit in zip(fit_jobs, fits, strict=True)
    ]
    references = [fit_job.output for fit_job in fit_jobs]
    references += [OutputReference(str(uuid.uuid4())) for _ in candidates[3:]]
    screen = screen_candidates([], maker)
    store_like_jobflow(screen, references, job_store)
    jobs = {
        "harvest": (harvest_candidates([]), harvest),
        "candidates": (select_candidates([], 1500), selection),
    }
    serialized = {name: store_like_jobflow(*jobs[name], job_store) for name in jobs}

    sizes = largest_documents(job_store)
    logger.info("largest documents: %s", sizes)
    assert max(sizes.values()) < MONGO_LIMIT
    # every structure is a document of its own in the data store
    assert job_store.additional_stores["data"].count() == 2 * (N_CANDIDATES + 1000)
    for name, (job, _) in jobs.items():
        assert same(read_back(job, job_store), serialized[name])
    stored_screen = job_store.query_one({"uuid": screen.uuid}, properties=["output"])
    assert len(stored_screen["output"]) == N_CANDIDATES
    first_refs = stored_screen_refs(stored_screen)[:3]
    assert same([job_store.get_output(ref.uuid, load=True) for ref in first_refs], serialized_fits)
    assert [ref.resolve(job_store).candidate_id for ref in first_refs] == [
        c.candidate_id for c in candidates[:3]
    ]


def test_a_380_site_candidate_with_90_configurations_in_one_pool(job_store):
    charged = li15si4(primitive=True) * (2, 5, 1)
    assert len(charged) == 380
    candidate = CandidateDocument.from_structure(charged, [Provenance(source="test")], radii=None)
    protocol = ChannelStabilityMaker(n_configs=90).protocol
    configurations = configurations_of(candidate, protocol)
    assert len(configurations) == 90
    maker = BatchedRelaxMaker(steps=1000)
    rng = np.random.default_rng(1)
    tasks = []
    for config in configurations:
        n_sites = len(config.structure)
        relaxed = Structure(
            config.structure.lattice.matrix * 1.01,
            config.structure.species,
            config.structure.frac_coords,
        )
        outcome = RelaxOutcome(
            index=config.config_index,
            initial_structure=config.structure,
            structure=relaxed,
            energies=list(np.linspace(-3.0, -3.5, 1000) * n_sites),
            forces=rng.normal(0, 0.01, (n_sites, 3)).tolist(),
            stress=rng.normal(0, 0.001, (3, 3)).tolist(),
            n_steps=1000,
            converged=True,
        )
        tasks.append(task_document(outcome, maker, f"batched relax {config.config_index}"))
    n_atoms = sum(len(c.structure) for c in configurations)
    points = [
        ChannelPoint(config_index=c.config_index, soc=c.soc, r_t=1.6 - 0.2 * c.soc)
        for c in configurations
    ]
    fit = slope_fit_document([], candidate, protocol, 0.5, reused=points)
    jobs = {
        "delithiate": (delithiate_candidate(candidate, protocol), configurations),
        "relax": (maker.make([c.structure for c in configurations]), tasks),
        "fit": (fit_channel_slope([], candidate, ChannelStabilityMaker()), fit),
    }
    serialized = {name: store_like_jobflow(*jobs[name], job_store) for name in jobs}

    sizes = largest_documents(job_store)
    logger.info("largest documents: %s", sizes)
    assert n_atoms > 15000 and max(sizes.values()) < MONGO_LIMIT
    for name, (job, _) in jobs.items():
        assert same(read_back(job, job_store), serialized[name])
