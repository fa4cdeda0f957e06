"""Composing configs with Hydra and turning them into validated, typed specs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from dream.cost import make_cost_model
from dream.cost.base import CostModel
from dream.errors import ConfigError
from dream.hardware import System
from dream.hardware.config import system_from_config
from dream.schedulers import make_policy
from dream.sim.policy import Policy
from dream.sim.spec import SimSpec, sim_from_config
from dream.workload.catalog import model_catalog
from dream.workload.model import ModelDef
from dream.workload.scenario import Scenario, scenario_from_config

CONF_DIR = Path(__file__).resolve().parent / "conf"
GROUPS = ("workload", "hardware", "scheduler", "cost", "sim")


def compose(overrides: list[str] | None = None) -> DictConfig:
    """Compose the config from conf/ with Hydra overrides (as on the command line)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides or []))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError("overrides", _one_line(str(exc))) from None


def _one_line(message: str) -> str:
    """Hydra's multi-line composition error as one line (options listed, search path cut)."""
    text = message.split("Config search path")[0].strip()
    head, _, options = text.partition("Available options in")
    head = " ".join(head.replace("In 'config': ", "").split())
    if options:
        group, _, names = options.partition(":")
        return f"{head}; available options in{group}: {', '.join(names.split())}"
    return head


@dataclass(frozen=True)
class RunSpec:
    """Everything one simulation needs, validated."""

    scenario: Scenario
    system: System
    scheduler: str
    scheduler_params: Mapping[str, Any]
    cost_model: CostModel
    sim: SimSpec
    catalog: Mapping[str, ModelDef]

    def make_policy(self) -> Policy:
        """A fresh policy object (policies keep state, so one per simulation)."""
        return make_policy(self.scheduler, dict(self.scheduler_params))


def _section(cfg: Any, name: str) -> dict:
    if name not in cfg or cfg[name] is None:
        raise ConfigError(name, f"is missing; choose one of conf/{name}/")
    try:
        value = OmegaConf.to_container(cfg[name], resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:  # a ??? left to fill in: name the full key
        key = str(getattr(exc, "full_key", "") or "")
        key = key if key.startswith(f"{name}.") else f"{name}.{key}".rstrip(".")
        raise ConfigError(key, f"is required (??? in the config); set it, e.g. {key}=VALUE") from None
    except Exception as exc:  # a bad interpolation
        raise ConfigError(name, str(exc).strip().splitlines()[0]) from None
    if not isinstance(value, dict):
        raise ConfigError(name, "must be a mapping")
    return value


def build_spec(cfg: DictConfig | Mapping[str, Any]) -> RunSpec:
    """Validate a composed config into a RunSpec; raise ConfigError naming the bad path."""
    if not isinstance(cfg, DictConfig):
        cfg = OmegaConf.create(dict(cfg))
    work = _section(cfg, "workload")
    catalog = model_catalog(work.get("models"), "workload.models")
    scenario = scenario_from_config(work, catalog, "workload")
    system = system_from_config(_section(cfg, "hardware"), "hardware")
    sched = _section(cfg, "scheduler")
    name = sched.pop("name", None)
    if name is None:
        raise ConfigError("scheduler.name", "is required")
    make_policy(str(name), sched, "scheduler")  # validates name and parameters now
    cost = _section(cfg, "cost")
    cost_model = make_cost_model(str(cost.get("name")), dict(cost.get("params") or {}), "cost")
    sim = sim_from_config(_section(cfg, "sim"), "sim")
    return RunSpec(scenario, system, str(name), sched, cost_model, sim, catalog)
