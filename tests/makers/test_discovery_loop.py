"""Stage 2 for generated candidates: verify against the hull, promote, screen, rank."""

import pytest
from jobflow import Flow, run_locally
from monty.json import MontyDecoder

from sianode_flows.builtin import li15si4
from sianode_flows.generative.baseline import substitution_baseline
from sianode_flows.generative.target import GenerationTarget
from sianode_flows.jobs.promote import promote_samples
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker, VerifyMaker
from sianode_flows.makers.generate import verified_samples
from sianode_flows.results import candidate_documents, fit_documents, rank


def test_a_generated_candidate_reaches_a_slope_fit(memory_store, quick_relax_maker):
    reference = li15si4()
    target = GenerationTarget(capacity_mAh_g=3000.0)
    samples = substitution_baseline([reference], target, n=2, seed=0, substituents=("Ge",))
    verify = VerifyMaker(steps=150, fmax=0.2).make(
        samples, "substitution", target, [reference], seed=0, references=[reference]
    )
    promote = promote_samples(verified_samples(verify), 1500.0, 0.1, "no checkpoint")
    channel = ChannelStabilityMaker(
        n_configs=4, relax_maker=quick_relax_maker, fit_unconverged=True
    )
    screen = ScreeningMaker(channel_maker=channel, min_capacity=1500.0).make(promote.output)
    run_locally(Flow([verify, promote, screen]), store=memory_store, ensure_success=True, log=False)

    decoder = MontyDecoder()
    docs = decoder.process_decoded(memory_store.query_one({"name": "verify"}, load=True)["output"])
    for doc in docs:  # a Ge-for-Si variant of Li15Si4 lies near its Li-Si-Ge hull
        assert doc.chemsys == "Ge-Li-Si" and doc.relax_converged
        assert doc.e_above_hull is not None and doc.e_above_hull < 0.1
        assert doc.novel and doc.unique and doc.sun == {"0.1": True, "0.0": doc.e_above_hull <= 0}
    promoted = promote.output.resolve(memory_store)
    assert len(promoted) == 2
    stored = fit_documents(memory_store)
    fits = rank([f for f in stored if f.role == "candidate"])
    assert len(fits) == 2
    # compared with pure Si by the same protocol, whose fit is stored beside theirs
    assert [f.candidate_id for f in stored if f.role == "reference"] == ["builtin:Li15Si4"]
    for fit in fits:
        assert fit.candidate_id.startswith("generated:Li")
        assert len(fit.points) == 4 and fit.slope is not None
        assert fit.reference == "builtin:Li15Si4" and fit.relative_verdict == "insufficient-data"
    candidate = next(
        c for c in candidate_documents(memory_store) if c.candidate_id == fits[0].candidate_id
    )
    assert candidate.source == "generated"
    assert candidate.e_above_hull == pytest.approx(
        next(d.e_above_hull for d in docs if d.sample_id == candidate.source_id)
    )
    assert candidate.provenance[0].properties["method"] == "substitution"
    assert candidate.provenance[0].properties["target"]["capacity_mAh_g"] == 3000.0
