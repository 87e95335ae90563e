"""maggma builders: summaries and failures collections from the raw job outputs."""

from sianode_flows.builders.candidates import CandidateSummaryBuilder
from sianode_flows.builders.failures import FailureBuilder
from sianode_flows.builders.locations import (
    FAILURES_COLLECTION,
    SUMMARY_COLLECTION,
    failures_store,
    summary_builders,
    summary_store,
)

__all__ = [
    "FAILURES_COLLECTION",
    "SUMMARY_COLLECTION",
    "CandidateSummaryBuilder",
    "FailureBuilder",
    "failures_store",
    "summary_builders",
    "summary_store",
]
