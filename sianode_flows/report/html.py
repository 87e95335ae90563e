"""One self-contained HTML page: tables and figures, no script, no network.

Figures are embedded as base64 ``data:`` URIs (the page is one file that opens
anywhere), or referenced by their relative path when embedding is off; each is
wrapped in a link to its PNG beside the page. Every number in a table carries its
full-precision value in a ``data-value`` attribute, so the page can be checked
against the store.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from sianode_flows.report.data import GENERATED, is_generated
from sianode_flows.report.style import STATUS_COLORS
from sianode_flows.results import summary_row

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from sianode_flows.schemas import (
        CandidateDocument,
        DatabaseSeriesDocument,
        FailureDocument,
        SlopeFitDocument,
    )

BASE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 1400px; padding: 0 1.5rem; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem;
       margin-top: 2.2rem; }
.meta { color: #555; font-size: 0.9rem; }
.counts span { display: inline-block; background: #eef3f8; border-radius: 4px;
       padding: 0.2rem 0.6rem; margin: 0.2rem 0.4rem 0.2rem 0; }
.notice { background: #fff7e0; border-left: 4px solid #f0b400; padding: 0.8rem 1rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.6rem 0; }
th, td { border: 1px solid #d0d0d0; padding: 0.2rem 0.35rem; text-align: right; }
th { background: #f0f0f0; text-align: center; }
td.text { text-align: left; }
td.verdict { font-weight: 600; text-align: left; white-space: nowrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr));
       gap: 1rem; }
figure { margin: 0; } figure img { width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.85rem; color: #444; }
.wide img { max-width: 900px; }
details summary { cursor: pointer; font-weight: 600; }
td[data-tag]::after { content: attr(data-tag); display: inline-block; margin-left: 0.4em;
       padding: 0 0.35em; border-radius: 3px; background: #efe4fb; color: #5b2a86;
       font-size: 0.7rem; font-weight: 600; }
h3 { margin-top: 1.6rem; } h4 { margin: 1.2rem 0 0.3rem; font-weight: 600; }
tr.control td { font-style: italic; background: #f6f6f6; }
"""


VERDICT_STYLES = {
    "lower": ("#146c3c", "#dff2e6"),
    "stable": ("#1a7f1a", "#e3f4e3"),
    "similar": ("#0f6f78", "#ddf3f5"),
    "undecided": ("#a84f00", "#fff0dc"),
    "higher": ("#8c0021", "#f8dde3"),
    "unstable": ("#c02020", "#fbe4e4"),
    "insufficient-data": ("#555555", "#eeeeee"),
    "reference": ("#111111", "#e8e8e8"),
    "below capacity": ("#777777", "#f6f6f6"),
    "not screened": ("#1f5f94", "#e6eef7"),
}
"""Text and background colors of a verdict (or status) cell, by verdict; the hue is that
of :data:`sianode_flows.report.style.STATUS_COLORS`, darkened for text."""


VERDICT_FIELDS = frozenset({"verdict", "status"})
"""Fields whose cells are colored by their row's verdict class."""


def status_class(status: str) -> str:
    """Return the CSS class of a verdict or status (``"below capacity"`` -> ``below-capacity``)."""
    return status.replace(" ", "-")


def verdict_css() -> str:
    """Return the style rules coloring each verdict's table cells and header count."""
    rules = []
    for status, (text, background) in VERDICT_STYLES.items():
        css, color = status_class(status), STATUS_COLORS[status]
        rules.append(
            f"tr.{css} td.verdict {{ color: {text}; background: {background}; "
            f"border-left: 4px solid {color}; }}"
        )
        rules.append(f".counts span.{css} {{ border-left: 4px solid {color}; }}")
    return "\n".join(rules) + "\n"


STYLE = BASE_STYLE + verdict_css()
"""The page's style sheet."""


@dataclass(frozen=True)
class ReportFigure:
    """A figure of the report: its PNG, relative to the page, and its caption.

    Parameters
    ----------
    path
        The PNG on disk.
    relative
        Its path relative to the page, e.g. ``"figures/capacity_by_source.png"``.
    caption
        What the figure shows.
    """

    path: Path
    relative: str
    caption: str


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown, and the value behind it (numbers).

    A ``tag`` is shown as a small label after the text (drawn by the style sheet
    from the cell's ``data-tag``, so the cell's text stays the value alone).
    """

    text: str
    value: Any = None
    field: str | None = None
    numeric: bool = False
    tag: str | None = None


def number(value: float | None, spec: str, field: str | None = None) -> Cell:
    """Return a numeric cell: the value formatted with ``spec``, ``-`` for ``None``."""
    text = "-" if value is None else format(value, spec)
    return Cell(text, value, field, numeric=True)


def data_uri(path: Path) -> str:
    """Return a PNG as a base64 ``data:`` URI.

    Parameters
    ----------
    path
        A PNG file.

    Returns
    -------
    str
        ``data:image/png;base64,...``.
    """
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def figure_html(figure: ReportFigure, embed: bool = True, wide: bool = False) -> str:
    """Return a ``<figure>`` for a PNG, embedded or by relative path, linked to the file."""
    source = data_uri(figure.path) if embed else escape(figure.relative)
    caption = escape(figure.caption)
    return (
        f'<figure class="{"wide" if wide else ""}">'
        f'<a href="{escape(figure.relative)}"><img src="{source}" alt="{caption}"'
        f' data-file="{escape(figure.relative)}"></a>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def table_html(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    table_id: str,
    row_attrs: Sequence[dict[str, str]] | None = None,
) -> str:
    """Return an HTML table; numeric cells keep their exact value in ``data-value``.

    Parameters
    ----------
    headers
        Column titles.
    rows
        Cells, one list per row.
    table_id
        The table's ``id``.
    row_attrs
        Extra attributes of each ``<tr>`` (e.g. ``class``), one dict per row.

    Returns
    -------
    str
        The ``<table>`` element.
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        attrs = (row_attrs[index] if row_attrs else {}) or {}
        tr = "".join(f' {k}="{escape(v)}"' for k, v in attrs.items())
        cells = []
        for cell in row:
            extra = f' data-field="{escape(cell.field)}"' if cell.field else ""
            if cell.tag:
                extra += f' data-tag="{escape(cell.tag)}"'
            if cell.numeric:
                value = "" if cell.value is None else repr(cell.value)
                extra += f' data-value="{escape(value)}"'
            css = "verdict" if cell.field in VERDICT_FIELDS else ("" if cell.numeric else "text")
            cells.append(f'<td class="{css}"{extra}>{escape(cell.text)}</td>')
        body.append(f"<tr{tr}>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table id="{escape(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


FIT_COLUMNS = (
    ("relative_difference", "slope minus reference (Å/100 % SOC)", "+.3f"),
    ("relative_ci_low", "difference CI low", "+.3f"),
    ("relative_ci_high", "difference CI high", "+.3f"),
    ("capacity_mAh_g", "capacity (mAh/g)", ".1f"),
    ("r_t_charged", "R_t charged (Å)", ".3f"),
    ("slope", "slope (Å/100 % SOC)", ".3f"),
    ("slope_err", "slope error", ".3f"),
    ("slope_ci_low", "slope CI low", ".3f"),
    ("slope_ci_high", "slope CI high", ".3f"),
    ("pearson_r", "Pearson r", ".3f"),
    ("pearson_p", "Pearson p", ".2g"),
    ("spearman_rho", "Spearman \N{GREEK SMALL LETTER RHO}", ".3f"),
    ("spearman_p", "Spearman p", ".2g"),
    ("volume_slope", "volume slope (/100 % SOC)", ".3f"),
    ("n_configs", "configs", "d"),
    ("n_failed", "failed", "d"),
)
"""Numeric columns of the ranked table: summary field, header, format."""
FIT_FORMATS = {name: spec for name, _, spec in FIT_COLUMNS}
OPTIONAL_COLUMNS = frozenset(
    {
        "relative_difference",
        "relative_ci_low",
        "relative_ci_high",
        "slope_ci_low",
        "slope_ci_high",
        "volume_slope",
    }
)
"""Columns shown only when some fit has a value (a reference, an interval, a volume fit)."""


def fits_table(fits: Sequence[SlopeFitDocument]) -> str:
    """Return the ranked table of slope fits, one row per candidate, with provenance.

    The verdict shown (against the reference where there is one, else the absolute
    one) comes right after the formula, so that it shows however narrow the window;
    the slope minus the reference's and its interval follow, then the numbers. The
    columns are fields of :func:`sianode_flows.results.summary_row`; the optional ones
    (:data:`OPTIONAL_COLUMNS`) are left out when no fit has them. Candidates promoted
    from generated samples carry a ``generated`` tag beside their identifier and the
    row class ``generated``.
    """
    summaries = [summary_row(fit) for fit in fits]
    columns = [
        column
        for column in FIT_COLUMNS
        if column[0] not in OPTIONAL_COLUMNS or any(s.get(column[0]) is not None for s in summaries)
    ]
    headers = (
        "#",
        "formula",
        "verdict",
        "candidate",
        "source",
        "source id",
        *(header for _, header, _ in columns),
    )
    rows, attrs = [], []
    for index, (fit, summary) in enumerate(zip(fits, summaries, strict=True), start=1):
        row = [number(index, "d", "rank"), Cell(summary["formula"] or "-", field="formula")]
        row.append(Cell(fit.shown_verdict, field="verdict"))
        generated = is_generated(fit.candidate_id, fit.source)
        tag = GENERATED if generated else None
        row.append(Cell(summary["candidate_id"] or "-", field="candidate_id", tag=tag))
        row += [Cell(summary[k] or "-", field=k) for k in ("source", "source_id")]
        row += [number(summary.get(name), spec, name) for name, _, spec in columns]
        rows.append(row)
        css = status_class(fit.shown_verdict) + (" generated" if generated else "")
        attrs.append({"class": css, "data-candidate-id": fit.candidate_id})
    return table_html(headers, rows, "ranked-candidates", attrs)


def candidates_table(candidates: Sequence[CandidateDocument], status: dict[str, str]) -> str:
    """Return the table of every candidate: status, capacity, charged R_t, provenance."""
    headers = (
        "formula",
        "status",
        "candidate",
        "chemical system",
        "sites",
        "capacity (mAh/g)",
        "R_t charged (Å)",
        "sources",
    )
    rows, attrs = [], []
    for c in candidates:
        sources = ", ".join(f"{p.source}:{p.source_id or '-'}" for p in c.provenance)
        state = status.get(c.candidate_id, "-")
        rows.append(
            [
                Cell(c.formula, field="formula"),
                Cell(state, field="status"),
                Cell(
                    c.candidate_id,
                    field="candidate_id",
                    tag=GENERATED if is_generated(c.candidate_id, c.source) else None,
                ),
                Cell(c.chemsys, field="chemsys"),
                number(c.nsites, "d", "nsites"),
                number(c.capacity_mAh_g, ".1f", "capacity_mAh_g"),
                number(c.r_t_charged, ".3f", "r_t_charged"),
                Cell(sources or "-", field="provenance"),
            ]
        )
        attrs.append({"class": status_class(state)})
    return table_html(headers, rows, "all-candidates", attrs)


def failures_table(failures: Sequence[FailureDocument]) -> str:
    """Return the table of recorded failures: what, which step, and why."""
    headers = ("input", "step", "error", "message", "candidate", "configuration", "when (UTC)")
    rows = [
        [
            Cell(f.input, field="input"),
            Cell(f.step, field="step"),
            Cell(f.error_type, field="error_type"),
            Cell(f.message, field="message"),
            Cell(f.candidate_id or "-", field="candidate_id"),
            Cell("-" if f.config_index is None else str(f.config_index), field="config_index"),
            Cell(f.created_at.strftime("%Y-%m-%d %H:%M:%S"), field="created_at"),
        ]
        for f in failures
    ]
    return table_html(headers, rows, "failures")


def series_table(series: Sequence[DatabaseSeriesDocument]) -> str:
    """Return the table of database series fits, one row per chemical system."""
    headers = (
        "chemical system",
        "structures",
        "failed",
        "slope (Å/100 % lithiation)",
        "slope error",
        "Pearson r",
        "Pearson p",
        "Spearman \N{GREEK SMALL LETTER RHO}",
        "Spearman p",
    )
    rows = []
    for s in series:
        row = [
            Cell(s.chemsys, field="chemsys"),
            number(s.n_structures, "d", "n_structures"),
            number(s.n_failed, "d", "n_failed"),
        ]
        for name in ("slope", "slope_err", "pearson_r", "pearson_p", "spearman_rho", "spearman_p"):
            row.append(number(getattr(s, name, None), FIT_FORMATS[name], name))
        rows.append(row)
    return table_html(headers, rows, "database-series")
