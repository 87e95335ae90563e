"""The generation section (paper, Figure 5) from generation documents stored as jobflow does."""

from __future__ import annotations

import re

import pytest
from jobflow import JobStore
from maggma.stores import MemoryStore
from pymatgen.core import Structure

from sianode_flows.report import ReportOptions, build_report, gather
from sianode_flows.report.generation import (
    CONTROL_LABEL,
    METRIC_ROWS,
    best_generated,
    sweep_plot,
)
from sianode_flows.stores import build_job_store
from tests.report.conftest import store_documents
from tests.report.generation_docs import (
    GENERATED_ID,
    MODEL_METRICS,
    PYXTAL_METRICS,
    TARGET,
    fill,
    generation_documents,
    generation_metrics,
    store_outputs,
    verify,
)
from tests.report.images import assert_png
from tests.report.tables import parse_page

METRIC_KEYS = [row.key for row in METRIC_ROWS]


@pytest.fixture(scope="module")
def documents() -> dict:
    """Samples, metrics, a sweep, the promoted candidate, its fit and a known fit."""
    return generation_documents()


@pytest.fixture(scope="module", params=["memory", "embedded"])
def generation_store(request, documents, tmp_path_factory):
    """A filled store: jobflow's in-memory store, or the embedded on-disk one."""
    if request.param == "memory":
        store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    else:
        store = build_job_store(str(tmp_path_factory.mktemp("generation") / "store"))
    store.connect()
    fill(store, documents)
    yield store
    store.close()


@pytest.fixture(scope="module")
def generation_report(generation_store, tmp_path_factory):
    """The report of the filled store, its page parsed."""
    report = build_report(generation_store, tmp_path_factory.mktemp("report"), ReportOptions())
    text = report.page.read_text()
    return report, text, parse_page(text)


def test_gather_reads_list_outputs(generation_store, documents):
    data = gather(generation_store)
    generation = data.generation
    assert [s.sample_id for s in generation.samples] == [f"model-7-{i}" for i in range(4)]
    # the structures come back from the data store
    assert all(isinstance(s.structure, Structure) for s in generation.samples)
    assert generation.samples[1].relaxed_structure == documents["samples"][1].relaxed_structure
    newest = {(m.method, m.target.channel_radius): m.validity_rate for m in generation.metrics}
    assert newest == {("model", 1.6): 0.75, ("pyxtal", 1.6): 0.9, ("model", 1.2): 0.9}
    (sweep,) = generation.sweeps
    assert sweep.spearman_rho == documents["sweep"].spearman_rho > 0.8
    assert data.candidate(GENERATED_ID).provenance[0].source == "generated"
    assert data.fits[0].candidate_id == GENERATED_ID  # stable, smallest slope
    assert not data.is_empty


def test_the_section_holds_each_part(generation_report):
    report, text, _ = generation_report
    assert 'id="generation"' in text
    for part in ("generation-metrics", "generation-sweeps", "generation-best"):
        assert f'id="{part}"' in text
    # after the figures of the screening, before the appendix tables
    assert text.index('id="structures"') < text.index('id="generation"')
    assert text.index('id="generation"') < text.index('id="candidates"')
    assert "generated samples: <b>4</b>" in text.split("</header>")[0]
    assert set(report.figures) >= {"generation-sweeps", "generation-best-1"}


def test_metrics_table_holds_the_numbers(generation_report):
    _, text, page = generation_report
    # one table per target, by R_t: the 1.2 A run first, then the 1.6 A one
    other, main = page.tables["generation-metrics-1"], page.tables["generation-metrics-2"]
    assert [row["metric"][0] for row in main] == [row.label for row in METRIC_ROWS]
    for key, row in zip(METRIC_KEYS, main, strict=True):
        for method, expected in (("model", MODEL_METRICS), ("pyxtal", PYXTAL_METRICS)):
            text_shown, value = row[method]
            assert float(value) == expected[key], (method, key)
            if key.endswith("rate") or "_rate_" in key:
                assert text_shown == f"{expected[key]:.1%}", (method, key)
    rows = dict(zip(METRIC_KEYS, main, strict=True))
    assert rows["validity_rate"]["model"] == ("75.0%", "0.75")  # the newest, not 12.5 %
    assert rows["sun_rate_0.0"]["model"] == ("25.0%", "0.25")
    assert rows["capacity_median"]["pyxtal"] == ("2100.5", "2100.5")
    assert set(other[0]) == {"metric", "model"}
    assert float(dict(zip(METRIC_KEYS, other, strict=True))["novelty_rate"]["model"][1]) == 0.3
    assert 'data-field="capacity_mAh_g" data-value="3000.0">3000</span>' in text


def test_sweep_figure_and_its_rho(generation_report, documents):
    report, text, page = generation_report
    sweep = documents["sweep"]
    (figure,) = report.figures["generation-sweeps"]
    assert figure.path.name == "generation_sweep_model_r_t.png"
    assert_png(figure.path)
    assert any(image["data-file"] == f"figures/{figure.path.name}" for image in page.images)
    assert f"{sweep.spearman_rho:.3f}" in figure.caption
    (row,) = page.tables["conditioning-sweeps"]
    assert float(row["spearman_rho"][1]) == sweep.spearman_rho  # the newest sweep's
    assert row["spearman_rho"][0] == f"{sweep.spearman_rho:.3f}"
    assert float(row["spearman_p"][1]) == sweep.spearman_p
    assert f'data-field="spearman_rho" data-value="{sweep.spearman_rho!r}"' in text
    outcomes = page.tables["sweep-model-r_t"]
    assert [r["target"][0] for r in outcomes] == ["0.6", "0.9", "1.2", "1.5", CONTROL_LABEL]
    for shown, outcome in zip(outcomes, sweep.outcomes, strict=False):
        assert float(shown["median"][1]) == outcome.median
        assert float(shown["hit_rate"][1]) == outcome.hit_rate
    assert float(outcomes[-1]["median"][1]) == sweep.control.median
    assert outcomes[-1]["hit_rate"] == ("-", "")


def test_generated_candidates_are_tagged_in_the_ranked_table(generation_report):
    _, text, page = generation_report
    rows = {row["candidate_id"][0]: row for row in page.tables["ranked-candidates"]}
    assert set(rows) == {GENERATED_ID, "mp:mp-1201871"}
    assert rows[GENERATED_ID]["source"][0] == "generated"
    assert re.search(rf'<tr class="stable generated" data-candidate-id="{GENERATED_ID}">', text), (
        "the generated row has no generated class"
    )
    ranked = text.split('id="ranked-candidates"')[1].split("</table>")[0]
    tagged = re.findall(r'data-field="candidate_id" data-tag="generated">([^<]*)<', ranked)
    assert tagged == [GENERATED_ID]
    assert 'data-candidate-id="mp:mp-1201871"' in ranked
    assert 'data-tag="generated">mp:' not in ranked


def test_best_generated_candidate_with_its_fit(generation_report, documents):
    report, _, page = generation_report
    (row,) = page.tables["generated-best"]
    candidate = documents["candidate"]
    assert row["identifier"][0] == GENERATED_ID and row["formula"][0] == "Li30Si7Ge"
    assert row["verdict"][0] == "stable" and row["method"][0] == "model"
    assert float(row["e_above_hull"][1]) == 0.04
    assert row["decomposition"][0] == "Li15Si4 0.75 + Li15Ge4 0.25"
    assert float(row["capacity_mAh_g"][1]) == candidate.capacity_mAh_g
    assert float(row["r_t"][1]) == candidate.r_t_charged
    assert float(row["slope"][1]) == documents["generated_fit"].slope
    names = [f.path.name for f in report.figures["generation-best-1"]]
    assert names == [
        "generation_best_01_generated_Li30Si7Ge_0123456789_structure.png",
        "generation_best_01_generated_Li30Si7Ge_0123456789_fit.png",
    ]
    for figure in report.figures["generation-best-1"]:
        assert_png(figure.path)


def test_sun_samples_when_no_generated_candidate_was_screened(memory_store, documents, tmp_path):
    store_outputs(memory_store, verify, documents["samples"])
    store_outputs(memory_store, generation_metrics, documents["metrics"])
    report = build_report(memory_store, tmp_path / "out", ReportOptions(generated_top=3))
    page = parse_page(report.page.read_text())
    # model-7-2 is a duplicate (not unique), model-7-3 invalid: two S.U.N. samples
    rows = page.tables["generated-best"]
    assert [r["identifier"][0] for r in rows] == ["model-7-0", "model-7-1"]
    assert [float(r["e_above_hull"][1]) for r in rows] == [0.0, 0.04]
    assert [r["verdict"][0] for r in rows] == ["not screened"] * 2
    assert rows[0]["decomposition"][0] == "on the hull"
    assert sorted(report.figures) == ["generation-best-1", "generation-best-2"]
    assert "No conditioning sweep in this store." in report.page.read_text()
    assert [p.formula for p in best_generated(report.data, 1)] == ["Li15Si4"]


def test_no_generation_documents_no_section(memory_store, documents, tmp_path):
    store_documents(memory_store, documents["known_fit"])
    report = build_report(memory_store, tmp_path / "out")
    text = report.page.read_text()
    assert report.data.generation.is_empty
    assert 'id="generation"' not in text and "generated samples" not in text
    assert not [name for name in report.figures if name.startswith("generation")]
    assert not list((tmp_path / "out" / "figures").glob("generation_*.png"))
    assert 'data-tag="generated"' not in text


def test_sweep_plot_draws_targets_diagonal_and_control(documents):
    sweep = documents["sweep"]
    fig = sweep_plot(sweep)
    (ax, *_) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["0.6", "0.9", "1.2", "1.5", "unconditional\n(control)"]
    assert f"\N{GREEK SMALL LETTER RHO} = {sweep.spearman_rho:.3f}" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "achieved = target" in legend
    assert f"{CONTROL_LABEL}: interquartile range" in legend
    (diagonal,) = [line for line in ax.get_lines() if line.get_label() == "achieved = target"]
    x, y = diagonal.get_data()
    assert list(x) == list(y)
    empty = sweep.model_copy(
        update={
            "outcomes": [o.model_copy(update={"achieved": []}) for o in sweep.outcomes],
            "control": None,
        }
    )
    assert sweep_plot(empty) is None


def test_metrics_document_of_the_samples_on_the_page(memory_store, documents, tmp_path):
    from sianode_flows.jobs.generate import metrics_document

    metrics = metrics_document(documents["samples"], "model", TARGET)
    assert metrics.validity_rate == 0.75 and metrics.uniqueness_rate == 2 / 3
    assert metrics.hull_stable_rate == {"0.1": 0.75, "0.0": 0.5}
    assert metrics.sun_rate == {"0.1": 0.5, "0.0": 0.25}
    store_outputs(memory_store, generation_metrics, [metrics])
    report = build_report(memory_store, tmp_path / "out")
    rows = dict(
        zip(
            METRIC_KEYS,
            parse_page(report.page.read_text()).tables["generation-metrics-1"],
            strict=True,
        )
    )
    assert rows["validity_rate"]["model"] == ("75.0%", "0.75")
    assert rows["hull_stable_rate_0.0"]["model"] == ("50.0%", "0.5")
    assert rows["sun_rate_0.0"]["model"] == ("25.0%", "0.25")
    assert rows["n_samples"]["model"] == ("4", "4")
    for row in METRIC_ROWS:
        expected = row.value(metrics)
        shown = rows[row.key]["model"]
        assert shown == (
            ("-", "") if expected is None else (format(expected, row.spec), repr(expected))
        )
    assert (
        "No generated candidate was screened and no sample is S.U.N. yet."
        in report.page.read_text()
    )
