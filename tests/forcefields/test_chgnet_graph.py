"""CHGNet's graphs built for the whole batch with tensors: the converter's graphs, exactly."""

import numpy as np
import pytest
import torch
from chgnet.graph import CrystalGraphConverter
from pymatgen.core import Lattice, Structure
from torch_sim.io import structures_to_state

from sianode_flows.analysis.delithiation import delithiate
from sianode_flows.builtin import builtin_records
from sianode_flows.forcefields.chgnet import CHGNetModel
from sianode_flows.forcefields.chgnet_graph import (
    VerletPairs,
    crystal_graph,
    fractional_coordinates,
    periodic_pairs,
)

GPA_PER_EV_A3 = 160.21766208


@pytest.fixture(scope="module")
def test_structures(li15si4_primitive):
    """Every kind of cell the builder must get right, named."""
    configurations = delithiate(li15si4_primitive, n_configs=12, seed=3)
    by_size = sorted(configurations, key=lambda c: len(c.structure))
    structures = {record.source_id: record.structure for record in builtin_records()}
    structures["half delithiated"] = by_size[len(by_size) // 2].structure
    structures["empty framework"] = by_size[0].structure  # Si only
    structures["triclinic"] = Structure(
        Lattice.from_parameters(4.1, 5.3, 6.2, 71, 83, 104),
        ["Li", "Si", "Li"],
        [[0, 0, 0], [0.3, 0.6, 0.2], [0.7, 0.1, 0.55]],
    )
    # 2.45 A along a: the atom's own images are neighbours, bonds and angles too
    structures["short axis"] = Structure(
        Lattice.from_parameters(2.45, 7.0, 7.5, 90, 95, 90),
        ["Si", "Li"],
        [[0, 0, 0], [0.5, 0.5, 0.5]],
    )
    structures["isolated atom"] = Structure(Lattice.cubic(14.0), ["Li"], [[0.1, 0.2, 0.3]])
    outside = li15si4_primitive.frac_coords.copy()
    outside[:5] += np.array([1, -1, 2])  # atoms outside the cell, as a relaxation leaves them
    structures["atoms outside the cell"] = Structure(
        li15si4_primitive.lattice, li15si4_primitive.species, outside
    )
    assert len(structures["empty framework"].composition.elements) == 1
    return structures


@pytest.fixture(scope="module")
def converter(chgnet_model):
    """CHGNet's own converter, isolated atoms allowed (the reference)."""
    return CrystalGraphConverter(
        atom_graph_cutoff=chgnet_model.atom_cutoff,
        bond_graph_cutoff=chgnet_model.bond_cutoff,
        on_isolated_atoms="ignore",
    )


def converter_sets(graph):
    """Directed edges (i, j, image) and angles (centre, edge, edge) of a CrystalGraph."""
    pairs = graph.atom_graph.reshape(-1, 2).tolist()
    images = graph.neighbor_image.round().int().tolist()
    edges = [(a, b, *image) for (a, b), image in zip(pairs, images, strict=True)]
    angles = {(row[0], edges[row[2]], edges[row[4]]) for row in graph.bond_graph.tolist()}
    return set(edges), angles


def builder_sets(graph, start, stop):
    """The same sets for the atoms start..stop of a batched graph, renumbered from 0."""
    pairs, images = graph.atom_graph.tolist(), graph.images.tolist()
    edges = [(a - start, b - start, *image) for (a, b), image in zip(pairs, images, strict=True)]
    mine = {i for i, (a, _) in enumerate(pairs) if start <= a < stop}
    angles = {
        (center - start, edges[first], edges[second])
        for center, first, second in graph.angles.tolist()
        if start <= center < stop
    }
    return {edges[i] for i in mine}, angles


def test_every_edge_bond_and_angle_is_the_converters(chgnet_model, converter, test_structures):
    structures = list(test_structures.values())
    state = structures_to_state(structures, torch.device("cpu"), torch.float64)
    _, graph = chgnet_model.batch_graph(state)  # one batch mixing all of them
    start = 0
    for name, structure in test_structures.items():
        stop = start + len(structure)
        expected_edges, expected_angles = converter_sets(converter(structure))
        edges, angles = builder_sets(graph, start, stop)
        assert edges == expected_edges, name
        assert angles == expected_angles, name
        start = stop
    assert not converter_sets(converter(test_structures["isolated atom"]))[0]
    assert converter_sets(converter(test_structures["short axis"]))[1]  # self-image angles
    # each directed edge is one of the two of its undirected bond, its reverse the other
    d2u, u2d = graph.directed2undirected, graph.undirected2directed
    assert torch.equal(torch.bincount(d2u), torch.full((graph.n_undirected,), 2))
    assert torch.equal(d2u[u2d], torch.arange(graph.n_undirected))
    partner = torch.argsort(d2u * 2 + (torch.arange(len(d2u)) != u2d[d2u]).long())
    pairs = graph.atom_graph[partner].reshape(-1, 2, 2)
    assert torch.equal(pairs[:, 0, 0], pairs[:, 1, 1])
    images = graph.images[partner].reshape(-1, 2, 3)
    assert torch.equal(images[:, 0], -images[:, 1])


def test_energies_forces_stresses_equal_chgnets(chgnet_model, converter, test_structures):
    structures = list(test_structures.values())
    state = structures_to_state(structures, torch.device("cpu"), torch.float64)
    output = chgnet_model(state)
    graphs = [converter(structure) for structure in structures]
    expected = chgnet_model.model.predict_graph(graphs, task="efs", batch_size=1)
    for index, (name, structure) in enumerate(test_structures.items()):
        reference = expected[index]
        n_atoms = len(structure)
        energy = output["energy"][index].item() / n_atoms
        assert energy == pytest.approx(float(reference["e"]), abs=1e-5), name
        forces = output["forces"][state.system_idx == index].numpy()
        np.testing.assert_allclose(forces, reference["f"].reshape(-1, 3), atol=1e-4, err_msg=name)
        stress = output["stress"][index].numpy() * GPA_PER_EV_A3
        np.testing.assert_allclose(stress, reference["s"], atol=1e-4, err_msg=name)
    # and the path of predict_structure (the converter CHGNet ships) for the ordinary cells
    ordinary = [test_structures[name] for name in ("Li15Si4", "empty framework", "triclinic")]
    shipped = chgnet_model.model.predict_structure(ordinary, task="e", batch_size=1)
    for structure, reference in zip(ordinary, shipped, strict=True):
        index = structures.index(structure)
        energy = output["energy"][index].item() / len(structure)
        assert energy == pytest.approx(float(reference["e"]), abs=1e-5)


def test_both_builders_give_the_same_batch(chgnet_model, test_structures):
    structures = [s for name, s in test_structures.items() if name != "isolated atom"]
    state = structures_to_state(structures, torch.device("cpu"), torch.float64)
    through_converter = CHGNetModel(model=chgnet_model.model, graph_builder="converter")
    ours, theirs = chgnet_model(state), through_converter(state)
    for key in ("energy", "forces", "stress"):
        torch.testing.assert_close(ours[key], theirs[key], atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="unknown graph_builder"):
        CHGNetModel(model=chgnet_model.model, graph_builder="pymatgen")


def test_reused_neighbour_list_is_exact_while_atoms_and_cell_move(test_structures):
    structures = [test_structures["Li15Si4"], test_structures["triclinic"]]
    state = structures_to_state(structures, torch.device("cpu"), torch.float64)
    cells = state.row_vector_cell.clone()
    frac = fractional_coordinates(state.positions, cells, state.system_idx)
    reused = VerletPairs(6.0, skin=1.0)
    generator = torch.Generator().manual_seed(0)
    for step in range(12):
        moved = frac + 0.004 * step * torch.randn(frac.shape, generator=generator, dtype=frac.dtype)
        strained = cells @ (torch.eye(3, dtype=cells.dtype) + 0.003 * step * torch.eye(3))
        fresh = crystal_graph(
            periodic_pairs(moved, strained, state.system_idx, 6.0), 3.0, len(frac)
        )
        kept = crystal_graph(reused(moved, strained, state.system_idx), 3.0, len(frac))
        for name in ("atom_graph", "images", "directed2undirected", "angles"):
            assert torch.equal(getattr(fresh, name), getattr(kept, name)), (step, name)
        torch.testing.assert_close(fresh.distances, kept.distances)
    assert 1 < reused.builds < reused.calls  # rebuilt when needed, reused otherwise
    # a jump far beyond the skin forces a new search
    builds = reused.builds
    reused(frac + 0.5, cells, state.system_idx)
    assert reused.builds == builds + 1


def test_a_non_finite_system_is_named(chgnet_model, test_structures):
    structures = [test_structures["Li15Si4"], test_structures["triclinic"]]
    state = structures_to_state(structures, torch.device("cpu"), torch.float64)
    state.positions[-1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"system\(s\) \[1\]"):
        chgnet_model(state)


def test_the_setting_falls_back_to_the_converter(monkeypatch):
    from sianode_flows.forcefields import load_model

    monkeypatch.setenv("SIANODE_CHGNET_GRAPH", "converter")
    assert load_model("chgnet", device="cpu").graph_builder == "converter"
    monkeypatch.delenv("SIANODE_CHGNET_GRAPH")
    assert load_model("chgnet", device="cpu").graph_builder == "torch"
