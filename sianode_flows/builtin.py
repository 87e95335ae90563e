"""Built-in demo candidates, built from published crystallographic data.

No database files are shipped: the structures are generated here from the space
group, lattice parameter and Wyckoff positions of Li15Si4 (I-43d, a = 10.685 A;
Obrovac and Christensen, Electrochem. Solid-State Lett. 7, A93 (2004); Materials
Project mp-569849), then reduced to the 38-atom primitive cell. The Li-Si-X
variants put one X on one of the eight Si sites of that cell (Li30Si7X), the
substitution of the paper's Si7Ge1 example.
"""

from __future__ import annotations

from pymatgen.core import Lattice, Structure

from sianode_flows.schemas import StructureRecord

LI15SI4_REFERENCE = (
    "Li15Si4, I-43d, a = 10.685 A: Obrovac & Christensen, Electrochem. Solid-State "
    "Lett. 7, A93 (2004); Materials Project mp-569849"
)
SUBSTITUENTS = ("Ge", "Sn", "Zn")


def li15si4(primitive: bool = True) -> Structure:
    """Return Li15Si4 (I-43d) from its Wyckoff positions.

    Parameters
    ----------
    primitive
        Return the 38-atom primitive cell instead of the 76-atom conventional one.

    Returns
    -------
    Structure
        Li15Si4: Li on 48e and 12a, Si on 16c.
    """
    conventional = Structure.from_spacegroup(
        "I-43d",
        Lattice.cubic(10.685),
        ["Li", "Li", "Si"],
        [[0.59609, 0.12693, 0.21344], [0.75, 0.125, 0.0], [0.20757, 0.20757, 0.20757]],
    )
    return conventional.get_primitive_structure() if primitive else conventional


def substituted(host: Structure, element: str, site_element: str = "Si") -> Structure:
    """Return a copy of a host with its first ``site_element`` site replaced.

    Parameters
    ----------
    host
        Structure to substitute into.
    element
        Element put on the site.
    site_element
        Element whose first site is replaced.

    Returns
    -------
    Structure
        The substituted structure (not relaxed).
    """
    index = next(i for i, site in enumerate(host) if site.specie.symbol == site_element)
    variant = host.copy()
    variant.replace(index, element)
    return variant


def builtin_records() -> list[StructureRecord]:
    """Return the demo candidates: Li15Si4 and Li30Si7X for X in Ge, Sn, Zn."""
    host = li15si4()
    records = [
        StructureRecord(
            source="builtin",
            source_id="Li15Si4",
            structure=host,
            properties={"reference": LI15SI4_REFERENCE},
        )
    ]
    for element in SUBSTITUENTS:
        variant = substituted(host, element)
        records.append(
            StructureRecord(
                source="builtin",
                source_id=variant.composition.formula.replace(" ", ""),
                structure=variant,
                properties={
                    "reference": LI15SI4_REFERENCE,
                    "substitution": f"{element} on one of eight Si sites",
                },
            )
        )
    return records
