"""Convex hulls of known phases: energy above hull, decomposition, lithiation limit.

The science of judging a generated structure against what is known: pick the
known phases of its chemical system, build the convex hull of their energies
(pymatgen's :class:`~pymatgen.analysis.phase_diagram.PhaseDiagram`) and read the
sample's energy above it and the phases it would decompose into. Energies must
come from one potential with one set of settings; the relaxation itself happens
in :mod:`sianode_flows.jobs.hull`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Element, Lattice, Structure

from sianode_flows.analysis.capacity import MIGRANT

PROTOTYPES: dict[str, tuple[str, float]] = {
    "Li": ("bcc", 3.44),
    "Na": ("bcc", 4.23),
    "K": ("bcc", 5.23),
    "Mg": ("hcp", 3.21),
    "Ca": ("fcc", 5.58),
    "B": ("fcc", 3.0),
    "Al": ("fcc", 4.05),
    "Ga": ("fcc", 4.2),
    "In": ("fcc", 4.7),
    "C": ("diamond", 3.57),
    "Si": ("diamond", 5.43),
    "Ge": ("diamond", 5.66),
    "Sn": ("diamond", 6.49),
    "Zn": ("hcp", 2.66),
    "Cd": ("hcp", 2.98),
    "Cu": ("fcc", 3.61),
    "Ag": ("fcc", 4.09),
    "Au": ("fcc", 4.08),
    "Ni": ("fcc", 3.52),
    "Fe": ("bcc", 2.87),
    "Sb": ("fcc", 4.3),
    "Bi": ("fcc", 4.7),
    "Pb": ("fcc", 4.95),
}
"""Element -> (lattice, lattice parameter in A) of the prototype used when no known
structure of the element is at hand (Sb and Bi are rhombohedral in nature: fcc is a
starting point the relaxation cannot turn into A7, so their hull is an upper bound)."""

ON_HULL = 1e-6
"""Energy above hull (eV/atom) below which a phase counts as on the hull."""


def element_prototype(symbol: str) -> Structure:
    """Return a simple crystal of one element to relax when none is known.

    Parameters
    ----------
    symbol
        The element.

    Returns
    -------
    Structure
        bcc, fcc, hcp or diamond cell from :data:`PROTOTYPES`; fcc with a lattice
        parameter of 2^(3/2) times the atomic radius for other elements.
    """
    kind, a = PROTOTYPES.get(symbol, ("fcc", 0.0))
    if a == 0.0:
        radius = Element(symbol).atomic_radius or 1.5
        a = 2.0**1.5 * float(radius)
    if kind == "bcc":
        return Structure(Lattice.cubic(a), [symbol] * 2, [[0, 0, 0], [0.5, 0.5, 0.5]])
    if kind == "hcp":
        lattice = Lattice.hexagonal(a, a * 1.633)
        return Structure(lattice, [symbol] * 2, [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])
    if kind == "diamond":
        return Structure.from_spacegroup(
            "Fd-3m", Lattice.cubic(a), [symbol], [[0, 0, 0]]
        ).get_primitive_structure()
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), [symbol], [[0, 0, 0]]
    ).get_primitive_structure()


def chemsys_of(composition: Composition | Structure) -> str:
    """Return the chemical system, e.g. ``"Li-Si"`` (elements sorted alphabetically)."""
    comp = composition if isinstance(composition, Composition) else composition.composition
    return "-".join(sorted(el.symbol for el in comp.elements))


def li_per_host(composition: Composition | Structure) -> float | None:
    """Return Li atoms per host (non-Li) atom; None without host atoms."""
    comp = composition if isinstance(composition, Composition) else composition.composition
    host = comp.num_atoms - comp[MIGRANT]
    return float(comp[MIGRANT] / host) if host > 0 else None


def in_system(composition: Composition | Structure, chemsys: str) -> bool:
    """Whether every element of a composition lies in a chemical system."""
    comp = composition if isinstance(composition, Composition) else composition.composition
    return {el.symbol for el in comp.elements} <= set(chemsys.split("-"))


def max_li_per_host(compositions: Iterable[Composition | Structure], chemsys: str) -> float | None:
    """Return the most Li per host atom of the known compositions of a system.

    Parameters
    ----------
    compositions
        Known compositions or structures (any system; other systems are ignored).
    chemsys
        The system; its subsystems count (Li22Si5 bounds Li-Si-Ge too).

    Returns
    -------
    float or None
        The largest Li/host ratio; None when no known phase of the system has Li.
    """
    ratios = [
        ratio
        for comp in compositions
        if in_system(comp, chemsys) and (ratio := li_per_host(comp)) is not None and ratio > 0
    ]
    return max(ratios) if ratios else None


def phases_in_system(
    references: Iterable[tuple[str, Structure]],
    chemsys: str,
    per_formula: int = 4,
    max_sites: int = 80,
) -> list[tuple[str, Structure]]:
    """Pick the known phases whose elements all lie in a chemical system.

    Parameters
    ----------
    references
        ``(source_id, structure)`` of known structures (any system).
    chemsys
        The system, e.g. ``"Li-Si-Ge"``: its subsystems' phases are kept too.
    per_formula
        Polymorphs kept per reduced formula, the smallest cells first (the hull
        only needs the lowest, and the ground state is usually among the small).
    max_sites
        Largest cell kept.

    Returns
    -------
    list of (str, Structure)
        Ordered structures of the system, sorted by formula then size.
    """
    by_formula: dict[str, list[tuple[str, Structure]]] = defaultdict(list)
    for source_id, structure in references:
        if not structure.is_ordered or len(structure) > max_sites:
            continue
        if len(structure) and in_system(structure, chemsys):
            by_formula[structure.composition.reduced_formula].append((source_id, structure))
    kept = []
    for formula in sorted(by_formula):
        ranked = sorted(by_formula[formula], key=lambda pair: (len(pair[1]), pair[0]))
        kept.extend(ranked[:per_formula])
    return kept


def missing_elements(phases: Iterable[Composition | Structure], chemsys: str) -> list[str]:
    """Return the elements of a system that have no elemental phase among ``phases``.

    Parameters
    ----------
    phases
        Compositions or structures of the known phases.
    chemsys
        The system, e.g. ``"Li-Si"``.

    Returns
    -------
    list of str
        The system's elements, in its order, that no one-element phase covers.
    """
    present = set()
    for phase in phases:
        comp = phase if isinstance(phase, Composition) else phase.composition
        if len(comp.elements) == 1:
            present.add(comp.elements[0].symbol)
    return [el for el in chemsys.split("-") if el not in present]


def phase_diagram(entries: Sequence[tuple[Composition, float]]) -> PhaseDiagram:
    """Build the convex hull of compositions and their energies per atom.

    Parameters
    ----------
    entries
        ``(composition, energy per atom in eV)``; every element of the system
        needs at least one elemental entry.

    Returns
    -------
    PhaseDiagram
        pymatgen's phase diagram of the entries.
    """
    return PhaseDiagram(
        [
            PDEntry(comp, energy * comp.num_atoms, name=comp.reduced_formula)
            for comp, energy in entries
            if math.isfinite(energy)
        ]
    )


@dataclass(frozen=True)
class HullPosition:
    """Where a composition and energy lie against a hull.

    Parameters
    ----------
    e_above_hull
        Energy above the hull (eV/atom); negative below it (a new ground state).
    decomposition
        Hull phases it decomposes into: reduced formula -> fraction of atoms.
    """

    e_above_hull: float
    decomposition: dict[str, float]


def hull_position(
    diagram: PhaseDiagram, composition: Composition, energy_per_atom: float
) -> HullPosition:
    """Return a sample's energy above the hull and its decomposition products.

    Parameters
    ----------
    diagram
        The reference hull.
    composition
        The sample's composition (its elements must lie in the hull's system).
    energy_per_atom
        The sample's energy (eV/atom), with the hull's potential and settings.

    Returns
    -------
    HullPosition
        Energy above the hull (below zero if the sample is lower than every
        known mix) and the hull phases at its composition.
    """
    entry = PDEntry(composition, energy_per_atom * composition.num_atoms)
    decomposition, e_hull = diagram.get_decomp_and_e_above_hull(entry, allow_negative=True)
    fractions: dict[str, float] = defaultdict(float)
    for phase, amount in decomposition.items():
        fractions[phase.composition.reduced_formula] += float(amount)
    return HullPosition(float(e_hull), dict(sorted(fractions.items(), key=lambda kv: -kv[1])))
