"""Pydantic documents: one schema per kind of result."""

from sianode_flows.schemas.candidate import CandidateDocument, Provenance
from sianode_flows.schemas.channel import (
    ChannelDocument,
    DelithiatedConfiguration,
    RelaxationSummary,
)
from sianode_flows.schemas.failure import FailureDocument
from sianode_flows.schemas.fit import (
    ChannelPoint,
    DelithiationProtocol,
    FitStatistics,
    SlopeFitDocument,
    Verdict,
)
from sianode_flows.schemas.selection import CandidateSelectionDocument, StructureRecord
from sianode_flows.schemas.series import DatabaseSeriesDocument, SeriesPoint

__all__ = [
    "CandidateDocument",
    "CandidateSelectionDocument",
    "ChannelDocument",
    "ChannelPoint",
    "DatabaseSeriesDocument",
    "DelithiatedConfiguration",
    "DelithiationProtocol",
    "FailureDocument",
    "FitStatistics",
    "Provenance",
    "RelaxationSummary",
    "SeriesPoint",
    "SlopeFitDocument",
    "StructureRecord",
    "Verdict",
]
