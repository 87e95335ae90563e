"""DFT hand-off: the best screened candidates, relaxed again with VASP.

The screen's ranking (stable first, then the smallest |slope|, then the largest
capacity) picks the top candidates from a store; each gets the same
channel-stability flow as the screen, with atomate2's VASP relaxation in place of
the force field: the charged cell and a few delithiated configurations are
relaxed, their channels measured and the slope fitted by the same jobs. The flow
is an ordinary jobflow Flow, ready for ``flow_to_workflow`` and a FireWorks
launchpad; VASP runs on the workers (POTCARs from ``PMG_VASP_PSP_DIR`` there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobflow import Flow, Job, Maker

from sianode_flows.makers.channel_stability import ChannelStabilityMaker
from sianode_flows.schemas import CandidateDocument, SlopeFitDocument, VerdictRule
from sianode_flows.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from jobflow import JobStore

logger = logging.getLogger(__name__)

FORCE_FIELD_PREFIXES = ("ForceField", "BatchedRelax")
"""Starts of the relax-maker descriptions of force-field fits (atomate2's, batched)."""


def default_dft_relax_maker() -> Maker:
    """Return atomate2's VASP double relaxation (cell and ions, ``ISIF = 3``).

    Two chained relaxations, the second restarting from the first: the standard
    cure for the Pulay stress of the large volume changes of delithiation.
    Defaults of atomate2's ``RelaxSetGenerator`` (PBEsol, 680 eV, ``EDIFFG`` -0.02).
    """
    from atomate2.vasp.flows.core import DoubleRelaxMaker

    return DoubleRelaxMaker()


def screened_fits(fits: Iterable[SlopeFitDocument]) -> list[SlopeFitDocument]:
    """Keep the newest force-field fit of each candidate, judged with a slope.

    Fits from other relax makers (a DFT validation already stored, say) and fits
    without a slope are left out.
    """
    newest: dict[str, SlopeFitDocument] = {}
    for fit in fits:
        if fit.slope is None or not (fit.relax_maker or "").startswith(FORCE_FIELD_PREFIXES):
            continue
        kept = newest.get(fit.candidate_id)
        if kept is None or fit.created_at > kept.created_at:
            newest[fit.candidate_id] = fit
    return list(newest.values())


def top_candidates(
    store: JobStore, top_n: int, min_capacity: float | None = None
) -> list[CandidateDocument]:
    """Return the ``top_n`` best screened candidates of a store, best first.

    Parameters
    ----------
    store
        A connected job store holding a screen's fits and candidates.
    top_n
        How many candidates to return.
    min_capacity
        Leave out candidates below this capacity (mAh/g).

    Returns
    -------
    list of CandidateDocument
        Candidates ranked like ``sianode results``: stable first, then the smallest
        |slope|, then the largest capacity.
    """
    from sianode_flows.results import candidate_documents, fit_documents, rank

    fits = rank(screened_fits(fit_documents(store, latest_only=False)))
    if min_capacity is not None:
        fits = [f for f in fits if f.capacity_mAh_g >= min_capacity]
    candidates = {c.candidate_id: c for c in candidate_documents(store)}
    chosen = []
    for fit in fits:
        candidate = candidates.get(fit.candidate_id)
        if candidate is None:
            logger.warning("%s: fitted but its candidate is not stored", fit.candidate_id)
            continue
        chosen.append(candidate)
        if len(chosen) == top_n:
            break
    return chosen


@dataclass
class DFTValidationMaker(Maker):
    """Make the VASP validation flow of the best screened candidates.

    Parameters
    ----------
    name
        Name of the flow.
    top_n
        Candidates taken from the store by :meth:`make_from_store`.
    n_configs
        Configurations per candidate, the charged cell and the empty framework
        included (4: the two ends and two random states of charge).
    seed
        Seed of the delithiation (settings: 0).
    relax_maker
        The DFT relax maker (atomate2's VASP ``DoubleRelaxMaker`` by default); any
        maker whose output is a task document with a final structure.
    slope_threshold
        Largest |slope| judged stable, A per 100 % SOC (settings: 0.5).
    verdict_rule
        How the slope is judged (see :class:`ChannelStabilityMaker`): ``"point"`` by
        default, since four DFT points give no useful interval; the validation is the
        DFT slope set beside the force field's, not a verdict of its own.
    min_capacity
        Leave out candidates below this capacity when picking from a store (mAh/g).
    """

    name: str = "dft validation"
    top_n: int = 3
    n_configs: int = 4
    seed: int = field(default_factory=lambda: get_settings().seed)
    relax_maker: Maker = field(default_factory=default_dft_relax_maker)
    slope_threshold: float = field(default_factory=lambda: get_settings().slope_threshold)
    verdict_rule: VerdictRule = "point"
    min_capacity: float | None = None

    @property
    def channel_maker(self) -> ChannelStabilityMaker:
        """The channel-stability maker of each candidate, with the DFT relax."""
        return ChannelStabilityMaker(
            name=f"{self.name} channel",
            n_configs=self.n_configs,
            seed=self.seed,
            relax_maker=self.relax_maker,
            slope_threshold=self.slope_threshold,
            verdict_rule=self.verdict_rule,
        )

    def make(
        self,
        candidates: Sequence[CandidateDocument] | CandidateDocument,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """Make the validation flow of given candidates.

        Parameters
        ----------
        candidates
            Candidate documents (e.g. from :func:`top_candidates`).
        prev_dir
            Unused; kept for the common maker signature.

        Returns
        -------
        Flow
            One channel-stability flow per candidate; the output is the list of
            their slope-fit documents.

        Raises
        ------
        ValueError
            If there is no candidate.
        """
        if isinstance(candidates, CandidateDocument):
            candidates = [candidates]
        if not candidates:
            raise ValueError("no candidate to validate: screen some first")
        maker = self.channel_maker
        flows: list[Flow | Job] = [maker.make(candidate) for candidate in candidates]
        logger.info(
            "DFT validation of %s, %d configurations each",
            ", ".join(c.formula for c in candidates),
            self.n_configs,
        )
        return Flow(flows, output=[f.output for f in flows], name=self.name)

    def make_from_store(self, store: JobStore) -> Flow:
        """Make the validation flow of the ``top_n`` best candidates of a store."""
        return self.make(top_candidates(store, self.top_n, self.min_capacity))
