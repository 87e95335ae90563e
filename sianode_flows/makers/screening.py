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

ReferenceInput = StructureRecord | CandidateDocument | Structure | str | None
"""A reference: a record, candidate or structure, ``"builtin:<id>"``, a structure file, or
``None`` / ``"none"`` for absolute verdicts only."""


def reference_record(reference: ReferenceInput) -> StructureRecord | CandidateDocument | None:
    """Return the reference as an input record (``None`` for no reference).

    ``"builtin:<id>"`` gives that built-in cell's record, a path the first record of
    its file; records and candidates are returned as they are, a structure wrapped.

    Raises
    ------
    ValueError
        If the reference names no built-in cell or no readable file.
    """
    from sianode_flows.builtin import builtin_records
    from sianode_flows.io import read_structure_file

    if reference is None or (isinstance(reference, str) and reference.lower() == "none"):
        return None
    if isinstance(reference, str):
        if reference.startswith("builtin:"):
            name = reference.removeprefix("builtin:")
            found = [r for r in builtin_records() if r.source_id == name]
            if not found:
                known = ", ".join(f"builtin:{r.source_id}" for r in builtin_records())
                raise ValueError(f"no built-in cell {name!r}: use one of {known}")
            return found[0]
        path = Path(reference)
        if not path.exists():
            raise ValueError(f"reference {reference!r}: no such file, and not builtin:<id>")
        records = read_structure_file(path)
        if not records:
            raise ValueError(f"reference {reference!r}: the file holds no structure")
        return records[0]
    if isinstance(reference, Structure):
        return StructureRecord(source="user", source_id="reference", structure=reference)
    return reference


def reference_candidate(
    reference: ReferenceInput,
    max_sites: int | None = None,
    radii: dict[str, float] | None = None,
) -> CandidateDocument | None:
    """Return the reference as a candidate document (``None`` for no reference).

    Parameters
    ----------
    reference
        ``"builtin:Li15Si4"`` (or another built-in cell's id), a path to a
        structure file (its first entry), a record, a candidate or a structure;
        ``None`` or ``"none"``: no reference.
    max_sites, radii
        As for the candidates.

    Raises
    ------
    ValueError
        If the reference cannot be read or is not a valid candidate.
    """
    from sianode_flows.jobs.candidates import candidate_from_record

    record = reference_record(reference)
    if record is None or isinstance(record, CandidateDocument):
        return record
    result = candidate_from_record(record, max_sites=max_sites, radii=radii)
    if not isinstance(result, CandidateDocument):
        raise ValueError(f"the reference is not a valid candidate: {result.message}")
    return result


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
    reference
        What every candidate's slope is compared with, by the same protocol,
        potential and settings (settings: ``"builtin:Li15Si4"``, pure Si, the
        paper's comparison): see :data:`ReferenceInput`. It is sampled in the same
        rounds as the candidates for as long as any of them is undecided against
        it, its relaxations are stored under its key and reused by every later
        screen, and each fit gets a relative verdict (lower, higher, similar or
        undecided). ``None``: absolute verdicts against the slope threshold only.
    """

    name: str = "screening"
    channel_maker: ChannelStabilityMaker = field(default_factory=ChannelStabilityMaker)
    min_capacity: float = field(default_factory=lambda: get_settings().min_capacity)
    max_sites: int | None = field(default_factory=lambda: get_settings().max_sites)
    pool_atoms: int | None = None
    reference: ReferenceInput = field(default_factory=lambda: get_settings().reference)

    def __post_init__(self) -> None:
        """Refuse pooling without a batched relax maker, or a reference without rounds."""
        if self.compares_with_reference and not isinstance(
            self.channel_maker, ChannelStabilityMaker
        ):
            raise ValueError(
                f"a comparison with the reference needs a ChannelStabilityMaker, got "
                f"{type(self.channel_maker).__name__}: pass reference=None"
            )
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

    @property
    def compares_with_reference(self) -> bool:
        """Whether the screen compares every candidate with a reference."""
        return not (
            self.reference is None
            or (isinstance(self.reference, str) and self.reference.lower() == "none")
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
            candidate (the reference's own fit for a candidate that is the
            reference); the ``candidates`` job's output records the selection.
        """
        if isinstance(records, list):
            records = as_records(records)
        select = select_candidates(
            records, self.min_capacity, self.max_sites, self.channel_maker.radii
        )
        reference = reference_record(self.reference)
        screen = screen_candidates(
            select.output.selected,
            self.channel_maker,
            self.pool_atoms,
            select.uuid,
            reference=reference,
        )
        return Flow([select, screen], output=screen.output, name=self.name)
