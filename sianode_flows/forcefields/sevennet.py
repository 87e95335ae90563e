"""SevenNet-0 as a torch-sim model: batched energies, forces and stresses.

torch-sim 0.3.0 ships a SevenNet model, but it imports a name that sevenn 0.13 no
longer has (``sevenn.calculator.torch_script_type``), so it cannot be loaded with
the sevenn that keeps torch 2.13; this is the same batched evaluation without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sevenn._keys as key
import torch
from sevenn.atom_graph_data import AtomGraphData
from torch_geometric.loader.dataloader import Collater
from torch_sim.elastic import voigt_6_to_full_3x3_stress
from torch_sim.models.interface import ModelInterface
from torch_sim.neighbors import vesin_nl_ts

if TYPE_CHECKING:
    from torch_sim.state import SimState

SEVENNET_CHECKPOINT = "7net-0"
"""SevenNet-0, shipped in the ``sevenn`` wheel (atomate2's default SevenNet model)."""


class SevenNetModel(ModelInterface):
    """A SevenNet network behind torch-sim's ``ModelInterface``, in float32.

    Each system's neighbour list (the network's cutoff, periodic) becomes one
    SevenNet graph; the graphs are collated into one batch and evaluated together.

    Parameters
    ----------
    network
        A built SevenNet network; SevenNet-0 from the wheel by default.
    device
        ``"cpu"`` or ``"cuda"``; CUDA when available by default.
    """

    def __init__(self, network: torch.nn.Module | None = None, device: str | None = None) -> None:
        super().__init__()
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if network is None:
            from sevenn.util import load_checkpoint, pretrained_name_to_path

            network = load_checkpoint(pretrained_name_to_path(SEVENNET_CHECKPOINT)).build_model()
        self._device = torch.device(device)
        self._dtype = torch.float32
        self._compute_forces = True
        self._compute_stress = True
        self._memory_scales_with = "n_atoms_x_density"
        network.set_is_batch_data(True)
        self.cutoff = torch.tensor(float(network.cutoff))
        self.network = network.to(self._device).eval()
        self.collate = Collater([], follow_batch=None, exclude_keys=None)

    def forward(self, state: SimState, **kwargs: object) -> dict[str, torch.Tensor]:
        """Return energies [n_systems], forces [n_atoms, 3] and stresses [n_systems, 3, 3].

        Parameters
        ----------
        state
            Batched state in float32 on this model's device.
        **kwargs
            Ignored; part of torch-sim's interface.

        Returns
        -------
        dict
            ``energy`` (eV), ``forces`` (eV/A), ``stress`` (eV/A^3, positive under
            tension).
        """
        graphs = []
        for index in range(state.n_systems):
            mask = state.system_idx == index
            positions = state.positions[mask]
            cell = state.row_vector_cell[index]
            numbers = state.atomic_numbers[mask]
            edges, shifts = vesin_nl_ts(
                positions=positions, cell=cell, pbc=state.pbc, cutoff=self.cutoff
            )
            offsets = torch.mm(shifts, cell)
            data = AtomGraphData(
                **{
                    key.NODE_FEATURE: numbers,
                    key.ATOMIC_NUMBERS: numbers.to(torch.int64),
                    key.POS: positions,
                    key.EDGE_IDX: edges,
                    key.EDGE_VEC: positions[edges[1]] - positions[edges[0]] + offsets,
                    key.CELL: cell,
                    key.CELL_SHIFT: shifts,
                    key.CELL_VOLUME: torch.det(cell),
                    key.NUM_ATOMS: torch.tensor(len(numbers), device=self._device),
                    key.DATA_MODALITY: None,
                }
            )
            data[key.INFO] = {}
            graphs.append(data)
        batch = self.collate(graphs).to(self._device)
        output = self.network(batch)
        # SevenNet's stress is Voigt (xx, yy, zz, xy, yz, zx), positive under compression
        voigt = output[key.PRED_STRESS].detach()[..., [0, 1, 2, 4, 5, 3]]
        return {
            "energy": output[key.PRED_TOTAL_ENERGY].detach(),
            "forces": output[key.PRED_FORCE].detach(),
            "stress": -voigt_6_to_full_3x3_stress(voigt),
        }
