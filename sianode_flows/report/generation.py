"""The generation section of the report (paper, Figure 5).

Three parts, each drawn from the store's generation documents:

* the metrics of each method side by side, one table per generation target
  (validity, uniqueness, novelty, the paper's energy-change criterion, hull
  stability and S.U.N. at 0.1 and 0.0 eV/atom, over-lithiation, hit rates, medians);
* Figure 5B: for each conditioning sweep, what the samples of each target achieved
  against the target (box and jittered points), the diagonal, and the
  unconditional control beside them, with Spearman's rho in the title;
* Figure 5A: the best generated candidates, their structure and, once screened,
  their slope fit, with formula, energy above hull, decomposition, capacity and R_t.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from sianode_flows.generative.target import GenerationTarget
from sianode_flows.report.data import GENERATED, METHODS, is_generated
from sianode_flows.report.fits import slope_fit_figure
from sianode_flows.report.html import Cell, figure_html, number, table_html
from sianode_flows.report.structures import structure_figure
from sianode_flows.report.style import (
    ANGSTROM,
    PALETTE,
    legend_beside,
    legend_text,
    save,
    slug,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from matplotlib.axes import Axes
    from pymatgen.core import Structure

    from sianode_flows.report.data import GenerationData, ReportData
    from sianode_flows.report.html import ReportFigure
    from sianode_flows.schemas import (
        CandidateDocument,
        GeneratedStructureDocument,
        GenerationMetricsDocument,
        SlopeFitDocument,
    )
    from sianode_flows.schemas.generation import ConditioningSweepDocument, TargetOutcome

logger = logging.getLogger(__name__)

SWEEPS_SECTION = "generation-sweeps"
"""Figure section of the conditioning sweeps (Figure 5B)."""
BEST_SECTION = "generation-best-{rank}"
"""Figure section of the best generated candidate of a rank (Figure 5A)."""
CONTROL_LABEL = "unconditional (control)"
"""How the control of a sweep is labelled, on the figure and in its table."""
RATE = ".1%"
"""Format of a rate (a fraction shown in percent)."""
METHOD_COLORS = dict(zip(METHODS, PALETTE, strict=False))
"""Color of each generation method's points."""
CONTROL_COLOR = "#7f7f7f"
UNITS = {"A": ANGSTROM}
"""Units of the documents as the report writes them."""
PROPERTY_NAMES = {"r_t": "R_t", "capacity": "capacity"}
"""How a swept property is named in text."""
PROPERTY_LABELS = {"r_t": "$R_t$", "capacity": "capacity"}
"""How a swept property is named on a figure's axes."""


@dataclass(frozen=True)
class MetricRow:
    """One row of the metrics table: a metric of every method.

    Parameters
    ----------
    key
        Identifier of the metric, the row's ``data-metric``.
    label
        What the row is called on the page.
    value
        The metric of a method's metrics document (``None`` when not judged).
    spec
        Format of its value.
    """

    key: str
    label: str
    value: Callable[[GenerationMetricsDocument], float | int | None]
    spec: str = RATE


METRIC_ROWS = (
    MetricRow("n_samples", "samples", lambda m: m.n_samples, "d"),
    MetricRow("validity_rate", "valid", lambda m: m.validity_rate),
    MetricRow("uniqueness_rate", "unique (of valid)", lambda m: m.uniqueness_rate),
    MetricRow("novelty_rate", "novel (of valid)", lambda m: m.novelty_rate),
    MetricRow(
        "energy_change_stable_rate",
        "\N{GREEK CAPITAL LETTER DELTA}E < 4 % on relaxation (paper)",
        lambda m: m.energy_change_stable_rate,
    ),
    MetricRow(
        "hull_stable_rate_0.1",
        "hull-stable, E_hull \N{LESS-THAN OR EQUAL TO} 0.1 eV/atom",
        lambda m: m.hull_stable_rate.get("0.1"),
    ),
    MetricRow(
        "hull_stable_rate_0.0",
        "hull-stable, E_hull \N{LESS-THAN OR EQUAL TO} 0.0 eV/atom",
        lambda m: m.hull_stable_rate.get("0.0"),
    ),
    MetricRow("sun_rate_0.1", "S.U.N. at 0.1 eV/atom", lambda m: m.sun_rate.get("0.1")),
    MetricRow("sun_rate_0.0", "S.U.N. at 0.0 eV/atom", lambda m: m.sun_rate.get("0.0")),
    MetricRow("over_lithiated_rate", "over-lithiated", lambda m: m.over_lithiated_rate),
    MetricRow(
        "r_t_hit_rate",
        f"R_t hit (\N{PLUS-MINUS SIGN}0.2 {ANGSTROM})",
        lambda m: m.r_t_hit_rate,
    ),
    MetricRow(
        "capacity_hit_rate", "capacity hit (\N{PLUS-MINUS SIGN}15 %)", lambda m: m.capacity_hit_rate
    ),
    MetricRow("r_t_median", f"median R_t ({ANGSTROM})", lambda m: m.r_t.get("median"), ".3f"),
    MetricRow(
        "capacity_median", "median capacity (mAh/g)", lambda m: m.capacity.get("median"), ".1f"
    ),
    MetricRow(
        "e_above_hull_median",
        "median E_hull (eV/atom)",
        lambda m: m.e_above_hull.get("median"),
        ".3f",
    ),
    MetricRow("n_errors", "failed (relaxation or CAVD)", lambda m: m.n_errors, "d"),
)
"""The rows of each metrics table, in order."""


def unit_text(unit: str) -> str:
    """Return a unit as the page writes it (``"A"`` -> ``"Å"``)."""
    return UNITS.get(unit, unit)


def value_html(value: float | None, spec: str, field: str) -> str:
    """Return a number in running text, its exact value in ``data-value``.

    Parameters
    ----------
    value
        The number; ``-`` when ``None``.
    spec
        Its format.
    field
        What it is, the span's ``data-field``.

    Returns
    -------
    str
        A ``<span>``.
    """
    text = "-" if value is None else format(value, spec)
    exact = "" if value is None else repr(value)
    return (
        f'<span class="value" data-field="{escape(field)}" data-value="{escape(exact)}">'
        f"{escape(text)}</span>"
    )


def target_html(target: GenerationTarget) -> str:
    """Return the conditions of a generation run in words, each number in a span."""
    forbidden = ", ".join(target.forbidden_elements) or "none"
    return (
        f"R_t {value_html(target.channel_radius, 'g', 'channel_radius')} {ANGSTROM}, capacity "
        f"{value_html(target.capacity_mAh_g, 'g', 'capacity_mAh_g')} mAh/g (on target from "
        f"{value_html(target.min_capacity_mAh_g, 'g', 'min_capacity_mAh_g')}); required "
        f"{escape(', '.join(target.required_elements) or 'none')}, forbidden {escape(forbidden)}"
    )


def metrics_table(metrics: Sequence[GenerationMetricsDocument], table_id: str) -> str:
    """Return the metrics of each method side by side: one row per metric, one column per method.

    Parameters
    ----------
    metrics
        The metrics of one target, one document per method.
    table_id
        The table's ``id``.

    Returns
    -------
    str
        The table; each method's cell has the method as ``data-field`` and the exact
        value in ``data-value``, each row its metric in ``data-metric``.
    """
    headers = ("metric", *(m.method for m in metrics))
    rows = [
        [Cell(row.label, field="metric")]
        + [number(row.value(m), row.spec, m.method) for m in metrics]
        for row in METRIC_ROWS
    ]
    attrs = [{"data-metric": row.key} for row in METRIC_ROWS]
    return table_html(headers, rows, table_id, attrs)


def metrics_html(generation: GenerationData) -> str:
    """Return the metrics part: one table per target, methods side by side."""
    groups = generation.metrics_by_target()
    if not groups:
        return "<p>No generation metrics in this store.</p>"
    parts = [
        "<p>Rates are fractions of all samples, except uniqueness and novelty (of the "
        "valid ones). Hull stability counts converged relaxations only; S.U.N.: stable, "
        "unique and novel. The paper's own criterion, the energy changing by less than "
        "4 % on relaxation, is kept for comparison: it is no stability verdict.</p>"
    ]
    for index, (target, metrics) in enumerate(groups, start=1):
        parts.append(f"<h4>Target {index}: {target_html(target)}</h4>")
        parts.append(metrics_table(metrics, f"generation-metrics-{index}"))
    return "".join(parts)


def _span(targets: Sequence[float]) -> tuple[float, float]:
    """Return the smallest gap between distinct targets (or a scale), and a box width."""
    distinct = np.unique(np.asarray(targets, dtype=float))
    if distinct.size > 1:
        step = float(np.min(np.diff(distinct)))
    else:
        step = abs(float(distinct[0])) * 0.5 if distinct.size and distinct[0] else 1.0
    return step, 0.4 * step


def _tolerance_band(ax: Axes, sweep: ConditioningSweepDocument, low: float, high: float) -> Any:
    """Shade where a sample hits its target along the diagonal; return the band."""
    grid = np.linspace(low, high, 50)
    if sweep.property == "r_t":
        bottom, top = grid - sweep.tolerance, grid + sweep.tolerance
        text = f"\N{PLUS-MINUS SIGN}{sweep.tolerance:g} {unit_text(sweep.unit)}"
    else:
        bottom, top = grid * (1 - sweep.tolerance), grid * (1 + sweep.tolerance)
        text = f"\N{PLUS-MINUS SIGN}{100 * sweep.tolerance:g} %"
    return ax.fill_between(
        grid, bottom, top, color="#2ca02c", alpha=0.12, zorder=1, label=f"hit tolerance {text}"
    )


def _boxes(
    ax: Axes,
    outcomes: Sequence[TargetOutcome],
    positions: Sequence[float],
    width: float,
    color: str,
    seed: int = 0,
) -> None:
    """Draw each outcome's achieved values: a box (quartiles, whiskers) and jittered points."""
    drawn = [(o, x) for o, x in zip(outcomes, positions, strict=True) if o.achieved]
    if not drawn:
        return
    ax.boxplot(
        [o.achieved for o, _ in drawn],
        positions=[x for _, x in drawn],
        widths=width,
        showfliers=False,
        manage_ticks=False,
        patch_artist=True,
        boxprops={"facecolor": "white", "edgecolor": "black", "alpha": 0.9},
        medianprops={"color": "black", "linewidth": 1.6},
        zorder=2,
    )
    rng = np.random.default_rng(seed)
    for outcome, x in drawn:
        jitter = rng.uniform(-0.35 * width, 0.35 * width, len(outcome.achieved))
        ax.scatter(
            x + jitter,
            outcome.achieved,
            s=12,
            color=color,
            alpha=0.6,
            edgecolor="none",
            zorder=3,
        )


def _hit_rates(ax: Axes, outcomes: Sequence[TargetOutcome]) -> None:
    """Write each target's hit rate along the top of the axes."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for outcome in outcomes:
        if outcome.hit_rate is not None and outcome.target is not None:
            ax.text(
                outcome.target,
                0.98,
                f"{outcome.hit_rate:.0%}",
                transform=transform,
                ha="center",
                va="top",
                fontsize=7,
                color="#1a7f1a",
            )


def sweep_title(sweep: ConditioningSweepDocument) -> str:
    """Return a sweep's title: method, property, and Spearman's rho with its p-value."""
    rho = "-" if sweep.spearman_rho is None else f"{sweep.spearman_rho:.3f}"
    p_value = "-" if sweep.spearman_p is None else f"{sweep.spearman_p:.2g}"
    name = PROPERTY_NAMES.get(sweep.property, sweep.property)
    return (
        f"{sweep.method}: {name} sweep, Spearman \N{GREEK SMALL LETTER RHO} = {rho} (p = {p_value})"
    )


def sweep_plot(sweep: ConditioningSweepDocument) -> Figure | None:
    """Draw what the samples of each target achieved against the target (paper, Figure 5B).

    Each target gets a box (quartiles, whiskers to 1.5 IQR) and its samples as
    jittered points, the hit rate above; the diagonal is achieved = target, shaded
    by the hit tolerance. The unconditional control stands beside the targets, its
    box and points grey, its interquartile range a grey band across the plot.

    Parameters
    ----------
    sweep
        A conditioning sweep.

    Returns
    -------
    Figure or None
        The figure, or ``None`` when no sample achieved a value.
    """
    outcomes = sorted(
        (o for o in sweep.outcomes if o.target is not None), key=lambda o: float(o.target)
    )
    control = sweep.control if sweep.control is not None and sweep.control.achieved else None
    if not outcomes or not (any(o.achieved for o in outcomes) or control):
        return None
    targets = [float(o.target) for o in outcomes]
    step, width = _span(targets)
    low, high = targets[0] - step / 2, targets[-1] + step / 2
    fig = Figure(figsize=(6.8, 4.8))
    ax = fig.add_subplot()
    handles = [_tolerance_band(ax, sweep, low, high)]
    handles += ax.plot(
        [low, high],
        [low, high],
        color="black",
        linestyle="--",
        linewidth=1,
        label="achieved = target",
    )
    color = METHOD_COLORS.get(sweep.method, PALETTE[0])
    _boxes(ax, outcomes, targets, width, color, seed=sweep.seed)
    handles.append(
        Line2D([], [], marker="o", linestyle="none", color=color, label=f"{sweep.method} samples")
    )
    ticks, labels = list(targets), [f"{t:g}" for t in targets]
    if control is not None:
        x_control = targets[-1] + 1.5 * step
        ax.axvline(targets[-1] + 0.75 * step, color="0.6", linestyle=":", linewidth=1)
        if control.p25 is not None and control.p75 is not None:
            handles.append(
                ax.axhspan(
                    control.p25,
                    control.p75,
                    color=CONTROL_COLOR,
                    alpha=0.12,
                    zorder=0,
                    label=f"{CONTROL_LABEL}: interquartile range",
                )
            )
        _boxes(ax, [control], [x_control], width, CONTROL_COLOR, seed=sweep.seed + 1)
        ticks.append(x_control)
        labels.append("unconditional\n(control)")
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + 0.08 * (top - bottom))  # room for the hit rates
    _hit_rates(ax, outcomes)
    legend_text(handles, "top: hit rate of each target")
    ax.set_xticks(ticks, labels)
    ax.set_xlim(low, high if control is None else ticks[-1] + step / 2)
    unit = unit_text(sweep.unit)
    name = PROPERTY_LABELS.get(sweep.property, sweep.property)
    ax.set_xlabel(f"target {name} ({unit})")
    ax.set_ylabel(f"achieved {name} ({unit})" + ("" if sweep.relaxed else ", unrelaxed"))
    ax.set_title(sweep_title(sweep), fontsize=10)
    ax.grid(alpha=0.3)
    legend_beside(ax, handles)
    return fig


def sweep_figure(sweep: ConditioningSweepDocument, path: Path) -> Path | None:
    """Plot a conditioning sweep as a PNG (see :func:`sweep_plot`).

    Parameters
    ----------
    sweep
        A conditioning sweep.
    path
        PNG to write.

    Returns
    -------
    Path or None
        The PNG written, or ``None`` when no sample achieved a value.
    """
    fig = sweep_plot(sweep)
    return None if fig is None else save(fig, path)


def sweeps_table(sweeps: Sequence[ConditioningSweepDocument]) -> str:
    """Return one row per conditioning sweep: Spearman's rho, its p-value, monotonicity."""
    headers = (
        "method",
        "property",
        "unit",
        "relaxed",
        "targets",
        "samples",
        "Spearman \N{GREEK SMALL LETTER RHO}",
        "Spearman p",
        "medians rise",
        "control median",
    )
    rows = []
    for sweep in sweeps:
        control = sweep.control
        rows.append(
            [
                Cell(sweep.method, field="method"),
                Cell(sweep.property, field="property"),
                Cell(unit_text(sweep.unit), field="unit"),
                Cell("yes" if sweep.relaxed else "no", field="relaxed"),
                number(len(sweep.outcomes), "d", "n_targets"),
                number(sum(o.n_samples for o in sweep.outcomes), "d", "n_samples"),
                number(sweep.spearman_rho, ".3f", "spearman_rho"),
                number(sweep.spearman_p, ".2g", "spearman_p"),
                Cell(
                    "-" if sweep.monotone is None else "yes" if sweep.monotone else "no",
                    field="monotone",
                ),
                number(None if control is None else control.median, ".3g", "control_median"),
            ]
        )
    attrs = [{"data-sweep": f"{s.method}-{s.property}"} for s in sweeps]
    return table_html(headers, rows, "conditioning-sweeps", attrs)


def outcomes_table(sweep: ConditioningSweepDocument) -> str:
    """Return what each target of a sweep achieved, the control last."""
    unit = unit_text(sweep.unit)
    headers = (
        f"target ({unit})",
        "samples",
        "with a value",
        f"median ({unit})",
        "p25",
        "p75",
        "hit rate",
    )
    rows, attrs = [], []
    outcomes = [*sweep.outcomes, *([sweep.control] if sweep.control is not None else [])]
    for outcome in outcomes:
        control = outcome.target is None
        target = (
            Cell(CONTROL_LABEL, field="target")
            if control
            else number(outcome.target, "g", "target")
        )
        rows.append(
            [
                target,
                number(outcome.n_samples, "d", "n_samples"),
                number(len(outcome.achieved), "d", "n_achieved"),
                number(outcome.median, ".3g", "median"),
                number(outcome.p25, ".3g", "p25"),
                number(outcome.p75, ".3g", "p75"),
                number(outcome.hit_rate, RATE, "hit_rate"),
            ]
        )
        attrs.append({"class": "control"} if control else {})
    return table_html(headers, rows, f"sweep-{sweep.method}-{sweep.property}", attrs)


def sweep_file(sweep: ConditioningSweepDocument) -> str:
    """Return the PNG name of a sweep's figure."""
    return f"generation_sweep_{sweep.method}_{sweep.property}.png"


def sweep_caption(sweep: ConditioningSweepDocument) -> str:
    """Return the caption of a sweep's figure."""
    name = PROPERTY_NAMES.get(sweep.property, sweep.property)
    return (
        f"{sweep_title(sweep)}. Achieved against target {name} "
        f"({unit_text(sweep.unit)}) of the {sweep.method} samples: box and jittered points "
        f"per target, the diagonal achieved = target and its hit tolerance, and the "
        f"{CONTROL_LABEL} beside them."
    )


def sweeps_html(generation: GenerationData, figures: Sequence[ReportFigure], embed: bool) -> str:
    """Return the sweeps part: the summary table, then each sweep's figure and outcomes."""
    if not generation.sweeps:
        return "<p>No conditioning sweep in this store.</p>"
    by_file = {f.path.name: f for f in figures}
    parts = [
        "<p>Samples drawn at several values of one condition (the other fixed) and, as "
        "the control, with conditions drawn from the training labels. Spearman's "
        "\N{GREEK SMALL LETTER RHO} is over every (target, achieved) pair.</p>",
        sweeps_table(generation.sweeps),
    ]
    for sweep in generation.sweeps:
        rho = value_html(sweep.spearman_rho, ".3f", "spearman_rho")
        p_value = value_html(sweep.spearman_p, ".2g", "spearman_p")
        name = PROPERTY_NAMES.get(sweep.property, sweep.property)
        parts.append(
            f'<h4 data-sweep="{escape(sweep.method)}-{escape(sweep.property)}">'
            f"{escape(sweep.method)}: {escape(name)} sweep, Spearman "
            f"\N{GREEK SMALL LETTER RHO} = {rho} (p = {p_value})</h4>"
        )
        figure = by_file.get(sweep_file(sweep))
        if figure is not None:
            parts.append(figure_html(figure, embed, wide=True))
        parts.append(outcomes_table(sweep))
    return "".join(parts)


@dataclass(frozen=True)
class GeneratedPick:
    """A best generated structure: a screened candidate, or a S.U.N. sample.

    Parameters
    ----------
    rank
        Its rank (1-based).
    identifier
        The candidate's identifier, or the sample's.
    formula
        Reduced formula.
    method
        What generated it.
    structure
        The structure drawn (relaxed), if known.
    e_above_hull
        Energy above the reference hull (eV/atom).
    decomposition
        Hull phases it decomposes into, formula -> fraction of atoms.
    capacity
        Gravimetric capacity (mAh/g).
    r_t
        Channel radius of the relaxed (charged) structure (A).
    fit
        Its slope fit, once screened.
    """

    rank: int
    identifier: str
    formula: str
    method: str | None
    structure: Structure | None
    e_above_hull: float | None
    decomposition: dict[str, float] = field(default_factory=dict)
    capacity: float | None = None
    r_t: float | None = None
    fit: SlopeFitDocument | None = None


def _first(*values: Any) -> Any:
    """Return the first value that is not ``None``."""
    return next((v for v in values if v is not None), None)


def _generated_properties(candidate: CandidateDocument | None) -> dict[str, Any]:
    """Return the properties of a candidate's ``generated`` provenance entry (or none)."""
    if candidate is None:
        return {}
    entry = next((p for p in candidate.provenance if p.source == GENERATED), None)
    return dict(entry.properties) if entry is not None else {}


def _sample_of(
    generation: GenerationData, properties: dict[str, Any]
) -> GeneratedStructureDocument | None:
    """Return the verified sample a generated candidate was promoted from, if stored."""
    target = properties.get("target")
    try:
        target = GenerationTarget.model_validate(target) if target is not None else None
    except ValueError:
        target = None
    return generation.sample(properties.get("sample_id"), target)


def pick_of_fit(data: ReportData, rank: int, fit: SlopeFitDocument) -> GeneratedPick:
    """Return the pick of a screened generated candidate: its fit, candidate and sample."""
    candidate = data.candidate(fit.candidate_id)
    properties = _generated_properties(candidate)
    sample = _sample_of(data.generation, properties)
    structure = candidate.structure if candidate is not None else None
    if structure is None and sample is not None:
        structure = sample.relaxed_structure or sample.structure
    return GeneratedPick(
        rank=rank,
        identifier=fit.candidate_id,
        formula=fit.formula,
        method=_first(properties.get("method"), sample.method if sample else None),
        structure=structure,
        e_above_hull=_first(
            candidate.e_above_hull if candidate else None,
            properties.get("e_above_hull"),
            sample.e_above_hull if sample else None,
        ),
        decomposition=properties.get("decomposition") or (sample.decomposition if sample else {}),
        capacity=fit.capacity_mAh_g,
        r_t=_first(
            candidate.r_t_charged if candidate else None,
            sample.r_t if sample else None,
            fit.r_t_charged,
        ),
        fit=fit,
    )


def pick_of_sample(rank: int, sample: GeneratedStructureDocument) -> GeneratedPick:
    """Return the pick of a verified sample (not screened)."""
    structure = sample.relaxed_structure or sample.structure
    return GeneratedPick(
        rank=rank,
        identifier=sample.sample_id,
        formula=sample.formula or structure.composition.reduced_formula,
        method=sample.method,
        structure=structure,
        e_above_hull=sample.e_above_hull,
        decomposition=dict(sample.decomposition),
        capacity=sample.capacity_mAh_g,
        r_t=sample.r_t,
    )


def sun_samples(
    generation: GenerationData, tolerance: str = "0.1"
) -> list[GeneratedStructureDocument]:
    """Return the S.U.N. samples (stable within ``tolerance``), lowest energy above hull first."""
    found = [
        s
        for s in generation.samples
        if s.sun.get(tolerance) and s.e_above_hull is not None and s.error is None
    ]
    return sorted(found, key=lambda s: (s.e_above_hull, s.sample_id))


def best_generated(data: ReportData, top: int) -> list[GeneratedPick]:
    """Return the best generated structures (paper, Figure 5A).

    The generated candidates with a slope fit, ranked as every fit is
    (:func:`sianode_flows.results.rank`); without any, the S.U.N. samples (at
    0.1 eV/atom) with the lowest energy above hull.

    Parameters
    ----------
    data
        What was read from the store.
    top
        How many.

    Returns
    -------
    list[GeneratedPick]
        At most ``top`` picks, best first.
    """
    fits = [f for f in data.fits if is_generated(f.candidate_id, f.source)]
    if fits:
        return [pick_of_fit(data, rank, fit) for rank, fit in enumerate(fits[:top], start=1)]
    samples = sun_samples(data.generation)[:top]
    return [pick_of_sample(rank, sample) for rank, sample in enumerate(samples, start=1)]


def decomposition_text(pick: GeneratedPick) -> str:
    """Return the hull phases a pick decomposes into, e.g. ``"Li15Si4 0.60 + Si 0.40"``."""
    parts = sorted(pick.decomposition.items(), key=lambda item: (-item[1], item[0]))
    if not parts:
        return "-"
    if len(parts) == 1 and parts[0][0] == pick.formula:
        return "on the hull"
    return " + ".join(f"{formula} {fraction:.2f}" for formula, fraction in parts)


def picks_table(picks: Sequence[GeneratedPick]) -> str:
    """Return the table of the best generated structures."""
    headers = (
        "#",
        "formula",
        "verdict",
        "candidate or sample",
        "method",
        "E_hull (eV/atom)",
        "decomposition",
        "capacity (mAh/g)",
        f"R_t ({ANGSTROM})",
        "slope (Å/100 % SOC)",
    )
    rows = [
        [
            number(pick.rank, "d", "rank"),
            Cell(pick.formula, field="formula"),
            Cell(pick.fit.verdict if pick.fit else "not screened", field="verdict"),
            Cell(pick.identifier, field="identifier"),
            Cell(pick.method or "-", field="method"),
            number(pick.e_above_hull, ".3f", "e_above_hull"),
            Cell(decomposition_text(pick), field="decomposition"),
            number(pick.capacity, ".1f", "capacity_mAh_g"),
            number(pick.r_t, ".3f", "r_t"),
            number(pick.fit.slope if pick.fit else None, ".3f", "slope"),
        ]
        for pick in picks
    ]
    attrs = [
        {
            "class": (pick.fit.verdict if pick.fit else "not-screened"),
            "data-identifier": pick.identifier,
        }
        for pick in picks
    ]
    return table_html(headers, rows, "generated-best", attrs)


def pick_figures(pick: GeneratedPick, folder: Path) -> list[tuple[Path, str]]:
    """Draw a pick's structure and, when screened, its slope fit.

    Parameters
    ----------
    pick
        A best generated structure.
    folder
        Folder of the PNGs.

    Returns
    -------
    list of tuple
        ``(png, caption)`` of each figure drawn.
    """
    stem = f"generation_best_{pick.rank:02d}_{slug(pick.identifier)}"
    drawn = []
    title = f"#{pick.rank} {pick.formula} ({pick.identifier})"
    if pick.structure is not None:
        try:
            path = structure_figure(pick.structure, title, folder / f"{stem}_structure.png")
        except Exception as exc:  # a structure that cannot be drawn must not lose the page
            logger.warning("structure of %s not drawn: %s", pick.identifier, exc)
        else:
            drawn.append((path, f"{title}: the relaxed generated cell and its framework."))
    if pick.fit is not None:
        path = slope_fit_figure(pick.fit, folder / f"{stem}_fit.png")
        drawn.append((path, f"{title}, {pick.fit.verdict}: R_t against SOC and its fit."))
    return drawn


def draw_generation(data: ReportData, folder: Path, top: int) -> list[tuple[str, Path | None, str]]:
    """Draw the generation figures: every sweep (Figure 5B), the best picks (Figure 5A).

    Parameters
    ----------
    data
        What was read from the store.
    folder
        Folder of the PNGs.
    top
        How many best generated structures to draw.

    Returns
    -------
    list of tuple
        ``(section, png or None, caption)``; the sections are :data:`SWEEPS_SECTION`
        and :data:`BEST_SECTION` of each rank. Nothing without generation documents.
    """
    if not has_generation(data):
        return []
    drawn: list[tuple[str, Path | None, str]] = [
        (SWEEPS_SECTION, sweep_figure(sweep, folder / sweep_file(sweep)), sweep_caption(sweep))
        for sweep in data.generation.sweeps
    ]
    for pick in best_generated(data, top):
        section = BEST_SECTION.format(rank=pick.rank)
        drawn += [(section, path, caption) for path, caption in pick_figures(pick, folder)]
    return drawn


def picks_html(
    data: ReportData, figures: dict[str, list[ReportFigure]], top: int, embed: bool
) -> str:
    """Return the best-candidates part: the table, then each pick's figures."""
    picks = best_generated(data, top)
    if not picks:
        return "<p>No generated candidate was screened and no sample is S.U.N. yet.</p>"
    screened = picks[0].fit is not None
    parts = [
        "<p>"
        + (
            "Generated candidates screened for channel stability, ranked as in the ranked table."
            if screened
            else "No generated candidate was screened yet: the S.U.N. samples (within "
            "0.1 eV/atom of the hull, unique, novel) with the lowest energy above hull."
        )
        + "</p>",
        picks_table(picks),
    ]
    for pick in picks:
        shown = figures.get(BEST_SECTION.format(rank=pick.rank), [])
        if shown:
            parts.append(
                f"<h4>#{pick.rank} {escape(pick.formula)} ({escape(pick.identifier)})</h4>"
                + '<div class="grid">'
                + "".join(figure_html(f, embed) for f in shown)
                + "</div>"
            )
    return "".join(parts)


def has_generation(data: ReportData) -> bool:
    """Whether the report has a generation section: generation documents or generated fits."""
    return not data.generation.is_empty or any(
        is_generated(f.candidate_id, f.source) for f in data.fits
    )


def generation_html(
    data: ReportData, figures: dict[str, list[ReportFigure]], top: int, embed: bool
) -> str:
    """Return the body of the generation section (paper, Figure 5).

    Parameters
    ----------
    data
        What was read from the store.
    figures
        Section name to its figures (see :func:`draw_generation`).
    top
        How many best generated structures are shown.
    embed
        Embed the figures rather than reference them.

    Returns
    -------
    str
        The metrics tables, the sweeps (Figure 5B) and the best generated
        candidates (Figure 5A).
    """
    generation = data.generation
    return (
        f'<div id="generation-metrics"><h3>Metrics by method</h3>{metrics_html(generation)}</div>'
        f'<div id="generation-sweeps"><h3>Conditioning sweeps (Figure 5B)</h3>'
        f"{sweeps_html(generation, figures.get(SWEEPS_SECTION, []), embed)}</div>"
        f'<div id="generation-best"><h3>Best generated candidates (Figure 5A)</h3>'
        f"{picks_html(data, figures, top, embed)}</div>"
    )
