"""Promote verified generated samples to candidates for the channel-stability screen.

A sample goes on to stage 2 (paper, section 2.4: "the same screening criteria from
Stages 1 and 2") when it is valid, its relaxation converged, it is unique among its
run and novel against the known structures, it lies within the hull tolerance
(0.1 eV/atom by default), its capacity reaches the threshold and it is not
over-lithiated. Its relaxed structure becomes a :class:`CandidateDocument` with
provenance ``generated`` (method, checkpoint, target, seed, sample) and its energy
above hull.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

from jobflow import job

from sianode_flows.schemas import CandidateDocument, GeneratedStructureDocument, Provenance

logger = logging.getLogger(__name__)

GENERATED = "generated"
"""Provenance source of generated candidates."""


def promotion_blocker(
    doc: GeneratedStructureDocument, min_capacity: float, hull_tolerance: float = 0.1
) -> str | None:
    """Return why a sample does not go on to stage 2 (a short reason), or None."""
    e_hull = doc.e_above_hull
    checks = [
        (doc.valid, "invalid"),
        (doc.error is None, "failed"),
        (bool(doc.relax_converged) and doc.relaxed_structure is not None, "not converged"),
        (bool(doc.unique), "not unique"),
        (doc.novel is not False, "not novel"),
        (doc.novel is not None, "novelty not judged"),
        (e_hull is not None, "no hull"),
        (e_hull is not None and e_hull <= hull_tolerance + 1e-9, "above the hull"),
        (not doc.over_lithiated, "over-lithiated"),
        (doc.capacity_mAh_g is not None and doc.capacity_mAh_g >= min_capacity, "low capacity"),
    ]
    return next((reason for passed, reason in checks if not passed), None)


def generated_candidate_id(doc: GeneratedStructureDocument) -> str:
    """Return ``generated:<formula>:<hash>``: the same relaxed structure, the same id."""
    text = json.dumps(doc.relaxed_structure.as_dict(), sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{GENERATED}:{doc.formula}:{digest}"


def candidate_from_sample(
    doc: GeneratedStructureDocument, checkpoint: str | None = None
) -> CandidateDocument:
    """Build the candidate of a promoted sample (its relaxed structure).

    Parameters
    ----------
    doc
        The verified sample.
    checkpoint
        The model's checkpoint, for the provenance (None for baselines).

    Returns
    -------
    CandidateDocument
        Capacity and charged R_t of the relaxed structure, provenance ``generated``
        and the energy above hull.
    """
    provenance = Provenance(
        source=GENERATED,
        source_id=doc.sample_id,
        properties={
            "method": doc.method,
            "checkpoint": checkpoint,
            "target": doc.target.model_dump(),
            "seed": doc.seed,
            "sample_id": doc.sample_id,
            "e_above_hull": doc.e_above_hull,
            "decomposition": doc.decomposition,
            "hull_key": doc.hull_key,
        },
    )
    candidate = CandidateDocument.from_structure(
        doc.relaxed_structure, [provenance], candidate_id=generated_candidate_id(doc)
    )
    candidate.e_above_hull = doc.e_above_hull
    return candidate


def promote(
    samples: Sequence[GeneratedStructureDocument],
    min_capacity: float,
    hull_tolerance: float = 0.1,
    checkpoint: str | None = None,
) -> list[CandidateDocument]:
    """Return the candidates of the samples that pass every stage-1 check.

    Parameters
    ----------
    samples
        Verified samples.
    min_capacity
        Capacity threshold (mAh/g).
    hull_tolerance
        Largest energy above hull (eV/atom).
    checkpoint
        The model's checkpoint, for the provenance.

    Returns
    -------
    list of CandidateDocument
        One per promoted sample, lowest energy above hull first; a structure that
        appears twice is promoted once.
    """
    kept: dict[str, CandidateDocument] = {}
    blocked: dict[str, int] = {}
    for doc in sorted(samples, key=lambda d: (d.e_above_hull is None, d.e_above_hull or 0.0)):
        reason = promotion_blocker(doc, min_capacity, hull_tolerance)
        if reason is not None:
            blocked[reason] = blocked.get(reason, 0) + 1
            continue
        try:
            candidate = candidate_from_sample(doc, checkpoint)
        except Exception as exc:  # CAVD on the relaxed structure: recorded, not fatal
            logger.warning("sample %s not promoted: %s", doc.sample_id, exc)
            blocked["candidate failed"] = blocked.get("candidate failed", 0) + 1
            continue
        kept.setdefault(candidate.candidate_id, candidate)
    logger.info("promoted %d of %d samples; held back: %s", len(kept), len(samples), blocked)
    return list(kept.values())


@job(name="promote samples")
def promote_samples(
    samples: list[GeneratedStructureDocument],
    min_capacity: float,
    hull_tolerance: float = 0.1,
    checkpoint: str | None = None,
) -> list[CandidateDocument]:
    """Job: the candidates of the samples that go on to stage 2 (see :func:`promote`)."""
    return promote(samples, min_capacity, hull_tolerance, checkpoint)
