"""Dynamic jobs that fan out into one sub-flow per configuration or candidate."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobflow import CURRENT_JOB, Flow, JobConfig, Response, job
from monty.json import MontyDecoder, jsanitize

from sianode_flows.analysis.intervals import INTERVAL_METHOD
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
    from jobflow import Job, Maker

logger = logging.getLogger(__name__)

__all__ = [
    "RoundPlan",
    "channel_job",
    "configuration_keys",
    "describe_maker",
    "plan_round",
    "reference_key",
    "relax_configurations",
    "run_key",
    "stored_fit",
    "stored_fit_output",
    "stored_measurements",
]


def _hash(payload: dict[str, Any]) -> str:
    text = json.dumps(jsanitize(payload, strict=False, enum_values=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_key(
    candidate: CandidateDocument,
    maker: Maker,
    reference_key: str | None = None,
    migrant_sites: list[int] | None = None,
) -> str:
    """Hash the candidate structure and every setting that changes its fit.

    Two runs with the same key would produce the same slope fit, so a stored fit
    with this key lets a rerun skip the candidate. A fit against a reference adds
    the reference's key (:func:`reference_key`) and the site order of its paired
    draws.
    """
    payload = {
        "structure": candidate.structure.as_dict(),
        "protocol": maker.protocol.model_dump(),
        "relax_maker": relax_settings(maker.relax_maker),
        "radii": maker.radii,
        "slope_threshold": maker.slope_threshold,
        "verdict_rule": maker.verdict_rule,
        "fit_unconverged": maker.fit_unconverged,
        "max_volume_change": maker.max_volume_change,
        "interval": {
            "method": INTERVAL_METHOD,
            "min_configs": maker.min_configs,
            "level": maker.level,
            "spending": maker.spending,
        },
    }
    if reference_key is not None:
        payload |= {
            "reference": reference_key,
            "margin": maker.margin,
            "migrant_sites": migrant_sites,
        }
    return _hash(payload)


def reference_key(reference: CandidateDocument, maker: Maker) -> str:
    """Hash what the reference's measurements depend on, as the hull's key does.

    Its structure, how its configurations are drawn (not the cap), the relax
    settings with the potential and its version, and the channel settings: every
    screen with the same key compares with the same reference points, which are
    relaxed once and reused.
    """
    return _hash(
        {
            "structure": reference.structure.as_dict(),
            "draw": maker.protocol.draw_description(),
            "relax": relax_settings(maker.relax_maker),
            "radii": maker.radii,
            "fit_unconverged": maker.fit_unconverged,
            "max_volume_change": maker.max_volume_change,
        }
    )


def configuration_keys(
    candidate: CandidateDocument,
    configurations: list[DelithiatedConfiguration],
    maker: Maker,
    migrant_sites: list[int] | None = None,
) -> dict[int, tuple[str, str]]:
    """Return, by configuration index, the relax key and the measurement key.

    The relax key identifies the relaxation: the candidate structure, how the
    configuration was drawn (the protocol without its cap, the round and the index,
    and the order of the Li sites where the draws follow a reference's), the relax
    settings, the potential and its version. The measurement key adds what the
    channel analysis depends on (radii, Zeo++ check, volume bound).
    """
    draw = maker.protocol.draw_description()
    if migrant_sites is not None and migrant_sites != sorted(migrant_sites):
        draw = draw | {"migrant_sites": migrant_sites}  # the natural order draws the same
    shared = {
        "structure": candidate.structure.as_dict(),
        "draw": draw,
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


def stored_fit_output(
    key: str, retry_failed: bool = False, deepest: bool = False
) -> dict[str, Any] | None:
    """Return the job-output document of a finished fit stored under this run key.

    It is read from the running job's store, with ``uuid``, ``index`` and the
    ``output`` (blobs loaded). With ``retry_failed``, a fit that lost configurations
    to failures is not returned, so that they are tried again. With ``deepest``, of
    several such fits the one over the most configurations (a reference sampled as
    far as different screens needed it) is returned.
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
    found = [
        doc
        for doc in store.query(criteria, properties=["uuid", "index", "output"], load=True)
        if isinstance(doc["output"], dict)  # not a list of fits of an older screen
    ]
    if not found:
        return None
    if deepest:
        return max(found, key=lambda doc: len(doc["output"].get("points") or []))
    return found[0]


def stored_fit(key: str, retry_failed: bool = False) -> SlopeFitDocument | None:
    """Return a finished fit stored under this run key in the running job's store.

    See :func:`stored_fit_output`.
    """
    found = stored_fit_output(key, retry_failed)
    if found is None:
        return None
    output: Any = MontyDecoder().process_decoded(found["output"])
    return output if isinstance(output, SlopeFitDocument) else None


@dataclass
class RoundPlan:
    """What one sampling round of a candidate relaxes and what it takes from the store.

    Parameters
    ----------
    run_key
        Key of the candidate's fit (see :func:`run_key`).
    keys
        Relax and measurement keys by configuration index.
    missing
        Configurations to relax.
    reused
        Points and failures of this round read from the store.
    """

    run_key: str
    keys: dict[int, tuple[str, str]]
    missing: list[DelithiatedConfiguration]
    reused: list[ChannelPoint | FailureDocument]


def plan_round(
    configurations: list[DelithiatedConfiguration],
    candidate: CandidateDocument,
    maker: Maker,
    key: str | None = None,
    migrant_sites: list[int] | None = None,
) -> RoundPlan:
    """Split a round's configurations into those to relax and those the store holds.

    A configuration already measured with the same measurement key (see
    :func:`configuration_keys`) is taken as it is, one that failed is counted as
    failed again (unless the maker's ``retry_failed``). ``key`` is the fit's run
    key (:func:`run_key` of the candidate and maker by default).
    """
    keys = configuration_keys(candidate, configurations, maker, migrant_sites)
    stored = (
        stored_measurements([k[1] for k in keys.values()], maker.retry_failed)
        if maker.skip_done
        else {}
    )
    missing = [c for c in configurations if keys[c.config_index][1] not in stored]
    reused = [stored[config_key] for _, config_key in keys.values() if config_key in stored]
    if reused:
        round_number = configurations[0].round
        logger.info(
            "%s round %d: %d configurations reused from the store, %d to relax",
            candidate.candidate_id,
            round_number,
            len(reused),
            len(missing),
        )
    return RoundPlan(key or run_key(candidate, maker), keys, missing, reused)


def channel_job(
    relax_output: Any,
    configuration: DelithiatedConfiguration,
    plan: RoundPlan,
    maker: Maker,
    metadata: dict[str, Any],
) -> Job:
    """Return the channel job of one relaxed configuration, named and tagged."""
    relax_key, config_key = plan.keys[configuration.config_index]
    channel = measure_channel(
        relax_output,
        configuration,
        maker.radii,
        maker.zeopp_check,
        relax_key=relax_key,
        config_key=config_key,
        max_volume_change=maker.max_volume_change,
    )
    channel.append_name(f" {configuration.config_index}")
    channel.update_metadata({**metadata, "config_index": configuration.config_index})
    return channel


@job(name="configurations", config=JobConfig(expose_store=True))
def relax_configurations(
    configurations: list[DelithiatedConfiguration],
    candidate: CandidateDocument,
    maker: Maker,
    previous: SlopeFitDocument | None = None,
) -> Response | SlopeFitDocument:
    """Job: replace itself by relax -> channel for each configuration, then the fit.

    Only what the store does not hold is relaxed (see :func:`plan_round`). If the
    store holds a finished fit with the same run key, the first round returns that
    fit and nothing is recomputed.
    """
    round_number = configurations[0].round if configurations else 1
    if round_number == 1 and maker.skip_done:
        done = stored_fit(run_key(candidate, maker), maker.retry_failed)
        if done is not None:
            logger.info("%s: fit %s already stored, skipped", candidate.candidate_id, done.run_key)
            return done
    plan = plan_round(configurations, candidate, maker)
    jobs: list[Job] = []
    channels = []
    metadata = {"candidate_id": candidate.candidate_id, "round": round_number}
    batched = getattr(maker.relax_maker, "batched", False)
    if batched and plan.missing:
        batch = maker.relax_maker.make([config.structure for config in plan.missing])
        batch.update_metadata(metadata)
        jobs.append(batch)
    for position, config in enumerate(plan.missing):
        if batched:
            relax_output = batch.output[position]
        else:
            relax = maker.relax_maker.make(config.structure)
            relax.append_name(f" {config.config_index}")
            relax.update_metadata({**metadata, "config_index": config.config_index})
            relax_output = relax.output
            jobs.append(relax)
        channel = channel_job(relax_output, config, plan, maker, metadata)
        jobs.append(channel)
        channels.append(channel.output)
    fit = fit_channel_slope(
        channels,
        candidate,
        maker,
        run_key=plan.run_key,
        reused=plan.reused,
        previous=previous,
        round_number=round_number,
    )
    fit.update_metadata(metadata)
    return Response(replace=Flow([*jobs, fit], output=fit.output, name=candidate.formula))
