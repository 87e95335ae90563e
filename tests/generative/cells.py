"""Small Li-Si(-Ge) cells for the generative tests, built from their prototypes."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure


def small_cells() -> dict[str, Structure]:
    """Small Li-Si(-Ge) cells (2-8 atoms), built from their prototypes."""
    sg = Structure.from_spacegroup
    fcc = Lattice.cubic
    return {
        "Si": sg("Fd-3m", fcc(5.43), ["Si"], [[0, 0, 0]]).get_primitive_structure(),
        "Si-conventional": sg("Fd-3m", fcc(5.43), ["Si"], [[0, 0, 0]]),
        "LiSi-B2": Structure(fcc(3.0), ["Li", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "Li2Si": sg(
            "Fm-3m", fcc(6.0), ["Si", "Li"], [[0, 0, 0], [0.25] * 3]
        ).get_primitive_structure(),
        "Li3Si": sg(
            "Fm-3m", fcc(6.2), ["Si", "Li", "Li"], [[0, 0, 0], [0.5] * 3, [0.25] * 3]
        ).get_primitive_structure(),
        "LiGe-B2": Structure(fcc(3.1), ["Li", "Ge"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "Li2Ge": sg(
            "Fm-3m", fcc(6.2), ["Ge", "Li"], [[0, 0, 0], [0.25] * 3]
        ).get_primitive_structure(),
        "LiSi2": Structure(
            Lattice.hexagonal(3.9, 4.2),
            ["Li", "Si", "Si"],
            [[0, 0, 0], [1 / 3, 2 / 3, 0.5], [2 / 3, 1 / 3, 0.5]],
        ),
    }
