"""Fit R_t against state of charge, judge the candidate, and sample more while undecided."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from jobflow import JobConfig, OnMissing, Response, job

from sianode_flows.analysis.sequential import (
    DEFAULT_LEVEL,
    DEFAULT_MARGIN,
    DEFAULT_MIN_CONFIGS,
    DEFAULT_SPENDING,
    Spending,
)
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
from sianode_flows.schemas.fit import LEGACY_VERDICT_RULES, FitRole, VolumeReference

if TYPE_CHECKING:
    from jobflow import Maker

    from sianode_flows.analysis.intervals import DesignPoints, SlopeEstimate
    from sianode_flows.analysis.sequential import LookPlan

logger = logging.getLogger(__name__)

NOT_CONVERGED = "not converged"
"""Reason recorded on a point whose relaxation did not converge."""


def judge(
    slope: float | None,
    threshold: float,
    rule: VerdictRule = "interval",
    interval: tuple[float | None, float | None] | None = None,
) -> Verdict:
    """Return the verdict of a fit against the slope threshold (the absolute rule).

    Parameters
    ----------
    slope
        Fitted slope (A per 100 % SOC), ``None`` when none could be fitted.
    threshold
        Largest |slope| judged stable.
    rule
        ``"interval"``: ``"stable"`` when the whole interval lies within
        ``[-threshold, threshold]``, ``"unstable"`` when it lies wholly outside, else
        ``"undecided"`` (see :func:`~sianode_flows.analysis.sequential.absolute_verdict`).
        ``"point"``: stable when ``|slope| <= threshold``, else unstable.
    interval
        Interval ``(low, high)`` of the slope at this look, needed by ``"interval"``.

    Returns
    -------
    Verdict
        ``"stable"``, ``"unstable"``, ``"undecided"`` or ``"insufficient-data"`` (no
        slope).
    """
    from sianode_flows.analysis.sequential import absolute_verdict

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
    return absolute_verdict(low, high, threshold)


def look_plan(
    protocol: DelithiationProtocol,
    min_configs: int = DEFAULT_MIN_CONFIGS,
    level: float = DEFAULT_LEVEL,
    spending: Spending = DEFAULT_SPENDING,
) -> LookPlan:
    """Return the looks a protocol plans and their critical values."""
    from sianode_flows.analysis.sequential import LookPlan

    return LookPlan(
        first_round=protocol.n_configs,
        round_size=protocol.round_size,
        max_configs=protocol.max_configs if protocol.sequential else None,
        n_ends=protocol.n_ends,
        min_configs=min_configs,
        level=level,
        spending=spending,
    )


def design_points(
    points: list[ChannelPoint],
    protocol: DelithiationProtocol,
    values: list[float] | None = None,
) -> DesignPoints:
    """Return fitted points as the stratified design drew them (ends marked).

    ``values`` gives the value of each point (R_t by default).
    """
    from sianode_flows.analysis.intervals import DesignPoints

    return DesignPoints.build(
        [p.soc for p in points],
        [p.r_t for p in points] if values is None else values,
        [p.config_index for p in points],
        [p.round for p in points],
        protocol.n_ends,
        protocol.n_configs,
        protocol.round_size,
    )


def design_fit(
    points: list[ChannelPoint],
    protocol: DelithiationProtocol,
    plan: LookPlan,
    drawn: int,
    values: list[float] | None = None,
) -> tuple[dict, SlopeEstimate | None, str | None]:
    """Fit a candidate's points as a stratified design, with the interval of this look.

    The slope is the design's (each end at its first-round weight), its error the
    collapsed-strata one (:mod:`sianode_flows.analysis.intervals`), and its
    interval the repeated confidence interval of the look that ``drawn``
    configurations make (:func:`~sianode_flows.analysis.sequential.look_interval`):
    none below the plan's minimum. Pearson and Spearman are those of the points.

    Returns
    -------
    tuple
        The fields of :class:`FitStatistics`, the estimate (``None`` when no slope
        could be fitted), and why there is no slope or no interval, if so.
    """
    from scipy import stats

    from sianode_flows.analysis.intervals import INTERVAL_METHOD, estimate_slope
    from sianode_flows.analysis.sequential import look_interval

    design = design_points(points, protocol, values)
    try:
        estimate = estimate_slope(design)
    except ValueError as exc:
        return {}, None, str(exc)
    fields = {
        "slope": estimate.slope,
        "slope_err": estimate.se,
        "slope_df": estimate.df,
        "intercept": estimate.intercept,
        "interval_method": INTERVAL_METHOD,
        "ci_level": plan.level,
        "n_looks": plan.n_looks,
    }
    if np.ptp(design.value) > 0:
        pearson = stats.pearsonr(design.soc, design.value)
        spearman = stats.spearmanr(design.soc, design.value)
        fields |= {
            "pearson_r": _finite(pearson.statistic),
            "pearson_p": _finite(pearson.pvalue),
            "spearman_rho": _finite(spearman.statistic),
            "spearman_p": _finite(spearman.pvalue),
        }
    interval = look_interval(estimate, plan, drawn) if len(points) >= plan.min_configs else None
    if interval is None:
        return fields, estimate, too_few(len(points), drawn, plan)
    look = plan.look_of(drawn)
    fields |= {
        "slope_ci_low": interval[0],
        "slope_ci_high": interval[1],
        "critical_value": plan.critical(look, estimate.df),
        "look": look + 1,
    }
    return fields, estimate, None


def too_few(fitted: int, drawn: int, plan: LookPlan) -> str:
    """Return why a fit has no interval at this look."""
    if fitted < plan.min_configs or plan.look_of(drawn) is None:
        return (
            f"{fitted} configurations fitted: a verdict needs at least {plan.min_configs} "
            "(fewer cannot hold the interval's level)"
        )
    return "no standard error: the design leaves no degree of freedom"


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def relative_fields(
    points: list[ChannelPoint],
    reference: SlopeFitDocument,
    protocol: DelithiationProtocol,
    plan: LookPlan,
    drawn: int,
    margin: float,
    paired: bool,
) -> dict[str, Any]:
    """Compare a candidate's points with the reference's at the same look.

    The reference's points of the same rounds are taken (it is sampled at least as
    far as any candidate); the difference of the slopes is paired configuration by
    configuration when the candidate drew the reference's sites (``paired``), and
    judged by :func:`~sianode_flows.analysis.sequential.relative_verdict` on the
    look's repeated interval.

    Returns
    -------
    dict
        The relative fields of :class:`SlopeFitDocument`.
    """
    from sianode_flows.analysis.intervals import estimate_difference, estimate_slope
    from sianode_flows.analysis.sequential import look_interval, relative_verdict

    last_round = max((p.round for p in points), default=1)
    theirs = [p for p in reference.points if p.excluded is None and p.round <= last_round]
    fields: dict[str, Any] = {
        "reference": reference.candidate_id,
        "reference_key": reference.reference_key,
        "paired": paired,
        "margin": margin,
        "relative_verdict": "insufficient-data",
    }
    their_design = design_points(theirs, protocol)
    try:
        difference = estimate_difference(design_points(points, protocol), their_design, paired)
        fields["reference_slope"] = estimate_slope(their_design).slope
    except ValueError:  # no slope for one of them
        return fields
    fields["relative_difference"] = difference.slope
    enough = min(len(points), len(theirs)) >= plan.min_configs
    interval = look_interval(difference, plan, drawn) if enough else None
    if interval is None:
        return fields
    fields |= {
        "relative_ci_low": interval[0],
        "relative_ci_high": interval[1],
        "relative_verdict": relative_verdict(*interval, margin),
    }
    return fields


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


def volume_fit(
    points: list[ChannelPoint],
    protocol: DelithiationProtocol,
    plan: LookPlan,
    drawn: int,
) -> tuple[FitStatistics | None, VolumeReference | None, float | None]:
    """Fit V/V_ref against SOC over the points that record a volume, as the slope is fitted.

    Returns the statistics (``None`` when no line can be fitted), the reference
    used (``"charged"`` or ``"largest"``) and ``V_ref`` (A^3 per framework atom).
    """
    from sianode_flows.analysis.fit import relative_volumes

    measured = [p for p in points if p.volume_per_framework_atom is not None]
    if not measured:
        return None, None, None
    relative, reference, label = relative_volumes(
        [p.soc for p in measured], [p.volume_per_framework_atom for p in measured]
    )
    fields, estimate, note = design_fit(measured, protocol, plan, drawn, relative.tolist())
    if estimate is None:
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
    verdict_rule: VerdictRule = "interval",
    *,
    reused: list[ChannelPoint | FailureDocument] | None = None,
    previous: SlopeFitDocument | None = None,
    round_number: int = 1,
    fit_unconverged: bool = False,
    potential: str | None = None,
    engine: str | None = None,
    min_configs: int = DEFAULT_MIN_CONFIGS,
    level: float = DEFAULT_LEVEL,
    spending: Spending = DEFAULT_SPENDING,
    reference: SlopeFitDocument | None = None,
    margin: float = DEFAULT_MARGIN,
    paired: bool = False,
    role: FitRole = "candidate",
    reference_key: str | None = None,
) -> SlopeFitDocument:
    """Fit the channel radii and volumes of a candidate's configurations against SOC.

    Failed configurations (failure documents, or ``None`` for a job that produced
    nothing) are counted by reason and left out. Points whose relaxation did not
    converge are kept in the document, marked ``excluded``, and left out of the
    fit unless ``fit_unconverged``. The slope is the stratified design's, with the
    repeated confidence interval of this round's look (:func:`design_fit`); no
    verdict is given below ``min_configs`` fitted configurations. With a
    ``reference`` fit (of the same rounds), the slope minus the reference's gets
    its interval and the relative verdict (:func:`relative_fields`). The relative
    volume is fitted the same way as the slope.

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
        How the slope is judged against the threshold (see :func:`judge`).
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
    min_configs
        Fewest fitted configurations for a verdict.
    level
        Confidence level held over all the looks of the protocol.
    spending
        Alpha-spending of the looks (see :data:`~sianode_flows.analysis.sequential.Spending`).
    reference
        The reference's fit after the same rounds, to compare with.
    margin
        Half-width of the ``similar`` band (A per 100 % SOC).
    paired
        Whether the candidate drew the reference's removed sites.
    role
        ``"reference"`` for the reference's own fit.
    reference_key
        Key of the reference's measurements (on the reference's own fit).

    Returns
    -------
    SlopeFitDocument
        The fit, its statistics, the verdicts and the rounds so far.
    """
    plan = look_plan(protocol, min_configs, level, spending)
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
    drawn = protocol.first_index(round_number + 1)
    fields, estimate, note = design_fit(fitted, protocol, plan, drawn)
    volumes, volume_reference, reference_value = volume_fit(fitted, protocol, plan, drawn)
    verdict = judge(
        fields.get("slope"),
        slope_threshold,
        verdict_rule,
        (fields.get("slope_ci_low"), fields.get("slope_ci_high")),
    )
    if estimate is not None and (len(fitted) < min_configs or plan.look_of(drawn) is None):
        verdict = "insufficient-data"  # below the minimum: no verdict
    relative: dict[str, Any] = {}
    if reference is not None and role == "candidate":
        relative = relative_fields(fitted, reference, protocol, plan, drawn, margin, paired)
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
        critical_value=fields.get("critical_value"),
        relative_ci_low=relative.get("relative_ci_low"),
        relative_ci_high=relative.get("relative_ci_high"),
        relative_verdict=relative.get("relative_verdict"),
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
        role=role,
        min_configs=min_configs,
        spending=spending if protocol.sequential else None,
        rounds=[*(previous.rounds if previous is not None else []), this_round],
        stop_reason=None if protocol.sequential else "fixed",
        n_relaxed=(previous.n_relaxed if previous is not None else 0) + n_relaxed,
        n_reused=(previous.n_reused if previous is not None else 0) + len(reused),
        potential=potential,
        engine=engine,
        volume_fit=volumes,
        volume_reference=volume_reference,
        volume_reference_per_framework_atom=reference_value,
        protocol=protocol,
        relax_maker=relax_maker,
        run_key=run_key,
        note=note,
        **({"reference_key": reference_key} if role == "reference" else {}),
        **relative,
        **fields,
    )


def stop_reason(fit: SlopeFitDocument, protocol: DelithiationProtocol) -> StopReason | None:
    """Return why sampling stops after this fit, or ``None`` to draw another round.

    A fixed sample stops at once; a sequential one stops when the verdict it follows
    is decided (against the reference when there is one, else against the
    threshold), when no slope could be fitted, or when another whole round would
    pass ``protocol.max_configs`` (the cap counts whole rounds). Below the minimum
    for a verdict it goes on.
    """
    if not protocol.sequential:
        return "fixed"
    if fit.slope is None:
        return "no fit"
    if fit.decided:
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
    relative = (
        f", {doc.relative_difference:+.3f} against {doc.reference}: {doc.relative_verdict}"
        if doc.relative_difference is not None
        else ""
    )
    logger.info(
        "%s: slope %s over %d configurations (round %d), %s%s",
        doc.formula,
        "n/a" if doc.slope is None else f"{doc.slope:.3f} +- {doc.slope_err or 0:.3f} A{interval}",
        doc.n_configs,
        len(doc.rounds),
        doc.verdict,
        relative,
    )


def fit_options(maker: Maker) -> dict[str, Any]:
    """Return the keyword arguments of :func:`slope_fit_document` that a channel maker sets."""
    from sianode_flows.jobs.relax import describe_maker, engine_label, potential_label

    return {
        "relax_maker": describe_maker(maker.relax_maker),
        "verdict_rule": maker.verdict_rule,
        "fit_unconverged": maker.fit_unconverged,
        "potential": potential_label(maker.relax_maker),
        "engine": engine_label(maker.relax_maker),
        "min_configs": maker.min_configs,
        "level": maker.level,
        "spending": maker.spending,
        "margin": maker.margin,
    }


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
    reference: PendingFitDocument | SlopeFitDocument | None = None,
    paired: bool = False,
    role: FitRole = "candidate",
    reference_key: str | None = None,
) -> Response | SlopeFitDocument | PendingFitDocument:
    """Job: fit a candidate after a sampling round; replace itself by another round if needed.

    The fit covers every round so far (see :func:`slope_fit_document`). When the
    maker samples sequentially and the verdict is still ``"undecided"`` with room
    under the cap, the job replaces itself by the next round (delithiate ->
    configurations -> fit), whose fit becomes this job's output; otherwise its
    output is the fit, with the reason sampling stopped. In screens in rounds
    (``pooled``: with a reference, or pooled relaxations), the next round is that
    of all the candidates still undecided: the job then outputs the fit so far as a
    :class:`~sianode_flows.schemas.PendingFitDocument` for it to take up. The
    reference's own fit (``role="reference"``) is always pending: it samples on
    while any candidate does.
    """
    protocol = maker.protocol
    if isinstance(reference, PendingFitDocument):
        reference = reference.fit
    doc = slope_fit_document(
        channels,
        candidate,
        protocol,
        maker.slope_threshold,
        run_key=run_key,
        reused=reused,
        previous=previous,
        round_number=round_number,
        reference=reference,
        paired=paired,
        role=role,
        reference_key=reference_key,
        **fit_options(maker),
    )
    log_fit(doc)
    if role == "reference":
        return PendingFitDocument(candidate_id=candidate.candidate_id, round=round_number, fit=doc)
    reason = stop_reason(doc, protocol)
    if reason is not None:
        return doc.model_copy(update={"stop_reason": reason})
    if pooled:
        return PendingFitDocument(candidate_id=candidate.candidate_id, round=round_number, fit=doc)
    # the maker knows how a round is made (delithiate -> configurations -> fit)
    return Response(replace=maker.round_flow(candidate, round_number + 1, previous=doc))
