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
    candidate: CandidateDocument, protocol: DelithiationProtocol
) -> list[DelithiatedConfiguration]:
    """Draw the delithiated configurations of a candidate as documents."""
    drawn = delithiate(
        candidate.structure,
        n_configs=protocol.n_configs,
        seed=protocol.seed,
        soc_range=protocol.soc_range,
        include_charged=protocol.include_charged,
        include_delithiated=protocol.include_delithiated,
    )
    return [
        DelithiatedConfiguration(
            candidate_id=candidate.candidate_id,
            config_index=index,
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
    candidate: CandidateDocument, protocol: DelithiationProtocol
) -> list[DelithiatedConfiguration]:
    """Job: the configurations of a candidate (see :func:`configurations_of`)."""
    return configurations_of(candidate, protocol)
