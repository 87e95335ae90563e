"""Channel radius of one relaxed configuration."""

from __future__ import annotations

import logging
import math
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

DEFAULT_MAX_VOLUME_CHANGE = 5.0
"""Largest factor by which a relaxation may change the volume per framework atom.

Lithiation itself changes it by up to ~4x: crystalline Si has 20.0 A^3 per Si,
Li15Si4 76 and Li22Si5 82 A^3 per Si, so a fully delithiated framework may shrink
~4x on relaxation. A change beyond 5x either way is a relaxation that diverged."""


class UnphysicalRelaxationError(ValueError):
    """A relaxed configuration that cannot be a physical point: non-finite or exploded."""


def check_relaxed(
    structure: Structure,
    configuration: DelithiatedConfiguration,
    max_volume_change: float | None = DEFAULT_MAX_VOLUME_CHANGE,
) -> None:
    """Refuse a relaxed configuration that is not finite or changed volume beyond a bound.

    Parameters
    ----------
    structure
        The relaxed configuration.
    configuration
        The configuration it was relaxed from.
    max_volume_change
        Largest factor (either way) between the relaxed and the unrelaxed volume per
        framework (non-Li) atom; ``None`` skips the check.

    Raises
    ------
    UnphysicalRelaxationError
        With the reason.
    """
    lattice = structure.lattice.matrix
    if not (math.isfinite(structure.volume) and all(map(math.isfinite, lattice.flat))):
        raise UnphysicalRelaxationError("the relaxed cell is not finite")
    if not all(math.isfinite(x) for site in structure for x in site.frac_coords):
        raise UnphysicalRelaxationError("relaxed positions are not finite")
    if max_volume_change is None:
        return
    ratio = structure.volume / configuration.structure.volume
    if not 1.0 / max_volume_change <= ratio <= max_volume_change:
        raise UnphysicalRelaxationError(
            f"the volume per framework atom changed {ratio:.2f}x on relaxation, beyond the "
            f"physical bound of {max_volume_change:g}x either way"
        )


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
    if not math.isfinite(radii_found.r_t):
        raise UnphysicalRelaxationError(f"the channel radius is not finite ({radii_found.r_t})")
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
    relax_key: str | None = None,
    config_key: str | None = None,
    max_volume_change: float | None = DEFAULT_MAX_VOLUME_CHANGE,
) -> ChannelDocument | FailureDocument:
    """Job: channel radii of a relaxed configuration, or a failure document.

    It runs even when its relax job failed (missing references become ``None``),
    so that the failure is recorded and the fit still runs on the other points. A
    relaxed cell that is not finite, or whose volume changed beyond
    ``max_volume_change`` (see :func:`check_relaxed`), and a non-finite channel
    radius are failures too. Both kinds of document carry the configuration's
    ``relax_key`` and ``config_key``, by which reruns find them.
    """
    label = f"{configuration.candidate_id} config {configuration.config_index}"
    context = {
        "candidate_id": configuration.candidate_id,
        "config_index": configuration.config_index,
        "soc": configuration.soc,
        "round": configuration.round,
        "relax_key": relax_key,
        "config_key": config_key,
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
        check_relaxed(structure, configuration, max_volume_change)
    except Exception as exc:
        logger.warning("relaxation of %s refused: %s", label, exc)
        return FailureDocument.from_exception(exc, input=label, step="relax", **context)
    try:
        document = channel_document(structure, configuration, summary, radii, zeopp_check)
        return document.model_copy(
            update={"round": configuration.round, "relax_key": relax_key, "config_key": config_key}
        )
    except Exception as exc:
        logger.warning("channel analysis failed for %s: %s", label, exc)
        return FailureDocument.from_exception(exc, input=label, step="channel", **context)
