"""Read input structures from files: CIF, POSCAR, JSON, and CSV with a CIF column.

Every entry becomes a :class:`~sianode_flows.schemas.StructureRecord`; an entry or a
file that cannot be parsed becomes a record with the reason instead of raising, so
one bad row never stops a batch.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monty.json import MontyDecoder
from monty.serialization import loadfn
from pymatgen.core import Structure
from pymatgen.entries.computed_entries import ComputedStructureEntry
from pymatgen.io.cif import CifParser

from sianode_flows.schemas import CandidateDocument, StructureRecord

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

STRUCTURE_SUFFIXES = (
    ".cif",
    ".vasp",
    ".poscar",
    ".json",
    ".csv",
    ".csv.gz",
    ".json.gz",
)
ID_COLUMNS = ("source_id", "material_id", "id", "entry_id")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".csv.gz", ".json.gz"):
        if name.endswith(suffix):
            return suffix
    if name.startswith(("poscar", "contcar")):
        return ".poscar"
    return path.suffix.lower()


def _failed(source: str, source_id: str, exc: BaseException | str) -> StructureRecord:
    message = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return StructureRecord(source=source, source_id=source_id, error=message)


def parse_cif(text: str) -> list[Structure]:
    """Parse every data block of a CIF text into a structure.

    Raises
    ------
    ValueError
        If no block gives a structure.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = CifParser(io.StringIO(text)).parse_structures(primitive=False)
    if not structures:
        raise ValueError("no structure could be parsed from the CIF")
    return structures


def read_cif(path: Path) -> list[StructureRecord]:
    """Read a CIF file, one record per data block."""
    structures = parse_cif(path.read_text(errors="replace"))
    stem = path.stem
    if len(structures) == 1:
        return [StructureRecord(source="file", source_id=stem, structure=structures[0])]
    return [
        StructureRecord(source="file", source_id=f"{stem}#{i}", structure=s)
        for i, s in enumerate(structures)
    ]


def iter_csv_rows(path: Path) -> Iterator[dict[str, str]]:
    """Yield the rows of a CSV (optionally gzip'd) that has a ``cif`` column.

    Raises
    ------
    ValueError
        If the file has no ``cif`` column.
    """
    csv.field_size_limit(sys.maxsize)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "cif" not in reader.fieldnames:
            raise ValueError(f"{path.name} has no 'cif' column")
        yield from reader


def row_identity(row: dict[str, str], default_source: str, row_number: int) -> tuple[str, str]:
    """Return the (source, source_id) of a CSV row."""
    source = row.get("source") or default_source
    source_id = next((row[c] for c in ID_COLUMNS if row.get(c)), None) or f"row-{row_number}"
    return source, source_id


def record_from_row(row: dict[str, str], default_source: str, row_number: int) -> StructureRecord:
    """Parse one CSV row into a record; a bad CIF gives a record with the reason."""
    source, source_id = row_identity(row, default_source, row_number)
    properties = {k: v for k, v in row.items() if k not in ("cif", "source", *ID_COLUMNS)}
    try:
        structure = parse_cif(row.get("cif") or "")[0]
    except Exception as exc:  # any parse error is recorded
        return _failed(source, source_id, exc)
    return StructureRecord(
        source=source, source_id=source_id, structure=structure, properties=properties
    )


def read_csv(path: Path) -> list[StructureRecord]:
    """Read a CSV (optionally gzip'd) with a ``cif`` column, one record per row.

    Columns ``source`` and one of ``source_id``, ``material_id``, ``id`` name the
    entry; every other column is kept in the record's properties.
    """
    return [
        record_from_row(row, path.name, number)
        for number, row in enumerate(iter_csv_rows(path), start=1)
    ]


def _record_from_object(obj: Any, path: Path, index: int) -> StructureRecord:
    source_id = f"{path.stem}#{index}"
    if isinstance(obj, dict) and "@class" in obj:
        obj = MontyDecoder().process_decoded(obj)
    if isinstance(obj, StructureRecord):
        return obj
    if isinstance(obj, CandidateDocument):
        return StructureRecord(
            source=obj.source,
            source_id=obj.source_id or obj.candidate_id,
            structure=obj.structure,
        )
    if isinstance(obj, ComputedStructureEntry):
        return StructureRecord(
            source="file",
            source_id=str(obj.entry_id or source_id),
            structure=obj.structure,
            properties={"energy_per_atom": obj.energy_per_atom},
        )
    if isinstance(obj, Structure):
        return StructureRecord(source="file", source_id=source_id, structure=obj)
    if isinstance(obj, dict) and "lattice" in obj and "sites" in obj:
        return StructureRecord(
            source="file", source_id=source_id, structure=Structure.from_dict(obj)
        )
    raise TypeError(f"entry {index} is a {type(obj).__name__}, not a structure")


def read_json(path: Path) -> list[StructureRecord]:
    """Read a JSON file of structures, structure entries or candidate documents."""
    content = loadfn(path, cls=None)
    items = content if isinstance(content, list) else [content]
    records = []
    for index, item in enumerate(items):
        try:
            records.append(_record_from_object(item, path, index))
        except Exception as exc:
            records.append(_failed("file", f"{path.stem}#{index}", exc))
    return records


def read_structure_file(path: str | Path) -> list[StructureRecord]:
    """Read one file (or every structure file under a folder) into records.

    Parameters
    ----------
    path
        A CIF, POSCAR/CONTCAR/.vasp, JSON, or CSV(.gz) file with a ``cif`` column,
        or a folder of such files.

    Returns
    -------
    list of StructureRecord
        One record per entry. A file that cannot be read gives one record whose
        ``error`` says why; nothing is raised for bad content.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and _suffix(p) in STRUCTURE_SUFFIXES
        )
        return [record for file in files for record in read_structure_file(file)]
    if not path.is_file():
        return [_failed("file", str(path), f"FileNotFoundError: no such file: {path}")]
    readers = {
        ".cif": read_cif,
        ".csv": read_csv,
        ".csv.gz": read_csv,
        ".json": read_json,
        ".json.gz": read_json,
    }
    reader = readers.get(_suffix(path))
    try:
        if reader is not None:
            return reader(path)
        structure = Structure.from_file(path)
        return [StructureRecord(source="file", source_id=path.stem, structure=structure)]
    except Exception as exc:
        logger.warning("could not read %s: %s", path, exc)
        return [_failed("file", str(path), exc)]
