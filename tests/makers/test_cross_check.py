"""A second potential (SevenNet-0) and the cross-check of two potentials."""

import socket

import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sianode_flows.jobs.cross_check import combined_verdict, cross_check_document
from sianode_flows.jobs.fit import slope_fit_document
from sianode_flows.jobs.relax import default_relax_maker, force_field_name
from sianode_flows.makers import ChannelStabilityMaker, CrossCheckMaker
from sianode_flows.makers.cross_check import other_potential
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    CrossCheckDocument,
    DelithiationProtocol,
    Provenance,
)


@pytest.fixture
def offline(monkeypatch):
    """Refuse every network connection: the potentials must load from disk."""

    def refuse(*args, **kwargs):
        raise OSError("network access refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_potential_names():
    assert force_field_name("sevennet") == "SevenNet"
    assert force_field_name("CHGNet") == "CHGNet"
    assert force_field_name("MACE") == "MACE"
    assert other_potential("chgnet") == "sevennet"
    assert other_potential("SevenNet") == "chgnet"
    assert default_relax_maker("sevennet").force_field_name == "SevenNet"
    assert default_relax_maker("sevennet", batched=False).force_field_name == "MLFF.SevenNet"
    with pytest.raises(ValueError, match="no second potential"):
        other_potential("MACE")


def test_sevennet_relaxes_silicon_offline(offline, memory_store):
    """SevenNet-0 from the wheel: compressed diamond Si expands to its PBE volume."""
    silicon = Structure(Lattice.cubic(5.30), ["Si"] * 8, _diamond_sites())
    job = default_relax_maker("sevennet", steps=60).make(silicon)
    run_locally(job, store=memory_store, ensure_success=True, log=False)
    doc = memory_store.query_one({"uuid": job.uuid}, load=True)["output"]
    relaxed = Structure.from_dict(doc["structure"])
    assert doc["forcefield_name"] == "MLFF.SevenNet"
    assert relaxed.volume / len(relaxed) > silicon.volume / len(silicon)
    # PBE: a = 5.47 A, 20.4 A^3 per atom
    assert relaxed.lattice.a == pytest.approx(5.47, abs=0.05)


def _diamond_sites():
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    return np.vstack([fcc, fcc + 0.25]).tolist()


def test_cross_check_runs_both_potentials_on_the_same_configurations(
    li15si4_primitive, memory_store
):
    """CHGNet and SevenNet relax the same three small configurations of Li15Si4."""
    channel_maker = ChannelStabilityMaker(
        n_configs=3,
        seed=2,
        soc_range=(0.0, 0.1),
        relax_maker=default_relax_maker(steps=20),
        n_bootstrap=200,
        fit_unconverged=True,
    )
    maker = CrossCheckMaker.against(channel_maker, "sevennet", tolerance=0.3)
    assert maker.second_relax_maker.steps == 20
    flow = maker.make(li15si4_primitive)
    assert sum(1 for j in flow.jobs if j.name == "delithiate") == 1
    run_locally(flow, store=memory_store, ensure_success=True, log=False)

    check = flow.output.resolve(memory_store)
    assert isinstance(check, CrossCheckDocument)
    first, second = check.first, check.second
    assert check.first_potential == "BatchedRelaxMaker(CHGNet)"
    assert check.second_potential == "BatchedRelaxMaker(SevenNet)"
    assert first.run_key != second.run_key
    assert [(p.config_index, p.soc) for p in first.points] == [
        (p.config_index, p.soc) for p in second.points
    ]
    assert check.n_common == 3
    assert check.slope_difference == pytest.approx(first.slope - second.slope)
    assert check.difference_ci_low <= check.difference_ci_high
    assert check.agree == (abs(check.slope_difference) <= 0.3)
    assert check.verdict == combined_verdict(first, second, check.agree, True)
    # both potentials collapse the delithiated framework
    assert first.volume_slope > 0.3 and second.volume_slope > 0.3
    # the charged cell keeps its channel under both
    charged = [next(p for p in fit.points if p.soc == 1.0) for fit in (first, second)]
    assert all(1.5 < p.r_t < 1.75 for p in charged)
    assert check.r_t_mean_abs_difference < 0.5
    # one batched SevenNet job relaxed the three configurations
    assert memory_store.count({"name": {"$regex": "^relax sevennet"}}) == 1


SOC = [1.0, 0.0, 0.3, 0.6, 0.8]
NOISE = [0.0, 0.02, -0.03, 0.01, -0.01]


def _radii(slope):
    """R_t on a line of this slope with the same scatter for every potential."""
    return [1.6 + slope * (s - 1.0) + e for s, e in zip(SOC, NOISE, strict=True)]


def _fit(candidate, r_t, threshold=0.5):
    soc = SOC
    channels = [
        ChannelDocument(
            candidate_id=candidate.candidate_id,
            config_index=i,
            soc=s,
            n_li=round(30 * s),
            n_li_charged=30,
            formula="Li30Si8",
            structure=candidate.structure,
            volume=600.0,
            volume_per_framework_atom=20.0 + 56.0 * s,
            r_a=r,
            r_b=r,
            r_c=r,
            r_t=r,
            radii={"Si": 1.11},
        )
        for i, (s, r) in enumerate(zip(soc, r_t, strict=True))
    ]
    protocol = DelithiationProtocol(
        n_configs=5, seed=0, soc_range=(0, 1), include_charged=True, include_delithiated=True
    )
    return slope_fit_document(
        channels, candidate, protocol, threshold, relax_maker="X", min_configs=5
    )


@pytest.fixture(scope="module")
def candidate(li15si4_primitive):
    return CandidateDocument.from_structure(li15si4_primitive, [Provenance(source="test")])


def test_cross_check_document_and_verdicts(candidate):
    flat, steeper, steep = (_fit(candidate, _radii(slope)) for slope in (0.1, 0.3, 0.8))
    assert (flat.verdict, steeper.verdict, steep.verdict) == ("stable", "stable", "unstable")
    agreeing = cross_check_document(flat, steeper, tolerance=0.25)
    assert agreeing.slope_difference == pytest.approx(-0.2)
    # the configurations are shared: the scatter cancels in the paired difference
    assert agreeing.difference_ci_low == pytest.approx(-0.2)
    assert agreeing.difference_ci_high == pytest.approx(-0.2)
    assert agreeing.agree and agreeing.verdict == "stable"
    assert agreeing.volume_slope_difference == pytest.approx(0.0, abs=1e-9)

    disagreeing = cross_check_document(flat, steep, tolerance=0.25)
    assert not disagreeing.agree and disagreeing.verdict == "disagree"
    lenient = cross_check_document(flat, steep, tolerance=0.25, require_agreement=False)
    assert lenient.verdict == "stable"  # the first potential's verdict
    both_unstable = cross_check_document(steep, steep, tolerance=0.25)
    assert both_unstable.agree and both_unstable.verdict == "unstable"
    missing = cross_check_document(flat, None)
    assert missing.verdict == "insufficient-data" and missing.note
    row = agreeing.summary()
    assert row["slope_difference"] == agreeing.slope_difference
    assert row["potentials_agree"] is True
    assert CrossCheckDocument.model_validate(agreeing.model_dump()) == agreeing
