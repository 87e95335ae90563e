"""Channel radius of one relaxed configuration."""

from __future__ import annotations

import logging
from typing import Any

from jobflow import JobConfig, OnMissing, job
from pymatgen.core import Structure

from sianode_flows.analysis.channel import channel_radii, zeopp_free_sphere_radius
from sianode_flows.jobs.relax import summarize_relaxation
from sianode_flows.schemas import (
    ChannelDocument,
    DelithiatedConfiguration,
    FailureDocument,
    RelaxationSummary,
)

logger = logging.getLogger(__name__)


def channel_document(
    structure: Structure,
    configuration: DelithiatedConfiguration,
    relaxation: RelaxationSummary,
    radii: dict[str, float] | None = None,
    zeopp_check: bool = False,
) -> ChannelDocument:
    """Measure the channel radii of a relaxed configuration and build its document.

    Parameters
    ----------
    structure
        Relaxed configuration.
    configuration
        The configuration it was relaxed from (SOC, index, candidate).
    relaxation
        Summary of the relaxation.
    radii
        Framework radii overriding the covalent defaults (A).
    zeopp_check
        Also compute Zeo++'s largest free sphere as a cross-check.

    Returns
    -------
    ChannelDocument
        Channel radii, volume and relaxation summary.
    """
    radii_found = channel_radii(structure, radii)
    n_framework = sum(1 for site in structure if site.specie.symbol != "Li")
    return ChannelDocument(
        candidate_id=configuration.candidate_id,
        config_index=configuration.config_index,
        soc=configuration.soc,
        n_li=configuration.n_li,
        n_li_charged=configuration.n_li_charged,
        formula=structure.composition.formula.replace(" ", ""),
        structure=structure,
        volume=structure.volume,
        volume_per_framework_atom=structure.volume / max(n_framework, 1),
        relaxation=relaxation,
        r_a=radii_found.r_a,
        r_b=radii_found.r_b,
        r_c=radii_found.r_c,
        r_t=radii_found.r_t,
        radii=radii_found.radii,
        r_free_sphere_zeopp=zeopp_free_sphere_radius(structure, radii) if zeopp_check else None,
    )


@job(
    name="channel",
    data=Structure,
    config=JobConfig(on_missing_references=OnMissing.NONE),
)
def measure_channel(
    relax_output: Any,
    configuration: DelithiatedConfiguration,
    radii: dict[str, float] | None = None,
    zeopp_check: bool = False,
) -> ChannelDocument | FailureDocument:
    """Job: channel radii of a relaxed configuration, or a failure document.

    It runs even when its relax job failed (missing references become ``None``),
    so that the failure is recorded and the fit still runs on the other points.
    """
    label = f"{configuration.candidate_id} config {configuration.config_index}"
    context = {
        "candidate_id": configuration.candidate_id,
        "config_index": configuration.config_index,
        "soc": configuration.soc,
    }
    if relax_output is None:
        return FailureDocument(
            input=label,
            step="relax",
            error_type="RelaxFailed",
            message="the relax job produced no output (it failed; see its log)",
            **context,
        )
    if isinstance(relax_output, FailureDocument):
        return relax_output.model_copy(update={"input": label, **context})
    try:
        structure, summary = summarize_relaxation(relax_output)
    except Exception as exc:
        return FailureDocument.from_exception(exc, input=label, step="relax", **context)
    try:
        return channel_document(structure, configuration, summary, radii, zeopp_check)
    except Exception as exc:
        logger.warning("channel analysis failed for %s: %s", label, exc)
        return FailureDocument.from_exception(exc, input=label, step="channel", **context)
