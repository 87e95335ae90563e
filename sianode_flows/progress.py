"""Progress of a batched relaxation: structures finished of all, and steps per second.

A batched relax job can run for many minutes; jobflow only reports when it ends.
:class:`RelaxProgress` is what the relaxation loop reports after every step, and
:class:`ProgressLog` turns it into log records: one at ``DEBUG`` after every step
(a live progress bar listens to those; the snapshot rides along as the record's
``relax_progress`` attribute) and one at ``INFO`` every ``interval`` seconds and at
the end (a line in a log file or on a terminal without a bar).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

PROGRESS_LOGGER = "sianode_flows.progress"
"""Name of the logger the progress records go to."""

logger = logging.getLogger(PROGRESS_LOGGER)


@dataclass
class RelaxProgress:
    """Where a batched relaxation stands.

    Attributes
    ----------
    label
        What is being relaxed, e.g. the job's name.
    total
        Structures to relax.
    done
        Structures finished (converged, at the step cap, or failed).
    converged
        Structures that met the force criterion.
    failed
        Structures whose relaxation failed.
    steps
        Optimizer steps taken by all structures together.
    in_batch
        Structures in the batch now.
    started
        ``time.perf_counter()`` when the relaxation started.
    """

    label: str
    total: int
    done: int = 0
    converged: int = 0
    failed: int = 0
    steps: int = 0
    in_batch: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        """Seconds since the relaxation started."""
        return time.perf_counter() - self.started

    @property
    def steps_per_second(self) -> float:
        """Structure steps per second so far (every structure's steps count)."""
        elapsed = self.elapsed
        return self.steps / elapsed if elapsed > 0 else 0.0

    def describe(self) -> str:
        """One line for a log: ``relax: 12/30 done (11 converged), 8.1 steps/s``."""
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.label}: {self.done}/{self.total} structures done "
            f"({self.converged} converged{failed}), {self.in_batch} in the batch, "
            f"{self.steps} steps, {self.steps_per_second:.1f} steps/s"
        )


class ProgressLog:
    """Report a relaxation's progress as log records (see the module's docstring).

    Parameters
    ----------
    interval
        Seconds between two ``INFO`` lines.
    """

    def __init__(self, interval: float = 30.0) -> None:
        self.interval = interval
        self._last_line: float | None = None

    def __call__(self, progress: RelaxProgress) -> None:
        """Log the progress: every call at DEBUG, every ``interval`` s and at the end at INFO."""
        snapshot = replace(progress)
        extra = {"relax_progress": snapshot}
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s", snapshot.describe(), extra=extra)
        now = time.perf_counter()
        finished = progress.done == progress.total
        if self._last_line is None:
            self._last_line = progress.started
        if finished or now - self._last_line >= self.interval:
            self._last_line = now
            logger.info("%s", snapshot.describe(), extra=extra)
