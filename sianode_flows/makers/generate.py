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
    """

    name: str = "generate"
    checkpoint: str = ""
    n_samples: int = 100
    target: GenerationTarget = field(default_factory=GenerationTarget)
    seed: int = 0

    def make(self) -> Flow:
        """Make the generation flow.

        Returns
        -------
        Flow
            Its output is the list of sampled structures.
        """
        if not self.checkpoint:
            raise ValueError("GenerateMaker needs a checkpoint path")
        sample = generate_samples(self.checkpoint, self.n_samples, self.target, self.seed)
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

    Parameters
    ----------
    name
        Name of the flow.
    steps
        Step cap of the CHGNet relaxation of each sample.
    fmax
        Force criterion of the relaxation (eV/A).
    relax
        Relax the valid samples (stability and R_t of the relaxed structure).
    """

    name: str = "verify"
    steps: int = 300
    fmax: float = 0.05
    relax: bool = True

    def make(
        self,
        samples: Sequence[Structure] | OutputReference,
        method: GenerationMethod,
        target: GenerationTarget | None = None,
        training_structures: Sequence[Any] | None = None,
        seed: int = 0,
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
            Structures (or records) novelty is judged against; none: not judged.
        seed
            Seed of the generation run (goes into the sample ids).

        Returns
        -------
        Flow
            A ``verify`` job (one GeneratedStructureDocument per sample) and a
            ``generation metrics`` job (one GenerationMetricsDocument per method);
            the flow's output is the metrics.
        """
        target = target if target is not None else GenerationTarget()
        verify = verify_samples(
            samples,
            method,
            target,
            seed,
            training_structures=training_structures,
            steps=self.steps,
            fmax=self.fmax,
            relax=self.relax,
        )
        metrics = generation_metrics(verify.output, target)
        return Flow([verify, metrics], output=metrics.output, name=f"{self.name} {method}")
