"""Jobs of a conditioning sweep: whether changing a condition changes the samples.

Samples are drawn at several values of one condition (R_t or capacity) and, as the
control, with conditions drawn from the model's training labels; each set is
verified like any generated samples, and the sweep summarises what each target
achieved (median, quartiles, hit rate) and Spearman's rho between target and
achieved over every sample (paper, Figure 5B).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import numpy as np
from jobflow import job
from pymatgen.core import Structure
from scipy.stats import spearmanr

from sianode_flows.generative.metrics import summarize_targets, within_tolerance
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.schemas.generation import (
    CAPACITY_HIT_TOLERANCE,
    R_T_HIT_TOLERANCE,
    ConditioningSweepDocument,
    GeneratedStructureDocument,
    TargetOutcome,
)

logger = logging.getLogger(__name__)

SweptProperty = Literal["r_t", "capacity"]

UNITS = {"r_t": "A", "capacity": "mAh/g"}


def swept_target(base: GenerationTarget, prop: SweptProperty, value: float) -> GenerationTarget:
    """Return ``base`` with the swept condition set to ``value``."""
    field = "channel_radius" if prop == "r_t" else "capacity_mAh_g"
    return base.model_copy(update={field: float(value)})


def achieved_value(doc: GeneratedStructureDocument, prop: SweptProperty) -> float | None:
    """Return what a sample achieved of the swept property, if it has it."""
    value = doc.r_t if prop == "r_t" else doc.capacity_mAh_g
    return value if value is not None and math.isfinite(value) else None


def target_outcome(
    docs: Sequence[GeneratedStructureDocument], target: float | None, prop: SweptProperty
) -> TargetOutcome:
    """Summarise what the samples of one target achieved.

    Parameters
    ----------
    docs
        The verified samples of the target.
    target
        The target value; None for the control (no hit rate).
    prop
        The swept property.

    Returns
    -------
    TargetOutcome
        Achieved values, median, quartiles and the hit rate over all samples
        (a sample without a value is a miss).
    """
    values = [v for d in docs if (v := achieved_value(d, prop)) is not None]
    stats = summarize_targets(values, target if target is not None else 0.0)
    outcome = TargetOutcome(
        target=target,
        n_samples=len(docs),
        achieved=values,
        median=stats["median"],
        p25=stats["p25"],
        p75=stats["p75"],
    )
    if target is not None and docs:
        outcome.hit_rate = sum(within_tolerance(v, target, prop) for v in values) / len(docs)
    return outcome


def sweep_document(
    verified: Sequence[Sequence[GeneratedStructureDocument]],
    targets: Sequence[float],
    prop: SweptProperty,
    control: Sequence[GeneratedStructureDocument] | None = None,
    base_target: GenerationTarget | None = None,
    checkpoint: str | None = None,
    seed: int = 0,
    relaxed: bool = True,
) -> ConditioningSweepDocument:
    """Build the document of a conditioning sweep.

    Parameters
    ----------
    verified
        The verified samples of each target, in the order of ``targets``.
    targets
        The target values.
    prop
        The swept property.
    control
        Verified samples with conditions drawn from the training labels.
    base_target
        The target the swept values replace a field of.
    checkpoint
        The model's checkpoint.
    seed
        Seed of the sampling.
    relaxed
        Whether the samples were relaxed before measuring.

    Returns
    -------
    ConditioningSweepDocument
        One outcome per target (increasing), the control, Spearman's rho and its
        p-value over every (target, achieved) pair, and whether the medians rise.
    """
    pairs = sorted(zip(targets, verified, strict=True), key=lambda pair: pair[0])
    outcomes = [target_outcome(docs, float(t), prop) for t, docs in pairs]
    xs = [o.target for o in outcomes for _ in o.achieved]
    ys = [v for o in outcomes for v in o.achieved]
    rho = p_value = None
    if len(set(xs)) > 1 and len(set(ys)) > 1:
        result = spearmanr(xs, ys)
        rho, p_value = float(result.statistic), float(result.pvalue)
    medians = [o.median for o in outcomes]
    monotone = (
        all(b > a for a, b in pairwise(medians))
        if None not in medians and len(medians) > 1
        else None
    )
    return ConditioningSweepDocument(
        checkpoint=checkpoint,
        property=prop,
        unit=UNITS[prop],
        tolerance=R_T_HIT_TOLERANCE if prop == "r_t" else CAPACITY_HIT_TOLERANCE,
        relaxed=relaxed,
        base_target=(base_target or GenerationTarget()).model_dump(),
        seed=seed,
        outcomes=outcomes,
        control=target_outcome(control, None, prop) if control is not None else None,
        spearman_rho=rho,
        spearman_p=p_value,
        monotone=monotone,
    )


@job(name="control samples", data=Structure)
def control_samples(
    checkpoint: str, n: int, target: GenerationTarget, seed: int
) -> list[Structure]:
    """Job: samples whose conditions are drawn from the model's training labels.

    The required and forbidden elements come from ``target``; capacity and R_t
    are drawn (seeded) from the labels stored in the checkpoint, so the samples
    follow the model's unconditional distribution. A checkpoint without stored
    labels gives no control (an empty list).
    """
    from sianode_flows.generative.checkpoint import load_checkpoint

    model = load_checkpoint(checkpoint)
    labels = (model.metadata.get("training") or {}).get("condition_labels") or []
    if not labels:
        logger.warning("%s stores no training labels: no control samples", checkpoint)
        return []
    rng = np.random.default_rng(seed)
    drawn = [labels[int(i)] for i in rng.integers(len(labels), size=n)]
    return list(model.sample(n, target, seed, conditions=drawn))


@job(name="conditioning sweep")
def conditioning_sweep(
    verified: list[list[GeneratedStructureDocument]],
    targets: list[float],
    prop: SweptProperty,
    control: list[GeneratedStructureDocument] | None = None,
    base_target: GenerationTarget | None = None,
    checkpoint: str | None = None,
    seed: int = 0,
    relaxed: bool = True,
) -> ConditioningSweepDocument:
    """Job: the document of a conditioning sweep (see :func:`sweep_document`)."""
    doc = sweep_document(
        verified, targets, prop, control or None, base_target, checkpoint, seed, relaxed
    )
    logger.info(
        "sweep of %s: medians %s, rho %s",
        prop,
        [None if o.median is None else round(o.median, 3) for o in doc.outcomes],
        None if doc.spearman_rho is None else round(doc.spearman_rho, 3),
    )
    return doc
