"""Read input structures from files: CIF, POSCAR, JSON, and CSV with a CIF column.

Every entry becomes a :class:`~sianode_flows.schemas.StructureRecord`; an entry or a
file that cannot be parsed becomes a record with the reason instead of raising, so
one bad row never stops a batch. A CSV that breaks part way (a truncated gzip, a row
with broken quoting) keeps every row that can be read, and the break becomes a
record with the reason.

Identifiers: an entry read from a folder is named by its file's path under that
folder (``a/Li15Si4.cif``, ``b/Li15Si4.cif``), with ``#i`` for the i-th entry of a
file of several; a file given on its own keeps its stem (``Li15Si4``). A CSV row
keeps its id column (``source_id``, ``material_id``, ``id`` or ``entry_id``), else
its row number (``row-12``); an id that repeats within one file is made unique by
its row number (``mp-149#row-12``).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import logging
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

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
STREAM_ERRORS = (EOFError, OSError, zlib.error, UnicodeDecodeError)
"""Errors of the byte stream under a CSV (``gzip.BadGzipFile`` is an ``OSError``):
nothing after them can be read."""


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


def file_id(path: Path, root: Path | None = None) -> str:
    """Return the identifier of the entries of a file.

    Parameters
    ----------
    path
        The file.
    root
        The folder that was read, if the file was found in one.

    Returns
    -------
    str
        The file's path under ``root`` (``a/Li15Si4.cif``), so that files of the same
        name in different folders stay apart; the file's stem (``Li15Si4``) when it was
        given on its own.
    """
    if root is None:
        return path.stem
    try:
        return path.relative_to(root).as_posix()
    except ValueError:  # not under the root: its full path is still unique
        return path.as_posix()


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


def read_cif(path: Path, root: Path | None = None) -> list[StructureRecord]:
    """Read a CIF file, one record per data block (see :func:`file_id` for the ids)."""
    structures = parse_cif(path.read_text(errors="replace"))
    name = file_id(path, root)
    if len(structures) == 1:
        return [StructureRecord(source="file", source_id=name, structure=structures[0])]
    return [
        StructureRecord(source="file", source_id=f"{name}#{i}", structure=s)
        for i, s in enumerate(structures)
    ]


@dataclass(frozen=True)
class CsvBreak:
    """A place where a CSV file could not be read.

    Parameters
    ----------
    path
        The file.
    row_number
        Number the unreadable row takes among the data rows (1 for the first row
        after the header), as ``row-N`` ids count them.
    line_number
        Line of the file where that row starts.
    reason
        What went wrong.
    last
        Whether nothing after it could be read (a truncated or corrupt gzip); else
        the reading went on at the next readable row.
    """

    path: Path
    row_number: int
    line_number: int
    reason: str
    last: bool

    @property
    def message(self) -> str:
        """Say where the file broke, why, and what was kept."""
        where = f"{self.path}: row {self.row_number} (line {self.line_number})"
        if self.last:
            return (
                f"{where} and everything after it could not be read ({self.reason}); "
                f"the {self.row_number - 1} rows before it were read"
            )
        return f"{where} could not be read ({self.reason}); the reading went on after it"


def _open_text(path: Path) -> TextIO:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    return opener(path, "rt", newline="")


def iter_csv_entries(path: Path) -> Iterator[tuple[int, dict[str, str] | CsvBreak]]:
    """Yield every readable row of a CSV (optionally gzip'd) with a ``cif`` column.

    A row that cannot be read (broken quoting, a number of fields other than the
    header's) is yielded as a :class:`CsvBreak` and the reading goes on at the next
    line that starts a readable row (the lines of the broken row are read again, so
    that a quote left open does not swallow the rows after it). A break of the byte
    stream (a truncated or corrupt gzip) is yielded as a break that ends the file.

    Parameters
    ----------
    path
        The file.

    Yields
    ------
    tuple of int and (dict or CsvBreak)
        The row number (1 for the first data row) and the row by column name, or the
        break that took that number.

    Raises
    ------
    ValueError
        If the file has no ``cif`` column.
    """
    csv.field_size_limit(sys.maxsize)
    header: list[str] | None = None
    row_number = 0
    lines_to_skip = 0
    after_break = False  # broken rows right after a break belong to that break
    while True:
        with _open_text(path) as handle:
            reader = csv.reader(itertools.islice(handle, lines_to_skip, None), strict=True)
            if header is None:
                header = next(reader, None)
                if header is None or "cif" not in header:
                    raise ValueError(f"{path.name} has no 'cif' column")
            restart_line = None
            while restart_line is None:
                first_line = lines_to_skip + reader.line_num + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except STREAM_ERRORS as exc:
                    row_number += 1
                    reason = f"{type(exc).__name__}: {exc}"
                    yield row_number, CsvBreak(path, row_number, first_line, reason, last=True)
                    return
                except csv.Error as exc:
                    reason = f"bad quoting: {exc}"
                else:
                    if not fields:  # a blank line
                        continue
                    if len(fields) == len(header):
                        after_break = False
                        row_number += 1
                        yield row_number, dict(zip(header, fields, strict=True))
                        continue
                    reason = f"{len(fields)} fields where the header has {len(header)}"
                if not after_break:
                    after_break = True
                    row_number += 1
                    yield row_number, CsvBreak(path, row_number, first_line, reason, last=False)
                if lines_to_skip + reader.line_num > first_line:
                    restart_line = first_line  # read the broken row's later lines again
        lines_to_skip = restart_line


def iter_csv_rows(path: Path) -> Iterator[dict[str, str]]:
    """Yield the rows of a CSV (optionally gzip'd) that has a ``cif`` column.

    Raises
    ------
    ValueError
        If the file has no ``cif`` column, or where a row cannot be read (after the
        rows before it); :func:`iter_csv_entries` reads on past broken rows.
    """
    for _, row in iter_csv_entries(path):
        if isinstance(row, CsvBreak):
            raise ValueError(row.message)
        yield row


def row_identity(
    row: dict[str, str],
    default_source: str,
    row_number: int,
    *,
    taken: set[tuple[str, str]] | None = None,
    row_prefix: str = "",
) -> tuple[str, str]:
    """Return the (source, source_id) of a CSV row.

    Parameters
    ----------
    row
        The row by column name.
    default_source
        Source of a row without a ``source`` column.
    row_number
        The row's number in its file (1 for the first data row).
    taken
        The identities given to the file's earlier rows: an id column's value that
        repeats gets the row number (``mp-149#row-12``). Updated in place.
    row_prefix
        Put before ``row-N`` when the row has no id (the file's path under a folder
        read, ``a/x.csv#``).

    Returns
    -------
    tuple of str
        The source and the identifier.
    """
    source = row.get("source") or default_source
    source_id = next((row[c] for c in ID_COLUMNS if row.get(c)), None)
    source_id = source_id or f"{row_prefix}row-{row_number}"
    if taken is not None:
        if (source, source_id) in taken:
            source_id = f"{source_id}#row-{row_number}"
        taken.add((source, source_id))
    return source, source_id


def record_from_row(
    row: dict[str, str],
    default_source: str,
    row_number: int,
    *,
    taken: set[tuple[str, str]] | None = None,
    row_prefix: str = "",
) -> StructureRecord:
    """Parse one CSV row into a record; a bad CIF gives a record with the reason.

    The identity is :func:`row_identity`'s (same arguments).
    """
    source, source_id = row_identity(
        row, default_source, row_number, taken=taken, row_prefix=row_prefix
    )
    properties = {k: v for k, v in row.items() if k not in ("cif", "source", *ID_COLUMNS)}
    try:
        structure = parse_cif(row.get("cif") or "")[0]
    except Exception as exc:  # any parse error is recorded
        return _failed(source, source_id, exc)
    return StructureRecord(
        source=source, source_id=source_id, structure=structure, properties=properties
    )


def record_from_break(
    csv_break: CsvBreak, default_source: str, row_prefix: str = ""
) -> StructureRecord:
    """Return the record of a place where a CSV could not be read (its ``error`` says why).

    Its id is the file's and the row's: ``mp.csv.gz#row-7`` (``row_prefix`` as in
    :func:`row_identity`, the file's name when empty).
    """
    prefix = row_prefix or f"{csv_break.path.name}#"
    return _failed(default_source, f"{prefix}row-{csv_break.row_number}", csv_break.message)


def read_csv(path: Path, root: Path | None = None) -> list[StructureRecord]:
    """Read a CSV (optionally gzip'd) with a ``cif`` column, one record per row.

    Columns ``source`` and one of ``source_id``, ``material_id``, ``id`` name the
    entry; every other column is kept in the record's properties. A row that cannot
    be read, or the point where a truncated file ends, gives a record whose ``error``
    says where and why; every readable row is kept.

    Parameters
    ----------
    path
        The file.
    root
        The folder that was read, if the file was found in one (rows without an id
        are then named after the file's path under it: ``a/x.csv#row-3``).
    """
    row_prefix = f"{file_id(path, root)}#" if root is not None else ""
    taken: set[tuple[str, str]] = set()
    records = []
    for number, row in iter_csv_entries(path):
        if isinstance(row, CsvBreak):
            logger.warning("%s", row.message)
            records.append(record_from_break(row, path.name, row_prefix))
        else:
            records.append(
                record_from_row(row, path.name, number, taken=taken, row_prefix=row_prefix)
            )
    return records


def _record_from_object(obj: Any, name: str, index: int) -> StructureRecord:
    source_id = f"{name}#{index}"
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


def read_json(path: Path, root: Path | None = None) -> list[StructureRecord]:
    """Read a JSON file of structures, structure entries or candidate documents.

    An entry with an id of its own (a structure entry's ``entry_id``, a record's or
    candidate's source id) keeps it; any other is ``<file id>#<index>``.
    """
    content = loadfn(path, cls=None)
    items = content if isinstance(content, list) else [content]
    name = file_id(path, root)
    records = []
    for index, item in enumerate(items):
        try:
            records.append(_record_from_object(item, name, index))
        except Exception as exc:
            records.append(_failed("file", f"{name}#{index}", exc))
    return records


def read_structure_file(path: str | Path, root: str | Path | None = None) -> list[StructureRecord]:
    """Read one file (or every structure file under a folder) into records.

    Parameters
    ----------
    path
        A CIF, POSCAR/CONTCAR/.vasp, JSON, or CSV(.gz) file with a ``cif`` column,
        or a folder of such files.
    root
        The folder the file was found in, whose path the ids are relative to
        (``a/Li15Si4.cif``); a folder given as ``path`` is its own root. ``None``
        for a file given on its own: its entries are named by its stem.

    Returns
    -------
    list of StructureRecord
        One record per entry. A file that cannot be read gives one record whose
        ``error`` says why; nothing is raised for bad content.
    """
    path = Path(path)
    if path.is_dir():
        root = path if root is None else root
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and _suffix(p) in STRUCTURE_SUFFIXES
        )
        return [record for file in files for record in read_structure_file(file, root)]
    root = Path(root) if root is not None else None
    failed_id = str(path) if root is None else file_id(path, root)
    if not path.is_file():
        return [_failed("file", failed_id, f"FileNotFoundError: no such file: {path}")]
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
            return reader(path, root)
        structure = Structure.from_file(path)
        return [StructureRecord(source="file", source_id=file_id(path, root), structure=structure)]
    except Exception as exc:
        logger.warning("could not read %s: %s", path, exc)
        return [_failed("file", failed_id, exc)]
