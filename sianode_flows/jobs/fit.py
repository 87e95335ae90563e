"""Fit R_t against state of charge and judge the candidate."""

from __future__ import annotations

import logging

from jobflow import JobConfig, OnMissing, job

from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    ChannelPoint,
    DelithiationProtocol,
    FailureDocument,
    FitStatistics,
    SlopeFitDocument,
    Verdict,
)

logger = logging.getLogger(__name__)


def judge(slope: float | None, threshold: float) -> Verdict:
    """Return the verdict for a slope: stable when ``|slope| <= threshold``."""
    if slope is None:
        return "insufficient-data"
    return "stable" if abs(slope) <= threshold else "unstable"


def slope_fit_document(
    channels: list[ChannelDocument | FailureDocument | None],
    candidate: CandidateDocument,
    protocol: DelithiationProtocol,
    slope_threshold: float,
    relax_maker: str | None = None,
    run_key: str | None = None,
) -> SlopeFitDocument:
    """Fit the channel radii of a candidate's configurations against SOC.

    Failed configurations (failure documents, or ``None`` for a job that produced
    nothing) are counted and left out of the fit.

    Parameters
    ----------
    channels
        Channel documents of the configurations, failures included.
    candidate
        The candidate.
    protocol
        How the configurations were drawn.
    slope_threshold
        Largest |slope| judged stable (A per 100 % SOC).
    relax_maker
        Description of the relax maker used.
    run_key
        Hash of candidate and settings.

    Returns
    -------
    SlopeFitDocument
        The fit, its statistics and the verdict.
    """
    measured = [c for c in channels if isinstance(c, ChannelDocument)]
    points = [
        ChannelPoint(
            config_index=c.config_index,
            soc=c.soc,
            r_t=c.r_t,
            volume_per_framework_atom=c.volume_per_framework_atom,
            converged=c.relaxation.converged,
        )
        for c in sorted(measured, key=lambda c: c.config_index)
    ]
    fields, note = FitStatistics.fitted([p.soc for p in points], [p.r_t for p in points])
    return SlopeFitDocument(
        candidate_id=candidate.candidate_id,
        formula=candidate.formula,
        source=candidate.source,
        source_id=candidate.source_id,
        capacity_mAh_g=candidate.capacity_mAh_g,
        r_t_charged=candidate.r_t_charged,
        points=points,
        n_configs=len(points),
        n_failed=len(channels) - len(measured),
        n_unconverged=sum(1 for p in points if p.converged is False),
        slope_threshold=slope_threshold,
        verdict=judge(fields.get("slope"), slope_threshold),
        protocol=protocol,
        relax_maker=relax_maker,
        run_key=run_key,
        note=note,
        **fields,
    )


@job(name="fit", config=JobConfig(on_missing_references=OnMissing.NONE))
def fit_channel_slope(
    channels: list[ChannelDocument | FailureDocument | None],
    candidate: CandidateDocument,
    protocol: DelithiationProtocol,
    slope_threshold: float,
    relax_maker: str | None = None,
    run_key: str | None = None,
) -> SlopeFitDocument:
    """Job: the slope fit of a candidate (see :func:`slope_fit_document`)."""
    doc = slope_fit_document(channels, candidate, protocol, slope_threshold, relax_maker, run_key)
    logger.info(
        "%s: slope %s over %d configurations, %s",
        doc.formula,
        "n/a" if doc.slope is None else f"{doc.slope:.3f} +- {doc.slope_err:.3f} A",
        doc.n_configs,
        doc.verdict,
    )
    return doc
