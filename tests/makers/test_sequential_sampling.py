"""Sequential sampling, per-configuration reuse and retries: real CHGNet and CAVD, small cells."""

import pytest
from atomate2.forcefields.jobs import ForceFieldStaticMaker
from jobflow import run_locally

from sianode_flows.jobs.delithiate import configurations_of
from sianode_flows.makers import ChannelStabilityMaker
from sianode_flows.schemas import CandidateDocument, FailureDocument, Provenance


def relax_jobs(store) -> int:
    """Relax jobs stored so far (one batched job relaxes every missing configuration)."""
    return store.count({"name": {"$regex": "relax"}})


def relaxed_structures(store) -> int:
    """Structures relaxed so far: the entries of every stored batched relax output."""
    return sum(len(d["output"]) for d in store.query({"name": {"$regex": "relax"}}))


@pytest.fixture
def undecided_maker(quick_relax_maker):
    """Li15Si4 configurations within 5 % of half charge: their slope cannot be told.

    With SOC between 0.45 and 0.55 and no ends, a noisy R_t gives a slope interval
    far wider than +-0.05, whatever the sign of the slope.
    """
    return ChannelStabilityMaker(
        n_configs=4,
        round_size=4,
        max_configs=12,
        seed=5,
        soc_range=(0.45, 0.55),
        include_charged=False,
        include_delithiated=False,
        slope_threshold=0.05,
        relax_maker=quick_relax_maker,
        fit_unconverged=True,
        min_configs=4,  # small, to test the rounds; verdicts need 20 by default
    )


def test_a_flat_case_stops_after_the_first_round(li15si4_primitive, memory_store):
    """Unrelaxed frameworks keep the pristine channel: slope 0, decided at once."""
    maker = ChannelStabilityMaker(
        n_configs=4,
        round_size=4,
        max_configs=40,
        min_configs=4,
        relax_maker=ForceFieldStaticMaker(force_field_name="CHGNet"),
    )
    flow = maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    fit = flow.output.resolve(memory_store)
    assert fit.verdict == "stable" and fit.stop_reason == "decided"
    assert len(fit.rounds) == 1 and fit.n_configs == 4 and fit.n_relaxed == 4
    assert fit.slope_ci_low == pytest.approx(0, abs=1e-3)
    assert fit.slope_ci_high == pytest.approx(0, abs=1e-3)
    assert fit.protocol.max_configs == 40


def test_an_undecided_case_samples_up_to_the_cap(li15si4_primitive, memory_store, undecided_maker):
    flow = undecided_maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    fit = flow.output.resolve(memory_store)
    assert fit.verdict == "undecided" and fit.stop_reason == "cap reached"
    assert [r.round for r in fit.rounds] == [1, 2, 3]
    assert [r.config_indices for r in fit.rounds] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert all(r.verdict == "undecided" for r in fit.rounds)
    assert [r.n_points for r in fit.rounds] == [4, 8, 12]
    assert fit.n_configs == 12 and fit.n_relaxed == 12 and fit.n_reused == 0
    assert {p.round for p in fit.points} == {1, 2, 3}
    # one batched relax per round; only the last round's fit is stored as a fit
    assert relax_jobs(memory_store) == 3
    assert memory_store.count({"output.@class": "SlopeFitDocument"}) == 1

    # a rerun with the same settings returns the stored fit: nothing relaxed
    again = undecided_maker.make(li15si4_primitive)
    run_locally(again, store=memory_store, ensure_success=True, log=False)
    assert again.output.resolve(memory_store).run_key == fit.run_key
    assert relax_jobs(memory_store) == 3

    # another threshold is another fit, but every relaxation is reused
    decided = ChannelStabilityMaker(**{**vars(undecided_maker), "slope_threshold": 50.0})
    rerun = decided.make(li15si4_primitive)
    run_locally(rerun, store=memory_store, ensure_success=True, log=False)
    refit = rerun.output.resolve(memory_store)
    assert refit.verdict == "stable" and refit.stop_reason == "decided"
    assert refit.n_relaxed == 0 and refit.n_reused == 4
    assert relax_jobs(memory_store) == 3
    assert refit.points == [p.model_copy(update={"reused": True}) for p in fit.points[:4]]


def test_a_higher_cap_relaxes_only_the_new_rounds(li15si4_primitive, memory_store, undecided_maker):
    lower = ChannelStabilityMaker(**{**vars(undecided_maker), "max_configs": 8})
    first = lower.make(li15si4_primitive)
    run_locally(first, store=memory_store, ensure_success=True, log=False)
    low_fit = first.output.resolve(memory_store)
    assert low_fit.stop_reason == "cap reached" and low_fit.n_configs == 8
    assert relaxed_structures(memory_store) == 8

    higher = undecided_maker.make(li15si4_primitive)  # cap 12
    run_locally(higher, store=memory_store, ensure_success=True, log=False)
    high_fit = higher.output.resolve(memory_store)
    assert [r.n_reused for r in high_fit.rounds] == [4, 4, 0]
    assert [r.n_relaxed for r in high_fit.rounds] == [0, 0, 4]
    assert relaxed_structures(memory_store) == 12  # only round 3 was relaxed
    by_index = {p.config_index: p for p in high_fit.points}
    for point in low_fit.points:
        assert by_index[point.config_index].r_t == point.r_t


def test_round_k_is_the_same_whatever_the_cap(li15si4_primitive):
    candidate = CandidateDocument.from_structure(li15si4_primitive, [Provenance(source="user")])
    small = ChannelStabilityMaker(n_configs=10, round_size=10, max_configs=20).protocol
    large = ChannelStabilityMaker(n_configs=10, round_size=10, max_configs=40).protocol
    for round_number in (1, 2):
        a = configurations_of(candidate, small, round_number)
        b = configurations_of(candidate, large, round_number)
        assert [c.removed_sites for c in a] == [c.removed_sites for c in b]
        assert [c.config_index for c in a] == [c.config_index for c in b]
    second = configurations_of(candidate, large, 2)
    third = configurations_of(candidate, large, 3)
    assert [c.config_index for c in second] == list(range(10, 20))
    assert [c.config_index for c in third] == list(range(20, 30))
    # later rounds hold no ends and cover the range, stratified on their own
    assert all(0.0 < c.soc < 1.0 for c in [*second, *third])
    assert min(c.soc for c in second) < 0.15 and max(c.soc for c in second) > 0.85
    assert [c.removed_sites for c in second] != [c.removed_sites for c in third]
    # a fixed sample of 10 is the first round
    fixed = ChannelStabilityMaker(n_configs=10).protocol
    first = configurations_of(candidate, fixed)
    assert [c.removed_sites for c in first] == [
        c.removed_sites for c in configurations_of(candidate, small, 1)
    ]


def test_a_failed_configuration_is_not_relaxed_again_unless_asked(
    li15si4_primitive, quick_relax_maker, memory_store
):
    maker = ChannelStabilityMaker(
        n_configs=4, seed=1, relax_maker=quick_relax_maker, fit_unconverged=True
    )
    first = maker.make(li15si4_primitive)
    run_locally(first, store=memory_store, ensure_success=True, log=False)
    fit = first.output.resolve(memory_store)
    assert fit.n_configs == 4 and fit.n_failed == 0
    # inject a failure: configuration 2's measurement is replaced by a failure document
    stored = memory_store.query_one({"name": "channel 2"}, load=False)
    failure = FailureDocument(
        input="injected",
        step="relax",
        error_type="RelaxFailed",
        message="injected failure",
        candidate_id=fit.candidate_id,
        config_index=2,
        relax_key=stored["output"]["relax_key"],
        config_key=stored["output"]["config_key"],
    )
    memory_store.docs_store.update(
        {**stored, "output": failure.model_dump(mode="json") | failure_class()}, key="uuid"
    )
    assert relaxed_structures(memory_store) == 4

    # another threshold: no stored fit, every configuration looked up; one failed
    other = ChannelStabilityMaker(**{**vars(maker), "slope_threshold": 0.4})
    rerun = other.make(li15si4_primitive)
    run_locally(rerun, store=memory_store, ensure_success=True, log=False)
    refit = rerun.output.resolve(memory_store)
    assert refit.n_failed == 1 and refit.n_configs == 3 and refit.n_relaxed == 0
    assert refit.failure_reasons == {"relax: RelaxFailed": 1}
    assert relaxed_structures(memory_store) == 4  # nothing relaxed

    # asked to retry: only that configuration is relaxed again
    retry = ChannelStabilityMaker(**{**vars(other), "retry_failed": True})
    retried = retry.make(li15si4_primitive)
    run_locally(retried, store=memory_store, ensure_success=True, log=False)
    fixed = retried.output.resolve(memory_store)
    assert fixed.n_failed == 0 and fixed.n_configs == 4
    assert fixed.n_relaxed == 1 and fixed.n_reused == 3
    assert relaxed_structures(memory_store) == 5
    by_index = {p.config_index: p for p in fixed.points}
    assert by_index[2].r_t == pytest.approx(next(p.r_t for p in fit.points if p.config_index == 2))


def failure_class() -> dict:
    return {"@module": "sianode_flows.schemas.failure", "@class": "FailureDocument"}
