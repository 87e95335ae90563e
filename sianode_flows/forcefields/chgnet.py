"""CHGNet as a torch-sim model: batched energies, forces and stresses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from chgnet.model.model import BatchedGraph
from pymatgen.core import Lattice, Structure
from torch_sim.models.interface import ModelInterface

if TYPE_CHECKING:
    from chgnet.graph import CrystalGraph
    from chgnet.model import CHGNet
    from torch_sim.state import SimState


class CHGNetModel(ModelInterface):
    """CHGNet's pretrained model behind torch-sim's ``ModelInterface``.

    Every system of a batched state becomes a CHGNet crystal graph (CHGNet's own
    converter, so the graphs are those of the per-structure ASE calculator); the
    graphs go through the network as one batch, and forces and stress come from one
    backward pass through the energy (CHGNet's own forward takes two, each keeping
    the graph for training; inference needs neither).

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
    ) -> None:
        super().__init__()
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

    def graphs(self, state: SimState) -> list[CrystalGraph]:
        """Return CHGNet's crystal graph of each system of a state."""
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
        graphs = self.graphs(state)
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
