"""The Materials Project through its official client, ``mp-api``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from pymatgen.core import Structure

from sianode_flows.schemas import StructureRecord
from sianode_flows.sources.base import (
    ElementCriteria,
    SourceResult,
    SourceUnavailableError,
    StructureSource,
)

logger = logging.getLogger(__name__)

API_KEY_VARIABLES = ("MP_API_KEY", "PMG_MAPI_KEY")
SUMMARY_FIELDS = (
    "material_id",
    "formula_pretty",
    "structure",
    "energy_per_atom",
    "formation_energy_per_atom",
    "energy_above_hull",
    "is_stable",
    "theoretical",
)


def api_key_from_environment() -> str | None:
    """Return the Materials Project API key from the usual environment variables."""
    return next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), None)


@dataclass
class MaterialsProjectSource(StructureSource):
    """Structures of the Materials Project summary endpoint, via ``MPRester``.

    The API key is read from ``MP_API_KEY`` (or ``PMG_MAPI_KEY``) when the source is
    fetched, never stored in the workflow. The server filters by elements; energies
    are kept as the Materials Project gives them, labelled ``mp ...``.

    Parameters
    ----------
    endpoint
        API address; the public Materials Project API by default.
    name
        Label of the source.
    """

    endpoint: str | None = None
    name: str = "mp"

    def fetch(self, criteria: ElementCriteria) -> SourceResult:
        """Query the summary endpoint for the criteria's chemistries."""
        api_key = api_key_from_environment()
        if not api_key:
            raise SourceUnavailableError(
                "no Materials Project API key: set MP_API_KEY (see "
                "https://next-gen.materialsproject.org/api)"
            )
        try:
            from mp_api.client import MPRester
        except ImportError as exc:  # pragma: no cover - mp-api is a dependency
            raise SourceUnavailableError("mp-api is not installed: pip install mp-api") from exc
        query: dict[str, Any] = {
            "elements": list(criteria.required),
            "fields": list(SUMMARY_FIELDS),
        }
        if criteria.allowed is not None:
            query["num_elements"] = (len(criteria.required), len(set(criteria.allowed)))
        try:
            with MPRester(
                api_key,
                endpoint=self.endpoint,
                use_document_model=False,
                mute_progress_bars=True,
            ) as rester:
                docs = rester.materials.summary.search(**query)
        except Exception as exc:  # the client raises many kinds; all mean "not now"
            raise SourceUnavailableError(
                f"Materials Project query failed: {type(exc).__name__}: {exc}"
            ) from exc
        result = SourceResult(name=self.name)
        for doc in docs:
            result.n_seen += 1
            record = self._record(dict(doc))
            symbols = (
                {el.symbol for el in record.structure.composition.elements}
                if record.structure
                else set()
            )
            if record.structure is not None and not criteria.matches_elements(symbols):
                result.n_prefiltered += 1
                continue
            result.records.append(record)
        return result

    def _record(self, doc: dict[str, Any]) -> StructureRecord:
        material_id = str(doc.get("material_id"))
        properties = {
            f"mp {key}": doc[key]
            for key in SUMMARY_FIELDS
            if key not in ("material_id", "structure") and doc.get(key) is not None
        }
        structure = doc.get("structure")
        try:
            if isinstance(structure, dict):
                structure = Structure.from_dict(structure)
            if not isinstance(structure, Structure):
                raise TypeError("the entry has no structure")
        except Exception as exc:  # a bad entry is recorded, the rest goes on
            return StructureRecord(
                source=self.name, source_id=material_id, error=f"{type(exc).__name__}: {exc}"
            )
        return StructureRecord(
            source=self.name, source_id=material_id, structure=structure, properties=properties
        )
