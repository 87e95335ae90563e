"""Conditional generation of Li-Si-X anode candidates (Con-CDVAE style).

Names are re-exported lazily, so that importing the package (for
:class:`GenerationTarget`) does not load torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from sianode_flows.generative.target import GenerationTarget

_EXPORTS = {
    "CrystalExample": "data",
    "build_examples": "data",
    "load_shared_structures": "data",
    "to_graph": "data",
    "ConditionalCrystalVAE": "model",
    "ModelConfig": "model",
    "TrainingResult": "train",
    "train_model": "train",
    "CheckpointFormatError": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "sample_distinct": "sampling",
}

__all__ = ["GenerationTarget", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name in _EXPORTS:
        return getattr(import_module(f"sianode_flows.generative.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'sianode_flows.generative' has no attribute {name!r}")
