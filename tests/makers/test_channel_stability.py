"""The channel-stability flow end to end: real CHGNet, real CAVD, small cells."""

import pytest
from jobflow import run_locally
from pymatgen.core import Structure

from sianode_flows.jobs.batched_relax import BatchedRelaxMaker
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker
from sianode_flows.results import failure_documents
from sianode_flows.schemas import ChannelDocument, SlopeFitDocument


def test_flow_runs_and_stores_every_document(li15si4_primitive, quick_relax_maker, memory_store):
    maker = ChannelStabilityMaker(
        n_configs=4, seed=3, relax_maker=quick_relax_maker, fit_unconverged=True
    )
    flow = maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)

    fit = flow.output.resolve(memory_store)
    assert isinstance(fit, SlopeFitDocument)
    assert fit.n_configs == 4 and fit.n_failed == 0
    assert fit.capacity_mAh_g == pytest.approx(3578.6, abs=1)
    assert 1.55 < fit.r_t_charged < 1.70
    assert sorted(p.soc for p in fit.points)[0] == 0.0
    assert fit.slope is not None and fit.slope_err >= 0
    assert fit.protocol.seed == 3 and fit.run_key
    assert fit.relax_maker == "BatchedRelaxMaker(CHGNet)"

    channel_outputs = [
        d["output"] for d in memory_store.query({"name": {"$regex": "^channel"}}, load=True)
    ]
    assert len(channel_outputs) == 4
    charged = next(c for c in channel_outputs if c["soc"] == 1.0)
    # the pristine cell converges in a few steps and keeps its channel
    assert charged["relaxation"]["converged"] is True
    assert 1.55 < charged["r_t"] < 1.70
    assert charged["relaxation"]["energy_per_atom"] == pytest.approx(-2.889, abs=0.01)
    # relaxed structures go to the data store, not the documents collection
    raw = memory_store.docs_store.query_one({"name": "channel 0"})
    assert "blob_uuid" in raw["output"]["structure"]
    assert memory_store.additional_stores["data"].count() >= 4
    restored = memory_store.query_one({"name": "channel 0"}, load=True)["output"]
    assert Structure.from_dict(restored["structure"]).composition["Si"] == 8

    # documents deserialize to their schemas
    from monty.json import MontyDecoder

    assert isinstance(MontyDecoder().process_decoded(charged), ChannelDocument)


def test_rerun_skips_a_stored_fit(li15si4_primitive, quick_relax_maker, memory_store):
    maker = ChannelStabilityMaker(n_configs=3, relax_maker=quick_relax_maker, fit_unconverged=True)
    first = maker.make(li15si4_primitive)
    run_locally(first, store=memory_store, ensure_success=True, log=False)
    n_docs = memory_store.count()
    second = maker.make(li15si4_primitive)
    run_locally(second, store=memory_store, ensure_success=True, log=False)
    assert second.output.resolve(memory_store).run_key == first.output.resolve(memory_store).run_key
    n_relax = memory_store.count({"name": {"$regex": "relax"}})
    assert n_relax == 1  # one batched relax of the three configurations, not run twice
    assert memory_store.count() < 2 * n_docs


@pytest.mark.parametrize(
    "relax_maker",
    [
        # MACE is a valid atomate2 force field whose package is not installed here:
        # every relax job fails at run time, as a real missing potential would
        default_relax_maker(batched=False, force_field_name="MACE"),
        # the batched job fails as a whole: no batched model of that name
        BatchedRelaxMaker(potential="mace"),
    ],
    ids=["per-structure", "batched"],
)
def test_a_failing_relax_is_recorded_and_the_fit_still_runs(
    li15si4_primitive, memory_store, relax_maker
):
    maker = ChannelStabilityMaker(n_configs=3, relax_maker=relax_maker)
    flow = maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, log=False)
    fit = flow.output.resolve(memory_store)
    assert fit.verdict == "insufficient-data"
    assert fit.n_failed == 3 and fit.slope is None
    assert "at least 3 points" in fit.note
    failures = failure_documents(memory_store)
    assert len(failures) == 3
    assert {f.step for f in failures} == {"relax"}
    assert all(f.candidate_id == fit.candidate_id for f in failures)


def test_swapping_the_relax_maker(li15si4_primitive, memory_store):
    """Any maker returning a task document works: here atomate2's static CHGNet maker."""
    from atomate2.forcefields.jobs import ForceFieldStaticMaker

    maker = ChannelStabilityMaker(
        n_configs=3, relax_maker=ForceFieldStaticMaker(force_field_name="CHGNet")
    )
    flow = maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    fit = flow.output.resolve(memory_store)
    assert fit.relax_maker == "ForceFieldStaticMaker(CHGNet)"
    # unrelaxed frameworks keep the pristine channel at every SOC
    assert all(p.r_t == pytest.approx(fit.r_t_charged, abs=1e-3) for p in fit.points)
    assert fit.slope == pytest.approx(0.0, abs=1e-3)


@pytest.mark.slow
def test_li15si4_channels_shrink_on_delithiation(li15si4_primitive, memory_store):
    """Full CHGNet relaxations (fmax 0.05): the paper's positive slope for pure Si."""
    maker = ChannelStabilityMaker(n_configs=6, seed=0, relax_maker=default_relax_maker())
    flow = maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    fit = flow.output.resolve(memory_store)
    assert fit.n_configs == 6 and fit.n_unconverged == 0
    assert fit.slope > 0
    empty = next(p for p in fit.points if p.soc == 0.0)
    assert empty.r_t < fit.r_t_charged


def test_a_cell_above_the_site_cap_is_refused_with_its_size(li15si4_primitive, memory_store):
    from sianode_flows.analysis.validation import CandidateError
    from sianode_flows.schemas import CandidateDocument, Provenance

    big = li15si4_primitive * (2, 1, 1)
    maker = ChannelStabilityMaker(n_configs=3, max_sites=50)
    candidate = CandidateDocument.from_structure(big, [Provenance(source="test")])
    with pytest.raises(CandidateError, match="76 sites is more than the limit of 50"):
        maker.make(candidate)

    flow = maker.make(big)
    responses = run_locally(flow, store=memory_store, log=False)
    candidate_job = flow.jobs[0]
    assert candidate_job.name == "candidate" and candidate_job.uuid not in responses
    assert ChannelStabilityMaker().max_sites == 400
