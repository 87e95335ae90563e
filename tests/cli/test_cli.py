"""The ``sianode`` command line, as scripts drive it."""

import json
import os

import pytest
from typer.testing import CliRunner

from sianode_flows.builtin import li15si4, substituted
from sianode_flows.cli.main import app

JSON_KEYS = {
    "formula",
    "source_id",
    "capacity_mAh_g",
    "r_t_charged",
    "slope",
    "slope_err",
    "pearson_r",
    "spearman_rho",
    "n_configs",
    "verdict",
    "reference",
    "relative_verdict",
    "relative_ci_low",
    "relative_ci_high",
    "interval_method",
}


def test_screen_json_contract_and_results(tmp_path):
    from monty.serialization import dumpfn

    host = li15si4()
    dumpfn([host, substituted(host, "Zn")], tmp_path / "inputs.json")
    (tmp_path / "broken.cif").write_text("data_x\nnot a cif\n")
    store = tmp_path / "store"
    runner = CliRunner()
    args = [
        "screen",
        "--input",
        str(tmp_path / "inputs.json"),
        "--configs",
        "3",
        "--seed",
        "1",
        "--steps",
        "10",
        "--keep-unconverged",
        "--store",
        str(store),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    assert all(set(row) >= JSON_KEYS for row in rows)
    assert {row["formula"] for row in rows} == {"Li15Si4", "Li30ZnSi7"}
    li15si4_row = next(r for r in rows if r["formula"] == "Li15Si4")
    assert abs(li15si4_row["capacity_mAh_g"] - 3578.6) < 1
    assert li15si4_row["n_configs"] == 3

    # a rerun with the same settings reuses the stored fits
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert [r["slope"] for r in json.loads(again.stdout)] == [r["slope"] for r in rows]

    stored = runner.invoke(app, ["results", "--store", str(store), "--json"])
    assert stored.exit_code == 0
    found = json.loads(stored.stdout)
    assert {r["source_id"] for r in found if r["role"] == "candidate"} == {
        r["source_id"] for r in rows
    }
    # both are compared with the built-in Li15Si4, whose fit is stored too
    assert [r["candidate_id"] for r in found if r["role"] == "reference"] == ["builtin:Li15Si4"]
    assert {r["reference"] for r in rows} == {"builtin:Li15Si4"}
    assert {r["relative_verdict"] for r in rows} == {"insufficient-data"}  # 3 configurations

    table = runner.invoke(app, ["results", "--store", str(store)])
    assert "Li15Si4" in table.stdout and "verdict" in table.stdout

    bad = runner.invoke(
        app,
        [
            "screen",
            "--input",
            str(tmp_path / "broken.cif"),
            "--store",
            str(store),
            "--json",
        ],
    )
    assert bad.exit_code == 0
    assert json.loads(bad.stdout) == []
    failures = runner.invoke(app, ["results", "--store", str(store), "--failures", "--json"])
    assert any(f["step"] == "read" for f in json.loads(failures.stdout))


def test_results_on_an_empty_store(tmp_path):
    result = CliRunner().invoke(app, ["results", "--store", str(tmp_path / "empty")])
    assert result.exit_code == 0
    assert "no slope fit" in result.stdout


MONGO_URI = os.environ.get("SIANODE_TEST_MONGO_URI")


@pytest.mark.skipif(not MONGO_URI, reason="set SIANODE_TEST_MONGO_URI to test against MongoDB")
def test_screen_into_mongodb(monkeypatch):
    from pymongo import MongoClient

    monkeypatch.setenv("SIANODE_MONGO_DATABASE", "sianode_test_cli")
    runner = CliRunner()
    args = ["screen", "--configs", "3", "--steps", "5", "--keep-unconverged"]
    args += ["--store", MONGO_URI, "--json"]
    try:
        result = runner.invoke(app, [*args, "--min-capacity", "3500"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        assert [r["formula"] for r in rows] == ["Li15Si4"]
        stored = runner.invoke(app, ["results", "--store", MONGO_URI, "--json"])
        assert json.loads(stored.stdout)[0]["slope"] == rows[0]["slope"]
    finally:
        MongoClient(MONGO_URI).drop_database("sianode_test_cli")
