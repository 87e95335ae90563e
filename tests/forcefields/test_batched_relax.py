"""The batched relaxation: same answers as atomate2's per structure, failures isolated."""

import numpy as np
import pytest
import torch
from atomate2.ase.utils import AseRelaxer
from chgnet.model.dynamics import CHGNetCalculator
from pymatgen.core import Lattice, Structure
from torch_sim.io import structures_to_state
from torch_sim.models.interface import ModelInterface
from torch_sim.optimizers import fire_init, fire_step
from torch_sim.optimizers.cell_filters import CellFilter

from sianode_flows.analysis.channel import channel_radii
from sianode_flows.forcefields import optimizers, relax_structures
from sianode_flows.forcefields.optimizers import ase_fire_step, optimizer_functions

STEPS = 15


def test_batched_and_per_structure_relaxations_agree(chgnet_model, small_configurations):
    outcomes = relax_structures(small_configurations, chgnet_model, fmax=0.05, steps=STEPS)
    relaxer = AseRelaxer(CHGNetCalculator(model=chgnet_model.model), relax_cell=True)
    for structure, outcome in zip(small_configurations, outcomes, strict=True):
        reference = relaxer.relax(structure.copy(), fmax=0.05, steps=STEPS)
        final = reference.final_mol_or_struct
        # the same steps: energies agree at every step to float32 round-off
        reference_energies = [frame["energy"] for frame in reference.trajectory.frame_properties]
        assert len(reference_energies) == len(outcome.energies) + 1  # ASE repeats the last
        assert outcome.energies == pytest.approx(reference_energies[:-1], abs=1e-3)
        assert outcome.structure.volume == pytest.approx(final.volume, rel=1e-4)
        assert channel_radii(outcome.structure).r_t == pytest.approx(
            channel_radii(final).r_t, abs=1e-3
        )
        # few steps: these delithiated cells are still relaxing, and say so
        assert outcome.n_steps == STEPS and not outcome.converged
        assert outcome.energies[-1] < outcome.energies[0]


def test_ase_order_of_fire_matters(chgnet_model, small_configurations):
    """torch-sim's own order of the FIRE update drifts from ASE's after a few steps."""
    structure = small_configurations[2]

    def upstream(state):
        return fire_step(state, chgnet_model, fire_flavor="ase_fire")

    energies = {}
    for label, step in (("torch-sim", upstream), ("ase", ase_fire_step(upstream))):
        state = fire_init(
            structures_to_state(structure, chgnet_model.device, chgnet_model.dtype),
            chgnet_model,
            cell_filter=CellFilter.frechet,
        )
        for _ in range(20):
            state = step(state)
        energies[label] = state.energy.item()
    reference = AseRelaxer(CHGNetCalculator(model=chgnet_model.model), relax_cell=True).relax(
        structure.copy(), fmax=1e-6, steps=20
    )
    expected = reference.trajectory.frame_properties[-1]["energy"]
    assert energies["ase"] == pytest.approx(expected, abs=1e-4)
    assert abs(energies["torch-sim"] - expected) > abs(energies["ase"] - expected)


def test_converged_structure_leaves_early(chgnet_model, li15si4_primitive, small_configurations):
    outcomes = relax_structures(
        [li15si4_primitive, small_configurations[0]], chgnet_model, fmax=0.05, steps=STEPS
    )
    pristine, delithiated = outcomes
    assert pristine.converged and pristine.n_steps < STEPS
    assert np.abs(np.array(pristine.forces)).max() < 0.05
    assert not delithiated.converged and delithiated.n_steps == STEPS


def test_a_bad_structure_fails_alone(chgnet_model, small_configurations):
    # oganesson is outside CHGNet's 94 elements: its evaluation raises
    bad = Structure(Lattice.cubic(4.0), ["Og", "Si"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    outcomes = relax_structures(
        [small_configurations[0], bad, small_configurations[1]], chgnet_model, steps=5
    )
    assert outcomes[1].failed and outcomes[1].error
    assert [o.failed for o in (outcomes[0], outcomes[2])] == [False, False]
    assert outcomes[0].n_steps == 5 and outcomes[2].n_steps == 5


@pytest.fixture(scope="module")
def joining_configurations(li15si4_primitive):
    """Six delithiated Li15Si4 configurations of 8-13 atoms that converge at 43-75 steps."""
    from sianode_flows.analysis.delithiation import delithiate

    return [c.structure for c in delithiate(li15si4_primitive, n_configs=30, seed=0)[1:7]]


def assert_same_relaxation(first, second):
    """Same steps and verdict; energies at every step and final positions to round-off."""
    n_atoms = len(first.initial_structure)
    assert (first.n_steps, first.converged) == (second.n_steps, second.converged)
    assert np.allclose(first.energies, second.energies, rtol=0, atol=1e-5 * n_atoms)
    assert np.allclose(first.structure.lattice.matrix, second.structure.lattice.matrix, atol=1e-4)
    assert np.allclose(first.structure.cart_coords, second.structure.cart_coords, atol=1e-4)


def test_a_relaxation_does_not_depend_on_its_batch(
    chgnet_model, joining_configurations, one_thread
):
    """Alone, in a batch from the start, or joining a running batch: the same relaxation.

    A cap of 24 atoms holds two or three of the six at a time: each one that
    converges leaves and the next joins mid-run, while the others go on.
    """
    settings = {"fmax": 0.1, "steps": 80}
    alone = [relax_structures([s], chgnet_model, **settings)[0] for s in joining_configurations]
    converged_at = [o.n_steps for o in alone if o.converged]
    assert len(set(converged_at)) >= 3 and max(o.n_steps for o in alone) == 80
    joining = relax_structures(joining_configurations, chgnet_model, max_atoms=24, **settings)
    together = relax_structures(joining_configurations, chgnet_model, **settings)
    for single, joined, batched in zip(alone, joining, together, strict=True):
        assert_same_relaxation(single, joined)
        assert_same_relaxation(single, batched)


def test_upstream_fire_alone_depends_on_the_batch(
    chgnet_model, joining_configurations, one_thread, monkeypatch
):
    """torch-sim's own FIRE step halves a joining structure's first time step.

    The check above fails without :func:`ase_fire_step`: here the third structure
    joins when the first converges (step 43) while the second still runs.
    """
    monkeypatch.setattr(optimizers, "ase_fire_step", lambda step, **_: step)
    (alone,) = relax_structures(joining_configurations[2:3], chgnet_model, fmax=0.1, steps=2)
    joining = relax_structures(joining_configurations[:3], chgnet_model, fmax=0.1, max_atoms=18)
    assert joining[0].n_steps < joining[1].n_steps
    assert alone.energies[0] == joining[2].energies[0]
    assert abs(alone.energies[1] - joining[2].energies[1]) > 1e-3


def test_optimizers_by_name(chgnet_model, small_configurations):
    for name in ("lbfgs", "bfgs"):
        (outcome,) = relax_structures(
            small_configurations[:1], chgnet_model, steps=10, optimizer=name
        )
        assert outcome.n_steps == 10 and outcome.energies[-1] < outcome.energies[0]
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizer_functions("sgd", chgnet_model)
    with pytest.raises(ValueError, match="takes no argument"):
        optimizer_functions("fire", chgnet_model, optimizer_kwargs={"max_history": 5})


class FailsMidway(ModelInterface):
    """CHGNet that raises on any 9-atom system once three batched steps have run.

    Stands for an evaluation that breaks during a relaxation (a graph that cannot be
    made once atoms have moved, say): only that structure should fail.
    """

    def __init__(self, model: ModelInterface, after: int = 3) -> None:
        super().__init__()
        self.model, self.after, self.batched_calls = model, after, 0
        self._device, self._dtype = model.device, model.dtype
        self._compute_forces, self._compute_stress = True, True

    def forward(self, state, **kwargs):
        self.batched_calls += state.n_systems > 1  # the inputs are evaluated one by one
        if self.batched_calls > self.after and 9 in state.n_atoms_per_system.tolist():
            raise RuntimeError("cannot evaluate this structure")
        return self.model(state)


def test_a_structure_that_breaks_midway_fails_alone(chgnet_model, small_configurations):
    sizes = [len(s) for s in small_configurations]
    assert sizes.count(9) == 2
    outcomes = relax_structures(small_configurations, FailsMidway(chgnet_model), steps=6)
    for size, outcome in zip(sizes, outcomes, strict=True):
        if size == 9:
            assert outcome.failed and "RuntimeError during the relaxation" in outcome.error
            assert outcome.n_steps == 3
        else:
            assert not outcome.failed and outcome.n_steps == 6
            # the survivor goes on from where it was, as if relaxed alone
            (alone,) = relax_structures([outcome.initial_structure], chgnet_model, steps=6)
            assert outcome.energies == pytest.approx(alone.energies, abs=1e-3)


def test_a_batch_of_one_updates_its_cell_as_a_batch(chgnet_model, small_configurations):
    """torch.matrix_exp rounds one matrix differently from a batch: a lone cell is paired."""
    from torch_sim.state import concatenate_states

    init, step = optimizer_functions("fire", chgnet_model)
    device, dtype = chgnet_model.device, chgnet_model.dtype
    first, second = (init(structures_to_state(s, device, dtype)) for s in small_configurations[1:3])
    batch = step(concatenate_states([first.clone(), second]))
    alone = step(first)
    assert alone.n_systems == 1
    assert torch.equal(alone.cell[0], batch.cell[0])


def test_progress_is_reported_after_every_step(chgnet_model, small_configurations):
    reports = []

    def keep(status):
        reports.append((status.done, status.steps, status.in_batch, status.total))

    outcomes = relax_structures(small_configurations, chgnet_model, steps=4, progress=keep)
    assert reports[-1] == (3, sum(o.n_steps for o in outcomes), 0, 3)
    assert [r[1] for r in reports] == sorted(r[1] for r in reports)
    assert reports[0] == (0, 3, 3, 3)  # after the first step, all three in the batch


def test_lbfgs_histories_keep_one_width(chgnet_model, joining_configurations):
    """Every L-BFGS history is as wide as the run's largest structure: none is re-padded."""
    from torch_sim.state import concatenate_states

    init, _ = optimizer_functions("lbfgs", chgnet_model, max_atoms=13)
    device, dtype = chgnet_model.device, chgnet_model.dtype
    small, large = (
        init(structures_to_state(s, device, dtype)) for s in joining_configurations[::5]
    )
    assert small.s_history.shape == large.s_history.shape == (1, 0, 13 + 3, 3)
    assert concatenate_states([small, large]).s_history.shape == (2, 0, 16, 3)
