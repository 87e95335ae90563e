"""Pydantic documents: one schema per kind of result."""

from sianode_flows.schemas.candidate import CandidateDocument, Provenance
from sianode_flows.schemas.channel import (
    ChannelDocument,
    DelithiatedConfiguration,
    RelaxationSummary,
)
from sianode_flows.schemas.cross_check import CrossCheckDocument
from sianode_flows.schemas.failure import FailureDocument
from sianode_flows.schemas.fit import (
    ChannelPoint,
    DelithiationProtocol,
    FitStatistics,
    PendingFitDocument,
    SamplingRound,
    SlopeFitDocument,
    StopReason,
    Verdict,
    VerdictRule,
)
from sianode_flows.schemas.generation import (
    ConditioningSweepDocument,
    GeneratedStructureDocument,
    GenerationMethod,
    GenerationMetricsDocument,
    TargetOutcome,
)
from sianode_flows.schemas.harvest import HarvestDocument, SourceSummary, StageSummary
from sianode_flows.schemas.hull import HullDocument, HullEntry
from sianode_flows.schemas.selection import CandidateSelectionDocument, StructureRecord
from sianode_flows.schemas.series import DatabaseSeriesDocument, SeriesPoint
from sianode_flows.schemas.summary import CandidateSummaryDocument

__all__ = [
    "CandidateDocument",
    "CandidateSelectionDocument",
    "CandidateSummaryDocument",
    "ChannelDocument",
    "ChannelPoint",
    "ConditioningSweepDocument",
    "CrossCheckDocument",
    "DatabaseSeriesDocument",
    "DelithiatedConfiguration",
    "DelithiationProtocol",
    "FailureDocument",
    "FitStatistics",
    "GeneratedStructureDocument",
    "GenerationMethod",
    "GenerationMetricsDocument",
    "HarvestDocument",
    "HullDocument",
    "HullEntry",
    "PendingFitDocument",
    "Provenance",
    "RelaxationSummary",
    "SamplingRound",
    "SeriesPoint",
    "SlopeFitDocument",
    "SourceSummary",
    "StageSummary",
    "StopReason",
    "StructureRecord",
    "TargetOutcome",
    "Verdict",
    "VerdictRule",
]
