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
from sianode_flows.jobs.relax import describe_maker, relax_settings
from sianode_flows.schemas import (
    CandidateDocument,
    ChannelPoint,
    DelithiatedConfiguration,
    FailureDocument,
    SlopeFitDocument,
)

if TYPE_CHECKING:
    from jobflow import Maker

logger = logging.getLogger(__name__)

__all__ = [
    "configuration_keys",
    "describe_maker",
    "relax_configurations",
    "run_key",
    "screen_candidates",
    "stored_fit",
    "stored_measurements",
]


def _hash(payload: dict[str, Any]) -> str:
    text = json.dumps(jsanitize(payload, strict=False, enum_values=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_key(candidate: CandidateDocument, maker: Maker) -> str:
    """Hash the candidate structure and every setting that changes its fit.

    Two runs with the same key would produce the same slope fit, so a stored fit
    with this key lets a rerun skip the candidate.
    """
    return _hash(
        {
            "structure": candidate.structure.as_dict(),
            "protocol": maker.protocol.model_dump(),
            "relax_maker": relax_settings(maker.relax_maker),
            "radii": maker.radii,
            "slope_threshold": maker.slope_threshold,
            "verdict_rule": maker.verdict_rule,
            "n_bootstrap": maker.n_bootstrap,
            "fit_unconverged": maker.fit_unconverged,
            "max_volume_change": maker.max_volume_change,
        }
    )


def configuration_keys(
    candidate: CandidateDocument,
    configurations: list[DelithiatedConfiguration],
    maker: Maker,
) -> dict[int, tuple[str, str]]:
    """Return, by configuration index, the relax key and the measurement key.

    The relax key identifies the relaxation: the candidate structure, how the
    configuration was drawn (the protocol without its cap, the round and the index),
    the relax settings, the potential and its version. The measurement key adds
    what the channel analysis depends on (radii, Zeo++ check, volume bound).
    """
    shared = {
        "structure": candidate.structure.as_dict(),
        "draw": maker.protocol.draw_description(),
        "relax": relax_settings(maker.relax_maker),
    }
    analysis = {
        "radii": maker.radii,
        "zeopp_check": maker.zeopp_check,
        "max_volume_change": maker.max_volume_change,
    }
    keys = {}
    for configuration in configurations:
        relax_key = _hash(
            {**shared, "round": configuration.round, "config_index": configuration.config_index}
        )
        keys[configuration.config_index] = (relax_key, _hash({"relax_key": relax_key, **analysis}))
    return keys


POINT_FIELDS = (
    "config_index",
    "soc",
    "r_t",
    "volume_per_framework_atom",
    "relaxation.converged",
    "round",
    "config_key",
)


def stored_measurements(
    config_keys: list[str], retry_failed: bool = False
) -> dict[str, ChannelPoint | FailureDocument]:
    """Return, by measurement key, what the running job's store holds of each configuration.

    A measured configuration is returned as its point (read without its structure);
    a failed one as its failure document, unless ``retry_failed``. A measurement
    stored after a failure of the same key wins over it.
    """
    store = CURRENT_JOB.store
    if store is None or not config_keys:
        return {}
    found: dict[str, ChannelPoint | FailureDocument] = {}
    properties = ["output.@class", *(f"output.{name}" for name in POINT_FIELDS)]
    for doc in store.query(
        {"output.@class": "ChannelDocument", "output.config_key": {"$in": config_keys}},
        properties=properties,
    ):
        output = doc["output"]
        found[output["config_key"]] = ChannelPoint(
            config_index=output["config_index"],
            soc=output["soc"],
            r_t=output["r_t"],
            volume_per_framework_atom=output.get("volume_per_framework_atom"),
            converged=(output.get("relaxation") or {}).get("converged"),
            round=output.get("round", 1),
            reused=True,
        )
    if retry_failed:
        return found
    decoder = MontyDecoder()
    for doc in store.query(
        {"output.@class": "FailureDocument", "output.config_key": {"$in": config_keys}},
        properties=["output"],
    ):
        failure = decoder.process_decoded(doc["output"])
        if isinstance(failure, FailureDocument) and failure.config_key not in found:
            found[failure.config_key] = failure
    return found


def stored_fit(key: str, retry_failed: bool = False) -> SlopeFitDocument | None:
    """Return a finished fit stored under this run key in the running job's store.

    With ``retry_failed``, a fit that lost configurations to failures is not
    returned, so that they are tried again.
    """
    store = CURRENT_JOB.store
    if store is None:
        return None
    criteria: dict[str, Any] = {
        "output.run_key": key,
        "output.@class": "SlopeFitDocument",
        "output.stop_reason": {"$ne": None},
    }
    if retry_failed:
        criteria["output.n_failed"] = 0
    found = store.query_one(criteria, properties=["output"], load=True)
    if not found:
        return None
    output: Any = MontyDecoder().process_decoded(found["output"])
    return output if isinstance(output, SlopeFitDocument) else None


@job(name="configurations", config=JobConfig(expose_store=True))
def relax_configurations(
    configurations: list[DelithiatedConfiguration],
    candidate: CandidateDocument,
    maker: Maker,
    previous: SlopeFitDocument | None = None,
) -> Response | SlopeFitDocument:
    """Job: replace itself by relax -> channel for each configuration, then the fit.

    Only what the store does not hold is relaxed: a configuration already measured
    with the same measurement key (see :func:`configuration_keys`) is taken as it
    is, one that failed is counted as failed again (unless the maker's
    ``retry_failed``). If the store holds a finished fit with the same run key, the
    first round returns that fit and nothing is recomputed.
    """
    round_number = configurations[0].round if configurations else 1
    key = run_key(candidate, maker)
    if round_number == 1 and maker.skip_done:
        done = stored_fit(key, maker.retry_failed)
        if done is not None:
            logger.info("%s: fit %s already stored, skipped", candidate.candidate_id, key)
            return done
    keys = configuration_keys(candidate, configurations, maker)
    stored = (
        stored_measurements([k[1] for k in keys.values()], maker.retry_failed)
        if maker.skip_done
        else {}
    )
    missing = [c for c in configurations if keys[c.config_index][1] not in stored]
    reused = [stored[config_key] for _, config_key in keys.values() if config_key in stored]
    if reused:
        logger.info(
            "%s round %d: %d configurations reused from the store, %d to relax",
            candidate.candidate_id,
            round_number,
            len(reused),
            len(missing),
        )
    jobs = []
    channels = []
    metadata = {"candidate_id": candidate.candidate_id, "round": round_number}
    batched = getattr(maker.relax_maker, "batched", False)
    if batched and missing:
        batch = maker.relax_maker.make([config.structure for config in missing])
        batch.update_metadata(metadata)
        jobs.append(batch)
    for position, config in enumerate(missing):
        if batched:
            relax_output = batch.output[position]
            new_jobs = []
        else:
            relax = maker.relax_maker.make(config.structure)
            relax.append_name(f" {config.config_index}")
            relax_output = relax.output
            new_jobs = [relax]
        relax_key, config_key = keys[config.config_index]
        channel = measure_channel(
            relax_output,
            config,
            maker.radii,
            maker.zeopp_check,
            relax_key=relax_key,
            config_key=config_key,
            max_volume_change=maker.max_volume_change,
        )
        channel.append_name(f" {config.config_index}")
        for new_job in [*new_jobs, channel]:
            new_job.update_metadata({**metadata, "config_index": config.config_index})
        jobs += [*new_jobs, channel]
        channels.append(channel.output)
    fit = fit_channel_slope(
        channels,
        candidate,
        maker,
        run_key=key,
        reused=reused,
        previous=previous,
        round_number=round_number,
    )
    fit.update_metadata(metadata)
    return Response(replace=Flow([*jobs, fit], output=fit.output, name=candidate.formula))


@job(name="screen")
def screen_candidates(candidates: list[CandidateDocument], maker: Maker) -> Response | list:
    """Job: replace itself by one channel-stability flow per candidate."""
    if not candidates:
        logger.info("no candidate to screen")
        return []
    flows = [maker.make(candidate) for candidate in candidates]
    return Response(replace=Flow(flows, output=[f.output for f in flows], name="screen"))
