"""Fixtures of the batched force-field tests: models loaded once, small configurations."""

from __future__ import annotations

import pytest

from sianode_flows.analysis.delithiation import delithiate
from sianode_flows.forcefields import load_model


@pytest.fixture(scope="session")
def chgnet_model():
    """CHGNet as a torch-sim model on the CPU."""
    return load_model("chgnet", device="cpu")


@pytest.fixture(scope="session")
def small_configurations(li15si4_primitive):
    """Three delithiated Li15Si4 configurations of 8-9 atoms (SOC 0 to 0.07)."""
    configurations = delithiate(li15si4_primitive, n_configs=30, seed=0)
    return [c.structure for c in configurations[1:4]]
