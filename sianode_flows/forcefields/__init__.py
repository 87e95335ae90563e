"""Batched force fields: torch-sim model interfaces and a batched relaxation.

torch-sim (``torch-sim-atomistic``) provides the batched state, the optimizers
(FIRE, L-BFGS, BFGS) with the Frechet cell filter and the in-flight batcher;
sevenn provides SevenNet's torch-sim model. This package adds a CHGNet model for
torch-sim (it has none) whose crystal graphs are built for the whole batch with
tensors on the device (``chgnet_graph``), the corrections that make torch-sim's
steps ASE's and a structure's relaxation independent of its batch
(``optimizers``), and the relaxation loop that records, for each structure, what
atomate2's per-structure relax records.
"""

from sianode_flows.forcefields.batched_relax import RelaxOutcome, relax_structures
from sianode_flows.forcefields.models import load_model

__all__ = ["RelaxOutcome", "load_model", "relax_structures"]
