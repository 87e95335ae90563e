"""Gravimetric capacity of a lithiated anode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pymatgen.core import Composition
from scipy.constants import physical_constants

if TYPE_CHECKING:
    from pymatgen.core import Structure

FARADAY_C_PER_MOL: float = physical_constants["Faraday constant"][0]
"""Faraday constant (C/mol)."""

MIGRANT = "Li"


def host_composition(composition: Composition | Structure, migrant: str = MIGRANT) -> Composition:
    """Return the delithiated host: the composition with every migrant removed.

    Parameters
    ----------
    composition
        Composition, or a structure whose composition is used.
    migrant
        Element symbol of the mobile ion.

    Returns
    -------
    Composition
        The composition without the migrant element.
    """
    comp = composition if isinstance(composition, Composition) else composition.composition
    return Composition({el: amt for el, amt in comp.items() if el.symbol != migrant})


def gravimetric_capacity(composition: Composition | Structure, migrant: str = MIGRANT) -> float:
    """Return the gravimetric capacity of a fully lithiated anode (mAh/g).

    The capacity counts one electron per Li and divides by the mass of the
    delithiated host, as is usual for anodes: ``n_Li * F / 3.6 / M(host)``.
    Li15Si4 gives 3578.6 mAh/g.

    Parameters
    ----------
    composition
        Composition of the charged (lithiated) anode, or a structure.
    migrant
        Element symbol of the mobile ion.

    Returns
    -------
    float
        Capacity in mAh per gram of delithiated host.

    Raises
    ------
    ValueError
        If the composition has no migrant or no host atoms.
    """
    comp = composition if isinstance(composition, Composition) else composition.composition
    n_migrant = comp[migrant]
    if n_migrant <= 0:
        raise ValueError(f"{comp.reduced_formula} contains no {migrant}")
    host = host_composition(comp, migrant)
    if host.num_atoms == 0:
        raise ValueError(f"{comp.reduced_formula} has no host atoms besides {migrant}")
    return float(n_migrant * FARADAY_C_PER_MOL / 3.6 / host.weight)
