"""Channel stability of one candidate: delithiate -> relax each -> channel each -> fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

from jobflow import Flow, Maker, OutputReference
from pymatgen.core import Structure

from sianode_flows.jobs.candidates import candidate_or_job
from sianode_flows.jobs.delithiate import delithiate_candidate
from sianode_flows.jobs.fanout import relax_configurations
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.schemas import CandidateDocument, DelithiationProtocol, VerdictRule
from sianode_flows.settings import get_settings


@dataclass
class ChannelStabilityMaker(Maker):
    """Make the flow that fits a candidate's channel radius against state of charge.

    The charged structure is delithiated at random into ``n_configs``
    configurations, each is relaxed by ``relax_maker`` (any maker whose job outputs
    a task document with a final structure: atomate2's CHGNet force-field relax by
    default, a VASP relax maker later), its channel radius R_t is computed with
    CAVD on the framework without Li, and R_t is fitted against SOC.

    Parameters
    ----------
    name
        Name of the flow.
    n_configs
        Configurations per candidate, ends included (settings: 30).
    seed
        Seed of the random delithiation (settings: 0).
    soc_range
        Range of the random states of charge.
    include_charged
        Include the charged structure itself (SOC 1).
    include_delithiated
        Include the fully delithiated framework (SOC 0).
    relax_maker
        Maker of the relax job of each configuration.
    radii
        Framework radii (A) overriding the covalent defaults.
    zeopp_check
        Also compute Zeo++'s free sphere for each configuration.
    slope_threshold
        Largest |slope| judged stable, A per 100 % SOC (settings: 0.5).
    verdict_rule
        ``"slope"``: stable when |slope| <= threshold; ``"upper-bound"``: stable when
        the bootstrap 95 % interval of the slope lies within +-threshold.
    n_bootstrap
        Bootstrap resamples of the configurations for the slope intervals (0: none).
    skip_done
        Skip a candidate whose complete fit with the same settings is stored.
    """

    name: str = "channel stability"
    n_configs: int = field(default_factory=lambda: get_settings().n_configs)
    seed: int = field(default_factory=lambda: get_settings().seed)
    soc_range: tuple[float, float] = (0.0, 1.0)
    include_charged: bool = True
    include_delithiated: bool = True
    relax_maker: Maker = field(default_factory=default_relax_maker)
    radii: dict[str, float] | None = None
    zeopp_check: bool = False
    slope_threshold: float = field(default_factory=lambda: get_settings().slope_threshold)
    verdict_rule: VerdictRule = "slope"
    n_bootstrap: int = 1000
    skip_done: bool = True

    def __post_init__(self) -> None:
        """Refuse an unknown verdict rule now rather than in the fit job."""
        if self.verdict_rule not in get_args(VerdictRule):
            raise ValueError(
                f"verdict_rule must be one of {get_args(VerdictRule)}, got {self.verdict_rule!r}"
            )

    @property
    def protocol(self) -> DelithiationProtocol:
        """How the configurations are drawn, as recorded in every fit."""
        return DelithiationProtocol(
            n_configs=self.n_configs,
            seed=self.seed,
            soc_range=tuple(self.soc_range),
            include_charged=self.include_charged,
            include_delithiated=self.include_delithiated,
        )

    def make(
        self,
        structure: Structure | CandidateDocument | OutputReference,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """Make the flow for one charged structure or candidate.

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
            Its output is the :class:`~sianode_flows.schemas.SlopeFitDocument`.
        """
        jobs, candidate, name = candidate_or_job(structure, self.name, self.radii)
        delithiate = delithiate_candidate(candidate, self.protocol)
        configurations = relax_configurations(delithiate.output, candidate, self)
        jobs += [delithiate, configurations]
        return Flow(jobs, output=configurations.output, name=name)
