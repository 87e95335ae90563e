"""Every adapter against real data: local files, GNoME release, OPTIMADE, MP API."""

import os
import zipfile

import pytest

from sianode_flows.io import parse_cif
from sianode_flows.sources import (
    ElementCriteria,
    GNoMESource,
    LocalFileSource,
    MaterialsProjectSource,
    OptimadeSource,
    SourceUnavailableError,
)
from sianode_flows.sources.spec import parse_source
from tests.sources.servers import (
    garbage_server,
    mp_api_server,
    optimade_server,
    shared_rows,
    write_optimade_jsonl,
    write_rows,
)

LI_SI = ElementCriteria()


def test_criteria():
    assert LI_SI.matches_formula("Li12 Mg3 Si4") and not LI_SI.matches_formula("Li2 O1")
    series = ElementCriteria(required=("Si",), allowed=("Li", "Si"))
    assert series.matches_formula("Li15Si4") and series.matches_formula("Si")
    assert not series.matches_formula("Li12Mg3Si4")
    assert series.optimade_filter() == 'elements HAS ALL "Si" AND nelements<=2'


def test_local_csv_prefilters_by_formula(shared_data):
    result = LocalFileSource(str(shared_data / "gnome_li_or_si.csv.gz"), name="gnome").fetch(LI_SI)
    assert result.n_seen == 2803
    assert len(result.records) == 30 == result.n_seen - result.n_prefiltered
    assert all(r.source == "gnome" and r.structure is not None for r in result.records)


def test_local_folder_with_a_bad_file(tmp_path, li15si4_primitive):
    li15si4_primitive.to(filename=str(tmp_path / "good.cif"))
    (tmp_path / "bad.cif").write_text("data_bad\n_cell_length_a x\n")
    result = LocalFileSource(str(tmp_path)).fetch(LI_SI)
    assert sorted(r.structure is not None for r in result.records) == [False, True]
    missing = LocalFileSource(str(tmp_path / "absent")).fetch(LI_SI)
    assert "no such file" in missing.error


def test_local_folder_names_entries_by_path_and_keeps_the_rows_of_a_cut_gzip(
    tmp_path, li15si4_primitive, shared_data
):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        li15si4_primitive.to(filename=str(tmp_path / folder / "Li15Si4.cif"))
    gnome = shared_data / "gnome_li_or_si.csv.gz"
    li_si = shared_rows(gnome, lambda r: LI_SI.matches_formula(r["formula"]), limit=10)
    others = shared_rows(gnome, lambda r: not LI_SI.matches_formula(r["formula"]), limit=10)
    rows = [row for pair in zip(li_si, others, strict=True) for row in pair]
    packed = write_rows(rows, tmp_path / "whole.csv.gz").read_bytes()
    (tmp_path / "whole.csv.gz").unlink()
    (tmp_path / "b" / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])

    result = LocalFileSource(str(tmp_path), name="local").fetch(LI_SI)
    failure = result.records[-1]
    assert failure.structure is None and failure.source_id.startswith("b/cut.csv.gz#row-")
    broken_row = int(failure.source_id.rpartition("-")[2])
    assert 1 < broken_row < len(rows)
    assert "cut.csv.gz" in failure.error and f"row {broken_row} " in failure.error
    assert "EOFError" in failure.error
    read = rows[: broken_row - 1]
    kept = [r["source_id"] for r in read if LI_SI.matches_formula(r["formula"])]
    assert [r.source_id for r in result.records] == [
        "a/Li15Si4.cif",
        "b/Li15Si4.cif",
        *kept,
        failure.source_id,
    ]
    assert all(r.structure is not None for r in result.records[:-1])
    assert result.n_seen == 2 + len(read) + 1
    assert result.n_seen - result.n_prefiltered == len(result.records)


def test_gnome_release_folder(tmp_path, shared_data):
    rows = shared_rows(shared_data / "gnome_li_or_si.csv.gz", lambda r: True, limit=40)
    with (tmp_path / "stable_materials_summary.csv").open("w") as handle:
        handle.write("MaterialId,Reduced Formula,Elements,Formation Energy Per Atom\n")
        for row in rows:
            elements = sorted({el.symbol for el in parse_cif(row["cif"])[0].composition})
            handle.write(f'{row["source_id"]},{row["formula"]},"{elements}",-0.1\n')
        handle.write("missing-cif,LiSi,\"['Li', 'Si']\",-0.2\n")
    with zipfile.ZipFile(tmp_path / "by_id.zip", "w") as archive:
        for row in rows:
            archive.writestr(f"by_id/{row['source_id']}.CIF", row["cif"])
    result = GNoMESource(str(tmp_path)).fetch(LI_SI)
    expected = [r for r in rows if LI_SI.matches_formula(r["formula"])]
    assert result.n_seen == 41
    parsed = [r for r in result.records if r.structure is not None]
    assert {r.source_id for r in parsed} == {r["source_id"] for r in expected}
    failed = [r for r in result.records if r.structure is None]
    assert [r.source_id for r in failed] == ["missing-cif"] and "no CIF" in failed[0].error
    assert parsed[0].properties["gnome formation energy per atom"] == "-0.1"


def test_optimade_reference_server(tmp_path, li_si_rows, other_rows):
    entries = [(f"mp-{r['source_id']}", parse_cif(r["cif"])[0]) for r in li_si_rows[:8]]
    entries += [(f"{r['source']}-{r['source_id']}", parse_cif(r["cif"])[0]) for r in other_rows]
    jsonl = write_optimade_jsonl(entries, tmp_path / "structures.jsonl")
    with optimade_server(jsonl, tmp_path) as base_url:
        result = OptimadeSource(base_urls=[base_url], name="local-optimade").fetch(LI_SI)
    assert result.error is None
    assert sorted(r.source_id for r in result.records) == sorted(e[0] for e in entries[:8])
    assert all(r.source == "local-optimade" for r in result.records)
    original = dict(entries)
    for record in result.records:
        assert record.structure.composition == original[record.source_id].composition


def test_materials_project_api_server(li_si_rows, monkeypatch):
    entries = [
        (
            r["source_id"],
            parse_cif(r["cif"])[0],
            {"formation_energy_per_atom": float(r["formation_energy_per_atom"])},
        )
        for r in li_si_rows[:25]
    ]
    monkeypatch.delenv("MP_API_KEY", raising=False)
    monkeypatch.delenv("PMG_MAPI_KEY", raising=False)
    with mp_api_server(entries) as (url, handler):
        with pytest.raises(SourceUnavailableError, match="MP_API_KEY"):
            MaterialsProjectSource(endpoint=url).fetch(LI_SI)
        monkeypatch.setenv("MP_API_KEY", "k" * 32)
        result = MaterialsProjectSource(endpoint=url).fetch(LI_SI)
    assert len(result.records) == 25
    assert any("elements=Li%2CSi" in path for path in handler.requests_seen)
    first = result.records[0]
    assert first.source == "mp" and first.source_id == entries[0][0]
    assert (
        first.properties["mp formation_energy_per_atom"]
        == entries[0][2]["formation_energy_per_atom"]
    )


def test_sources_that_answer_garbage_or_time_out(monkeypatch):
    monkeypatch.setenv("MP_API_KEY", "k" * 32)
    with garbage_server() as url:
        with pytest.raises(SourceUnavailableError, match="Materials Project query failed"):
            MaterialsProjectSource(endpoint=url).fetch(LI_SI)
        answer = OptimadeSource(base_urls=[url.rstrip("/")], timeout=2).fetch(LI_SI)
        assert answer.error and not answer.records
    with garbage_server(delay=5) as url:
        slow = OptimadeSource(base_urls=[url.rstrip("/")], timeout=0.5).fetch(LI_SI)
        assert slow.error and "imeout" in slow.error


def test_source_specs(tmp_path):
    assert isinstance(parse_source("mp"), MaterialsProjectSource)
    assert parse_source("optimade:https://a.org,https://b.org").base_urls == [
        "https://a.org",
        "https://b.org",
    ]
    assert isinstance(parse_source(f"gnome:{tmp_path}"), GNoMESource)
    assert isinstance(parse_source(str(tmp_path)), LocalFileSource)
    with pytest.raises(ValueError, match="unknown source"):
        parse_source("nowhere:thing")
    assert "MP_API_KEY" not in str(parse_source("mp").as_dict())
    assert os.environ.get("MP_API_KEY", "") not in str(
        parse_source("mp").as_dict()
    ) or not os.environ.get("MP_API_KEY")
