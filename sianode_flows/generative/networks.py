"""Building blocks of the conditional crystal VAE: configuration, bases, graph layers.

Everything here sees interatomic distances only (a Gaussian basis over the edges of
the periodic neighbour graph), so the networks are invariant to permutations,
rotations and the choice of periodic images; the score network's output is a sum of
learned weights times unit vectors along the edges, equivariant to rotations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch_geometric.nn import MessagePassing

from sianode_flows.generative.data import ELEMENTS, pbc_edges

N_ELEMENTS = len(ELEMENTS)


@dataclass
class ModelConfig:
    """Hyperparameters of :class:`ConditionalCrystalVAE`.

    Parameters
    ----------
    hidden
        Width of the atom features and MLPs.
    latent_dim
        Size of the latent vector z.
    num_layers
        Message-passing layers of the encoder and of the score network.
    cutoff
        Neighbour radius of the periodic graphs (A).
    max_neighbors
        Nearest neighbours kept per atom.
    n_rbf
        Gaussians of the distance basis.
    max_atoms
        Largest number of atoms the model generates.
    n_cond_basis
        Gaussians of the capacity and R_t bases.
    capacity_scale
        Capacity unit of the condition basis (mAh/g).
    capacity_max
        Upper end of the capacity basis (in units of ``capacity_scale``).
    radius_max
        Upper end of the R_t basis (A).
    sigma_begin, sigma_end, n_sigmas
        Geometric schedule of the Cartesian coordinate noise (A).
    langevin_steps
        Langevin steps per noise level when sampling.
    langevin_step_lr
        Langevin step size at the smallest noise level (A^2).
    composition_threshold
        Sampling: elements whose predicted atom fraction is below this are left out
        (required elements never are), so that a few stray atoms do not appear.
    learned_prior
        Learn ``p(z | c)``; otherwise the prior is N(0, 1).
    volume_prior
        Sampling: scale each decoded cell to the volume its atoms have in the
        training cells (per-element volumes fitted by non-negative least squares),
        keeping the decoded shape. Without it, minutes of CPU training give cells
        about twice too large, which CHGNet then halves.
    kl_weight, num_atoms_weight, lattice_weight, composition_weight, coord_weight
        Weights of the loss terms. CDVAE weighs the KL term 0.01; with minutes of
        training a larger weight (0.3) makes the decoders lean on the conditions,
        and samples follow the target capacity much more closely (median 1,800
        instead of 310 mAh/g for a 2,000 mAh/g target after 60 s on 1,600 structures).
    element_dropout
        Training: chance that an element of the structure is left out of the
        "required" condition.
    forbid_rate
        Training: chance that an absent element is marked "forbidden" (half the
        structures get no forbidden elements at all).
    """

    hidden: int = 64
    latent_dim: int = 32
    num_layers: int = 3
    cutoff: float = 6.0
    max_neighbors: int = 20
    n_rbf: int = 32
    max_atoms: int = 20
    n_cond_basis: int = 16
    capacity_scale: float = 1000.0
    capacity_max: float = 6.0
    radius_max: float = 4.0
    sigma_begin: float = 2.0
    sigma_end: float = 0.01
    n_sigmas: int = 20
    langevin_steps: int = 5
    langevin_step_lr: float = 1e-4
    volume_prior: bool = True
    composition_threshold: float = 0.05
    learned_prior: bool = True
    kl_weight: float = 0.3
    num_atoms_weight: float = 1.0
    lattice_weight: float = 10.0
    composition_weight: float = 1.0
    coord_weight: float = 10.0
    element_dropout: float = 0.3
    forbid_rate: float = 0.1

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Build a config from a dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def mlp(n_in: int, hidden: int, n_out: int, layers: int = 2) -> nn.Sequential:
    """Return an MLP with SiLU activations and ``layers`` linear layers."""
    modules: list[nn.Module] = []
    width = n_in
    for _ in range(layers - 1):
        modules += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    modules.append(nn.Linear(width, n_out))
    return nn.Sequential(*modules)


class GaussianBasis(nn.Module):
    """Expand a scalar in Gaussians with evenly spaced centres."""

    centres: torch.Tensor

    def __init__(self, start: float, stop: float, n: int) -> None:
        super().__init__()
        self.register_buffer("centres", torch.linspace(start, stop, n))
        self.width = (stop - start) / max(n - 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return shape ``x.shape + (n,)``."""
        exponent = 0.5 * ((x.unsqueeze(-1) - self.centres) / self.width) ** 2
        # floored at exp(-40): subnormal floats would slow the matrix products 30-fold
        return torch.exp(-exponent.clamp(max=40.0))


def cosine_envelope(distances: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Smooth cutoff: 1 at 0, 0 at and beyond ``cutoff``."""
    return 0.5 * (torch.cos(math.pi * distances.clamp(max=cutoff) / cutoff) + 1.0)


def lattice_matrix(lengths: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Return (B, 3, 3) lattice matrices (rows a, b, c) from lengths (A) and angles (deg)."""
    a, b, c = lengths.unbind(-1)
    alpha, beta, gamma = torch.deg2rad(angles).unbind(-1)
    cos_a, cos_b, cos_g = torch.cos(alpha), torch.cos(beta), torch.cos(gamma)
    sin_g = torch.sin(gamma)
    zeros = torch.zeros_like(a)
    cx = c * cos_b
    cy = c * (cos_a - cos_b * cos_g) / sin_g
    cz = torch.sqrt((c * c - cx * cx - cy * cy).clamp(min=1e-8))
    rows = [
        torch.stack([a, zeros, zeros], -1),
        torch.stack([b * cos_g, b * sin_g, zeros], -1),
        torch.stack([cx, cy, cz], -1),
    ]
    return torch.stack(rows, -2)


def batch_edges(
    frac: torch.Tensor,
    matrices: torch.Tensor,
    ptr: torch.Tensor,
    cutoff: float,
    max_neighbors: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodic neighbour graphs of a batch of crystals (edge_index, image offsets)."""
    frac_np = frac.detach().cpu().double().numpy()
    mats = matrices.detach().cpu().double().numpy()
    bounds = ptr.tolist()
    indices, images = [], []
    for g in range(len(bounds) - 1):
        start, stop = bounds[g], bounds[g + 1]
        pairs, image, _ = pbc_edges(frac_np[start:stop], mats[g], cutoff, max_neighbors)
        indices.append(pairs + start)
        images.append(image)
    edge_index = torch.from_numpy(np.concatenate(indices, axis=1)).to(frac.device)
    offsets = torch.from_numpy(np.concatenate(images, axis=0)).to(frac.device)
    return edge_index, offsets


def edge_vectors(
    frac: torch.Tensor,
    matrices: torch.Tensor,
    batch: torch.Tensor,
    edge_index: torch.Tensor,
    images: torch.Tensor,
) -> torch.Tensor:
    """Return the Cartesian vectors r_j + image - r_i of the edges j -> i (A)."""
    j, i = edge_index
    diff = frac[j] + images.to(frac.dtype) - frac[i]
    return torch.einsum("ek,ekl->el", diff, matrices[batch[i]])


class EdgeMLP(nn.Module):
    """Two-layer MLP of (h_i, h_j, rbf_ij) whose first layer is applied per atom.

    ``W [h_i, h_j, rbf] = W_i h_i + W_j h_j + W_r rbf``: the atom terms are computed
    once per atom and gathered, which is the same function as an MLP of the
    concatenation at a third of the cost per edge.
    """

    def __init__(self, hidden: int, n_rbf: int, n_out: int) -> None:
        super().__init__()
        self.centre = nn.Linear(hidden, hidden)
        self.neighbour = nn.Linear(hidden, hidden, bias=False)
        self.distance = nn.Linear(n_rbf, hidden, bias=False)
        self.out = nn.Linear(hidden, n_out)

    def project(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the per-atom terms (centre, neighbour)."""
        return self.centre(h), self.neighbour(h)

    def forward(self, a_i: torch.Tensor, b_j: torch.Tensor, rbf: torch.Tensor) -> torch.Tensor:
        """Return the edge outputs from gathered atom terms and the distance basis."""
        return self.out(F.silu(a_i + b_j + self.distance(rbf)))


class Interaction(MessagePassing):
    """One message-passing layer over distances: h_i += MLP(h_i, sum_j m_ij)."""

    def __init__(self, hidden: int, n_rbf: int, norm: float) -> None:
        super().__init__(aggr="add")
        self.message_mlp = EdgeMLP(hidden, n_rbf, hidden)
        self.update_mlp = mlp(2 * hidden, hidden, hidden)
        self.layer_norm = nn.LayerNorm(hidden)
        self.norm = norm

    def forward(
        self, h: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor, env: torch.Tensor
    ) -> torch.Tensor:
        """Return the updated atom features."""
        a, b = self.message_mlp.project(h)
        agg = self.propagate(edge_index, a=a, b=b, rbf=rbf, env=env) / self.norm
        return h + self.update_mlp(torch.cat([self.layer_norm(h), agg], -1))

    def message(
        self, a_i: torch.Tensor, b_j: torch.Tensor, rbf: torch.Tensor, env: torch.Tensor
    ) -> torch.Tensor:
        """Message from j to i, faded out at the cutoff."""
        return self.message_mlp(a_i, b_j, rbf) * env.unsqueeze(-1)


class GraphNetwork(nn.Module):
    """Atom embedding and message passing over a periodic graph."""

    def __init__(self, config: ModelConfig, cond_dim: int = 0) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(N_ELEMENTS, config.hidden)
        self.cond = nn.Linear(cond_dim, config.hidden) if cond_dim else None
        self.rbf = GaussianBasis(0.0, config.cutoff, config.n_rbf)
        self.layers = nn.ModuleList(
            Interaction(config.hidden, config.n_rbf, float(config.max_neighbors))
            for _ in range(config.num_layers)
        )

    def forward(
        self,
        atom_types: torch.Tensor,
        edge_index: torch.Tensor,
        distances: torch.Tensor,
        node_cond: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the atom features and the edge distance basis."""
        h = self.embedding(atom_types)
        if self.cond is not None and node_cond is not None:
            h = h + self.cond(node_cond)
        rbf = self.rbf(distances)
        env = cosine_envelope(distances, self.config.cutoff)
        for layer in self.layers:
            h = layer(h, edge_index, rbf, env)
        return h, rbf


class ConditionEmbedding(nn.Module):
    """Embed required/forbidden elements, capacity and R_t into one vector."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        hidden = config.hidden
        self.elements = mlp(2 * N_ELEMENTS, hidden, hidden)
        self.capacity_basis = GaussianBasis(0.0, config.capacity_max, config.n_cond_basis)
        self.radius_basis = GaussianBasis(0.0, config.radius_max, config.n_cond_basis)
        self.capacity = mlp(config.n_cond_basis, hidden, hidden)
        self.radius = mlp(config.n_cond_basis, hidden, hidden)
        self.out = mlp(3 * hidden, hidden, hidden)

    def forward(
        self,
        required: torch.Tensor,
        forbidden: torch.Tensor,
        capacity: torch.Tensor,
        radius: torch.Tensor,
    ) -> torch.Tensor:
        """Return (B, hidden) condition vectors; capacity in mAh/g, R_t in A."""
        cfg = self.config
        cap = (capacity / cfg.capacity_scale).clamp(0.0, cfg.capacity_max)
        rad = radius.clamp(0.0, cfg.radius_max)
        parts = [
            self.elements(torch.cat([required, forbidden], -1)),
            self.capacity(self.capacity_basis(cap)),
            self.radius(self.radius_basis(rad)),
        ]
        return self.out(F.silu(torch.cat(parts, -1)))


class ScoreNetwork(nn.Module):
    """CDVAE coordinate score: rotation-equivariant displacement per atom (A)."""

    def __init__(self, config: ModelConfig, cond_dim: int) -> None:
        super().__init__()
        self.config = config
        self.graph = GraphNetwork(config, cond_dim=cond_dim + 1)
        self.edge_weight = EdgeMLP(config.hidden, config.n_rbf, 1)
        self.norm = float(config.max_neighbors)
        nn.init.zeros_(self.edge_weight.out.weight)  # a zero score to start: loss 3
        nn.init.zeros_(self.edge_weight.out.bias)

    def forward(
        self,
        atom_types: torch.Tensor,
        edge_index: torch.Tensor,
        vectors: torch.Tensor,
        node_cond: torch.Tensor,
        log_sigma: torch.Tensor,
    ) -> torch.Tensor:
        """Return (N, 3) predictions of -noise / sigma."""
        distances = vectors.norm(dim=-1)
        cond = torch.cat([node_cond, log_sigma.unsqueeze(-1)], -1)
        h, rbf = self.graph(atom_types, edge_index, distances, cond)
        j, i = edge_index
        env = cosine_envelope(distances, self.config.cutoff)
        a, b = self.edge_weight.project(h)
        weight = self.edge_weight(a[i], b[j], rbf).squeeze(-1) * env
        units = vectors / distances.clamp(min=1e-6).unsqueeze(-1)
        out = torch.zeros(len(atom_types), 3, dtype=vectors.dtype, device=vectors.device)
        return out.index_add_(0, i, weight.unsqueeze(-1) * units) / self.norm
