"""Makers of generation flows: sample (model or baseline), then verify and score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jobflow import Flow, Maker, OutputReference
from pymatgen.core import Structure

from sianode_flows.generative.target import GenerationTarget
from sianode_flows.jobs.generate import (
    baseline_samples,
    generate_samples,
    generation_metrics,
    verify_samples,
)
from sianode_flows.jobs.hull import reference_hulls
from sianode_flows.jobs.sweep import (
    SweptProperty,
    conditioning_sweep,
    control_samples,
    swept_target,
)
from sianode_flows.schemas.generation import GenerationMethod


@dataclass
class GenerateMaker(Maker):
    """Make the flow that samples structures from a trained generative model.

    Parameters
    ----------
    name
        Name of the flow.
    checkpoint
        Path of the model checkpoint.
    n_samples
        Number of samples.
    target
        Conditions of the generation.
    seed
        Seed of the sampling.
    temperature
        Spread of the prior when drawing latent vectors (1: as learned).
    distinct
        Draw until ``n_samples`` samples match none of the others (the default:
        with it, 100 samples of a 25-epoch model are 1.00 unique instead of 0.52,
        ``benchmarks/bench_uniqueness.py``).
    oversample
        Generate-then-select: draw this many samples per sample kept and keep
        those nearest the target by capacity and R_t as generated (1: none).
    """

    name: str = "generate"
    checkpoint: str = ""
    n_samples: int = 100
    target: GenerationTarget = field(default_factory=GenerationTarget)
    seed: int = 0
    temperature: float = 1.0
    distinct: bool = True
    oversample: int = 1

    def make(self) -> Flow:
        """Make the generation flow.

        Returns
        -------
        Flow
            Its output is the list of sampled structures.
        """
        if not self.checkpoint:
            raise ValueError("GenerateMaker needs a checkpoint path")
        sample = generate_samples(
            self.checkpoint,
            self.n_samples,
            self.target,
            self.seed,
            self.temperature,
            self.distinct,
            self.oversample,
        )
        return Flow([sample], output=sample.output, name=self.name)


@dataclass
class BaselineMaker(Maker):
    """Make the flow that draws baseline samples to compare a model against.

    Parameters
    ----------
    name
        Name of the flow.
    method
        ``"substitution"`` (element substitution into references) or ``"pyxtal"``
        (random symmetric crystals of given compositions).
    n_samples
        Number of samples.
    target
        Required and forbidden elements.
    seed
        Seed of the draws.
    """

    name: str = "baseline"
    method: Literal["substitution", "pyxtal"] = "substitution"
    n_samples: int = 100
    target: GenerationTarget = field(default_factory=GenerationTarget)
    seed: int = 0

    def make(self, inputs: Sequence[Any] | OutputReference) -> Flow:
        """Make the baseline flow.

        Parameters
        ----------
        inputs
            Reference structures (or records with a ``structure``) for the
            substitution baseline; compositions or formulas for pyxtal.

        Returns
        -------
        Flow
            Its output is the list of sampled structures.
        """
        sample = baseline_samples(self.method, inputs, self.n_samples, self.target, self.seed)
        sample.name = f"{self.method} baseline"
        return Flow([sample], output=sample.output, name=f"{self.name} {self.method}")


@dataclass
class VerifyMaker(Maker):
    """Make the flow that verifies generated samples and computes their metrics.

    Every valid sample is relaxed (one batched CHGNet relaxation); given known
    structures, each sample's chemical system gets a reference hull of its known
    phases relaxed with the same settings (built once and reused from the store),
    and each sample its energy above it.

    Parameters
    ----------
    name
        Name of the flow.
    steps
        Step cap of the CHGNet relaxation of each sample and reference phase.
    fmax
        Force criterion of the relaxation (eV/A).
    relax
        Relax the valid samples (stability and R_t of the relaxed structure).
    per_formula
        Known polymorphs relaxed per formula for a hull (the smallest cells).
    max_reference_sites
        Largest known cell relaxed for a hull.
    """

    name: str = "verify"
    steps: int = 300
    fmax: float = 0.05
    relax: bool = True
    per_formula: int = 4
    max_reference_sites: int = 80

    def make(
        self,
        samples: Sequence[Structure] | OutputReference,
        method: GenerationMethod,
        target: GenerationTarget | None = None,
        training_structures: Sequence[Any] | None = None,
        seed: int = 0,
        references: Sequence[Any] | None = None,
    ) -> Flow:
        """Make the verification flow.

        Parameters
        ----------
        samples
            The samples, or the output of a generate or baseline flow.
        method
            What generated them: ``"model"``, ``"substitution"`` or ``"pyxtal"``.
        target
            Conditions of the generation; the default target if none.
        training_structures
            What novelty is judged against: structures, records, ``(id, structure)``
            pairs or data-file paths (read for the samples' systems only); none:
            not judged.
        seed
            Seed of the generation run (goes into the sample ids).
        references
            What the reference hulls are built from, of the same kinds (see
            :func:`sianode_flows.jobs.hull.known_in_system`); none: no energy above
            hull.

        Returns
        -------
        Flow
            ``reference hulls`` (with references), a ``verify`` job (one
            GeneratedStructureDocument per sample) and a ``generation metrics`` job
            (one GenerationMetricsDocument per method); its output is the metrics.
        """
        target = target if target is not None else GenerationTarget()
        jobs = []
        hulls = None
        if references is not None and self.relax:
            hull_job = reference_hulls(
                samples,
                list(references),
                self.steps,
                self.fmax,
                self.per_formula,
                self.max_reference_sites,
            )
            jobs.append(hull_job)
            hulls = hull_job.output
        verify = verify_samples(
            samples,
            method,
            target,
            seed,
            training_structures=training_structures,
            steps=self.steps,
            fmax=self.fmax,
            relax=self.relax,
            hulls=hulls,
        )
        metrics = generation_metrics(verify.output, target)
        jobs += [verify, metrics]
        return Flow(jobs, output=metrics.output, name=f"{self.name} {method}")


def verified_samples(flow: Flow) -> OutputReference:
    """Return the per-sample documents of a flow made by :class:`VerifyMaker`.

    Parameters
    ----------
    flow
        The verification flow (its output is the metrics).

    Returns
    -------
    OutputReference
        The output of its ``verify`` job: one GeneratedStructureDocument per sample.
    """
    return next(j for j in flow.jobs if j.name == "verify").output


@dataclass
class ConditioningSweepMaker(Maker):
    """Make the flow that shows whether the model follows its conditions.

    For each target value of one property (the rest of ``target`` fixed) the model
    draws ``n_samples`` samples; as the control it draws as many with conditions
    taken from its training labels (its unconditional distribution). Every set is
    verified by ``verify_maker`` and a ``conditioning sweep`` job summarises what
    each target achieved and Spearman's rho between target and achieved.

    Parameters
    ----------
    name
        Name of the flow.
    checkpoint
        Path of the model checkpoint.
    property
        ``"r_t"`` or ``"capacity"``.
    targets
        Values of the swept property.
    n_samples
        Samples per target (and for the control).
    target
        Elements and the other, fixed condition.
    seed
        Seed of the sampling (the same for every target).
    control
        Draw the unconditional control.
    oversample
        Generate-then-select at each target (see :class:`GenerateMaker`); 1: the
        model's own conditioning alone. The control is never selected.
    verify_maker
        Verifies each set of samples; without relaxation R_t is of the samples as
        generated.
    """

    name: str = "conditioning sweep"
    checkpoint: str = ""
    property: SweptProperty = "r_t"
    targets: tuple[float, ...] = (0.3, 0.6, 0.9, 1.2)
    n_samples: int = 40
    target: GenerationTarget = field(default_factory=GenerationTarget)
    seed: int = 0
    control: bool = True
    oversample: int = 1
    verify_maker: VerifyMaker = field(default_factory=lambda: VerifyMaker(relax=False))

    def make(
        self,
        training_structures: Sequence[Any] | None = None,
        references: Sequence[Any] | None = None,
    ) -> Flow:
        """Make the sweep flow.

        Parameters
        ----------
        training_structures
            Structures novelty is judged against.
        references
            Known structures for the reference hulls (with relaxation).

        Returns
        -------
        Flow
            Its output is the ConditioningSweepDocument.
        """
        if not self.checkpoint:
            raise ValueError("ConditioningSweepMaker needs a checkpoint path")
        jobs: list[Any] = []
        verified = []
        for index, value in enumerate(self.targets):
            target = swept_target(self.target, self.property, value)
            sample = generate_samples(
                self.checkpoint, self.n_samples, target, self.seed, oversample=self.oversample
            )
            sample.name = f"generate {self.property}={value:g}"
            verify = self.verify_maker.make(
                sample.output, "model", target, training_structures, self.seed + index, references
            )
            jobs += [sample, verify]
            verified.append(verified_samples(verify))
        control = None
        if self.control:
            drawn = control_samples(self.checkpoint, self.n_samples, self.target, self.seed)
            verify = self.verify_maker.make(
                drawn.output, "model", self.target, training_structures, self.seed, references
            )
            jobs += [drawn, verify]
            control = verified_samples(verify)
        summary = conditioning_sweep(
            verified,
            [float(t) for t in self.targets],
            self.property,
            control,
            self.target,
            self.checkpoint,
            self.seed,
            self.verify_maker.relax,
        )
        jobs.append(summary)
        return Flow(jobs, output=summary.output, name=f"{self.name} {self.property}")
