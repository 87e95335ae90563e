"""Assemble the report page from the store's data and the figures drawn."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING

from sianode_flows import __version__
from sianode_flows.report.generation import generation_html, has_generation
from sianode_flows.report.html import (
    STYLE,
    candidates_table,
    failures_table,
    figure_html,
    fits_table,
    series_table,
    status_class,
)
from sianode_flows.report.style import VERDICTS

if TYPE_CHECKING:
    from sianode_flows.report.data import ReportData
    from sianode_flows.report.html import ReportFigure
    from sianode_flows.report.options import ReportOptions

EMPTY_NOTICE = (
    "This store holds no sianode document yet: no candidate, slope fit, failure or "
    "database series. Run <code>sianode screen</code> to fill it, or point "
    "<code>--store</code> at another store."
)


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def _note(text: str) -> str:
    return f'<p class="notice">{text}</p>'


def _grid(figures: list[ReportFigure], embed: bool) -> str:
    return '<div class="grid">' + "".join(figure_html(f, embed) for f in figures) + "</div>"


def _badge(name: str, count: int, css: str = "") -> str:
    classes = f' class="{escape(css)}"' if css else ""
    return f"<span{classes}>{escape(name)}: <b>{count}</b></span>"


def _header(data: ReportData) -> str:
    """Return the page header: the store, when, and counts (fits by verdict)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdicts = Counter(f.shown_verdict for f in data.fits)
    badges = [
        _badge("candidates", len(data.candidates)),
        _badge("slope fits", len(data.fits)),
        *(_badge(v, verdicts[v], status_class(v)) for v in VERDICTS if verdicts[v]),
        _badge("failures", len(data.failures)),
        _badge("database series", len(data.series)),
    ]
    if not data.generation.is_empty:
        badges.append(_badge("generated samples", len(data.generation.samples)))
    return (
        "<header><h1>sianode-flows report</h1>"
        f'<p class="meta">store <code>{escape(data.location or "-")}</code> &middot; '
        f"written {now} by sianode-flows {escape(__version__)}</p>"
        f'<p class="counts">{"".join(badges)}</p></header>'
    )


def render_page(
    data: ReportData, figures: dict[str, list[ReportFigure]], options: ReportOptions
) -> str:
    """Return the report page as one HTML document.

    Parameters
    ----------
    data
        What was read from the store.
    figures
        Section name to its figures (see :func:`sianode_flows.report.build.draw_figures`).
    options
        What was drawn (window, capacity line, embedding).

    Returns
    -------
    str
        A complete HTML document: inline style, no script, no external resource.
    """
    embed = options.embed
    parts = [_header(data)]
    if data.is_empty:
        parts.append(_note(EMPTY_NOTICE))
    if data.fits:
        body = fits_table(data.fits)
        parts.append(
            _section(
                "ranked",
                f"Ranked candidates ({len(data.fits)})",
                "<p>Stable first, then unstable, undecided (the 95 % interval of the slope "
                "crosses the threshold: the data cannot tell) and insufficient data; within "
                "each by |slope|, then by capacity. The slope is dR_t/dSOC in Å per 100 % "
                "state of charge; Pearson and Spearman test its sign.</p>" + body,
            )
        )
    elif data.candidates:
        parts.append(
            _section("ranked", "Ranked candidates", _note("No slope fit in this store yet."))
        )
    if "capacity" in figures:
        low, high = options.r_t_window
        parts.append(
            _section(
                "capacity",
                "Capacity against channel radius",
                f"<p>Each candidate as given (charged): capacity against R_t on a log axis; "
                f"the dashed line is {options.min_capacity:.0f} mAh/g, the shaded band the "
                f"R_t window {low:g}-{high:g} Å.</p>" + _grid(figures["capacity"], embed),
            )
        )
    if "slope" in figures:
        parts.append(
            _section(
                "slopes",
                "Slope against capacity",
                _grid(figures["slope"], embed),
            )
        )
    if "fits" in figures:
        shown = len(figures["fits"])
        more = f" (the top {shown} of {len(data.fits)})" if shown < len(data.fits) else ""
        parts.append(
            _section(
                "fits",
                f"Channel radius against state of charge{more}",
                "<p>Every measured configuration is a point; hollow points were left out "
                "of the fit (the legend says why). The line is the stored fit of the others."
                "</p>" + _grid(figures["fits"], embed),
            )
        )
    if data.series:
        parts.append(
            _section(
                "series",
                "Database series",
                series_table(data.series) + _grid(figures.get("series", []), embed),
            )
        )
    if "structures" in figures:
        parts.append(
            _section(
                "structures",
                f"Structures of the top {len(figures['structures'])} candidates",
                _grid(figures["structures"], embed),
            )
        )
    if has_generation(data):
        parts.append(
            _section(
                "generation",
                "Generation (Figure 5)",
                generation_html(data, figures, options.generated_top, embed),
            )
        )
    if data.candidates:
        status = data.status(options.min_capacity)
        parts.append(
            _section(
                "candidates",
                f"All candidates ({len(data.candidates)})",
                "<details><summary>Show the table (by capacity)</summary>"
                + candidates_table(data.candidates, status)
                + "</details>",
            )
        )
    if data.failures:
        steps = Counter(f.step for f in data.failures)
        by_step = ", ".join(f"{step} {n}" for step, n in steps.most_common())
        parts.append(
            _section(
                "failures",
                f"Failures ({len(data.failures)})",
                "<p>Inputs and configurations that could not be processed, and why "
                f"(by step: {escape(by_step)}).</p>" + failures_table(data.failures),
            )
        )
    elif not data.is_empty:
        parts.append(_section("failures", "Failures", "<p>No failure recorded.</p>"))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>sianode-flows report: {escape(data.location or 'store')}</title>"
        f"<style>{STYLE}</style></head><body>" + "\n".join(parts) + "</body></html>\n"
    )
