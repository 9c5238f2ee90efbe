"""``nas scale SPEC.yaml``: the alpha, beta, gamma grid search on the proxy, then the family.

Each candidate scales the spec's base (``space.base``) at phi = 1 and trains on the proxy
at ``round(proxy.resolution * gamma)``. Finished candidates are appended to ``grid.jsonl``
(flushed and fsync'd), so a killed grid search resumes with ``--resume`` without training
them again; a torn last line is ignored. ``grid.csv`` and ``grid.md`` hold the table, and
``family/`` the family emitted with the chosen coefficients. With ``scale.train_members: k``
the members phi = 0..k-1 are then trained on the proxy too (at the proxy resolution times
their resolution ratio to the base), journalled the same way in ``members.jsonl``, and their
accuracy goes into ``family.json`` and the accuracy-against-FLOPs panel of ``family.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from scaling.family import FamilyMember, compound_family, write_family
from scaling.grid import Candidate, GridRow, best_row, grid_candidates, grid_row, scale_candidate
from search_spaces import (
    Architecture,
    architecture_from_dict,
    architecture_hash,
    architecture_to_dict,
    load_architecture,
)

from . import journal
from .data import Dataset, DataSpec, load_dataset
from .executors import worker_threads
from .progress import format_duration
from .search import RunError, proxy_config
from .spec import ExperimentSpec, dump_spec, load_spec, spec_from_dict, spec_to_dict
from .train import train

__all__ = ["prepare_scale_dir", "read_grid", "run_grid"]


def prepare_scale_dir(spec_path: str, out: str | None, *, resume: bool) -> tuple[ExperimentSpec, Path]:
    """The spec and the run directory; an existing directory is refused without ``resume``."""
    spec = load_spec(spec_path, purpose="scale")
    run_dir = Path(out or spec.run_dir)
    if resume:
        saved = run_dir / "spec.yaml"
        if not saved.is_file():
            raise RunError(f"--resume: {run_dir} is not a scaling run directory (no spec.yaml)")
        return load_spec(saved, purpose="scale"), run_dir
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise RunError(f"{run_dir}: run directory already exists; use --resume to continue it, or another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.yaml").write_text(dump_spec(spec), encoding="utf-8")
    return spec, run_dir


def read_grid(path: Path) -> dict[Candidate, GridRow]:
    """Finished candidates from ``grid.jsonl``; a torn last line (a kill mid-write) is skipped."""
    rows: dict[Candidate, GridRow] = {}
    for record in journal.read(path):
        try:
            row = GridRow(**record)
        except TypeError:
            continue
        rows[(row.alpha, row.beta, row.gamma)] = row
    return rows


def run_grid(spec: ExperimentSpec, run_dir: Path, *, log: Callable[[str], None] = print) -> GridRow:
    """Evaluate every candidate not yet in ``grid.jsonl``; write the table and the family."""
    g, p = spec.scale, spec.proxy
    base = load_architecture(spec.space.base_ref)
    candidates = grid_candidates(step=g.step, alpha=(g.alpha[0], g.alpha[1]), beta=(g.beta[0], g.beta[1]),
                                 gamma=(g.gamma[0], g.gamma[1]), target=g.target, tolerance=g.tolerance)  # fmt: skip
    if not candidates:
        raise RunError(f"scale: no grid point has |alpha*beta^2*gamma^2 - {g.target:g}| <= {g.tolerance:g}")
    grid_file = run_dir / "grid.jsonl"
    rows = read_grid(grid_file)
    journal.compact(grid_file, [dataclasses.asdict(r) for r in rows.values()])
    todo = [c for c in candidates if c not in rows]
    log(f"{spec.name}: {len(candidates)} candidates on the grid, {len(rows)} already evaluated, {len(todo)} to run")
    started, count = time.perf_counter(), 0

    def key_of(arch: Architecture, gamma: float) -> str:
        """The same network at the same proxy size is trained once (rounding makes twins)."""
        return f"{architecture_hash(arch)}@{round(p.resolution * gamma)}"

    trained = {
        f"{r.arch_hash}@{round(p.resolution * r.gamma)}": r for r in rows.values() if r.arch_hash and not r.same_as
    }
    by_key: dict[str, list[Candidate]] = {}
    archs: dict[str, Architecture] = {}
    for c in todo:
        arch = scale_candidate(base, c, resolution=round(base.resolution * c[2]))
        key = key_of(arch, c[2])
        by_key.setdefault(key, []).append(c)
        archs[key] = arch

    def record(candidate: Candidate, accuracy: float, seconds: float, twin_of: GridRow | None) -> GridRow:
        nonlocal count
        row = grid_row(base, candidate, num_classes=spec.target.num_classes, evaluate=lambda a, c: (accuracy, seconds))
        if twin_of is not None:
            row = dataclasses.replace(row, same_as=f"{twin_of.alpha:g},{twin_of.beta:g},{twin_of.gamma:g}")
        journal.append(grid_file, dataclasses.asdict(row))
        rows[candidate] = row
        count += 1
        left = (time.perf_counter() - started) / count * (len(todo) - count)
        same = f" (same network as alpha,beta,gamma = {row.same_as}; not trained again)" if row.same_as else ""
        log(f"[{len(rows)}/{len(candidates)}] alpha {row.alpha:g} beta {row.beta:g} gamma {row.gamma:g}: "
            f"nominal {row.nominal:.3f}, FLOPs x{row.flops_ratio:.3f}, accuracy {100 * row.accuracy:.2f}%, "
            f"{row.seconds:.0f}s{same} | left ~{format_duration(left)}")  # fmt: skip
        return row

    for key, group in by_key.items():  # twins of candidates trained in an earlier (killed) run
        if key in trained:
            for c in group:
                record(c, trained[key].accuracy, 0.0, trained[key])
    jobs = [(key, archs[key], round(p.resolution * group[0][2])) for key, group in by_key.items() if key not in trained]
    for key, accuracy, seconds, reason in train_jobs(spec, jobs, workers=spec.search.workers):
        first, *twins = by_key[key]
        if reason:
            log(f"  candidate {first} failed: {reason}")
        original = record(first, accuracy, seconds, None)
        for c in twins:
            record(c, accuracy, 0.0, original)
    finished = [r for r in rows.values() if not math.isnan(r.accuracy)]
    if not finished:
        raise RunError("scale: every candidate failed; see grid.jsonl")
    best = best_row(finished)
    _write_table(run_dir, [rows[c] for c in candidates if c in rows], best)
    family_dir = run_dir / "family"
    if family_dir.exists():
        for old in family_dir.iterdir():
            old.unlink()
    members = compound_family(base, alpha=best.alpha, beta=best.beta, gamma=best.gamma, phi=g.phi)
    member_accuracy = _train_members(spec, run_dir, members, base.resolution, log=log)
    write_family(members, family_dir, num_classes=spec.target.num_classes, accuracy=member_accuracy,
                 source={"base": base.name, "alpha": best.alpha, "beta": best.beta, "gamma": best.gamma,
                         "nominal_flops_ratio": best.nominal, "resolution_rounding": "nearest multiple of 8",
                         "grid": "../grid.csv"})  # fmt: skip
    return best


Job = tuple[str, Architecture, int]  # (key, architecture, proxy resolution)
_POOL: dict[str, Any] = {}  # a pool worker's spec and dataset, loaded once per process


def _proxy_data(spec: ExperimentSpec) -> Dataset:
    p = spec.proxy
    return load_dataset(DataSpec(p.dataset, path=p.path, train_size=p.train_size, val_size=p.val_size), seed=spec.seed)


def _train_one(spec: ExperimentSpec, data: Dataset, arch: Architecture, resolution: int) -> tuple[float, float, str]:
    """(validation accuracy or NaN, seconds, failure reason or "") of one proxy training."""
    result = train(arch, data, dataclasses.replace(proxy_config(spec), resolution=resolution))
    if result.status != "ok":
        return math.nan, result.seconds, result.reason
    return result.val_accuracy, result.seconds, ""


def _pool_init(spec_dict: dict[str, Any], threads: int) -> None:
    torch.set_num_threads(threads)
    _POOL["spec"] = spec_from_dict(spec_dict, purpose="scale")
    _POOL["data"] = _proxy_data(_POOL["spec"])


def _pool_train(arch_dict: dict[str, Any], resolution: int) -> tuple[float, float, str]:
    return _train_one(_POOL["spec"], _POOL["data"], architecture_from_dict(arch_dict), resolution)


def train_jobs(spec: ExperimentSpec, jobs: list[Job], *, workers: int) -> Iterator[tuple[str, float, float, str]]:
    """Train each job on the proxy; yield ``(key, accuracy, seconds, reason)`` as each finishes.

    With ``search.workers`` > 1 the jobs run in that many spawned processes, each with its
    share of the cores (the executor's rule), in parallel.
    """
    if not jobs:
        return
    if workers == 1:
        data = _proxy_data(spec)
        for key, arch, resolution in jobs:
            yield (key, *_train_one(spec, data, arch, resolution))
        return
    context = multiprocessing.get_context("spawn")
    init = (spec_to_dict(spec), worker_threads(spec, workers))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_pool_init, initargs=init) as pool:
        futures = {pool.submit(_pool_train, architecture_to_dict(arch), size): key for key, arch, size in jobs}
        for future in as_completed(futures):
            yield (futures[future], *future.result())


def _train_members(
    spec: ExperimentSpec,
    run_dir: Path,
    members: list[FamilyMember],
    base_resolution: int,
    *,
    log: Callable[[str], None],
) -> dict[str, float]:
    """Proxy accuracy of members phi < ``scale.train_members``, resumable through ``members.jsonl``."""
    p, wanted = spec.proxy, members[: spec.scale.train_members]
    members_file = run_dir / "members.jsonl"
    done = {str(r["arch_hash"]): r for r in journal.read(members_file) if "arch_hash" in r}
    journal.compact(members_file, list(done.values()))
    keys = {m.name: architecture_hash(m.arch) for m in wanted}
    todo = {keys[m.name]: m for m in wanted if keys[m.name] not in done}
    if todo:
        log(f"training {len(todo)} family members on the proxy ({len(wanted) - len(todo)} already trained)")
    jobs = [(key, m.arch, max(1, round(p.resolution * m.resolution / base_resolution))) for key, m in todo.items()]
    sizes = {key: size for key, _, size in jobs}
    for key, accuracy, seconds, reason in train_jobs(spec, jobs, workers=spec.search.workers):
        m = todo[key]
        record = {"arch_hash": key, "name": m.name, "phi": m.phi, "proxy_resolution": sizes[key],
                  "accuracy": accuracy, "seconds": seconds, "status": "failed" if reason else "ok",
                  "reason": reason}  # fmt: skip
        journal.append(members_file, record)
        done[key] = record
        log(f"  {m.name}: {sizes[key]} px, accuracy {100 * accuracy:.2f}%, {seconds:.0f}s"
            + (f" (failed: {reason})" if reason else ""))  # fmt: skip
    found = {m.name: float(done[keys[m.name]]["accuracy"]) for m in wanted}
    return {name: value for name, value in found.items() if not math.isnan(value)}


def _write_table(run_dir: Path, rows: list[GridRow], best: GridRow) -> None:
    fields = [f.name for f in dataclasses.fields(GridRow)]
    with (run_dir / "grid.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow(dataclasses.asdict(row))
    lines = [
        f"chosen: alpha {best.alpha:g}, beta {best.beta:g}, gamma {best.gamma:g} "
        f"(accuracy {100 * best.accuracy:.2f}%, FLOPs x{best.flops_ratio:.3f} for nominal {best.nominal:.3f})",
        "",
        "| alpha | beta | gamma | nominal | FLOPs ratio | params | accuracy | seconds | same network as |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (-r.accuracy if not math.isnan(r.accuracy) else math.inf, r.flops)):
        lines.append(f"| {r.alpha:g} | {r.beta:g} | {r.gamma:g} | {r.nominal:.3f} | {r.flops_ratio:.3f} | "
                     f"{r.params / 1e6:.2f}M | {100 * r.accuracy:.2f}% | {r.seconds:.1f} | {r.same_as} |")  # fmt: skip
    (run_dir / "grid.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
