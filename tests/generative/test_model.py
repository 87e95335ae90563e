"""The conditional crystal VAE: data, training, sampling and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from torch_geometric.data import Batch

from sianode_flows.analysis.capacity import gravimetric_capacity
from sianode_flows.builtin import builtin_records
from sianode_flows.generative import GenerationTarget
from sianode_flows.generative.checkpoint import (
    FORMAT_VERSION,
    CheckpointFormatError,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from sianode_flows.generative.data import (
    ELEMENT_INDEX,
    ELEMENTS,
    CrystalExample,
    build_examples,
    load_shared_structures,
    to_graph,
)
from sianode_flows.generative.model import ConditionalCrystalVAE, ModelConfig
from sianode_flows.generative.train import element_volumes, train_model
from tests.generative.cells import small_cells

TINY = ModelConfig(
    hidden=32, latent_dim=8, num_layers=2, n_rbf=16, n_sigmas=5, langevin_steps=2, max_atoms=8
)
EPOCHS = 30


@pytest.fixture(scope="module")
def examples() -> list[CrystalExample]:
    return build_examples(list(small_cells().items()))


@pytest.fixture(scope="module")
def trained(examples):
    return train_model(
        examples, TINY, epochs=EPOCHS, batch_size=2, lr=1e-3, patience=100, seed=0, progress=False
    )


def test_build_examples_labels_and_filters(examples):
    li_only = Structure(Lattice.cubic(3.5), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    disordered = Structure(Lattice.cubic(3.0), [{"Li": 0.5, "Si": 0.5}], [[0, 0, 0]])
    large = builtin_records()  # 38-atom Li15Si4 cells: over max_atoms
    items = [("Li", li_only), (disordered, "disordered"), *large, *small_cells().items()]
    built = build_examples(items, max_atoms=20)
    assert [e.source_id for e in built] == [e.source_id for e in examples]
    assert len(built) == len(small_cells())
    by_id = {e.source_id: e for e in built}
    assert by_id["Si"].capacity_mAh_g == 0.0
    assert by_id["Li2Si"].capacity_mAh_g == pytest.approx(
        gravimetric_capacity(small_cells()["Li2Si"])
    )
    assert all(0.5 < e.channel_radius < 2.5 for e in built)
    assert len(build_examples(large[:1], max_atoms=40)) == 1


def test_to_graph_fields(examples):
    example = next(e for e in examples if e.source_id == "Li2Si")
    graph = to_graph(example)
    assert graph.num_nodes == 3
    assert graph.atom_types.tolist() == [ELEMENTS.index(s.specie.symbol) for s in example.structure]
    assert graph.lengths.shape == graph.angles.shape == (1, 3)
    assert graph.elements.shape == (1, len(ELEMENTS))
    assert graph.elements.sum() == 2
    assert graph.edge_index.shape[1] == len(graph.edge_dist) == len(graph.to_jimages)
    nearest = float(example.structure.get_neighbor_list(3.0)[3].min())
    assert float(graph.edge_dist.min()) == pytest.approx(nearest, abs=1e-4)
    assert float(graph.capacity) == pytest.approx(example.capacity_mAh_g)
    # a bare structure gets its labels computed
    bare = to_graph(example.structure)
    assert float(bare.channel_radius) == pytest.approx(example.channel_radius, abs=1e-4)


def test_encoder_invariant_to_rotation_permutation_translation(examples):
    torch.manual_seed(0)
    model = ConditionalCrystalVAE(TINY).eval()
    structure = next(e for e in examples if e.source_id == "LiSi2").structure
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    moved = Structure(
        Lattice(structure.lattice.matrix @ rotation.T),
        [s.specie for s in reversed(structure)],
        [np.mod(s.frac_coords + 0.37, 1.0) for s in reversed(structure)],
    )
    mu, _ = model.encode(Batch.from_data_list([to_graph(structure, channel_radius=1.0)]))
    mu2, _ = model.encode(Batch.from_data_list([to_graph(moved, channel_radius=1.0)]))
    assert torch.allclose(mu, mu2, atol=1e-5)


def test_training_loss_falls(trained):
    assert len(trained.history) == EPOCHS
    # same noise before and after: the loss on the training set falls
    start, end = trained.initial_losses, trained.final_losses
    assert end["train_loss"] < start["train_loss"]
    assert end["train_composition"] < 0.5 * start["train_composition"]
    assert end["train_num_atoms"] < start["train_num_atoms"]
    assert 1 <= trained.best_epoch <= EPOCHS
    assert trained.best_val_loss == min(row["val_loss"] for row in trained.history)
    assert trained.n_train + trained.n_val == len(small_cells())
    assert trained.n_val >= 1


def test_sampling_reproducible_and_valid(trained):
    model = trained.model
    target = GenerationTarget(forbidden_elements=("Ge",))
    first = model.sample(6, target, seed=3)
    again = model.sample(6, target, seed=3)
    other = model.sample(6, target, seed=4)
    assert first == again
    assert all(np.allclose(a.frac_coords, b.frac_coords) for a, b in zip(first, again, strict=True))
    assert first != other
    for structure in first + other:
        assert isinstance(structure, Structure)
        assert len(structure) >= 1
        assert structure.volume > 0
        symbols = {el.symbol for el in structure.composition.elements}
        assert {"Li", "Si"} <= symbols
        assert "Ge" not in symbols
        assert structure.is_ordered
    with pytest.raises(ValueError, match="both required and forbidden"):
        model.sample(1, GenerationTarget(forbidden_elements=("Si",)), seed=0)


def test_distinct_sampling_returns_mutually_different_structures(trained):
    from sianode_flows.generative.metrics import unique_mask
    from sianode_flows.generative.sampling import sample_distinct

    model, target = trained.model, GenerationTarget()
    plain = model.sample(12, target, seed=5)
    distinct = sample_distinct(model, 12, target, seed=5)
    assert len(distinct) == 12 and all(unique_mask(distinct))
    # the first round is the plain draw: its distinct samples come first, in order
    kept = [s for s, new in zip(plain, unique_mask(plain), strict=True) if new]
    assert distinct[: len(kept)] == kept


def test_selected_sampling_keeps_the_samples_nearest_the_target(trained):
    from sianode_flows.analysis.channel import channel_radii_many
    from sianode_flows.generative.sampling import sample_selected, target_distance

    model, target = trained.model, GenerationTarget(capacity_mAh_g=1500.0, channel_radius=1.0)
    drawn = model.sample(12, target, seed=6)  # what a 3x oversampling of 4 draws
    kept = sample_selected(model, 4, target, seed=6, oversample=3)
    radii = [None if isinstance(r, Exception) else r.r_t for r in channel_radii_many(drawn)]
    distances = sorted(target_distance(s, r, target) for s, r in zip(drawn, radii, strict=True))
    kept_radii = [r.r_t for r in channel_radii_many(kept)]
    kept_distances = [target_distance(s, r, target) for s, r in zip(kept, kept_radii, strict=True)]
    assert kept_distances == pytest.approx(distances[:4])
    assert sample_selected(model, 4, target, seed=6, oversample=1) == model.sample(4, target, 6)


def test_conditions_per_sample_and_temperature(trained):
    model, target = trained.model, GenerationTarget()
    labels = trained.condition_labels
    assert len(labels) == trained.n_train and all(len(pair) == 2 for pair in labels)
    drawn = model.sample(3, target, seed=2, conditions=labels[:3])
    assert len(drawn) == 3 and drawn != model.sample(3, target, seed=2)
    with pytest.raises(ValueError, match="2 conditions for 3 samples"):
        model.sample(3, target, seed=2, conditions=labels[:2])
    assert model.sample(3, target, seed=2, temperature=2.0) != model.sample(3, target, seed=2)


def test_checkpoint_round_trip(trained, tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", trained.model, trained.summary())
    loaded = load_checkpoint(path)
    target = GenerationTarget(capacity_mAh_g=2500.0, channel_radius=1.4)
    assert loaded.sample(4, target, seed=7) == trained.model.sample(4, target, seed=7)
    meta = read_metadata(path)
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["sianode_flows_version"]
    assert meta["model_config"]["hidden"] == TINY.hidden
    assert meta["element_vocabulary"] == list(ELEMENTS)
    assert len(meta["label_normalization"]["lattice_mean"]) == 6
    assert meta["training"]["n_examples"] == len(small_cells())
    assert "date" in meta["training"]
    assert loaded.metadata == meta


def test_checkpoint_refuses_newer_format(trained, tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", trained.model)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    torch.save(payload, path)
    with pytest.raises(CheckpointFormatError, match="format version"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(1)}, path)
    with pytest.raises(CheckpointFormatError, match="not a sianode_flows"):
        load_checkpoint(path)


def test_load_shared_structures(shared_data):
    found = load_shared_structures(shared_data / "gnome_li_or_si.csv.gz", max_atoms=12, limit=3)
    assert len(found) == 3
    for source_id, structure in found:
        assert source_id.startswith("gnome:")
        assert len(structure) <= 12
        assert {"Li", "Si"} & {el.symbol for el in structure.composition.elements}


def test_volume_prior_sets_the_volume_of_sampled_cells():
    graphs = [to_graph(s, capacity=0.0, channel_radius=0.0) for s in small_cells().values()]
    volumes = element_volumes(graphs)
    fitted = {el: float(volumes[ELEMENT_INDEX[el]]) for el in ("Li", "Si", "Ge")}
    assert all(v > 5.0 for v in fitted.values()) and float(volumes.sum()) == pytest.approx(
        sum(fitted.values())
    )
    model = ConditionalCrystalVAE(TINY)
    model.element_volumes.copy_(volumes)
    others = tuple(e for e in ELEMENTS if e not in fitted)
    target = GenerationTarget(required_elements=("Li", "Si"), forbidden_elements=others)
    for structure in model.sample(4, target, seed=0):
        expected = sum(fitted[el.symbol] * n for el, n in structure.composition.items())
        assert structure.volume == pytest.approx(expected, rel=1e-4)
