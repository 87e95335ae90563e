"""Pooled relaxations: the same fits as one flow per candidate, in fewer, fuller jobs."""

import pytest
from jobflow import run_locally

from sianode_flows.builtin import builtin_records
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.jobs.screen import pool_by_atoms
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.results import fit_documents


def test_pools_hold_at_most_the_atoms_asked_and_keep_the_order():
    sizes = [76, 76, 38, 200, 10, 10]
    pools = pool_by_atoms(sizes, 160)
    assert pools == [[0, 1], [2], [3], [4, 5]]
    assert [p for pool in pools for p in pool] == list(range(len(sizes)))
    assert all(sum(sizes[p] for p in pool) <= 160 for pool in pools if len(pool) > 1)
    assert pool_by_atoms([], 100) == []
    with pytest.raises(ValueError, match="positive"):
        pool_by_atoms([1], 0)


def undecided_channel_maker(relax_maker):
    """Configurations near half charge: undecided after one round, so rounds follow."""
    return ChannelStabilityMaker(
        n_configs=3,
        round_size=3,
        max_configs=6,
        seed=5,
        soc_range=(0.45, 0.55),
        include_charged=False,
        include_delithiated=False,
        slope_threshold=0.05,
        relax_maker=relax_maker,
        fit_unconverged=True,
        min_configs=3,  # small, to test the rounds; verdicts need 20 by default
    )


def relax_jobs(store) -> list[dict]:
    return list(
        store.query({"name": {"$regex": "relax"}}, properties=["name", "output", "metadata"])
    )


def test_pooled_rounds_give_the_fits_of_one_flow_per_candidate(one_thread, memory_store):
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    records = builtin_records()[:2]
    relax_maker = default_relax_maker(batched=True, steps=8)
    channel_maker = undecided_channel_maker(relax_maker)

    per_candidate = ScreeningMaker(channel_maker=channel_maker, reference=None).make(records)
    run_locally(per_candidate, store=memory_store, ensure_success=True, log=False)
    expected = per_candidate.output.resolve(memory_store)

    pooled_store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    pooled_store.connect()
    pooled = ScreeningMaker(channel_maker=channel_maker, pool_atoms=50, reference=None).make(
        records
    )
    run_locally(pooled, store=pooled_store, ensure_success=True, log=False)
    fits = pooled.output.resolve(pooled_store)

    assert [f.candidate_id for f in fits] == [f.candidate_id for f in expected]
    # Li15Si4 samples a second round (in a pool of its own), Li30Si7Ge stops after one
    assert [(len(f.rounds), f.stop_reason) for f in fits] == [(2, "cap reached"), (1, "decided")]
    for got, want in zip(fits, expected, strict=True):
        assert got.run_key == want.run_key
        assert [(p.config_index, p.soc, p.r_t) for p in got.points] == [
            (p.config_index, p.soc, p.r_t) for p in want.points
        ]
        assert got.slope == want.slope and got.verdict == want.verdict
    # one batched job per candidate and round (3), against pools of at most 50
    # atoms (two ~23-atom configurations): round 1's six in 3 pools, one of them
    # shared by both candidates, round 2's three in 2 pools
    assert len(relax_jobs(memory_store)) == 3
    pools = relax_jobs(pooled_store)
    assert sorted(len(p["output"]) for p in pools) == [1, 2, 2, 2, 2]
    assert all("pool" in p["name"] for p in pools)
    assert max(len(p["metadata"]["candidate_ids"]) for p in pools) == 2
    # one slope-fit document per candidate: no pending round's fit, and the screen's
    # output refers to the fits instead of repeating them
    stored = fit_documents(pooled_store, latest_only=False)
    assert sorted(f.candidate_id for f in stored) == sorted(f.candidate_id for f in fits)
    lists = [
        doc["output"]
        for doc in pooled_store.query(
            {"name": {"$in": ["pooled round", "next pooled round"]}}, properties=["output"]
        )
    ]
    assert len(lists) == 4 and all(len(output) in (1, 2) for output in lists)
    assert {entry["@class"] for output in lists for entry in output} == {"OutputReference"}


def test_a_pooled_rerun_relaxes_nothing(memory_store):
    records = builtin_records()[:1]
    maker = ScreeningMaker(
        channel_maker=ChannelStabilityMaker(
            n_configs=3,
            relax_maker=default_relax_maker(batched=True, steps=4),
            fit_unconverged=True,
        ),
        pool_atoms=1000,
        reference=None,
    )
    run_locally(maker.make(records), store=memory_store, ensure_success=True, log=False)
    first = len(relax_jobs(memory_store))
    flow = maker.make(records)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    (fit,) = flow.output.resolve(memory_store)
    assert first == 1 and len(relax_jobs(memory_store)) == 1
    assert fit.n_configs == 3


def test_pooling_needs_a_batched_relax_maker():
    per_structure = default_relax_maker(batched=False, steps=4)
    with pytest.raises(ValueError, match="batched relax maker"):
        ScreeningMaker(
            channel_maker=ChannelStabilityMaker(relax_maker=per_structure), pool_atoms=2000
        )


def test_pooled_rounds_against_the_reference_give_the_same_comparisons(one_thread, memory_store):
    """With a reference, per-candidate relax jobs and shared pools give the same fits."""
    from jobflow import JobStore
    from maggma.stores import MemoryStore

    records = builtin_records()[1:3]  # Li30Si7Ge and Li30Si7Sn, against Li15Si4
    channel_maker = ChannelStabilityMaker(
        n_configs=4,
        min_configs=4,
        relax_maker=default_relax_maker(batched=True, steps=4),
        fit_unconverged=True,
    )
    alone = ScreeningMaker(channel_maker=channel_maker).make(records)
    run_locally(alone, store=memory_store, ensure_success=True, log=False)
    pooled_store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    pooled_store.connect()
    pooled = ScreeningMaker(channel_maker=channel_maker, pool_atoms=500).make(records)
    run_locally(pooled, store=pooled_store, ensure_success=True, log=False)
    for got, want in zip(
        pooled.output.resolve(pooled_store), alone.output.resolve(memory_store), strict=True
    ):
        assert got.reference == want.reference == "builtin:Li15Si4" and got.paired
        assert got.relative_difference == want.relative_difference
        assert (got.relative_ci_low, got.relative_ci_high) == (
            want.relative_ci_low,
            want.relative_ci_high,
        )
    # one relax job per candidate and the reference, against one pool of all twelve
    assert len(relax_jobs(memory_store)) == 3
    assert [len(p["output"]) for p in relax_jobs(pooled_store)] == [12]
