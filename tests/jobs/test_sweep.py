"""Conditioning sweeps: per-target outcomes, hit rates, Spearman's rho, the control."""

import pytest
from pymatgen.core import Lattice, Structure

from sianode_flows.generative.target import GenerationTarget
from sianode_flows.jobs.sweep import sweep_document, swept_target, target_outcome
from sianode_flows.schemas import GeneratedStructureDocument

CELL = Structure(Lattice.cubic(4.0), ["Li", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def sample(r_t: float | None, capacity: float | None = 1000.0) -> GeneratedStructureDocument:
    return GeneratedStructureDocument(
        sample_id="s",
        method="model",
        seed=0,
        structure=CELL,
        valid=True,
        has_required_elements=True,
        has_forbidden_elements=False,
        r_t=r_t,
        capacity_mAh_g=capacity,
    )


def test_outcome_of_one_target_counts_misses_without_a_value():
    outcome = target_outcome([sample(1.0), sample(1.15), sample(1.5), sample(None)], 1.1, "r_t")
    assert outcome.n_samples == 4 and outcome.achieved == [1.0, 1.15, 1.5]
    assert outcome.median == pytest.approx(1.15)
    assert outcome.hit_rate == pytest.approx(2 / 4)  # 1.0 and 1.15 lie within 0.2 A
    capacity = target_outcome([sample(1.0, 1700.0), sample(1.0, 2400.0)], 2000.0, "capacity")
    assert capacity.hit_rate == pytest.approx(0.5)  # within 15 %: 1,700 yes, 2,400 no


def test_sweep_rho_and_monotone_medians():
    verified = [
        [sample(0.4), sample(0.5), sample(0.7)],
        [sample(0.9), sample(1.0), sample(0.6)],
        [sample(1.3), sample(1.1), sample(1.5)],
    ]
    doc = sweep_document(verified, [1.2, 0.4, 0.8], "r_t", control=[sample(0.9)])
    # outcomes are sorted by target whatever the order given
    assert [o.target for o in doc.outcomes] == [0.4, 0.8, 1.2]
    assert [o.median for o in doc.outcomes] == pytest.approx([0.9, 1.3, 0.5])
    assert doc.monotone is False and doc.spearman_rho < 0
    ordered = sweep_document(verified, [0.4, 0.8, 1.2], "r_t", control=[sample(0.9)])
    assert [o.median for o in ordered.outcomes] == pytest.approx([0.5, 0.9, 1.3])
    assert ordered.monotone is True and ordered.spearman_rho > 0.8
    assert ordered.spearman_p < 0.05
    assert ordered.control.target is None and ordered.control.hit_rate is None
    assert ordered.unit == "A" and ordered.tolerance == 0.2


def test_swept_target_changes_one_field():
    base = GenerationTarget(capacity_mAh_g=2000.0, channel_radius=1.6)
    assert swept_target(base, "r_t", 0.9).channel_radius == 0.9
    assert swept_target(base, "r_t", 0.9).capacity_mAh_g == 2000.0
    assert swept_target(base, "capacity", 1000).capacity_mAh_g == 1000.0
