"""The slope-fit document: the design's interval, verdict rules, volume fit."""

import numpy as np
import pytest
from jobflow import run_locally
from scipy import stats

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


def channels(candidate, soc, r_t, volumes, converged=None):
    converged = converged or [True] * len(soc)
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
            relaxation=RelaxationSummary(converged=ok),
            r_a=r,
            r_b=r,
            r_c=r,
            r_t=r,
            radii={"Si": 1.11},
        )
        for index, (s, r, v, ok) in enumerate(zip(soc, r_t, volumes, converged, strict=True))
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
    assert fit.ci_level == 0.95 and fit.interval_method == "collapsed-strata"
    assert fit.look == 1 and fit.n_looks == 1  # a fixed design: one look, the plain t value
    assert fit.critical_value == pytest.approx(stats.t.ppf(0.975, fit.slope_df))
    half = fit.critical_value * fit.slope_err
    assert (fit.slope_ci_low, fit.slope_ci_high) == pytest.approx(
        (fit.slope - half, fit.slope + half)
    )
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


def test_the_point_rule_calls_a_slope_the_data_cannot_settle(candidate, measured):
    by_point = slope_fit_document(measured, candidate, protocol(20), 0.4, verdict_rule="point")
    by_interval = slope_fit_document(measured, candidate, protocol(20), 0.4)
    assert by_point.slope < 0.4 < by_point.slope_ci_high
    assert by_point.verdict == "stable" and by_point.verdict_rule == "point"
    assert by_interval.verdict == "undecided" and by_interval.verdict_rule == "interval"
    # documents written with the former names of the rules still read
    legacy = by_point.model_dump() | {"verdict_rule": "slope"}
    assert SlopeFitDocument.model_validate(legacy).verdict_rule == "point"


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [
        ((0.10, 0.45), "stable"),
        ((-0.50, 0.50), "stable"),  # bounds included
        ((-0.45, -0.10), "stable"),
        ((0.55, 0.90), "unstable"),
        ((-1.20, -0.60), "unstable"),
        ((0.30, 0.70), "undecided"),  # crosses +threshold
        ((-0.70, 0.20), "undecided"),  # crosses -threshold
        ((-0.70, 0.70), "undecided"),  # holds both
        ((None, None), "undecided"),  # no interval: cannot tell
    ],
)
def test_three_verdicts_from_the_interval(interval, verdict):
    assert judge(0.3, 0.5, "interval", interval) == verdict


def test_judge():
    assert judge(0.3, 0.5, "point") == "stable"
    assert judge(-0.6, 0.5, "point") == "unstable"
    assert judge(0.3, 0.5, "point", (0.4, 0.9)) == "stable"  # the point rule ignores it
    assert judge(None, 0.5) == "insufficient-data"
    assert judge(0.3, 0.5, "upper-bound", (0.1, 0.45)) == "stable"  # former name
    with pytest.raises(ValueError, match="unknown verdict rule"):
        judge(0.3, 0.5, "median")


def test_unconverged_points_are_excluded_and_counted(candidate, measured):
    converged = [True] * 20
    for index in (3, 7, 11):
        converged[index] = False
    soc = [c.soc for c in measured]
    r_t = [c.r_t for c in measured]
    r_t_outliers = [r + 2.0 if not ok else r for r, ok in zip(r_t, converged, strict=True)]
    volumes = [c.volume_per_framework_atom for c in measured]
    points = channels(candidate, soc, r_t_outliers, volumes, converged)
    fit = slope_fit_document(points, candidate, protocol(20), 0.5)
    assert fit.n_configs == 17 and fit.n_excluded == 3 and fit.n_unconverged == 3
    assert len(fit.points) == 20
    assert {p.config_index for p in fit.points if p.excluded == "not converged"} == {3, 7, 11}
    # the fit is that of the 17 converged points, untouched by the outliers
    alone = slope_fit_document(
        [p for p, ok in zip(points, converged, strict=True) if ok], candidate, protocol(20), 0.5
    )
    assert fit.slope == alone.slope and fit.slope_ci_high == alone.slope_ci_high
    kept = slope_fit_document(points, candidate, protocol(20), 0.5, fit_unconverged=True)
    assert kept.n_configs == 20 and kept.n_excluded == 0 and kept.fit_unconverged
    assert kept.slope != fit.slope


def test_failures_are_counted_by_reason(candidate, measured):
    exploded = FailureDocument(
        input="x", step="relax", error_type="UnphysicalRelaxationError", message="6.00x"
    )
    failures = [exploded, exploded, None]
    fit = slope_fit_document([*measured, *failures], candidate, protocol(23), 0.5)
    assert fit.n_failed == 3
    assert fit.failure_reasons == {"relax: UnphysicalRelaxationError": 2, "relax: no output": 1}


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
    with pytest.raises(ValueError, match="point rule never leaves"):
        ChannelStabilityMaker(verdict_rule="point", n_configs=10, max_configs=30)
    with pytest.raises(ValueError, match="min_configs"):
        ChannelStabilityMaker(min_configs=2)
    with pytest.raises(ValueError, match="spending"):
        ChannelStabilityMaker(spending="none")
    with pytest.raises(ValueError, match="margin"):
        ChannelStabilityMaker(margin=0)
    assert ChannelStabilityMaker(verdict_rule="slope").verdict_rule == "point"


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
        fit_unconverged=True,
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
    assert fit.verdict == "insufficient-data"  # three configurations: no verdict
