"""Batched force fields: torch-sim model interfaces and a batched relaxation.

torch-sim (``torch-sim-atomistic``) provides the batched state, the FIRE optimizer
with Frechet cell filter and the in-flight batcher; this package adds a CHGNet model
for it (torch-sim has none) and the relaxation loop that records, for each
structure, what atomate2's per-structure relax records.
"""

from sianode_flows.forcefields.batched_relax import RelaxOutcome, relax_structures
from sianode_flows.forcefields.models import load_model

__all__ = ["RelaxOutcome", "load_model", "relax_structures"]
