"""Reading any relax task document: atomate2 force field, serialized, VASP-like."""

import pytest
from jobflow import run_locally
from monty.json import jsanitize

from sianode_flows.jobs.relax import default_relax_maker, summarize_relaxation


def test_per_structure_maker_reads_settings_at_call_time(monkeypatch):
    monkeypatch.setenv("SIANODE_RELAX_STEPS", "77")
    maker = default_relax_maker(batched=False)
    assert maker.steps == 77
    assert maker.relax_kwargs == {"fmax": 0.05} and maker.relax_cell
    assert default_relax_maker(batched=False, steps=5).steps == 5


@pytest.mark.parametrize("batched", [False, True], ids=["per-structure", "batched"])
def test_summary_of_a_chgnet_relax(li15si4_primitive, memory_store, batched):
    job = default_relax_maker(batched=batched, steps=30).make(li15si4_primitive)
    run_locally(job, store=memory_store, ensure_success=True, log=False)
    document = job.output.resolve(memory_store)
    structure, summary = summarize_relaxation(document)
    assert len(structure) == 38
    assert summary.code == "CHGNet"
    assert summary.converged is True and 1 <= summary.n_steps < 30
    assert summary.energy_per_atom == pytest.approx(-2.889, abs=0.01)
    assert summary.initial_energy_per_atom >= summary.energy_per_atom - 1e-6
    # the serialized form (what a FireWorks worker hands on) reads the same
    _, from_dict = summarize_relaxation(jsanitize(document, strict=True, enum_values=True))
    assert from_dict == summary


def test_summary_of_a_vasp_like_document(li15si4_primitive):
    vasp_like = {
        "output": {"structure": li15si4_primitive.as_dict(), "energy": -110.0},
        "state": "successful",
        "calc_type": "PBE Structure Optimization",
        "task_label": "relax",
    }
    structure, summary = summarize_relaxation(vasp_like)
    assert structure == li15si4_primitive
    assert summary.energy_per_atom == pytest.approx(-110.0 / 38)
    assert summary.converged is True and summary.code == "PBE Structure Optimization"


def test_a_document_without_structure_is_refused():
    with pytest.raises(ValueError, match="no final structure"):
        summarize_relaxation({"output": {"energy": -1.0}})
