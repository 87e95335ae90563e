"""Rendering of intervals, volume slopes and cross-checks for the command line."""

import io
import json

import pytest
from jobflow import Flow, job, run_locally
from rich.console import Console
from typer.testing import CliRunner

from sianode_flows.cli.main import app
from sianode_flows.cli.output import cross_check_table, fits_table, print_json, screen_results
from sianode_flows.jobs.cross_check import cross_check_document
from sianode_flows.jobs.fit import slope_fit_document
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelDocument,
    DelithiationProtocol,
    Provenance,
)
from sianode_flows.stores import build_job_store


@pytest.fixture(scope="module")
def fits(li15si4_primitive):
    candidate = CandidateDocument.from_structure(
        li15si4_primitive, [Provenance(source="test", source_id="x")]
    )
    protocol = DelithiationProtocol(
        n_configs=4, seed=0, soc_range=(0, 1), include_charged=True, include_delithiated=True
    )
    made = []
    for slope, potential in ((0.2, "CHGNet"), (0.35, "SevenNet")):
        channels = [
            ChannelDocument(
                candidate_id=candidate.candidate_id,
                config_index=i,
                soc=s,
                n_li=0,
                n_li_charged=30,
                formula="Li30Si8",
                structure=candidate.structure,
                volume=600.0,
                volume_per_framework_atom=20.0 + 56.0 * s,
                r_a=1.0,
                r_b=1.0,
                r_c=1.0,
                r_t=1.4 + slope * s + e,
                radii={"Si": 1.11},
            )
            for i, (s, e) in enumerate(
                zip([1.0, 0.0, 0.4, 0.7], [0, 0.02, -0.02, 0.01], strict=True)
            )
        ]
        made.append(
            slope_fit_document(
                channels,
                candidate,
                protocol,
                0.5,
                relax_maker=f"ForceFieldRelaxMaker({potential})",
                min_configs=4,
            )
        )
    return made


def test_fits_table_and_json_show_interval_and_volume(fits, capsys):
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(fits_table(fits[:1], title="t"))
    text = console.export_text()
    first = fits[0]
    assert f"[{first.slope_ci_low:.2f}, {first.slope_ci_high:.2f}]" in text
    assert f"{first.volume_slope:.3f}" in text
    print_json(fits[:1])
    (row,) = json.loads(capsys.readouterr().out)
    assert row["slope_ci_low"] == first.slope_ci_low
    assert row["slope_ci_high"] == first.slope_ci_high
    assert row["volume_slope"] == pytest.approx(56.0 / 76.0)


def test_cross_checks_in_table_and_json(fits, capsys):
    check = cross_check_document(*fits, tolerance=0.25)
    ranked, checks = screen_results([check])
    assert ranked == [fits[0]] and checks == [check]
    assert screen_results([fits[1], None, fits[0]]) == ([fits[0], fits[1]], [])
    print_json(ranked, checks)
    (row,) = json.loads(capsys.readouterr().out)
    assert row["slope"] == fits[0].slope
    assert row["second_slope"] == fits[1].slope
    assert row["slope_difference"] == pytest.approx(-0.15)
    assert row["potentials_agree"] is True and row["cross_check_verdict"] == "stable"
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(cross_check_table(checks))
    text = console.export_text()
    assert "ForceFieldRelaxMaker(SevenNet)" in text and "-0.150" in text


def test_screen_refuses_an_unknown_potential():
    result = CliRunner().invoke(app, ["screen", "--potential", "mace"])
    assert result.exit_code != 0


def test_screen_cross_check_json(tmp_path):
    """The whole command: CHGNet and SevenNet on the same configurations."""
    from monty.serialization import dumpfn

    from sianode_flows.builtin import li15si4

    dumpfn([li15si4()], tmp_path / "inputs.json")
    args = ["screen", "--input", str(tmp_path / "inputs.json"), "--configs", "4"]
    args += ["--steps", "5", "--keep-unconverged", "--store", str(tmp_path / "store")]
    args += ["--cross-check", "--json", "--min-configs", "4"]
    result = CliRunner().invoke(app, [*args, "--optimizer", "lbfgs"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    # both potentials relaxed with the optimizer asked for
    store = build_job_store(str(tmp_path / "store"))
    store.connect()
    relaxations = [
        doc["output"][0]
        for doc in store.query({"name": {"$regex": "relax"}}, properties=["output"], load=True)
    ]
    assert {
        (r["forcefield_name"], r["input"]["optimizer_kwargs"]["optimizer"]) for r in relaxations
    } == {
        ("MLFF.CHGNet", "LBFGS"),
        ("MLFF.SevenNet", "LBFGS"),
    }
    assert row["second_potential"] == "BatchedRelaxMaker(SevenNet)"
    assert row["slope_difference"] == pytest.approx(row["slope"] - row["second_slope"])
    assert row["slope_ci_low"] <= row["slope"] <= row["slope_ci_high"]
    assert row["volume_slope"] is not None


@job
def stored_fit(fit):
    """Store a fit document as a job output."""
    return fit


def test_fit_documents_keeps_the_newest_fit_of_each_potential(fits, memory_store):
    from datetime import timedelta

    from sianode_flows.results import fit_documents

    chgnet, sevennet = fits
    newer = chgnet.model_copy(update={"created_at": chgnet.created_at + timedelta(hours=1)})
    jobs = [stored_fit(f) for f in (chgnet, sevennet, newer)]
    run_locally(Flow(jobs), store=memory_store, ensure_success=True, log=False)
    found = fit_documents(memory_store)
    assert sorted(f.relax_maker for f in found) == [
        "ForceFieldRelaxMaker(CHGNet)",
        "ForceFieldRelaxMaker(SevenNet)",
    ]
    kept = next(f for f in found if "CHGNet" in f.relax_maker).created_at
    # the store keeps milliseconds and drops the time zone
    assert kept.replace(tzinfo=None) > chgnet.created_at.replace(tzinfo=None) + timedelta(
        minutes=59
    )
