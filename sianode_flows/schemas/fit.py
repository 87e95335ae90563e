"""Channel radius against state of charge: the slope fit and its verdict."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sianode_flows.schemas.base import SianodeDocument

Verdict = Literal["stable", "unstable", "insufficient-data"]

SOC_DEFINITION = "Li atoms kept / Li atoms in the charged cell"


class DelithiationProtocol(BaseModel):
    """How the configurations were drawn; recorded with every fit."""

    n_configs: int = Field(..., description="Configurations asked for, ends included.")
    seed: int = Field(..., description="Seed of the random draws.")
    soc_range: tuple[float, float] = Field(..., description="Range of random SOC.")
    include_charged: bool = Field(..., description="Charged end (SOC 1) included.")
    include_delithiated: bool = Field(..., description="Empty end (SOC 0) included.")
    soc_definition: str = Field(SOC_DEFINITION, description="Definition of SOC.")


class ChannelPoint(BaseModel):
    """One (SOC, R_t) point of the fit."""

    config_index: int = Field(..., description="Configuration index.")
    soc: float = Field(..., description="State of charge (fraction).")
    r_t: float = Field(..., description="Channel radius (A).")
    volume_per_framework_atom: float | None = Field(
        None, description="Relaxed volume per non-Li atom (A^3/atom)."
    )
    converged: bool | None = Field(None, description="Whether its relaxation converged.")


class FitStatistics(BaseModel):
    """Least-squares slope of R_t against SOC with its correlation statistics."""

    slope: float | None = Field(None, description="dR_t/dSOC (A per 100 % SOC).")
    slope_err: float | None = Field(None, description="Standard error of the slope.")
    intercept: float | None = Field(None, description="R_t at SOC 0 from the fit (A).")
    intercept_err: float | None = Field(None, description="Standard error (A).")
    pearson_r: float | None = Field(None, description="Pearson correlation r.")
    pearson_p: float | None = Field(None, description="Two-sided p-value of r.")
    spearman_rho: float | None = Field(None, description="Spearman rank correlation.")
    spearman_p: float | None = Field(None, description="Two-sided p-value of rho.")

    @classmethod
    def fitted(cls, x: list[float], y: list[float]) -> tuple[dict, str | None]:
        """Fit y against x; return the statistics as fields, or why none could be fitted."""
        from sianode_flows.analysis.fit import fit_slope

        try:
            fit = fit_slope(x, y)
        except ValueError as exc:
            return {}, str(exc)
        fields = {name: getattr(fit, name) for name in cls.model_fields}
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
    n_unconverged: int = Field(0, description="Fitted configurations not converged.")
    slope_threshold: float = Field(
        ..., description="Largest |slope| judged stable (A per 100 % SOC)."
    )
    verdict: Verdict = Field(..., description="Stable, unstable or insufficient data.")
    protocol: DelithiationProtocol = Field(..., description="How SOC was sampled.")
    relax_maker: str | None = Field(None, description="Relax maker used (class, name).")
    run_key: str | None = Field(
        None, description="Hash of candidate and settings; reruns skip a stored key."
    )
    note: str | None = Field(None, description="Why no slope could be fitted, if so.")
