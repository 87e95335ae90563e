"""Save and load the conditional crystal VAE with versioned metadata."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from sianode_flows.generative.data import ELEMENTS
from sianode_flows.generative.model import ConditionalCrystalVAE, ModelConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

FORMAT_VERSION = 1
"""Version of the checkpoint layout that this code writes and reads."""


class CheckpointFormatError(ValueError):
    """A checkpoint this version of sianode_flows cannot read."""


def package_version() -> str:
    """Return the installed sianode-flows version, or ``"unknown"``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sianode-flows")
    except PackageNotFoundError:
        return "unknown"


def checkpoint_metadata(
    model: ConditionalCrystalVAE, training: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the metadata stored with a model.

    Parameters
    ----------
    model
        The model.
    training
        Training summary (e.g. ``TrainingResult.summary()``: number of examples,
        epochs, best validation loss); the date is added when missing.

    Returns
    -------
    dict
        ``format_version``, ``sianode_flows_version``, ``model_config``,
        ``element_vocabulary``, ``label_normalization`` and ``training``.
    """
    summary = dict(training or {})
    summary.setdefault("date", datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"))
    return {
        "format_version": FORMAT_VERSION,
        "sianode_flows_version": package_version(),
        "model_config": model.config_dict(),
        "element_vocabulary": list(ELEMENTS),
        "label_normalization": model.normalization(),
        "training": summary,
    }


def save_checkpoint(
    path: str | Path,
    model: ConditionalCrystalVAE,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model and its metadata to one file.

    Parameters
    ----------
    path
        File to write (folders are created).
    model
        The model.
    metadata
        Training summary (see :func:`checkpoint_metadata`); any JSON-ready values.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = checkpoint_metadata(model, metadata)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {
        "format_version": FORMAT_VERSION,
        "metadata_json": json.dumps(meta, default=str),
        "state_dict": state,
    }
    torch.save(payload, path)
    return path


def _read(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointFormatError(f"{path} is not a sianode_flows generative checkpoint")
    version = payload["format_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointFormatError(f"{path}: format version {version!r} is not an integer")
    if version > FORMAT_VERSION or version < 1:
        raise CheckpointFormatError(
            f"{path} has checkpoint format version {version}; this sianode_flows "
            f"({package_version()}) reads version {FORMAT_VERSION} or older: upgrade it"
        )
    return json.loads(payload["metadata_json"]), payload["state_dict"]


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Return the metadata of a checkpoint without building the model.

    Raises
    ------
    CheckpointFormatError
        If the file is not a checkpoint or has an unknown format version.
    """
    return _read(path)[0]


def load_checkpoint(
    path: str | Path, device: str | torch.device | None = None
) -> ConditionalCrystalVAE:
    """Load a model written by :func:`save_checkpoint`, in evaluation mode.

    Parameters
    ----------
    path
        The checkpoint file.
    device
        Where to put the model (CPU when None).

    Returns
    -------
    ConditionalCrystalVAE
        The model; ``model.metadata`` holds the checkpoint's metadata.

    Raises
    ------
    CheckpointFormatError
        If the file is not a checkpoint, has a newer or unknown format version, or
        another element vocabulary.
    """
    meta, state = _read(path)
    if list(meta.get("element_vocabulary", [])) != list(ELEMENTS):
        raise CheckpointFormatError(f"{path} uses another element vocabulary")
    model = ConditionalCrystalVAE(ModelConfig.from_dict(meta["model_config"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # checkpoints written before the volume prior lack it: they sample without it
    if set(missing) - {"element_volumes"} or unexpected:
        raise CheckpointFormatError(
            f"{path} does not fit this model: missing {missing}, unexpected {unexpected}"
        )
    model.metadata = meta
    return model.to(torch.device(device) if device is not None else "cpu").eval()
