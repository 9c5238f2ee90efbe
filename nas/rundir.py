"""Run directories: create a new one or reopen an existing one, for searches and grid searches.

A run directory holds ``spec.yaml`` (the resolved spec) and everything the run writes. A
directory that exists and is not empty is refused unless the run is resumed; a resumed run
keeps the spec it was started with.
"""

from __future__ import annotations

from pathlib import Path

from nas.plan import RunPlan
from nas.spec import dump_spec, spec_to_dict
from search_spaces.files import OutputDir, OutputError, real_path

__all__ = ["SPEC_FILE", "RunError", "create_run_dir", "open_run_dir", "prepare_run_dir"]

SPEC_FILE = "spec.yaml"


class RunError(ValueError):
    """A run directory that cannot be used as asked (exit code 2)."""


def create_run_dir(plan: RunPlan, out: str | None) -> Path:
    """A new run directory (``out``, else the spec's) holding the resolved ``spec.yaml``.

    Its real path is checked (``runs/new/..`` is ``runs``): one that exists and is not
    empty is refused, so nothing already there is replaced.
    """
    given = out or plan.spec.run_dir
    real = real_path(given)
    if real.exists() and (not real.is_dir() or any(real.iterdir())):
        raise RunError(f"{given}: run directory already exists; use --resume to continue it, or another --out")
    try:
        folder = OutputDir.create(given)
    except OutputError as exc:
        raise RunError(str(exc)) from None
    folder.write(SPEC_FILE, dump_spec(plan.spec))
    return folder.root


def open_run_dir(run_dir: Path, *, purpose: str, what: str = "--resume") -> RunPlan:
    """The plan recorded in an existing run directory's ``spec.yaml``."""
    saved = run_dir / SPEC_FILE
    if not saved.is_file():
        kind = "a scaling run directory" if purpose == "scale" else "a run directory"
        raise RunError(f"{what}: {run_dir} is not {kind} (no {SPEC_FILE})")
    return RunPlan.load(saved, purpose=purpose)


def prepare_run_dir(spec_path: str | Path | None, out: str | None, *, resume: bool,
                    purpose: str = "search") -> tuple[RunPlan, Path]:  # fmt: skip
    """The plan and run directory of a new run, or of a resumed one.

    Resuming takes the directory from ``out`` or the given spec; a given spec must equal
    the recorded one in every section but ``search`` and ``output``.
    """
    given = RunPlan.load(spec_path, purpose=purpose) if spec_path is not None else None
    if not resume:
        if given is None:
            raise RunError("a spec is required to start a run")
        return given, create_run_dir(given, out)
    if out is None and given is None:
        raise RunError("--resume: give the spec or --out RUN_DIR")
    run_dir = Path(out) if out else Path(given.spec.run_dir)  # type: ignore[union-attr]
    plan = open_run_dir(run_dir, purpose=purpose)
    if given is not None:
        given_dict, recorded = spec_to_dict(given.spec), spec_to_dict(plan.spec)
        for section in recorded:
            if section not in ("search", "output") and given_dict.get(section) != recorded.get(section):
                raise RunError(f"--resume: {spec_path} differs from {run_dir / SPEC_FILE} in section {section!r}; "
                               "a resumed run keeps its spec")  # fmt: skip
    return plan, run_dir
