"""Checks that a structure is a usable charged Li-Si-X anode candidate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Element

from sianode_flows.analysis.capacity import MIGRANT

if TYPE_CHECKING:
    from collections.abc import Collection

    from pymatgen.core import Structure

REQUIRED_ELEMENTS = ("Li", "Si")
MIN_INTERATOMIC_DISTANCE_A = 0.5
"""Closer atoms than this (A) mean a broken structure, not a real crystal."""


class CandidateError(ValueError):
    """A structure that cannot be screened, with the reason in its message.

    Parameters
    ----------
    message
        The reason.
    stage
        The filter stage that refused it: one of :data:`FILTER_STAGES`.
    reason
        The reason without the specifics of the structure, to count refusals by;
        the message by default.
    """

    def __init__(self, message: str, stage: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.reason = reason or message


FILTER_STAGES = ("chemistry", "alloying", "ordered", "size", "geometry")
"""Filter stages, in the order they are applied."""


def is_metal_or_metalloid(symbol: str) -> bool:
    """Return whether an element counts as a metal or metalloid alloying partner."""
    element = Element(symbol)
    return bool(element.is_metal or element.is_metalloid)


def is_alloy(structure: Structure, migrant: str = MIGRANT) -> bool:
    """Return whether every element of a structure is the migrant, a metal or a metalloid."""
    return all(
        el.symbol == migrant or is_metal_or_metalloid(el.symbol)
        for el in structure.composition.elements
    )


def check_candidate(
    structure: Structure,
    required_elements: Collection[str] = REQUIRED_ELEMENTS,
    max_sites: int | None = 400,
    alloying_elements_only: bool = True,
    migrant: str = MIGRANT,
) -> None:
    """Raise :class:`CandidateError` if the structure cannot be screened.

    Parameters
    ----------
    structure
        Charged structure to check.
    required_elements
        Elements that must be present (Li and Si by default).
    max_sites
        Largest number of sites accepted; ``None`` for no limit.
    alloying_elements_only
        Require every element besides Li and Si to be a metal or metalloid
        (the paper's Li_x Si_y X_z filter).
    migrant
        Element symbol of the mobile ion.

    Raises
    ------
    CandidateError
        With a message that names the problem.
    """
    formula = structure.composition.reduced_formula
    symbols = {el.symbol for el in structure.composition.elements}
    missing = [el for el in required_elements if el not in symbols]
    if missing:
        raise CandidateError(
            f"{formula}: contains no {', '.join(missing)}",
            "chemistry",
            reason=f"contains no {', '.join(missing)}",
        )
    if alloying_elements_only:
        others = sorted(
            s for s in symbols - {migrant, *required_elements} if not is_metal_or_metalloid(s)
        )
        if others:
            raise CandidateError(
                f"{formula}: {', '.join(others)} is not a metal or metalloid",
                "alloying",
                reason="an element besides Li and Si is not a metal or metalloid",
            )
    if not structure.is_ordered:
        raise CandidateError(
            f"{formula}: disordered structure (partial occupancies); order it first",
            "ordered",
            reason="disordered (partial occupancies)",
        )
    if max_sites is not None and len(structure) > max_sites:
        raise CandidateError(
            f"{formula}: {len(structure)} sites is more than the limit of {max_sites}",
            "size",
            reason=f"more than {max_sites} sites",
        )
    if len(structure) > 1:
        distances = structure.distance_matrix
        closest = distances[~np.eye(len(structure), dtype=bool)].min()
        if closest < MIN_INTERATOMIC_DISTANCE_A:
            raise CandidateError(
                f"{formula}: atoms {closest:.2f} A apart; the structure is broken",
                "geometry",
                reason=f"atoms closer than {MIN_INTERATOMIC_DISTANCE_A} A",
            )
