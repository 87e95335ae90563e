"""Jobs: small ``@job`` functions around the science in :mod:`sianode_flows.analysis`."""

from sianode_flows.jobs.candidates import candidate_from_structure, select_candidates
from sianode_flows.jobs.channel import measure_channel
from sianode_flows.jobs.delithiate import delithiate_candidate
from sianode_flows.jobs.fit import fit_channel_slope
from sianode_flows.jobs.relax import default_relax_maker, summarize_relaxation

__all__ = [
    "candidate_from_structure",
    "default_relax_maker",
    "delithiate_candidate",
    "fit_channel_slope",
    "measure_channel",
    "select_candidates",
    "summarize_relaxation",
]
