"""Every document survives monty serialization and a trip through a real store."""

import pytest
from maggma.stores import MemoryStore, MontyStore
from monty.json import MontyDecoder, jsanitize

from sianode_flows.generative.target import GenerationTarget
from sianode_flows.schemas import (
    CandidateDocument,
    CandidateSelectionDocument,
    ChannelDocument,
    ChannelPoint,
    DelithiationProtocol,
    FailureDocument,
    GeneratedStructureDocument,
    GenerationMetricsDocument,
    Provenance,
    RelaxationSummary,
    SlopeFitDocument,
)


@pytest.fixture
def documents(li15si4_primitive):
    candidate = CandidateDocument.from_structure(
        li15si4_primitive,
        [Provenance(source="mp", source_id="mp-569849", properties={"e": -1.0})],
    )
    protocol = DelithiationProtocol(
        n_configs=3,
        seed=1,
        soc_range=(0.0, 1.0),
        include_charged=True,
        include_delithiated=True,
    )
    channel = ChannelDocument(
        candidate_id=candidate.candidate_id,
        config_index=0,
        soc=1.0,
        n_li=30,
        n_li_charged=30,
        formula="Li30Si8",
        structure=li15si4_primitive,
        volume=li15si4_primitive.volume,
        volume_per_framework_atom=li15si4_primitive.volume / 8,
        relaxation=RelaxationSummary(energy_per_atom=-2.9, n_steps=13, converged=True),
        r_a=1.61,
        r_b=1.61,
        r_c=1.61,
        r_t=1.61,
        radii={"Si": 1.11},
    )
    fit = SlopeFitDocument(
        candidate_id=candidate.candidate_id,
        formula=candidate.formula,
        source="mp",
        capacity_mAh_g=candidate.capacity_mAh_g,
        points=[ChannelPoint(config_index=0, soc=1.0, r_t=1.61)],
        n_configs=1,
        slope_threshold=0.5,
        verdict="insufficient-data",
        protocol=protocol,
    )
    failure = FailureDocument(input="x.cif", step="read", error_type="ParseError", message="bad")
    selection = CandidateSelectionDocument(
        min_capacity_mAh_g=1500, n_inputs=2, selected=[candidate], failures=[failure]
    )
    target = GenerationTarget(forbidden_elements=("Pb",), channel_radius=1.7)
    generated = GeneratedStructureDocument(
        sample_id="substitution-0-0",
        method="substitution",
        seed=0,
        target=target,
        structure=li15si4_primitive,
        formula="Li15Si4",
        valid=True,
        has_required_elements=True,
        has_forbidden_elements=False,
        relaxed_structure=li15si4_primitive,
        initial_energy_per_atom=-2.88,
        final_energy_per_atom=-2.89,
        energy_change_fraction=0.01 / 2.88,
        relax_converged=True,
        relax_steps=12,
        stable=True,
        capacity_mAh_g=3578.6,
        r_t=1.61,
        r_t_error=0.09,
        capacity_on_target=True,
        novel=False,
        unique=True,
    )
    metrics = GenerationMetricsDocument(
        method="substitution",
        n_samples=1,
        n_valid=1,
        validity_rate=1.0,
        uniqueness_rate=1.0,
        novelty_rate=0.0,
        required_elements_rate=1.0,
        stable_rate=1.0,
        capacity={"count": 1, "median": 3578.6, "p25": None},
        r_t={"count": 1, "median": 1.61},
        capacity_on_target_rate=1.0,
        target=target,
    )
    return [candidate, channel, fit, failure, selection, generated, metrics]


def test_candidate_fields(documents):
    candidate = documents[0]
    assert candidate.candidate_id == "mp:mp-569849"
    assert candidate.capacity_mAh_g == pytest.approx(3578.6, abs=1)
    assert candidate.host_formula == "Si"
    assert candidate.n_li == 30
    assert candidate.chemsys == "Li-Si"
    assert 1.55 < candidate.r_t_charged < 1.70


@pytest.mark.parametrize("store_kind", ["memory", "monty"])
def test_documents_round_trip_through_a_store(documents, store_kind, tmp_path):
    if store_kind == "memory":
        store = MemoryStore("docs")
    else:
        store = MontyStore("docs", database_path=str(tmp_path / "db"), storage="sqlite")
    store.connect()
    store.update(
        [
            {"doc_id": i, "output": jsanitize(d, strict=True, enum_values=True)}
            for i, d in enumerate(documents)
        ],
        key="doc_id",
    )
    for index, original in enumerate(documents):
        stored = store.query_one({"doc_id": index})
        restored = MontyDecoder().process_decoded(stored["output"])
        assert type(restored) is type(original)
        assert restored == original
    store.close()
