import csv
import gzip
import io
import itertools
import sys
import zlib

import pytest
from monty.serialization import dumpfn
from pymatgen.entries.computed_entries import ComputedStructureEntry

from sianode_flows.io import read_structure_file
from tests.sources.servers import shared_rows


def test_cif_and_poscar(li15si4_primitive, tmp_path):
    li15si4_primitive.to(filename=str(tmp_path / "li15si4.cif"))
    li15si4_primitive.to(filename=str(tmp_path / "POSCAR"))
    (records,) = [read_structure_file(tmp_path / "li15si4.cif")]
    assert len(records) == 1 and records[0].structure.composition.reduced_formula == "Li15Si4"
    poscar = read_structure_file(tmp_path / "POSCAR")
    assert poscar[0].structure.composition == li15si4_primitive.composition


def test_unreadable_files_become_records_with_reasons(tmp_path):
    (tmp_path / "broken.cif").write_text("data_broken\n_cell_length_a 5\nthis is not a cif\n")
    missing = read_structure_file(tmp_path / "nope.cif")
    broken = read_structure_file(tmp_path / "broken.cif")
    assert missing[0].structure is None and "no such file" in missing[0].error
    assert broken[0].structure is None and broken[0].error


def test_json_of_structures_and_entries(li15si4_primitive, tmp_path):
    entry = ComputedStructureEntry(li15si4_primitive, -100.0, entry_id="mp-569849")
    dumpfn([li15si4_primitive, entry, {"not": "a structure"}], tmp_path / "mixed.json")
    records = read_structure_file(tmp_path / "mixed.json")
    assert [r.structure is not None for r in records] == [True, True, False]
    assert records[1].source_id == "mp-569849"
    assert "not a structure" in records[2].error


def test_shared_csv_rows(shared_data, tmp_path):
    """The CSV reader on ten real rows of the shared data, plus one garbage row."""
    csv.field_size_limit(sys.maxsize)
    with gzip.open(shared_data / "lemat_baseline_mp_alex_oqmd.csv.gz", "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(itertools.islice(reader, 10))
        fieldnames = reader.fieldnames
    rows.append({**rows[0], "source_id": "garbage", "cif": "not a cif"})
    subset = tmp_path / "subset.csv.gz"
    with gzip.open(subset, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    records = read_structure_file(subset)
    assert len(records) == 11
    assert all(r.structure is not None for r in records[:10])
    assert {r.source for r in records} <= {"mp", "alexandria", "oqmd", "aflow"}
    assert records[0].source_id == rows[0]["source_id"]
    assert records[-1].structure is None and records[-1].source_id == "garbage"


def csv_lines(rows: list[dict[str, str]]) -> tuple[str, list[str]]:
    """Return the header line and each row's text, as the csv module writes them."""
    fieldnames = list(rows[0])

    def line(values: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(values)
        return buffer.getvalue()

    return line(fieldnames), [line([row[name] for name in fieldnames]) for row in rows]


@pytest.fixture(scope="module")
def gnome_rows(shared_data) -> list[dict[str, str]]:
    """Eight real rows (source, source_id, formula, cif) of the GNoME sample."""
    return shared_rows(shared_data / "gnome_li_or_si.csv.gz", lambda row: True, limit=8)


def test_files_of_the_same_name_in_different_folders_stay_apart(li15si4_primitive, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "inputs" / folder).mkdir(parents=True)
        li15si4_primitive.to(filename=str(tmp_path / "inputs" / folder / "Li15Si4.cif"))
    dumpfn([li15si4_primitive, li15si4_primitive], tmp_path / "inputs" / "a" / "two.json")
    records = read_structure_file(tmp_path / "inputs")
    assert [r.source_id for r in records] == [
        "a/Li15Si4.cif",
        "a/two.json#0",
        "a/two.json#1",
        "b/Li15Si4.cif",
    ]
    assert all(r.structure is not None for r in records)
    # a file given on its own keeps its stem
    alone = read_structure_file(tmp_path / "inputs" / "b" / "Li15Si4.cif")
    assert [r.source_id for r in alone] == ["Li15Si4"]


def test_csv_ids_are_unique_within_a_file(gnome_rows, tmp_path):
    rows = [
        {"source_id": "dup", "cif": gnome_rows[0]["cif"]},
        {"source_id": "dup", "cif": gnome_rows[1]["cif"]},
        {"source_id": "", "cif": gnome_rows[2]["cif"]},
    ]
    (tmp_path / "sub").mkdir()
    header, lines = csv_lines(rows)
    (tmp_path / "sub" / "x.csv").write_text(header + "".join(lines))
    alone = read_structure_file(tmp_path / "sub" / "x.csv")
    assert [r.source_id for r in alone] == ["dup", "dup#row-2", "row-3"]
    assert all(r.structure is not None for r in alone)
    # read from a folder, a row without an id is named after the file's path in it
    in_folder = read_structure_file(tmp_path)
    assert [r.source_id for r in in_folder] == ["dup", "dup#row-2", "sub/x.csv#row-3"]


@pytest.mark.parametrize("damage", ["truncated", "bad checksum"])
def test_broken_gzip_keeps_every_readable_row(gnome_rows, tmp_path, damage):
    header, lines = csv_lines(gnome_rows)
    packed = gzip.compress((header + "".join(lines)).encode())
    if damage == "truncated":  # cut in the middle: the rows wholly before the cut survive
        damaged = packed[: len(packed) // 2]
        readable = zlib.decompressobj(wbits=31).decompress(damaged)
        ends = list(itertools.accumulate(len(text.encode()) for text in [header, *lines]))
        n_kept = sum(1 for end in ends[1:] if end <= len(readable))
        assert n_kept < len(gnome_rows)
        expected_error = "EOFError"
    else:  # every row is there, the gzip trailer's CRC is wrong
        damaged = packed[:-8] + bytes(4) + packed[-4:]
        n_kept = len(gnome_rows)
        expected_error = "BadGzipFile"
    assert 0 < n_kept <= len(gnome_rows)
    path = tmp_path / "damaged.csv.gz"
    path.write_bytes(damaged)

    records = read_structure_file(path)
    assert len(records) == n_kept + 1
    assert [r.source_id for r in records[:-1]] == [r["source_id"] for r in gnome_rows[:n_kept]]
    assert all(r.structure is not None for r in records[:-1])
    (failure,) = [r for r in records if r.structure is None]
    assert failure is records[-1] and failure.source_id == f"damaged.csv.gz#row-{n_kept + 1}"
    assert str(path) in failure.error and f"row {n_kept + 1} " in failure.error
    assert expected_error in failure.error and f"the {n_kept} rows before it" in failure.error


@pytest.mark.parametrize("damage", ["stray quote", "quote left open"])
def test_csv_row_with_broken_quoting_keeps_the_other_rows(gnome_rows, tmp_path, damage):
    header, lines = csv_lines(gnome_rows)
    broken = 3  # row number of the broken row
    if damage == "stray quote":
        lines[broken - 1] = lines[broken - 1].replace("_cell_length_a", '_cell_length_a "', 1)
    else:
        assert lines[broken - 1].endswith('"\r\n')
        lines[broken - 1] = lines[broken - 1].removesuffix('"\r\n') + "\r\n"
    path = tmp_path / "quoting.csv"
    path.write_text(header + "".join(lines), newline="")

    records = read_structure_file(path)
    assert len(records) == len(gnome_rows)
    (failure,) = [r for r in records if r.structure is None]
    assert records.index(failure) == broken - 1
    assert failure.source_id == f"quoting.csv#row-{broken}"
    assert str(path) in failure.error and f"row {broken} " in failure.error
    assert "bad quoting" in failure.error
    kept = [r.source_id for r in records if r.structure is not None]
    assert kept == [r["source_id"] for i, r in enumerate(gnome_rows, 1) if i != broken]
