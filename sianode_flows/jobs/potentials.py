"""Names of the potentials and optimizers, as atomate2's makers and documents spell them.

Shared by the per-structure relax maker (:mod:`sianode_flows.jobs.relax`) and the
batched one (:mod:`sianode_flows.jobs.batched_relax`), so that neither imports the
other's module for them.
"""

from __future__ import annotations

POTENTIALS = {"chgnet": "CHGNet", "sevennet": "SevenNet"}
"""Potentials that run offline here (weights in their wheels), by short name."""

OPTIMIZER_NAMES = {"fire": "FIRE", "lbfgs": "LBFGS", "bfgs": "BFGS"}
"""ASE's names of the optimizers, as atomate2's makers and documents spell them."""


def force_field_name(potential: str) -> str:
    """Return atomate2's force-field name of a potential: ``sevennet`` -> ``SevenNet``.

    Short names of :data:`POTENTIALS` are matched case-insensitively; any other
    name is passed on to atomate2 as it is.
    """
    return POTENTIALS.get(potential.lower(), potential)
