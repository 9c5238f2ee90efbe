"""Fixtures shared by the test modules: spec files, the CLI, and a run's trials table."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nas.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "tests/fixtures/tiny-base.json")
"""A three-stage MBConv base that trains in about a second on digits."""


@pytest.fixture
def tiny() -> str:
    """The path of the tiny base architecture."""
    return TINY


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """``write_spec(name="s", **sections)``: a small, fast search spec file in ``tmp_path``.

    Each keyword replaces fields of that section (``None`` removes a field); the default is a
    4-trial TPE search of the tiny base on digits at 8 px, one epoch, one thread, with
    candidates scored unfitted (``target.lower: none``).
    """

    def write(name: str = "s", **sections: Any) -> Path:
        spec: dict[str, Any] = {
            "name": name,
            "seed": 0,
            "space": {"base": TINY, "width": [0.5, 1.0]},
            # lower: none scores candidates at their sampled cost; on a base this small channel
            # rounding leaves most candidates unable to land in [0.9 T, T] (tests/nas/test_budget_search.py fits)
            "target": {"resolution": 32, "num_classes": 10, "flops": 400e3, "lower": "none"},
            "proxy": {"dataset": "digits", "resolution": 8, "epochs": 1, "batch_size": 64, "threads": 1},
            "search": {"trials": 4, "sampler": "tpe", "pruner": "none"},
        }
        for key, value in sections.items():
            merged = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
            spec[key] = {k: v for k, v in merged.items() if v is not None} if isinstance(merged, dict) else merged
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec))
        return path

    return write


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli(*argv)``: run ``nas`` in this process; returns (exit code, stdout, stderr)."""

    def run(*argv: Any) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "trials.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture
def trials_csv() -> Callable[[Path], list[dict[str, str]]]:
    """``trials_csv(run_dir)``: the rows of a run's ``trials.csv``."""
    return _rows
