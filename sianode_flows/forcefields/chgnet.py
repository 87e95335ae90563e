"""CHGNet as a torch-sim model: batched energies, forces and stresses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from chgnet.model.composition_model import AtomRef
from chgnet.model.model import BatchedGraph
from pymatgen.core import Lattice, Structure
from torch_sim.models.interface import ModelInterface

from sianode_flows.forcefields.chgnet_graph import (
    CrystalGraphBatch,
    VerletPairs,
    check_finite,
    crystal_graph,
    fractional_coordinates,
    reciprocal_columns,
    vector_times_matrix,
)

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph
    from chgnet.model import CHGNet
    from torch_sim.state import SimState

TORCH_DTYPE = torch.float32
"""CHGNet's network precision."""


PAD_ROWS = 64
"""Rows of the blocks the batched graph's elementwise tensors are padded to."""


def padded(index: torch.Tensor, multiple: int = PAD_ROWS) -> torch.Tensor:
    """Return an index extended to a whole number of blocks by repeating its first entry."""
    missing = -len(index) % multiple
    if missing == 0 or len(index) == 0:
        return index
    return torch.cat([index, index[:1].expand(missing)])


def strained_cells(cells: torch.Tensor, strains: torch.Tensor) -> torch.Tensor:
    """Return ``cells @ (1 + strains)`` [n, 3, 3], row by row, term by term.

    Autograd then sums a strain's gradient contributions one after another instead
    of by a reduction kernel whose rounding can depend on the batch.
    """
    deformation = torch.eye(3, dtype=cells.dtype, device=cells.device) + strains
    rows = [
        cells[:, row, 0, None] * deformation[:, 0]
        + cells[:, row, 1, None] * deformation[:, 1]
        + cells[:, row, 2, None] * deformation[:, 2]
        for row in range(3)
    ]
    return torch.stack(rows, dim=1)


class CHGNetModel(ModelInterface):
    """CHGNet's pretrained model behind torch-sim's ``ModelInterface``.

    The crystal graphs of all systems of a batched state are built at once, with
    tensors on the model's device (:mod:`sianode_flows.forcefields.chgnet_graph`:
    the same edges, bonds and angles as CHGNet's converter, from a neighbour list
    reused across steps while exact), and go through the network as one batch;
    forces and stress come from one backward pass through the energy (CHGNet's own
    forward takes two, each keeping the graph for training; inference needs
    neither). ``graph_builder="converter"`` builds each system's graph with
    CHGNet's own converter instead (one pymatgen ``Structure`` per system, on the
    CPU), the path before; the tests check the two agree.

    The network computes in float32, as CHGNet does; positions, cells and the
    returned energies, forces and stresses are in ``dtype`` (float64 by default, so
    that a long optimization accumulates no float32 round-off).

    Parameters
    ----------
    model
        A loaded CHGNet; the pretrained weights shipped in the wheel by default.
    device
        ``"cpu"``, ``"cuda"``...; CUDA when available by default.
    dtype
        Floating-point type of the states this model is given.
    compute_stress
        Whether to return stresses (needed to relax the cell).
    graph_builder
        ``"torch"`` (the whole batch on the device) or ``"converter"``.
    neighbor_skin
        Skin of the reused neighbour list (A); 0 searches anew at every call.

    Notes
    -----
    Units are torch-sim's (and ASE's): eV, eV/A and eV/A^3, with the stress
    positive under tension.
    """

    def __init__(
        self,
        model: CHGNet | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float64,
        compute_stress: bool = True,
        graph_builder: Literal["torch", "converter"] = "torch",
        neighbor_skin: float = 1.0,
    ) -> None:
        super().__init__()
        if graph_builder not in ("torch", "converter"):
            raise ValueError(f"unknown graph_builder {graph_builder!r}: torch or converter")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._device = torch.device(device)
        self._dtype = dtype
        self._compute_forces = True
        self._compute_stress = compute_stress
        self._memory_scales_with = "n_atoms_x_density"
        if model is None:
            from chgnet.model import CHGNet

            model = CHGNet.load(use_device=str(self._device), verbose=False)
        self.model = model.to(self._device).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.converter = model.graph_converter
        self.graph_builder = graph_builder
        self.atom_cutoff = float(self.converter.atom_graph_cutoff)
        self.bond_cutoff = float(self.converter.bond_graph_cutoff)
        self.pairs = VerletPairs(self.atom_cutoff, skin=neighbor_skin)
        self.graph_seconds = 0.0
        """Wall time spent building graphs (s), for the benchmarks."""

    def graphs(self, state: SimState) -> list[CrystalGraph]:
        """Return CHGNet's own crystal graph of each system (the converter's path)."""
        positions = state.positions.detach().cpu().numpy()
        cells = state.row_vector_cell.detach().cpu().numpy()
        numbers = state.atomic_numbers.detach().cpu().numpy()
        owners = state.system_idx.detach().cpu().numpy()
        graphs = []
        for index in range(state.n_systems):
            mask = owners == index
            lattice = cells[index].astype(np.float64)
            frac = np.linalg.solve(lattice.T, positions[mask].T).T
            structure = Structure(Lattice(lattice), numbers[mask].tolist(), frac)
            graphs.append(self.converter(structure, graph_id=str(index)).to(str(self._device)))
        return graphs

    def batch_graph(self, state: SimState) -> tuple[torch.Tensor, CrystalGraphBatch]:
        """Return the fractional coordinates and CHGNet's graph of a whole state.

        Raises
        ------
        ValueError
            If a system's positions or cell are not finite.
        """
        cells = state.row_vector_cell.detach().to(torch.float64)
        positions = state.positions.detach().to(torch.float64)
        frac = fractional_coordinates(positions, cells, state.system_idx)
        check_finite(frac, cells, state.system_idx)
        pairs = self.pairs(frac, cells, state.system_idx)
        return frac, crystal_graph(pairs, self.bond_cutoff, state.n_atoms)

    def forward(self, state: SimState, **kwargs: object) -> dict[str, torch.Tensor]:
        """Return energies [n_systems], forces [n_atoms, 3] and stresses [n_systems, 3, 3].

        Parameters
        ----------
        state
            Batched state (positions, cells, atomic numbers, system index).
        **kwargs
            Ignored; part of torch-sim's interface.

        Returns
        -------
        dict
            ``energy`` (eV), ``forces`` (eV/A) and, if asked for, ``stress`` (eV/A^3).
        """
        if self.graph_builder == "converter":
            return self._forward_converter(state)
        return self._forward_batched(state)

    def _forward_batched(self, state: SimState) -> dict[str, torch.Tensor]:
        """Evaluate a state through graphs built on the device."""
        start = time.perf_counter()
        frac, graph = self.batch_graph(state)
        self.graph_seconds += time.perf_counter() - start
        system_idx = state.system_idx
        n_systems = state.n_systems
        cells = state.row_vector_cell.detach().to(TORCH_DTYPE)
        frac = frac.to(TORCH_DTYPE)
        with torch.enable_grad():
            strains = cells.new_zeros((n_systems, 3, 3), requires_grad=self._compute_stress)
            lattices = strained_cells(cells, strains)
            # every elementwise tensor below is padded to whole blocks of rows (the
            # padding repeats the first row and is cut off before the network):
            # torch's vectorized loops round a tensor's last partial block
            # differently, and the last block must not hold the last system's atoms
            atoms = padded(torch.arange(state.n_atoms, device=cells.device))
            positions = vector_times_matrix(
                frac.index_select(0, atoms), lattices.index_select(0, system_idx[atoms])
            )
            edges = padded(torch.arange(graph.atom_graph.shape[0], device=cells.device))
            centers = graph.atom_graph[edges, 0]
            translations = vector_times_matrix(
                graph.images[edges].to(TORCH_DTYPE),
                lattices.index_select(0, system_idx[centers]),
            )
            bonds = (
                positions.index_select(0, centers)
                - positions.index_select(0, graph.atom_graph[edges, 1])
                - translations
            ).unbind(dim=1)
            bond_lengths = torch.sqrt(
                bonds[0] * bonds[0] + bonds[1] * bonds[1] + bonds[2] * bonds[2]
            )
            unit_bonds = [component / bond_lengths for component in bonds]
            n_undirected = graph.n_undirected
            undirected_lengths = bond_lengths.index_select(0, padded(graph.undirected2directed))
            encoder = self.model.bond_basis_expansion
            first, second = graph.angles[:, 1], graph.angles[:, 2]
            angle_bases = (
                self.angle_bases(unit_bonds, padded(first), padded(second))[: len(first)]
                if len(first)
                else torch.tensor([], device=cells.device)
            )
            bond_graph = torch.stack(
                [
                    graph.angles[:, 0],
                    graph.directed2undirected[first],
                    graph.directed2undirected[second],
                ],
                dim=1,
            ).to(torch.int32)
            batched = BatchedGraph(
                atomic_numbers=state.atomic_numbers.to(torch.int32),
                bond_bases_ag=encoder.rbf_expansion_ag(undirected_lengths)[:n_undirected],
                bond_bases_bg=encoder.rbf_expansion_bg(undirected_lengths)[:n_undirected],
                angle_bases=angle_bases,
                batched_atom_graph=graph.atom_graph.to(torch.int32),
                batched_bond_graph=bond_graph if len(first) else torch.tensor([]),
                atom_owners=system_idx.to(torch.int32),
                directed2undirected=graph.directed2undirected.to(torch.int32),
                atom_positions=[positions[: state.n_atoms]],
                strains=[strains],
                volumes=reciprocal_columns(lattices.detach())[1],
            )
            prediction = self.model._compute(batched)  # energy only; gradients below
            n_atoms = prediction["atoms_per_graph"].to(prediction["e"].dtype)
            energy = prediction["e"] * n_atoms if self.model.is_intensive else prediction["e"]
            inputs = [positions, strains] if self._compute_stress else [positions]
            gradients = torch.autograd.grad(energy.sum(), inputs)
        forces = gradients[0][: state.n_atoms]
        energy = energy + self.composition_energy(state, n_atoms)
        results = {
            "energy": energy.detach().to(self._dtype),
            "forces": -forces.to(self._dtype),
        }
        if self._compute_stress:
            volumes = batched.volumes.view(-1, 1, 1)
            results["stress"] = (gradients[1] / volumes).to(self._dtype)
        return results

    def angle_bases(
        self, unit_bonds: list[torch.Tensor], first: torch.Tensor, second: torch.Tensor
    ) -> torch.Tensor:
        """Return CHGNet's angle features of the bond pairs (its ``AngleEncoder``).

        The cosine is summed term by term rather than with ``torch.sum``, whose
        rounding over a short dimension can depend on the tensor's length.
        """
        cosine = sum(
            component.index_select(0, first) * component.index_select(0, second)
            for component in unit_bonds
        )
        angle = torch.acos(cosine * (1 - 1e-6))  # CHGNet's margin for acos
        return self.model.angle_basis_expansion.fourier_expansion(angle)

    def composition_energy(self, state: SimState, n_atoms: torch.Tensor) -> torch.Tensor:
        """Return the composition model's energy of each system (eV), from tensors.

        CHGNet's ``AtomRef`` is linear in the composition: its energy is summed
        atom by atom (``index_add``, in atom order), not as a matrix product over
        the batch, whose rounding depends on the number of systems. Another
        composition model gets the batch's composition matrix.
        """
        composition = self.model.composition_model
        if composition is None:
            return torch.zeros_like(n_atoms)
        elements = state.atomic_numbers.long() - 1
        if isinstance(composition, AtomRef):
            per_atom = composition.fc.weight.view(-1).index_select(0, elements)
            if composition.is_intensive:
                per_atom = per_atom / n_atoms.index_select(0, state.system_idx)
            reference = torch.zeros_like(n_atoms).index_add_(0, state.system_idx, per_atom)
        else:
            counts = torch.zeros(
                (state.n_systems, composition.max_num_elements), device=n_atoms.device
            )
            counts.index_put_(
                (state.system_idx, elements),
                torch.ones_like(state.system_idx, dtype=counts.dtype),
                accumulate=True,
            )
            if composition.is_intensive:
                counts = counts / n_atoms.unsqueeze(1)
            reference = composition._get_energy(counts.to(TORCH_DTYPE))
        return reference * n_atoms if self.model.is_intensive else reference

    def _forward_converter(self, state: SimState) -> dict[str, torch.Tensor]:
        """Evaluate a state through CHGNet's own converter, one system at a time."""
        start = time.perf_counter()
        graphs = self.graphs(state)
        self.graph_seconds += time.perf_counter() - start
        with torch.enable_grad():
            batched = BatchedGraph.from_graphs(
                graphs,
                bond_basis_expansion=self.model.bond_basis_expansion,
                angle_basis_expansion=self.model.angle_basis_expansion,
                compute_stress=self._compute_stress,
            )
            prediction = self.model._compute(batched)  # energy only; gradients below
            n_atoms = prediction["atoms_per_graph"].to(prediction["e"].dtype)
            energy = prediction["e"] * n_atoms if self.model.is_intensive else prediction["e"]
            inputs = list(batched.atom_positions)
            if self._compute_stress:
                inputs += list(batched.strains)
            gradients = torch.autograd.grad(energy.sum(), inputs)
        if self.model.composition_model is not None:
            reference = self.model.composition_model(graphs)
            energy = energy + (reference * n_atoms if self.model.is_intensive else reference)
        n_systems = len(graphs)
        results = {
            "energy": energy.detach().to(self._dtype),
            "forces": -torch.cat(gradients[:n_systems]).to(self._dtype),
        }
        if self._compute_stress:
            strain_gradients = torch.stack(gradients[n_systems:])
            volumes = batched.volumes.to(strain_gradients.device).view(-1, 1, 1)
            results["stress"] = (strain_gradients / volumes).to(self._dtype)
        return results
