"""The candidates collection: one summary document per screened candidate."""

from __future__ import annotations

import traceback
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder, jsanitize

from sianode_flows.builders._base import (
    CANDIDATE_CLASS,
    FIT_CLASS,
    JOB_FIELDS,
    SELECTION_CLASS,
    JobOutputBuilder,
    completed_at,
    ensure_index,
    is_stale,
    source_key,
)
from sianode_flows.schemas import CandidateSummaryDocument, Provenance, SlopeFitDocument
from sianode_flows.schemas.summary import fit_potential

if TYPE_CHECKING:
    from collections.abc import Iterator


CANDIDATE_FIELDS = ("candidate_id", "provenance", "host_formula", "nsites")
"""Fields read from candidate documents (never the structure)."""


class CandidateSummaryBuilder(JobOutputBuilder):
    """Build one summary per candidate and relax maker from the raw job outputs of a store.

    The source is the documents store of a jobflow ``JobStore`` (``outputs``). For
    every candidate with a stored slope fit, and every potential and engine that
    fitted it, the summary takes the newest fit (slope +- error, statistics,
    verdict, protocol, relax maker) and the candidate's provenance from the
    selection (or candidate) job that described it. Summaries are keyed by
    ``summary_id`` (``candidate_id|potential|engine``): a cross-check's second
    potential never replaces the first one's slope.

    Incremental, with maggma ``GroupBuilder`` semantics: the source outputs are
    grouped by candidate; a summary is rebuilt only when its group changed (a new
    fit or selection appeared, or one was stored again since); everything else is
    left alone. A candidate whose summary cannot be built gets a document with
    ``state: "failed"`` and the error, and the build goes on.

    Three strict phases: ``get_items`` reads, ``process_item`` only computes,
    ``update_targets`` writes.

    Parameters
    ----------
    source
        Documents store of the job store (job outputs).
    target
        Store of the summaries, keyed by ``candidate_id``.
    query
        Extra criteria on the source documents (e.g. ``{"metadata.tags": "batch1"}``).
    chunk_size
        Summaries written per batch.
    """

    def ensure_indexes(self) -> None:
        """Index the fields the builder and the queries use, where the store can."""
        ensure_index(self.source, "output.@class")
        ensure_index(self.source, "output.candidate_id")
        ensure_index(self.target, "summary_id", unique=True)
        for key in ("candidate_id", "capacity_mAh_g", "slope", "elements", "verdict", "potential"):
            ensure_index(self.target, key)

    def _fit_sources(self) -> dict[str, dict[str, datetime]]:
        """Return, per candidate, the key and completion time of each stored fit."""
        found: dict[str, dict[str, datetime]] = defaultdict(dict)
        criteria = {**(self.query or {}), "output.@class": FIT_CLASS}
        for doc in self.source.query(criteria, properties=[*JOB_FIELDS, "output.candidate_id"]):
            # a screen's list of fits (references on MongoDB) repeats the candidates'
            # own fit outputs: those are the sources
            if isinstance(doc["output"], dict):
                found[doc["output"]["candidate_id"]][source_key(doc)] = completed_at(doc)
        return found

    def _candidate_sources(self) -> dict[str, list[dict[str, Any]]]:
        """Return, per candidate, what the selection and candidate jobs say of it."""
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        lists = ("selected", "below_threshold")
        nested = [f"output.{name}.{f}" for name in lists for f in CANDIDATE_FIELDS]
        properties = [*JOB_FIELDS, *nested]
        criteria = {**(self.query or {}), "output.@class": SELECTION_CLASS}
        for doc in self.source.query(criteria, properties=properties):
            for name in lists:
                for entry in doc["output"].get(name) or []:
                    found[entry["candidate_id"]].append({**entry, "_source": doc})
        criteria = {**(self.query or {}), "output.@class": CANDIDATE_CLASS}
        fields = [*JOB_FIELDS, *(f"output.{f}" for f in CANDIDATE_FIELDS)]
        for doc in self.source.query(criteria, properties=fields):
            found[doc["output"]["candidate_id"]].append({**doc["output"], "_source": doc})
        return found

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Yield the candidates whose summary is missing or out of date, with their outputs.

        Yields
        ------
        dict
            ``candidate_id``, its ``fits`` (job-output documents), its ``candidates``
            (candidate entries, without structure), the ``source_keys`` and
            ``last_updated`` of the group.
        """
        self.logger.info("starting %s", type(self).__name__)
        self.ensure_indexes()
        fits = self._fit_sources()
        candidates = self._candidate_sources()
        built = {
            doc["candidate_id"]: (set(doc.get("source_keys") or []), doc.get("last_updated"))
            for doc in self.target.query(
                {}, properties=["candidate_id", "source_keys", "last_updated", "summary_id"]
            )
            # every summary of a candidate records the same sources; one of the former
            # layout (one per candidate, no summary_id) is rebuilt
            if doc.get("summary_id")
        }
        todo = []
        for candidate_id, fit_stamps in fits.items():
            stamps = dict(fit_stamps)
            for entry in candidates.get(candidate_id, []):
                stamps[source_key(entry["_source"])] = completed_at(entry["_source"])
            keys, built_at = built.get(candidate_id, (None, None))
            if is_stale(stamps, keys, built_at):
                todo.append((candidate_id, stamps))
        self.total = len(todo)
        self.logger.info("%d of %d candidates to (re)build", len(todo), len(fits))
        base = self.query or {}
        for candidate_id, stamps in todo:
            fit_docs = [
                doc
                for doc in self.source.query(
                    {**base, "output.@class": FIT_CLASS, "output.candidate_id": candidate_id},
                    properties=[*JOB_FIELDS, "output"],
                )
                if isinstance(doc["output"], dict)
            ]
            entries = [
                {k: v for k, v in e.items() if k != "_source"}
                | {"completed_at": e["_source"].get("completed_at")}
                for e in candidates.get(candidate_id, [])
            ]
            yield {
                "candidate_id": candidate_id,
                "fits": fit_docs,
                "candidates": entries,
                "source_keys": sorted(stamps),
                "last_updated": max(stamps.values()),
            }

    def process_item(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Build the summaries of one candidate, one per relax maker (computation only).

        Parameters
        ----------
        item
            One item of :meth:`get_items`.

        Returns
        -------
        list of dict
            The summaries as database documents, with ``state`` ``"successful"``, or
            one ``"failed"`` document with the error.
        """
        try:
            summaries = summarize_all(
                item["fits"], item["candidates"], item["source_keys"], item["last_updated"]
            )
        except Exception:
            self.logger.exception("summary of %s failed", item["candidate_id"])
            return [
                {
                    "summary_id": f"{item['candidate_id']}|failed",
                    "candidate_id": item["candidate_id"],
                    "source_keys": item["source_keys"],
                    "last_updated": item["last_updated"],
                    "state": "failed",
                    "error": traceback.format_exc(limit=3),
                }
            ]
        return [
            {**jsanitize(s.model_dump(), strict=False, allow_bson=True), "state": "successful"}
            for s in summaries
        ]

    def update_targets(self, items: list[list[dict[str, Any]]]) -> None:
        """Write the summaries, replacing those with the same key."""
        docs = [
            {k: v for k, v in doc.items() if k != "_id"}
            for item in items
            for doc in (item if isinstance(item, list) else [item])
        ]
        if docs:
            # summaries of the former layout (no summary_id) give way to the new ones
            candidates = sorted({doc["candidate_id"] for doc in docs})
            former = {"candidate_id": {"$in": candidates}, "summary_id": {"$exists": False}}
            if self.target.count(former):
                self.target.remove_docs(former)
            self.target.update(docs, key="summary_id")
            self.logger.info("wrote %d summaries", len(docs))


def decoded_fits(fit_docs: list[dict[str, Any]]) -> list[tuple[SlopeFitDocument, str]]:
    """Deserialize job-output documents holding slope fits; return each fit with its job uuid.

    Raises
    ------
    TypeError
        If an output is not a slope fit.
    """
    decoder = MontyDecoder()
    found = []
    for doc in fit_docs:
        fit = decoder.process_decoded(doc["output"])
        if not isinstance(fit, SlopeFitDocument):
            raise TypeError(f"job {doc.get('uuid')} holds no SlopeFitDocument")
        found.append((fit, doc["uuid"]))
    return found


def summarize_all(
    fit_docs: list[dict[str, Any]],
    candidates: list[dict[str, Any]],
    source_keys: list[str] | None = None,
    last_updated: datetime | None = None,
) -> list[CandidateSummaryDocument]:
    """Summarize a candidate once per potential and engine that fitted it.

    Parameters are those of :func:`summarize`; the fits are grouped by
    :func:`~sianode_flows.schemas.summary.fit_potential` first.
    """
    groups: dict[tuple[str, str], list[tuple[SlopeFitDocument, str]]] = defaultdict(list)
    for fit, uuid in decoded_fits(fit_docs):
        groups[fit_potential(fit)].append((fit, uuid))
    return [
        summary_of(fits, candidates, source_keys, last_updated)
        for _, fits in sorted(groups.items())
    ]


def summarize(
    fit_docs: list[dict[str, Any]],
    candidates: list[dict[str, Any]],
    source_keys: list[str] | None = None,
    last_updated: datetime | None = None,
) -> CandidateSummaryDocument:
    """Summarize a candidate under one potential from its fit outputs and candidate entries.

    Parameters
    ----------
    fit_docs
        Job-output documents whose ``output`` is a serialized slope fit.
    candidates
        Candidate entries (``provenance``, ``host_formula``, ``nsites``,
        ``completed_at``), newest used.
    source_keys
        Keys of every job output read.
    last_updated
        Completion time of the newest of them.

    Returns
    -------
    CandidateSummaryDocument
        The summary.
    """
    return summary_of(decoded_fits(fit_docs), candidates, source_keys, last_updated)


def summary_of(
    fits: list[tuple[SlopeFitDocument, str]],
    candidates: list[dict[str, Any]],
    source_keys: list[str] | None = None,
    last_updated: datetime | None = None,
) -> CandidateSummaryDocument:
    """Summarize a candidate under one potential from its decoded fits and job uuids."""
    entry = max(candidates, key=completed_at, default=None) or {}
    decoder = MontyDecoder()
    provenance = [decoder.process_decoded(p) for p in entry.get("provenance") or []]
    return CandidateSummaryDocument.from_fits(
        [fit for fit, _ in fits],
        [uuid for _, uuid in fits],
        provenance=[p if isinstance(p, Provenance) else Provenance(**p) for p in provenance],
        host_formula=entry.get("host_formula"),
        nsites=entry.get("nsites"),
        source_keys=source_keys,
        last_updated=last_updated,
    )
