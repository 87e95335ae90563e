"""Channel radius of database structures against their Li content (paper, Figure 2)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sianode_flows.analysis.capacity import MIGRANT
from sianode_flows.analysis.channel import channel_radii_many
from sianode_flows.analysis.harmonize import group_duplicates
from sianode_flows.schemas import DatabaseSeriesDocument, FitStatistics, SeriesPoint

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sianode_flows.schemas import StructureRecord

logger = logging.getLogger(__name__)


def in_chemical_system(record: StructureRecord, chemsys: set[str], migrant: str = MIGRANT) -> bool:
    """Whether an ordered record lies in the chemical system and has a framework."""
    structure = record.structure
    if structure is None or not structure.is_ordered:
        return False
    symbols = {el.symbol for el in structure.composition.elements}
    return symbols <= chemsys and bool(symbols - {migrant})


def database_series(
    records: Sequence[StructureRecord],
    chemsys: str = "Li-Si",
    radii: dict[str, float] | None = None,
    deduplicate: bool = False,
    migrant: str = MIGRANT,
    workers: int = 1,
) -> DatabaseSeriesDocument:
    """Fit R_t of every structure of a chemical system against its relative Li content.

    Each structure is taken as the database gives it (no relaxation); R_t is the
    CAVD channel radius of its framework without Li. The abscissa is Li per host
    atom over the largest Li per host atom of the series, so the most lithiated
    phase is at 1 and Li-free frameworks at 0.

    Parameters
    ----------
    records
        Parsed entries from any sources; those outside the system are ignored.
    chemsys
        Chemical system, e.g. ``"Li-Si"``.
    radii
        Framework radii overriding the covalent defaults (A).
    deduplicate
        Merge equivalent structures from several databases into one point.
    migrant
        Element symbol of the mobile ion.
    workers
        Processes measuring the channel radii.

    Returns
    -------
    DatabaseSeriesDocument
        Points, slope and statistics.
    """
    elements = set(chemsys.split("-"))
    members = [r for r in records if in_chemical_system(r, elements, migrant)]
    if deduplicate:
        members = [group[0] for group in group_duplicates(members)]
    measured = []
    n_failed = 0
    found = channel_radii_many([r.structure for r in members], radii, migrant, workers)
    for record, radii_found in zip(members, found, strict=True):
        if isinstance(radii_found, Exception):  # counted; the series goes on
            logger.warning("channel analysis failed for %s: %s", record.source_id, radii_found)
            n_failed += 1
            continue
        comp = record.structure.composition
        n_host = comp.num_atoms - comp[migrant]
        measured.append((record, comp[migrant] / n_host, radii_found.r_t))
    largest = max((x for _, x, _ in measured), default=0.0) or 1.0
    points = [
        SeriesPoint(
            source=record.source,
            source_id=record.source_id,
            formula=record.structure.composition.reduced_formula,
            li_per_host=li_per_host,
            lithiation=li_per_host / largest,
            r_t=r_t,
        )
        for record, li_per_host, r_t in measured
    ]
    fields, note = FitStatistics.fitted([p.lithiation for p in points], [p.r_t for p in points])
    return DatabaseSeriesDocument(
        chemsys="-".join(sorted(elements)),
        points=points,
        n_structures=len(points),
        n_failed=n_failed,
        note=note,
        **fields,
    )
