"""Metrics of generated structures: validity, stability, uniqueness, novelty, targets."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

MIN_DISTANCE = 0.5
"""Shortest interatomic distance of a valid structure (A)."""

DENSITY_RANGE = (0.5, 25.0)
"""Densities of a valid structure (g/cm^3)."""

STABLE_ENERGY_CHANGE = 0.04
"""Largest relative change of the energy per atom on relaxation of a stable sample."""


def check_validity(structure: Structure) -> tuple[bool, str | None]:
    """Check that a structure is a physically sensible crystal.

    Intermetallics need no charge balance, so none is checked.

    Parameters
    ----------
    structure
        The structure to check.

    Returns
    -------
    tuple of (bool, str or None)
        Whether it is valid, and why not if it is not.
    """
    if len(structure) < 1:
        return False, "no sites"
    if not structure.is_ordered:
        return False, "disordered (partial occupancies)"
    volume = structure.volume
    if not math.isfinite(volume) or volume <= 0:
        return False, f"non-positive cell volume {volume:.3g} A^3"
    centers, _, _, distances = structure.get_neighbor_list(MIN_DISTANCE)
    if len(centers):
        return False, f"atoms {float(np.min(distances)):.3f} A apart (< {MIN_DISTANCE} A)"
    density = float(structure.density)
    low, high = DENSITY_RANGE
    if not low <= density <= high:
        return False, f"density {density:.3g} g/cm^3 outside [{low}, {high}]"
    return True, None


def energy_change_fraction(initial_energy_per_atom: float, final_energy_per_atom: float) -> float:
    """Return the relative change of the energy on relaxation.

    Parameters
    ----------
    initial_energy_per_atom
        Energy of the structure as generated (eV/atom).
    final_energy_per_atom
        Energy after relaxation (eV/atom).

    Returns
    -------
    float
        ``|E_final - E_initial| / |E_initial|``; infinite when ``E_initial`` is zero
        and the energy changed. Samples below 0.04 count as stable.
    """
    change = abs(final_energy_per_atom - initial_energy_per_atom)
    if initial_energy_per_atom == 0:
        return 0.0 if change == 0 else math.inf
    return float(change / abs(initial_energy_per_atom))


def _matcher() -> StructureMatcher:
    """Return pymatgen's structure matcher with its default tolerances."""
    return StructureMatcher()


def unique_mask(structures: Sequence[Structure]) -> list[bool]:
    """Mark the first structure of each group of matching structures.

    Structures are bucketed by reduced formula, then compared with pymatgen's
    ``StructureMatcher`` (default tolerances; supercells match their cell).

    Parameters
    ----------
    structures
        The structures, in order.

    Returns
    -------
    list of bool
        ``True`` for a structure that matches none before it.
    """
    matcher = _matcher()
    seen: dict[str, list[Structure]] = defaultdict(list)
    mask = []
    for structure in structures:
        bucket = seen[structure.composition.reduced_formula]
        duplicate = any(matcher.fit(structure, other) for other in bucket)
        if not duplicate:
            bucket.append(structure)
        mask.append(not duplicate)
    return mask


def novel_mask(
    structures: Sequence[Structure], training_structures: Sequence[Structure]
) -> list[bool]:
    """Mark the structures that match no training structure.

    Parameters
    ----------
    structures
        The structures to judge.
    training_structures
        The structures the model was trained on (or the baseline's references).

    Returns
    -------
    list of bool
        ``True`` for a structure that matches no training structure of the same
        reduced formula.
    """
    matcher = _matcher()
    training: dict[str, list[Structure]] = defaultdict(list)
    for structure in training_structures:
        training[structure.composition.reduced_formula].append(structure)
    return [
        not any(
            matcher.fit(structure, known)
            for known in training.get(structure.composition.reduced_formula, [])
        )
        for structure in structures
    ]


def summarize_targets(
    values: Sequence[float | None], target_value: float
) -> dict[str, float | int | None]:
    """Summarize the values of a property against its target.

    Parameters
    ----------
    values
        The values; ``None`` and non-finite ones are left out.
    target_value
        The value asked for.

    Returns
    -------
    dict
        ``count``, ``median``, ``p25``, ``p75`` and ``median_abs_error`` (the median
        of ``|value - target|``), ``None`` where there is no value, and ``target``.
    """
    kept = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if kept.size == 0:
        return {
            "count": 0,
            "median": None,
            "p25": None,
            "p75": None,
            "median_abs_error": None,
            "target": float(target_value),
        }
    return {
        "count": int(kept.size),
        "median": float(np.median(kept)),
        "p25": float(np.percentile(kept, 25)),
        "p75": float(np.percentile(kept, 75)),
        "median_abs_error": float(np.median(np.abs(kept - target_value))),
        "target": float(target_value),
    }


def within_tolerance(value: float, target: float, prop: str) -> bool:
    """Whether an achieved value hits its target: R_t within 0.2 A, capacity within 15 %.

    Parameters
    ----------
    value
        The achieved value.
    target
        The target value.
    prop
        ``"r_t"`` or ``"capacity"``.

    Returns
    -------
    bool
        Whether ``value`` lies within the property's hit tolerance of ``target``.
    """
    from sianode_flows.schemas.generation import CAPACITY_HIT_TOLERANCE, R_T_HIT_TOLERANCE

    if prop == "r_t":
        return abs(value - target) <= R_T_HIT_TOLERANCE
    return abs(value - target) <= CAPACITY_HIT_TOLERANCE * abs(target)
