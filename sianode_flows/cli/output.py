"""Rendering for the command line: tables, JSON, logging and job progress."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from sianode_flows.progress import PROGRESS_LOGGER
from sianode_flows.results import summary_row
from sianode_flows.schemas import SlopeFitDocument

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sianode_flows.schemas import CandidateSummaryDocument, CrossCheckDocument, FailureDocument

stderr_console = Console(stderr=True)
PIPE_WIDTH = 160
"""Table width when standard output is not a terminal (a file, a pipe, a test)."""


def stdout_console() -> Console:
    """Return a console on standard output, wide enough for the tables when piped."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


def configure_logging(verbose: bool) -> None:
    """Send log records to standard error (standard output is kept for results)."""
    level = logging.DEBUG if verbose else logging.INFO
    handler = RichHandler(console=stderr_console, show_path=False, markup=False)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("sianode_flows").setLevel(level)
    for noisy in ("jobflow", "atomate2", "maggma"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class JobProgress(logging.Handler):
    """Advance a progress bar as jobflow reports finished jobs."""

    def __init__(self, progress: Progress, task_id: Any) -> None:
        super().__init__(logging.INFO)
        self.progress = progress
        self.task_id = task_id

    def emit(self, record: logging.LogRecord) -> None:
        """Name the running job, and advance the bar when one finishes."""
        message = record.getMessage()
        if message.startswith("Starting job - "):
            name = message.removeprefix("Starting job - ").split(" (")[0]
            self.progress.update(self.task_id, description=f"job: {name}")
        elif message.startswith("Finished job - "):
            task = self.progress.tasks[self.task_id]
            if task.total is not None and task.completed + 1 > task.total:
                # sequential sampling adds rounds that the first estimate did not count
                self.progress.update(self.task_id, total=task.completed + 1)
            self.progress.advance(self.task_id)


def job_progress(total: int) -> tuple[Progress, JobProgress]:
    """Return a progress bar on standard error and the handler that drives it."""
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console,
    )
    task_id = progress.add_task("jobs", total=total)
    return progress, JobProgress(progress, task_id)


class RelaxProgressBar(logging.Handler):
    """Show each batched relaxation as a bar: structures done of all, and steps per second.

    Fed by the records of :class:`sianode_flows.progress.ProgressLog`.
    """

    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.DEBUG)
        self.progress = progress
        self.tasks: dict[tuple[str, float], Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Add a bar for a new relaxation, or move its bar."""
        status = getattr(record, "relax_progress", None)
        if status is None:
            return
        key = (status.label, status.started)
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(status.label, total=status.total)
        self.progress.update(
            self.tasks[key],
            completed=status.done,
            description=f"{status.label[:16]} {status.steps_per_second:5.1f} steps/s",
        )


@contextmanager
def relax_progress(progress: Progress | None = None) -> Iterator[None]:
    """Show batched relaxations as live bars on a terminal (in ``progress`` if given).

    On a standard error that is no terminal (a file, a pipe) the relaxations'
    own log lines, one every 30 s, say the same.
    """
    if not stderr_console.is_terminal:
        yield
        return
    bars = progress or Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console,
    )
    handler = RelaxProgressBar(bars)
    progress_logger = logging.getLogger(PROGRESS_LOGGER)
    saved = progress_logger.level, progress_logger.propagate
    progress_logger.setLevel(logging.DEBUG)
    progress_logger.propagate = False
    progress_logger.addHandler(handler)
    try:
        with nullcontext() if progress is not None else bars:
            yield
    finally:
        progress_logger.removeHandler(handler)
        progress_logger.setLevel(saved[0])
        progress_logger.propagate = saved[1]


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _interval(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{low:.2f}, {high:.2f}]"


def configs_cell(fit: SlopeFitDocument | CandidateSummaryDocument) -> str:
    """Return the configurations column: fitted, excluded, failed, and rounds."""
    parts = [str(fit.n_configs)]
    if fit.n_excluded:
        parts.append(f"{fit.n_excluded} excl.")
    if fit.n_failed:
        parts.append(f"{fit.n_failed} failed")
    rounds = len(fit.rounds) if isinstance(fit, SlopeFitDocument) else fit.n_rounds
    text = parts[0] + (f" ({', '.join(parts[1:])})" if parts[1:] else "")
    if rounds > 1 or fit.stop_reason == "cap reached":
        text += f", {rounds} rounds"
    if fit.stop_reason == "cap reached":
        text += ", cap"
    return text


def fits_table(fits: Sequence[SlopeFitDocument | CandidateSummaryDocument], title: str) -> Table:
    """Return the ranked table of slope fits (or candidate summaries), verdict first.

    The verdict is the one against the reference where there is one (lower,
    higher, similar, undecided), else the absolute one; the next column is the
    slope minus the reference's with its interval, then the slope's own.
    """
    table = Table(title=title)
    level = next((f.ci_level for f in fits if f.ci_level is not None), 0.95)
    for header in (
        "#",
        "formula",
        "verdict",
        f"slope - reference [{100 * level:.0f}% CI]",
        "slope +- err (A/100% SOC)",
        f"{100 * level:.0f}% CI",
        "capacity (mAh/g)",
        "R_t charged (A)",
        "dV/V_ref per 100% SOC",
        "Pearson r",
        "Spearman rho",
        "configs",
        "potential",
        "source id",
    ):
        table.add_column(header, justify="left" if header in LEFT_COLUMNS else "right")
    for index, fit in enumerate(fits, start=1):
        slope = "-" if fit.slope is None else f"{fit.slope:.3f} +- {fit.slope_err or 0:.3f}"
        verdict = fit.shown_verdict
        color = VERDICT_STYLES.get(verdict, "")
        table.add_row(
            str(index),
            fit.formula,
            f"[{color}]{verdict}[/{color}]" if color else verdict,
            relative_cell(fit),
            slope,
            _interval(fit.slope_ci_low, fit.slope_ci_high),
            f"{fit.capacity_mAh_g:.1f}",
            _fmt(fit.r_t_charged, ".3f"),
            _fmt(fit.volume_slope, ".3f"),
            _fmt(fit.pearson_r, ".3f"),
            _fmt(fit.spearman_rho, ".3f"),
            configs_cell(fit),
            fit.potential or "-",
            fit.candidate_id
            if fit.candidate_id.startswith("generated:")
            else fit.source_id or fit.candidate_id,
        )
    return table


def relative_cell(fit: SlopeFitDocument | CandidateSummaryDocument) -> str:
    """Return the slope minus the reference's and its interval, or what stands for it."""
    if fit.role == "reference":
        return "(the reference)"
    if fit.relative_difference is None:
        return "-"
    return f"{fit.relative_difference:+.3f} " + _interval(fit.relative_ci_low, fit.relative_ci_high)


def screen_title(fits: Sequence[SlopeFitDocument | CandidateSummaryDocument]) -> str:
    """Return the title of a screen's table: how many, and against what."""
    screened = sum(1 for f in fits if f.role != "reference")
    reference = next((f.reference for f in fits if f.reference), None)
    against = f", against {reference} by the same protocol" if reference else ""
    return f"{screened} candidates screened{against}"


def too_few_note(fits: Sequence[SlopeFitDocument | CandidateSummaryDocument]) -> str | None:
    """Return a sentence on the fits that have too few configurations for a verdict."""
    short = [f for f in fits if f.slope is not None and f.shown_verdict == "insufficient-data"]
    if not short:
        return None
    least = max((f.min_configs or 0) for f in short) or None
    counts = sorted({f.n_configs for f in short})
    need = f"at least {least}" if least else "more"
    return (
        f"{len(short)} fit(s) of {', '.join(map(str, counts))} configurations: too few for a "
        f"verdict, which needs {need} (fewer cannot hold the interval's level); screen "
        "without --configs to sample until decided."
    )


LEFT_COLUMNS = ("formula", "verdict", "source id", "potential")
VERDICT_STYLES = {
    "stable": "green",
    "lower": "green",
    "similar": "cyan",
    "unstable": "red",
    "higher": "red",
    "undecided": "yellow",
    "reference": "blue",
}
"""Colours of the verdicts in terminal tables."""


def failures_table(failures: Sequence[FailureDocument]) -> Table:
    """Return the table of recorded failures."""
    table = Table(title=f"{len(failures)} failures")
    for header in ("input", "step", "error", "message"):
        table.add_column(header)
    for failure in failures:
        table.add_row(failure.input, failure.step, failure.error_type, failure.message)
    return table


def print_json(fits: Sequence[SlopeFitDocument], checks: Sequence[CrossCheckDocument] = ()) -> None:
    """Print the JSON list of fit summaries on standard output.

    With cross-checks, each candidate's row also gets the second potential's slope,
    the difference and the combined verdict (:meth:`CrossCheckDocument.summary`).
    """
    extra = {c.candidate_id: c.summary() for c in checks}
    rows = [summary_row(f) | extra.get(f.candidate_id, {}) for f in fits]
    sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    sys.stdout.flush()


def screen_results(
    outputs: Sequence[SlopeFitDocument | CrossCheckDocument | None],
) -> tuple[list[SlopeFitDocument], list[CrossCheckDocument]]:
    """Split a screen's outputs into ranked fits and ranked cross-checks.

    A cross-check contributes its first potential's fit to the fits; cross-checks
    are ranked by their combined verdict, and the fits follow that order.
    """
    from sianode_flows.results import rank
    from sianode_flows.schemas import CrossCheckDocument, SlopeFitDocument

    checks = sorted(
        (o for o in outputs if isinstance(o, CrossCheckDocument)),
        key=lambda c: c.rank_key(),
    )
    if not checks:
        return rank(o for o in outputs if isinstance(o, SlopeFitDocument)), []
    return [c.first for c in checks if c.first is not None], checks


def cross_check_table(checks: Sequence[CrossCheckDocument]) -> Table:
    """Return the table of cross-checks: both slopes, their difference, the verdict."""
    table = Table(title=f"{len(checks)} candidates cross-checked")
    headers = (
        "formula",
        "first",
        "slope [95% CI]",
        "second",
        "slope [95% CI]",
        "difference [95% CI]",
        "agree",
        "verdict",
    )
    for header in headers:
        table.add_column(header, justify="left" if header == "formula" else "right")
    for check in checks:
        cells = [check.formula]
        for fit, potential in (
            (check.first, check.first_potential),
            (check.second, check.second_potential),
        ):
            slope = None if fit is None else fit.slope
            interval = "" if fit is None else " " + _interval(fit.slope_ci_low, fit.slope_ci_high)
            cells += [potential or "-", _fmt(slope, ".3f") + interval]
        difference = _fmt(check.slope_difference, "+.3f")
        cells += [
            difference + " " + _interval(check.difference_ci_low, check.difference_ci_high),
            "-" if check.agree is None else ("yes" if check.agree else "no"),
            check.verdict,
        ]
        table.add_row(*cells)
    return table
