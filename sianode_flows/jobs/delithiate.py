"""Random delithiated configurations of a candidate."""

from __future__ import annotations

from jobflow import job
from pymatgen.core import Structure

from sianode_flows.analysis.delithiation import delithiate
from sianode_flows.schemas import (
    CandidateDocument,
    DelithiatedConfiguration,
    DelithiationProtocol,
)


def configurations_of(
    candidate: CandidateDocument,
    protocol: DelithiationProtocol,
    round_number: int = 1,
    migrant_sites: list[int] | None = None,
) -> list[DelithiatedConfiguration]:
    """Draw the delithiated configurations of one sampling round of a candidate.

    Round 1 holds ``protocol.n_configs`` configurations (ends included), indexed
    from 0; each later round ``protocol.round_size`` more, indexed after the rounds
    before it (see :meth:`DelithiationProtocol.first_index`). ``migrant_sites``
    orders the Li sites as the reference's are ordered, for a candidate built on
    the reference's cell: it then removes the reference's sites, configuration by
    configuration (see :func:`~sianode_flows.analysis.delithiation.matching_migrant_sites`).
    """
    drawn = delithiate(
        candidate.structure,
        n_configs=protocol.round_length(round_number),
        seed=protocol.seed,
        soc_range=protocol.soc_range,
        include_charged=protocol.include_charged,
        include_delithiated=protocol.include_delithiated,
        round_number=round_number,
        migrant_sites=migrant_sites,
    )
    first = protocol.first_index(round_number)
    return [
        DelithiatedConfiguration(
            candidate_id=candidate.candidate_id,
            config_index=first + index,
            round=round_number,
            soc=config.soc,
            n_li=config.n_migrant,
            n_li_charged=candidate.n_li,
            removed_sites=list(config.removed_sites),
            seed=protocol.seed,
            structure=config.structure,
        )
        for index, config in enumerate(drawn)
    ]


@job(name="delithiate", data=Structure)
def delithiate_candidate(
    candidate: CandidateDocument,
    protocol: DelithiationProtocol,
    round_number: int = 1,
    migrant_sites: list[int] | None = None,
) -> list[DelithiatedConfiguration]:
    """Job: the configurations of a candidate's round (see :func:`configurations_of`)."""
    return configurations_of(candidate, protocol, round_number, migrant_sites)
