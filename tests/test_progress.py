"""Progress of a batched relaxation: a log line every interval, a live bar on a terminal."""

import io
import logging

from rich.console import Console
from rich.progress import Progress

from sianode_flows.cli.output import RelaxProgressBar
from sianode_flows.progress import PROGRESS_LOGGER, ProgressLog, RelaxProgress


def test_info_lines_come_every_interval_and_at_the_end(caplog):
    status = RelaxProgress(label="batched relax", total=3)
    caplog.set_level(logging.DEBUG, logger=PROGRESS_LOGGER)
    report = ProgressLog(interval=3600)
    for done in range(4):
        status.done, status.steps = done, 10 * done
        report(status)
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    debug = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 4 and len(info) == 1  # only the end, within the hour
    assert info[0].getMessage().startswith("batched relax: 3/3 structures done")
    assert info[0].relax_progress.steps == 30
    caplog.clear()
    every_time = ProgressLog(interval=0)
    for _ in range(3):
        every_time(status)
    assert sum(r.levelno == logging.INFO for r in caplog.records) == 3


def test_snapshots_do_not_change_afterwards(caplog):
    status = RelaxProgress(label="relax", total=2)
    caplog.set_level(logging.DEBUG, logger=PROGRESS_LOGGER)
    ProgressLog()(status)
    status.done = 2
    assert caplog.records[0].relax_progress.done == 0


def test_the_bar_follows_the_records():
    progress = Progress(console=Console(file=io.StringIO()))
    handler = RelaxProgressBar(progress)
    status = RelaxProgress(label="batched relax", total=30, done=12, steps=500)
    record = logging.LogRecord(PROGRESS_LOGGER, logging.DEBUG, "", 0, "x", None, None)
    record.relax_progress = status
    handler.emit(record)
    (task,) = progress.tasks
    assert (task.total, task.completed) == (30, 12)
    assert "steps/s" in task.description
    status.done = 30
    handler.emit(record)
    assert len(progress.tasks) == 1 and progress.tasks[0].completed == 30
