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

from sianode_flows.jobs.delithiate import configurations_of
from sianode_flows.jobs.fanout import channel_job, plan_round, run_key, stored_fit_output
from sianode_flows.jobs.fit import fit_channel_slope
from sianode_flows.schemas import (
    CandidateDocument,
    DelithiatedConfiguration,
    PendingFitDocument,
    SlopeFitDocument,
)

if TYPE_CHECKING:
    from jobflow import Job, Maker

    from sianode_flows.jobs.fanout import RoundPlan

logger = logging.getLogger(__name__)

__all__ = [
    "next_pooled_round",
    "pool_by_atoms",
    "pooled_round",
    "screen_candidates",
    "selected_candidates",
]


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
) -> Response | list:
    """Job: replace itself by one channel-stability flow per candidate, or by pooled rounds.

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
        batched jobs of at most this many atoms, one pooled round after another (see
        :func:`pooled_round`); ``None``: one flow per candidate.
    selection_uuid
        The ``candidates`` job whose ``selected`` output ``candidates`` is: the
        pooled rounds then read the candidates from the store instead of carrying
        them (see :func:`selected_candidates`).
    """
    if not candidates:
        logger.info("no candidate to screen")
        return []
    if pool_atoms is not None:
        rounds = pooled_round(
            None if selection_uuid else candidates,
            maker,
            pool_atoms,
            selection_uuid=selection_uuid,
        )
        return Response(replace=rounds)
    flows = [maker.make(candidate) for candidate in candidates]
    return Response(output=[f.output for f in flows], replace=Flow(flows, name="screen"))


def pool_jobs(
    queue: list[tuple[CandidateDocument, DelithiatedConfiguration]],
    maker: Maker,
    pool_atoms: int,
    round_number: int,
) -> tuple[list[Job], list[OutputReference]]:
    """Return the pooled relax jobs of a round's configurations and each one's output.

    Parameters
    ----------
    queue
        The configurations to relax, with their candidates, in order.
    maker
        The channel-stability maker (its relax maker must be batched).
    pool_atoms
        Most atoms per relax job.
    round_number
        The sampling round, recorded in each job's metadata.

    Returns
    -------
    tuple
        The relax jobs, and the reference to each configuration's task document.
    """
    pools = pool_by_atoms([len(config.structure) for _, config in queue], pool_atoms)
    jobs: list[Job] = []
    outputs: list[OutputReference] = []
    for number, members in enumerate(pools, 1):
        relax = maker.relax_maker.make([queue[m][1].structure for m in members])
        relax.append_name(f" pool {number} of {len(pools)}")
        relax.update_metadata(
            {
                "round": round_number,
                "pool": number,
                "candidate_ids": sorted({queue[m][0].candidate_id for m in members}),
            }
        )
        jobs.append(relax)
        outputs += [relax.output[position] for position in range(len(members))]
    logger.info(
        "round %d: %d configurations in %d pools of at most %d atoms",
        round_number,
        len(queue),
        len(pools),
        pool_atoms,
    )
    return jobs, outputs


@job(name="pooled round", config=JobConfig(expose_store=True))
def pooled_round(
    candidates: list[CandidateDocument] | None,
    maker: Maker,
    pool_atoms: int,
    round_number: int = 1,
    indices: list[int] | None = None,
    previous: list[SlopeFitDocument] | None = None,
    selection_uuid: str | None = None,
) -> Response | list:
    """Job: one sampling round of many candidates, their relaxations pooled.

    For each candidate sampling in this round, the configurations of the round are
    drawn (the same as :func:`~sianode_flows.jobs.delithiate.delithiate_candidate`
    draws) and split into those the store holds and those to relax (see
    :func:`~sianode_flows.jobs.fanout.plan_round`); those to relax, all candidates
    together, go into batched relax jobs of at most ``pool_atoms`` atoms; each
    relaxed configuration gets its channel job and each candidate its fit job, as
    in the per-candidate flow. A fit that stays undecided with room under the cap
    goes on in the next pooled round (:func:`next_pooled_round`).

    Parameters
    ----------
    candidates
        All candidates of the screen; ``None`` to read them from the store (see
        :func:`selected_candidates`).
    maker
        The channel-stability maker; its relax maker must be batched.
    pool_atoms
        Most atoms per relax job.
    round_number
        The round (1-based).
    indices
        Positions in ``candidates`` of those sampling in this round; all of them by
        default.
    previous
        Their fits after the earlier rounds, in the order of ``indices``.
    selection_uuid
        The ``candidates`` job whose ``selected`` output holds the candidates.

    Returns
    -------
    Response or list
        Replaced by the round's jobs; its output is the final fit of each candidate
        in ``indices``, in that order.
    """
    if not getattr(maker.relax_maker, "batched", False):
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
    finished: dict[int, OutputReference] = {}
    plans: dict[int, RoundPlan] = {}
    queue: list[tuple[CandidateDocument, DelithiatedConfiguration]] = []
    for index in indices:
        candidate = candidates[index]
        if round_number == 1 and maker.skip_done:
            done = stored_fit_output(run_key(candidate, maker), maker.retry_failed)
            if done is not None:
                logger.info("%s: fit already stored, skipped", candidate.candidate_id)
                finished[index] = OutputReference(done["uuid"])
                continue
        plans[index] = plan_round(
            configurations_of(candidate, maker.protocol, round_number), candidate, maker
        )
        queue += [(candidate, config) for config in plans[index].missing]
    if not plans:
        return [finished[index] for index in indices]

    jobs, relax_outputs = pool_jobs(queue, maker, pool_atoms, round_number)
    channels: dict[int, list[OutputReference]] = {index: [] for index in plans}
    position_of = {candidates[index].candidate_id: index for index in plans}
    for (candidate, config), relax_output in zip(queue, relax_outputs, strict=True):
        index = position_of[candidate.candidate_id]
        metadata = {"candidate_id": candidate.candidate_id, "round": round_number}
        channel = channel_job(relax_output, config, plans[index], maker, metadata)
        jobs.append(channel)
        channels[index].append(channel.output)
    fits = []
    for index, before in zip(indices, earlier, strict=True):
        if index not in plans:
            continue
        candidate = candidates[index]
        fit = fit_channel_slope(
            channels[index],
            candidate,
            maker,
            run_key=plans[index].run_key,
            reused=plans[index].reused,
            previous=before,
            round_number=round_number,
            pooled=True,
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
    )
    jobs.append(follow)
    output: list[Any] = [
        finished[index] if index in finished else follow.output[sampled.index(index)]
        for index in indices
    ]
    return Response(output=output, replace=Flow(jobs, name=f"pooled round {round_number}"))


@job(name="next pooled round", config=JobConfig(on_missing_references=OnMissing.NONE))
def next_pooled_round(
    results: list[SlopeFitDocument | PendingFitDocument | None],
    fit_uuids: list[str],
    indices: list[int],
    candidates: list[CandidateDocument] | None,
    maker: Maker,
    pool_atoms: int,
    round_number: int,
    selection_uuid: str | None = None,
) -> Response | list:
    """Job: the final fits of a pooled round, or a next round for those still undecided.

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

    Returns
    -------
    Response or list
        References to the final fits, in the order of ``indices``.
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
        return finals
    logger.info("round %d: %d candidates sample on", round_number, len(pending))
    follow = pooled_round(
        None if selection_uuid else candidates,
        maker,
        pool_atoms,
        round_number + 1,
        indices=[index for index, _ in pending],
        previous=[fit for _, fit in pending],
        selection_uuid=selection_uuid,
    )
    order = [index for index, _ in pending]
    output = [
        follow.output[order.index(index)] if isinstance(result, PendingFitDocument) else final
        for index, result, final in zip(indices, results, finals, strict=True)
    ]
    return Response(output=output, replace=Flow([follow], name=f"pooled round {round_number + 1}"))
