"""Channel radius against state of charge: the slope fit and its verdict."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from sianode_flows.schemas.base import SianodeDocument

Verdict = Literal["stable", "unstable", "undecided", "insufficient-data"]
"""What a fit says of a candidate against the slope threshold (the absolute rule).

``"stable"`` and ``"unstable"`` are decided; ``"undecided"``: the data cannot tell
(the interval of the slope crosses the threshold); ``"insufficient-data"``: no slope
could be fitted, or fewer configurations than a verdict needs (``min_configs``).
"""
RelativeVerdict = Literal["lower", "higher", "similar", "undecided", "insufficient-data"]
"""What a fit says of a candidate against the reference (pure Si by the same protocol).

From the interval of its slope minus the reference's: ``"lower"`` (wholly below 0),
``"higher"`` (wholly above 0), ``"similar"`` (within +-margin), ``"undecided"``
(none of these), ``"insufficient-data"`` (too few configurations for a verdict).
"""
SHOWN_VERDICTS = (
    "lower",
    "stable",
    "similar",
    "undecided",
    "higher",
    "unstable",
    "insufficient-data",
    "reference",
)
"""Every verdict a fit can show (:func:`shown_verdict`), in ranking order: the channels
that change less first, then those the data cannot tell, then the reference itself."""
FitRole = Literal["candidate", "reference"]
"""Whether a fit is of a screened candidate or of the reference it is compared with."""
VerdictRule = Literal["interval", "point"]
"""How a fit is judged against the threshold.

``"interval"`` (the default): stable when the whole 95 % bootstrap interval of the
slope lies within ``[-threshold, threshold]``, unstable when it lies wholly outside,
undecided otherwise. ``"point"``: stable when the point estimate ``|slope| <=
threshold``, else unstable, however wide its interval.
"""
LEGACY_VERDICT_RULES = {"slope": "point", "upper-bound": "interval"}
"""Names of the verdict rules in documents written before the three verdicts."""
StopReason = Literal["fixed", "decided", "cap reached", "no fit", "reference"]
"""Why sampling stopped: a fixed number of configurations was asked for; the verdict
was decided; the cap was reached while undecided; no slope could be fitted; or (for
the reference) no candidate needed it further."""
VolumeReference = Literal["charged", "largest"]

SOC_DEFINITION = "Li atoms kept / Li atoms in the charged cell"


class DelithiationProtocol(BaseModel):
    """How the configurations were drawn; recorded with every fit.

    The first round draws ``n_configs`` configurations (ends included) from the
    generator seeded with ``seed``; each further round draws ``round_size`` interior
    configurations from its own stream, seeded with ``(seed, round)``, so round k is
    the same whatever the cap. ``max_configs`` ``None`` is a fixed-size sample.
    """

    n_configs: int = Field(
        ..., description="Configurations of the first round (all of them when fixed)."
    )
    round_size: int = Field(10, description="Configurations added per further round.")
    max_configs: int | None = Field(
        None, description="Cap of sequential sampling; None for a fixed sample."
    )
    seed: int = Field(..., description="Seed of the random draws.")
    soc_range: tuple[float, float] = Field(
        ..., description="Range of the random SOC (fraction), sampled in equal-width strata."
    )
    include_charged: bool = Field(..., description="Charged end (SOC 1) included.")
    include_delithiated: bool = Field(..., description="Empty end (SOC 0) included.")
    soc_definition: str = Field(SOC_DEFINITION, description="Definition of SOC.")

    @property
    def n_ends(self) -> int:
        """Fixed ends of the design (the charged cell, the empty framework): 0 to 2."""
        return int(self.include_charged) + int(self.include_delithiated)

    @property
    def sequential(self) -> bool:
        """Whether rounds are added while the verdict is undecided."""
        return self.max_configs is not None and self.max_configs > self.n_configs

    def round_length(self, round_number: int) -> int:
        """Return how many configurations a round draws (1-based)."""
        return self.n_configs if round_number == 1 else self.round_size

    def first_index(self, round_number: int) -> int:
        """Return the index of the first configuration of a round (1-based)."""
        if round_number == 1:
            return 0
        return self.n_configs + (round_number - 2) * self.round_size

    def draw_description(self) -> dict[str, Any]:
        """Return the fields that decide which configurations are drawn (not the cap)."""
        return self.model_dump(exclude={"max_configs", "soc_definition"})


class ChannelPoint(BaseModel):
    """One (SOC, R_t) point of the fit."""

    config_index: int = Field(..., description="Configuration index.")
    soc: float = Field(..., description="State of charge (fraction).")
    r_t: float = Field(..., description="Channel radius (A).")
    volume_per_framework_atom: float | None = Field(
        None, description="Relaxed volume per non-Li atom (A^3/atom)."
    )
    converged: bool | None = Field(None, description="Whether its relaxation converged.")
    excluded: str | None = Field(
        None, description="Why the point is left out of the fit (e.g. 'not converged')."
    )
    round: int = Field(1, description="Sampling round that drew it (1-based).")
    reused: bool = Field(False, description="Taken from the store instead of relaxed again.")


class SamplingRound(BaseModel):
    """One round of sequential sampling and the verdict it left."""

    round: int = Field(..., description="Round number (1-based).")
    config_indices: list[int] = Field(..., description="Configurations drawn in the round.")
    n_relaxed: int = Field(0, description="Configurations relaxed in this run.")
    n_reused: int = Field(0, description="Configurations taken from the store.")
    n_points: int = Field(0, description="Points fitted after the round (all rounds so far).")
    slope: float | None = Field(None, description="Slope after the round.")
    slope_ci_low: float | None = Field(None, description="Interval after the round, low.")
    slope_ci_high: float | None = Field(None, description="Interval after the round, high.")
    verdict: Verdict = Field(..., description="Verdict after the round.")
    critical_value: float | None = Field(
        None, description="Critical value of the round's look (None: not a look)."
    )
    relative_ci_low: float | None = Field(
        None, description="Interval of the slope minus the reference's after the round, low."
    )
    relative_ci_high: float | None = Field(
        None, description="Interval of the slope minus the reference's after the round, high."
    )
    relative_verdict: RelativeVerdict | None = Field(
        None, description="Verdict against the reference after the round."
    )


class FitStatistics(BaseModel):
    """Least-squares slope of R_t against SOC with its correlation statistics."""

    slope: float | None = Field(None, description="dR_t/dSOC (A per 100 % SOC).")
    slope_err: float | None = Field(
        None, description="Standard error of the slope (of the design: see interval_method)."
    )
    slope_df: float | None = Field(None, description="Degrees of freedom of slope_err.")
    intercept: float | None = Field(None, description="R_t at SOC 0 from the fit (A).")
    intercept_err: float | None = Field(None, description="Standard error (A).")
    pearson_r: float | None = Field(None, description="Pearson correlation r.")
    pearson_p: float | None = Field(None, description="Two-sided p-value of r.")
    spearman_rho: float | None = Field(None, description="Spearman rank correlation.")
    spearman_p: float | None = Field(None, description="Two-sided p-value of rho.")
    slope_ci_low: float | None = Field(
        None, description="Lower bound of the interval of the slope (slope units)."
    )
    slope_ci_high: float | None = Field(
        None, description="Upper bound of the interval of the slope (slope units)."
    )
    ci_level: float | None = Field(
        None,
        description="Confidence level of the interval; of a sequential fit, held over all "
        "its looks at once.",
    )
    interval_method: str | None = Field(
        None,
        description="How the interval was computed: 'collapsed-strata' (the design's "
        "linearized error, Student's t with Satterthwaite's degrees of freedom, at the "
        "look's critical value) or 'pairs-bootstrap' (percentile, resampling the points).",
    )
    critical_value: float | None = Field(
        None, description="Critical value of the interval (t scale) at this look."
    )
    look: int | None = Field(None, description="Look of the sequential plan (1-based).")
    n_looks: int | None = Field(None, description="Looks the sequential plan allows.")
    n_bootstrap: int | None = Field(
        None, description="Bootstrap resamples of the points (pairs bootstrap, percentile)."
    )
    bootstrap_seed: int | None = Field(None, description="Seed of the bootstrap.")

    @classmethod
    def fitted(
        cls,
        x: list[float],
        y: list[float],
        n_bootstrap: int = 1000,
        seed: int = 0,
        level: float = 0.95,
    ) -> tuple[dict, str | None]:
        """Fit y against x by least squares with a pairs-bootstrap interval.

        For points that are not a stratified design (a database series, say); the
        configurations of a candidate are fitted by :func:`sianode_flows.jobs.fit.design_fit`.

        Parameters
        ----------
        x, y
            The points.
        n_bootstrap
            Bootstrap resamples for the slope interval; 0 skips the interval.
        seed
            Seed of the bootstrap.
        level
            Confidence level of the interval.

        Returns
        -------
        tuple of dict and str or None
            The fields of :class:`FitStatistics`, and the reason when none could be
            fitted (then the dict is empty).
        """
        from sianode_flows.analysis.fit import bootstrap_slope_interval, fit_slope

        try:
            fit = fit_slope(x, y)
        except ValueError as exc:
            return {}, str(exc)
        fields = {name: getattr(fit, name) for name in cls.model_fields if hasattr(fit, name)}
        if n_bootstrap > 0:
            try:
                interval = bootstrap_slope_interval(x, y, n_bootstrap, level, seed)
            except ValueError:  # no resample had a varying x: no interval
                return fields, None
            fields |= {
                "slope_ci_low": interval.low,
                "slope_ci_high": interval.high,
                "ci_level": level,
                "interval_method": "pairs-bootstrap",
                "n_bootstrap": n_bootstrap,
                "bootstrap_seed": seed,
            }
        return fields, None


class SlopeFitDocument(SianodeDocument, FitStatistics):
    """Linear fit of R_t against SOC for one candidate, with a verdict.

    The slope is in A per 100 % SOC: a positive slope means the channels shrink as
    Li is removed. The paper finds 0.85 +- 0.23 for pure Si and below 0.45 for
    Si7Ge1 and Zn1Si8.
    """

    candidate_id: str = Field(..., description="Candidate fitted.")
    formula: str = Field(..., description="Reduced formula of the charged candidate.")
    source: str = Field(..., description="Source database of the candidate.")
    source_id: str | None = Field(None, description="Identifier in the source.")
    capacity_mAh_g: float = Field(..., description="Gravimetric capacity (mAh/g).")
    r_t_charged: float | None = Field(
        None, description="R_t of the charged structure as given (A)."
    )
    points: list[ChannelPoint] = Field(default_factory=list, description="Fitted points.")
    n_configs: int = Field(..., description="Configurations fitted.")
    n_failed: int = Field(0, description="Configurations lost to failures.")
    n_unconverged: int = Field(0, description="Measured configurations not converged.")
    n_excluded: int = Field(0, description="Measured points left out of the fit.")
    fit_unconverged: bool = Field(
        False, description="Whether unconverged relaxations were fitted (else excluded)."
    )
    failure_reasons: dict[str, int] = Field(
        default_factory=dict, description="Failed configurations by kind of failure."
    )
    slope_threshold: float = Field(
        ..., description="Largest |slope| judged stable (A per 100 % SOC)."
    )
    verdict: Verdict = Field(
        ..., description="Stable, unstable, undecided (the data cannot tell) or insufficient data."
    )
    verdict_rule: VerdictRule = Field(
        "interval",
        description="'interval': stable when the 95 % interval lies within +-threshold, "
        "unstable when wholly outside, else undecided; 'point': |slope| <= threshold.",
    )
    role: FitRole = Field(
        "candidate", description="'reference': the fit the candidates are compared with."
    )
    min_configs: int | None = Field(
        None, description="Fewest fitted configurations for any verdict."
    )
    spending: str | None = Field(
        None, description="Alpha-spending of the sequential looks (e.g. 'pocock')."
    )
    reference: str | None = Field(
        None, description="Candidate id of the reference the slope is compared with."
    )
    reference_key: str | None = Field(
        None,
        description="Key of the reference's measurements: its structure, the draw, the relax "
        "settings with the potential and its version, the channel settings.",
    )
    reference_slope: float | None = Field(
        None, description="The reference's slope at the same look (A per 100 % SOC)."
    )
    relative_difference: float | None = Field(
        None, description="Slope minus the reference's (A per 100 % SOC)."
    )
    relative_ci_low: float | None = Field(
        None, description="Lower bound of the interval of the difference (same level)."
    )
    relative_ci_high: float | None = Field(
        None, description="Upper bound of the interval of the difference (same level)."
    )
    relative_verdict: RelativeVerdict | None = Field(
        None,
        description="Lower, higher, similar (within +-margin) than the reference, undecided, "
        "or insufficient data; None without a reference.",
    )
    paired: bool | None = Field(
        None,
        description="Whether the candidate drew the reference's removed Li sites, "
        "configuration by configuration, so that the difference is paired.",
    )
    margin: float | None = Field(
        None, description="Half-width of the 'similar' band (A per 100 % SOC)."
    )
    rounds: list[SamplingRound] = Field(
        default_factory=list, description="Sampling rounds, in order, with their verdicts."
    )
    stop_reason: StopReason | None = Field(None, description="Why sampling stopped.")
    n_relaxed: int = Field(0, description="Configurations relaxed in the run(s) of this fit.")
    n_reused: int = Field(0, description="Configurations taken from the store.")
    potential: str | None = Field(None, description="Potential or code, e.g. 'CHGNet'.")
    engine: str | None = Field(
        None, description="What ran the relaxations, e.g. 'torch-sim' or 'ase'."
    )
    volume_fit: FitStatistics | None = Field(
        None,
        description="Fit of the relative volume V/V_ref against SOC, with V the relaxed "
        "volume per framework (non-Li) atom and V_ref that of the relaxed charged "
        "configuration (mean over SOC 1 points), or the largest V when SOC 1 was not "
        "measured. Its slope is the relative volume change per 100 % SOC: 0.7 means the "
        "volume falls by 70 % of the charged volume on full delithiation (dimensionless).",
    )
    volume_reference: VolumeReference | None = Field(
        None, description="V_ref of the volume fit: the charged configuration or the largest."
    )
    volume_reference_per_framework_atom: float | None = Field(
        None, description="V_ref of the volume fit (A^3 per non-Li atom)."
    )
    protocol: DelithiationProtocol = Field(..., description="How SOC was sampled.")
    relax_maker: str | None = Field(None, description="Relax maker used (class, name).")
    run_key: str | None = Field(
        None, description="Hash of candidate and settings; reruns skip a stored key."
    )
    note: str | None = Field(None, description="Why no slope could be fitted, if so.")

    @field_validator("verdict_rule", mode="before")
    @classmethod
    def _renamed_rule(cls, value: Any) -> Any:
        """Read documents written with the rules' former names."""
        return LEGACY_VERDICT_RULES.get(value, value)

    @property
    def volume_slope(self) -> float | None:
        """Relative volume change per 100 % SOC (``volume_fit.slope``), if fitted."""
        return self.volume_fit.slope if self.volume_fit is not None else None

    @property
    def shown_verdict(self) -> str:
        """Return the verdict a screen shows (see :func:`shown_verdict`)."""
        return shown_verdict(self.role, self.relative_verdict, self.verdict)

    @property
    def decided(self) -> bool:
        """Whether the verdict that sampling follows is decided."""
        return self.shown_verdict in ("lower", "higher", "similar", "stable", "unstable")


def shown_verdict(role: str, relative: str | None, verdict: str) -> str:
    """Return the verdict a screen shows.

    ``"reference"`` for the reference's own fit, else the verdict against the
    reference where there is one, else the absolute one.
    """
    if role == "reference":
        return "reference"
    return relative if relative is not None else verdict


class PendingFitDocument(SianodeDocument):
    """A fit after a round that leaves its candidate undecided (or the reference needed).

    The next pooled round takes it up (see :func:`sianode_flows.jobs.screen.pooled_round`);
    it is not a result, and readers of slope fits do not see it (its class differs).
    """

    candidate_id: str = Field(..., description="The candidate.")
    round: int = Field(..., description="The round just fitted (1-based).")
    fit: SlopeFitDocument = Field(..., description="The fit over the rounds so far.")
