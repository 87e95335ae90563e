"""``sianode harvest`` and ``sianode series`` on the shared data."""

import json

from typer.testing import CliRunner

from sianode_flows.cli.main import app


def test_harvest_json(shared_data, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "harvest",
            "--source",
            str(shared_data / "gnome_li_or_si.csv.gz"),
            "--source",
            f"file:{shared_data / 'mp2018_cgcnn.csv.gz'}",
            "--source",
            "optimade:http://127.0.0.1:9",
            "--min-capacity",
            "3000",
            "--store",
            str(tmp_path / "store"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [s["name"] for s in payload["sources"]] == [
        "gnome_li_or_si.csv.gz",
        "mp2018_cgcnn.csv.gz",
        "optimade",
    ]
    assert payload["sources"][2]["error"]  # nothing listens on port 9: reported, not fatal
    assert {c["formula"] for c in payload["candidates"]} == {
        "Li22Si5",
        "Li21Si5",
        "Li15Si4",
        "Li13Si4",
    }
    assert payload["stages"][0]["stage"] == "prefilter"


def test_series_table(shared_data, tmp_path):
    result = CliRunner().invoke(
        app,
        ["series", "-s", str(shared_data / "mp2018_cgcnn.csv.gz"), "--store", str(tmp_path / "s")],
    )
    assert result.exit_code == 0, result.output
    assert "Li15Si4" in result.stdout and "slope" in result.stdout


def test_harvest_needs_a_source(tmp_path):
    result = CliRunner().invoke(app, ["harvest", "--store", str(tmp_path)])
    assert result.exit_code == 2
