"""Two potentials on the same configurations: both slopes and their difference."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.fit import SlopeFitDocument

CrossCheckVerdict = Literal["stable", "unstable", "undecided", "disagree", "insufficient-data"]

CROSS_CHECK_ORDER = {
    "stable": 0,
    "unstable": 1,
    "undecided": 2,
    "disagree": 3,
    "insufficient-data": 4,
}
"""Order of the verdicts when ranking cross-checks (best first)."""


class CrossCheckDocument(SianodeDocument):
    """One candidate relaxed by two potentials on the same delithiated configurations.

    Both potentials start from the same configurations (one delithiation job), so
    their slopes differ only through the relaxations. The difference of slopes is
    ``first - second`` (A per 100 % SOC); its interval comes from a paired
    bootstrap over the configurations both measured.
    """

    candidate_id: str = Field(..., description="Candidate checked.")
    formula: str = Field(..., description="Reduced formula of the charged candidate.")
    capacity_mAh_g: float | None = Field(None, description="Gravimetric capacity (mAh/g).")
    first_potential: str | None = Field(None, description="Relax maker of the first fit.")
    second_potential: str | None = Field(None, description="Relax maker of the second fit.")
    first: SlopeFitDocument | None = Field(None, description="Fit under the first potential.")
    second: SlopeFitDocument | None = Field(None, description="Fit under the second potential.")
    n_common: int = Field(0, description="Configurations measured under both potentials.")
    slope_difference: float | None = Field(
        None, description="Slope of the first minus slope of the second (A per 100 % SOC)."
    )
    difference_ci_low: float | None = Field(
        None, description="Lower bound of the paired bootstrap interval of the difference (A)."
    )
    difference_ci_high: float | None = Field(
        None, description="Upper bound of the paired bootstrap interval of the difference (A)."
    )
    ci_level: float | None = Field(None, description="Confidence level of the interval.")
    r_t_mean_abs_difference: float | None = Field(
        None,
        description="Mean |R_t(first) - R_t(second)| over the common configurations (A).",
    )
    volume_slope_difference: float | None = Field(
        None, description="Volume slope of the first minus that of the second (per 100 % SOC)."
    )
    tolerance: float = Field(
        ..., description="Largest |slope difference| for agreement (A per 100 % SOC)."
    )
    agree: bool | None = Field(
        None, description="|slope difference| <= tolerance; None when a slope is missing."
    )
    require_agreement: bool = Field(
        True, description="Whether the verdict requires the two potentials to agree."
    )
    verdict: CrossCheckVerdict = Field(
        ...,
        description="'stable' when both fits are stable (and agree, if required); "
        "'disagree' when agreement is required and the slopes differ by more than the "
        "tolerance; else 'unstable', or 'insufficient-data' when a fit has no slope.",
    )
    note: str | None = Field(None, description="Why the comparison is incomplete, if so.")

    def rank_key(self) -> tuple[int, float, float]:
        """Sort key: verdict, then |first slope| ascending, then capacity descending."""
        slope = self.first.slope if self.first is not None else None
        return (
            CROSS_CHECK_ORDER[self.verdict],
            abs(slope) if slope is not None else float("inf"),
            -(self.capacity_mAh_g or 0.0),
        )

    def summary(self) -> dict[str, Any]:
        """Flat cross-check fields added to a candidate's JSON summary row."""
        second = self.second
        return {
            "second_potential": self.second_potential,
            "second_slope": second.slope if second is not None else None,
            "second_slope_ci_low": second.slope_ci_low if second is not None else None,
            "second_slope_ci_high": second.slope_ci_high if second is not None else None,
            "slope_difference": self.slope_difference,
            "difference_ci_low": self.difference_ci_low,
            "difference_ci_high": self.difference_ci_high,
            "potentials_agree": self.agree,
            "cross_check_verdict": self.verdict,
        }
