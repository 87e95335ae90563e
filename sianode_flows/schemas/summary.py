"""One summary per screened candidate: what the candidates collection holds."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from pymatgen.core import Composition

from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.candidate import Provenance
from sianode_flows.schemas.fit import (
    DelithiationProtocol,
    FitStatistics,
    SlopeFitDocument,
    Verdict,
)


class CandidateSummaryDocument(SianodeDocument, FitStatistics):
    """A candidate's capacity, channel radius, slope fit and verdict, in one flat document.

    Built by :class:`~sianode_flows.builders.CandidateSummaryBuilder` from the raw job
    outputs: the newest slope fit of the candidate, and its candidate document for the
    provenance. The fields queried most (capacity, slope, elements, source, verdict)
    are top-level so that a database can index them.
    """

    candidate_id: str = Field(..., description="Stable identifier, e.g. 'mp:mp-569849'.")
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
    verdict: Verdict = Field(..., description="Stable, unstable or insufficient data.")
    verdict_rule: str | None = Field(None, description="How the verdict was judged.")
    volume_slope: float | None = Field(
        None, description="Relative volume change per 100 % SOC, if fitted (dimensionless)."
    )
    protocol: DelithiationProtocol = Field(..., description="How SOC was sampled.")
    relax_maker: str | None = Field(None, description="Relax maker used (class, name).")
    run_key: str | None = Field(None, description="Run key of the fit summarized.")
    fit_uuid: str = Field(..., description="Uuid of the job whose fit is summarized.")
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
        """Summarize a candidate from its stored fits (the newest one wins).

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
        newest = max(range(len(fits)), key=lambda i: fits[i].created_at)
        fit = fits[newest]
        elements = sorted(str(e) for e in Composition(fit.formula).elements)
        if not provenance:
            provenance = [Provenance(source=fit.source, source_id=fit.source_id)]
        statistics = {name: getattr(fit, name) for name in FitStatistics.model_fields}
        return cls(
            candidate_id=fit.candidate_id,
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
