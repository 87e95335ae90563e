"""Fields shared by every sianode document."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from sianode_flows import __version__


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class SianodeDocument(BaseModel):
    """Base of every document: builder version and creation time."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    builder_meta: str = Field(
        f"sianode-flows {__version__}", description="Package and version that built it."
    )
    created_at: datetime = Field(
        default_factory=utcnow, description="When the document was built (UTC)."
    )
