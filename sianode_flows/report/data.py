"""Gather what a report shows from a job store, through :mod:`sianode_flows.results`.

Job outputs are single documents or lists of them (a ``verify`` job's samples, a
``generation metrics`` job's metrics, a ``promote samples`` job's candidates): both
are read, on the embedded (``MontyStore``) and on the in-memory store alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, get_args

from sianode_flows.jobs.promote import GENERATED
from sianode_flows.results import (
    candidate_documents,
    failure_documents,
    fit_documents,
    rank,
    stored_outputs,
)
from sianode_flows.schemas import (
    CandidateDocument,
    DatabaseSeriesDocument,
    FailureDocument,
    SlopeFitDocument,
)
from sianode_flows.schemas.base import SianodeDocument
from sianode_flows.schemas.generation import (
    ConditioningSweepDocument,
    GeneratedStructureDocument,
    GenerationMethod,
    GenerationMetricsDocument,
)

if TYPE_CHECKING:
    from jobflow import JobStore

    from sianode_flows.generative.target import GenerationTarget

logger = logging.getLogger(__name__)

NOT_SCREENED = "not screened"
BELOW_CAPACITY = "below capacity"
METHODS: tuple[str, ...] = get_args(GenerationMethod)
"""Generation methods in the order the report shows them (the model first)."""


def is_generated(candidate_id: str, source: str | None = None) -> bool:
    """Return whether a candidate (or its fit) was promoted from a generated sample.

    Parameters
    ----------
    candidate_id
        The candidate's identifier; generated ones start with ``"generated:"``.
    source
        Its source, if known (``"generated"`` for generated ones).

    Returns
    -------
    bool
        Whether it is generated.
    """
    return candidate_id.startswith(f"{GENERATED}:") or source == GENERATED


def target_key(target: GenerationTarget) -> str:
    """Return a key that is equal for equal generation targets (sorted JSON)."""
    return json.dumps(target.model_dump(mode="json"), sort_keys=True)


@dataclass
class GenerationData:
    """What the generation runs of a store left (paper, Figure 5).

    Parameters
    ----------
    samples
        Verified generated samples (outputs of ``verify`` jobs), the newest of each
        sample and target.
    metrics
        Metrics of each method of a run, the newest per method and target.
    sweeps
        Conditioning sweeps, the newest per method and swept property.
    """

    samples: list[GeneratedStructureDocument] = field(default_factory=list)
    metrics: list[GenerationMetricsDocument] = field(default_factory=list)
    sweeps: list[ConditioningSweepDocument] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """Whether the store holds no generation document."""
        return not (self.samples or self.metrics or self.sweeps)

    def metrics_by_target(self) -> list[tuple[GenerationTarget, list[GenerationMetricsDocument]]]:
        """Return the metrics grouped by target, each group in method order.

        Returns
        -------
        list of tuple
            ``(target, metrics)`` by increasing target R_t, then capacity; the
            methods in the order ``model``, ``substitution``, ``pyxtal``.
        """
        groups: dict[str, list[GenerationMetricsDocument]] = {}
        for doc in self.metrics:
            groups.setdefault(target_key(doc.target), []).append(doc)
        ordered = sorted(
            groups.values(),
            key=lambda docs: (
                docs[0].target.channel_radius,
                docs[0].target.capacity_mAh_g,
                target_key(docs[0].target),
            ),
        )
        return [(docs[0].target, sorted(docs, key=_method_order)) for docs in ordered]

    def sample(
        self, sample_id: str | None, target: GenerationTarget | None = None
    ) -> GeneratedStructureDocument | None:
        """Return the newest verified sample of an identifier, if the store has it.

        Parameters
        ----------
        sample_id
            The sample's identifier (method, seed and position).
        target
            Its generation target, to tell apart samples of a sweep (the same
            identifier at every target); any target when ``None``.

        Returns
        -------
        GeneratedStructureDocument or None
            The sample, or ``None`` when the store has none of that identifier.
        """
        key = None if target is None else target_key(target)
        found = [
            s
            for s in self.samples
            if s.sample_id == sample_id and (key is None or target_key(s.target) == key)
        ]
        return max(found, key=lambda s: s.created_at) if found else None


def _method_order(doc: GenerationMetricsDocument | ConditioningSweepDocument) -> int:
    """Position of a document's method in :data:`METHODS` (unknown ones last)."""
    return METHODS.index(doc.method) if doc.method in METHODS else len(METHODS)


def _newest[Doc: SianodeDocument](docs: Iterable[Doc], key: Callable[[Doc], Hashable]) -> list[Doc]:
    """Return the newest document (``created_at``) of each key, in order of first key."""
    newest: dict[Hashable, Doc] = {}
    for doc in docs:
        kept = newest.get(key(doc))
        if kept is None or doc.created_at > kept.created_at:
            newest[key(doc)] = doc
    return list(newest.values())


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
        Generated samples, metrics and conditioning sweeps (see
        :func:`generation_data`).
    """

    location: str
    fits: list[SlopeFitDocument] = field(default_factory=list)
    candidates: list[CandidateDocument] = field(default_factory=list)
    failures: list[FailureDocument] = field(default_factory=list)
    series: list[DatabaseSeriesDocument] = field(default_factory=list)
    generation: GenerationData = field(default_factory=GenerationData)

    @property
    def is_empty(self) -> bool:
        """Whether the store holds nothing a report can show."""
        shown = self.fits or self.candidates or self.failures or self.series
        return not shown and self.generation.is_empty

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
            Candidate identifier to the verdict its fit shows (against the
            reference: ``lower``, ``higher``, ``similar``; else ``stable``,
            ``unstable``; ``undecided``, ``insufficient-data``, or ``reference``),
            else ``below capacity`` or ``not screened``.
        """
        verdicts = {fit.candidate_id: fit.shown_verdict for fit in self.fits}
        return {
            c.candidate_id: verdicts.get(
                c.candidate_id,
                BELOW_CAPACITY if c.capacity_mAh_g < min_capacity else NOT_SCREENED,
            )
            for c in self.candidates
        }


def _documents[Doc: SianodeDocument](store: JobStore, cls: type[Doc]) -> list[Doc]:
    """Return every output (or item of a list output) of a document class."""
    return [doc for doc in stored_outputs(store, cls.__name__) if isinstance(doc, cls)]


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
    for series in stored_outputs(store, "DatabaseSeriesDocument"):
        if not isinstance(series, DatabaseSeriesDocument):
            continue
        kept = newest.get(series.chemsys)
        if kept is None or series.created_at > kept.created_at:
            newest[series.chemsys] = series
    return [newest[key] for key in sorted(newest)]


def generation_data(store: JobStore) -> GenerationData:
    """Read the generation documents of a store (paper, Figure 5).

    Parameters
    ----------
    store
        A connected job store.

    Returns
    -------
    GenerationData
        Verified samples (newest per sample and target), metrics (newest per method
        and target) and conditioning sweeps (newest per method and property, in
        method then property order); empty when the store holds none (the report
        then leaves the generation section out).
    """
    samples = _newest(
        _documents(store, GeneratedStructureDocument),
        lambda s: (s.sample_id, target_key(s.target)),
    )
    metrics = _newest(
        _documents(store, GenerationMetricsDocument), lambda m: (m.method, target_key(m.target))
    )
    sweeps = _newest(_documents(store, ConditioningSweepDocument), lambda s: (s.method, s.property))
    return GenerationData(
        samples=samples,
        metrics=metrics,
        sweeps=sorted(sweeps, key=lambda s: (_method_order(s), s.property)),
    )


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
        series and generation documents.
    """
    data = ReportData(
        location=location,
        fits=rank(fit_documents(store)),
        candidates=sorted(candidate_documents(store), key=lambda c: -c.capacity_mAh_g),
        failures=failure_documents(store),
        series=series_documents(store),
        generation=generation_data(store),
    )
    logger.info(
        "store %s: %d fits, %d candidates, %d failures, %d series, %d generated samples, "
        "%d generation metrics, %d sweeps",
        location,
        len(data.fits),
        len(data.candidates),
        len(data.failures),
        len(data.series),
        len(data.generation.samples),
        len(data.generation.metrics),
        len(data.generation.sweeps),
    )
    return data
