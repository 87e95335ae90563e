"""Generation flows end to end: baseline samples, real CHGNet (few steps), real CAVD."""

import pytest
from jobflow import Flow, run_locally
from monty.json import MontyDecoder
from pymatgen.core import Lattice, Structure

from sianode_flows.builtin import builtin_records
from sianode_flows.generative.baseline import substitution_baseline
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.jobs.generate import generation_metrics, verify_structures
from sianode_flows.makers import BaselineMaker, GenerateMaker, VerifyMaker
from sianode_flows.schemas import GeneratedStructureDocument, GenerationMetricsDocument

STEPS = 5


@pytest.fixture(scope="module")
def li15si4_reference():
    return [builtin_records()[0].structure]


@pytest.fixture
def overlapping():
    return Structure(
        Lattice.cubic(4.0), ["Li", "Si"], [[0, 0, 0], [0.3, 0, 0]], coords_are_cartesian=True
    )


def decoded(memory_store, name):
    raw = memory_store.query_one({"name": name}, load=True)["output"]
    return MontyDecoder().process_decoded(raw)


def test_verify_flow_stores_a_document_per_sample(li15si4_reference, overlapping, memory_store):
    target = GenerationTarget()
    samples = substitution_baseline(li15si4_reference, target, n=2, seed=0)
    flow = VerifyMaker(steps=STEPS).make(
        [*samples, overlapping],
        "substitution",
        target,
        training_structures=li15si4_reference,
        seed=0,
    )
    run_locally(flow, store=memory_store, ensure_success=True, log=False)

    docs = decoded(memory_store, "verify")
    assert [type(d) for d in docs] == [GeneratedStructureDocument] * 3
    assert [d.sample_id for d in docs] == [
        "substitution-0-0",
        "substitution-0-1",
        "substitution-0-2",
    ]
    for doc in docs[:2]:
        assert doc.valid and doc.invalid_reason is None and doc.error is None
        assert doc.has_required_elements and not doc.has_forbidden_elements
        assert doc.relax_steps is not None and 0 < doc.relax_steps <= STEPS
        assert doc.relaxed_structure is not None
        assert doc.initial_energy_per_atom < 0 and doc.final_energy_per_atom < 0
        assert doc.energy_change_fraction == pytest.approx(
            abs(doc.final_energy_per_atom - doc.initial_energy_per_atom)
            / abs(doc.initial_energy_per_atom)
        )
        assert doc.energy_change_stable == (doc.energy_change_fraction < 0.04)
        assert doc.capacity_mAh_g > 1500 and doc.capacity_on_target
        assert 1.0 < doc.r_t < 2.2
        assert doc.r_t_error == pytest.approx(abs(doc.r_t - 1.6))
        assert doc.novel is True  # substituted, so unlike Li15Si4
        assert doc.unique is not None
    bad = docs[2]
    assert bad.valid is False and "apart" in bad.invalid_reason
    assert bad.relaxed_structure is None and bad.r_t is None and bad.energy_change_stable is False
    assert bad.unique is None and bad.novel is None

    # structures go to the data store
    raw = memory_store.docs_store.query_one({"name": "verify"})
    assert "blob_uuid" in raw["output"][0]["structure"]
    assert memory_store.additional_stores["data"].count() >= 1

    (metrics,) = flow.output.resolve(memory_store)
    assert isinstance(metrics, GenerationMetricsDocument)
    assert metrics.method == "substitution" and metrics.n_samples == 3
    assert metrics.n_valid == 2 and metrics.validity_rate == pytest.approx(2 / 3)
    assert metrics.novelty_rate == 1.0
    assert metrics.required_elements_rate == 1.0
    assert metrics.capacity["count"] == 3  # the invalid sample still has a composition
    assert metrics.r_t["count"] == 2
    assert metrics.energy_change_stable_rate is not None


def test_baseline_then_verify_without_relaxation(memory_store):
    target = GenerationTarget()
    baseline = BaselineMaker(method="pyxtal", n_samples=2, seed=2).make(["Li4Si2"])
    verify = VerifyMaker(relax=False).make(baseline.output, "pyxtal", target, seed=2)
    run_locally(Flow([baseline, verify]), store=memory_store, ensure_success=True, log=False)
    docs = decoded(memory_store, "verify")
    assert 1 <= len(docs) <= 2
    for doc in docs:
        assert doc.method == "pyxtal" and doc.formula == "Li2Si"
        assert doc.relaxed_structure is None and doc.energy_change_stable is None
        assert doc.novel is None
        if doc.valid:
            assert doc.r_t is not None or doc.error is not None
    (metrics,) = verify.output.resolve(memory_store)
    assert metrics.energy_change_stable_rate is None and metrics.novelty_rate is None


def test_metrics_has_one_document_per_method(li15si4_reference, overlapping, memory_store):
    target = GenerationTarget()
    samples = substitution_baseline(li15si4_reference, target, n=2, seed=1)
    docs = verify_structures(samples, "substitution", target, seed=1, relax=False)
    docs += verify_structures([overlapping], "pyxtal", target, seed=1, relax=False)
    job = generation_metrics(docs, target)
    run_locally(job, store=memory_store, ensure_success=True, log=False)
    metrics = job.output.resolve(memory_store)
    assert [m.method for m in metrics] == ["substitution", "pyxtal"]
    assert metrics[0].validity_rate == 1.0 and metrics[1].validity_rate == 0.0
    assert metrics[1].uniqueness_rate is None


def test_baseline_maker_substitution_output(li15si4_reference, memory_store):
    flow = BaselineMaker(n_samples=3, seed=5).make(builtin_records())
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    samples = flow.output.resolve(memory_store)
    assert len(samples) == 3
    assert all({"Li", "Si"} <= set(s.composition.chemical_system.split("-")) for s in samples)


def test_generate_maker_needs_a_checkpoint():
    with pytest.raises(ValueError, match="checkpoint"):
        GenerateMaker().make()


def test_failed_relaxations_become_error_documents(li15si4_reference, monkeypatch):
    import sianode_flows.forcefields as forcefields
    import sianode_flows.jobs.batched_relax as batched_relax
    from sianode_flows.forcefields import RelaxOutcome

    def fake_relax(structures, model, fmax, steps):
        first, second = structures
        return [
            RelaxOutcome(0, first, structure=first, energies=[-100.0, -101.0], n_steps=1),
            RelaxOutcome(1, second, energies=[-100.0], error="non-finite energy"),
        ]

    monkeypatch.setattr(batched_relax, "cached_model", lambda potential, device: None)
    monkeypatch.setattr(forcefields, "relax_structures", fake_relax)
    target = GenerationTarget()
    samples = substitution_baseline(li15si4_reference, target, n=2, seed=4)
    good, failed = verify_structures(samples, "substitution", target, seed=4)
    assert good.error is None and good.relaxed_structure is not None
    assert good.energy_change_fraction == pytest.approx(0.01)
    assert good.energy_change_stable is True and good.r_t is not None
    assert failed.error == "relax: non-finite energy"
    assert (
        failed.energy_change_stable is False
        and failed.r_t is None
        and failed.relaxed_structure is None
    )
    assert failed.initial_energy_per_atom == pytest.approx(-100.0 / len(samples[1]))

    def broken(*args, **kwargs):
        raise RuntimeError("no model")

    monkeypatch.setattr(forcefields, "relax_structures", broken)
    docs = verify_structures(samples, "substitution", target, seed=4)
    assert all(d.error == "relax: RuntimeError: no model" for d in docs)
    assert all(d.valid and d.energy_change_stable is False for d in docs)


def test_generate_then_verify_with_a_trained_checkpoint(tmp_path, memory_store):
    from sianode_flows.generative.checkpoint import save_checkpoint
    from sianode_flows.generative.data import build_examples
    from sianode_flows.generative.model import ModelConfig
    from sianode_flows.generative.train import train_model
    from tests.generative.cells import small_cells

    examples = build_examples(list(small_cells().items()), max_atoms=8)
    config = ModelConfig(hidden=32, latent_dim=8, num_layers=2, n_sigmas=5, langevin_steps=2)
    result = train_model(examples, config, epochs=2, progress=False)
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(checkpoint, result.model, result.summary())
    target = GenerationTarget(required_elements=("Li", "Si", "Ge"))
    generate = GenerateMaker(checkpoint=str(checkpoint), n_samples=2, target=target, seed=3).make()
    verify = VerifyMaker(relax=False).make(generate.output, "model", target, seed=3)
    run_locally(Flow([generate, verify]), store=memory_store, ensure_success=True, log=False)
    docs = decoded(memory_store, "verify")
    assert [d.sample_id for d in docs] == ["model-3-0", "model-3-1"]
    assert all(d.has_required_elements and d.structure.composition["Ge"] >= 1 for d in docs)
    (metrics,) = verify.output.resolve(memory_store)
    assert metrics.method == "model" and metrics.required_elements_rate == 1.0
