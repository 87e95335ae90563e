"""Screening: select candidates by capacity, then one channel-stability flow each."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jobflow import Flow, Maker, OutputReference
from pymatgen.core import Structure

from sianode_flows.jobs.candidates import select_candidates
from sianode_flows.jobs.screen import screen_candidates
from sianode_flows.makers.channel_stability import ChannelStabilityMaker
from sianode_flows.schemas import CandidateDocument, StructureRecord
from sianode_flows.settings import get_settings


def as_records(
    inputs: list[StructureRecord | CandidateDocument | Structure],
) -> list[StructureRecord | CandidateDocument]:
    """Wrap bare structures as records (source ``user``); keep the rest as they are."""
    return [
        StructureRecord(source="user", source_id=f"structure-{index}", structure=item)
        if isinstance(item, Structure)
        else item
        for index, item in enumerate(inputs)
    ]


@dataclass
class ScreeningMaker(Maker):
    """Make the screening flow: capacity filter, then fan out channel-stability flows.

    Parameters
    ----------
    name
        Name of the flow.
    channel_maker
        Maker of each candidate's channel-stability flow.
    min_capacity
        Capacity threshold, mAh/g (settings: 1500).
    max_sites
        Largest cell accepted (settings: 400 sites).
    pool_atoms
        Relax the configurations of all candidates together, in batched jobs of at
        most this many atoms (a few thousand on a CPU, ~20,000 on a GPU), one pooled
        round after another; ``None``: one batched job per candidate and round. The
        fits are the same either way (the relaxations are batch invariant); pooling
        fills a GPU and makes fewer, larger jobs.
    """

    name: str = "screening"
    channel_maker: ChannelStabilityMaker = field(default_factory=ChannelStabilityMaker)
    min_capacity: float = field(default_factory=lambda: get_settings().min_capacity)
    max_sites: int | None = field(default_factory=lambda: get_settings().max_sites)
    pool_atoms: int | None = None

    def __post_init__(self) -> None:
        """Refuse pooling without a batched relax maker."""
        if self.pool_atoms is None:
            return
        if self.pool_atoms < 1:
            raise ValueError(f"pool_atoms must be positive, got {self.pool_atoms}")
        if not isinstance(self.channel_maker, ChannelStabilityMaker):
            raise ValueError(
                f"pooled relaxations need a ChannelStabilityMaker, got "
                f"{type(self.channel_maker).__name__}"
            )
        if not getattr(self.channel_maker.relax_maker, "batched", False):
            raise ValueError(
                "pooled relaxations (pool_atoms) need a batched relax maker; "
                f"{type(self.channel_maker.relax_maker).__name__} relaxes one structure per job"
            )

    def make(
        self,
        records: list[StructureRecord | CandidateDocument | Structure] | OutputReference,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """Make the flow for a batch of input records or structures.

        Parameters
        ----------
        records
            Parsed input entries (see :mod:`sianode_flows.io`), candidate documents,
            bare structures, or a reference to them such as a harvest's
            ``output.candidates``.
        prev_dir
            Unused; kept for the common maker signature.

        Returns
        -------
        Flow
            Its output is the list of slope-fit documents, one per selected
            candidate; the ``candidates`` job's output records the selection.
        """
        if isinstance(records, list):
            records = as_records(records)
        select = select_candidates(
            records, self.min_capacity, self.max_sites, self.channel_maker.radii
        )
        screen = screen_candidates(
            select.output.selected, self.channel_maker, self.pool_atoms, select.uuid
        )
        return Flow([select, screen], output=screen.output, name=self.name)
