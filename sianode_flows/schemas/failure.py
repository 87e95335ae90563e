"""A recorded failure: which input, which step, and why."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sianode_flows.schemas.base import SianodeDocument

FailedStep = Literal["read", "validate", "capacity", "delithiate", "relax", "channel", "fit"]


class FailureDocument(SianodeDocument):
    """Why one input or one configuration could not be processed.

    Failures are documents, never lost: they are stored beside the results so that
    a batch finishes and every dropped input can be traced.
    """

    input: str = Field(..., description="What failed: a file, a source id, a candidate.")
    step: FailedStep = Field(..., description="The step that failed.")
    error_type: str = Field(..., description="Exception class or kind of failure.")
    message: str = Field(..., description="Human-readable reason.")
    candidate_id: str | None = Field(None, description="Candidate concerned, if any.")
    config_index: int | None = Field(None, description="Configuration concerned, if any.")
    soc: float | None = Field(None, description="State of charge concerned, if any.")
    round: int | None = Field(None, description="Sampling round of the configuration, if any.")
    relax_key: str | None = Field(
        None, description="Identity of the failed relaxation (configurations only)."
    )
    config_key: str | None = Field(
        None,
        description="Identity of the failed measurement (configurations only); a rerun "
        "does not retry it unless asked.",
    )

    @classmethod
    def from_exception(
        cls, exc: BaseException, input: str, step: FailedStep, **kwargs: object
    ) -> FailureDocument:
        """Build a failure document from a caught exception."""
        return cls(
            input=input,
            step=step,
            error_type=type(exc).__name__,
            message=str(exc) or repr(exc),
            **kwargs,
        )
