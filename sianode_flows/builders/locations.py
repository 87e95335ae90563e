"""Where the built collections live, beside the job outputs of a store location."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sianode_flows.builders.candidates import CandidateSummaryBuilder
from sianode_flows.builders.failures import FailureBuilder
from sianode_flows.stores import DOCS_COLLECTION, build_store

if TYPE_CHECKING:
    from maggma.core import Builder, Store

SUMMARY_COLLECTION = "candidates"
"""Collection of the candidate summaries."""
FAILURES_COLLECTION = "failures"
"""Collection of the failures."""


def summary_store(location: str, database: str | None = None) -> Store:
    """Return the (unconnected) store of the candidate summaries at a location.

    Parameters
    ----------
    location
        Folder of the embedded store or a MongoDB URI, as for the job store.
    database
        MongoDB database, for a URI.

    Returns
    -------
    Store
        The ``candidates`` collection.
    """
    return build_store(location, SUMMARY_COLLECTION, database)


def failures_store(location: str, database: str | None = None) -> Store:
    """Return the (unconnected) store of the failures at a location."""
    return build_store(location, FAILURES_COLLECTION, database)


def summary_builders(location: str, database: str | None = None) -> list[Builder]:
    """Return the builders of a store location: candidates, then failures.

    Their source is the job outputs (``outputs``) at the location; their targets are
    collections beside it. Serialized (``monty.serialization.dumpfn``), they run with
    ``mrun``.

    Parameters
    ----------
    location
        Folder of the embedded store or a MongoDB URI.
    database
        MongoDB database, for a URI.

    Returns
    -------
    list of Builder
        The candidate-summary and failure builders.
    """
    return [
        CandidateSummaryBuilder(
            build_store(location, DOCS_COLLECTION, database), summary_store(location, database)
        ),
        FailureBuilder(
            build_store(location, DOCS_COLLECTION, database), failures_store(location, database)
        ),
    ]
