"""Parse source specifications given on the command line."""

from __future__ import annotations

from pathlib import Path

from sianode_flows.sources.base import StructureSource
from sianode_flows.sources.files import LocalFileSource
from sianode_flows.sources.gnome import GNoMESource
from sianode_flows.sources.materials_project import MaterialsProjectSource
from sianode_flows.sources.optimade import OptimadeSource

SPEC_HELP = (
    "mp[:ENDPOINT] (Materials Project, key in MP_API_KEY), optimade:URL[,URL...], "
    "gnome:FOLDER (summary CSV + by_id.zip), file:PATH or a bare PATH "
    "(CIF/POSCAR/JSON/CSV(.gz) file or folder)"
)


def parse_source(spec: str) -> StructureSource:
    """Return the source a specification names (see :data:`SPEC_HELP`).

    Raises
    ------
    ValueError
        If the specification names no known kind of source.
    """
    kind, _, rest = spec.partition(":")
    if kind == "mp":
        return MaterialsProjectSource(endpoint=rest or None)
    if kind == "optimade":
        urls = [u for u in rest.split(",") if u]
        if not urls:
            raise ValueError("optimade needs at least one URL: optimade:https://...")
        return OptimadeSource(base_urls=urls)
    if kind == "gnome":
        return GNoMESource(path=rest)
    if kind == "file":
        return LocalFileSource(path=rest, name=Path(rest).name)
    if Path(spec).exists():
        return LocalFileSource(path=spec, name=Path(spec).name)
    raise ValueError(f"unknown source {spec!r}: use {SPEC_HELP}")
