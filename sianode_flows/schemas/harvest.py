"""What a harvest found: counts per source and per filter stage, and the candidates."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.candidate import CandidateDocument
from sianode_flows.schemas.failure import FailureDocument


class SourceSummary(BaseModel):
    """What one source gave."""

    name: str = Field(..., description="Source label.")
    n_seen: int = Field(0, description="Entries the source returned or the files held.")
    n_prefiltered: int = Field(
        0, description="Entries dropped by chemistry before parsing (formula or server)."
    )
    n_records: int = Field(0, description="Entries passed on to the filters.")
    n_unparsable: int = Field(0, description="Entries whose structure could not be parsed.")
    error: str | None = Field(None, description="Why the source failed, if it did.")


class StageSummary(BaseModel):
    """One filter stage: how many entries came in, how many it dropped and why."""

    stage: str = Field(..., description="Stage name.")
    n_in: int = Field(..., description="Entries entering the stage.")
    n_dropped: int = Field(0, description="Entries it dropped.")
    reasons: dict[str, int] = Field(default_factory=dict, description="Drops per reason.")
    examples: dict[str, list[str]] = Field(
        default_factory=dict, description="A few dropped entry ids per reason."
    )


class HarvestDocument(SianodeDocument):
    """Candidates harvested from several sources, harmonized and deduplicated.

    The same compound from several databases (structure matching within a reduced
    formula, not formula alone) is one candidate carrying every source's provenance,
    each source's energies kept as given and labelled with the source.
    """

    required_elements: list[str] = Field(..., description="Elements every entry contains.")
    min_capacity_mAh_g: float = Field(..., description="Capacity threshold (mAh/g).")
    max_sites: int | None = Field(None, description="Largest cell accepted (sites).")
    sources: list[SourceSummary] = Field(default_factory=list, description="Per source.")
    stages: list[StageSummary] = Field(default_factory=list, description="Per stage, in order.")
    n_duplicates_merged: int = Field(0, description="Entries merged into another candidate.")
    candidates: list[CandidateDocument] = Field(
        default_factory=list, description="Unique candidates at or above the threshold."
    )
    below_threshold: list[CandidateDocument] = Field(
        default_factory=list, description="Unique valid candidates below the threshold."
    )
    failures: list[FailureDocument] = Field(
        default_factory=list, description="Sources and entries that failed, and why."
    )
