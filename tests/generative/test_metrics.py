import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sianode_flows.builtin import li15si4, substituted
from sianode_flows.generative.metrics import (
    check_validity,
    energy_change_fraction,
    novel_mask,
    summarize_targets,
    unique_mask,
)


@pytest.fixture(scope="module")
def host():
    return li15si4()


@pytest.fixture(scope="module")
def perturbed(host):
    copy = host.copy()
    rng = np.random.default_rng(0)
    for index in range(len(copy)):
        copy.translate_sites([index], rng.normal(0, 0.02, 3), frac_coords=False)
    return copy


def test_valid_structure_passes(host):
    assert check_validity(host) == (True, None)


def test_overlapping_atoms_are_rejected():
    # Li and Si 0.3 A apart in a 4 A cube
    structure = Structure(
        Lattice.cubic(4.0), ["Li", "Si"], [[0, 0, 0], [0.3, 0, 0]], coords_are_cartesian=True
    )
    valid, reason = check_validity(structure)
    assert not valid
    assert "0.300 A apart" in reason


def test_overlap_across_the_cell_boundary_is_rejected():
    structure = Structure(
        Lattice.cubic(4.0), ["Li", "Si"], [[0.1, 0, 0], [3.8, 0, 0]], coords_are_cartesian=True
    )
    valid, reason = check_validity(structure)
    assert not valid
    assert "apart" in reason


def test_atoms_0_6_apart_pass_the_distance_check():
    structure = Structure(
        Lattice.cubic(2.5), ["Li", "Si"], [[0, 0, 0], [0.6, 0, 0]], coords_are_cartesian=True
    )
    assert check_validity(structure) == (True, None)


def test_density_and_order_are_checked(host):
    dilute = Structure(Lattice.cubic(30.0), ["Li", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    valid, reason = check_validity(dilute)
    assert not valid
    assert "density" in reason
    disordered = Structure(Lattice.cubic(3.0), [{"Li": 0.5, "Si": 0.5}], [[0, 0, 0]])
    valid, reason = check_validity(disordered)
    assert not valid
    assert "disordered" in reason


def test_energy_change_fraction():
    assert energy_change_fraction(-4.0, -4.1) == pytest.approx(0.025)
    assert energy_change_fraction(-4.0, -3.9) == pytest.approx(0.025)
    assert energy_change_fraction(0.0, 0.0) == 0.0
    assert math.isinf(energy_change_fraction(0.0, -1.0))


def test_supercells_and_perturbed_copies_are_not_unique(host, perturbed):
    variant = substituted(host, "Ge")
    structures = [host, host * (2, 1, 1), perturbed, variant, variant.copy()]
    assert unique_mask(structures) == [True, False, False, True, False]


def test_novelty_against_the_training_set(host, perturbed):
    variant = substituted(host, "Ge")
    assert novel_mask([perturbed, host * (1, 1, 2), variant], [host]) == [False, False, True]
    assert novel_mask([host], []) == [True]


def test_summarize_targets():
    summary = summarize_targets([1.0, 2.0, 3.0, None, float("nan")], 2.0)
    assert summary == {
        "count": 3,
        "median": 2.0,
        "p25": 1.5,
        "p75": 2.5,
        "median_abs_error": 1.0,
        "target": 2.0,
    }
    empty = summarize_targets([None], 1.6)
    assert empty["count"] == 0
    assert empty["median"] is None
