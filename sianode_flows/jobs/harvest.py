"""Harvest candidates from several sources; the database series of a chemical system."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from jobflow import job
from pymatgen.core import Structure

from sianode_flows.analysis.harmonize import (
    StageCounter,
    build_candidates,
    filter_records,
    group_duplicates,
)
from sianode_flows.analysis.series import database_series
from sianode_flows.schemas import (
    CandidateDocument,
    DatabaseSeriesDocument,
    FailureDocument,
    HarvestDocument,
    SourceSummary,
)
from sianode_flows.sources.base import ElementCriteria, SourceResult, SourceUnavailableError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sianode_flows.schemas import StructureRecord
    from sianode_flows.sources.base import StructureSource

logger = logging.getLogger(__name__)


def fetch_all(
    sources: Sequence[StructureSource], criteria: ElementCriteria
) -> tuple[list[SourceResult], list[FailureDocument]]:
    """Fetch every source; one that is unavailable is recorded and the others go on."""
    results, failures = [], []
    for source in sources:
        try:
            result = source.fetch(criteria)
        except SourceUnavailableError as exc:
            logger.warning("source %s unavailable: %s", source.name, exc)
            result = SourceResult(name=source.name, error=str(exc))
        if result.error:
            failures.append(
                FailureDocument(
                    input=f"source {source.name}",
                    step="read",
                    error_type="SourceUnavailable",
                    message=result.error,
                )
            )
        logger.info(
            "%s: %d entries seen, %d kept for the filters",
            source.name,
            result.n_seen,
            len(result.records),
        )
        results.append(result)
    return results, failures


def harvest_results(
    results: Sequence[SourceResult],
    min_capacity: float = 1500.0,
    max_sites: int | None = 400,
    radii: dict[str, float] | None = None,
    workers: int = 1,
    required_elements: Sequence[str] = ("Li", "Si"),
) -> HarvestDocument:
    """Filter, deduplicate and describe what the sources gave.

    Parameters
    ----------
    results
        What each source gave, in priority order (the first source's structure
        represents a merged candidate).
    min_capacity
        Capacity threshold (mAh/g).
    max_sites
        Largest cell accepted.
    radii
        Framework radii overriding the covalent defaults (A).
    workers
        Processes for the candidate analysis (capacity, channel radius).
    required_elements
        Elements every candidate contains.

    Returns
    -------
    HarvestDocument
        Counts per source and stage, the candidates, and the failures.
    """
    counter = StageCounter()
    failures: list[FailureDocument] = []
    records: list[StructureRecord] = [r for result in results for r in result.records]
    counter.n_in["prefilter"] = sum(result.n_seen for result in results)
    for result in results:
        if result.n_prefiltered:
            counter.reasons["prefilter"][f"elements outside the criteria ({result.name})"] = (
                result.n_prefiltered
            )
    valid = filter_records(records, counter, failures, max_sites=max_sites)

    groups = group_duplicates(valid)
    counter.n_in["duplicate"] = len(valid)
    for group in groups:
        for duplicate in group[1:]:
            counter.drop(
                "duplicate",
                "same structure as another entry",
                f"{duplicate.source}:{duplicate.source_id}",
            )

    counter.n_in["analysis"] = len(groups)
    built = build_candidates(groups, radii=radii, workers=workers)
    candidates: list[CandidateDocument] = []
    for outcome in built:
        if isinstance(outcome, FailureDocument):
            counter.drop("analysis", outcome.error_type, outcome.input)
            failures.append(outcome)
        else:
            candidates.append(outcome)

    counter.n_in["capacity"] = len(candidates)
    selected, below = [], []
    for candidate in candidates:
        if candidate.capacity_mAh_g >= min_capacity:
            selected.append(candidate)
        else:
            below.append(candidate)
            counter.drop("capacity", f"below {min_capacity:g} mAh/g", candidate.candidate_id)

    summaries = [
        SourceSummary(
            name=result.name,
            n_seen=result.n_seen,
            n_prefiltered=result.n_prefiltered,
            n_records=len(result.records),
            n_unparsable=sum(1 for r in result.records if r.structure is None),
            error=result.error,
        )
        for result in results
    ]
    return HarvestDocument(
        required_elements=list(required_elements),
        min_capacity_mAh_g=min_capacity,
        max_sites=max_sites,
        sources=summaries,
        stages=counter.summaries(),
        n_duplicates_merged=len(valid) - len(groups),
        candidates=sorted(selected, key=lambda c: -c.capacity_mAh_g),
        below_threshold=sorted(below, key=lambda c: -c.capacity_mAh_g),
        failures=failures,
    )


def default_workers() -> int:
    """Return how many processes the harvest uses: every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@job(name="harvest", data=Structure)
def harvest_candidates(
    sources: list[StructureSource],
    min_capacity: float = 1500.0,
    max_sites: int | None = 400,
    radii: dict[str, float] | None = None,
    workers: int | None = None,
    criteria: ElementCriteria | None = None,
) -> HarvestDocument:
    """Job: fetch every source, then filter, deduplicate and analyse the entries."""
    criteria = criteria or ElementCriteria()
    results, source_failures = fetch_all(sources, criteria)
    document = harvest_results(
        results,
        min_capacity=min_capacity,
        max_sites=max_sites,
        radii=radii,
        workers=workers or default_workers(),
        required_elements=criteria.required,
    )
    document.failures = source_failures + document.failures
    logger.info(
        "harvest: %d candidates above %.0f mAh/g, %d below, %d duplicates merged, %d failures",
        len(document.candidates),
        min_capacity,
        len(document.below_threshold),
        document.n_duplicates_merged,
        len(document.failures),
    )
    return document


@job(name="database series")
def database_series_job(
    sources: list[StructureSource],
    chemsys: str = "Li-Si",
    radii: dict[str, float] | None = None,
    deduplicate: bool = False,
) -> DatabaseSeriesDocument:
    """Job: the R_t-against-Li-content series of a chemical system from the sources."""
    elements = tuple(sorted(set(chemsys.split("-"))))
    hosts = tuple(el for el in elements if el != "Li")
    results, _ = fetch_all(sources, ElementCriteria(required=hosts, allowed=elements))
    records = [r for result in results for r in result.records]
    return database_series(
        records, chemsys=chemsys, radii=radii, deduplicate=deduplicate, workers=default_workers()
    )
