"""Screening fan-out: one flow per candidate, or pooled rounds over all candidates.

A pooled round relaxes the configurations of every candidate still sampling in
shared batched jobs of at most ``pool_atoms`` atoms (a GPU holds tens of thousands
of atoms per batch, one candidate's 30 configurations only a few thousand), then
splits the relaxed structures back per candidate for the channel and fit jobs. The
relaxations are batch invariant, so the fits equal those of one flow per candidate.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from jobflow import CURRENT_JOB, Flow, JobConfig, OnMissing, OutputReference, Response, job

from sianode_flows.jobs.candidates import candidate_from_record
from sianode_flows.jobs.delithiate import configurations_of
from sianode_flows.jobs.fanout import (
    channel_job,
    plan_round,
    reference_key,
    run_key,
    stored_fit_output,
)
from sianode_flows.jobs.fit import fit_channel_slope
from sianode_flows.schemas import (
    CandidateDocument,
    DelithiatedConfiguration,
    PendingFitDocument,
    SlopeFitDocument,
    StructureRecord,
)

if TYPE_CHECKING:
    from jobflow import Job, Maker

    from sianode_flows.jobs.fanout import RoundPlan

logger = logging.getLogger(__name__)

__all__ = [
    "final_reference_fit",
    "next_pooled_round",
    "pool_by_atoms",
    "pooled_round",
    "relax_jobs",
    "screen_candidates",
    "selected_candidates",
    "twin_sites",
]


INLINE_CANDIDATES = 200
"""Most candidates a screen's rounds carry as job inputs (~7 kB each); more are read
from the job store (see :func:`selected_candidates`)."""


def pool_by_atoms(sizes: list[int], pool_atoms: int) -> list[list[int]]:
    """Group items, in order, into pools of at most ``pool_atoms`` atoms.

    Parameters
    ----------
    sizes
        Atoms of each item.
    pool_atoms
        Most atoms in one pool; an item larger than that gets a pool of its own.

    Returns
    -------
    list of list of int
        The positions of the items in each pool.
    """
    if pool_atoms < 1:
        raise ValueError(f"pool_atoms must be positive, got {pool_atoms}")
    pools: list[list[int]] = []
    current: list[int] = []
    atoms = 0
    for position, size in enumerate(sizes):
        if current and atoms + size > pool_atoms:
            pools.append(current)
            current, atoms = [], 0
        current.append(position)
        atoms += size
    if current:
        pools.append(current)
    return pools


def selected_candidates(selection_uuid: str) -> list[CandidateDocument]:
    """Return the ``selected`` candidates of a ``candidates`` job, read from the job store.

    Pooled rounds take the uuid of the selection rather than the candidates or a
    reference: a FireWorks spec holds a job's inputs (thousands of candidates would
    pass 16 MB), and the flows that dynamic jobs add may not refer to jobs outside
    them. The running job's store (``expose_store``) is the one the workflow writes
    to, under ``run_locally`` and FireWorks alike.
    """
    store = CURRENT_JOB.store
    if store is None:
        raise RuntimeError("a pooled round reads its candidates from the job store: none given")
    selection = OutputReference(selection_uuid).resolve(store)
    if selection is None:
        raise RuntimeError(
            f"the selection {selection_uuid} is not in this job's store: pooled rounds need "
            "the store the screening writes to (run_locally, FireWorks)"
        )
    return list(selection.selected)


@job(name="screen")
def screen_candidates(
    candidates: list[CandidateDocument],
    maker: Maker,
    pool_atoms: int | None = None,
    selection_uuid: str | None = None,
    reference: StructureRecord | CandidateDocument | None = None,
) -> Response | list:
    """Job: replace itself by one channel-stability flow per candidate, or by rounds of all.

    Its output, the fits in the order of the candidates, is stored as one reference
    per candidate to the job holding its fit (jobflow resolves them on reading), so
    that thousands of candidates stay far below MongoDB's 16 MB: each fit is a
    document of its own.

    Parameters
    ----------
    candidates
        The selected candidates.
    maker
        The channel-stability maker.
    pool_atoms
        With a number, relax the configurations of all candidates together in
        batched jobs of at most this many atoms, one round after another (see
        :func:`pooled_round`); ``None``: one relax job per candidate.
    selection_uuid
        The ``candidates`` job whose ``selected`` output ``candidates`` is: the
        rounds then read the candidates from the store instead of carrying them
        (see :func:`selected_candidates`).
    reference
        The record (or candidate) every slope is compared with (pure Si by the same
        protocol): it is sampled round by round beside the candidates, for as long
        as any of them needs it, and every candidate's fit gets its relative
        verdict. A candidate that is the reference itself gets the reference's fit.
        A reference that is not a valid candidate fails the job with the reason.
    """
    if not candidates:
        logger.info("no candidate to screen")
        return []
    if isinstance(reference, StructureRecord):
        built = candidate_from_record(reference, radii=getattr(maker, "radii", None))
        if not isinstance(built, CandidateDocument):
            raise ValueError(f"the reference is not a valid candidate: {built.message}")
        reference = built
    if pool_atoms is not None or reference is not None:
        # a few hundred candidates travel with the rounds (jobflow-remote gives each job
        # an empty store); more are read from the store by the selection's uuid, so
        # that no FireWorks spec nears 16 MB
        inline = selection_uuid is None or len(candidates) <= INLINE_CANDIDATES
        rounds = pooled_round(
            candidates if inline else None,
            maker,
            pool_atoms,
            selection_uuid=None if inline else selection_uuid,
            reference=reference,
        )
        return Response(replace=rounds)
    flows = [maker.make(candidate) for candidate in candidates]
    return Response(output=[f.output for f in flows], replace=Flow(flows, name="screen"))


def relax_jobs(
    queue: list[tuple[CandidateDocument, DelithiatedConfiguration]],
    maker: Maker,
    pool_atoms: int | None,
    round_number: int,
) -> tuple[list[Job], list[OutputReference]]:
    """Return the relax jobs of a round's configurations and each one's output.

    A batched relax maker gets pools of at most ``pool_atoms`` atoms, or one job per
    candidate when ``pool_atoms`` is ``None``; any other maker one job per
    configuration.

    Parameters
    ----------
    queue
        The configurations to relax, with their candidates, in order.
    maker
        The channel-stability maker.
    pool_atoms
        Most atoms per relax job; ``None``: one per candidate.
    round_number
        The sampling round, recorded in each job's metadata.

    Returns
    -------
    tuple
        The relax jobs, and the reference to each configuration's task document.
    """
    jobs: list[Job] = []
    outputs: list[OutputReference] = []
    if not getattr(maker.relax_maker, "batched", False):
        for candidate, config in queue:
            relax = maker.relax_maker.make(config.structure)
            relax.append_name(f" {config.config_index}")
            relax.update_metadata(
                {
                    "candidate_id": candidate.candidate_id,
                    "round": round_number,
                    "config_index": config.config_index,
                }
            )
            jobs.append(relax)
            outputs.append(relax.output)
        return jobs, outputs
    if pool_atoms is None:
        pools: list[list[int]] = []
        for position, (candidate, _) in enumerate(queue):
            if position and queue[position - 1][0].candidate_id == candidate.candidate_id:
                pools[-1].append(position)
            else:
                pools.append([position])
    else:
        pools = pool_by_atoms([len(config.structure) for _, config in queue], pool_atoms)
    for number, members in enumerate(pools, 1):
        relax = maker.relax_maker.make([queue[m][1].structure for m in members])
        relax.append_name(f" pool {number} of {len(pools)}")
        ids = sorted({queue[m][0].candidate_id for m in members})
        relax.update_metadata(
            {"round": round_number, "pool": number, "candidate_ids": ids}
            | ({"candidate_id": ids[0]} if len(ids) == 1 else {})
        )
        jobs.append(relax)
        outputs += [relax.output[position] for position in range(len(members))]
    logger.info(
        "round %d: %d configurations in %d relax jobs%s",
        round_number,
        len(queue),
        len(pools),
        "" if pool_atoms is None else f" of at most {pool_atoms} atoms",
    )
    return jobs, outputs


def twin_sites(
    candidate: CandidateDocument, reference: CandidateDocument | None
) -> list[int] | None:
    """Return the candidate's Li sites in the reference's order, if it is built on its cell."""
    if reference is None:
        return None
    from sianode_flows.analysis.delithiation import matching_migrant_sites

    return matching_migrant_sites(candidate.structure, reference.structure)


@job(name="pooled round", config=JobConfig(expose_store=True))
def pooled_round(
    candidates: list[CandidateDocument] | None,
    maker: Maker,
    pool_atoms: int | None,
    round_number: int = 1,
    indices: list[int] | None = None,
    previous: list[SlopeFitDocument] | None = None,
    selection_uuid: str | None = None,
    reference: CandidateDocument | None = None,
    reference_previous: SlopeFitDocument | None = None,
) -> Response | list:
    """Job: one sampling round of many candidates (and of the reference), relaxed together.

    For each candidate sampling in this round, the configurations of the round are
    drawn (the same as :func:`~sianode_flows.jobs.delithiate.delithiate_candidate`
    draws; a candidate built on the reference's cell draws the reference's sites)
    and split into those the store holds and those to relax (see
    :func:`~sianode_flows.jobs.fanout.plan_round`); those to relax go into relax jobs
    (see :func:`relax_jobs`); each relaxed configuration gets its channel job and
    each candidate its fit job, as in the per-candidate flow. With a reference, its
    round is drawn, relaxed and fitted too, and every candidate's fit compares with
    the reference's fit of the same round. A fit that stays undecided with room
    under the cap goes on in the next round (:func:`next_pooled_round`).

    Parameters
    ----------
    candidates
        All candidates of the screen; ``None`` to read them from the store (see
        :func:`selected_candidates`).
    maker
        The channel-stability maker.
    pool_atoms
        Most atoms per relax job; ``None``: one per candidate.
    round_number
        The round (1-based).
    indices
        Positions in ``candidates`` of those sampling in this round; all of them by
        default.
    previous
        Their fits after the earlier rounds, in the order of ``indices``.
    selection_uuid
        The ``candidates`` job whose ``selected`` output holds the candidates.
    reference
        The reference candidate, if any.
    reference_previous
        The reference's fit after the earlier rounds.

    Returns
    -------
    Response or list
        Replaced by the round's jobs; its output is the final fit of each candidate
        in ``indices``, in that order.
    """
    if pool_atoms is not None and not getattr(maker.relax_maker, "batched", False):
        raise ValueError(
            "pooled relaxations need a batched relax maker (BatchedRelaxMaker), got "
            f"{type(maker.relax_maker).__name__}"
        )
    if candidates is None:
        if selection_uuid is None:
            raise ValueError("a pooled round needs its candidates or the selection's uuid")
        candidates = selected_candidates(selection_uuid)
    indices = list(range(len(candidates))) if indices is None else list(indices)
    earlier: list[SlopeFitDocument | None] = list(previous or [None] * len(indices))
    ref_key = None if reference is None else reference_key(reference, maker)
    finished: dict[int, OutputReference] = {}
    plans: dict[int, RoundPlan] = {}
    sites: dict[int, list[int] | None] = {}
    queue: list[tuple[CandidateDocument, DelithiatedConfiguration]] = []
    for index in indices:
        candidate = candidates[index]
        if reference is not None and candidate.candidate_id == reference.candidate_id:
            continue  # the reference's own fit stands for it
        sites[index] = twin_sites(candidate, reference)
        key = run_key(candidate, maker, ref_key, sites[index])
        if round_number == 1 and maker.skip_done:
            done = stored_fit_output(key, maker.retry_failed)
            if done is not None:
                logger.info("%s: fit already stored, skipped", candidate.candidate_id)
                finished[index] = OutputReference(done["uuid"])
                continue
        configurations = configurations_of(candidate, maker.protocol, round_number, sites[index])
        plans[index] = plan_round(configurations, candidate, maker, key, sites[index])
        queue += [(candidate, config) for config in plans[index].missing]
    reference_index = next(
        (
            index
            for index in indices
            if reference is not None and candidates[index].candidate_id == reference.candidate_id
        ),
        None,
    )
    if not plans and reference_index is not None and round_number == 1 and maker.skip_done:
        # every other candidate is stored: so is the reference's fit they were compared with
        done = stored_fit_output(run_key(reference, maker), maker.retry_failed, deepest=True)
        if done is not None:
            finished[reference_index] = OutputReference(done["uuid"])
            reference_index = None
    if not plans and reference_index is None:
        return [finished[index] for index in indices]

    reference_plan = None
    if reference is not None:
        reference_plan = plan_round(
            configurations_of(reference, maker.protocol, round_number),
            reference,
            maker,
            run_key(reference, maker),
        )
        queue = [(reference, config) for config in reference_plan.missing] + queue
    jobs, relax_outputs = relax_jobs(queue, maker, pool_atoms, round_number)
    channels: dict[str, list[OutputReference]] = {}
    plan_of = {candidates[index].candidate_id: plans[index] for index in plans}
    if reference_plan is not None:
        plan_of[reference.candidate_id] = reference_plan
    for (candidate, config), relax_output in zip(queue, relax_outputs, strict=True):
        metadata = {"candidate_id": candidate.candidate_id, "round": round_number}
        channel = channel_job(
            relax_output, config, plan_of[candidate.candidate_id], maker, metadata
        )
        jobs.append(channel)
        channels.setdefault(candidate.candidate_id, []).append(channel.output)

    reference_fit = None
    if reference is not None and reference_plan is not None:
        reference_fit = fit_channel_slope(
            channels.get(reference.candidate_id, []),
            reference,
            maker,
            run_key=reference_plan.run_key,
            reused=reference_plan.reused,
            previous=reference_previous,
            round_number=round_number,
            pooled=True,
            role="reference",
            reference_key=ref_key,
        )
        reference_fit.append_name(" reference")
        reference_fit.update_metadata(
            {"candidate_id": reference.candidate_id, "round": round_number, "role": "reference"}
        )
        jobs.append(reference_fit)
    fits = []
    for index, before in zip(indices, earlier, strict=True):
        if index not in plans:
            continue
        candidate = candidates[index]
        fit = fit_channel_slope(
            channels.get(candidate.candidate_id, []),
            candidate,
            maker,
            run_key=plans[index].run_key,
            reused=plans[index].reused,
            previous=before,
            round_number=round_number,
            pooled=True,
            reference=None if reference_fit is None else reference_fit.output,
            paired=sites.get(index) is not None,
        )
        fit.update_metadata({"candidate_id": candidate.candidate_id, "round": round_number})
        jobs.append(fit)
        fits.append(fit)
    sampled = list(plans)
    follow = next_pooled_round(
        [fit.output for fit in fits],
        [fit.uuid for fit in fits],
        sampled,
        None if selection_uuid else candidates,
        maker,
        pool_atoms,
        round_number,
        selection_uuid,
        reference=reference,
        reference_result=None if reference_fit is None else reference_fit.output,
        reference_index=reference_index,
    )
    jobs.append(follow)
    output: list[Any] = []
    for index in indices:
        if index in finished:
            output.append(finished[index])
        elif index == reference_index:
            output.append(follow.output[len(sampled)])
        else:
            output.append(follow.output[sampled.index(index)])
    return Response(output=output, replace=Flow(jobs, name=f"round {round_number}"))


@job(name="reference fit")
def final_reference_fit(result: PendingFitDocument) -> SlopeFitDocument:
    """Job: the reference's fit once no candidate samples on, as a result of its own."""
    return result.fit.model_copy(update={"stop_reason": "reference"})


@job(name="next pooled round", config=JobConfig(on_missing_references=OnMissing.NONE))
def next_pooled_round(
    results: list[SlopeFitDocument | PendingFitDocument | None],
    fit_uuids: list[str],
    indices: list[int],
    candidates: list[CandidateDocument] | None,
    maker: Maker,
    pool_atoms: int | None,
    round_number: int,
    selection_uuid: str | None = None,
    reference: CandidateDocument | None = None,
    reference_result: PendingFitDocument | None = None,
    reference_index: int | None = None,
) -> Response | list:
    """Job: the final fits of a round, or a next round for those still undecided.

    Parameters
    ----------
    results
        The fit jobs' outputs: final fits, pending ones, or ``None`` for a fit job
        that failed (its error is in its own record).
    fit_uuids
        The fit jobs, whose outputs the final fits are referred to by.
    indices
        Positions of those candidates in the screen's candidates.
    candidates
        The screen's candidates.
    maker, pool_atoms, selection_uuid
        As in :func:`pooled_round`.
    round_number
        The round just fitted.
    reference
        The reference candidate, sampled on while any candidate is.
    reference_result
        The reference's fit after this round.
    reference_index
        Position of the reference among the candidates, if it is one of them.

    Returns
    -------
    Response or list
        References to the final fits, in the order of ``indices``, then the
        reference's final fit (when it is one of the candidates).
    """
    finals = [
        None if result is None else OutputReference(uuid)
        for uuid, result in zip(fit_uuids, results, strict=True)
    ]
    pending = [
        (index, result.fit)
        for index, result in zip(indices, results, strict=True)
        if isinstance(result, PendingFitDocument)
    ]
    if not pending:
        if reference_result is None:  # no reference, or its fit job failed (its record says)
            return finals + ([None] if reference_index is not None else [])
        closing = final_reference_fit(reference_result)
        closing.update_metadata(
            {"candidate_id": reference_result.candidate_id, "role": "reference"}
        )
        return Response(output=[*finals, closing.output], replace=Flow([closing], name="reference"))
    logger.info("round %d: %d candidates sample on", round_number, len(pending))
    reference_slot = reference_index is not None  # the output holds the reference's fit
    if reference is not None and reference_result is None:
        logger.error(
            "round %d: the reference %s has no fit (its job failed; see its record): the "
            "candidates sample on against the threshold alone",
            round_number,
            reference.candidate_id,
        )
        reference = reference_index = None
    follow_indices = [index for index, _ in pending]
    if reference_index is not None:
        follow_indices.append(reference_index)
    follow = pooled_round(
        None if selection_uuid else candidates,
        maker,
        pool_atoms,
        round_number + 1,
        indices=follow_indices,
        previous=[fit for _, fit in pending] + ([None] if reference_index is not None else []),
        selection_uuid=selection_uuid,
        reference=reference,
        reference_previous=None if reference_result is None else reference_result.fit,
    )
    order = [index for index, _ in pending]
    output = [
        follow.output[order.index(index)] if isinstance(result, PendingFitDocument) else final
        for index, result, final in zip(indices, results, finals, strict=True)
    ]
    if reference_slot:
        output.append(follow.output[len(order)] if reference_index is not None else None)
    return Response(output=output, replace=Flow([follow], name=f"round {round_number + 1}"))
