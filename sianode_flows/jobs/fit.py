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
    VerdictRule,
)
from sianode_flows.schemas.fit import VolumeReference

logger = logging.getLogger(__name__)


def judge(
    slope: float | None,
    threshold: float,
    rule: VerdictRule = "slope",
    interval: tuple[float | None, float | None] | None = None,
) -> Verdict:
    """Return the verdict of a fit.

    Parameters
    ----------
    slope
        Fitted slope (A per 100 % SOC), ``None`` when none could be fitted.
    threshold
        Largest |slope| judged stable.
    rule
        ``"slope"``: stable when ``|slope| <= threshold``. ``"upper-bound"``: stable
        when the whole interval lies within ``[-threshold, threshold]``.
    interval
        Bootstrap interval ``(low, high)`` of the slope, needed by ``"upper-bound"``.

    Returns
    -------
    Verdict
        ``"stable"``, ``"unstable"`` or ``"insufficient-data"``.
    """
    if slope is None:
        return "insufficient-data"
    if rule == "slope":
        return "stable" if abs(slope) <= threshold else "unstable"
    if rule == "upper-bound":
        low, high = interval if interval is not None else (None, None)
        if low is None or high is None:
            return "insufficient-data"
        return "stable" if max(abs(low), abs(high)) <= threshold else "unstable"
    raise ValueError(f"unknown verdict rule {rule!r}: use 'slope' or 'upper-bound'")


def volume_fit(
    points: list[ChannelPoint], n_bootstrap: int, seed: int
) -> tuple[FitStatistics | None, VolumeReference | None, float | None]:
    """Fit V/V_ref against SOC over the points that record a volume.

    Returns the statistics (``None`` when no line can be fitted), the reference
    used (``"charged"`` or ``"largest"``) and ``V_ref`` (A^3 per framework atom).
    """
    from sianode_flows.analysis.fit import relative_volumes

    pairs = [
        (p.soc, p.volume_per_framework_atom)
        for p in points
        if p.volume_per_framework_atom is not None
    ]
    if not pairs:
        return None, None, None
    soc = [s for s, _ in pairs]
    relative, reference, label = relative_volumes(soc, [v for _, v in pairs])
    fields, note = FitStatistics.fitted(soc, relative.tolist(), n_bootstrap, seed)
    if note is not None:
        logger.debug("no volume fit: %s", note)
        return None, label, reference
    return FitStatistics(**fields), label, reference


def slope_fit_document(
    channels: list[ChannelDocument | FailureDocument | None],
    candidate: CandidateDocument,
    protocol: DelithiationProtocol,
    slope_threshold: float,
    relax_maker: str | None = None,
    run_key: str | None = None,
    verdict_rule: VerdictRule = "slope",
    n_bootstrap: int = 1000,
) -> SlopeFitDocument:
    """Fit the channel radii and volumes of a candidate's configurations against SOC.

    Failed configurations (failure documents, or ``None`` for a job that produced
    nothing) are counted and left out of the fit. The slope gets a percentile
    bootstrap interval (95 %) from resampling the configurations, seeded with the
    protocol's seed; the relative volume is fitted the same way.

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
    verdict_rule
        How the slope is judged (see :func:`judge`).
    n_bootstrap
        Bootstrap resamples; 0 skips the intervals.

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
    fields, note = FitStatistics.fitted(
        [p.soc for p in points], [p.r_t for p in points], n_bootstrap, protocol.seed
    )
    volumes, reference, reference_value = volume_fit(points, n_bootstrap, protocol.seed)
    verdict = judge(
        fields.get("slope"),
        slope_threshold,
        verdict_rule,
        (fields.get("slope_ci_low"), fields.get("slope_ci_high")),
    )
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
        verdict=verdict,
        verdict_rule=verdict_rule,
        volume_fit=volumes,
        volume_reference=reference,
        volume_reference_per_framework_atom=reference_value,
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
    verdict_rule: VerdictRule = "slope",
    n_bootstrap: int = 1000,
) -> SlopeFitDocument:
    """Job: the slope fit of a candidate (see :func:`slope_fit_document`)."""
    doc = slope_fit_document(
        channels,
        candidate,
        protocol,
        slope_threshold,
        relax_maker,
        run_key,
        verdict_rule=verdict_rule,
        n_bootstrap=n_bootstrap,
    )
    interval = (
        f" [{doc.slope_ci_low:.3f}, {doc.slope_ci_high:.3f}]"
        if doc.slope_ci_low is not None and doc.slope_ci_high is not None
        else ""
    )
    logger.info(
        "%s: slope %s over %d configurations, %s",
        doc.formula,
        "n/a" if doc.slope is None else f"{doc.slope:.3f} +- {doc.slope_err:.3f} A{interval}",
        doc.n_configs,
        doc.verdict,
    )
    return doc
