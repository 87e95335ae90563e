"""Input records and the candidate selection that starts a screening."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Structure

from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.candidate import CandidateDocument
from sianode_flows.schemas.failure import FailureDocument


class StructureRecord(BaseModel):
    """One input entry: a parsed structure, or the reason it could not be parsed."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: str = Field(..., description="Where it came from: database or file.")
    source_id: str = Field(..., description="Identifier within the source.")
    structure: Structure | None = Field(None, description="Parsed structure, if any.")
    error: str | None = Field(None, description="Why it could not be parsed, if so.")
    properties: dict[str, Any] = Field(
        default_factory=dict, description="Other fields of the entry, as given."
    )


class CandidateSelectionDocument(SianodeDocument):
    """Which inputs became candidates, which fell below the capacity, which failed."""

    min_capacity_mAh_g: float = Field(..., description="Capacity threshold (mAh/g).")
    n_inputs: int = Field(..., description="Input records read.")
    selected: list[CandidateDocument] = Field(
        default_factory=list, description="Candidates at or above the threshold."
    )
    below_threshold: list[CandidateDocument] = Field(
        default_factory=list, description="Valid candidates below the threshold."
    )
    failures: list[FailureDocument] = Field(
        default_factory=list, description="Inputs that could not be used, and why."
    )
