"""Reference hulls with real CHGNet relaxations: known ground states, reuse, verdicts."""

import pytest
from jobflow import Flow, run_locally
from monty.json import MontyDecoder
from pymatgen.core import Lattice, Structure

from sianode_flows.analysis.hull import hull_position, phases_in_system
from sianode_flows.builtin import li15si4
from sianode_flows.generative.data import load_shared_structures
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.jobs.hull import (
    build_hull,
    diagram_of,
    on_hull,
    reference_hulls,
    relax_for_energies,
)
from sianode_flows.makers import VerifyMaker


@pytest.fixture(scope="module")
def li_si_phases(shared_data):
    pairs = load_shared_structures(
        shared_data / "mp2018_cgcnn.csv.gz", ("Li", "Si"), max_atoms=40, chemsys="Li-Si"
    )
    return phases_in_system(pairs, "Li-Si", per_formula=4, max_sites=40)


@pytest.fixture(scope="module")
def li_si_hull(li_si_phases):
    return build_hull("Li-Si", li_si_phases, steps=200, fmax=0.05)


def test_known_ground_states_lie_on_the_li_si_hull(li_si_hull):
    assert not li_si_hull.failures
    assert {"Li", "Si", "LiSi"} <= set(on_hull(li_si_hull))
    lowest = {}
    for entry in li_si_hull.entries:
        lowest[entry.formula] = min(lowest.get(entry.formula, 1.0), entry.e_above_hull)
    # the lithiated phases of the paper lie on or within 10 meV/atom of it (CHGNet)
    assert lowest["Li13Si4"] < 0.01 and lowest["Li15Si4"] < 0.01
    # diamond Si is the Si ground state; its 1-atom high-pressure polymorph is far above
    silicon = {e.source_id: e.e_above_hull for e in li_si_hull.entries if e.formula == "Si"}
    assert silicon["materials_project:mp-149"] < 0.001
    assert silicon["materials_project:mp-1014212"] > 0.2
    assert not any(e.prototype for e in li_si_hull.entries)  # the data has Li and Si


def test_a_strained_copy_lies_above_the_hull(li_si_hull, li_si_phases):
    lisi = next(s for key, s in li_si_phases if key == "materials_project:mp-795")
    strained = lisi.copy()
    strained.apply_strain(0.06)
    [(outcome, error)] = relax_for_energies([strained], steps=1, fmax=0.05)
    assert error is None
    energy = outcome.energies[0] / len(strained)  # before the first step
    position = hull_position(diagram_of(li_si_hull), strained.composition, energy)
    assert position.e_above_hull > 0.02
    assert set(position.decomposition) == {"LiSi"}


def test_reference_hulls_are_built_once_and_reused(memory_store):
    samples = [li15si4()]
    first = reference_hulls(samples, [li15si4()], steps=20, fmax=0.1)
    run_locally(first, store=memory_store, ensure_success=True, log=False)
    built = [d for d in memory_store.query({"name": "reference hull Li-Si"})]
    assert len(built) == 1
    hull = MontyDecoder().process_decoded(built[0]["output"])
    assert hull.chemsys == "Li-Si" and hull.potential.startswith("chgnet ")
    assert sorted(e.source_id for e in hull.entries if e.prototype) == [
        "prototype:Li",
        "prototype:Si",
    ]
    assert hull.max_li_per_host == pytest.approx(3.75)

    again = reference_hulls(samples, [li15si4()], steps=20, fmax=0.1)
    responses = run_locally(again, store=memory_store, ensure_success=True, log=False)
    assert len(list(memory_store.query({"name": "reference hull Li-Si"}))) == 1  # not rebuilt
    [reused] = responses[again.uuid][1].output
    assert reused.hull_key == hull.hull_key

    other = reference_hulls(samples, [li15si4()], steps=21, fmax=0.1)  # other settings
    run_locally(other, store=memory_store, ensure_success=True, log=False)
    assert len(list(memory_store.query({"name": "reference hull Li-Si"}))) == 2


def test_unconverged_samples_are_never_stable_and_li_rich_ones_are_over_lithiated(
    memory_store,
):
    reference = li15si4()
    rattled = reference.copy()
    rattled.perturb(0.05, min_distance=0.02)
    li4si = Structure(
        Lattice.cubic(4.5),
        ["Si", "Li", "Li", "Li", "Li"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]],
    )
    target = GenerationTarget(capacity_mAh_g=3500.0)
    flow = VerifyMaker(steps=3, fmax=0.05).make(
        [rattled, li4si], "substitution", target, training_structures=[], references=[reference]
    )
    run_locally(Flow([flow]), store=memory_store, ensure_success=True, log=False)
    raw = memory_store.query_one({"name": "verify"}, load=True)["output"]
    near, rich = MontyDecoder().process_decoded(raw)

    assert near.relax_converged is False and near.e_above_hull is not None
    assert near.e_above_hull < 0.1  # close to the hull, but not converged:
    assert near.hull_stable == {"0.1": False, "0.0": False}
    assert near.sun == {"0.1": False, "0.0": False}
    assert near.over_lithiated is False and near.decomposition

    assert rich.li_per_host == pytest.approx(4.0) and rich.over_lithiated is True
    assert rich.capacity_on_target is False and rich.capacity_hit is False
    assert set(rich.decomposition) <= {"Li", "Li15Si4"}


def test_a_hull_that_cannot_be_built_is_recorded_and_built_again(memory_store, monkeypatch):
    import sianode_flows.jobs.hull as hull_jobs

    def failing(structures, steps, fmax):
        return [(None, "relax: RuntimeError: diverged")] * len(structures)

    monkeypatch.setattr(hull_jobs, "relax_for_energies", failing)
    first = reference_hulls([li15si4()], [li15si4()], steps=5, fmax=0.1)
    run_locally(first, store=memory_store, ensure_success=True, log=False)
    raw = memory_store.query_one({"name": "reference hull Li-Si"}, load=True)["output"]
    hull = MontyDecoder().process_decoded(raw)
    assert hull.error == "ValueError: hull of Li-Si: no relaxed phase of Li, Si"
    assert hull.entries == [] and hull.max_li_per_host == pytest.approx(3.75)

    # the samples are verified all the same, without an energy above hull
    from sianode_flows.jobs.generate import verify_structures

    [doc] = verify_structures(
        [li15si4()], "model", GenerationTarget(), 0, relax=False, hulls=[hull]
    )
    assert doc.valid and doc.e_above_hull is None and doc.hull_stable == {}
    assert doc.over_lithiated is False  # the lithiation limit is known without energies

    again = reference_hulls([li15si4()], [li15si4()], steps=5, fmax=0.1)
    run_locally(again, store=memory_store, ensure_success=True, log=False)
    assert len(list(memory_store.query({"name": "reference hull Li-Si"}))) == 2  # retried


def test_references_of_every_kind_are_read_as_pairs():
    from sianode_flows.jobs.hull import as_pairs
    from sianode_flows.schemas import StructureRecord

    silicon = li15si4()
    record = StructureRecord(source="file", source_id="a.cif", structure=silicon)
    nested = [record, record]  # a harvest's output, resolved into the list
    pairs = as_pairs([silicon, ["mp-1", silicon], ("mp-2", silicon), "/some/data", nested])
    assert [key for key, _ in pairs] == ["reference-0", "mp-1", "mp-2", "a.cif", "a.cif"]
    assert all(structure is silicon for _, structure in pairs)
