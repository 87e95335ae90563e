"""Adapters to structure databases, each behind one interface (:class:`StructureSource`)."""

from sianode_flows.sources.base import (
    ElementCriteria,
    SourceResult,
    SourceUnavailableError,
    StructureSource,
)
from sianode_flows.sources.files import LocalFileSource
from sianode_flows.sources.gnome import GNoMESource
from sianode_flows.sources.materials_project import MaterialsProjectSource
from sianode_flows.sources.optimade import OptimadeSource

__all__ = [
    "ElementCriteria",
    "GNoMESource",
    "LocalFileSource",
    "MaterialsProjectSource",
    "OptimadeSource",
    "SourceResult",
    "SourceUnavailableError",
    "StructureSource",
]
