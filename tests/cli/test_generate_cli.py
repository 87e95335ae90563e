"""``sianode train`` then ``sianode generate``: a tiny model, verified beside a baseline."""

from __future__ import annotations

import csv
import gzip
import json

from pymatgen.io.cif import CifWriter
from typer.testing import CliRunner

from sianode_flows.builtin import builtin_records
from sianode_flows.cli.main import app
from tests.generative.cells import small_cells


def write_csv(path, structures) -> None:
    """Write structures as a gzip'd CSV with a cif column, like ../shared/data."""
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source", "source_id", "formula", "cif"])
        for index, structure in enumerate(structures):
            formula = structure.composition.formula.replace(" ", "")
            writer.writerow(["test", f"t-{index}", formula, str(CifWriter(structure))])


def test_train_then_generate_stores_and_prints_metrics(tmp_path):
    data = tmp_path / "cells.csv.gz"
    write_csv(data, [*small_cells().values(), *(r.structure for r in builtin_records())])
    runner = CliRunner()
    checkpoint = tmp_path / "tiny.pt"
    trained = runner.invoke(
        app,
        ["train", "-d", str(data), "-o", str(checkpoint), "--epochs", "3", "--max-atoms", "40",
         "--workers", "1", "--json"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout.strip().splitlines()[-1])
    assert summary["n_examples"] >= 10 and summary["epochs"] == 3 and checkpoint.is_file()

    generated = runner.invoke(
        app,
        ["generate", "-c", str(checkpoint), "-n", "3", "--steps", "3", "--store",
         str(tmp_path / "store"), "--training", str(data), "--json"],
    )  # fmt: skip
    assert generated.exit_code == 0, generated.output
    rows = json.loads(generated.stdout.strip().splitlines()[-1])
    assert {row["method"] for row in rows} == {"model", "substitution"}
    for row in rows:
        assert row["n_samples"] == 3
        assert 0.0 <= row["validity_rate"] <= 1.0
        assert row["required_elements_rate"] == 1.0  # Li and Si are imposed on every sample


def test_generate_without_a_checkpoint_says_so(tmp_path):
    result = CliRunner().invoke(app, ["generate", "-c", str(tmp_path / "none.pt")])
    assert result.exit_code == 1 and "sianode train" in result.output


def tiny_checkpoint(tmp_path):
    """Train a 3-epoch model on small cells and Li15Si4 through the CLI."""
    data = tmp_path / "cells.csv.gz"
    write_csv(data, [*small_cells().values(), *(r.structure for r in builtin_records())])
    checkpoint = tmp_path / "tiny.pt"
    trained = CliRunner().invoke(
        app,
        ["train", "-d", str(data), "-o", str(checkpoint), "--epochs", "3", "--max-atoms", "40",
         "--workers", "1"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    assert "saved" in trained.stdout  # the text summary prints (it once crashed)
    return data, checkpoint


def test_sweep_prints_one_row_per_target_and_the_control(tmp_path):
    _, checkpoint = tiny_checkpoint(tmp_path)
    result = CliRunner().invoke(
        app,
        ["sweep", "-c", str(checkpoint), "-t", "1.2", "-t", "0.6", "-n", "3",
         "--store", str(tmp_path / "store"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sweep = json.loads(result.stdout.strip().splitlines()[-1])
    assert sweep["property"] == "r_t" and sweep["relaxed"] is False
    assert [o["target"] for o in sweep["outcomes"]] == [0.6, 1.2]
    assert all(o["n_samples"] == 3 for o in sweep["outcomes"])
    assert sweep["control"]["target"] is None and sweep["control"]["n_samples"] == 3


def test_discover_ranks_known_candidates_and_reports_promotions(tmp_path):
    data, checkpoint = tiny_checkpoint(tmp_path)
    store = tmp_path / "store"
    result = CliRunner().invoke(
        app,
        ["discover", "-c", str(checkpoint), "--samples", "3", "--configs", "3", "--steps", "3",
         "--keep-unconverged", "--verify-steps", "5", "--store", str(store), "-d", str(data)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "known and generated" in result.stdout
    for formula in ("Li15Si4", "Li30Si7Ge"):
        assert formula in result.stdout
    text = " ".join(result.stdout.split())
    assert "of 3 generated samples promoted" in text
    assert "sianode report --store" in text


def test_discover_harvests_a_folder_first(tmp_path):
    _, checkpoint = tiny_checkpoint(tmp_path)
    folder = tmp_path / "cifs"
    folder.mkdir()
    for record in builtin_records()[:2]:
        CifWriter(record.structure).write_file(folder / f"{record.source_id}.cif")
    result = CliRunner().invoke(
        app,
        ["discover", "-s", str(folder), "-c", str(checkpoint), "--samples", "2", "--configs",
         "3", "--steps", "3", "--keep-unconverged", "--verify-steps", "5", "--store",
         str(tmp_path / "store")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "2 candidates, known and generated" in text  # the two harvested files
    assert "of 2 generated samples promoted" in text
