"""Cross-check: two potentials relax the same configurations; compare their slopes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, Maker, OutputReference
from pymatgen.core import Structure

from sianode_flows.jobs.candidates import candidate_or_job
from sianode_flows.jobs.cross_check import DEFAULT_TOLERANCE, compare_fits
from sianode_flows.jobs.delithiate import delithiate_candidate
from sianode_flows.jobs.fanout import relax_configurations
from sianode_flows.jobs.potentials import POTENTIALS
from sianode_flows.jobs.relax import default_relax_maker, potential_label
from sianode_flows.makers.channel_stability import ChannelStabilityMaker
from sianode_flows.schemas import CandidateDocument


def other_potential(potential: str) -> str:
    """Return the other offline potential: ``chgnet`` <-> ``sevennet``."""
    key = potential.lower()
    if key not in POTENTIALS:
        raise ValueError(f"no second potential known for {potential!r}; give one explicitly")
    return next(other for other in POTENTIALS if other != key)


@dataclass
class CrossCheckMaker(Maker):
    """Make the flow that fits one candidate under two potentials and compares them.

    One delithiation job draws the configurations; the first potential (the relax
    maker of ``channel_maker``) and the second (``second_relax_maker``) each relax
    all of them, their channels are measured and fitted exactly as in
    :class:`ChannelStabilityMaker` (same protocol, threshold and verdict rule), and
    a ``cross check`` job stores both slopes and their difference. Each branch has
    its own run key, so a fit already stored for either potential is reused.

    Parameters
    ----------
    name
        Name of the flow.
    channel_maker
        Protocol, threshold and first relax maker (CHGNet by default).
    second_relax_maker
        Relax maker of the second potential (SevenNet-0 by default).
    tolerance
        Largest |slope difference| for the two to agree (A per 100 % SOC).
    require_agreement
        Judge a candidate stable only when both fits are stable and agree.
    """

    name: str = "cross check"
    channel_maker: ChannelStabilityMaker = field(default_factory=ChannelStabilityMaker)
    second_relax_maker: Maker = field(
        default_factory=lambda: default_relax_maker("sevennet", name="relax sevennet")
    )
    tolerance: float = DEFAULT_TOLERANCE
    require_agreement: bool = True

    @classmethod
    def against(
        cls, channel_maker: ChannelStabilityMaker, potential: str, **kwargs: Any
    ) -> CrossCheckMaker:
        """Cross-check a channel maker against a second potential with its relax settings.

        The second relax maker copies the first one's fields (steps, fmax, ...) with
        the other force field.

        Parameters
        ----------
        channel_maker
            The first potential's channel maker.
        potential
            The second potential, e.g. ``"sevennet"``.
        **kwargs
            Further fields of the cross-check maker (``tolerance``, ...).

        Returns
        -------
        CrossCheckMaker
            The maker.
        """
        first = channel_maker.relax_maker
        second = default_relax_maker(
            potential,
            batched=getattr(first, "batched", False),
            name=f"relax {potential.lower()}",
        )
        for name in (
            "steps",
            "fmax",
            "relax_cell",
            "relax_kwargs",
            "optimizer",
            "optimizer_kwargs",
            "max_atoms",
            "device",
        ):
            if hasattr(first, name) and hasattr(second, name):
                setattr(second, name, getattr(first, name))
        return cls(channel_maker=channel_maker, second_relax_maker=second, **kwargs)

    @property
    def second_maker(self) -> ChannelStabilityMaker:
        """The channel maker of the second potential: same protocol, other relax."""
        return replace(self.channel_maker, relax_maker=self.second_relax_maker)

    @property
    def radii(self) -> dict[str, float] | None:
        """Framework radii of the channel analysis (those of ``channel_maker``)."""
        return self.channel_maker.radii

    def make(
        self,
        structure: Structure | CandidateDocument | OutputReference,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """Make the cross-check flow for one charged structure or candidate.

        Parameters
        ----------
        structure
            A charged structure (a candidate job is added to describe it), or a
            candidate document.
        prev_dir
            Unused; kept for the common maker signature.

        Returns
        -------
        Flow
            Its output is the :class:`~sianode_flows.schemas.CrossCheckDocument`.
        """
        jobs: list[Job | Flow]
        jobs, candidate, name = candidate_or_job(structure, self.name, self.radii)
        protocol = self.channel_maker.protocol
        delithiate = delithiate_candidate(candidate, protocol)
        branches = []
        for maker in (self.channel_maker, self.second_maker):
            branch = relax_configurations(delithiate.output, candidate, maker)
            branch.append_name(f" {potential_label(maker.relax_maker)}")
            branches.append(branch)
        compare = compare_fits(
            branches[0].output,
            branches[1].output,
            tolerance=self.tolerance,
            require_agreement=self.require_agreement,
            n_bootstrap=self.channel_maker.n_bootstrap,
            seed=protocol.seed,
        )
        jobs += [delithiate, *branches, compare]
        return Flow(jobs, output=compare.output, name=name)
