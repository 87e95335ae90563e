"""The screening flow: selection by capacity, fan-out, failures kept as documents."""

import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sianode_flows.builtin import builtin_records
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.results import (
    VERDICT_ORDER,
    candidate_documents,
    failure_documents,
    fit_documents,
    rank,
)
from sianode_flows.schemas import StructureRecord


def bad_records(li15si4_primitive):
    disordered = li15si4_primitive.copy()
    disordered.replace(37, {"Si": 0.5, "Ge": 0.5})
    silicon = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    lisi_o = Structure(
        Lattice.cubic(5), ["Li", "Si", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]]
    )
    li_rich_low = Structure(
        Lattice.cubic(6),
        ["Li", "Si", "Sn", "Sn"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0], [0, 0.5, 0]],
    )
    return [
        StructureRecord(source="file", source_id="broken.cif", error="ValueError: bad CIF"),
        StructureRecord(source="test", source_id="disordered", structure=disordered),
        StructureRecord(source="test", source_id="no-li", structure=silicon),
        StructureRecord(source="test", source_id="oxide", structure=lisi_o),
        StructureRecord(source="test", source_id="low-capacity", structure=li_rich_low),
    ]


def test_screening_batch_completes_with_bad_inputs(
    li15si4_primitive, quick_relax_maker, memory_store
):
    records = builtin_records()[:2] + bad_records(li15si4_primitive)
    maker = ScreeningMaker(
        channel_maker=ChannelStabilityMaker(
            n_configs=3, relax_maker=quick_relax_maker, fit_unconverged=True
        )
    )
    flow = maker.make(records)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)

    fits = flow.output.resolve(memory_store)
    assert sorted(f.formula for f in fits) == ["Li15Si4", "Li30Si7Ge"]
    assert all(f.n_configs == 3 and f.slope is not None for f in fits)

    selection = flow.jobs[0].output.resolve(memory_store)
    assert selection.n_inputs == 7
    assert [c.candidate_id for c in selection.below_threshold] == ["test:low-capacity"]
    reasons = {f.input: (f.step, f.message) for f in selection.failures}
    assert reasons["file:broken.cif"][0] == "read"
    assert "disordered" in reasons["test:disordered"][1]
    assert "contains no Li" in reasons["test:no-li"][1]
    assert "O is not a metal" in reasons["test:oxide"][1]

    # everything is queryable from the store afterwards
    assert {f.candidate_id for f in fit_documents(memory_store)} == {f.candidate_id for f in fits}
    assert len(candidate_documents(memory_store)) == 3
    assert len(failure_documents(memory_store)) == 4
    ranked = rank(fits)
    # Li15Si4 is the default reference: its own fit stands for it, and ranks last
    assert [f.shown_verdict for f in ranked] == ["insufficient-data", "reference"]
    assert [f.shown_verdict for f in ranked] == sorted(
        (f.shown_verdict for f in ranked), key=VERDICT_ORDER.__getitem__
    )
    (ge,) = [f for f in fits if f.role == "candidate"]
    assert ge.reference == "builtin:Li15Si4" and ge.paired


def test_bare_structures_and_empty_selection(memory_store):
    silicon = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    flow = ScreeningMaker().make([silicon])
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    assert flow.output.resolve(memory_store) == []
    selection = flow.jobs[0].output.resolve(memory_store)
    assert selection.failures[0].input == "user:structure-0"


def test_capacity_threshold_is_configurable(memory_store):
    maker = ScreeningMaker(min_capacity=5000, channel_maker=ChannelStabilityMaker(n_configs=3))
    flow = maker.make(builtin_records())
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    selection = flow.jobs[0].output.resolve(memory_store)
    assert selection.selected == []
    assert len(selection.below_threshold) == 4
    assert min(c.capacity_mAh_g for c in selection.below_threshold) == pytest.approx(2550, abs=5)
