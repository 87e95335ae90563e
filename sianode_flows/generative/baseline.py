"""Baselines a generative model must beat: element substitution and random crystals.

Szymanski & Bartel find ion exchange (element substitution into known phases) the
strongest classical baseline for generative materials discovery; random symmetric
crystals (pyxtal) are the weakest sensible one. Both are seeded and reproducible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Element, Structure

from sianode_flows.analysis.capacity import gravimetric_capacity
from sianode_flows.generative.target import GenerationTarget

logger = logging.getLogger(__name__)

SUBSTITUENTS = ("Ge", "Sn", "Al", "Zn", "Mg", "Cu", "Ag", "B", "Ga", "In", "Sb")
"""Metals and metalloids put on Si (or X) sites by the substitution baseline."""

MAX_SUBSTITUTED_FRACTION = 0.5
"""Largest fraction of the substitutable sites that one sample replaces."""

MIGRANT = "Li"


def atomic_radius(element: str) -> float:
    """Return an element's atomic radius (A): empirical, else calculated, else 1.5 A."""
    el = Element(element)
    for radius in (el.atomic_radius, el.atomic_radius_calculated):
        if radius is not None:
            return float(radius)
    return 1.5


def radius_volume_ratio(old: Composition, new: Composition) -> float:
    """Return the volume ratio implied by a change of atomic radii.

    Parameters
    ----------
    old
        Composition before substitution.
    new
        Composition after substitution (same number of atoms).

    Returns
    -------
    float
        ``sum(r_new^3) / sum(r_old^3)`` over all atoms.
    """
    old_sum = sum(n * atomic_radius(el.symbol) ** 3 for el, n in old.items())
    new_sum = sum(n * atomic_radius(el.symbol) ** 3 for el, n in new.items())
    return float(new_sum / old_sum)


def _usable(reference: Structure, target: GenerationTarget) -> bool:
    """Whether a reference can seed substitutions: ordered, Li and a non-Li site."""
    if not reference.is_ordered:
        return False
    symbols = {el.symbol for el in reference.composition.elements}
    if symbols & set(target.forbidden_elements):
        return False
    return MIGRANT in symbols and len(symbols - {MIGRANT}) > 0


def substitute(
    reference: Structure, element: str, sites: Sequence[int], scale_volume: bool = True
) -> Structure:
    """Return a copy of a reference with some sites replaced by one element.

    Parameters
    ----------
    reference
        Ordered structure to substitute into.
    element
        Element put on the sites.
    sites
        Indices of the replaced sites.
    scale_volume
        Scale the cell volume by :func:`radius_volume_ratio`.

    Returns
    -------
    Structure
        The substituted structure.
    """
    new = reference.copy()
    for index in sites:
        new.replace(int(index), element)
    if scale_volume:
        new.scale_lattice(
            reference.volume * radius_volume_ratio(reference.composition, new.composition)
        )
    return new


def substitution_baseline(
    references: Sequence[Structure],
    target: GenerationTarget,
    n: int,
    seed: int,
    substituents: Sequence[str] = SUBSTITUENTS,
) -> list[Structure]:
    """Sample structures by element substitution into known Li-Si(-X) phases.

    For each sample a reference is drawn at random; a substituent X is drawn from
    ``substituents`` (without forbidden elements; a required element missing from
    the reference is always the one used); a random fraction (up to one half, at
    least one site) of its non-Li sites is replaced by X, keeping at least one site
    of every required element; the volume is scaled by the change in atomic radii.
    Only products whose capacity reaches the target's ``min_capacity_mAh_g`` are
    kept, and only references that some substitution can bring there are drawn:
    the baseline aims at the target as a model is asked to.

    Parameters
    ----------
    references
        Known structures with Li (e.g. Li15Si4 and its variants).
    target
        Required and forbidden elements.
    n
        Number of samples.
    seed
        Seed of the random draws: the same seed gives the same samples.
    substituents
        Elements that may be put on Si (or X) sites.

    Returns
    -------
    list of Structure
        ``n`` substituted structures.

    Raises
    ------
    ValueError
        If no reference is usable (ordered, with Li, a non-Li site and no forbidden
        element, and some substitution reaching the capacity) or no substituent is
        allowed.
    """
    rng = np.random.default_rng(seed)
    forbidden = set(target.forbidden_elements) | {MIGRANT}
    pool = [el for el in substituents if el not in forbidden]
    usable = [s for s in references if _usable(s, target)]
    if not usable:
        raise ValueError("no usable reference: ordered, with Li and a host, nothing forbidden")
    reachable = [
        s for s in usable if best_substituted_capacity(s, pool) >= target.min_capacity_mAh_g
    ]
    if not reachable:
        raise ValueError(
            f"no reference can reach {target.min_capacity_mAh_g:.0f} mAh/g by substitution"
        )
    usable = reachable
    samples: list[Structure] = []
    attempts = 0
    while len(samples) < n and attempts < 20 * max(n, 1):
        attempts += 1
        reference = usable[int(rng.integers(len(usable)))]
        symbols = {el.symbol for el in reference.composition.elements}
        missing = [el for el in target.required_elements if el not in symbols]
        choices = missing if missing else pool
        if not choices or len(missing) > 1:
            continue
        element = str(choices[int(rng.integers(len(choices)))])
        # replaceable sites: non-Li, not already X; never the last site of a required element
        counts = {el: 0 for el in symbols}
        sites = []
        for index in rng.permutation(len(reference)):
            symbol = reference[int(index)].specie.symbol
            if symbol in (MIGRANT, element):
                continue
            sites.append(int(index))
        if not sites:
            continue
        fraction = rng.uniform(0.0, MAX_SUBSTITUTED_FRACTION)
        n_sub = max(1, round(fraction * len(sites)))
        chosen = []
        for index in sites:
            symbol = reference[index].specie.symbol
            left = reference.composition[symbol] - counts[symbol]
            if symbol in target.required_elements and left <= 1:
                continue
            chosen.append(index)
            counts[symbol] += 1
            if len(chosen) == n_sub:
                break
        if not chosen:
            continue
        product = substitute(reference, element, sorted(chosen))
        if gravimetric_capacity(product) < target.min_capacity_mAh_g:
            continue
        samples.append(product)
    if len(samples) < n:
        logger.warning("substitution baseline: %d of %d samples drawn", len(samples), n)
    return samples


def best_substituted_capacity(reference: Structure, substituents: Sequence[str]) -> float:
    """Return the highest capacity a substitution into a reference can give (mAh/g).

    One site of the heaviest host element replaced by the lightest substituent, or
    up to half the host sites when that substituent is lighter; the reference's
    own capacity bounds it from below when every substituent is heavier than one
    site's worth of gain.
    """
    comp = reference.composition
    hosts = [el for el in comp.elements if el.symbol != MIGRANT]
    if not hosts or not substituents:
        return 0.0
    lightest = min((Element(x) for x in substituents), key=lambda el: float(el.atomic_mass))
    heaviest = max(hosts, key=lambda el: float(el.atomic_mass))
    n_host = sum(comp[el] for el in hosts)
    if float(lightest.atomic_mass) < float(heaviest.atomic_mass):
        n_sub = min(comp[heaviest], max(1, round(MAX_SUBSTITUTED_FRACTION * n_host)))
    else:
        n_sub = 1
    best = comp - Composition({heaviest: n_sub}) + Composition({lightest: n_sub})
    return gravimetric_capacity(best)


def _integer_counts(composition: Composition) -> tuple[list[str], list[int]]:
    """Return species and integer atom counts of a composition."""
    species = [el.symbol for el in composition.elements]
    counts = [round(composition[el]) for el in species]
    if any(c <= 0 for c in counts) or not np.allclose(
        counts, [composition[el] for el in species], atol=1e-6
    ):
        raise ValueError(f"{composition} has no integer atom counts")
    return species, counts


def compatible_space_groups(counts: Sequence[int]) -> list[int]:
    """Return the space groups (1-230) whose Wyckoff positions can hold the counts."""
    return list(_compatible_space_groups(tuple(int(c) for c in counts)))


@lru_cache(maxsize=64)
def _compatible_space_groups(counts: tuple[int, ...]) -> tuple[int, ...]:
    """Return the compatible space groups, cached (about 2 s per composition)."""
    from pyxtal.symmetry import Group

    return tuple(
        number for number in range(1, 231) if Group(number).check_compatible(list(counts))[0]
    )


def pyxtal_baseline(
    compositions: Sequence[Composition | str],
    n: int,
    seed: int,
    max_tries: int = 5,
) -> list[Structure]:
    """Sample random symmetric crystals of given compositions with pyxtal.

    For each sample a composition is drawn at random, then a random space group
    compatible with its atom counts; pyxtal places the atoms (``from_random``).
    Failed placements are retried with another space group up to ``max_tries``
    times, then skipped, so fewer than ``n`` structures may come back.

    Parameters
    ----------
    compositions
        Cell compositions with integer atom counts, e.g. ``"Li15Si4"``.
    n
        Number of samples asked for.
    seed
        Seed of the random draws (composition, space group and pyxtal's placement).
    max_tries
        Space groups tried per sample before it is skipped.

    Returns
    -------
    list of Structure
        Up to ``n`` random crystals.
    """
    from pyxtal import pyxtal

    rng = np.random.default_rng(seed)
    parsed = [Composition(c) for c in compositions]
    groups: dict[int, list[int]] = {}
    samples: list[Structure] = []
    for _ in range(n):
        index = int(rng.integers(len(parsed)))
        try:
            species, counts = _integer_counts(parsed[index])
        except ValueError as exc:
            logger.warning("pyxtal baseline: %s", exc)
            continue
        if index not in groups:
            groups[index] = compatible_space_groups(counts)
        if not groups[index]:
            logger.warning("pyxtal baseline: no space group fits %s", parsed[index])
            continue
        for _ in range(max_tries):
            group = int(rng.choice(groups[index]))
            crystal = pyxtal()
            try:
                crystal.from_random(3, group, species, counts, random_state=rng)
            except Exception as exc:  # pyxtal raises many kinds of errors
                logger.debug("pyxtal failed in space group %d: %s", group, exc)
                continue
            if crystal.valid:
                samples.append(crystal.to_pymatgen())
                break
    if len(samples) < n:
        logger.info("pyxtal baseline: %d of %d samples placed", len(samples), n)
    return samples
