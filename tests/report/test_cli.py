"""``sianode report`` on an on-disk store filled by a real screening."""

from pathlib import Path

from typer.testing import CliRunner

from sianode_flows.cli.main import app
from tests.report.tables import parse_page


def test_report_command(screened_store_path, tmp_path):
    out = tmp_path / "site"
    args = ["report", "--store", str(screened_store_path), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--rt-window", "1.6", "2.0", "--top", "1"])
    assert result.exit_code == 0, result.output
    page = Path(result.stdout.strip())
    assert page == (out / "report.html").resolve() and page.is_file()
    text = page.read_text()
    assert "R_t window 1.6-2 Å" in text
    parsed = parse_page(text)
    assert len(parsed.tables["ranked-candidates"]) == 2
    assert len(list(out.glob("figures/structure_*.png"))) == 1
    assert {f"figures/{p.name}" for p in out.glob("figures/*.png")} <= set(parsed.links)


def test_report_command_refuses_a_missing_store(tmp_path):
    result = CliRunner().invoke(app, ["report", "--store", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "no store at" in result.output
    assert not (tmp_path / "nowhere").exists()


def test_report_command_on_an_empty_store(tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["report", "--store", str(tmp_path / "empty"), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "holds no sianode document" in (tmp_path / "r" / "report.html").read_text()
