"""Harvest candidates from databases; the database series of a chemical system."""

from __future__ import annotations

from dataclasses import dataclass, field

from jobflow import Flow, Maker

from sianode_flows.jobs.harvest import database_series_job, harvest_candidates
from sianode_flows.settings import get_settings
from sianode_flows.sources.base import ElementCriteria, StructureSource


@dataclass
class HarvestMaker(Maker):
    """Make the harvest flow: fetch, filter, harmonize and deduplicate candidates.

    Its output is a :class:`~sianode_flows.schemas.HarvestDocument`; feed
    ``flow.output.candidates`` to :class:`~sianode_flows.makers.ScreeningMaker`.

    Parameters
    ----------
    name
        Name of the flow.
    criteria
        Elements every entry must contain (Li and Si).
    min_capacity
        Capacity threshold, mAh/g (settings: 1500).
    max_sites
        Largest cell accepted (settings: 400 sites).
    radii
        Framework radii (A) overriding the covalent defaults.
    workers
        Processes for the analysis; every available core by default.
    """

    name: str = "harvest"
    criteria: ElementCriteria = field(default_factory=ElementCriteria)
    min_capacity: float = field(default_factory=lambda: get_settings().min_capacity)
    max_sites: int | None = field(default_factory=lambda: get_settings().max_sites)
    radii: dict[str, float] | None = None
    workers: int | None = None

    def make(self, sources: list[StructureSource]) -> Flow:
        """Make the flow for a list of sources, in priority order.

        Parameters
        ----------
        sources
            Structure sources; when entries are merged, the first source's
            structure represents the candidate.

        Returns
        -------
        Flow
            One ``harvest`` job.
        """
        harvest = harvest_candidates(
            sources,
            min_capacity=self.min_capacity,
            max_sites=self.max_sites,
            radii=self.radii,
            workers=self.workers,
            criteria=self.criteria,
        )
        return Flow([harvest], output=harvest.output, name=self.name)


@dataclass
class DatabaseSeriesMaker(Maker):
    """Make the flow of R_t against Li content over a chemical system (paper, Fig. 2).

    Parameters
    ----------
    name
        Name of the flow.
    chemsys
        Chemical system, e.g. ``"Li-Si"``.
    radii
        Framework radii (A) overriding the covalent defaults.
    deduplicate
        Merge equivalent structures from several databases into one point.
    """

    name: str = "database series"
    chemsys: str = "Li-Si"
    radii: dict[str, float] | None = None
    deduplicate: bool = False

    def make(self, sources: list[StructureSource]) -> Flow:
        """Make the flow for a list of sources.

        Returns
        -------
        Flow
            One job whose output is a :class:`~sianode_flows.schemas.DatabaseSeriesDocument`.
        """
        series = database_series_job(
            sources, chemsys=self.chemsys, radii=self.radii, deduplicate=self.deduplicate
        )
        return Flow([series], output=series.output, name=f"{self.name} {self.chemsys}")
