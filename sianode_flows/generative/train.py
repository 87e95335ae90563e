"""Train the conditional crystal VAE: split, mini-batches, early stopping."""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch_geometric.loader import DataLoader

from sianode_flows.generative.data import to_graph
from sianode_flows.generative.model import ConditionalCrystalVAE, ModelConfig

if TYPE_CHECKING:
    from collections.abc import Sequence

    from torch_geometric.data import Data

    from sianode_flows.generative.data import CrystalExample

logger = logging.getLogger(__name__)

LOSS_TERMS = ("loss", "kl", "num_atoms", "lattice", "composition", "coord")


MAX_STORED_LABELS = 1000
"""Training labels kept in a checkpoint for unconditional (control) sampling."""


@dataclass
class TrainingResult:
    """What :func:`train_model` returns.

    Parameters
    ----------
    model
        The trained model, with the weights of the best validation epoch.
    history
        One dict per epoch: ``epoch``, ``train_loss``, ``val_loss`` and the mean of
        every loss term on the training set (``train_<term>``) and validation set.
    best_epoch
        Epoch (from 1) with the lowest validation loss.
    best_val_loss
        That validation loss.
    n_train, n_val
        Examples in the training and validation sets.
    elapsed_s
        Wall time of the training (s).
    stopped_early
        Whether early stopping (or the time limit) ended the training.
    initial_losses, final_losses
        :func:`evaluate` on the training and validation sets before the first
        epoch and with the final weights (``train_loss``, ``val_loss``, terms).
    condition_labels
        ``[capacity (mAh/g), R_t (A)]`` of up to :data:`MAX_STORED_LABELS` training
        examples (a seeded draw): sampling with them gives the model's
        unconditional distribution, the control of a conditioning sweep.
    """

    model: ConditionalCrystalVAE
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    n_train: int = 0
    n_val: int = 0
    elapsed_s: float = 0.0
    stopped_early: bool = False
    initial_losses: dict[str, float] = field(default_factory=dict)
    final_losses: dict[str, float] = field(default_factory=dict)
    condition_labels: list[list[float]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-ready summary (for checkpoint metadata)."""
        return {
            "n_examples": self.n_train + self.n_val,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "epochs": len(self.history),
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_val_loss,
            "elapsed_s": round(self.elapsed_s, 1),
            "stopped_early": self.stopped_early,
            "initial_losses": self.initial_losses,
            "final_losses": self.final_losses,
            "condition_labels": self.condition_labels,
        }


def element_volumes(graphs: Sequence[Data]) -> torch.Tensor:
    """Fit a volume per element so that a cell's volume is the sum over its atoms.

    Non-negative least squares over the training cells (Vegard-like additivity);
    elements absent from the training set get 0 (no prior for them).

    Parameters
    ----------
    graphs
        Training crystals (atom types, lattice lengths and angles).

    Returns
    -------
    torch.Tensor
        Volume (A^3) per element of the vocabulary.
    """
    import numpy as np
    from scipy.optimize import nnls

    from sianode_flows.generative.data import ELEMENTS, lattice_matrix_np

    counts = np.zeros((len(graphs), len(ELEMENTS)))
    volumes = np.zeros(len(graphs))
    for row, graph in enumerate(graphs):
        np.add.at(counts[row], graph.atom_types.numpy(), 1.0)
        matrix = lattice_matrix_np(graph.lengths[0].tolist(), graph.angles[0].tolist())
        volumes[row] = abs(np.linalg.det(matrix))
    present = counts.sum(0) > 0
    fitted = np.zeros(len(ELEMENTS))
    if present.any():
        fitted[present] = nnls(counts[:, present], volumes)[0]
    return torch.tensor(fitted, dtype=torch.float32)


def _lattice_normalization(graphs: Sequence[Data]) -> tuple[torch.Tensor, torch.Tensor]:
    targets = ConditionalCrystalVAE.lattice_targets(
        torch.cat([g.lengths for g in graphs]),
        torch.cat([g.angles for g in graphs]),
        torch.cat([g.num_atoms for g in graphs]),
    )
    std = targets.std(0) if len(targets) > 1 else torch.ones(6)
    return targets.mean(0), torch.nan_to_num(std, nan=1.0).clamp(min=0.02)


def _run_epoch(
    model: ConditionalCrystalVAE,
    loader: DataLoader,
    device: torch.device,
    optimizer: torch.optim.Optimizer | None,
) -> dict[str, float]:
    """Mean of every loss term over one pass (training when an optimizer is given)."""
    model.train(optimizer is not None)
    sums = dict.fromkeys(LOSS_TERMS, 0.0)
    count = 0
    for batch in loader:
        batch = batch.to(device)
        with torch.set_grad_enabled(optimizer is not None):
            terms = model.loss(batch)
        if optimizer is not None:
            optimizer.zero_grad()
            terms["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
        for key in LOSS_TERMS:
            sums[key] += float(terms[key].detach()) * batch.num_graphs
        count += batch.num_graphs
    return {key: value / max(count, 1) for key, value in sums.items()}


def evaluate(
    model: ConditionalCrystalVAE,
    graphs: Sequence[Data],
    batch_size: int = 64,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Return the mean loss terms of a model on crystal graphs, with fixed noise.

    The model runs in evaluation mode and the noise (latent draw, noise levels,
    coordinate noise) comes from ``seed``, so two calls on the same model agree and
    two models are compared on the same noise; the global RNG state is restored.

    Parameters
    ----------
    model
        The model.
    graphs
        Crystal graphs (:func:`sianode_flows.generative.data.to_graph`).
    batch_size
        Crystals per batch.
    seed
        Seed of the noise.
    device
        Where to run; the model's device when None.

    Returns
    -------
    dict
        ``loss`` and every term (``kl``, ``num_atoms``, ``lattice``,
        ``composition``, ``coord``); NaN for no graphs.
    """
    if not graphs:
        return dict.fromkeys(LOSS_TERMS, math.nan)
    where = torch.device(device) if device is not None else model.sigmas.device
    was_training = model.training
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        loader = DataLoader(list(graphs), batch_size=batch_size, shuffle=False)
        return _run_epoch(model, loader, where, None)
    finally:
        torch.set_rng_state(state)
        model.train(was_training)


def _both(
    model: ConditionalCrystalVAE,
    train_set: Sequence[Data],
    val_set: Sequence[Data],
    seed: int,
    device: torch.device,
) -> dict[str, float]:
    train = evaluate(model, train_set, seed=seed, device=device)
    val = evaluate(model, val_set, seed=seed + 1, device=device)
    row = {"train_loss": train["loss"], "val_loss": val["loss"]}
    row.update({f"train_{k}": v for k, v in train.items() if k != "loss"})
    row.update({f"val_{k}": v for k, v in val.items() if k != "loss"})
    return row


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="epoch", disable=not enabled, leave=False)


def train_model(
    examples: Sequence[CrystalExample],
    config: ModelConfig | None = None,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    val_fraction: float = 0.1,
    patience: int = 10,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    time_limit_s: float | None = None,
) -> TrainingResult:
    """Train a :class:`ConditionalCrystalVAE` on labelled examples.

    The examples are shuffled with ``seed`` and split into training and validation
    sets; the loss is KL + number-of-atoms cross-entropy + lattice MSE + composition
    cross-entropy + coordinate score matching (weights in the config). Training
    stops after ``patience`` epochs without a lower validation loss, and the
    weights of the best epoch are kept.

    Parameters
    ----------
    examples
        Labelled structures (:func:`sianode_flows.generative.data.build_examples`).
    config
        Model hyperparameters; ``max_atoms`` is raised to the largest example.
    epochs
        Most epochs.
    batch_size
        Crystals per mini-batch.
    lr
        Adam learning rate.
    val_fraction
        Share of the examples held out for validation (at least one when there
        are two or more examples).
    patience
        Epochs without improvement before stopping.
    seed
        Seed of the split, the initial weights and the noise of the training.
    device
        ``"cpu"``, ``"cuda"``...; CUDA when available if None.
    progress
        Show a progress bar (on standard error).
    time_limit_s
        Stop after the epoch that passes this wall time (s).

    Returns
    -------
    TrainingResult
        The model (best epoch's weights) and the per-epoch history.

    Raises
    ------
    ValueError
        If there are no examples.
    """
    if not examples:
        raise ValueError("no examples to train on")
    config = copy.deepcopy(config) if config is not None else ModelConfig()
    largest = max(len(e.structure) for e in examples)
    config.max_atoms = max(config.max_atoms, largest)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    graphs = [
        to_graph(e, cutoff=config.cutoff, max_neighbors=config.max_neighbors) for e in examples
    ]
    order = torch.randperm(len(graphs), generator=generator).tolist()
    n_val = round(len(graphs) * val_fraction) if len(graphs) > 1 else 0
    n_val = min(max(n_val, 1 if len(graphs) > 1 and val_fraction > 0 else 0), len(graphs) - 1)
    val_set = [graphs[i] for i in order[:n_val]]
    train_set = [graphs[i] for i in order[n_val:]]

    model = ConditionalCrystalVAE(config)
    model.set_normalization(*_lattice_normalization(train_set))
    model.element_volumes.copy_(element_volumes(train_set))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    train_loader = DataLoader(
        train_set, batch_size=batch_size, shuffle=True, generator=generator, drop_last=False
    )
    result = TrainingResult(model=model, n_train=len(train_set), n_val=len(val_set))
    drawn = order[n_val:][:MAX_STORED_LABELS]
    result.condition_labels = [
        [round(examples[i].capacity_mAh_g, 3), round(examples[i].channel_radius, 4)] for i in drawn
    ]
    result.initial_losses = _both(model, train_set, val_set, seed, device)
    best_state = copy.deepcopy(model.state_dict())
    start = time.perf_counter()
    waited = 0
    with _progress(epochs, progress) as bar:
        for epoch in range(1, epochs + 1):
            train_terms = _run_epoch(model, train_loader, device, optimizer)
            # the validation loss is noisy (random noise levels): fix its noise
            if val_set:
                val_terms = evaluate(model, val_set, batch_size, seed=seed + 1, device=device)
            else:
                val_terms = train_terms
            row = {"epoch": float(epoch), "train_loss": train_terms["loss"]}
            row["val_loss"] = val_terms["loss"]
            row.update({f"train_{k}": v for k, v in train_terms.items() if k != "loss"})
            row.update({f"val_{k}": v for k, v in val_terms.items() if k != "loss"})
            result.history.append(row)
            if row["val_loss"] < result.best_val_loss:
                result.best_val_loss, result.best_epoch = row["val_loss"], epoch
                best_state = copy.deepcopy(model.state_dict())
                waited = 0
            else:
                waited += 1
            bar.update(1)
            bar.set_postfix(train=f"{row['train_loss']:.3f}", val=f"{row['val_loss']:.3f}")
            logger.info("epoch %d: train %.4f, val %.4f", epoch, row["train_loss"], row["val_loss"])
            elapsed = time.perf_counter() - start
            if waited >= patience or (time_limit_s is not None and elapsed > time_limit_s):
                result.stopped_early = epoch < epochs
                break
    model.load_state_dict(best_state)
    result.elapsed_s = time.perf_counter() - start
    result.final_losses = _both(model, train_set, val_set, seed, device)
    model.eval()
    return result
