"""Makers that return jobflow Flows."""

from sianode_flows.makers.channel_stability import ChannelStabilityMaker
from sianode_flows.makers.screening import ScreeningMaker

__all__ = ["ChannelStabilityMaker", "ScreeningMaker"]
