"""Channel stability of one candidate: delithiate -> relax each -> channel each -> fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

from jobflow import Flow, Maker, OutputReference
from pymatgen.core import Structure

from sianode_flows.analysis.sequential import DEFAULT_LEVEL, Spending
from sianode_flows.jobs.candidates import candidate_or_job
from sianode_flows.jobs.channel import DEFAULT_MAX_VOLUME_CHANGE
from sianode_flows.jobs.delithiate import delithiate_candidate
from sianode_flows.jobs.fanout import relax_configurations
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.schemas import (
    CandidateDocument,
    DelithiationProtocol,
    SlopeFitDocument,
    VerdictRule,
)
from sianode_flows.schemas.fit import LEGACY_VERDICT_RULES
from sianode_flows.settings import get_settings


@dataclass
class ChannelStabilityMaker(Maker):
    """Make the flow that fits a candidate's channel radius against state of charge.

    The charged structure is delithiated at random into ``n_configs``
    configurations, each is relaxed by ``relax_maker`` (any maker whose job outputs
    a task document with a final structure: atomate2's CHGNet force-field relax by
    default, a VASP relax maker later), its channel radius R_t is computed with
    CAVD on the framework without Li, and R_t is fitted against SOC.

    With ``max_configs`` set, sampling is sequential: while the verdict is
    ``"undecided"``, rounds of ``round_size`` further configurations are drawn
    (each from its own seeded stream) and the fit is redone over all of them, up to
    ``max_configs`` in all; every round runs as jobflow dynamic replacement, under
    ``run_locally`` and FireWorks alike. Every relaxation is stored with its key
    (candidate structure, draw, relax settings, potential version): a rerun, a
    higher cap or another threshold relaxes only what the store does not hold.

    Parameters
    ----------
    name
        Name of the flow.
    n_configs
        Configurations of the first round, ends included; all of them when
        ``max_configs`` is ``None`` (settings: 30).
    round_size
        Configurations added per further round (settings: 10).
    max_configs
        Cap of sequential sampling, counted in whole rounds; ``None`` draws
        ``n_configs`` once (a fixed sample).
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
        Largest |slope| judged stable, A per 100 % SOC (settings: 0.5), for the
        absolute verdict.
    verdict_rule
        ``"interval"``: stable when the interval of the slope lies within
        +-threshold, unstable when wholly outside, else undecided; ``"point"``:
        stable when |slope| <= threshold (fixed samples only).
    n_bootstrap
        Bootstrap resamples of a cross-check's paired interval.
    min_configs
        Fewest fitted configurations for any verdict (settings: 20): fewer cannot
        hold the intervals' level (see the calibration in the README).
    level
        Confidence level of the intervals, held over all looks of a sequential
        protocol at once (0.95).
    spending
        Alpha-spending of the looks (settings: ``"obrien-fleming"``; also
        ``"pocock"``, ``"bonferroni"``; see
        :mod:`sianode_flows.analysis.sequential`).
    margin
        Half-width of the ``similar`` band of the slope minus the reference's, A
        per 100 % SOC (settings: 0.1).
    fit_unconverged
        Fit points whose relaxation did not converge (left out and counted by
        default).
    max_volume_change
        Largest factor by which a relaxation may change the volume per framework
        atom; beyond it the configuration is a failure (``None``: no bound).
    skip_done
        Reuse what the store holds: a finished fit with the same settings, and every
        stored relaxation of the same configuration.
    retry_failed
        Relax again configurations whose stored attempt failed.
    max_sites
        Largest cell accepted (settings: 400 sites; ``None``: no limit). The channel
        analysis and the relaxations grow with the square of the cell, so a larger
        candidate is refused with a message naming its size.
    """

    name: str = "channel stability"
    n_configs: int = field(default_factory=lambda: get_settings().n_configs)
    round_size: int = field(default_factory=lambda: get_settings().round_size)
    max_configs: int | None = None
    seed: int = field(default_factory=lambda: get_settings().seed)
    soc_range: tuple[float, float] = (0.0, 1.0)
    include_charged: bool = True
    include_delithiated: bool = True
    relax_maker: Maker = field(default_factory=default_relax_maker)
    radii: dict[str, float] | None = None
    zeopp_check: bool = False
    slope_threshold: float = field(default_factory=lambda: get_settings().slope_threshold)
    verdict_rule: VerdictRule = "interval"
    n_bootstrap: int = 1000
    min_configs: int = field(default_factory=lambda: get_settings().min_configs)
    level: float = DEFAULT_LEVEL
    spending: Spending = field(default_factory=lambda: get_settings().spending)
    margin: float = field(default_factory=lambda: get_settings().margin)
    fit_unconverged: bool = False
    max_volume_change: float | None = DEFAULT_MAX_VOLUME_CHANGE
    skip_done: bool = True
    retry_failed: bool = False
    max_sites: int | None = field(default_factory=lambda: get_settings().max_sites)

    def __post_init__(self) -> None:
        """Refuse inconsistent settings now rather than in the fit job."""
        self.verdict_rule = LEGACY_VERDICT_RULES.get(self.verdict_rule, self.verdict_rule)
        if self.verdict_rule not in get_args(VerdictRule):
            raise ValueError(
                f"verdict_rule must be one of {get_args(VerdictRule)}, got {self.verdict_rule!r}"
            )
        if self.min_configs < 3:
            raise ValueError(f"min_configs must be at least 3, got {self.min_configs}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if self.spending not in get_args(Spending) or self.spending == "none":
            raise ValueError(
                f"spending must be pocock, obrien-fleming or bonferroni, got {self.spending!r}"
            )
        if self.margin <= 0:
            raise ValueError(f"margin must be positive, got {self.margin}")
        if self.n_configs < 3:
            raise ValueError(
                f"a slope needs at least 3 configurations, got n_configs={self.n_configs}"
            )
        if self.max_configs is not None:
            if self.round_size < 1:
                raise ValueError(f"round_size must be positive, got {self.round_size}")
            if self.max_configs < self.n_configs:
                raise ValueError(
                    f"max_configs={self.max_configs} is below the first round's {self.n_configs}"
                )
            if self.verdict_rule == "point" and self.max_configs > self.n_configs:
                raise ValueError(
                    "the point rule never leaves a candidate undecided, so sequential "
                    "sampling would stop after the first round: use the interval rule or "
                    "a fixed number of configurations (max_configs=None)"
                )

    @property
    def protocol(self) -> DelithiationProtocol:
        """How the configurations are drawn, as recorded in every fit."""
        return DelithiationProtocol(
            n_configs=self.n_configs,
            round_size=self.round_size,
            max_configs=self.max_configs,
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
            Its output is the :class:`~sianode_flows.schemas.SlopeFitDocument` after
            the last sampling round.
        """
        jobs, candidate, name = candidate_or_job(structure, self.name, self.radii, self.max_sites)
        delithiate = delithiate_candidate(candidate, self.protocol)
        configurations = relax_configurations(delithiate.output, candidate, self)
        jobs += [delithiate, configurations]
        return Flow(jobs, output=configurations.output, name=name)

    def round_flow(
        self,
        candidate: CandidateDocument,
        round_number: int,
        previous: SlopeFitDocument | None = None,
    ) -> Flow:
        """Make the flow of a further sampling round: delithiate -> configurations -> fit.

        The ``fit`` job of an undecided round replaces itself by this flow.

        Parameters
        ----------
        candidate
            The candidate.
        round_number
            The round (2 or more).
        previous
            The fit after the earlier rounds.

        Returns
        -------
        Flow
            Its output is the fit after this round (or after a later one).
        """
        delithiate = delithiate_candidate(candidate, self.protocol, round_number)
        delithiate.append_name(f" round {round_number}")
        sample = relax_configurations(delithiate.output, candidate, self, previous=previous)
        sample.append_name(f" round {round_number}")
        for new_job in (delithiate, sample):
            new_job.update_metadata({"candidate_id": candidate.candidate_id, "round": round_number})
        return Flow([delithiate, sample], output=sample.output, name=f"round {round_number}")
