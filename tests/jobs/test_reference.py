"""Screening against the reference: paired draws, one reference for many screens, verdicts."""

import numpy as np
import pytest
from atomate2.forcefields.jobs import ForceFieldStaticMaker
from jobflow import run_locally
from pymatgen.core import Structure

from sianode_flows.builtin import builtin_records, li15si4, substituted
from sianode_flows.jobs.candidates import candidate_from_record
from sianode_flows.jobs.delithiate import configurations_of
from sianode_flows.jobs.fit import slope_fit_document
from sianode_flows.jobs.screen import twin_sites
from sianode_flows.makers import ChannelStabilityMaker, ScreeningMaker
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    DelithiationProtocol,
    Provenance,
    RelaxationSummary,
    StructureRecord,
)


def candidate_of(structure: Structure, name: str) -> CandidateDocument:
    return CandidateDocument.from_structure(structure, [Provenance(source="test", source_id=name)])


def shuffled(structure: Structure, seed: int = 0) -> Structure:
    order = np.random.default_rng(seed).permutation(len(structure))
    return Structure.from_sites([structure[int(i)] for i in order])


PROTOCOL = DelithiationProtocol(
    n_configs=20,
    round_size=10,
    max_configs=40,
    seed=7,
    soc_range=(0.0, 1.0),
    include_charged=True,
    include_delithiated=True,
)


def removed_positions(configuration, structure: Structure) -> list[tuple]:
    """Fractional positions of the removed Li sites, rounded, sorted."""
    return sorted(
        tuple(np.round(structure[i].frac_coords % 1.0, 4)) for i in configuration.removed_sites
    )


@pytest.mark.parametrize("round_number", [1, 2])
def test_a_substitution_variant_draws_the_references_removed_sites(round_number):
    """Even with its sites in another order, a Ge-for-Si variant removes Li15Si4's sites."""
    reference = candidate_of(li15si4(), "Li15Si4")
    variant = candidate_of(shuffled(substituted(li15si4(), "Ge")), "Li30Si7Ge")
    sites = twin_sites(variant, reference)
    assert sites is not None and sorted(sites) == [
        i for i, s in enumerate(variant.structure) if s.specie.symbol == "Li"
    ]
    theirs = configurations_of(reference, PROTOCOL, round_number)
    mine = configurations_of(variant, PROTOCOL, round_number, sites)
    assert [c.soc for c in mine] == [c.soc for c in theirs]
    for own, ref in zip(mine, theirs, strict=True):
        assert removed_positions(own, variant.structure) == removed_positions(
            ref, reference.structure
        )
    # without the reference's order the shuffled variant draws other sites
    natural = configurations_of(variant, PROTOCOL, round_number)
    assert any(
        removed_positions(a, variant.structure) != removed_positions(b, reference.structure)
        for a, b in zip(natural, theirs, strict=True)
        if b.removed_sites
    )


def test_other_cells_are_not_twins():
    reference = candidate_of(li15si4(), "Li15Si4")
    assert twin_sites(candidate_of(li15si4(primitive=False), "conventional"), reference) is None
    strained = li15si4()
    strained.apply_strain(0.2)
    assert twin_sites(candidate_of(strained, "strained"), reference) is None


def channels(candidate, protocol, r_t_of_soc, seed=0, noise=0.0):
    """Channel documents of a candidate's round-1 configurations with given radii."""
    rng = np.random.default_rng(seed)
    configs = configurations_of(candidate, protocol)
    return [
        ChannelDocument(
            candidate_id=candidate.candidate_id,
            config_index=c.config_index,
            soc=c.soc,
            n_li=c.n_li,
            n_li_charged=c.n_li_charged,
            formula=c.structure.composition.reduced_formula,
            structure=c.structure,
            volume=c.structure.volume,
            volume_per_framework_atom=10.0,
            relaxation=RelaxationSummary(converged=True),
            r_a=1.0,
            r_b=1.0,
            r_c=1.0,
            r_t=r_t_of_soc(c.soc, c.config_index) + noise * rng.normal(),
            radii={"Si": 1.11},
        )
        for c in configs
    ]


FIXED = DelithiationProtocol(
    n_configs=24,
    seed=3,
    soc_range=(0.0, 1.0),
    include_charged=True,
    include_delithiated=True,
)


@pytest.fixture(scope="module")
def reference_fit():
    reference = candidate_of(li15si4(), "Li15Si4")
    wiggle = np.random.default_rng(11).normal(0, 0.1, 24)
    measured = channels(reference, FIXED, lambda s, i: 0.7 + 0.5 * s + wiggle[i])
    return slope_fit_document(measured, reference, FIXED, 0.5, role="reference")


@pytest.mark.parametrize(
    ("change", "verdict"), [(-0.2, "lower"), (0.0, "similar"), (0.25, "higher")]
)
def test_relative_verdicts_of_paired_fits(reference_fit, change, verdict):
    """A twin whose R_t is the reference's plus ``change * SOC``: the paired difference is it."""
    variant = candidate_of(substituted(li15si4(), "Ge"), "Li30Si7Ge")
    base = {p.config_index: p.r_t for p in reference_fit.points}
    measured = channels(variant, FIXED, lambda s, i: base[i] + change * s)
    fit = slope_fit_document(
        measured, variant, FIXED, 0.5, reference=reference_fit, paired=True, margin=0.1
    )
    assert fit.relative_difference == pytest.approx(change, abs=1e-9)
    assert fit.relative_verdict == verdict and fit.paired
    assert fit.reference == reference_fit.candidate_id
    assert fit.interval_method == "collapsed-strata" and fit.ci_level == 0.95


def test_an_unpaired_candidate_adds_both_errors(reference_fit):
    other = candidate_of(substituted(li15si4(), "Sn"), "Li30Si7Sn")
    measured = channels(other, FIXED, lambda s, i: 0.7 + 0.5 * s, seed=5, noise=0.1)
    unpaired = slope_fit_document(measured, other, FIXED, 0.5, reference=reference_fit)
    assert unpaired.paired is False and unpaired.relative_verdict == "undecided"
    width = unpaired.relative_ci_high - unpaired.relative_ci_low
    assert width > unpaired.slope_ci_high - unpaired.slope_ci_low


def test_no_verdict_below_the_minimum(reference_fit):
    few = DelithiationProtocol(
        n_configs=6, seed=1, soc_range=(0, 1), include_charged=True, include_delithiated=True
    )
    variant = candidate_of(substituted(li15si4(), "Ge"), "Li30Si7Ge")
    fit = slope_fit_document(
        channels(variant, few, lambda s, i: 0.7 + 0.5 * s),
        variant,
        few,
        0.5,
        reference=reference_fit,
    )
    assert fit.slope == pytest.approx(0.5, abs=1e-9)
    assert fit.verdict == "insufficient-data" and fit.relative_verdict == "insufficient-data"
    assert fit.slope_ci_low is None and fit.relative_ci_low is None
    assert "at least 20" in fit.note


def static_maker(**fields) -> ChannelStabilityMaker:
    """Unrelaxed configurations (a static calculation): every R_t is the pristine one."""
    return ChannelStabilityMaker(
        relax_maker=ForceFieldStaticMaker(force_field_name="CHGNet"), **fields
    )


def builtin(name: str) -> StructureRecord:
    return next(r for r in builtin_records() if r.source_id == name)


def test_the_reference_is_relaxed_once_and_reused_by_a_second_screen(
    memory_store, quick_relax_maker
):
    maker = ChannelStabilityMaker(
        n_configs=6, min_configs=6, relax_maker=quick_relax_maker, fit_unconverged=True
    )
    reference_id = candidate_from_record(builtin("Li15Si4")).candidate_id

    def reference_measurements() -> int:
        return memory_store.count(
            {"output.@class": "ChannelDocument", "output.candidate_id": reference_id}
        )

    first = ScreeningMaker(channel_maker=maker).make([builtin("Li30Si7Ge1")])
    run_locally(first, store=memory_store, ensure_success=True, log=False)
    (ge,) = first.output.resolve(memory_store)
    assert reference_measurements() == 6
    assert ge.reference == reference_id and ge.paired and ge.relative_difference is not None
    second = ScreeningMaker(channel_maker=maker).make([builtin("Li30Si7Sn1")])
    run_locally(second, store=memory_store, ensure_success=True, log=False)
    (sn,) = second.output.resolve(memory_store)
    assert reference_measurements() == 6  # nothing of the reference relaxed again
    assert sn.reference_slope == pytest.approx(ge.reference_slope)
    assert sn.reference_key == ge.reference_key and sn.n_relaxed == 6
    references = [
        d["output"]
        for d in memory_store.query(
            {"output.@class": "SlopeFitDocument", "output.role": "reference"}
        )
    ]
    assert len(references) == 2 and all(r["stop_reason"] == "reference" for r in references)


def test_the_reference_samples_as_long_as_a_candidate_needs_it(memory_store):
    """A decided candidate stops; the reference samples on only for one that is not."""
    maker = static_maker(n_configs=6, round_size=4, max_configs=14, min_configs=6, margin=0.05)
    flow = ScreeningMaker(channel_maker=maker).make([builtin("Li15Si4"), builtin("Li30Si7Ge1")])
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    reference, ge = flow.output.resolve(memory_store)
    # unrelaxed: the same R_t at every SOC, paired difference exactly 0: similar at once
    assert reference.role == "reference" and reference.shown_verdict == "reference"
    assert ge.relative_verdict == "similar" and ge.stop_reason == "decided"
    assert len(ge.rounds) == 1 and len(reference.rounds) == 1


def test_rounds_go_on_below_the_minimum_and_the_reference_follows(memory_store, quick_relax_maker):
    """No verdict before 10 configurations: a second round for both, the reference with them."""
    maker = ChannelStabilityMaker(
        n_configs=6,
        round_size=4,
        max_configs=14,
        min_configs=10,
        relax_maker=quick_relax_maker,
        fit_unconverged=True,
    )
    flow = ScreeningMaker(channel_maker=maker).make([builtin("Li30Zn1Si7")])
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    (zn,) = flow.output.resolve(memory_store)
    (reference,) = [
        d["output"]
        for d in memory_store.query(
            {"output.@class": "SlopeFitDocument", "output.role": "reference"}
        )
    ]
    assert zn.rounds[0].relative_verdict == "insufficient-data"
    assert len(zn.rounds) >= 2 and len(reference["rounds"]) == len(zn.rounds)
    assert zn.rounds[-1].relative_verdict == zn.relative_verdict
    # the comparison is with the reference's fit of the same rounds
    assert zn.reference_slope == pytest.approx(reference["rounds"][-1]["slope"])
    # a rerun with the reference among the candidates: everything is stored, and the
    # reference's row is its fit as deep as the stored comparisons went
    again = ScreeningMaker(channel_maker=maker).make([builtin("Li15Si4"), builtin("Li30Zn1Si7")])
    run_locally(again, store=memory_store, ensure_success=True, log=False)
    own, zn_again = again.output.resolve(memory_store)
    assert own.role == "reference" and len(own.rounds) == len(zn.rounds)
    assert zn_again.relative_difference == zn.relative_difference
