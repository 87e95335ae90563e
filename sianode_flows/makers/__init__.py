"""Makers that return jobflow Flows."""

from sianode_flows.makers.channel_stability import ChannelStabilityMaker
from sianode_flows.makers.cross_check import CrossCheckMaker
from sianode_flows.makers.dft import DFTValidationMaker
from sianode_flows.makers.generate import (
    BaselineMaker,
    ConditioningSweepMaker,
    GenerateMaker,
    VerifyMaker,
)
from sianode_flows.makers.harvest import DatabaseSeriesMaker, HarvestMaker
from sianode_flows.makers.screening import ScreeningMaker

__all__ = [
    "BaselineMaker",
    "ChannelStabilityMaker",
    "ConditioningSweepMaker",
    "CrossCheckMaker",
    "DFTValidationMaker",
    "DatabaseSeriesMaker",
    "GenerateMaker",
    "HarvestMaker",
    "ScreeningMaker",
    "VerifyMaker",
]
