"""Drawing samples from the generator: distinct structures, at a chosen prior temperature."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sianode_flows.generative.metrics import unique_mask

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from sianode_flows.generative.model import ConditionalCrystalVAE
    from sianode_flows.generative.target import GenerationTarget

logger = logging.getLogger(__name__)

MAX_ROUNDS = 8
"""Rounds of drawing when asking for distinct samples."""


def sample_distinct(
    model: ConditionalCrystalVAE,
    n: int,
    target: GenerationTarget,
    seed: int,
    temperature: float = 1.0,
    max_rounds: int = MAX_ROUNDS,
) -> list[Structure]:
    """Draw until ``n`` samples match none of the others (pymatgen's StructureMatcher).

    Each round draws as many samples as are still missing, with its own seed
    (``seed``, then ``seed + 1000 * round``), and keeps those that match no sample
    kept so far. After ``max_rounds`` rounds fewer than ``n`` may come back.

    Parameters
    ----------
    model
        The trained generator.
    n
        Distinct samples wanted.
    target
        Conditions of the generation.
    seed
        Seed of the first round.
    temperature
        Spread of the prior (see :meth:`ConditionalCrystalVAE.sample`).
    max_rounds
        Most rounds.

    Returns
    -------
    list of Structure
        Up to ``n`` mutually distinct samples, in the order they were drawn.
    """
    kept: list[Structure] = []
    for round_number in range(max_rounds):
        missing = n - len(kept)
        if missing <= 0:
            break
        drawn = model.sample(missing, target, seed + 1000 * round_number, temperature=temperature)
        fresh = unique_mask([*kept, *drawn])[len(kept) :]
        kept += [s for s, is_new in zip(drawn, fresh, strict=True) if is_new]
    if len(kept) < n:
        logger.warning("%d distinct samples of %d after %d rounds", len(kept), n, max_rounds)
    return kept


def target_distance(structure: Structure, r_t: float | None, target: GenerationTarget) -> float:
    """Return how far a sample is from a target, in units of the hit tolerances.

    ``|R_t - target R_t| / 0.2 A + |capacity - target| / (15 % of the target)``; a
    sample without R_t or capacity is infinitely far.
    """
    import math

    from sianode_flows.analysis.capacity import gravimetric_capacity
    from sianode_flows.schemas.generation import CAPACITY_HIT_TOLERANCE, R_T_HIT_TOLERANCE

    try:
        capacity = gravimetric_capacity(structure)
    except ValueError:
        return math.inf
    if r_t is None or not math.isfinite(r_t):
        return math.inf
    capacity_scale = CAPACITY_HIT_TOLERANCE * max(target.capacity_mAh_g, 1.0)
    return (
        abs(r_t - target.channel_radius) / R_T_HIT_TOLERANCE
        + abs(capacity - target.capacity_mAh_g) / capacity_scale
    )


def sample_selected(
    model: ConditionalCrystalVAE,
    n: int,
    target: GenerationTarget,
    seed: int,
    oversample: int = 4,
    temperature: float = 1.0,
    distinct: bool = False,
) -> list[Structure]:
    """Draw ``oversample * n`` samples and keep the ``n`` nearest the target.

    Generate-then-select: the distance (:func:`target_distance`) uses the capacity
    and the CAVD channel radius of each sample *as generated*; relaxation moves R_t,
    so the verified (relaxed) values show what the selection achieves. This is a
    sampling strategy on top of the model, reported as such, not the model's own
    conditioning.

    Parameters
    ----------
    model
        The trained generator.
    n
        Samples kept.
    target
        Conditions of the generation (also the selection's target).
    seed
        Seed of the draw.
    oversample
        Samples drawn per sample kept (1: no selection).
    temperature
        Spread of the prior.
    distinct
        Leave out samples that match an earlier one before selecting.

    Returns
    -------
    list of Structure
        The ``n`` nearest samples, nearest first (fewer when ``distinct`` leaves
        fewer than ``n``).
    """
    from sianode_flows.analysis.channel import channel_radii_many

    drawn = model.sample(n * max(oversample, 1), target, seed, temperature=temperature)
    if distinct:
        drawn = [s for s, new in zip(drawn, unique_mask(drawn), strict=True) if new]
    if oversample <= 1:
        return drawn[:n]
    radii = channel_radii_many(drawn)
    distances = [
        target_distance(s, None if isinstance(r, Exception) else r.r_t, target)
        for s, r in zip(drawn, radii, strict=True)
    ]
    order = sorted(range(len(drawn)), key=lambda i: distances[i])
    return [drawn[i] for i in order[:n]]
