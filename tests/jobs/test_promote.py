"""Promotion to stage 2: only samples that pass every check, novelty judged."""

import pytest
from pymatgen.core import Lattice, Structure

from sianode_flows.jobs.promote import promotion_blocker
from sianode_flows.schemas import GeneratedStructureDocument

CELL = Structure(Lattice.cubic(4.0), ["Li", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def verified(**fields) -> GeneratedStructureDocument:
    """A sample that passes every check unless ``fields`` say otherwise."""
    passing = {
        "sample_id": "s",
        "method": "model",
        "seed": 0,
        "structure": CELL,
        "relaxed_structure": CELL,
        "valid": True,
        "has_required_elements": True,
        "has_forbidden_elements": False,
        "relax_converged": True,
        "unique": True,
        "novel": True,
        "e_above_hull": 0.02,
        "over_lithiated": False,
        "capacity_mAh_g": 2000.0,
    }
    return GeneratedStructureDocument(**(passing | fields))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"novel": False}, "not novel"),
        ({"novel": None}, "novelty not judged"),  # no training set: not promoted
        ({"unique": None}, "not unique"),
        ({"e_above_hull": 0.3}, "above the hull"),
        ({"capacity_mAh_g": 1000.0}, "low capacity"),
    ],
)
def test_promotion_needs_every_check_and_judged_novelty(fields, reason):
    assert promotion_blocker(verified(**fields), min_capacity=1500) == reason
