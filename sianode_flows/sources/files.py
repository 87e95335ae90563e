"""Local files: folders of CIF/POSCAR, JSON of structures or entries, CSV with CIFs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sianode_flows.io import iter_csv_rows, read_structure_file, record_from_row
from sianode_flows.schemas import StructureRecord
from sianode_flows.sources.base import ElementCriteria, SourceResult, StructureSource


def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz"))


@dataclass
class LocalFileSource(StructureSource):
    """Structures from a local file or folder (see :mod:`sianode_flows.io`).

    CSV files with a ``formula`` column are filtered by their formula before any CIF
    is parsed, which is what makes harvesting tens of thousands of rows fast.

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
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if _is_csv(file):
                self._fetch_csv(file, criteria, result)
            elif path.is_file() or file.suffix.lower() in (".cif", ".json", ".vasp"):
                self._fetch_other(file, criteria, result)
        return result

    def _fetch_csv(self, file: Path, criteria: ElementCriteria, result: SourceResult) -> None:
        try:
            for number, row in enumerate(iter_csv_rows(file), start=1):
                result.n_seen += 1
                formula = row.get("formula")
                if formula and not criteria.matches_formula(formula):
                    result.n_prefiltered += 1
                    continue
                result.records.append(record_from_row(row, self.name, number))
        except Exception as exc:  # an unreadable file is recorded; the other files go on
            result.records.append(
                StructureRecord(
                    source=self.name, source_id=str(file), error=f"{type(exc).__name__}: {exc}"
                )
            )

    def _fetch_other(self, file: Path, criteria: ElementCriteria, result: SourceResult) -> None:
        for record in read_structure_file(file):
            result.n_seen += 1
            structure = record.structure
            if structure is not None and not criteria.matches_elements(
                el.symbol for el in structure.composition.elements
            ):
                result.n_prefiltered += 1
                continue
            result.records.append(record)
