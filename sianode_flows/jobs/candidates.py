"""Turn input records into candidates: validate, compute capacity, select."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jobflow import Job, OutputReference, job
from pymatgen.core import Structure

from sianode_flows.analysis.validation import CandidateError, check_candidate
from sianode_flows.schemas import (
    CandidateDocument,
    CandidateSelectionDocument,
    FailureDocument,
    Provenance,
    StructureRecord,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger(__name__)


def candidate_from_record(
    record: StructureRecord,
    max_sites: int | None = 400,
    radii: dict[str, float] | None = None,
) -> CandidateDocument | FailureDocument:
    """Validate one record and build its candidate, or the failure that explains why not.

    Parameters
    ----------
    record
        Parsed input entry.
    max_sites
        Largest number of sites accepted.
    radii
        Framework radii overriding the covalent defaults (A).

    Returns
    -------
    CandidateDocument or FailureDocument
        The candidate, or a failure naming the step (read, validate, capacity) and
        the reason.
    """
    label = f"{record.source}:{record.source_id}"
    if record.structure is None:
        return FailureDocument(
            input=label,
            step="read",
            error_type="ParseError",
            message=record.error or "no structure",
        )
    try:
        check_candidate(record.structure, max_sites=max_sites)
    except CandidateError as exc:
        return FailureDocument.from_exception(exc, input=label, step="validate")
    provenance = [
        Provenance(
            source=record.source,
            source_id=record.source_id,
            properties=record.properties,
        )
    ]
    try:
        return CandidateDocument.from_structure(record.structure, provenance, radii=radii)
    except Exception as exc:
        return FailureDocument.from_exception(exc, input=label, step="capacity")


def select_from_records(
    records: Sequence[StructureRecord | CandidateDocument],
    min_capacity: float,
    max_sites: int | None = 400,
    radii: dict[str, float] | None = None,
) -> CandidateSelectionDocument:
    """Sort records into selected candidates, those below the capacity, and failures.

    Parameters
    ----------
    records
        Parsed input entries, or candidates already built (by a harvest), which
        are only sorted by capacity.
    min_capacity
        Capacity threshold (mAh/g).
    max_sites
        Largest number of sites accepted.
    radii
        Framework radii overriding the covalent defaults (A).

    Returns
    -------
    CandidateSelectionDocument
        Every record accounted for in exactly one of its three lists.
    """
    selection = CandidateSelectionDocument(min_capacity_mAh_g=min_capacity, n_inputs=len(records))
    seen: set[str] = set()
    for record in records:
        result = (
            record
            if isinstance(record, CandidateDocument)
            else candidate_from_record(record, max_sites=max_sites, radii=radii)
        )
        if isinstance(result, FailureDocument):
            logger.warning("skipped %s: %s", result.input, result.message)
            selection.failures.append(result)
        elif result.candidate_id in seen:
            selection.failures.append(
                FailureDocument(
                    input=result.candidate_id,
                    step="validate",
                    error_type="DuplicateCandidate",
                    message=f"{result.candidate_id} appears more than once in the input",
                )
            )
        elif result.capacity_mAh_g >= min_capacity:
            seen.add(result.candidate_id)
            selection.selected.append(result)
        else:
            seen.add(result.candidate_id)
            selection.below_threshold.append(result)
    return selection


@job(name="candidates", data=Structure)
def select_candidates(
    records: list[StructureRecord | CandidateDocument],
    min_capacity: float,
    max_sites: int | None = 400,
    radii: dict[str, float] | None = None,
) -> CandidateSelectionDocument:
    """Job: select the candidates above a capacity threshold (see ``select_from_records``)."""
    selection = select_from_records(records, min_capacity, max_sites=max_sites, radii=radii)
    logger.info(
        "%d inputs: %d selected, %d below %.0f mAh/g, %d failed",
        selection.n_inputs,
        len(selection.selected),
        len(selection.below_threshold),
        min_capacity,
        len(selection.failures),
    )
    return selection


@job(name="input records", data=Structure)
def input_records(
    records: list[StructureRecord | CandidateDocument],
) -> list[StructureRecord | CandidateDocument]:
    """Job: hold input records in the store, their structures in its data store.

    A workflow submitted to a launchpad refers to this job's output instead of
    carrying the records in its specs (run it before submitting, see
    :func:`sianode_flows.launchpad.stage_records`).
    """
    return records


@job(name="candidate")
def candidate_from_structure(
    structure: Structure,
    source: str = "user",
    source_id: str | None = None,
    radii: dict[str, float] | None = None,
    max_sites: int | None = None,
) -> CandidateDocument:
    """Job: build the candidate of one charged structure; raises if it is unusable.

    A cell of more than ``max_sites`` sites is refused (``None``: no limit).
    """
    check_candidate(structure, max_sites=max_sites)
    provenance = [Provenance(source=source, source_id=source_id)]
    return CandidateDocument.from_structure(structure, provenance, radii=radii)


def candidate_or_job(
    structure: Structure | CandidateDocument | OutputReference,
    name: str,
    radii: dict[str, float] | None = None,
    max_sites: int | None = None,
) -> tuple[list[Job], CandidateDocument | OutputReference, str]:
    """Return the jobs, candidate and flow name a maker starts from.

    A candidate document is used as it is (the flow is named after its formula);
    a structure or reference gets a :func:`candidate_from_structure` job.

    Parameters
    ----------
    structure
        A charged structure, a reference to one, or a candidate document.
    name
        Name of the maker's flow.
    radii
        Framework radii of the candidate's charged channel radius.
    max_sites
        Largest cell accepted (``None``: no limit): a larger candidate document is
        refused at once, a larger structure fails its candidate job.

    Returns
    -------
    tuple
        Jobs to put first in the flow, the candidate (or its reference), the name.

    Raises
    ------
    CandidateError
        For a candidate document of more than ``max_sites`` sites.
    """
    if isinstance(structure, CandidateDocument):
        if max_sites is not None and len(structure.structure) > max_sites:
            raise CandidateError(
                f"{structure.candidate_id}: {len(structure.structure)} sites is more than "
                f"the limit of {max_sites} (raise max_sites to screen it)",
                "size",
                reason=f"more than {max_sites} sites",
            )
        return [], structure, f"{name} {structure.formula}"
    candidate_job = candidate_from_structure(structure, radii=radii, max_sites=max_sites)
    return [candidate_job], candidate_job.output, name
