"""Convex-hull science: reference phases, lithiation limit, energy above hull."""

import pytest
from pymatgen.core import Composition, Lattice, Structure

from sianode_flows.analysis.hull import (
    chemsys_of,
    element_prototype,
    hull_position,
    li_per_host,
    max_li_per_host,
    missing_elements,
    phase_diagram,
    phases_in_system,
)


def cell(*symbols: str) -> Structure:
    coords = [[i / len(symbols), 0, 0] for i in range(len(symbols))]
    return Structure(Lattice.cubic(3.0 * len(symbols)), list(symbols), coords)


def test_prototypes_are_the_textbook_lattices():
    silicon = element_prototype("Si")
    assert len(silicon) == 2 and silicon.get_space_group_info()[1] == 227  # diamond
    lithium = element_prototype("Li")
    assert len(lithium) == 2 and lithium.get_space_group_info()[1] == 229  # bcc
    assert element_prototype("Mg").get_space_group_info()[1] == 194  # hcp
    assert element_prototype("Al").get_space_group_info()[1] == 225  # fcc
    assert element_prototype("Pd").composition.reduced_formula == "Pd"  # no table entry: fcc


def test_lithiation_per_host_atom():
    assert li_per_host(Composition("Li15Si4")) == pytest.approx(3.75)
    assert li_per_host(Composition("Li22Si5")) == pytest.approx(4.4)
    assert li_per_host(Composition("Li")) is None
    known = [Composition(f) for f in ("Li15Si4", "Li22Si5", "LiSi", "Li3Sb", "Si")]
    assert max_li_per_host(known, "Li-Si") == pytest.approx(4.4)
    assert max_li_per_host(known, "Li-Si-Ge") == pytest.approx(4.4)  # subsystems count
    assert max_li_per_host(known, "Li-Sb") == pytest.approx(3.0)
    assert max_li_per_host(known, "Ge-Si") is None


def test_phases_in_system_keeps_subsystems_and_the_smallest_polymorphs():
    references = [
        ("a", cell("Li", "Si")),
        ("b", cell("Li", "Si", "Li", "Si")),  # a larger LiSi cell
        ("c", cell("Li", "Ge")),
        ("d", cell("Si")),
        ("e", cell("Li", "Sn")),
    ]
    kept = phases_in_system(references, "Ge-Li-Si", per_formula=1)
    assert [key for key, _ in kept] == ["c", "a", "d"]
    assert missing_elements([s for _, s in kept], "Ge-Li-Si") == ["Ge", "Li"]
    assert chemsys_of(Composition("Si2Li")) == "Li-Si"


def test_energy_above_hull_and_decomposition():
    # Li at -1.9, Si at -5.4 eV/atom, LiSi 0.2 eV/atom below their mix: on the hull
    diagram = phase_diagram(
        [(Composition("Li"), -1.9), (Composition("Si"), -5.4), (Composition("LiSi"), -3.85)]
    )
    on = hull_position(diagram, Composition("LiSi"), -3.85)
    assert on.e_above_hull == pytest.approx(0.0, abs=1e-9)
    assert on.decomposition == {"LiSi": pytest.approx(1.0)}
    # Li3Si 0.05 eV/atom above the Li + LiSi tie line decomposes into them
    tie = 0.5 * -1.9 + 0.5 * -3.85
    above = hull_position(diagram, Composition("Li3Si"), tie + 0.05)
    assert above.e_above_hull == pytest.approx(0.05)
    assert above.decomposition == {"Li": pytest.approx(0.5), "LiSi": pytest.approx(0.5)}
    below = hull_position(diagram, Composition("Li3Si"), tie - 0.02)
    assert below.e_above_hull == pytest.approx(-0.02)  # a new ground state
