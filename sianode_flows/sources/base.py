"""The interface every structure source implements, and the element criteria."""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monty.json import MSONable

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sianode_flows.schemas import StructureRecord

_ELEMENT = re.compile(r"[A-Z][a-z]?")


class SourceUnavailableError(RuntimeError):
    """A source that cannot answer now: no API key, no network, a server error."""


@dataclass(frozen=True)
class ElementCriteria(MSONable):
    """Which chemistries a harvest asks the sources for.

    Parameters
    ----------
    required
        Elements every structure must contain (Li and Si for anode candidates).
    allowed
        If set, no element outside it may appear (e.g. {"Li", "Si"} for the Li-Si
        database series); ``None`` allows any (later filters judge them).
    """

    required: tuple[str, ...] = ("Li", "Si")
    allowed: tuple[str, ...] | None = None

    def matches_elements(self, elements: Iterable[str]) -> bool:
        """Return whether a set of element symbols satisfies the criteria."""
        present = set(elements)
        if not set(self.required) <= present:
            return False
        return self.allowed is None or present <= set(self.allowed)

    def matches_formula(self, formula: str) -> bool:
        """Return whether a formula string (any notation) satisfies the criteria."""
        return self.matches_elements(_ELEMENT.findall(formula))

    def optimade_filter(self) -> str:
        """Return the OPTIMADE filter that asks a provider for these chemistries."""
        required = ", ".join(f'"{el}"' for el in self.required)
        text = f"elements HAS ALL {required}"
        if self.allowed is not None:
            text += f" AND nelements<={len(set(self.allowed))}"
        return text


@dataclass
class SourceResult:
    """What one source gave: parsed records and counts of what it saw."""

    name: str
    records: list[StructureRecord] = field(default_factory=list)
    n_seen: int = 0
    n_prefiltered: int = 0
    error: str | None = None


class StructureSource(MSONable, abc.ABC):
    """A database or a local collection of structures.

    Subclasses are dataclasses (so they serialize into workflows) with a ``name``;
    :meth:`fetch` returns the entries that satisfy an :class:`ElementCriteria`,
    asking the server to filter where it can. Secrets (API keys) are read from the
    environment when :meth:`fetch` runs, never stored in the object.
    """

    name: str

    @abc.abstractmethod
    def fetch(self, criteria: ElementCriteria) -> SourceResult:
        """Return the records that satisfy the criteria.

        Raises
        ------
        SourceUnavailableError
            If the source cannot be reached or used now; the message says why.
        """
