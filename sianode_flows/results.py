"""Read results back from a job store: slope fits, candidates and failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder

from sianode_flows.schemas import (
    CandidateDocument,
    CandidateSelectionDocument,
    FailureDocument,
    SlopeFitDocument,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from jobflow import JobStore

VERDICT_ORDER = {"stable": 0, "unstable": 1, "insufficient-data": 2}

SUMMARY_FIELDS = (
    "formula",
    "candidate_id",
    "source",
    "source_id",
    "capacity_mAh_g",
    "r_t_charged",
    "slope",
    "slope_err",
    "pearson_r",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "n_configs",
    "n_failed",
    "verdict",
)


def _outputs(store: JobStore, class_name: str, criteria: dict | None = None) -> Iterator[Any]:
    """Yield the deserialized outputs of the given document class."""
    query = {"output.@class": class_name, **(criteria or {})}
    decoder = MontyDecoder()
    for doc in store.query(query, properties=["output"], load=True):
        yield decoder.process_decoded(doc["output"])


def fit_documents(store: JobStore, latest_only: bool = True) -> list[SlopeFitDocument]:
    """Return the slope fits in a store, the newest per candidate by default."""
    fits = [f for f in _outputs(store, "SlopeFitDocument") if isinstance(f, SlopeFitDocument)]
    if not latest_only:
        return fits
    newest: dict[str, SlopeFitDocument] = {}
    for fit in fits:
        kept = newest.get(fit.candidate_id)
        if kept is None or fit.created_at > kept.created_at:
            newest[fit.candidate_id] = fit
    return list(newest.values())


def selections(store: JobStore) -> list[CandidateSelectionDocument]:
    """Return every candidate selection in a store."""
    return [
        s
        for s in _outputs(store, "CandidateSelectionDocument")
        if isinstance(s, CandidateSelectionDocument)
    ]


def candidate_documents(store: JobStore) -> list[CandidateDocument]:
    """Return every candidate a store knows, selected or below threshold, once each."""
    found: dict[str, CandidateDocument] = {}
    for selection in selections(store):
        for candidate in [*selection.selected, *selection.below_threshold]:
            found[candidate.candidate_id] = candidate
    for candidate in _outputs(store, "CandidateDocument"):
        found[candidate.candidate_id] = candidate
    return list(found.values())


def failure_documents(store: JobStore) -> list[FailureDocument]:
    """Return every recorded failure: input failures and per-configuration ones."""
    failures = [f for s in selections(store) for f in s.failures]
    failures += [f for f in _outputs(store, "FailureDocument") if isinstance(f, FailureDocument)]
    return sorted(failures, key=lambda f: f.created_at)


def rank(fits: Iterable[SlopeFitDocument]) -> list[SlopeFitDocument]:
    """Order fits: stable first, then by |slope| ascending, then capacity descending."""
    return sorted(
        fits,
        key=lambda f: (
            VERDICT_ORDER[f.verdict],
            abs(f.slope) if f.slope is not None else float("inf"),
            -f.capacity_mAh_g,
        ),
    )


def summary_row(fit: SlopeFitDocument) -> dict[str, Any]:
    """Return the flat summary of a fit (the CLI's JSON contract)."""
    return {name: getattr(fit, name) for name in SUMMARY_FIELDS}
