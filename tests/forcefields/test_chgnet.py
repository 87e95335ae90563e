"""CHGNet behind torch-sim's model interface gives CHGNet's own numbers."""

import numpy as np
import pytest
import torch
from torch_sim.io import structures_to_state

GPA_PER_EV_A3 = 160.21766208


def test_batched_evaluation_matches_chgnet(chgnet_model, small_configurations, li15si4_primitive):
    structures = [li15si4_primitive, *small_configurations]
    state = structures_to_state(structures, torch.device("cpu"), torch.float64)
    output = chgnet_model(state)
    assert output["energy"].shape == (4,) and output["stress"].shape == (4, 3, 3)
    reference = chgnet_model.model.predict_structure(structures, task="efs", batch_size=1)
    for index, (structure, expected) in enumerate(zip(structures, reference, strict=True)):
        n_atoms = len(structure)
        energy_per_atom = output["energy"][index].item() / n_atoms
        assert energy_per_atom == pytest.approx(float(expected["e"]), abs=1e-5)
        forces = output["forces"][state.system_idx == index].numpy()
        np.testing.assert_allclose(forces, expected["f"], atol=1e-4)
        stress = output["stress"][index].numpy()
        np.testing.assert_allclose(stress, expected["s"] / GPA_PER_EV_A3, atol=1e-6)
    # the pristine cell is near equilibrium, a delithiated one is not
    assert np.abs(output["forces"][state.system_idx == 0].numpy()).max() < 0.05
    assert output["energy"].dtype == torch.float64


def test_sevennet_batched_matches_its_ase_calculator(small_configurations):
    from pymatgen.io.ase import AseAtomsAdaptor
    from sevenn.calculator import SevenNetCalculator

    from sianode_flows.forcefields import load_model

    model = load_model("sevennet", device="cpu")
    state = structures_to_state(small_configurations, torch.device("cpu"), torch.float64)
    output = model(state)
    assert output["energy"].dtype == torch.float64
    calculator = SevenNetCalculator("7net-0", device="cpu")
    for index, structure in enumerate(small_configurations):
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calculator
        assert output["energy"][index].item() == pytest.approx(
            atoms.get_potential_energy(), abs=1e-4
        )
        forces = output["forces"][state.system_idx == index].numpy()
        np.testing.assert_allclose(forces, atoms.get_forces(), atol=1e-4)
        stress = output["stress"][index].numpy()
        np.testing.assert_allclose(stress, atoms.get_stress(voigt=False), atol=1e-6)


def test_unknown_potential_is_refused():
    from sianode_flows.forcefields import load_model

    with pytest.raises(ValueError, match="no batched model"):
        load_model("mace")
