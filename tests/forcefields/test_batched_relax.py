"""The batched relaxation: same answers as atomate2's per structure, failures isolated."""

import numpy as np
import pytest
from atomate2.ase.utils import AseRelaxer
from chgnet.model.dynamics import CHGNetCalculator
from pymatgen.core import Lattice, Structure
from torch_sim.io import structures_to_state
from torch_sim.models.interface import ModelInterface
from torch_sim.optimizers import frechet_cell_fire

from sianode_flows.analysis.channel import channel_radii
from sianode_flows.forcefields import relax_structures
from sianode_flows.forcefields.batched_relax import ase_ordered_fire_step

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
    init_fn, step_fn = frechet_cell_fire(model=chgnet_model, md_flavor="ase_fire")
    energies = {}
    for label, step in (("torch-sim", step_fn), ("ase", ase_ordered_fire_step(step_fn))):
        state = init_fn(structures_to_state(structure, chgnet_model.device, chgnet_model.dtype))
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


def test_small_batches_give_the_same_result(chgnet_model, small_configurations):
    together = relax_structures(small_configurations, chgnet_model, steps=5)
    one_at_a_time = relax_structures(small_configurations, chgnet_model, steps=5, max_atoms=1)
    for first, second in zip(together, one_at_a_time, strict=True):
        assert first.energies == pytest.approx(second.energies, abs=1e-4)


class FailsMidway(ModelInterface):
    """CHGNet that raises, after six calls (three inputs, three steps), on any 9-atom system.

    Stands for an evaluation that breaks during a relaxation (a graph that cannot be
    made once atoms have moved, say): only that structure should fail.
    """

    def __init__(self, model: ModelInterface, after: int = 6) -> None:
        super().__init__()
        self.model, self.after, self.calls = model, after, 0
        self._device, self._dtype = model.device, model.dtype
        self._compute_forces, self._compute_stress = True, True

    def forward(self, state, **kwargs):
        self.calls += 1
        if self.calls > self.after and 9 in state.n_atoms_per_system.tolist():
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
