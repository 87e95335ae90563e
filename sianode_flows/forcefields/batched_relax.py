"""Relax many structures at once: batched FIRE, structures leave when converged.

torch-sim provides the pieces: the FIRE optimizer with the Frechet cell filter in
ASE's flavour (``frechet_cell_fire(md_flavor="ase_fire")``, the algorithm of
atomate2's force-field relax), the force criterion, and the in-flight batcher that
swaps converged structures out and new ones in. Its runner ``torch_sim.optimize``
is not used: it caps the steps of the whole run rather than of each structure,
checks convergence only every few steps, and reports neither the steps taken nor
whether a structure converged. The loop below checks every structure after every
step, as ASE does, and records for each what atomate2's relax records.

One correction to torch-sim 0.3.0's ASE flavour of FIRE: it lowers the mixing
parameter alpha *before* mixing the velocities, where ASE mixes first and lowers
alpha after. From the sixth uphill-free step on, the two then take slightly
different steps (a relative 1e-6 at first), which in floppy, far-from-equilibrium
cells grows into a different local minimum. :func:`ase_ordered_fire_step` restores
ASE's order around torch-sim's step, so both paths take the same steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import torch
from pymatgen.core import Structure
from torch_sim.autobatching import InFlightAutoBatcher
from torch_sim.io import state_to_structures, structures_to_state
from torch_sim.models.interface import ModelInterface
from torch_sim.optimizers import fire, frechet_cell_fire
from torch_sim.state import SimState

logger = logging.getLogger(__name__)

CPU_MAX_ATOMS = 1024
"""Atoms per batch on a CPU (torch-sim's memory probe needs a GPU)."""


@dataclass
class RelaxOutcome:
    """What happened to one structure of a batched relaxation.

    Attributes
    ----------
    index
        Position of the structure in the input list.
    initial_structure
        The structure as given.
    structure
        Final structure; ``None`` if the relaxation failed.
    energies
        Total energy (eV) at every force evaluation, the first at the input.
    forces
        Final forces (eV/A).
    stress
        Final stress (eV/A^3, ASE's sign: positive under tension, as atomate2's
        force-field documents store it).
    n_steps
        Optimizer steps taken.
    converged
        Whether the force criterion was met within the step cap.
    error
        Why the relaxation failed, if it did.
    elapsed
        Wall time from the first evaluation of this structure to its last (s).
    """

    index: int
    initial_structure: Structure
    structure: Structure | None = None
    energies: list[float] = field(default_factory=list)
    forces: list[list[float]] | None = None
    stress: list[list[float]] | None = None
    n_steps: int = 0
    converged: bool = False
    error: str | None = None
    elapsed: float = 0.0

    @property
    def failed(self) -> bool:
        """Whether the relaxation failed (no final structure)."""
        return self.structure is None


def _system_finite(state: SimState) -> torch.Tensor:
    """Per system: energy, forces and (if any) stress all finite."""
    finite = torch.isfinite(state.energy)
    bad_atoms = ~torch.isfinite(state.forces).all(dim=1)
    if bad_atoms.any():
        finite[state.system_idx[bad_atoms].unique()] = False
    stress = getattr(state, "stress", None)
    if stress is not None:
        finite &= torch.isfinite(stress).flatten(1).all(dim=1)
    return finite


def relax_structures(
    structures: Sequence[Structure],
    model: ModelInterface,
    *,
    fmax: float = 0.05,
    steps: int = 1000,
    relax_cell: bool = True,
    max_atoms: int | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    progress: Callable[[RelaxOutcome], None] | None = None,
) -> list[RelaxOutcome]:
    """Relax structures together in batches with one model, each to its own end.

    FIRE (ASE's flavour) with the Frechet cell filter, as atomate2's force-field
    relax. After each step every structure is tested: it leaves the batch when its
    largest atomic (and cell) force is below ``fmax`` (ASE's test, see
    :func:`ase_converged`), when it has taken ``steps``
    steps, or when its energy, forces or stress stop being finite; waiting
    structures then join the batch. A structure whose graph cannot be made or whose
    evaluation raises fails alone; the others go on.

    Parameters
    ----------
    structures
        Structures to relax.
    model
        A torch-sim model (see :func:`sianode_flows.forcefields.load_model`).
    fmax
        Force criterion (eV/A), on atoms and on the cell.
    steps
        Step cap of each structure.
    relax_cell
        Relax the cell too (Frechet cell filter); positions only otherwise.
    max_atoms
        Atoms in one batch. On a GPU, ``None`` lets torch-sim measure what fits in
        memory; on a CPU it means :data:`CPU_MAX_ATOMS`.
    optimizer_kwargs
        Extra arguments of torch-sim's FIRE (``dt_max``, ``max_step``...).
    progress
        Called with each outcome as its structure leaves the batch.

    Returns
    -------
    list of RelaxOutcome
        One per structure, in input order.
    """
    outcomes = [RelaxOutcome(index=i, initial_structure=s) for i, s in enumerate(structures)]
    if not outcomes:
        return []
    kwargs = {"md_flavor": "ase_fire", **(optimizer_kwargs or {})}
    optimizer = frechet_cell_fire if relax_cell else fire
    init_fn, torch_sim_step = optimizer(model=model, **kwargs)
    step_fn = torch_sim_step
    if kwargs["md_flavor"] == "ase_fire":
        step_fn = ase_ordered_fire_step(
            torch_sim_step, n_min=kwargs.get("n_min", 5), f_alpha=kwargs.get("f_alpha", 0.99)
        )
    started: dict[int, float] = {}
    # the batcher numbers the states it is given 0, 1, ...; a structure that fails
    # before joining gets no number, so map the batcher's numbers to the outcomes
    joined: list[RelaxOutcome] = []

    def finish(outcome: RelaxOutcome) -> None:
        outcome.elapsed = time.perf_counter() - started.get(outcome.index, time.perf_counter())
        if progress is not None:
            progress(outcome)

    def initialized() -> Iterator[SimState]:
        """Yield each structure's optimizer state; a structure that fails is recorded."""
        for outcome in outcomes:
            started[outcome.index] = time.perf_counter()
            try:
                single = structures_to_state(outcome.initial_structure, model.device, model.dtype)
                state = init_fn(single)
            except Exception as exc:
                outcome.error = f"{type(exc).__name__}: {exc}"
                finish(outcome)
                continue
            if not bool(_system_finite(state).all()):
                outcome.error = "non-finite energy, forces or stress at the input structure"
                finish(outcome)
                continue
            joined.append(outcome)
            yield state

    largest = max(len(structure) for structure in structures)
    on_gpu = model.device.type == "cuda"
    batcher = InFlightAutoBatcher(
        model,
        memory_scales_with="n_atoms" if max_atoms or not on_gpu else model.memory_scales_with,
        max_memory_scaler=None
        if on_gpu and not max_atoms
        else max(max_atoms or CPU_MAX_ATOMS, largest),
        return_indices=True,
    )
    pending = initialized()
    first = next(pending, None)
    if first is None:
        return outcomes
    batcher.load_states(chain([first], pending))
    state, _, indices = batcher.next_batch(None, None)
    while state is not None:
        # every system of the batch has been evaluated at its current positions
        batch = [joined[index] for index in indices]
        energies = state.energy.detach().cpu().tolist()
        for position, outcome in enumerate(batch):
            if len(outcome.energies) == outcome.n_steps:
                outcome.energies.append(energies[position])
        finite = _system_finite(state)
        converged = ase_converged(state, fmax) & finite
        capped = torch.tensor([o.n_steps >= steps for o in batch], device=finite.device)
        done = converged | ~finite | capped
        if bool(done.any()):
            for position in torch.nonzero(done).flatten().tolist():
                outcome = batch[position]
                _record(outcome, state, position, bool(converged[position]), bool(finite[position]))
                finish(outcome)
            # converged structures leave, waiting ones join (checked on the next pass)
            state, _, indices = batcher.next_batch(state, done)
            continue
        # the step changes the state in place before it evaluates the model: keep the
        # state before it, to go on from there without the structures that failed
        before = state.clone()
        try:
            state = step_fn(state)
        except Exception as exc:
            state = before
            failing = _failing_systems(state, model)
            if not failing:
                raise
            for position in failing:
                outcome = batch[position]
                outcome.error = f"{type(exc).__name__} during the relaxation: {exc}"
                finish(outcome)
            mask = torch.zeros(state.n_systems, dtype=torch.bool, device=state.device)
            mask[failing] = True
            state, _, indices = batcher.next_batch(state, mask)
            continue
        for outcome in batch:
            outcome.n_steps += 1
    return outcomes


def ase_ordered_fire_step(
    step_fn: Callable[[SimState], SimState], n_min: int = 5, f_alpha: float = 0.99
) -> Callable[[SimState], SimState]:
    """Wrap torch-sim's ASE-flavour FIRE step so that alpha is lowered after mixing.

    Where torch-sim is about to lower alpha (positive power, more than ``n_min``
    positive steps), alpha is raised by ``1 / f_alpha`` before its step, so that the
    velocities are mixed with the current alpha as in ASE, and lowered by
    ``f_alpha`` after it, which leaves it where ASE leaves it.

    Parameters
    ----------
    step_fn
        torch-sim's ``frechet_cell_fire`` or ``fire`` update with ``md_flavor="ase_fire"``.
    n_min, f_alpha
        The FIRE parameters given to torch-sim (its defaults are ASE's).

    Returns
    -------
    callable
        The corrected step.
    """

    def step(state: SimState) -> SimState:
        lowering = _lowers_alpha(state, n_min)
        state.alpha[lowering] /= f_alpha
        state = step_fn(state)
        state.alpha[lowering] *= f_alpha
        return state

    return step


def filtered_forces(state: SimState) -> torch.Tensor:
    """Atomic forces as a Frechet cell filter exposes them: times the deformation gradient.

    States without a cell (positions-only FIRE) give their forces unchanged.
    """
    if getattr(state, "cell_forces", None) is None:
        return state.forces
    deform_grad = state.deform_grad()
    return torch.bmm(state.forces.unsqueeze(1), deform_grad[state.system_idx]).squeeze(1)


def ase_converged(state: SimState, fmax: float) -> torch.Tensor:
    """Per system: ASE's convergence test of a (Frechet) cell-filtered relaxation.

    ASE tests the forces its filter exposes: the atomic forces times the
    deformation gradient and the rows of the cell force, each row's norm below
    ``fmax``. torch-sim's force test uses the untransformed atomic forces, which
    near the criterion can stop a structure a few steps earlier or later.
    """
    forces = filtered_forces(state)
    cell_forces = getattr(state, "cell_forces", None)
    largest = torch.zeros(state.n_systems, dtype=forces.dtype, device=forces.device)
    largest = largest.scatter_reduce(0, state.system_idx, forces.norm(dim=1), reduce="amax")
    if cell_forces is not None:
        largest = torch.maximum(largest, cell_forces.norm(dim=2).amax(dim=1))
    return largest < fmax


def _lowers_alpha(state: SimState, n_min: int) -> torch.Tensor:
    """Per system: whether this FIRE step will lower alpha (torch-sim's test)."""
    if state.velocities.isnan().any():  # first step: no mixing at all
        return torch.zeros(state.n_systems, dtype=torch.bool, device=state.device)
    forces = filtered_forces(state)
    cell_forces = getattr(state, "cell_forces", None)
    power = torch.zeros(state.n_systems, dtype=forces.dtype, device=forces.device)
    power.index_add_(0, state.system_idx, (forces * state.velocities).sum(dim=1))
    if cell_forces is not None:
        power += (cell_forces * state.cell_velocities).sum(dim=(1, 2))
    return (power > 0.0) & (state.n_pos > n_min)


def _record(
    outcome: RelaxOutcome, state: SimState, position: int, converged: bool, finite: bool
) -> None:
    """Store the final structure, forces and stress of one system of a batch."""
    if not finite:
        outcome.error = (
            f"the relaxation diverged after {outcome.n_steps} steps "
            "(non-finite energy, forces or stress)"
        )
        return
    single = state[position]
    outcome.structure = state_to_structures(single)[0]
    outcome.forces = single.forces.detach().cpu().numpy().tolist()
    stress = getattr(single, "stress", None)
    if stress is not None:
        outcome.stress = stress[0].detach().cpu().numpy().tolist()
    outcome.converged = converged


def _failing_systems(state: SimState, model: ModelInterface) -> list[int]:
    """Positions of the systems of a batch whose evaluation alone raises."""
    failing = []
    for position in range(state.n_systems):
        try:
            output = model(state[position])
        except Exception:
            failing.append(position)
            continue
        if not bool(np.isfinite(output["energy"].detach().cpu().numpy()).all()):
            failing.append(position)
    return failing
