"""Gather what a report shows from a job store, through :mod:`sianode_flows.results`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder

from sianode_flows.results import (
    candidate_documents,
    failure_documents,
    fit_documents,
    rank,
)
from sianode_flows.schemas import (
    CandidateDocument,
    DatabaseSeriesDocument,
    FailureDocument,
    SlopeFitDocument,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jobflow import JobStore

logger = logging.getLogger(__name__)

NOT_SCREENED = "not screened"
BELOW_CAPACITY = "below capacity"


@dataclass(frozen=True)
class GenerationResults:
    """What a generation run achieved against its targets (paper, Figure 5B).

    Parameters
    ----------
    label
        The run and its conditioned property, e.g. ``"run 1: R_t (A)"``.
    targets
        Target value given to the generator, one per generated structure.
    achieved
        Value computed for each generated structure, in the order of ``targets``.
    metrics
        Summary fractions of the run, e.g. validity, novelty, stability (0-1).
    """

    label: str
    targets: list[float]
    achieved: list[float]
    metrics: dict[str, float] = field(default_factory=dict)


GenerationReader = Callable[[list[Any]], list[GenerationResults]]

GENERATION_READERS: dict[str, GenerationReader] = {}
"""Document class name -> function turning such documents into results to plot.

Empty until generation runs store documents (their schema is not written yet):
registering one reader here is all the report needs to show them."""


@dataclass
class ReportData:
    """Everything a report shows, read from one store.

    Parameters
    ----------
    location
        Where the store is (a folder or URI), for the page header.
    fits
        Slope fits, newest per candidate, ranked (:func:`sianode_flows.results.rank`).
    candidates
        Every candidate the store knows, selected or below the capacity threshold.
    failures
        Every recorded failure, oldest first.
    series
        Database series (R_t against lithiation), newest per chemical system.
    generation
        What generation runs achieved against their targets (see
        :func:`generation_results`).
    """

    location: str
    fits: list[SlopeFitDocument] = field(default_factory=list)
    candidates: list[CandidateDocument] = field(default_factory=list)
    failures: list[FailureDocument] = field(default_factory=list)
    series: list[DatabaseSeriesDocument] = field(default_factory=list)
    generation: list[GenerationResults] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Whether the store holds nothing a report can show."""
        return not (self.fits or self.candidates or self.failures or self.series or self.generation)

    def candidate(self, candidate_id: str) -> CandidateDocument | None:
        """Return the candidate document of an identifier, if the store has it."""
        return next((c for c in self.candidates if c.candidate_id == candidate_id), None)

    def status(self, min_capacity: float) -> dict[str, str]:
        """Return each candidate's status: its fit's verdict, or why it has none.

        Parameters
        ----------
        min_capacity
            Capacity threshold (mAh/g) below which an unfitted candidate is
            ``"below capacity"`` rather than ``"not screened"``.

        Returns
        -------
        dict[str, str]
            Candidate identifier to its verdict (``stable``, ``unstable``,
            ``undecided``: the slope's interval crosses the threshold, or
            ``insufficient-data``), else ``below capacity`` or ``not screened``.
        """
        verdicts = {fit.candidate_id: fit.verdict for fit in self.fits}
        return {
            c.candidate_id: verdicts.get(
                c.candidate_id,
                BELOW_CAPACITY if c.capacity_mAh_g < min_capacity else NOT_SCREENED,
            )
            for c in self.candidates
        }


def _outputs(store: JobStore, class_name: str) -> Iterator[Any]:
    """Yield the deserialized outputs of one document class (as ``results`` does)."""
    decoder = MontyDecoder()
    for doc in store.query({"output.@class": class_name}, properties=["output"], load=True):
        yield decoder.process_decoded(doc["output"])


def series_documents(store: JobStore) -> list[DatabaseSeriesDocument]:
    """Return the database series in a store, the newest per chemical system.

    Parameters
    ----------
    store
        A connected job store.

    Returns
    -------
    list[DatabaseSeriesDocument]
        One series per chemical system, sorted by chemical system.
    """
    newest: dict[str, DatabaseSeriesDocument] = {}
    for series in _outputs(store, "DatabaseSeriesDocument"):
        if not isinstance(series, DatabaseSeriesDocument):
            continue
        kept = newest.get(series.chemsys)
        if kept is None or series.created_at > kept.created_at:
            newest[series.chemsys] = series
    return [newest[key] for key in sorted(newest)]


def generation_results(
    store: JobStore, readers: dict[str, GenerationReader] | None = None
) -> list[GenerationResults]:
    """Return what the generation runs in a store achieved against their targets.

    Parameters
    ----------
    store
        A connected job store.
    readers
        Document class name -> reader; :data:`GENERATION_READERS` by default.

    Returns
    -------
    list[GenerationResults]
        What each reader made of the documents of its class; empty when the store
        holds none (the report then leaves the generation section out).
    """
    readers = GENERATION_READERS if readers is None else readers
    results: list[GenerationResults] = []
    for class_name, reader in readers.items():
        documents = list(_outputs(store, class_name))
        if documents:
            results.extend(reader(documents))
    return results


def gather(store: JobStore, location: str = "") -> ReportData:
    """Read everything a report shows from a connected store.

    Parameters
    ----------
    store
        A connected job store.
    location
        Where the store is, shown in the page header.

    Returns
    -------
    ReportData
        Ranked fits, candidates (by capacity, highest first), failures, database
        series and generation results.
    """
    data = ReportData(
        location=location,
        fits=rank(fit_documents(store)),
        candidates=sorted(candidate_documents(store), key=lambda c: -c.capacity_mAh_g),
        failures=failure_documents(store),
        series=series_documents(store),
        generation=generation_results(store),
    )
    logger.info(
        "store %s: %d fits, %d candidates, %d failures, %d series",
        location,
        len(data.fits),
        len(data.candidates),
        len(data.failures),
        len(data.series),
    )
    return data
