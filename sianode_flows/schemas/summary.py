"""One summary per screened candidate: what the candidates collection holds."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pymatgen.core import Composition

from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.candidate import Provenance
from sianode_flows.schemas.fit import (
    DelithiationProtocol,
    FitRole,
    FitStatistics,
    RelativeVerdict,
    SlopeFitDocument,
    Verdict,
    shown_verdict,
)

VERDICT_FIELDS = (
    "min_configs",
    "role",
    "reference",
    "reference_key",
    "relative_verdict",
    "relative_difference",
    "relative_ci_low",
    "relative_ci_high",
    "paired",
    "margin",
)
"""Fields of a fit's verdicts (minimum, the reference and the comparison) its summary carries."""


def fit_potential(fit: SlopeFitDocument) -> tuple[str, str]:
    """Return the potential and engine of a fit, read from ``relax_maker`` for older fits.

    ``"BatchedRelaxMaker(CHGNet)"`` gives ``("CHGNet", "torch-sim")``,
    ``"ForceFieldRelaxMaker(SevenNet)"`` ``("SevenNet", "ase")``.
    """
    described = fit.relax_maker or "unknown"
    maker, _, detail = described.partition("(")
    potential = fit.potential or detail.rstrip(")") or maker
    engines = {"BatchedRelaxMaker": "torch-sim", "ForceFieldRelaxMaker": "ase"}
    engine = fit.engine or engines.get(maker, maker)
    return potential, engine


def summary_id(candidate_id: str, potential: str, engine: str) -> str:
    """Return the key of a summary: one per candidate, potential and engine."""
    return f"{candidate_id}|{potential}|{engine}"


class CandidateSummaryDocument(SianodeDocument, FitStatistics):
    """A candidate's capacity, channel radius, slope fit and verdict under one relax maker.

    Built by :class:`~sianode_flows.builders.CandidateSummaryBuilder` from the raw job
    outputs: the newest slope fit of the candidate for each potential and engine (a
    cross-check's second potential gets its own summary and never replaces the
    first), and its candidate document for the provenance. The fields queried most
    (capacity, slope, elements, source, verdict, potential) are top-level so that a
    database can index them.
    """

    summary_id: str = Field("", description="Key of the summary: 'candidate_id|potential|engine'.")
    candidate_id: str = Field(..., description="Stable identifier, e.g. 'mp:mp-569849'.")
    potential: str = Field("", description="Potential or code of the fit, e.g. 'CHGNet'.")
    engine: str = Field("", description="What ran the relaxations, e.g. 'torch-sim'.")
    formula: str = Field(..., description="Reduced formula of the charged candidate.")
    chemsys: str = Field(..., description="Chemical system, e.g. 'Li-Si'.")
    elements: list[str] = Field(..., description="Elements of the candidate, sorted.")
    nelements: int = Field(..., description="Number of elements.")
    host_formula: str | None = Field(None, description="Reduced formula without Li.")
    nsites: int | None = Field(None, description="Sites in the charged cell.")
    source: str = Field(..., description="Source database of the candidate.")
    source_id: str | None = Field(None, description="Identifier in the source.")
    provenance: list[Provenance] = Field(
        default_factory=list, description="Every source entry merged into the candidate."
    )
    capacity_mAh_g: float = Field(..., description="Gravimetric capacity (mAh/g).")
    r_t_charged: float | None = Field(
        None, description="R_t of the charged structure as given, unrelaxed (A)."
    )
    n_configs: int = Field(..., description="Configurations fitted.")
    n_failed: int = Field(0, description="Configurations lost to failures.")
    n_unconverged: int = Field(0, description="Fitted configurations not converged.")
    slope_threshold: float = Field(
        ..., description="Largest |slope| judged stable (A per 100 % SOC)."
    )
    verdict: Verdict = Field(
        ..., description="Stable, unstable, undecided (the data cannot tell) or insufficient data."
    )
    verdict_rule: str | None = Field(None, description="How the verdict was judged.")
    min_configs: int | None = Field(None, description="Fewest configurations for a verdict.")
    role: FitRole = Field("candidate", description="'reference': the reference's own fit.")
    reference: str | None = Field(None, description="Candidate id of the reference.")
    reference_key: str | None = Field(None, description="Key of the reference's measurements.")
    relative_verdict: RelativeVerdict | None = Field(
        None, description="Lower, higher, similar than the reference, undecided or too few."
    )
    relative_difference: float | None = Field(
        None, description="Slope minus the reference's (A per 100 % SOC)."
    )
    relative_ci_low: float | None = Field(None, description="Interval of the difference, low.")
    relative_ci_high: float | None = Field(None, description="Interval of the difference, high.")
    paired: bool | None = Field(None, description="Whether the difference is paired.")
    margin: float | None = Field(None, description="Half-width of the 'similar' band.")
    n_excluded: int = Field(0, description="Measured points left out of the fit.")
    n_rounds: int = Field(1, description="Sampling rounds of the fit.")
    stop_reason: str | None = Field(None, description="Why sampling stopped.")
    volume_slope: float | None = Field(
        None, description="Relative volume change per 100 % SOC, if fitted (dimensionless)."
    )
    protocol: DelithiationProtocol = Field(..., description="How SOC was sampled.")
    relax_maker: str | None = Field(None, description="Relax maker used (class, name).")
    run_key: str | None = Field(None, description="Run key of the fit summarized.")
    fit_uuid: str = Field(..., description="Uuid of the job whose fit is summarized.")

    @property
    def shown_verdict(self) -> str:
        """Return the verdict shown: the relative one, else the absolute (as on fits)."""
        return shown_verdict(self.role, self.relative_verdict, self.verdict)

    fit_created_at: datetime = Field(..., description="When that fit was built (UTC).")
    n_fits: int = Field(1, description="Fit documents stored for the candidate (reruns).")
    run_keys: list[str] = Field(
        default_factory=list, description="Distinct run keys (settings) fitted so far."
    )
    source_keys: list[str] = Field(
        default_factory=list,
        description="'uuid:index' of every job output read to build it (incremental builds).",
    )
    last_updated: datetime = Field(
        ..., description="Completion time of the newest job output read, as the store wrote it."
    )

    @classmethod
    def from_fits(
        cls,
        fits: list[SlopeFitDocument],
        fit_uuids: list[str],
        provenance: list[Provenance] | None = None,
        host_formula: str | None = None,
        nsites: int | None = None,
        source_keys: list[str] | None = None,
        last_updated: datetime | None = None,
    ) -> CandidateSummaryDocument:
        """Summarize a candidate under one potential from its stored fits (the newest wins).

        Parameters
        ----------
        fits
            Every slope fit stored for the candidate.
        fit_uuids
            Uuid of the job that produced each fit, in the same order.
        provenance
            Source entries of the candidate; its fit's source when none is given.
        host_formula
            Reduced formula of the candidate without Li, if known.
        nsites
            Sites in the charged cell, if known.
        source_keys
            Keys of every job output read.
        last_updated
            Completion time of the newest of them.

        Returns
        -------
        CandidateSummaryDocument
            The summary.

        Raises
        ------
        ValueError
            If there is no fit, or fits of several candidates.
        """
        if not fits:
            raise ValueError("no slope fit to summarize")
        if len({f.candidate_id for f in fits}) != 1:
            raise ValueError("fits of several candidates given")
        if len({fit_potential(f) for f in fits}) != 1:
            raise ValueError("fits of several potentials or engines given: summarize each")
        newest = max(range(len(fits)), key=lambda i: fits[i].created_at)
        fit = fits[newest]
        elements = sorted(str(e) for e in Composition(fit.formula).elements)
        if not provenance:
            provenance = [Provenance(source=fit.source, source_id=fit.source_id)]
        statistics = {name: getattr(fit, name) for name in FitStatistics.model_fields}
        potential, engine = fit_potential(fit)
        return cls(
            summary_id=summary_id(fit.candidate_id, potential, engine),
            candidate_id=fit.candidate_id,
            potential=potential,
            engine=engine,
            formula=fit.formula,
            chemsys="-".join(elements),
            elements=elements,
            nelements=len(elements),
            host_formula=host_formula,
            nsites=nsites,
            source=fit.source,
            source_id=fit.source_id,
            provenance=provenance,
            capacity_mAh_g=fit.capacity_mAh_g,
            r_t_charged=fit.r_t_charged,
            n_configs=fit.n_configs,
            n_failed=fit.n_failed,
            n_unconverged=fit.n_unconverged,
            slope_threshold=fit.slope_threshold,
            verdict=fit.verdict,
            verdict_rule=getattr(fit, "verdict_rule", None),
            **{name: getattr(fit, name) for name in VERDICT_FIELDS},
            n_excluded=fit.n_excluded,
            n_rounds=max(len(fit.rounds), 1),
            stop_reason=fit.stop_reason,
            volume_slope=getattr(fit, "volume_slope", None),
            protocol=fit.protocol,
            relax_maker=fit.relax_maker,
            run_key=fit.run_key,
            fit_uuid=fit_uuids[newest],
            fit_created_at=fit.created_at,
            n_fits=len(fits),
            run_keys=sorted({f.run_key for f in fits if f.run_key}),
            source_keys=sorted(source_keys or []),
            last_updated=last_updated or fit.created_at,
            **statistics,
        )
