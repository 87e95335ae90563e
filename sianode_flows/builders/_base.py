"""Helpers shared by the builders: job-output keys, completion times, indexes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from maggma.core import Builder

if TYPE_CHECKING:
    from maggma.core import Store

logger = logging.getLogger(__name__)

FIT_CLASS = "SlopeFitDocument"
SELECTION_CLASS = "CandidateSelectionDocument"
CANDIDATE_CLASS = "CandidateDocument"
FAILURE_CLASS = "FailureDocument"
JOB_FIELDS = ["uuid", "index", "completed_at"]
"""Fields of a job-output document that identify it and date it."""

TOLERANCE = timedelta(milliseconds=1)
"""Databases keep dates to the millisecond: newer means newer by more than this."""


def source_key(doc: dict[str, Any]) -> str:
    """Return the key of a job output: ``"<uuid>:<index>"``."""
    return f"{doc['uuid']}:{doc.get('index', 1)}"


def completed_at(doc: dict[str, Any]) -> datetime:
    """Return when a job output was stored, naive UTC (jobflow writes an ISO string)."""
    value = doc.get("completed_at")
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_naive(value) if isinstance(value, datetime) else datetime.min


def as_naive(stamp: datetime | None) -> datetime:
    """Return a date as naive UTC (``datetime.min`` for ``None``)."""
    if stamp is None:
        return datetime.min
    if stamp.tzinfo is not None:
        return stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


def is_stale(
    sources: dict[str, datetime], built_keys: set[str] | None, built_at: datetime | None
) -> bool:
    """Return whether a target document must be rebuilt from its source outputs.

    It must when it does not exist, when the set of source outputs changed (a new fit,
    a new selection), or when one of them was stored again after it was built.

    Parameters
    ----------
    sources
        Key and completion time of each source output of the document.
    built_keys
        Keys recorded in the target document; ``None`` when there is none.
    built_at
        ``last_updated`` recorded in the target document.

    Returns
    -------
    bool
        Whether to (re)build it.
    """
    if built_keys is None or set(sources) != built_keys:
        return True
    newest = max(sources.values(), default=datetime.min)
    return newest > as_naive(built_at) + TOLERANCE


def ensure_index(store: Store, key: str, unique: bool = False) -> bool:
    """Create an index where the store supports it (the embedded store does not)."""
    try:
        return bool(store.ensure_index(key, unique=unique))
    except NotImplementedError:
        return False


class JobOutputBuilder(Builder):
    """A maggma builder from the job outputs of a jobflow store to one target store.

    Parameters
    ----------
    source
        Documents store of the job store (job outputs).
    target
        Store the builder writes.
    query
        Extra criteria on the source documents.
    chunk_size
        Items processed per batch.
    """

    def __init__(
        self,
        source: Store,
        target: Store,
        query: dict[str, Any] | None = None,
        chunk_size: int = 100,
    ) -> None:
        self.source = source
        self.target = target
        self.query = query
        self.total: int | None = None
        super().__init__(sources=[source], targets=[target], chunk_size=chunk_size)
