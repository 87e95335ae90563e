"""GNoME's public release from a local folder: the summary CSV plus its CIFs.

The release (``gs://gdm_materials_discovery/gnome_data``) holds
``stable_materials_summary.csv`` (columns ``MaterialId``, ``Reduced Formula``,
``Elements``, energies, ...) and ``by_id.zip`` with one ``<MaterialId>.CIF`` per
entry. The zip may also be unpacked into a ``by_id/`` folder. Entries are selected
from the summary's ``Elements`` column before any CIF is read.
"""

from __future__ import annotations

import ast
import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sianode_flows.io import parse_cif
from sianode_flows.schemas import StructureRecord
from sianode_flows.sources.base import ElementCriteria, SourceResult, StructureSource

SUMMARY_FILE = "stable_materials_summary.csv"
ENERGY_COLUMNS = (
    "Corrected Energy",
    "Formation Energy Per Atom",
    "Decomposition Energy Per Atom",
)


def _elements(cell: str) -> list[str]:
    """Parse the summary's ``Elements`` cell, e.g. ``"['Li', 'Si']"``."""
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError):
        return cell.replace(",", " ").replace("-", " ").split()
    return [str(v) for v in value]


class _CifArchive:
    """CIF texts by material id, from ``by_id.zip`` or a ``by_id/`` folder."""

    def __init__(self, root: Path) -> None:
        self.zip_path = root / "by_id.zip"
        self.folder = root / "by_id"
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}

    def __enter__(self) -> _CifArchive:
        if self.zip_path.is_file():
            self._zip = zipfile.ZipFile(self.zip_path)
            self._names = {
                Path(name).stem: name
                for name in self._zip.namelist()
                if name.lower().endswith(".cif")
            }
        elif self.folder.is_dir():
            self._names = {
                p.stem: str(p) for p in self.folder.iterdir() if p.suffix.lower() == ".cif"
            }
        else:
            raise FileNotFoundError(f"neither {self.zip_path} nor {self.folder} exists")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zip is not None:
            self._zip.close()

    def read(self, material_id: str) -> str:
        name = self._names.get(material_id)
        if name is None:
            raise KeyError(f"no CIF for {material_id}")
        if self._zip is not None:
            return self._zip.read(name).decode(errors="replace")
        return Path(name).read_text(errors="replace")


@dataclass
class GNoMESource(StructureSource):
    """Structures of a local copy of the GNoME release.

    Parameters
    ----------
    path
        Folder holding ``stable_materials_summary.csv`` and ``by_id.zip``/``by_id/``.
    name
        Label of the source.
    """

    path: str
    name: str = "gnome"

    def fetch(self, criteria: ElementCriteria) -> SourceResult:
        """Read the entries whose elements satisfy the criteria."""
        root = Path(self.path).expanduser()
        result = SourceResult(name=self.name)
        summary = root / SUMMARY_FILE
        if not summary.is_file():
            result.error = f"no {SUMMARY_FILE} in {root}"
            return result
        try:
            with _CifArchive(root) as archive, summary.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    result.n_seen += 1
                    if not criteria.matches_elements(_elements(row.get("Elements", ""))):
                        result.n_prefiltered += 1
                        continue
                    result.records.append(self._record(row, archive))
        except FileNotFoundError as exc:
            result.error = str(exc)
        return result

    def _record(self, row: dict[str, str], archive: _CifArchive) -> StructureRecord:
        material_id = row.get("MaterialId", "")
        properties = {f"gnome {c.lower()}": row[c] for c in ENERGY_COLUMNS if row.get(c)}
        properties["formula"] = row.get("Reduced Formula", "")
        try:
            structure = parse_cif(archive.read(material_id))[0]
        except Exception as exc:  # a missing or bad CIF is recorded, the rest goes on
            return StructureRecord(
                source=self.name, source_id=material_id, error=f"{type(exc).__name__}: {exc}"
            )
        return StructureRecord(
            source=self.name, source_id=material_id, structure=structure, properties=properties
        )
