"""The failures collection: every recorded failure, one document each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder, jsanitize
from pydantic import ValidationError

from sianode_flows.builders._base import (
    FAILURE_CLASS,
    JOB_FIELDS,
    SELECTION_CLASS,
    JobOutputBuilder,
    completed_at,
    ensure_index,
    is_stale,
    source_key,
)
from sianode_flows.schemas import FailureDocument

if TYPE_CHECKING:
    from collections.abc import Iterator


class FailureBuilder(JobOutputBuilder):
    """Collect every failure of the job outputs into one flat collection.

    Failures live in two places: nested in the selection documents (inputs that
    could not be read or used) and as the outputs of channel jobs (a configuration
    whose relax or channel analysis failed). Each becomes one document keyed by
    ``failure_id`` (``"<uuid>:<index>:<n>"``), with the job that recorded it.

    Incremental, with maggma ``MapBuilder`` semantics: a source output is processed
    only if it was never processed or was stored again since. Three strict phases.

    Parameters
    ----------
    source
        Documents store of the job store (job outputs).
    target
        Store of the failures, keyed by ``failure_id``.
    query
        Extra criteria on the source documents.
    chunk_size
        Source outputs processed per batch.
    """

    def _criteria(self) -> list[dict[str, Any]]:
        base = self.query or {}
        return [
            {**base, "output.@class": SELECTION_CLASS, "output.failures": {"$ne": []}},
            {**base, "output.@class": FAILURE_CLASS},
        ]

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Yield the job outputs holding failures that are new or stored again.

        Yields
        ------
        dict
            A job-output document with ``uuid``, ``index``, ``completed_at``, ``name``
            and the failures in ``output``.
        """
        self.logger.info("starting %s", type(self).__name__)
        for key in ("failure_id", "source_key", "step", "candidate_id"):
            ensure_index(self.target, key, unique=key == "failure_id")
        built: dict[str, Any] = {}
        for doc in self.target.query({}, properties=["source_key", "last_updated"]):
            built[doc["source_key"]] = doc.get("last_updated")
        todo = []
        for criteria in self._criteria():
            for doc in self.source.query(criteria, properties=JOB_FIELDS):
                key = source_key(doc)
                recorded = {key} if key in built else None
                if is_stale({key: completed_at(doc)}, recorded, built.get(key)):
                    todo.append((criteria, doc["uuid"], doc.get("index", 1)))
        self.total = len(todo)
        self.logger.info("%d job outputs with failures to process", len(todo))
        for criteria, uuid, index in todo:
            fields = [*JOB_FIELDS, "name"]
            fields.append("output.failures" if "output.failures" in criteria else "output")
            yield from self.source.query(
                {**criteria, "uuid": uuid, "index": index}, properties=fields
            )

    def process_item(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Turn one job output into its failure documents (computation only).

        Parameters
        ----------
        item
            One item of :meth:`get_items`.

        Returns
        -------
        list of dict
            One document per failure, with ``failure_id``, ``source_key``,
            ``job_name`` and ``last_updated``.
        """
        output = item["output"]
        nested = output.get("failures") if "failures" in output else [output]
        key = source_key(item)
        docs = []
        for number, raw in enumerate(nested or []):
            try:
                failure = parse_failure(raw)
            except ValidationError as exc:
                self.logger.warning("%s holds a failure that does not parse: %s", key, exc)
                continue
            doc = jsanitize(failure.model_dump(), strict=False, allow_bson=True)
            doc.update(
                failure_id=f"{key}:{number}",
                source_key=key,
                job_name=item.get("name"),
                last_updated=completed_at(item),
            )
            docs.append(doc)
        return docs

    def update_targets(self, items: list[list[dict[str, Any]]]) -> None:
        """Write the failures, replacing those recorded earlier from the same outputs."""
        docs = [doc for group in items for doc in group]
        stale = {"source_key": {"$in": sorted({doc["source_key"] for doc in docs})}}
        if docs and self.target.count(stale):
            self.target.remove_docs(stale)
        if docs:
            self.target.update(docs, key="failure_id")
            self.logger.info("wrote %d failures", len(docs))


def parse_failure(raw: dict[str, Any]) -> FailureDocument:
    """Return the failure document of a stored one (nested ones carry no ``@class``).

    Raises
    ------
    pydantic.ValidationError
        If it is not a failure document.
    """
    decoded = MontyDecoder().process_decoded(raw)
    if isinstance(decoded, FailureDocument):
        return decoded
    return FailureDocument.model_validate({k: v for k, v in raw.items() if k[:1] != "@"})
