"""Filter, deduplicate and describe harvested entries (no jobflow here).

The stages, in order: ``prefilter`` (elements outside the criteria, dropped by the
source before parsing: a server-side query or a formula column), ``parse`` (an entry
without a structure), the validation
stages of :data:`~sianode_flows.analysis.validation.FILTER_STAGES` (chemistry,
alloying, ordered, size, geometry), ``duplicate`` (the same structure from another
entry, by structure matching within a reduced formula), ``analysis`` (capacity or
channel radius failed) and ``capacity`` (below the threshold).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

from pymatgen.analysis.structure_matcher import StructureMatcher

from sianode_flows.analysis.validation import FILTER_STAGES, CandidateError, check_candidate
from sianode_flows.schemas import (
    CandidateDocument,
    FailureDocument,
    Provenance,
    StageSummary,
    StructureRecord,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)

STAGES = ("prefilter", "parse", *FILTER_STAGES, "duplicate", "analysis", "capacity")
N_EXAMPLES = 5
MIN_GROUPS_FOR_POOL = 200
"""Below this many candidates a process pool costs more than it saves (~60 ms each)."""


class StageCounter:
    """Count what each stage drops, and why, keeping a few example ids."""

    def __init__(self) -> None:
        self.n_in: dict[str, int] = {stage: 0 for stage in STAGES}
        self.reasons: dict[str, dict[str, int]] = {stage: defaultdict(int) for stage in STAGES}
        self.examples: dict[str, dict[str, list[str]]] = {
            stage: defaultdict(list) for stage in STAGES
        }

    def drop(self, stage: str, reason: str, entry_id: str) -> None:
        """Record one entry dropped at a stage."""
        self.reasons[stage][reason] += 1
        if len(self.examples[stage][reason]) < N_EXAMPLES:
            self.examples[stage][reason].append(entry_id)

    def summaries(self) -> list[StageSummary]:
        """Return one summary per stage, in order."""
        return [
            StageSummary(
                stage=stage,
                n_in=self.n_in[stage],
                n_dropped=sum(self.reasons[stage].values()),
                reasons=dict(self.reasons[stage]),
                examples=dict(self.examples[stage]),
            )
            for stage in STAGES
        ]


def _label(record: StructureRecord) -> str:
    return f"{record.source}:{record.source_id}"


def group_duplicates(
    records: Sequence[StructureRecord], matcher: StructureMatcher | None = None
) -> list[list[StructureRecord]]:
    """Group records whose structures match, within each reduced formula.

    Parameters
    ----------
    records
        Records with parsed structures.
    matcher
        Structure matcher; pymatgen's defaults (primitive cells, scaled volumes).

    Returns
    -------
    list of list of StructureRecord
        Groups of equivalent structures, in the order of their first member.
    """
    matcher = matcher or StructureMatcher()
    by_formula: dict[str, list[StructureRecord]] = defaultdict(list)
    for record in records:
        by_formula[record.structure.composition.reduced_formula].append(record)
    groups = []
    for members in by_formula.values():
        if len(members) == 1:
            groups.append(members)
            continue
        index_of = {id(r.structure): r for r in members}
        for matched in matcher.group_structures([r.structure for r in members]):
            groups.append([index_of[id(s)] for s in matched])
    order = {id(r): i for i, r in enumerate(records)}
    return sorted(groups, key=lambda group: min(order[id(r)] for r in group))


def merge_group(
    group: Sequence[StructureRecord], radii: dict[str, float] | None = None
) -> CandidateDocument | FailureDocument:
    """Build one candidate from equivalent records, keeping every provenance.

    The first record (the highest-priority source) gives the structure; each
    record's properties stay under its own source.
    """
    first = group[0]
    provenance = [
        Provenance(source=r.source, source_id=r.source_id, properties=r.properties) for r in group
    ]
    try:
        return CandidateDocument.from_structure(first.structure, provenance, radii=radii)
    except Exception as exc:  # recorded; the rest of the harvest goes on
        return FailureDocument.from_exception(exc, input=_label(first), step="capacity")


def _merge_groups(
    groups: list[list[StructureRecord]], radii: dict[str, float] | None
) -> list[CandidateDocument | FailureDocument]:
    return [merge_group(group, radii) for group in groups]


def build_candidates(
    groups: list[list[StructureRecord]], radii: dict[str, float] | None = None, workers: int = 1
) -> list[CandidateDocument | FailureDocument]:
    """Build the candidate of every group (capacity and channel radius), in parallel.

    Parameters
    ----------
    groups
        Groups of equivalent records.
    radii
        Framework radii overriding the covalent defaults (A).
    workers
        Processes to use; 1 runs in this process.

    Returns
    -------
    list of CandidateDocument or FailureDocument
        One result per group, in order.
    """
    if workers <= 1 or len(groups) < MIN_GROUPS_FOR_POOL:
        return _merge_groups(groups, radii)
    chunks = [groups[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_merge_groups, chunks, [radii] * workers))
    results: list[CandidateDocument | FailureDocument] = [None] * len(groups)  # type: ignore[list-item]
    for offset, part in enumerate(parts):
        results[offset::workers] = part
    return results


def filter_records(
    records: Sequence[StructureRecord],
    counter: StageCounter,
    failures: list[FailureDocument],
    max_sites: int | None = 400,
) -> list[StructureRecord]:
    """Apply the parse and validation stages; return the records that pass."""
    counter.n_in["parse"] = len(records)
    valid = []
    for record in records:
        if record.structure is None:
            counter.drop("parse", "unparsable structure", _label(record))
            failures.append(
                FailureDocument(
                    input=_label(record),
                    step="read",
                    error_type="ParseError",
                    message=record.error or "no structure",
                )
            )
            continue
        try:
            check_candidate(record.structure, max_sites=max_sites)
        except CandidateError as exc:
            counter.drop(exc.stage, exc.reason, _label(record))
            continue
        valid.append(record)
    remaining = counter.n_in["parse"] - sum(counter.reasons["parse"].values())
    for stage in FILTER_STAGES:
        counter.n_in[stage] = remaining
        remaining -= sum(counter.reasons[stage].values())
    return valid
