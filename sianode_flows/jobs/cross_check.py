"""Compare the slope fits of one candidate under two potentials."""

from __future__ import annotations

import logging

import numpy as np
from jobflow import JobConfig, OnMissing, job

from sianode_flows.analysis.fit import bootstrap_difference_interval
from sianode_flows.schemas import SlopeFitDocument
from sianode_flows.schemas.cross_check import CrossCheckDocument, CrossCheckVerdict

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 0.25
"""Largest |slope difference| for two potentials to agree (A per 100 % SOC): half the
default stability threshold, about the standard error of a 30-configuration slope."""


def combined_verdict(
    first: SlopeFitDocument | None,
    second: SlopeFitDocument | None,
    agree: bool | None,
    require_agreement: bool,
) -> CrossCheckVerdict:
    """Return the verdict of a cross-check.

    Without required agreement it is the first fit's verdict. With it, a candidate
    is stable only when both fits are stable and their slopes agree; slopes that
    disagree give ``"disagree"``, and a fit that is undecided leaves the
    cross-check undecided.
    """
    if first is None or first.verdict == "insufficient-data":
        return "insufficient-data"
    if not require_agreement:
        return first.verdict
    if second is None or second.verdict == "insufficient-data" or agree is None:
        return "insufficient-data"
    if not agree:
        return "disagree"
    if "undecided" in (first.verdict, second.verdict):
        return "undecided"
    return "stable" if first.verdict == second.verdict == "stable" else "unstable"


def cross_check_document(
    first: SlopeFitDocument | None,
    second: SlopeFitDocument | None,
    tolerance: float = DEFAULT_TOLERANCE,
    require_agreement: bool = True,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> CrossCheckDocument:
    """Build the comparison of two fits of the same candidate and configurations.

    Parameters
    ----------
    first, second
        The fits under the two potentials (``None`` for a branch that produced none).
    tolerance
        Largest |slope difference| for agreement (A per 100 % SOC).
    require_agreement
        Whether a stable verdict needs the two potentials to agree.
    n_bootstrap
        Paired bootstrap resamples for the interval of the difference (0: none).
    seed
        Seed of the bootstrap.

    Returns
    -------
    CrossCheckDocument
        Both fits, the difference of slopes with its interval, and the verdict.
    """
    anchor = first or second
    if anchor is None:
        raise ValueError("neither potential produced a fit")
    notes = []
    difference = volume_difference = None
    ci_low = ci_high = level = r_t_gap = None
    n_common = 0
    if first is not None and second is not None:
        if first.candidate_id != second.candidate_id:
            raise ValueError(
                f"fits of different candidates: {first.candidate_id}, {second.candidate_id}"
            )
        if first.slope is not None and second.slope is not None:
            difference = first.slope - second.slope
        if first.volume_slope is not None and second.volume_slope is not None:
            volume_difference = first.volume_slope - second.volume_slope
        by_index = {p.config_index: p for p in second.points}
        pairs = [(p, by_index[p.config_index]) for p in first.points if p.config_index in by_index]
        n_common = len(pairs)
        if pairs:
            soc = [a.soc for a, _ in pairs]
            r_first = np.array([a.r_t for a, _ in pairs])
            r_second = np.array([b.r_t for _, b in pairs])
            r_t_gap = float(np.mean(np.abs(r_first - r_second)))
            if n_bootstrap > 0:
                try:
                    interval = bootstrap_difference_interval(
                        soc, r_first, r_second, n_resamples=n_bootstrap, seed=seed
                    )
                except ValueError as exc:
                    notes.append(f"no interval of the difference: {exc}")
                else:
                    ci_low, ci_high, level = interval.low, interval.high, interval.level
    else:
        notes.append("one potential produced no fit")
    if difference is None:
        notes.append("a slope is missing")
    agree = None if difference is None else abs(difference) <= tolerance
    return CrossCheckDocument(
        candidate_id=anchor.candidate_id,
        formula=anchor.formula,
        capacity_mAh_g=anchor.capacity_mAh_g,
        first_potential=first.relax_maker if first is not None else None,
        second_potential=second.relax_maker if second is not None else None,
        first=first,
        second=second,
        n_common=n_common,
        slope_difference=difference,
        difference_ci_low=ci_low,
        difference_ci_high=ci_high,
        ci_level=level,
        r_t_mean_abs_difference=r_t_gap,
        volume_slope_difference=volume_difference,
        tolerance=tolerance,
        agree=agree,
        require_agreement=require_agreement,
        verdict=combined_verdict(first, second, agree, require_agreement),
        note="; ".join(notes) or None,
    )


@job(name="cross check", config=JobConfig(on_missing_references=OnMissing.NONE))
def compare_fits(
    first: SlopeFitDocument | None,
    second: SlopeFitDocument | None,
    tolerance: float = DEFAULT_TOLERANCE,
    require_agreement: bool = True,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> CrossCheckDocument:
    """Job: the cross-check of two fits (see :func:`cross_check_document`)."""
    doc = cross_check_document(first, second, tolerance, require_agreement, n_bootstrap, seed)
    logger.info(
        "%s: %s vs %s, slope difference %s, %s",
        doc.formula,
        doc.first_potential,
        doc.second_potential,
        "n/a" if doc.slope_difference is None else f"{doc.slope_difference:+.3f} A",
        doc.verdict,
    )
    return doc
