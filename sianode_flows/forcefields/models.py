"""Load a potential as a torch-sim model, by the short names the makers use."""

from __future__ import annotations

import torch
from torch_sim.models.interface import ModelInterface
from torch_sim.state import SimState

from sianode_flows.forcefields.chgnet import CHGNetModel

SEVENNET_CHECKPOINT = "7net-0"
"""SevenNet-0, shipped in the ``sevenn`` wheel (atomate2's default SevenNet model)."""


class Float64States(ModelInterface):
    """Run a float32 model on float64 states: inputs cast down, outputs cast up.

    torch-sim keeps its optimizer state in the model's dtype; SevenNet's torch-sim
    model (``sevenn.torchsim``) computes in float32 only, and a long FIRE run in
    float32 accumulates round-off that an ASE run (float64 positions) does not. This
    adapter keeps the optimizer in float64.

    Parameters
    ----------
    model
        A torch-sim model computing in a lower precision.
    """

    def __init__(self, model: ModelInterface) -> None:
        super().__init__()
        self.model = model
        self._device = model.device
        self._dtype = torch.float64
        self._compute_forces = model.compute_forces
        self._compute_stress = model.compute_stress
        self._memory_scales_with = model.memory_scales_with

    def forward(self, state: SimState, **kwargs: object) -> dict[str, torch.Tensor]:
        """Evaluate the wrapped model on a float32 copy of the state."""
        low = state.clone()
        for name in ("positions", "cell", "masses"):
            setattr(low, name, getattr(low, name).to(self.model.dtype))
        output = self.model(low, **kwargs)
        return {
            key: value.to(self._dtype) if torch.is_floating_point(value) else value
            for key, value in output.items()
        }


def load_model(
    potential: str = "chgnet",
    device: str | torch.device | None = None,
    compute_stress: bool = True,
    chgnet_graph: str | None = None,
) -> ModelInterface:
    """Return a potential as a torch-sim model working on float64 states.

    Parameters
    ----------
    potential
        ``"chgnet"`` (CHGNet 0.3.0 weights) or ``"sevennet"`` (SevenNet-0), case-insensitive;
        both load the weights shipped in their wheels, offline.
    device
        ``"cpu"`` or ``"cuda"``; CUDA when available by default.
    compute_stress
        Whether the model returns stresses (needed to relax the cell).
    chgnet_graph
        How CHGNet builds its graphs, ``"torch"`` or ``"converter"``; the setting
        ``chgnet_graph`` by default (its neighbour-list skin: ``neighbor_skin``).

    Returns
    -------
    ModelInterface
        The model.

    Raises
    ------
    ValueError
        For a potential with no batched model here.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    name = potential.lower()
    if name == "chgnet":
        from sianode_flows.settings import get_settings

        settings = get_settings()
        return CHGNetModel(
            device=device,
            compute_stress=compute_stress,
            graph_builder=chgnet_graph or settings.chgnet_graph,
            neighbor_skin=settings.neighbor_skin,
        )
    if name == "sevennet":
        # sevenn's own torch-sim model (sevenn.torchsim), SevenNet-0 from the wheel
        from sevenn.torchsim import SevenNetModel

        return Float64States(SevenNetModel(SEVENNET_CHECKPOINT, device=torch.device(device)))
    raise ValueError(f"no batched model for potential {potential!r}; use chgnet or sevennet")
