"""Local files: folders of CIF/POSCAR, JSON of structures or entries, CSV with CIFs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sianode_flows.io import (
    CsvBreak,
    file_id,
    iter_csv_entries,
    read_structure_file,
    record_from_break,
    record_from_row,
    row_identity,
)
from sianode_flows.schemas import StructureRecord
from sianode_flows.sources.base import ElementCriteria, SourceResult, StructureSource


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


@dataclass
class LocalFileSource(StructureSource):
    """Structures from a local file or folder (see :mod:`sianode_flows.io`).

    CSV files with a ``formula`` column are filtered by their formula before any CIF
    is parsed, which is what makes harvesting tens of thousands of rows fast. A CSV
    that breaks part way keeps its readable rows; the break is a record with the
    reason. Entries of a folder are named by their file's path under it (see
    :mod:`sianode_flows.io`).

    Parameters
    ----------
    path
        A file or a folder.
    name
        Label of the source; the CSV ``source`` column, where present, names each
        entry's own database.
    """

    path: str
    name: str = "file"

    def fetch(self, criteria: ElementCriteria) -> SourceResult:
        """Read the entries that satisfy the criteria."""
        path = Path(self.path).expanduser()
        result = SourceResult(name=self.name)
        if not path.exists():
            result.error = f"no such file or folder: {path}"
            return result
        root = path if path.is_dir() else None
        files = sorted(p for p in path.rglob("*") if p.is_file()) if root else [path]
        for file in files:
            if _is_csv(file):
                self._fetch_csv(file, root, criteria, result)
            elif root is None or file.suffix.lower() in (".cif", ".json", ".vasp"):
                self._fetch_other(file, root, criteria, result)
        return result

    def _fetch_csv(
        self, file: Path, root: Path | None, criteria: ElementCriteria, result: SourceResult
    ) -> None:
        row_prefix = f"{file_id(file, root)}#" if root is not None else ""
        taken: set[tuple[str, str]] = set()
        try:
            for number, row in iter_csv_entries(file):
                result.n_seen += 1
                if isinstance(row, CsvBreak):
                    result.records.append(record_from_break(row, self.name, row_prefix))
                    continue
                formula = row.get("formula")
                if formula and not criteria.matches_formula(formula):
                    result.n_prefiltered += 1
                    # its id stays taken, so that every row is named as read_csv names it
                    row_identity(row, self.name, number, taken=taken, row_prefix=row_prefix)
                    continue
                result.records.append(
                    record_from_row(row, self.name, number, taken=taken, row_prefix=row_prefix)
                )
        except Exception as exc:  # an unreadable file is recorded; the other files go on
            result.n_seen += 1
            source_id = str(file) if root is None else file_id(file, root)
            result.records.append(
                StructureRecord(
                    source=self.name, source_id=source_id, error=f"{type(exc).__name__}: {exc}"
                )
            )

    def _fetch_other(
        self, file: Path, root: Path | None, criteria: ElementCriteria, result: SourceResult
    ) -> None:
        for record in read_structure_file(file, root):
            result.n_seen += 1
            structure = record.structure
            if structure is not None and not criteria.matches_elements(
                el.symbol for el in structure.composition.elements
            ):
                result.n_prefiltered += 1
                continue
            result.records.append(record)
