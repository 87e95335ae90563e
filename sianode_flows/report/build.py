"""Build a report: read a store, draw the figures, write one HTML page beside them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sianode_flows.report.figures as figures
from sianode_flows.report.data import ReportData, gather
from sianode_flows.report.fits import series_figure, slope_fit_figure
from sianode_flows.report.generation import draw_generation
from sianode_flows.report.html import ReportFigure
from sianode_flows.report.options import DEFAULT_R_T_WINDOW, ReportOptions
from sianode_flows.report.page import render_page
from sianode_flows.report.structures import structure_figure
from sianode_flows.report.style import slug

if TYPE_CHECKING:
    from jobflow import JobStore

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_R_T_WINDOW", "Report", "ReportOptions", "build_report"]

FIGURES_DIR = "figures"
PAGE_NAME = "report.html"
FIGURE_PATTERNS = (
    "capacity_rt_by_*.png",
    "slope_vs_capacity.png",
    "fit_*.png",
    "series_*.png",
    "structure_*.png",
    "generation_*.png",
)
"""Names of the PNGs a report writes; a rebuild removes stale ones first."""


@dataclass
class Report:
    """A written report: the page, its figures by section, and the data behind them.

    Parameters
    ----------
    page
        The HTML page.
    figures
        Section name to the figures drawn for it.
    data
        What was read from the store.
    """

    page: Path
    figures: dict[str, list[ReportFigure]]
    data: ReportData

    @property
    def figure_paths(self) -> list[Path]:
        """Every PNG written, in page order."""
        return [f.path for section in self.figures.values() for f in section]


def draw_figures(
    data: ReportData, folder: Path, options: ReportOptions
) -> dict[str, list[ReportFigure]]:
    """Draw every figure the data allow into a folder.

    Figures of an earlier report in the same folder are removed first, so the
    folder holds exactly what the page shows.

    Parameters
    ----------
    data
        What was read from the store.
    folder
        The report folder; PNGs go to its ``figures/`` subfolder.
    options
        What to draw.

    Returns
    -------
    dict[str, list[ReportFigure]]
        Section name (``capacity``, ``slope``, ``fits``, ``series``, ``structures``,
        ``generation-sweeps``, ``generation-best-<rank>``) to its figures; sections
        without figures are absent.
    """
    out = folder / FIGURES_DIR
    for pattern in FIGURE_PATTERNS:
        for stale in out.glob(pattern):
            stale.unlink()
    drawn: dict[str, list[ReportFigure]] = {}

    def add(section: str, path: Path | None, caption: str) -> None:
        if path is not None:
            relative = f"{FIGURES_DIR}/{path.name}"
            drawn.setdefault(section, []).append(ReportFigure(path, relative, caption))

    low, high = options.r_t_window
    window = f"{low:g}-{high:g} \N{ANGSTROM SIGN}"
    sources = {c.candidate_id: c.source for c in data.candidates}
    add(
        "capacity",
        figures.capacity_channel_figure(
            data.candidates,
            sources,
            out / "capacity_rt_by_source.png",
            min_capacity=options.min_capacity,
            r_t_window=options.r_t_window,
            color_title="source",
        ),
        f"Capacity against the charged channel radius, by source; "
        f"{options.min_capacity:.0f} mAh/g line and R_t window {window}.",
    )
    if data.fits:
        add(
            "capacity",
            figures.capacity_channel_figure(
                data.candidates,
                data.status(options.min_capacity),
                out / "capacity_rt_by_verdict.png",
                min_capacity=options.min_capacity,
                r_t_window=options.r_t_window,
                color_title="verdict",
            ),
            "The same, colored by the verdict of the slope fit (against the reference: "
            "lower, similar, higher; without one: stable, unstable; undecided, insufficient "
            "data, the reference itself) or why there is none.",
        )
    add(
        "slope",
        figures.slope_capacity_figure(
            data.fits, out / "slope_vs_capacity.png", reference_chemsys=options.reference_chemsys
        ),
        f"Slope of R_t against SOC against capacity, each with its interval, colored by the "
        f"verdict shown; the band is the reference's slope interval (the relative verdicts "
        f"come from each difference's own interval, paired where the draws are); pure "
        f"{options.reference_chemsys} starred.",
    )
    shown = data.fits if options.max_fit_figures is None else data.fits[: options.max_fit_figures]
    for rank, fit in enumerate(shown, start=1):
        add(
            "fits",
            slope_fit_figure(fit, out / f"fit_{rank:03d}_{slug(fit.candidate_id)}.png"),
            f"#{rank} {fit.formula} ({fit.candidate_id}), {fit.verdict}: R_t of each relaxed "
            f"configuration against SOC (hollow: left out of the fit), least-squares line "
            f"and its 95 % confidence band.",
        )
    for series in data.series:
        add(
            "series",
            series_figure(series, out / f"series_{slug(series.chemsys)}.png"),
            f"{series.chemsys}: R_t of each database structure (unrelaxed) against its "
            f"relative lithiation, least-squares line and its 95 % confidence band.",
        )
    for rank, fit in enumerate(data.fits[: options.top], start=1):
        candidate = data.candidate(fit.candidate_id)
        if candidate is None:
            logger.warning("no candidate document for %s: structure not drawn", fit.candidate_id)
            continue
        add(
            "structures",
            structure_figure(
                candidate.structure,
                f"#{rank} {candidate.formula} ({candidate.candidate_id})",
                out / f"structure_{rank:03d}_{slug(candidate.candidate_id)}.png",
            ),
            f"#{rank} {candidate.formula}: the charged cell and its framework without Li "
            f"(conventional cell where small enough).",
        )
    for section, path, caption in draw_generation(data, out, options.generated_top):
        add(section, path, caption)
    return drawn


def build_report(
    store: JobStore,
    folder: str | Path,
    options: ReportOptions | None = None,
    location: str = "",
) -> Report:
    """Write the report of a store: PNG figures and one HTML page.

    Parameters
    ----------
    store
        A connected job store.
    folder
        Output folder; the page is ``report.html``, the figures ``figures/*.png``.
    options
        What to draw; defaults from the settings.
    location
        Where the store is, shown in the page header.

    Returns
    -------
    Report
        The page, the figures by section, and the data read.
    """
    options = options or ReportOptions()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = gather(store, location)
    drawn = draw_figures(data, folder, options)
    page = folder / PAGE_NAME
    page.write_text(render_page(data, drawn, options), encoding="utf-8")
    logger.info("report written to %s (%d figures)", page, sum(map(len, drawn.values())))
    return Report(page=page, figures=drawn, data=data)
