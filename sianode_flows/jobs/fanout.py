"""Dynamic jobs that fan out into one sub-flow per configuration or candidate."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from jobflow import CURRENT_JOB, Flow, JobConfig, Response, job
from monty.json import MontyDecoder, jsanitize

from sianode_flows.jobs.channel import measure_channel
from sianode_flows.jobs.fit import fit_channel_slope
from sianode_flows.schemas import (
    CandidateDocument,
    DelithiatedConfiguration,
    SlopeFitDocument,
)

if TYPE_CHECKING:
    from jobflow import Maker

    from sianode_flows.makers.channel_stability import ChannelStabilityMaker

logger = logging.getLogger(__name__)


def describe_maker(maker: Maker) -> str:
    """Return a short description of a relax maker, e.g. ``ForceFieldRelaxMaker(CHGNet)``."""
    detail = getattr(maker, "force_field_name", None) or getattr(maker, "name", "")
    detail = str(getattr(detail, "value", detail)).removeprefix("MLFF.")
    return f"{type(maker).__name__}({detail})"


def run_key(candidate: CandidateDocument, maker: ChannelStabilityMaker) -> str:
    """Hash the candidate structure and every setting that changes its fit.

    Two runs with the same key would produce the same slope fit, so a stored fit
    with this key lets a rerun skip the candidate.
    """
    payload = {
        "structure": candidate.structure.as_dict(),
        "protocol": maker.protocol.model_dump(),
        "relax_maker": maker.relax_maker.as_dict(),
        "radii": maker.radii,
        "slope_threshold": maker.slope_threshold,
        "verdict_rule": maker.verdict_rule,
        "n_bootstrap": maker.n_bootstrap,
    }
    text = json.dumps(jsanitize(payload, strict=False, enum_values=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def stored_fit(key: str) -> SlopeFitDocument | None:
    """Return a complete fit stored under this run key in the running job's store."""
    store = CURRENT_JOB.store
    if store is None:
        return None
    found = store.query_one(
        {
            "output.run_key": key,
            "output.n_failed": 0,
            "output.@class": "SlopeFitDocument",
        },
        properties=["output"],
        load=True,
    )
    if not found:
        return None
    output: Any = MontyDecoder().process_decoded(found["output"])
    return output if isinstance(output, SlopeFitDocument) else None


@job(name="configurations", config=JobConfig(expose_store=True))
def relax_configurations(
    configurations: list[DelithiatedConfiguration],
    candidate: CandidateDocument,
    maker: ChannelStabilityMaker,
) -> Response | SlopeFitDocument:
    """Job: replace itself by relax -> channel for each configuration, then the fit.

    If the store already holds a complete fit with the same run key (same structure
    and settings), that fit is returned instead and nothing is recomputed.
    """
    key = run_key(candidate, maker)
    if maker.skip_done and (done := stored_fit(key)) is not None:
        logger.info("%s: fit %s already stored, skipped", candidate.candidate_id, key)
        return done
    jobs = []
    channels = []
    metadata = {"candidate_id": candidate.candidate_id}
    batched = getattr(maker.relax_maker, "batched", False)
    if batched:
        batch = maker.relax_maker.make([config.structure for config in configurations])
        batch.update_metadata(metadata)
        jobs.append(batch)
    for position, config in enumerate(configurations):
        if batched:
            relax_output = batch.output[position]
            new_jobs = []
        else:
            relax = maker.relax_maker.make(config.structure)
            relax.append_name(f" {config.config_index}")
            relax_output = relax.output
            new_jobs = [relax]
        channel = measure_channel(relax_output, config, maker.radii, maker.zeopp_check)
        channel.append_name(f" {config.config_index}")
        for new_job in [*new_jobs, channel]:
            new_job.update_metadata({**metadata, "config_index": config.config_index})
        jobs += [*new_jobs, channel]
        channels.append(channel.output)
    fit = fit_channel_slope(
        channels,
        candidate,
        maker.protocol,
        maker.slope_threshold,
        relax_maker=describe_maker(maker.relax_maker),
        run_key=key,
        verdict_rule=maker.verdict_rule,
        n_bootstrap=maker.n_bootstrap,
    )
    fit.update_metadata({"candidate_id": candidate.candidate_id})
    return Response(replace=Flow([*jobs, fit], output=fit.output, name=candidate.formula))


@job(name="screen")
def screen_candidates(
    candidates: list[CandidateDocument], maker: ChannelStabilityMaker
) -> Response | list:
    """Job: replace itself by one channel-stability flow per candidate."""
    if not candidates:
        logger.info("no candidate to screen")
        return []
    flows = [maker.make(candidate) for candidate in candidates]
    return Response(replace=Flow(flows, output=[f.output for f in flows], name="screen"))
