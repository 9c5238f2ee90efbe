"""effnas: EfficientNet-style architecture search, compound scaling and training.

The package's face: what a pipeline, a notebook or a benchmark imports. Each name is
loaded on first use (PEP 562), so ``import nas`` stays cheap and a worker process that
needs one subpackage does not import the rest.

The layout, package by package, is in docs/layout.md:

- ``nas.training``: data sources, the trainer, progressive learning, training pools, threads;
- ``nas.measure``: measured costs (step time, latency), cost tables, cheap estimators, ranking;
- ``nas.search``: the study, one trial, where accuracy comes from (``AccuracySource``),
  executors, verification and the run's final choice (``final_choice``);
- ``nas.scale``: the α, β, γ grid search run and family files;
- the root: the spec, the run plan, the objectives, journals, reports and the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, str]] = {
    # the Architecture spec and what derives from it
    "Architecture": ("search_spaces", "Architecture"),
    "load_architecture": ("search_spaces", "load_architecture"),
    "build_model": ("search_spaces", "build_model"),
    "count_flops": ("search_spaces", "count_flops"),
    "count_params": ("search_spaces", "count_params"),
    "to_timm": ("search_spaces", "to_timm"),
    "scale_to_budget": ("scaling", "scale_to_budget"),
    # weights: safetensors on disk, and timm's names both ways
    "save_weights": ("search_spaces.weights", "save_weights"),
    "load_weights": ("search_spaces.weights", "load_weights"),
    "load_timm": ("search_spaces.timm_weights", "load_timm"),
    "build_timm_model": ("search_spaces.timm_weights", "build_timm_model"),
    "to_timm_state_dict": ("search_spaces.timm_weights", "to_timm_state_dict"),
    "from_timm_state_dict": ("search_spaces.timm_weights", "from_timm_state_dict"),
    # a run: spec, plan, objective
    "load_spec": ("nas.spec", "load_spec"),
    "SpecError": ("nas.spec", "SpecError"),
    "RunPlan": ("nas.plan", "RunPlan"),
    "Objective": ("nas.objectives", "Objective"),
    # searching, verifying, choosing, reporting
    "create_run_dir": ("nas.rundir", "create_run_dir"),
    "run_search": ("nas.search.executors", "execute_search"),
    "load_run": ("nas.search.study", "load_run"),
    "run_verification": ("nas.search.verify", "run_verification"),
    "final_choice": ("nas.search.choice", "final_choice"),
    "Choice": ("nas.search.choice", "Choice"),
    "AccuracySource": ("nas.search.accuracy", "AccuracySource"),
    "write_reports": ("nas.report", "write_reports"),
    # training
    "DataSpec": ("nas.training.data", "DataSpec"),
    "load_dataset": ("nas.training.data", "load_dataset"),
    "TrainConfig": ("nas.training.train", "TrainConfig"),
    "train": ("nas.training.train", "train"),
    "train_many": ("nas.training.train_pool", "train_many"),
    "worker_threads": ("nas.training.threads", "worker_threads"),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    """Load an exported name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nas' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
