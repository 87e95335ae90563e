"""The slope-fit document: bootstrap interval, verdict rules, volume fit."""

import numpy as np
import pytest
from jobflow import run_locally

from sianode_flows.jobs.fit import judge, slope_fit_document
from sianode_flows.jobs.relax import default_relax_maker
from sianode_flows.makers import ChannelStabilityMaker
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    DelithiationProtocol,
    FailureDocument,
    Provenance,
    RelaxationSummary,
    SlopeFitDocument,
)


@pytest.fixture(scope="module")
def candidate(li15si4_primitive):
    return CandidateDocument.from_structure(
        li15si4_primitive, [Provenance(source="mp", source_id="mp-569849")]
    )


def protocol(n_configs: int, seed: int = 0) -> DelithiationProtocol:
    return DelithiationProtocol(
        n_configs=n_configs,
        seed=seed,
        soc_range=(0.0, 1.0),
        include_charged=True,
        include_delithiated=True,
    )


def channels(candidate, soc, r_t, volumes):
    return [
        ChannelDocument(
            candidate_id=candidate.candidate_id,
            config_index=index,
            soc=s,
            n_li=round(30 * s),
            n_li_charged=30,
            formula="Li30Si8",
            structure=candidate.structure,
            volume=8 * v,
            volume_per_framework_atom=v,
            relaxation=RelaxationSummary(converged=True),
            r_a=r,
            r_b=r,
            r_c=r,
            r_t=r,
            radii={"Si": 1.11},
        )
        for index, (s, r, v) in enumerate(zip(soc, r_t, volumes, strict=True))
    ]


@pytest.fixture(scope="module")
def measured(candidate):
    """20 synthetic points: R_t rises 0.4 A and V/V_charged 0.7 per 100 % SOC, with noise."""
    rng = np.random.default_rng(0)
    soc = np.concatenate([[1.0, 0.0], rng.uniform(0, 1, 18)])
    r_t = 1.0 + 0.4 * soc + rng.normal(0, 0.12, soc.size)
    volumes = 76.0 * (0.3 + 0.7 * soc) + rng.normal(0, 1.0, soc.size)
    volumes[0] = 76.0
    return channels(candidate, soc, r_t, volumes)


def test_fit_document_carries_the_interval_and_the_volume_fit(candidate, measured):
    failure = FailureDocument(input="x", step="relax", error_type="E", message="m")
    fit = slope_fit_document([*measured, failure, None], candidate, protocol(22), 0.5)
    assert fit.n_configs == 20 and fit.n_failed == 2
    assert fit.slope_ci_low < fit.slope < fit.slope_ci_high
    assert fit.ci_level == 0.95 and fit.n_bootstrap == 1000 and fit.bootstrap_seed == 0
    assert fit.slope == pytest.approx(0.4, abs=0.15)
    assert fit.volume_reference == "charged"
    assert fit.volume_reference_per_framework_atom == 76.0
    assert fit.volume_slope == pytest.approx(0.7, abs=0.03)
    volume = fit.volume_fit
    assert volume.slope_ci_low < volume.slope < volume.slope_ci_high
    assert volume.pearson_r > 0.99
    # same inputs and seed, same interval; the document round-trips
    again = slope_fit_document(measured, candidate, protocol(22), 0.5)
    assert (again.slope_ci_low, again.slope_ci_high) == (fit.slope_ci_low, fit.slope_ci_high)
    restored = SlopeFitDocument.model_validate(fit.model_dump())
    assert restored.volume_slope == fit.volume_slope


def test_the_upper_bound_rule_is_stricter(candidate, measured):
    by_slope = slope_fit_document(measured, candidate, protocol(20), 0.4)
    by_bound = slope_fit_document(
        measured, candidate, protocol(20), 0.4, verdict_rule="upper-bound"
    )
    assert by_slope.slope < 0.4 < by_slope.slope_ci_high
    assert by_slope.verdict == "stable"
    assert by_bound.verdict == "unstable" and by_bound.verdict_rule == "upper-bound"


def test_judge():
    assert judge(0.3, 0.5) == "stable"
    assert judge(-0.6, 0.5) == "unstable"
    assert judge(None, 0.5) == "insufficient-data"
    assert judge(0.3, 0.5, "upper-bound", (0.1, 0.45)) == "stable"
    assert judge(0.3, 0.5, "upper-bound", (-0.55, 0.45)) == "unstable"
    assert judge(0.3, 0.5, "upper-bound", (None, None)) == "insufficient-data"
    with pytest.raises(ValueError, match="unknown verdict rule"):
        judge(0.3, 0.5, "median")


def test_too_few_points_have_no_interval(candidate):
    fit = slope_fit_document(
        channels(candidate, [1.0, 0.0], [1.6, 0.7], [76.0, 20.0]), candidate, protocol(2), 0.5
    )
    assert fit.slope is None and fit.slope_ci_low is None and fit.volume_fit is None
    assert fit.verdict == "insufficient-data"
    assert fit.volume_reference == "charged"


def test_the_maker_refuses_an_unknown_rule():
    with pytest.raises(ValueError, match="verdict_rule"):
        ChannelStabilityMaker(verdict_rule="median")


def test_li15si4_volume_slope_is_positive(li15si4_primitive, memory_store):
    """Real CHGNet relaxations: the Si framework collapses as Li leaves.

    The charged cell, the empty Si8 framework and one nearly empty configuration
    (small cells, cheap to relax); 30 FIRE steps take the framework from 76 to
    about 24 A^3 per Si.
    """
    maker = ChannelStabilityMaker(
        n_configs=3,
        seed=0,
        soc_range=(0.0, 0.1),
        relax_maker=default_relax_maker(steps=30),
        n_bootstrap=200,
    )
    flow = maker.make(li15si4_primitive)
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    fit = flow.output.resolve(memory_store)
    assert fit.n_configs == 3 and fit.volume_reference == "charged"
    charged = next(p for p in fit.points if p.soc == 1.0)
    empty = next(p for p in fit.points if p.soc == 0.0)
    assert charged.volume_per_framework_atom == pytest.approx(76.0, abs=1.5)
    assert empty.volume_per_framework_atom < 0.5 * charged.volume_per_framework_atom
    assert fit.volume_slope > 0.5
    assert fit.n_bootstrap == 200
