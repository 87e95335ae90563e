"""Plain scientific functions: capacity, delithiation, channel radius, slope fits.

Nothing in this sub-package knows about jobflow; the jobs in :mod:`sianode_flows.jobs`
wrap these functions and turn their results into documents.
"""

from sianode_flows.analysis.capacity import gravimetric_capacity, host_composition
from sianode_flows.analysis.channel import ChannelRadii, channel_radii
from sianode_flows.analysis.delithiation import DelithiatedStructure, delithiate
from sianode_flows.analysis.fit import SlopeFit, fit_slope
from sianode_flows.analysis.hull import HullPosition, hull_position, phase_diagram
from sianode_flows.analysis.validation import CandidateError, check_candidate

__all__ = [
    "CandidateError",
    "ChannelRadii",
    "DelithiatedStructure",
    "HullPosition",
    "SlopeFit",
    "channel_radii",
    "check_candidate",
    "delithiate",
    "fit_slope",
    "gravimetric_capacity",
    "host_composition",
    "hull_position",
    "phase_diagram",
]
