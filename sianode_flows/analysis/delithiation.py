"""Random delithiation of a charged structure over a range of states of charge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sianode_flows.analysis.capacity import MIGRANT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Structure


@dataclass(frozen=True)
class DelithiatedStructure:
    """One delithiated configuration.

    Attributes
    ----------
    structure
        The structure with some migrant sites removed (not relaxed).
    soc
        State of charge: migrant atoms kept over migrant atoms in the charged cell.
    n_migrant
        Number of migrant atoms kept.
    removed_sites
        Indices, in the charged structure, of the sites removed.
    """

    structure: Structure
    soc: float
    n_migrant: int
    removed_sites: tuple[int, ...]


def soc_targets(
    n_configs: int,
    soc_range: tuple[float, float],
    include_charged: bool,
    include_delithiated: bool,
    rng: np.random.Generator,
) -> list[float]:
    """Return the target states of charge, one per configuration.

    The ends (SOC 1 and SOC 0) come first when asked for; the remaining
    configurations get one uniform draw in each of equal-width bins of ``soc_range``
    (stratified sampling), so that every part of the range is represented.

    Parameters
    ----------
    n_configs
        Total number of configurations, ends included.
    soc_range
        Lower and upper bound of the random states of charge.
    include_charged
        Whether to include the charged end (SOC 1).
    include_delithiated
        Whether to include the fully delithiated end (SOC 0).
    rng
        Random generator.

    Returns
    -------
    list of float
        Target states of charge.
    """
    low, high = soc_range
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"soc_range must satisfy 0 <= low <= high <= 1, got {soc_range}")
    ends = [1.0] * include_charged + [0.0] * include_delithiated
    n_random = n_configs - len(ends)
    if n_random < 0:
        raise ValueError(f"n_configs={n_configs} is smaller than the {len(ends)} ends")
    edges = np.linspace(low, high, n_random + 1)
    draws = rng.uniform(edges[:-1], edges[1:]) if n_random else np.empty(0)
    return ends + [float(x) for x in draws]


def delithiate(
    structure: Structure,
    n_configs: int = 30,
    seed: int = 0,
    soc_range: tuple[float, float] = (0.0, 1.0),
    include_charged: bool = True,
    include_delithiated: bool = True,
    migrant: str = MIGRANT,
    round_number: int = 1,
    migrant_sites: Sequence[int] | None = None,
) -> list[DelithiatedStructure]:
    """Remove migrant atoms at random to make partially charged configurations.

    For each target state of charge, ``round(soc * n_Li)`` migrant atoms are kept
    (at least one and at most ``n_Li - 1`` for interior targets, so that only the
    requested ends are fully charged or empty) and the removed sites are drawn
    uniformly without replacement. The same seed gives the same configurations.

    Sequential sampling draws in rounds: round 1 (the default) is drawn from the
    generator seeded with ``seed`` and holds the requested ends; round k > 1 holds
    ``n_configs`` interior configurations, stratified over ``soc_range`` on their
    own, drawn from a generator seeded with ``(seed, k)``. A round is therefore the
    same whatever the rounds drawn before or after it.

    Parameters
    ----------
    structure
        The charged (fully lithiated) structure.
    n_configs
        Number of configurations, ends included.
    seed
        Seed of the random generator.
    soc_range
        Range of the random states of charge (fractions of Li kept).
    include_charged
        Include the charged structure itself (SOC 1).
    include_delithiated
        Include the fully delithiated framework (SOC 0).
    migrant
        Element symbol of the mobile ion.
    round_number
        Sampling round (1-based); rounds after the first hold no ends.
    migrant_sites
        The migrant sites, in the order in which the draws pick them (by default
        the structure's order). A structure built on another's cell passes its
        sites in the other's order (see :func:`matching_migrant_sites`) to remove
        the same sites as the other with the same seed: common random numbers.

    Returns
    -------
    list of DelithiatedStructure
        The configurations, in the order of their targets.
    """
    own_sites = [i for i, site in enumerate(structure) if site.specie.symbol == migrant]
    if migrant_sites is None:
        migrant_sites = own_sites
    elif sorted(migrant_sites) != own_sites:
        raise ValueError(f"migrant_sites must be an ordering of the {migrant} sites")
    migrant_sites = list(migrant_sites)
    n_total = len(migrant_sites)
    if n_total == 0:
        raise ValueError(f"{structure.composition.reduced_formula} contains no {migrant}")
    if round_number < 1:
        raise ValueError(f"round_number must be 1 or more, got {round_number}")
    if round_number > 1:
        include_charged = include_delithiated = False
    rng = np.random.default_rng(seed if round_number == 1 else [seed, round_number])
    targets = soc_targets(n_configs, soc_range, include_charged, include_delithiated, rng)
    n_ends = int(include_charged) + int(include_delithiated)
    configs = []
    for index, target in enumerate(targets):
        n_keep = round(target * n_total)
        if index >= n_ends and n_total > 1:
            n_keep = int(np.clip(n_keep, 1, n_total - 1))
        removed = tuple(
            sorted(int(i) for i in rng.choice(migrant_sites, n_total - n_keep, replace=False))
        )
        config = structure.copy()
        config.remove_sites(list(removed))
        configs.append(
            DelithiatedStructure(
                structure=config,
                soc=n_keep / n_total,
                n_migrant=n_keep,
                removed_sites=removed,
            )
        )
    return configs


def matching_migrant_sites(
    structure: Structure,
    reference: Structure,
    migrant: str = MIGRANT,
    tolerance: float = 0.02,
    length_tolerance: float = 0.05,
) -> list[int] | None:
    """Return the structure's migrant sites in the reference's order, if built on its cell.

    A structure is built on the reference's cell (a substitution variant, say) when
    its lattice is the reference's (lengths within ``length_tolerance``, relative;
    angles within 1 degree) and every site of the reference has one of the
    structure's at the same fractional position (within ``tolerance``, periodic),
    migrant sites on migrant sites; the framework's elements may differ.

    Parameters
    ----------
    structure
        The candidate.
    reference
        The reference, e.g. Li15Si4.
    migrant
        Element symbol of the mobile ion.
    tolerance
        Largest fractional distance between matched sites.
    length_tolerance
        Largest relative difference of the lattice lengths.

    Returns
    -------
    list of int or None
        For each migrant site of the reference, in its order, the index of the
        structure's migrant site at the same position; ``None`` when the structure
        is not built on the reference's cell.
    """
    if len(structure) != len(reference):
        return None
    lengths = np.asarray(structure.lattice.abc)
    if not np.allclose(lengths, reference.lattice.abc, rtol=length_tolerance, atol=0):
        return None
    if not np.allclose(structure.lattice.angles, reference.lattice.angles, atol=1.0):
        return None
    is_migrant = np.array([site.specie.symbol == migrant for site in structure])
    ref_migrant = np.array([site.specie.symbol == migrant for site in reference])
    if is_migrant.sum() != ref_migrant.sum() or not ref_migrant.any():
        return None
    delta = reference.frac_coords[:, None, :] - structure.frac_coords[None, :, :]
    distance = np.abs(delta - np.round(delta)).max(axis=2)
    distance[ref_migrant[:, None] != is_migrant[None, :]] = np.inf
    nearest = distance.argmin(axis=1)
    if distance[np.arange(len(reference)), nearest].max() > tolerance:
        return None
    if np.unique(nearest).size != len(reference):
        return None
    return [int(index) for index in nearest[ref_migrant]]
