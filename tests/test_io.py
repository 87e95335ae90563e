import csv
import gzip
import itertools
import sys

from monty.serialization import dumpfn
from pymatgen.entries.computed_entries import ComputedStructureEntry

from sianode_flows.io import read_structure_file


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
