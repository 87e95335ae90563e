"""The batched relax maker: atomate2's documents, one per structure, failures in place."""

import pytest
from atomate2.forcefields.schemas import ForceFieldTaskDocument
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sianode_flows.analysis.delithiation import delithiate
from sianode_flows.jobs.batched_relax import BatchedRelaxMaker
from sianode_flows.jobs.channel import measure_channel
from sianode_flows.jobs.relax import default_relax_maker, summarize_relaxation
from sianode_flows.schemas import DelithiatedConfiguration, FailureDocument


def test_default_is_batched_and_reads_settings(monkeypatch):
    monkeypatch.setenv("SIANODE_RELAX_STEPS", "77")
    maker = default_relax_maker()
    assert isinstance(maker, BatchedRelaxMaker) and maker.batched
    assert (maker.steps, maker.fmax, maker.relax_cell) == (77, 0.05, True)
    assert maker.force_field_name == "CHGNet" and maker.optimizer == "fire"
    monkeypatch.setenv("SIANODE_RELAX_OPTIMIZER", "lbfgs")
    assert default_relax_maker().optimizer == "lbfgs"
    monkeypatch.setenv("SIANODE_RELAX_ENGINE", "ase")
    assert not getattr(default_relax_maker(), "batched", False)
    assert default_relax_maker().optimizer_kwargs == {"optimizer": "LBFGS"}
    with pytest.raises(ValueError, match="unknown optimizer"):
        default_relax_maker(optimizer="sgd")
    assert default_relax_maker("sevennet", batched=True).force_field_name == "SevenNet"


def test_batched_job_writes_one_document_per_structure(li15si4_primitive, memory_store):
    configurations = [c.structure for c in delithiate(li15si4_primitive, 30, seed=0)[1:3]]
    bad = Structure(Lattice.cubic(4.0), ["Og", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    job = BatchedRelaxMaker(steps=25).make([li15si4_primitive, bad, *configurations])
    run_locally(job, store=memory_store, ensure_success=True, log=False)
    documents = job.output.resolve(memory_store)
    assert [type(d).__name__ for d in documents] == [
        "ForceFieldTaskDocument",
        "FailureDocument",
        "ForceFieldTaskDocument",
        "ForceFieldTaskDocument",
    ]
    assert documents[1].step == "relax" and "Og" in documents[1].input
    structure, summary = summarize_relaxation(documents[0])
    assert len(structure) == 38 and summary.code == "CHGNet" and summary.converged
    assert summary.energy_per_atom == pytest.approx(-2.889, abs=0.01)
    for document in documents[2:]:
        _, summary = summarize_relaxation(document)
        # atomate2 counts frames: the input, 25 steps, the final state again
        assert summary.converged is False and summary.n_steps == 27
        assert summary.energy_per_atom < summary.initial_energy_per_atom
    # the stored form is atomate2's schema
    stored = memory_store.query_one({"uuid": job.uuid}, load=True)["output"]
    assert stored[0]["@class"] == "ForceFieldTaskDocument"
    assert ForceFieldTaskDocument.model_validate(
        {k: v for k, v in stored[0].items() if not k.startswith("@")}
    )


def test_single_structure_gives_a_single_document(li15si4_primitive, memory_store):
    job = BatchedRelaxMaker(steps=5).make(li15si4_primitive)
    run_locally(job, store=memory_store, ensure_success=True, log=False)
    assert isinstance(job.output.resolve(memory_store), ForceFieldTaskDocument)


def test_channel_job_passes_a_relax_failure_on(memory_store, li15si4_primitive):
    failure = FailureDocument(input="x", step="relax", error_type="RelaxFailed", message="boom")
    configuration = DelithiatedConfiguration(
        candidate_id="c1",
        config_index=3,
        soc=0.5,
        n_li=15,
        n_li_charged=30,
        structure=li15si4_primitive,
        removed_sites=[],
        seed=0,
    )
    job = measure_channel(failure, configuration)
    run_locally(job, store=memory_store, ensure_success=True, log=False)
    output = job.output.resolve(memory_store)
    assert isinstance(output, FailureDocument)
    assert (output.candidate_id, output.config_index, output.message) == ("c1", 3, "boom")
