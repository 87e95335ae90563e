"""Read results back: fits, candidates, failures, and filtered candidate summaries.

Fits, candidates and failures come from a job store; the candidate summaries from the
collection :mod:`sianode_flows.builders` builds beside it.

>>> from sianode_flows.results import query_candidates
>>> best = query_candidates("sianode_data", min_capacity=2000, max_slope=0.5, elements=["Ge"])
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder

from sianode_flows.schemas import (
    CandidateDocument,
    CandidateSelectionDocument,
    CandidateSummaryDocument,
    FailureDocument,
    HarvestDocument,
    SlopeFitDocument,
)
from sianode_flows.schemas.fit import SHOWN_VERDICTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from jobflow import JobStore
    from maggma.core import Store

logger = logging.getLogger(__name__)


VERDICT_ORDER = {verdict: rank for rank, verdict in enumerate(SHOWN_VERDICTS)}
"""Ranking of the verdicts shown (against the reference, else the absolute)."""

RELATIVE_ONLY = frozenset({"lower", "higher", "similar"})
ABSOLUTE_ONLY = frozenset({"stable", "unstable"})

SUMMARY_FIELDS = (
    "formula",
    "candidate_id",
    "source",
    "source_id",
    "capacity_mAh_g",
    "r_t_charged",
    "slope",
    "slope_err",
    "slope_ci_low",
    "slope_ci_high",
    "volume_slope",
    "pearson_r",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "n_configs",
    "n_failed",
    "n_excluded",
    "verdict",
    "reference",
    "relative_verdict",
    "relative_difference",
    "relative_ci_low",
    "relative_ci_high",
    "paired",
    "interval_method",
    "ci_level",
    "role",
    "potential",
    "stop_reason",
)


def stored_outputs(store: JobStore, class_name: str, criteria: dict | None = None) -> Iterator[Any]:
    """Yield the deserialized outputs of the given document class.

    A job whose output is a list of such documents (the promoted candidates of a
    generation run, say) yields each of them.
    """
    query = {"output.@class": class_name, **(criteria or {})}
    decoder = MontyDecoder()
    for doc in store.query(query, properties=["output"], load=True):
        output = decoder.process_decoded(doc["output"])
        if isinstance(output, list):
            yield from (item for item in output if type(item).__name__ == class_name)
        else:
            yield output


def fit_documents(store: JobStore, latest_only: bool = True) -> list[SlopeFitDocument]:
    """Return the slope fits in a store, by default the newest per candidate and relax maker.

    A cross-check stores one fit per potential for the same candidate: both are kept.
    """
    fits = [f for f in stored_outputs(store, "SlopeFitDocument") if isinstance(f, SlopeFitDocument)]
    if not latest_only:
        return fits
    newest: dict[tuple[str, str | None], SlopeFitDocument] = {}
    for fit in fits:
        key = (fit.candidate_id, fit.relax_maker)
        kept = newest.get(key)
        if kept is None or fit.created_at > kept.created_at:
            newest[key] = fit
    return list(newest.values())


def selections(store: JobStore) -> list[CandidateSelectionDocument]:
    """Return every candidate selection in a store."""
    return [
        s
        for s in stored_outputs(store, "CandidateSelectionDocument")
        if isinstance(s, CandidateSelectionDocument)
    ]


def harvests(store: JobStore) -> list[HarvestDocument]:
    """Return every harvest in a store."""
    return [h for h in stored_outputs(store, "HarvestDocument") if isinstance(h, HarvestDocument)]


def candidate_documents(store: JobStore) -> list[CandidateDocument]:
    """Return every candidate a store knows (harvested, selected or below threshold), once."""
    found: dict[str, CandidateDocument] = {}
    for harvest in harvests(store):
        for candidate in [*harvest.candidates, *harvest.below_threshold]:
            found[candidate.candidate_id] = candidate
    for selection in selections(store):
        for candidate in [*selection.selected, *selection.below_threshold]:
            found[candidate.candidate_id] = candidate
    for candidate in stored_outputs(store, "CandidateDocument"):
        found[candidate.candidate_id] = candidate
    return list(found.values())


def failure_documents(store: JobStore) -> list[FailureDocument]:
    """Return every recorded failure: harvest, input and per-configuration ones."""
    failures = [f for h in harvests(store) for f in h.failures]
    failures += [f for s in selections(store) for f in s.failures]
    failures += [
        f for f in stored_outputs(store, "FailureDocument") if isinstance(f, FailureDocument)
    ]
    return sorted(failures, key=lambda f: f.created_at)


def rank[Ranked: (SlopeFitDocument, CandidateSummaryDocument)](
    fits: Iterable[Ranked],
) -> list[Ranked]:
    """Order fits or summaries: lower (or stable) first, then by |slope|, then capacity."""
    return sorted(
        fits,
        key=lambda f: (
            VERDICT_ORDER.get(f.shown_verdict, len(VERDICT_ORDER)),
            abs(f.slope) if f.slope is not None else float("inf"),
            -f.capacity_mAh_g,
        ),
    )


def summary_row(fit: SlopeFitDocument | CandidateSummaryDocument) -> dict[str, Any]:
    """Return the flat summary of a fit or candidate summary (the CLI's JSON contract)."""
    return {name: getattr(fit, name) for name in SUMMARY_FIELDS}


def summary_criteria(
    min_capacity: float | None = None,
    max_slope: float | None = None,
    elements: Sequence[str] | None = None,
    source: str | None = None,
    verdict: str | None = None,
    potential: str | None = None,
) -> dict[str, Any]:
    """Return the database query of the candidate summaries that pass some filters.

    Parameters
    ----------
    min_capacity
        Smallest capacity kept (mAh/g).
    max_slope
        Largest |slope| kept (A per 100 % SOC); candidates without a slope are dropped.
    elements
        Elements every kept candidate contains (e.g. ``["Ge"]``).
    source
        Source database of one of its provenance entries (e.g. ``"mp"``).
    verdict
        Verdict kept, as shown: against the reference (``"lower"``, ``"higher"``,
        ``"similar"``), the absolute one (``"stable"``, ``"unstable"``), either
        (``"undecided"``, ``"insufficient-data"``: the relative verdict where
        there is one), or ``"reference"`` (the reference's own fits).
    potential
        Potential of the fits kept, e.g. ``"CHGNet"`` (case-insensitive); every one
        when ``None``.

    Returns
    -------
    dict
        A MongoDB query (works on every maggma store).
    """
    criteria: dict[str, Any] = {"state": "successful"}
    if min_capacity is not None:
        criteria["capacity_mAh_g"] = {"$gte": min_capacity}
    if max_slope is not None:
        criteria["slope"] = {"$gte": -abs(max_slope), "$lte": abs(max_slope)}
    if elements:
        criteria["elements"] = {"$all": sorted(set(elements))}
    if source is not None:
        criteria["provenance.source"] = source
    if verdict is not None:
        criteria |= verdict_criterion(verdict)
    if potential is not None:
        criteria["potential"] = {"$regex": f"^{re.escape(potential)}$", "$options": "i"}
    return criteria


def verdict_criterion(verdict: str) -> dict[str, Any]:
    """Return the query of the summaries whose shown verdict is ``verdict``."""
    if verdict == "reference":
        return {"role": "reference"}
    if verdict in RELATIVE_ONLY:
        return {"relative_verdict": verdict}
    if verdict in ABSOLUTE_ONLY:
        return {"verdict": verdict, "role": {"$ne": "reference"}}
    return {
        "role": {"$ne": "reference"},
        "$or": [
            {"relative_verdict": verdict},
            {"relative_verdict": None, "verdict": verdict},
        ],
    }


def summary_documents(store: Store, **filters: Any) -> list[CandidateSummaryDocument]:
    """Return the candidate summaries of a (connected) store that pass some filters.

    Parameters
    ----------
    store
        The summaries collection (:func:`sianode_flows.builders.summary_store`).
    **filters
        Keywords of :func:`summary_criteria`.

    Returns
    -------
    list of CandidateSummaryDocument
        The summaries, ranked (:func:`rank`).
    """
    fields = CandidateSummaryDocument.model_fields
    found = [
        CandidateSummaryDocument.model_validate({k: v for k, v in doc.items() if k in fields})
        for doc in store.query(summary_criteria(**filters))
    ]
    return rank(found)


def build_summaries(location: str | None = None, database: str | None = None) -> None:
    """Bring the candidates and failures collections of a location up to date.

    Incremental: only candidates with new or changed job outputs are rebuilt. It is
    what ``mrun`` does with the serialized builders.

    Parameters
    ----------
    location
        Folder of the embedded store or a MongoDB URI; the settings' ``store`` by
        default.
    database
        MongoDB database, for a URI.
    """
    from maggma.cli.serial import serial

    from sianode_flows.builders import summary_builders
    from sianode_flows.settings import get_settings

    for builder in summary_builders(location or get_settings().store, database):
        serial(builder, no_bars=True)


def query_candidates(
    location: str | None = None,
    build: bool = True,
    database: str | None = None,
    **filters: Any,
) -> list[CandidateSummaryDocument]:
    """Return the ranked candidate summaries at a store location that pass some filters.

    Parameters
    ----------
    location
        Folder of the embedded store or a MongoDB URI; the settings' ``store`` by
        default.
    build
        Update the summaries first (incremental); ``False`` only reads.
    database
        MongoDB database, for a URI.
    **filters
        Keywords of :func:`summary_criteria`: ``min_capacity``, ``max_slope``,
        ``elements``, ``source``, ``verdict``, ``potential``.

    Returns
    -------
    list of CandidateSummaryDocument
        The summaries, ranked.
    """
    from sianode_flows.builders import summary_store
    from sianode_flows.settings import get_settings

    location = location or get_settings().store
    if build:
        build_summaries(location, database)
    store = summary_store(location, database)
    store.connect()
    try:
        return summary_documents(store, **filters)
    finally:
        store.close()
