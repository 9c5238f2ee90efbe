"""``nas profile SPEC.yaml --out TABLE.json``: the cost table of a spec's space on this machine.

See ``nas.measure.cost_table`` for what is timed and how a table predicts. The table is written
once complete (atomically, never over an existing file); until then every timed entry is
in ``TABLE.json.partial.jsonl``, and the same command resumes from it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nas.measure.cost_table import CostTable, ProfileSettings, calibration_networks, profile, space_layers
from nas.plan import RunPlan
from nas.rundir import RunError
from scaling import FitError
from search_spaces import Architecture
from search_spaces.files import new_output_file

__all__ = ["MAX_ENTRIES", "fit_multipliers", "run_profile"]

MAX_ENTRIES = 5000
"""The most layer configurations ``nas profile`` times unless ``--max-entries`` allows more."""


def fit_multipliers(plan: RunPlan, step: float = 0.001) -> list[float] | None:
    """The fit multipliers a fitted search can apply: from the costliest point of the space
    (every choice at its largest) to the cheapest, every ``step``; None where nothing is fitted."""
    if not plan.fits:
        return None
    choices = plan.space.choices()
    widest = plan.space.decode({name: max(values) for name, values in choices.items()})
    narrowest = plan.space.decode({name: min(values) for name, values in choices.items()})

    def width(arch: Architecture) -> float:
        try:
            return plan.fit(arch, lower=0.0).width
        except FitError:
            return 0.01

    low, high = width(widest), width(narrowest)
    count = int((high - low) / step)
    return [round(low + i * step, 6) for i in range(count + 1)] + [high]


class _RandomSuggester:
    """Uniform choices from a seeded ``random.Random``, asked as an Optuna trial would be."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.rng.choice(list(choices))


def run_profile(plan: RunPlan, out: str, settings: ProfileSettings, *, max_entries: int = MAX_ENTRIES,
                calibrate: int = 5, log: Callable[[str], None] = print) -> CostTable:  # fmt: skip
    """Time the space's layers (resuming a partial profile), calibrate, and write the table to ``out``."""
    folder, name = new_output_file(out)
    layers = space_layers(plan.space, resolution=plan.spec.target.resolution, multipliers=fit_multipliers(plan))
    if len(layers) > max_entries:
        raise RunError(f"the {plan.spec.space.type} space around {plan.base.name} has {len(layers):,} layer "
                       f"configurations to time, over --max-entries {max_entries:,}: narrow the space's choices, "
                       f"or raise --max-entries")  # fmt: skip

    def sample(rng: random.Random) -> Architecture:
        arch = plan.space.sample(_RandomSuggester(rng))  # the space's own sampling, conditional choices included
        return plan.fit(arch, lower=0.0).arch if plan.fits else arch

    own = plan.space.base_params()
    base = plan.space.decode(own) if own is not None else None
    if base is not None and plan.fits:
        base = plan.fit(base, lower=0.0).arch
    calibration = calibration_networks(sample, base, count=calibrate)
    log(
        f"profiling {plan.spec.space.type} space around {plan.base.name} at {settings.resolution} px: "
        f"{settings.mode}, batch {settings.batch_size}, {settings.threads} thread(s), device {settings.device}"
    )
    partial = Path(folder.root) / f"{name}.partial.jsonl"
    table = profile(layers, calibration, settings, plan.base, partial, log=log)
    folder.write(name, json.dumps(table.to_dict(), indent=1) + "\n")
    partial.unlink(missing_ok=True)
    log(f"wrote {out}: {len(table.entries):,} entries, scale {table.scale:.3f}")
    return table
