"""A small Con-CDVAE-style conditional crystal VAE (torch + torch-geometric).

The structure encoder passes messages over the periodic neighbour graph (Gaussian
basis of interatomic distances only, so it is invariant to permutations, rotations
and the choice of periodic images) and gives the mean and log-variance of a latent
``z``. The conditions (required and forbidden elements as multi-hot vectors, the
capacity and the channel radius R_t through Gaussian bases) are embedded and
concatenated to ``z`` (Con-CDVAE); a learned conditional prior ``p(z | c)`` replaces
Con-CDVAE's second-stage latent generator. From ``[z, c]`` the decoders predict the
number of atoms, the lattice (lengths over N^(1/3), angles), the composition, and a
CDVAE score network denoises Cartesian noise on the atoms: its output is a sum of
learned weights times unit vectors along the graph edges, equivariant to rotations.
Sampling draws ``z`` from the prior, decodes N, lattice and composition (required
elements always present, forbidden ones never) and anneals Langevin dynamics over
the noise levels from uniformly random positions.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch_geometric.nn import global_mean_pool

from sianode_flows.generative.data import ELEMENT_INDEX, ELEMENTS
from sianode_flows.generative.networks import (
    N_ELEMENTS,
    ConditionEmbedding,
    GraphNetwork,
    ModelConfig,
    ScoreNetwork,
    batch_edges,
    edge_vectors,
    lattice_matrix,
    mlp,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pymatgen.core import Structure
    from torch_geometric.data import Batch

    from sianode_flows.generative.target import GenerationTarget

__all__ = ["ConditionalCrystalVAE", "ModelConfig"]


class ConditionalCrystalVAE(nn.Module):
    """Con-CDVAE-style conditional VAE for small crystals.

    Parameters
    ----------
    config
        Hyperparameters; :class:`ModelConfig` defaults when None.
    """

    sigmas: torch.Tensor
    lattice_mean: torch.Tensor
    lattice_std: torch.Tensor

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.metadata: dict[str, Any] = {}
        hidden, latent = config.hidden, config.latent_dim
        cond_dim = latent + hidden
        self.encoder = GraphNetwork(config)
        self.to_latent = mlp(hidden, hidden, 2 * latent)
        self.condition = ConditionEmbedding(config)
        self.prior = mlp(hidden, hidden, 2 * latent)
        self.num_atoms_head = mlp(cond_dim, hidden, config.max_atoms)
        self.lattice_head = mlp(cond_dim, hidden, 6)
        self.composition_head = mlp(cond_dim, hidden, N_ELEMENTS)
        self.score = ScoreNetwork(config, cond_dim)
        sigmas = torch.exp(
            torch.linspace(
                math.log(config.sigma_begin), math.log(config.sigma_end), config.n_sigmas
            )
        )
        self.register_buffer("sigmas", sigmas)
        self.register_buffer("lattice_mean", torch.tensor([1.0, 1.0, 1.0, 90.0, 90.0, 90.0]))
        self.register_buffer("lattice_std", torch.tensor([0.3, 0.3, 0.3, 15.0, 15.0, 15.0]))
        # volume per element fitted on the training cells (0: no prior for it)
        self.register_buffer("element_volumes", torch.zeros(N_ELEMENTS))

    # ------------------------------------------------------------------ helpers
    def set_normalization(self, lattice_mean: torch.Tensor, lattice_std: torch.Tensor) -> None:
        """Set the mean and spread of the 6 lattice targets (see :meth:`lattice_targets`)."""
        self.lattice_mean.copy_(lattice_mean.to(self.lattice_mean))
        self.lattice_std.copy_(lattice_std.clamp(min=1e-3).to(self.lattice_std))

    def normalization(self) -> dict[str, list[float]]:
        """Return the label normalization, as plain lists (for checkpoints)."""
        return {
            "lattice_mean": [float(x) for x in self.lattice_mean],
            "lattice_std": [float(x) for x in self.lattice_std],
            "capacity_scale_mAh_g": [self.config.capacity_scale],
        }

    def config_dict(self) -> dict[str, Any]:
        """Return the configuration as a dict."""
        return asdict(self.config)

    @staticmethod
    def lattice_targets(
        lengths: torch.Tensor, angles: torch.Tensor, num_atoms: torch.Tensor
    ) -> torch.Tensor:
        """Return (B, 6): log of the lengths over N^(1/3) (log A) and the angles (degrees).

        Logarithms make the mean prediction a geometric mean, so that the volume
        of a cell decoded from average lengths is not inflated.
        """
        scale = num_atoms.to(lengths.dtype).pow(1.0 / 3.0).unsqueeze(-1)
        return torch.cat([torch.log(lengths / scale), angles], -1)

    def encode(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the posterior mean and log-variance of z, each (B, latent_dim)."""
        matrices = lattice_matrix(batch.lengths, batch.angles)
        vectors = edge_vectors(
            batch.frac_coords, matrices, batch.batch, batch.edge_index, batch.to_jimages
        )
        h, _ = self.encoder(batch.atom_types, batch.edge_index, vectors.norm(dim=-1))
        pooled = global_mean_pool(h, batch.batch, size=batch.num_graphs)
        mu, logvar = self.to_latent(pooled).chunk(2, -1)
        return mu, logvar.clamp(-10.0, 10.0)

    def prior_params(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the mean and log-variance of p(z | c)."""
        if not self.config.learned_prior:
            zeros = cond.new_zeros(len(cond), self.config.latent_dim)
            return zeros, zeros
        mu, logvar = self.prior(cond).chunk(2, -1)
        return mu, logvar.clamp(-10.0, 10.0)

    def training_conditions(self, elements: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Random required/forbidden vectors consistent with the true elements."""
        cfg = self.config
        keep = torch.rand_like(elements) >= cfg.element_dropout
        required = elements * keep
        forbid_graphs = (torch.rand(len(elements), 1, device=elements.device) < 0.5).float()
        forbidden = (1.0 - elements) * (torch.rand_like(elements) < cfg.forbid_rate).float()
        return required, forbidden * forbid_graphs

    def _score(
        self,
        atom_types: torch.Tensor,
        frac: torch.Tensor,
        matrices: torch.Tensor,
        batch: torch.Tensor,
        ptr: torch.Tensor,
        zc: torch.Tensor,
        sigma_atoms: torch.Tensor,
    ) -> torch.Tensor:
        cfg = self.config
        edge_index, images = batch_edges(frac, matrices, ptr, cfg.cutoff, cfg.max_neighbors)
        vectors = edge_vectors(frac, matrices, batch, edge_index, images)
        return self.score(atom_types, edge_index, vectors, zc[batch], torch.log(sigma_atoms))

    # --------------------------------------------------------------------- loss
    def loss(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Return the weighted total loss and its terms for a batch of crystal graphs."""
        cfg = self.config
        mu, logvar = self.encode(batch)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        elements = batch.elements
        if self.training:
            required, forbidden = self.training_conditions(elements)
        else:
            required, forbidden = elements, torch.zeros_like(elements)
        cond = self.condition(required, forbidden, batch.capacity, batch.channel_radius)
        mu_p, logvar_p = self.prior_params(cond)
        kl = 0.5 * (
            logvar_p - logvar + (torch.exp(logvar) + (mu - mu_p) ** 2) / torch.exp(logvar_p) - 1.0
        )
        kl = kl.sum(-1).mean()
        zc = torch.cat([z, cond], -1)

        num_atoms = F.cross_entropy(
            self.num_atoms_head(zc), (batch.num_atoms - 1).clamp(0, cfg.max_atoms - 1)
        )
        lattice_target = self.lattice_targets(batch.lengths, batch.angles, batch.num_atoms)
        lattice_target = (lattice_target - self.lattice_mean) / self.lattice_std
        lattice = F.mse_loss(self.lattice_head(zc), lattice_target)
        counts = torch.zeros_like(elements).index_put_(
            (batch.batch, batch.atom_types),
            torch.ones_like(batch.atom_types, dtype=elements.dtype),
            accumulate=True,
        )
        fractions = counts / counts.sum(-1, keepdim=True)
        log_p = F.log_softmax(self.composition_head(zc), -1)
        composition = -(fractions * log_p).sum(-1).mean()

        matrices = lattice_matrix(batch.lengths, batch.angles)
        level = torch.randint(0, cfg.n_sigmas, (batch.num_graphs,), device=mu.device)
        sigma_atoms = self.sigmas[level][batch.batch]
        eps = torch.randn_like(batch.frac_coords)
        cart_noise = eps * sigma_atoms.unsqueeze(-1)
        inverse = torch.linalg.inv(matrices)[batch.batch]
        noisy = torch.remainder(
            batch.frac_coords + torch.einsum("nk,nkl->nl", cart_noise, inverse), 1.0
        )
        pred = self._score(
            batch.atom_types, noisy, matrices, batch.batch, batch.ptr, zc, sigma_atoms
        )
        coord = ((pred + eps) ** 2).sum(-1).mean()

        total = (
            cfg.kl_weight * kl
            + cfg.num_atoms_weight * num_atoms
            + cfg.lattice_weight * lattice
            + cfg.composition_weight * composition
            + cfg.coord_weight * coord
        )
        return {
            "loss": total,
            "kl": kl,
            "num_atoms": num_atoms,
            "lattice": lattice,
            "composition": composition,
            "coord": coord,
        }

    # ----------------------------------------------------------------- sampling
    @staticmethod
    def _target_vectors(target: GenerationTarget) -> tuple[torch.Tensor, torch.Tensor]:
        from sianode_flows.generative.data import element_multi_hot

        clash = set(target.required_elements) & set(target.forbidden_elements)
        if clash:
            raise ValueError(f"elements both required and forbidden: {sorted(clash)}")
        return element_multi_hot(target.required_elements), element_multi_hot(
            target.forbidden_elements
        )

    def _counts(
        self, probs: torch.Tensor, n_atoms: int, required: list[int], allowed: torch.Tensor
    ) -> dict[int, int]:
        """Round a composition to n_atoms atoms (largest remainder), required ones >= 1."""
        p = probs * allowed
        kept = p >= self.config.composition_threshold * p.sum()
        kept[required] = True
        p = p * kept
        p = p / p.sum() if p.sum() > 0 else allowed / allowed.sum()
        raw = p.double() * n_atoms
        counts = torch.floor(raw).long()
        remainder = raw - counts
        for index in torch.argsort(remainder, descending=True)[: n_atoms - int(counts.sum())]:
            counts[index] += 1
        for element in required:
            if counts[element] == 0:
                spare = counts.clone()
                spare[required] -= 1  # every required element keeps one atom
                donor = int(torch.argmax(spare))
                counts[donor] -= 1
                counts[element] += 1
        return {int(i): int(counts[i]) for i in torch.nonzero(counts).flatten()}

    def _decode_lattice(self, raw: torch.Tensor, n_atoms: int) -> tuple[list[float], list[float]]:
        values = (raw * self.lattice_std + self.lattice_mean).tolist()
        lengths = [max(math.exp(min(x, 5.0)) * n_atoms ** (1.0 / 3.0), 1.5) for x in values[:3]]
        angles = [min(max(x, 50.0), 130.0) for x in values[3:]]
        cosines = [math.cos(math.radians(x)) for x in angles]
        gram = 1.0 - sum(c * c for c in cosines) + 2.0 * cosines[0] * cosines[1] * cosines[2]
        if gram < 0.05 or sum(angles) >= 355.0:
            angles = [90.0, 90.0, 90.0]
        return lengths, angles

    def _scaled_to_volume_prior(
        self, lengths: list[float], angles: list[float], counts: dict[int, int]
    ) -> list[float]:
        """Scale decoded lengths to the volume the training cells give these atoms.

        The volume is the sum of the fitted per-element volumes; the decoded shape
        (length ratios, angles) is kept. Without a prior for every element, or with
        ``config.volume_prior`` off, the decoded lengths are returned unchanged.
        """
        from pymatgen.core import Lattice

        if not self.config.volume_prior:
            return lengths
        per_element = [float(self.element_volumes[e]) for e in counts]
        if not per_element or min(per_element) <= 0.0:
            return lengths
        wanted = sum(float(self.element_volumes[e]) * k for e, k in counts.items())
        decoded = Lattice.from_parameters(*lengths, *angles).volume
        factor = (wanted / decoded) ** (1.0 / 3.0)
        return [x * factor for x in lengths]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        target: GenerationTarget,
        seed: int,
        device: str | torch.device | None = None,
        conditions: Sequence[Sequence[float]] | None = None,
        temperature: float = 1.0,
    ) -> list[Structure]:
        """Generate ``n`` structures for a target, reproducibly from ``seed``.

        Parameters
        ----------
        n
            Number of structures.
        target
            Required and forbidden elements, capacity (mAh/g) and R_t (A).
        seed
            Seed of every random draw (prior, N, positions, Langevin noise); the
            draws are made on the CPU, so a seed gives the same structures anywhere.
        device
            Where the network runs; the model's device when None.
        conditions
            ``[capacity, R_t]`` per sample, overriding the target's (the elements
            still come from ``target``): e.g. training labels, for the model's
            unconditional distribution.
        temperature
            Scale of the prior's spread when drawing ``z`` (1: the learned prior;
            larger: more varied samples, further from the training data).

        Returns
        -------
        list of Structure
            Ordered structures with at least one site and a positive volume; every
            one contains the required elements and none of the forbidden ones.
        """
        from pymatgen.core import Lattice, Structure

        cfg = self.config
        if n <= 0:
            return []
        where = torch.device(device) if device is not None else self.sigmas.device
        was_training = self.training
        self.to(where).eval()
        gen = torch.Generator().manual_seed(int(seed))
        required_vec, forbidden_vec = self._target_vectors(target)
        required = [ELEMENT_INDEX[s] for s in target.required_elements]
        required = list(dict.fromkeys(required))
        if len(required) > cfg.max_atoms:
            raise ValueError("more required elements than the model's max_atoms")
        if conditions is not None:
            if len(conditions) != n:
                raise ValueError(f"{len(conditions)} conditions for {n} samples")
            values = torch.tensor([[float(c), float(r)] for c, r in conditions], device=where)
            capacities, radii = values[:, 0], values[:, 1]
        else:
            capacities = torch.full((n,), float(target.capacity_mAh_g), device=where)
            radii = torch.full((n,), float(target.channel_radius), device=where)
        cond = self.condition(
            required_vec.expand(n, -1).to(where),
            forbidden_vec.expand(n, -1).to(where),
            capacities,
            radii,
        )
        mu_p, logvar_p = self.prior_params(cond)
        noise = torch.randn(n, cfg.latent_dim, generator=gen).to(where)
        zc = torch.cat([mu_p + temperature * torch.exp(0.5 * logvar_p) * noise, cond], -1)

        n_logits = self.num_atoms_head(zc).cpu()
        n_logits[:, : max(len(required), 1) - 1] = -torch.inf
        n_atoms = (torch.multinomial(torch.softmax(n_logits, -1), 1, generator=gen) + 1).flatten()
        allowed = 1.0 - forbidden_vec
        allowed[list(required)] = 1.0
        probs = torch.softmax(self.composition_head(zc).cpu(), -1)
        lattice_raw = self.lattice_head(zc).cpu()

        types: list[int] = []
        lengths: list[list[float]] = []
        angles: list[list[float]] = []
        for g in range(n):
            counts = self._counts(probs[g], int(n_atoms[g]), required, allowed)
            types.extend(e for e, k in sorted(counts.items()) for _ in range(k))
            abc, ang = self._decode_lattice(lattice_raw[g], int(n_atoms[g]))
            abc = self._scaled_to_volume_prior(abc, ang, counts)
            lengths.append(abc)
            angles.append(ang)
        atom_types = torch.tensor(types, dtype=torch.long, device=where)
        batch = torch.repeat_interleave(torch.arange(n), n_atoms).to(where)
        ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(n_atoms, 0)])
        matrices = lattice_matrix(
            torch.tensor(lengths, device=where), torch.tensor(angles, device=where)
        )
        inverse = torch.linalg.inv(matrices)[batch]
        frac = torch.rand(len(atom_types), 3, generator=gen).to(where)
        sigma_min = float(self.sigmas[-1])
        for sigma in self.sigmas.tolist():
            step = cfg.langevin_step_lr * (sigma / sigma_min) ** 2
            sigma_atoms = torch.full((len(atom_types),), sigma, device=where)
            for _ in range(cfg.langevin_steps):
                score = self._score(atom_types, frac, matrices, batch, ptr, zc, sigma_atoms) / sigma
                kick = torch.randn(len(atom_types), 3, generator=gen).to(where)
                move = step * score + math.sqrt(2.0 * step) * kick
                frac = torch.remainder(frac + torch.einsum("nk,nkl->nl", move, inverse), 1.0)
        # a last noise-free denoising step at the smallest level (Tweedie)
        score = self._score(atom_types, frac, matrices, batch, ptr, zc, sigma_atoms)
        frac = torch.remainder(frac + torch.einsum("nk,nkl->nl", score * sigma_min, inverse), 1.0)
        self.train(was_training)

        structures = []
        frac_cpu, types_cpu = frac.cpu().double().numpy(), atom_types.cpu().tolist()
        for g in range(n):
            start, stop = int(ptr[g]), int(ptr[g + 1])
            lattice = Lattice.from_parameters(*lengths[g], *angles[g])
            species = [ELEMENTS[t] for t in types_cpu[start:stop]]
            structures.append(Structure(lattice, species, frac_cpu[start:stop]))
        return structures
