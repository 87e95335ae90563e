"""Settings, read at call time from the environment and an optional YAML file.

Every field can be set as ``SIANODE_<FIELD>`` in the environment, or in the YAML
file named by ``SIANODE_CONFIG_FILE`` (default ``~/.sianode.yaml``). The environment
wins over the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_CONFIG_FILE = Path("~/.sianode.yaml")


class _YamlSource(PydanticBaseSettingsSource):
    """Settings from the YAML file named by ``SIANODE_CONFIG_FILE``."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("SIANODE_CONFIG_FILE", DEFAULT_CONFIG_FILE)).expanduser()
        self._values: dict[str, Any] = {}
        if path.is_file():
            self._values = yaml.safe_load(path.read_text()) or {}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Return the value of one field from the file."""
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        """Return every known field set in the file."""
        return {k: v for k, v in self._values.items() if k in self.settings_cls.model_fields}


class SianodeSettings(BaseSettings):
    """Defaults of sianode-flows; each one overridable per call."""

    model_config = SettingsConfigDict(env_prefix="SIANODE_", extra="forbid")

    store: str = Field(
        "sianode_data",
        description="Job store: a folder for the embedded on-disk store, or a mongodb:// URI.",
    )
    mongo_database: str = Field("sianode", description="MongoDB database name.")
    min_capacity: float = Field(1500.0, description="Capacity threshold (mAh/g).")
    max_sites: int = Field(400, description="Largest cell accepted (sites).")
    n_configs: int = Field(
        30, description="Delithiated configurations per candidate (fixed sampling)."
    )
    sampling: Literal["sequential", "fixed"] = Field(
        "sequential",
        description="sequential: rounds of configurations while the verdict is undecided "
        "(first_round, round_size, max_configs); fixed: n_configs once. For the CLI.",
    )
    first_round: int = Field(20, description="Configurations of the first round, ends included.")
    round_size: int = Field(10, description="Configurations added per further round.")
    max_configs: int = Field(120, description="Cap of sequential sampling (configurations).")
    seed: int = Field(0, description="Seed of the random delithiation.")
    slope_threshold: float = Field(
        0.5, description="Largest |dR_t/dSOC| judged stable (A per 100 % SOC)."
    )
    # the defaults of analysis.sequential (tests/test_settings.py checks they agree;
    # importing it here would load the whole analysis package with the settings)
    min_configs: int = Field(
        20,
        description="Fewest fitted configurations for any verdict (fewer: no verdict).",
    )
    spending: Literal["pocock", "obrien-fleming", "bonferroni"] = Field(
        "obrien-fleming",
        description="Alpha-spending of the sequential looks: the intervals hold their level "
        "over all looks at once.",
    )
    margin: float = Field(
        0.1,
        description="Half-width of the 'similar' band of a slope against the reference's "
        "(A per 100 % SOC).",
    )
    reference: str = Field(
        "builtin:Li15Si4",
        description="Reference of the relative verdicts: 'builtin:Li15Si4' (pure Si), a "
        "structure file, or 'none' for the absolute rule against slope_threshold.",
    )
    force_field: str = Field("CHGNet", description="Force field of the default relax.")
    relax_fmax: float = Field(0.05, description="Force criterion of the relax (eV/A).")
    relax_steps: int = Field(1000, description="Step cap of the relax.")
    relax_engine: Literal["batched", "ase"] = Field(
        "batched",
        description="batched: all configurations of a candidate in one torch-sim job; "
        "ase: atomate2's ForceFieldRelaxMaker, one ASE relax job per configuration.",
    )
    relax_optimizer: Literal["fire", "lbfgs", "bfgs"] = Field(
        "fire",
        description="Optimizer of the batched relax (torch-sim): fire (ASE's FIRE, as "
        "atomate2's relax), lbfgs or bfgs.",
    )
    chgnet_graph: Literal["torch", "converter"] = Field(
        "torch",
        description="How the batched CHGNet builds its crystal graphs: torch (the whole "
        "batch with tensors on the model's device) or converter (CHGNet's own, one "
        "pymatgen Structure per system on the CPU).",
    )
    neighbor_skin: float = Field(
        1.0,
        description="Skin of the batched CHGNet's reused neighbour list (A); 0 rebuilds "
        "it at every step.",
    )
    progress_interval: float = Field(
        30.0, description="Seconds between two progress lines of a batched relax (s)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: arguments, environment, then the YAML file."""
        return init_settings, env_settings, _YamlSource(settings_cls)


def get_settings(**overrides: Any) -> SianodeSettings:
    """Read the settings now (never cached), with keyword overrides on top."""
    return SianodeSettings(**overrides)
