"""DFT hand-off: top candidates from a store, VASP flows, their written inputs."""

import pytest
from jobflow import Flow, job, run_locally
from pymatgen.core import Structure
from pymatgen.io.vasp import Incar, Poscar

from sianode_flows.builtin import li15si4, substituted
from sianode_flows.jobs.fit import slope_fit_document
from sianode_flows.makers import DFTValidationMaker
from sianode_flows.makers.dft import top_candidates
from sianode_flows.results import failure_documents
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    DelithiationProtocol,
    Provenance,
)

FORCE_FIELD = "ForceFieldRelaxMaker(CHGNet)"


@job
def emit(document):
    """Store a document as a job output, as a screen would."""
    return document


def fit_of(candidate, slope, relax_maker=FORCE_FIELD):
    soc = [1.0, 0.0, 0.5, 0.25] if slope is not None else [1.0]
    channels = [
        ChannelDocument(
            candidate_id=candidate.candidate_id,
            config_index=i,
            soc=s,
            n_li=0,
            n_li_charged=candidate.n_li,
            formula=candidate.formula,
            structure=candidate.structure,
            volume=candidate.structure.volume,
            volume_per_framework_atom=70.0,
            r_a=1.0,
            r_b=1.0,
            r_c=1.0,
            r_t=1.0 + (slope or 0.0) * s,
            radii={"Si": 1.11},
        )
        for i, s in enumerate(soc)
    ]
    protocol = DelithiationProtocol(
        n_configs=4, seed=0, soc_range=(0, 1), include_charged=True, include_delithiated=True
    )
    return slope_fit_document(channels, candidate, protocol, 0.5, relax_maker=relax_maker)


@pytest.fixture(scope="module")
def candidates():
    host = li15si4()
    structures = {
        "Si": host,
        "Ge": substituted(host, "Ge"),
        "Sn": substituted(host, "Sn"),
        "Zn": substituted(host, "Zn"),
    }
    return {
        key: CandidateDocument.from_structure(s, [Provenance(source="test", source_id=key)])
        for key, s in structures.items()
    }


@pytest.fixture
def screened_store(memory_store, candidates):
    """A store as a screen leaves it: candidates and their force-field fits."""
    documents = [
        *candidates.values(),
        fit_of(candidates["Si"], 0.8),  # unstable
        fit_of(candidates["Ge"], 0.3),  # stable
        fit_of(candidates["Sn"], 0.1),  # stable, flattest
        fit_of(candidates["Zn"], None),  # no slope
        # a DFT fit stored later is not a screening result
        fit_of(candidates["Si"], 0.05, relax_maker="DoubleRelaxMaker(double relax)"),
    ]
    run_locally(Flow([emit(d) for d in documents]), store=memory_store, log=False)
    return memory_store


def test_top_candidates_follow_the_screen_ranking(screened_store):
    chosen = top_candidates(screened_store, 3)
    assert [c.provenance[0].source_id for c in chosen] == ["Sn", "Ge", "Si"]
    assert [c.provenance[0].source_id for c in top_candidates(screened_store, 1)] == ["Sn"]
    high = top_candidates(screened_store, 3, min_capacity=3500)
    assert [c.formula for c in high] == ["Li15Si4"]


def test_dft_flow_builds_and_converts_to_fireworks(screened_store):
    from atomate2.vasp.flows.core import DoubleRelaxMaker
    from jobflow.managers.fireworks import flow_to_workflow

    maker = DFTValidationMaker(top_n=2)
    assert isinstance(maker.relax_maker, DoubleRelaxMaker)
    flow = maker.make_from_store(screened_store)
    assert len(flow.jobs) == 2 and len(flow.output) == 2
    names = [[j.name for j in sub.jobs] for sub in flow.jobs]
    assert names == [["delithiate", "configurations"]] * 2
    # each candidate's flow carries the VASP relax maker into its fan-out job
    fanout = flow.jobs[0].jobs[1]
    channel_maker = fanout.function_args[2]
    assert channel_maker.relax_maker is maker.relax_maker
    assert channel_maker.protocol.n_configs == 4
    assert channel_maker.protocol.include_charged and channel_maker.protocol.include_delithiated
    # ready for a launchpad: serializable and convertible to a FireWorks workflow
    restored = Flow.from_dict(flow.as_dict())
    assert len(restored.jobs) == 2
    workflow = flow_to_workflow(flow)
    assert len(workflow.fws) == 4
    with pytest.raises(ValueError, match="no candidate"):
        maker.make([])


def test_vasp_inputs_of_every_configuration(candidates, memory_store, monkeypatch, tmp_path):
    """Run the flow with atomate2's VASP test patch: inputs are written, VASP never runs.

    Without reference outputs the patched ``run_vasp`` fails each relax, as a
    missing VASP would: every configuration's inputs are checked, and the fit
    records the failures instead of crashing.
    """
    from atomate2.utils.testing.vasp import monkeypatch_vasp

    patch = monkeypatch_vasp(monkeypatch, tmp_path / "no-reference")
    next(patch)
    maker = DFTValidationMaker(n_configs=4, seed=1)
    flow = maker.make(candidates["Si"])
    run_locally(flow, store=memory_store, create_folders=True, root_dir=tmp_path, log=False)

    configurations = memory_store.query_one({"name": "delithiate"}, load=True)["output"]
    expected = sorted(
        Structure.from_dict(c["structure"]).composition.formula.replace(" ", "")
        for c in configurations
    )
    written = sorted(tmp_path.glob("job_*/INCAR"))
    assert len(written) == 4  # the first relax of each configuration; the second never ran
    formulas = []
    for incar_path in written:
        folder = incar_path.parent
        incar = Incar.from_file(incar_path)
        assert incar["ISIF"] == 3 and incar["IBRION"] == 2 and incar["NSW"] == 99
        assert incar["ENCUT"] == 680 and incar["EDIFFG"] == -0.02
        structure = Poscar.from_file(folder / "POSCAR").structure
        # the configurations as drawn: the charged cell's lattice, some Li removed
        assert structure.lattice == candidates["Si"].structure.lattice
        symbols = (folder / "POTCAR.spec").read_text().split()
        assert symbols == (["Li_sv", "Si"] if "Li" in structure.composition else ["Si"])
        assert (folder / "KPOINTS").exists()
        formulas.append(structure.composition.formula.replace(" ", ""))
    assert sorted(formulas) == expected
    # the charged cell is relaxed as given
    assert "Li30Si8" in formulas and "Si8" in formulas

    (fit,) = [output.resolve(memory_store) for output in flow.output]
    assert fit.relax_maker == "DoubleRelaxMaker(double relax)"
    assert fit.verdict == "insufficient-data" and fit.n_failed == 4
    assert {f.step for f in failure_documents(memory_store)} == {"relax"}


def test_settings_of_the_handoff():
    maker = DFTValidationMaker(top_n=5, verdict_rule="interval", slope_threshold=0.4)
    channel = maker.channel_maker
    assert channel.verdict_rule == "interval" and channel.slope_threshold == 0.4
    assert DFTValidationMaker.from_dict(maker.as_dict()).top_n == 5
