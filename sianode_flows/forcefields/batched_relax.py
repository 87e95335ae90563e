"""Relax many structures at once: batched optimizers, structures leave when converged.

torch-sim provides the pieces: the optimizers (FIRE in ASE's flavour, the
algorithm of atomate2's force-field relax; L-BFGS; BFGS) with the Frechet cell
filter, and the in-flight batcher that swaps converged structures out and new ones
in. :mod:`sianode_flows.forcefields.optimizers` adds what they still lack for
ASE-exact steps.

torch-sim's runner ``torch_sim.optimize`` (0.6) is not used, for four reasons:
it tests convergence only every ``steps_between_swaps`` steps and only after a
first round of steps (a structure already converged at its input still takes
steps; ASE tests before every step); its force test is not ASE's; it records
neither each structure's energy at every step, nor its steps, nor whether it
converged; and one structure that raises or turns non-finite stops the whole run.
The loop below tests every structure before every step, as ASE does, records what
atomate2's relax records, and lets a failing structure fail alone.

A structure's relaxation does not depend on its batch: relaxed alone, in a batch
from the start, or joining a running batch after others left, it takes the same
steps (to the float round-off of the model's batched evaluation).
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
from torch_sim.state import SimState

from sianode_flows.forcefields.optimizers import ase_converged, optimizer_functions
from sianode_flows.progress import RelaxProgress

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
    optimizer: str = "fire",
    optimizer_kwargs: dict[str, Any] | None = None,
    progress: Callable[[RelaxProgress], None] | None = None,
    label: str = "batched relax",
) -> list[RelaxOutcome]:
    """Relax structures together in batches with one model, each to its own end.

    FIRE (ASE's flavour) with the Frechet cell filter by default, as atomate2's
    force-field relax. Before every step every structure is tested: it leaves the
    batch when its largest atomic (and cell) force is below ``fmax`` (ASE's test,
    :func:`~sianode_flows.forcefields.optimizers.ase_converged`), when it has
    taken ``steps`` steps, or when its energy, forces or stress stop being finite;
    waiting structures then join the batch. A structure whose graph cannot be made
    or whose evaluation raises fails alone; the others go on.

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
    optimizer
        ``"fire"``, ``"lbfgs"`` or ``"bfgs"`` (torch-sim's batched optimizers).
    optimizer_kwargs
        Extra arguments of torch-sim's optimizer (``dt_max``, ``max_step``...).
    progress
        Called after every step with where the relaxation stands.
    label
        Name of the relaxation in progress reports.

    Returns
    -------
    list of RelaxOutcome
        One per structure, in input order.
    """
    outcomes = [RelaxOutcome(index=i, initial_structure=s) for i, s in enumerate(structures)]
    if not outcomes:
        return []
    largest = max(len(s) for s in structures)
    init_fn, step_fn = optimizer_functions(
        optimizer,
        model,
        relax_cell=relax_cell,
        optimizer_kwargs=optimizer_kwargs,
        max_atoms=largest,
    )
    status = RelaxProgress(label=label, total=len(outcomes))
    started: dict[int, float] = {}
    # the batcher numbers the states it is given 0, 1, ...; a structure that fails
    # before joining gets no number, so map the batcher's numbers to the outcomes
    joined: list[RelaxOutcome] = []

    def finish(outcome: RelaxOutcome) -> None:
        outcome.elapsed = time.perf_counter() - started.get(outcome.index, time.perf_counter())
        status.done += 1
        status.converged += outcome.converged
        status.failed += outcome.failed

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

    batcher = _batcher(model, max_atoms, largest=largest)
    pending = initialized()
    first = next(pending, None)
    if first is None:
        _report(progress, status, 0)
        return outcomes
    batcher.load_states(chain([first], pending))
    state, _ = batcher.next_batch(None, None)
    while state is not None:
        # every system of the batch has been evaluated at its current positions
        batch = [joined[index] for index in batcher.current_idx]
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
            # converged structures leave, waiting ones join (tested on the next pass)
            state, _ = batcher.next_batch(state, done)
            _report(progress, status, 0 if state is None else state.n_systems)
            continue
        # the step changes the state in place before it evaluates the model: keep the
        # state before it, to go on from there without the structures that failed
        before = state.clone()
        try:
            state = step_fn(state)
        except Exception as exc:
            state = before
            failing = _failing_systems(state, model, step_fn)
            if not failing:
                raise
            for position in failing:
                outcome = batch[position]
                outcome.error = f"{type(exc).__name__} during the relaxation: {exc}"
                finish(outcome)
            mask = torch.zeros(state.n_systems, dtype=torch.bool, device=state.device)
            mask[failing] = True
            state, _ = batcher.next_batch(state, mask)
            continue
        for outcome in batch:
            outcome.n_steps += 1
        status.steps += len(batch)
        _report(progress, status, state.n_systems)
    return outcomes


def _batcher(model: ModelInterface, max_atoms: int | None, largest: int) -> InFlightAutoBatcher:
    """Return the in-flight batcher: by atoms on a CPU or when given, else by memory probe."""
    on_gpu = model.device.type == "cuda"
    if on_gpu and not max_atoms:
        return InFlightAutoBatcher(model, memory_scales_with=model.memory_scales_with)
    return InFlightAutoBatcher(
        model,
        memory_scales_with="n_atoms",
        max_memory_scaler=max(max_atoms or CPU_MAX_ATOMS, largest),
    )


def _report(
    progress: Callable[[RelaxProgress], None] | None, status: RelaxProgress, in_batch: int
) -> None:
    if progress is not None:
        status.in_batch = in_batch
        progress(status)


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


def _failing_systems(
    state: SimState, model: ModelInterface, step_fn: Callable[[SimState], SimState]
) -> list[int]:
    """Positions of the systems of a batch whose evaluation, or else whose step, alone raises.

    A step can move a structure to where the model cannot evaluate it (an atom
    isolated from all others, say): if every system evaluates where it stands, each
    takes the step alone, on a copy.
    """
    failing = []
    for position in range(state.n_systems):
        try:
            output = model(state[position])
        except Exception:
            failing.append(position)
            continue
        if not bool(np.isfinite(output["energy"].detach().cpu().numpy()).all()):
            failing.append(position)
    if failing:
        return failing
    for position in range(state.n_systems):
        try:
            step_fn(state[position].clone())
        except Exception:
            failing.append(position)
    return failing
