"""torch-sim's batched optimizers, with what they still lack for ASE-exact relaxations.

torch-sim (0.6) provides batched FIRE (in ASE's flavour), L-BFGS and BFGS, each
with the Frechet cell filter that atomate2's force-field relax uses. Two pieces
are added here, each for a gap that upstream still has:

- :func:`ase_fire_step` wraps torch-sim's ASE-flavour FIRE step. torch-sim 0.6.2
  (``optimizers/fire.py``, ``_ase_fire_step``) (1) lowers the mixing parameter
  alpha *before* it mixes the velocities, where ASE mixes first and lowers alpha
  after; from the sixth uphill-free step on the steps then differ (a relative 1e-6
  at first), which in floppy, far-from-equilibrium cells grows into a different
  local minimum; and (2) treats a structure that joins a running batch (its
  velocities still NaN while the others' are not) as a zero-power step, halving
  its time step at its first step, where ASE's first step leaves the time step
  alone. With (2), a structure's relaxation depends on whether it started a batch
  or joined one, i.e. on the batch size, the other structures and the device.
- :func:`as_batch_of_two` steps a batch of one structure as a batch of two (the
  structure and a copy of it). ``torch.matrix_exp``, which torch-sim's Frechet
  cell filter applies to the batch's log-deformations, takes another approximant
  for a single matrix than for a batch of several (a last-bit difference, for any
  batch of two or more the same); in a float32 network that bit grows, over tens of
  steps, into 1e-5 eV/atom and 1e-4 A. Stepped as a pair, a structure relaxed alone
  takes the steps it takes in any batch.
- :func:`with_history_width` gives every structure's L-BFGS history the width of
  the largest structure of the run. torch-sim keeps each system's history as
  ``[atoms padded to the batch's largest, then 3 cell rows]`` and, when it
  concatenates states of different widths, pads after the cell rows: the cell
  history of a structure narrower than the batch lands among its padded atoms,
  where it is masked out, and its cell steps lose their curvature (seen here: cells
  blown apart until an atom was isolated). Histories of one width never need it.
  L-BFGS stays batch-dependent at round-off all the same: its sums over padded
  histories round differently for other widths, and that grows (measured on 9-atom
  cells: energies part at step 5 and differ by more than 1e-5 eV/atom within 30
  steps). FIRE, the default, has no such sums.
- :func:`ase_converged` is ASE's convergence test of a cell-filtered relaxation:
  the atomic forces times the deformation gradient and the rows of the cell
  force, each below ``fmax``. torch-sim's ``generate_force_convergence_fn`` tests
  the untransformed atomic forces, which near the criterion stops a structure a
  few steps earlier or later than ASE.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch_sim.optimizers import OPTIM_REGISTRY, Optimizer
from torch_sim.optimizers.cell_filters import CellFilter
from torch_sim.state import SimState, concatenate_states

OPTIMIZERS: tuple[str, ...] = ("fire", "lbfgs", "bfgs")
"""Optimizers a batched relaxation can use (torch-sim's names)."""

StepFunction = Callable[[SimState], SimState]


def optimizer_functions(
    optimizer: str,
    model: Any,
    *,
    relax_cell: bool = True,
    optimizer_kwargs: dict[str, Any] | None = None,
    max_atoms: int | None = None,
) -> tuple[StepFunction, StepFunction]:
    """Return an optimizer's init and step functions, bound to a model and settings.

    Parameters
    ----------
    optimizer
        ``"fire"`` (ASE's flavour, as atomate2's relax), ``"lbfgs"`` or ``"bfgs"``.
    model
        The torch-sim model.
    relax_cell
        Relax the cell too (Frechet cell filter), or positions only.
    optimizer_kwargs
        Arguments of torch-sim's init or step function (``dt_max``, ``max_step``,
        ``max_history``...); each goes to the function whose signature names it.
    max_atoms
        Atoms of the largest structure that will share a batch (L-BFGS: the width of
        every history, see :func:`with_history_width`); the structure's own if not
        given.

    Returns
    -------
    tuple of callable
        ``init(state) -> optimizer state`` and ``step(state) -> state``.

    Raises
    ------
    ValueError
        For an unknown optimizer or an argument neither function takes.
    """
    name = optimizer.lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
    init_fn, step_fn = OPTIM_REGISTRY[Optimizer(name)]
    kwargs = dict(optimizer_kwargs or {})
    if name == "fire":
        kwargs.setdefault("fire_flavor", "ase_fire")
    init_kwargs = _accepted(init_fn, kwargs)
    step_kwargs = _accepted(step_fn, kwargs)
    unknown = set(kwargs) - set(init_kwargs) - set(step_kwargs)
    if unknown:
        raise ValueError(f"{optimizer} takes no argument(s) {sorted(unknown)}")
    if relax_cell:
        init_kwargs["cell_filter"] = CellFilter.frechet

    def init(state: SimState) -> SimState:
        initialized = init_fn(state, model, **init_kwargs)
        if name == "lbfgs" and max_atoms is not None:
            initialized = with_history_width(initialized, max_atoms)
        return initialized

    def step(state: SimState) -> SimState:
        return step_fn(state, model, **step_kwargs)

    if name == "fire" and kwargs["fire_flavor"] == "ase_fire":
        parameters = inspect.signature(step_fn).parameters
        step = ase_fire_step(
            step,
            n_min=step_kwargs.get("n_min", parameters["n_min"].default),
            f_alpha=step_kwargs.get("f_alpha", parameters["f_alpha"].default),
            f_dec=step_kwargs.get("f_dec", parameters["f_dec"].default),
        )
    return init, as_batch_of_two(step) if relax_cell else step


def _accepted(function: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Return the keyword arguments that a function names."""
    parameters = inspect.signature(function).parameters
    return {key: value for key, value in kwargs.items() if key in parameters}


def ase_fire_step(
    step_fn: StepFunction, n_min: int = 5, f_alpha: float = 0.99, f_dec: float = 0.5
) -> StepFunction:
    """Wrap torch-sim's ASE-flavour FIRE step so that each system steps as ASE's FIRE.

    Two corrections, each undone or completed around torch-sim's own step (see the
    module's docstring for the upstream gaps):

    - where torch-sim is about to lower alpha (positive power, more than ``n_min``
      positive steps), alpha is raised by ``1 / f_alpha`` before the step, so that
      the velocities are mixed with the current alpha, and lowered by ``f_alpha``
      after it, which leaves it where ASE leaves it;
    - a system at its first step in a batch whose other systems are not (it has
      just joined) has its time step divided by ``f_dec`` before torch-sim
      multiplies it by ``f_dec``: its first step is ASE's first step.

    Parameters
    ----------
    step_fn
        torch-sim's FIRE step (``fire_flavor="ase_fire"``) bound to its model.
    n_min, f_alpha, f_dec
        The FIRE parameters given to torch-sim (its defaults are ASE's).

    Returns
    -------
    callable
        The corrected step.
    """

    def step(state: SimState) -> SimState:
        joining = first_step_systems(state)
        if bool(joining.any()) and not bool(joining.all()):
            state.dt[joining] /= f_dec
        lowering = _lowers_alpha(state, n_min)
        state.alpha[lowering] /= f_alpha
        state = step_fn(state)
        state.alpha[lowering] *= f_alpha
        return state

    return step


def as_batch_of_two(step_fn: StepFunction) -> StepFunction:
    """Step a batch of one structure as the structure and a copy of it (module docstring).

    Costs a second evaluation of that one structure; batches of two or more are
    stepped as they are.
    """

    def step(state: SimState) -> SimState:
        if state.n_systems > 1:
            return step_fn(state)
        return step_fn(concatenate_states([state, state.clone()]))[0]

    return step


def with_history_width(state: SimState, max_atoms: int) -> SimState:
    """Widen a fresh L-BFGS state's (empty) history to ``max_atoms`` atoms (module docstring).

    Parameters
    ----------
    state
        An L-BFGS state just initialized, its history still empty.
    max_atoms
        Atoms of the largest structure of the run.

    Returns
    -------
    SimState
        The same state, its history of width ``max_atoms`` (plus 3 cell rows).
    """
    n_systems, length, width, _ = state.s_history.shape
    cell_rows = 3 if hasattr(state, "cell_positions") else 0
    if length:
        raise ValueError("only an empty L-BFGS history can be widened")
    shape = (n_systems, 0, max(max_atoms, width - cell_rows) + cell_rows, 3)
    state.s_history = state.s_history.new_zeros(shape)
    state.y_history = state.y_history.new_zeros(shape)
    return state


def first_step_systems(state: SimState) -> torch.Tensor:
    """Per system: whether FIRE has not stepped it yet (its velocities are still NaN)."""
    nan_atoms = state.velocities.isnan().any(dim=1)
    first = torch.zeros(state.n_systems, dtype=torch.bool, device=state.device)
    first[state.system_idx[nan_atoms]] = True
    return first


def filtered_forces(state: SimState) -> torch.Tensor:
    """Atomic forces as a cell filter exposes them: times the deformation gradient.

    States without a cell filter (positions-only relaxations) give their forces.
    """
    if hasattr(state, "deform_grad_forces"):
        return state.deform_grad_forces()
    return state.forces


def ase_converged(state: SimState, fmax: float) -> torch.Tensor:
    """Per system: ASE's convergence test of a (Frechet) cell-filtered relaxation.

    ASE tests the forces its filter exposes: the atomic forces times the
    deformation gradient and the rows of the cell force, each row's norm below
    ``fmax``.
    """
    forces = filtered_forces(state)
    largest = torch.zeros(state.n_systems, dtype=forces.dtype, device=forces.device)
    largest = largest.scatter_reduce(0, state.system_idx, forces.norm(dim=1), reduce="amax")
    cell_forces = getattr(state, "cell_forces", None)
    if cell_forces is not None:
        largest = torch.maximum(largest, cell_forces.norm(dim=2).amax(dim=1))
    return largest < fmax


def _lowers_alpha(state: SimState, n_min: int) -> torch.Tensor:
    """Per system: whether torch-sim's FIRE step will lower alpha.

    Systems at their first step have NaN velocities, so NaN power: never.
    """
    forces = filtered_forces(state)
    power = torch.zeros(state.n_systems, dtype=forces.dtype, device=forces.device)
    power.index_add_(0, state.system_idx, (forces * state.velocities).sum(dim=1))
    cell_forces = getattr(state, "cell_forces", None)
    if cell_forces is not None:
        power += (cell_forces * state.cell_velocities).sum(dim=(1, 2))
    return (power > 0.0) & (state.n_pos > n_min)
