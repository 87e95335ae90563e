"""Fit R_t against state of charge, judge the candidate, and sample more while undecided."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from jobflow import JobConfig, OnMissing, Response, job

from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    ChannelPoint,
    DelithiationProtocol,
    FailureDocument,
    FitStatistics,
    PendingFitDocument,
    SamplingRound,
    SlopeFitDocument,
    StopReason,
    Verdict,
    VerdictRule,
)
from sianode_flows.schemas.fit import LEGACY_VERDICT_RULES, VolumeReference

if TYPE_CHECKING:
    from jobflow import Maker

logger = logging.getLogger(__name__)

NOT_CONVERGED = "not converged"
"""Reason recorded on a point whose relaxation did not converge."""


def judge(
    slope: float | None,
    threshold: float,
    rule: VerdictRule = "interval",
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
        ``"interval"``: ``"stable"`` when the whole interval lies within
        ``[-threshold, threshold]``, ``"unstable"`` when it lies wholly outside, else
        ``"undecided"``. ``"point"``: stable when ``|slope| <= threshold``, else
        unstable.
    interval
        Bootstrap interval ``(low, high)`` of the slope, needed by ``"interval"``.

    Returns
    -------
    Verdict
        ``"stable"``, ``"unstable"``, ``"undecided"`` or ``"insufficient-data"`` (no
        slope).
    """
    rule = LEGACY_VERDICT_RULES.get(rule, rule)
    if rule not in ("interval", "point"):
        raise ValueError(f"unknown verdict rule {rule!r}: use 'interval' or 'point'")
    if slope is None:
        return "insufficient-data"
    if rule == "point":
        return "stable" if abs(slope) <= threshold else "unstable"
    low, high = interval if interval is not None else (None, None)
    if low is None or high is None:
        return "undecided"
    if -threshold <= low and high <= threshold:
        return "stable"
    if low > threshold or high < -threshold:
        return "unstable"
    return "undecided"


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


def channel_point(channel: ChannelDocument, reused: bool = False) -> ChannelPoint:
    """Return the (SOC, R_t) point of a channel measurement."""
    return ChannelPoint(
        config_index=channel.config_index,
        soc=channel.soc,
        r_t=channel.r_t,
        volume_per_framework_atom=channel.volume_per_framework_atom,
        converged=channel.relaxation.converged,
        round=channel.round,
        reused=reused,
    )


def failure_reason(failure: FailureDocument | None) -> str:
    """Return the kind of a failed configuration, e.g. ``"relax: UnphysicalRelaxationError"``."""
    if failure is None:
        return "relax: no output"
    return f"{failure.step}: {failure.error_type}"


def with_exclusions(points: list[ChannelPoint], fit_unconverged: bool) -> list[ChannelPoint]:
    """Mark the points left out of the fit: unconverged relaxations, unless kept."""
    return [
        p.model_copy(
            update={
                "excluded": NOT_CONVERGED if p.converged is False and not fit_unconverged else None
            }
        )
        for p in points
    ]


def slope_fit_document(
    channels: list[ChannelDocument | FailureDocument | None],
    candidate: CandidateDocument,
    protocol: DelithiationProtocol,
    slope_threshold: float,
    relax_maker: str | None = None,
    run_key: str | None = None,
    verdict_rule: VerdictRule = "interval",
    n_bootstrap: int = 1000,
    *,
    reused: list[ChannelPoint | FailureDocument] | None = None,
    previous: SlopeFitDocument | None = None,
    round_number: int = 1,
    fit_unconverged: bool = False,
    potential: str | None = None,
    engine: str | None = None,
) -> SlopeFitDocument:
    """Fit the channel radii and volumes of a candidate's configurations against SOC.

    Failed configurations (failure documents, or ``None`` for a job that produced
    nothing) are counted by reason and left out. Points whose relaxation did not
    converge are kept in the document, marked ``excluded``, and left out of the
    fit unless ``fit_unconverged``. The slope gets a percentile bootstrap interval
    (95 %) from resampling the fitted configurations, seeded with the protocol's
    seed; the relative volume is fitted the same way.

    Parameters
    ----------
    channels
        Channel documents of the configurations measured in this run, failures
        included.
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
    reused
        Points and failures of this round taken from the store instead.
    previous
        The fit after the previous sampling round, whose points and failures this
        one extends.
    round_number
        Sampling round that ``channels`` and ``reused`` belong to.
    fit_unconverged
        Fit unconverged relaxations too.
    potential, engine
        What relaxed the configurations (e.g. ``"CHGNet"``, ``"torch-sim"``).

    Returns
    -------
    SlopeFitDocument
        The fit, its statistics, the verdict and the rounds so far.
    """
    reused = list(reused or [])
    fresh = [channel_point(c) for c in channels if isinstance(c, ChannelDocument)]
    stored = [p.model_copy(update={"reused": True}) for p in reused if isinstance(p, ChannelPoint)]
    failures = [c for c in channels if not isinstance(c, ChannelDocument)]
    failures += [f for f in reused if isinstance(f, FailureDocument)]
    earlier = list(previous.points) if previous is not None else []
    points = with_exclusions(
        sorted([*earlier, *fresh, *stored], key=lambda p: p.config_index), fit_unconverged
    )
    fitted = [p for p in points if p.excluded is None]
    fields, note = FitStatistics.fitted(
        [p.soc for p in fitted], [p.r_t for p in fitted], n_bootstrap, protocol.seed
    )
    volumes, reference, reference_value = volume_fit(fitted, n_bootstrap, protocol.seed)
    verdict = judge(
        fields.get("slope"),
        slope_threshold,
        verdict_rule,
        (fields.get("slope_ci_low"), fields.get("slope_ci_high")),
    )
    reasons = Counter(previous.failure_reasons if previous is not None else {})
    reasons.update(failure_reason(f) for f in failures)
    indices = sorted(
        {p.config_index for p in [*fresh, *stored]}
        | {f.config_index for f in failures if f is not None and f.config_index is not None}
    )
    n_relaxed = len(channels)
    this_round = SamplingRound(
        round=round_number,
        config_indices=indices,
        n_relaxed=n_relaxed,
        n_reused=len(reused),
        n_points=len(fitted),
        slope=fields.get("slope"),
        slope_ci_low=fields.get("slope_ci_low"),
        slope_ci_high=fields.get("slope_ci_high"),
        verdict=verdict,
    )
    return SlopeFitDocument(
        candidate_id=candidate.candidate_id,
        formula=candidate.formula,
        source=candidate.source,
        source_id=candidate.source_id,
        capacity_mAh_g=candidate.capacity_mAh_g,
        r_t_charged=candidate.r_t_charged,
        points=points,
        n_configs=len(fitted),
        n_failed=(previous.n_failed if previous is not None else 0) + len(failures),
        n_unconverged=sum(1 for p in points if p.converged is False),
        n_excluded=len(points) - len(fitted),
        fit_unconverged=fit_unconverged,
        failure_reasons=dict(reasons),
        slope_threshold=slope_threshold,
        verdict=verdict,
        verdict_rule=verdict_rule,
        rounds=[*(previous.rounds if previous is not None else []), this_round],
        stop_reason=None if protocol.sequential else "fixed",
        n_relaxed=(previous.n_relaxed if previous is not None else 0) + n_relaxed,
        n_reused=(previous.n_reused if previous is not None else 0) + len(reused),
        potential=potential,
        engine=engine,
        volume_fit=volumes,
        volume_reference=reference,
        volume_reference_per_framework_atom=reference_value,
        protocol=protocol,
        relax_maker=relax_maker,
        run_key=run_key,
        note=note,
        **fields,
    )


def stop_reason(fit: SlopeFitDocument, protocol: DelithiationProtocol) -> StopReason | None:
    """Return why sampling stops after this fit, or ``None`` to draw another round.

    A fixed sample stops at once; a sequential one stops when the verdict is
    decided, when no slope could be fitted, or when another whole round would pass
    ``protocol.max_configs`` (the cap counts whole rounds).
    """
    if not protocol.sequential:
        return "fixed"
    if fit.verdict == "insufficient-data":
        return "no fit"
    if fit.verdict != "undecided":
        return "decided"
    next_round = len(fit.rounds) + 1
    drawn = protocol.first_index(next_round)
    if protocol.max_configs is None or drawn + protocol.round_size > protocol.max_configs:
        return "cap reached"
    return None


def log_fit(doc: SlopeFitDocument) -> None:
    """Log a fit in one line: slope, interval, configurations, verdict."""
    interval = (
        f" [{doc.slope_ci_low:.3f}, {doc.slope_ci_high:.3f}]"
        if doc.slope_ci_low is not None and doc.slope_ci_high is not None
        else ""
    )
    logger.info(
        "%s: slope %s over %d configurations (round %d), %s",
        doc.formula,
        "n/a" if doc.slope is None else f"{doc.slope:.3f} +- {doc.slope_err:.3f} A{interval}",
        doc.n_configs,
        len(doc.rounds),
        doc.verdict,
    )


@job(name="fit", config=JobConfig(on_missing_references=OnMissing.NONE))
def fit_channel_slope(
    channels: list[ChannelDocument | FailureDocument | None],
    candidate: CandidateDocument,
    maker: Maker,
    run_key: str | None = None,
    reused: list[ChannelPoint | FailureDocument] | None = None,
    previous: SlopeFitDocument | None = None,
    round_number: int = 1,
    pooled: bool = False,
) -> Response | SlopeFitDocument | PendingFitDocument:
    """Job: fit a candidate after a sampling round; replace itself by another round if needed.

    The fit covers every round so far (see :func:`slope_fit_document`). When the
    maker samples sequentially and the verdict is still ``"undecided"`` with room
    under the cap, the job replaces itself by the next round (delithiate ->
    configurations -> fit), whose fit becomes this job's output; otherwise its
    output is the fit, with the reason sampling stopped. In a pooled screen
    (``pooled``), the next round is the next pooled round of all undecided
    candidates: the job then outputs the fit so far as a
    :class:`~sianode_flows.schemas.PendingFitDocument` for it to take up.
    """
    from sianode_flows.jobs.relax import describe_maker, engine_label, potential_label

    protocol = maker.protocol
    doc = slope_fit_document(
        channels,
        candidate,
        protocol,
        maker.slope_threshold,
        describe_maker(maker.relax_maker),
        run_key,
        verdict_rule=maker.verdict_rule,
        n_bootstrap=maker.n_bootstrap,
        reused=reused,
        previous=previous,
        round_number=round_number,
        fit_unconverged=maker.fit_unconverged,
        potential=potential_label(maker.relax_maker),
        engine=engine_label(maker.relax_maker),
    )
    log_fit(doc)
    reason = stop_reason(doc, protocol)
    if reason is not None:
        return doc.model_copy(update={"stop_reason": reason})
    if pooled:
        return PendingFitDocument(candidate_id=candidate.candidate_id, round=round_number, fit=doc)
    # the maker knows how a round is made (delithiate -> configurations -> fit)
    return Response(replace=maker.round_flow(candidate, round_number + 1, previous=doc))
