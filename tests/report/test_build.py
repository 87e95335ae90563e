"""The report built from real stores: files, figures referenced, numbers equal the store's."""

import base64

import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sianode_flows.makers import ScreeningMaker
from sianode_flows.report import ReportData, ReportOptions, build_report
from sianode_flows.report.build import slug
from sianode_flows.report.figures import _category_colors
from sianode_flows.report.html import FIT_COLUMNS, OPTIONAL_COLUMNS
from sianode_flows.report.page import EMPTY_NOTICE, render_page
from sianode_flows.report.style import STATUS_COLORS, VERDICTS
from sianode_flows.results import fit_documents, rank, summary_row
from sianode_flows.schemas import StructureRecord
from tests.report.conftest import bad_record, store_documents
from tests.report.generation_docs import (
    MODEL_METRICS,
    TARGET,
    generation_metrics,
    metrics_of,
    store_outputs,
)
from tests.report.tables import parse_page

NUMBERS = [name for name, _, _ in FIT_COLUMNS]


@pytest.fixture(scope="module")
def screened_report(screened_store_path, tmp_path_factory):
    from sianode_flows.stores import build_job_store

    store = build_job_store(str(screened_store_path))
    store.connect()
    out = tmp_path_factory.mktemp("report")
    report = build_report(store, out, ReportOptions(top=3), location=str(screened_store_path))
    return report, store


def test_files_exist_and_the_page_references_each_figure(screened_report):
    report, _ = screened_report
    assert report.page.is_file() and report.page.name == "report.html"
    on_disk = sorted(report.page.parent.glob("figures/*.png"))
    assert sorted(report.figure_paths) == on_disk
    sections = {name: len(figs) for name, figs in report.figures.items()}
    assert sections == {"capacity": 2, "slope": 1, "fits": 2, "structures": 2}
    page = parse_page(report.page.read_text())
    for path in on_disk:
        relative = f"figures/{path.name}"
        assert relative in page.links
        (image,) = [i for i in page.images if i["data-file"] == relative]
        # embedded: the page is one file, its image is the PNG byte for byte
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1]) == path.read_bytes()


def test_table_numbers_equal_the_store_documents(screened_report):
    report, store = screened_report
    page = parse_page(report.page.read_text())
    rows = page.tables["ranked-candidates"]
    fits = rank(fit_documents(store))
    assert [r["candidate_id"][0] for r in rows] == [f.candidate_id for f in fits]
    for row, fit in zip(rows, fits, strict=True):
        summary = summary_row(fit)
        for name in ("formula", "source", "source_id"):
            assert row[name][0] == summary[name]
        assert row["verdict"][0] == fit.shown_verdict
        assert {"slope", "slope_err", "pearson_r", "spearman_rho"} <= set(summary)
        for name in NUMBERS:
            expected = summary.get(name)
            if name not in row:  # an optional column no fit has
                assert name in OPTIONAL_COLUMNS and expected is None, name
                continue
            text, value = row[name]
            if expected is None:
                assert (text, value) == ("-", ""), name
                continue
            assert float(value) == expected, name
            assert float(text) == pytest.approx(expected, rel=0.01, abs=1e-3), name
    li15si4 = next(r for r in rows if r["formula"][0] == "Li15Si4")
    assert li15si4["capacity_mAh_g"][0] == "3578.6"
    candidates = page.tables["all-candidates"]
    assert {c["candidate_id"][0] for c in candidates} == {f.candidate_id for f in fits}


def test_failures_are_listed(screened_report):
    report, _ = screened_report
    (failure,) = parse_page(report.page.read_text()).tables["failures"]
    assert failure["input"][0] == "test:no-li"
    assert failure["step"][0] == "validate"
    assert "contains no Li" in failure["message"][0]


def test_empty_store(memory_store, tmp_path):
    report = build_report(memory_store, tmp_path / "out", location="memory")
    text = report.page.read_text()
    assert report.data.is_empty and report.figures == {}
    assert EMPTY_NOTICE in text
    assert parse_page(text).tables == {} and "<img" not in text


def test_store_with_only_failures(memory_store, tmp_path):
    broken = StructureRecord(source="file", source_id="broken.cif", error="ValueError: bad CIF")
    oxide = StructureRecord(
        source="test",
        source_id="oxide",
        structure=Structure(
            Lattice.cubic(5), ["Li", "Si", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0]]
        ),
    )
    flow = ScreeningMaker().make([broken, bad_record(), oxide])
    run_locally(flow, store=memory_store, ensure_success=True, log=False)
    report = build_report(memory_store, tmp_path / "out")
    page = parse_page(report.page.read_text())
    assert EMPTY_NOTICE not in report.page.read_text()
    failures = {row["input"][0]: row["step"][0] for row in page.tables["failures"]}
    assert failures == {
        "file:broken.cif": "read",
        "test:no-li": "validate",
        "test:oxide": "validate",
    }
    assert report.figures == {} and "ranked-candidates" not in page.tables


def test_database_series_section(memory_store, series_document, tmp_path):
    store_documents(memory_store, series_document)
    report = build_report(memory_store, tmp_path / "out", ReportOptions(embed=False))
    assert [p.name for p in report.figure_paths] == ["series_Li-Si.png"]
    page = parse_page(report.page.read_text())
    (row,) = page.tables["database-series"]
    assert row["chemsys"][0] == "Li-Si"
    assert int(row["n_structures"][1]) == series_document.n_structures
    for name in ("slope", "slope_err", "pearson_r", "spearman_rho"):
        assert float(row[name][1]) == getattr(series_document, name)
    # not embedded: the page points at the PNG beside it
    (image,) = page.images
    assert image["src"] == "figures/series_Li-Si.png"


def test_rebuild_removes_stale_figures_and_limits(screened_store, tmp_path):
    out = tmp_path / "out"
    first = build_report(screened_store, out, ReportOptions(top=1, max_fit_figures=1))
    assert {name: len(f) for name, f in first.figures.items()}["fits"] == 1
    assert len(first.figures["structures"]) == 1
    stale = out / "figures" / "fit_009_old.png"
    stale.write_bytes(b"old")
    build_report(screened_store, out, ReportOptions(top=1, max_fit_figures=1))
    assert not stale.exists()
    assert slug("mp:mp-1/x y") == "mp_mp-1_x_y"


def test_generation_section_only_with_generation_documents(memory_store, verdict_fits, tmp_path):
    store_documents(memory_store, *verdict_fits)
    report = build_report(memory_store, tmp_path / "out", ReportOptions(top=0))
    assert 'id="generation"' not in report.page.read_text()
    assert not [name for name in report.figures if name.startswith("generation")]
    # the same store with a generation run: the section follows the screening's
    metrics = metrics_of("model", MODEL_METRICS, TARGET)
    store_outputs(memory_store, generation_metrics, [metrics])
    text = build_report(memory_store, tmp_path / "out", ReportOptions(top=0)).page.read_text()
    assert 'id="generation"' in text and 'id="generation-metrics-1"' in text
    assert text.index('id="fits"') < text.index('id="generation"')


def test_page_shows_every_verdict(verdict_fits):
    data = ReportData(location="built fits", fits=verdict_fits)
    text = render_page(data, {}, ReportOptions(min_capacity=1500))
    header = text.split("</header>")[0]
    for verdict in VERDICTS:
        assert f'<span class="{verdict}">{verdict}: <b>1</b></span>' in header
        assert f"tr.{verdict} td.verdict {{" in text  # its own color
    rows = parse_page(text).tables["ranked-candidates"]
    assert [row["verdict"][0] for row in rows] == list(VERDICTS)
    assert list(rows[0])[:3] == ["rank", "formula", "verdict"]  # seen first, not scrolled to
    undecided = next(f for f in verdict_fits if f.shown_verdict == "undecided")
    assert f'<tr class="undecided" data-candidate-id="{undecided.candidate_id}">' in text


def test_status_colors_keep_their_verdict_in_legend_order():
    statuses = ["not screened", "undecided", "unstable", "undecided", "stable", "mystery"]
    colors = _category_colors(statuses, STATUS_COLORS)
    assert list(colors) == ["stable", "undecided", "unstable", "not screened", "mystery"]
    for status in ("stable", "unstable", "undecided", "not screened"):
        assert colors[status] == STATUS_COLORS[status]
    assert colors["mystery"] not in {colors[s] for s in statuses if s != "mystery"}
