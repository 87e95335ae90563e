"""OPTIMADE providers (OQMD, Alexandria, COD, AFLOW, MP, ...) via the ``optimade`` client."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sianode_flows.schemas import StructureRecord
from sianode_flows.sources.base import (
    ElementCriteria,
    SourceResult,
    SourceUnavailableError,
    StructureSource,
)

logger = logging.getLogger(__name__)

KNOWN_PROVIDERS = {
    "oqmd": "oqmd",
    "alexandria": "alexandria",
    "aflow": "aflow",
    "crystallography.net": "cod",
    "materialsproject": "mp",
}
"""Host fragments of OPTIMADE providers and the source label their entries get."""


@dataclass
class OptimadeSource(StructureSource):
    """Structures from OPTIMADE providers, filtered on the server.

    Parameters
    ----------
    base_urls
        Provider base URLs, e.g. ``["https://optimade.materialsproject.org"]``.
    name
        Label of the source; each record's source is the provider's URL-derived
        name unless ``label_by_provider`` is off.
    max_results_per_provider
        Cap on entries per provider (``-1`` for all).
    timeout
        Seconds to wait for each request.
    label_by_provider
        Name each entry's source after its provider (OQMD, Alexandria, COD, AFLOW,
        MP, recognised from the host) instead of ``name``.
    """

    base_urls: list[str] = field(default_factory=list)
    name: str = "optimade"
    max_results_per_provider: int = -1
    timeout: float = 30.0
    label_by_provider: bool = True

    def fetch(self, criteria: ElementCriteria) -> SourceResult:
        """Query every provider with the criteria's OPTIMADE filter."""
        try:
            from optimade.client import OptimadeClient
        except ImportError as exc:
            raise SourceUnavailableError(
                "the optimade client is not installed: pip install 'optimade[http-client]'"
            ) from exc
        if not self.base_urls:
            raise SourceUnavailableError("no OPTIMADE base URL given")
        query = criteria.optimade_filter()
        try:
            client = OptimadeClient(
                base_urls=list(self.base_urls),
                max_results_per_provider=self.max_results_per_provider,
                http_timeout=self.timeout,
                use_async=False,
                silent=True,
            )
            answers = client.get(filter=query, endpoint="structures")
        except Exception as exc:  # any client failure means "not now"
            raise SourceUnavailableError(
                f"OPTIMADE query failed: {type(exc).__name__}: {exc}"
            ) from exc
        result = SourceResult(name=self.name)
        errors = []
        for base_url, answer in answers["structures"][query].items():
            if answer.get("errors"):
                errors.append(f"{base_url}: {answer['errors']}")
            label = self._label(base_url)
            for entry in answer.get("data", []):
                result.n_seen += 1
                record = self._record(entry, label)
                if record.structure is not None and not criteria.matches_elements(
                    el.symbol for el in record.structure.composition.elements
                ):
                    result.n_prefiltered += 1
                    continue
                result.records.append(record)
        if errors:
            result.error = "; ".join(str(e) for e in errors)
        return result

    def _label(self, base_url: str) -> str:
        if not self.label_by_provider:
            return self.name
        from urllib.parse import urlparse

        host = urlparse(base_url).hostname or base_url
        return next((label for key, label in KNOWN_PROVIDERS.items() if key in host), self.name)

    def _record(self, entry: dict[str, Any], label: str) -> StructureRecord:
        from optimade.adapters import Structure as OptimadeStructure

        source_id = str(entry.get("id"))
        attributes = entry.get("attributes", {})
        properties = {
            f"{label} {key}": value
            for key, value in attributes.items()
            if key.startswith("_") and isinstance(value, int | float | str)
        }
        properties["formula"] = attributes.get("chemical_formula_reduced", "")
        try:
            structure = OptimadeStructure(entry).as_pymatgen
        except Exception as exc:  # a bad entry is recorded, the rest goes on
            return StructureRecord(
                source=label, source_id=source_id, error=f"{type(exc).__name__}: {exc}"
            )
        return StructureRecord(
            source=label, source_id=source_id, structure=structure, properties=properties
        )
