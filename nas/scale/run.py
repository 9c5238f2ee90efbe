"""``nas scale SPEC.yaml``: the alpha, beta, gamma grid search on the proxy, then the family.

Each candidate scales the spec's base (``space.base``) at phi = 1 and trains on the proxy at
the proxy resolution times its resolution ratio to the base (``proxy_size``). Finished
candidates are appended to ``grid.jsonl`` (flushed and fsync'd), so a killed grid search
resumes with ``--resume`` without training them again; a torn last line is ignored.
``grid.csv`` and ``grid.md`` hold the table, and ``family/`` the family emitted with the
chosen coefficients. With ``scale.train_members: k``
the members phi = 0..k-1 are then trained on the proxy too (at the proxy resolution times
their resolution ratio to the base), journalled the same way in ``members.jsonl``, and their
accuracy goes into ``family.json`` and the accuracy-against-FLOPs panel of ``family.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from nas import journal
from nas.plan import RunPlan
from nas.progress import format_duration
from nas.rundir import RunError
from nas.scale.family_files import write_family
from nas.training.train_pool import train_many
from scaling.compound import scaled_resolution
from scaling.family import FamilyMember, compound_family
from scaling.grid import (
    Candidate,
    GridRow,
    GridSkip,
    best_row,
    grid_candidates,
    grid_row,
    land_candidate,
    scale_candidate,
)
from search_spaces import (
    Architecture,
    architecture_hash,
    load_architecture,
)
from search_spaces.files import OutputDir

__all__ = ["land", "plan_candidates", "proxy_size", "read_grid", "run_grid", "train_jobs"]


def proxy_size(plan: RunPlan, arch: Architecture, base: Architecture) -> int:
    """Where a scaled network trains on the proxy: the proxy resolution times ``arch``'s
    resolution ratio to ``base`` (``scaled_resolution`` to the nearest pixel)."""
    return scaled_resolution(plan.train.resolution, arch.resolution / base.resolution, divisor=1)


def plan_candidates(plan: RunPlan) -> list[Candidate]:
    """The grid points of the spec's ``scale`` section (``scaling.grid.grid_candidates``)."""
    g = plan.spec.scale
    return grid_candidates(step=g.step, alpha=(g.alpha[0], g.alpha[1]), beta=(g.beta[0], g.beta[1]),
                           gamma=(g.gamma[0], g.gamma[1]), target=g.target, tolerance=g.tolerance)  # fmt: skip


def land(plan: RunPlan, base: Architecture, candidate: Candidate) -> Architecture:
    """``candidate`` at the size where its measured FLOPs ratio lands (``GridSkip`` if none)."""
    g = plan.spec.scale
    return land_candidate(base, candidate, num_classes=plan.num_classes, target=g.target, tolerance=g.ratio_tolerance)


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


def run_grid(plan: RunPlan, run_dir: Path, *, log: Callable[[str], None] = print) -> GridRow:
    """Evaluate every candidate not yet in ``grid.jsonl``; write the table and the family."""
    g = plan.spec.scale
    candidates = plan_candidates(plan)
    if not candidates:
        raise RunError(f"scale: no grid point has |alpha*beta^2*gamma^2 - {g.target:g}| <= {g.tolerance:g}")
    grid = _Grid(plan, run_dir, candidates, log)
    by_key, archs = grid.land_todo()
    grid.to_train = sum(len(group) for group in by_key.values())
    for key, group in by_key.items():  # twins of candidates trained in an earlier (killed) run
        if key in grid.trained:
            for c in group:
                grid.record(c, grid.trained[key].accuracy, 0.0, grid.trained[key])
    jobs = [(key, archs[key], proxy_size(plan, archs[key], grid.base)) for key in by_key if key not in grid.trained]
    for key, accuracy, seconds, reason in train_jobs(plan, jobs, workers=plan.spec.search.workers):
        first, *twins = by_key[key]
        if reason:
            log(f"  candidate {first} failed: {reason}")
        original = grid.record(first, accuracy, seconds, None)
        for c in twins:
            grid.record(c, accuracy, 0.0, original)
    finished = [r for r in grid.rows.values() if not math.isnan(r.accuracy)]
    if not finished:
        raise RunError("scale: every candidate failed or was skipped; see grid.jsonl")
    best = best_row(finished)
    _write_grid_outputs(plan, run_dir, grid.base, [grid.rows[c] for c in candidates if c in grid.rows], best, log)
    return best


class _Grid:
    """The grid search's state: its journal (``grid.jsonl``), the rows so far, and the log line per candidate."""

    def __init__(self, plan: RunPlan, run_dir: Path, candidates: list[Candidate], log: Callable[[str], None]) -> None:
        self.plan, self.candidates, self.log = plan, candidates, log
        self.base = load_architecture(plan.spec.space.base_ref)  # at its own resolution: the grid scales that
        self.file = run_dir / "grid.jsonl"
        self.rows = read_grid(self.file)
        journal.compact(self.file, [dataclasses.asdict(r) for r in self.rows.values()])
        self.todo = [c for c in candidates if c not in self.rows]
        log(f"{plan.spec.name}: {len(candidates)} candidates on the grid, {len(self.rows)} already evaluated, "
            f"{len(self.todo)} to run")  # fmt: skip
        earlier = {c: r for c, r in self.rows.items() if r.arch_hash and not r.same_as and not r.skipped}
        self.trained = {self.key_of(land(plan, self.base, c)): r for c, r in earlier.items()}
        self.started, self.count, self.to_train = time.perf_counter(), 0, 0

    def key_of(self, arch: Architecture) -> str:
        """The same network at the same proxy size is trained once (rounding makes twins)."""
        return f"{architecture_hash(arch)}@{proxy_size(self.plan, arch, self.base)}"

    def land_todo(self) -> tuple[dict[str, list[Candidate]], dict[str, Architecture]]:
        """Land each candidate still to run (``land``): skipped ones are recorded with their reason; the
        rest are grouped by network, so twins train once."""
        by_key: dict[str, list[Candidate]] = {}
        archs: dict[str, Architecture] = {}
        for c in self.todo:
            try:
                arch = land(self.plan, self.base, c)
            except GridSkip as exc:
                row = grid_row(self.base, scale_candidate(self.base, c), c, num_classes=self.plan.num_classes,
                               accuracy=math.nan, seconds=0.0, skipped=str(exc))  # fmt: skip
                journal.append(self.file, dataclasses.asdict(row))
                self.rows[c] = row
                self.log(f"[{len(self.rows)}/{len(self.candidates)}] alpha {c[0]:g} beta {c[1]:g} gamma {c[2]:g}: "
                         f"skipped, not trained ({row.skipped})")  # fmt: skip
                continue
            key = self.key_of(arch)
            by_key.setdefault(key, []).append(c)
            archs[key] = arch
        return by_key, archs

    def record(self, candidate: Candidate, accuracy: float, seconds: float, twin_of: GridRow | None) -> GridRow:
        """Journal one evaluated candidate (or a twin of one) and log it with the time left."""
        row = grid_row(self.base, land(self.plan, self.base, candidate), candidate, num_classes=self.plan.num_classes,
                       accuracy=accuracy, seconds=seconds)  # fmt: skip
        if twin_of is not None:
            row = dataclasses.replace(row, same_as=f"{twin_of.alpha:g},{twin_of.beta:g},{twin_of.gamma:g}")
        journal.append(self.file, dataclasses.asdict(row))
        self.rows[candidate] = row
        self.count += 1
        left = (time.perf_counter() - self.started) / self.count * (self.to_train - self.count)
        same = f" (same network as alpha,beta,gamma = {row.same_as}; not trained again)" if row.same_as else ""
        self.log(f"[{len(self.rows)}/{len(self.candidates)}] alpha {row.alpha:g} beta {row.beta:g} "
                 f"gamma {row.gamma:g}: nominal {row.nominal:.3f}, {row.resolution} px, FLOPs x{row.flops_ratio:.3f}, "
                 f"accuracy {100 * row.accuracy:.2f}%, {row.seconds:.0f}s{same} "
                 f"| left ~{format_duration(left)}")  # fmt: skip
        return row


def _write_grid_outputs(plan: RunPlan, run_dir: Path, base: Architecture, rows: list[GridRow], best: GridRow,
                        log: Callable[[str], None]) -> None:  # fmt: skip
    """The candidate table, and the family grown from the chosen coefficients (its members trained if asked)."""
    gamma = best.resolution / base.resolution if best.resolution else best.gamma  # the size it was evaluated at
    out = OutputDir.existing(run_dir, what="run directory")
    _write_table(out, rows, best)
    family_dir = out.folder("family")
    for old in family_dir.root.iterdir():  # the family of an earlier choice goes
        old.unlink()
    members = compound_family(base, alpha=best.alpha, beta=best.beta, gamma=max(1.0, gamma), phi=plan.spec.scale.phi)
    member_accuracy = _train_members(plan, run_dir, members, base, log=log)
    write_family(members, family_dir, num_classes=plan.num_classes, accuracy=member_accuracy,
                 source={"base": base.name, "alpha": best.alpha, "beta": best.beta, "gamma": best.gamma,
                         "gamma_used": gamma, "nominal_flops_ratio": best.nominal, "flops_ratio": best.flops_ratio,
                         "resolution_rounding": "nearest multiple of 8",
                         "grid": "../grid.csv"})  # fmt: skip


Job = tuple[str, Architecture, int]  # (key, architecture, proxy resolution)


def train_jobs(plan: RunPlan, jobs: list[Job], *, workers: int) -> Iterator[tuple[str, float, float, str]]:
    """Train each job on the proxy; yield ``(key, validation accuracy or NaN, seconds, failure
    reason or "")`` as each finishes.

    With ``search.workers`` > 1 the jobs run in that many spawned processes, each with its
    share of the cores (the executor's rule), in parallel (``nas.training.train_pool``).
    """
    runs = [(key, arch, dataclasses.replace(plan.train, resolution=size)) for key, arch, size in jobs]
    results = train_many(runs, plan.data, data_seed=plan.spec.seed, workers=workers,
                         threads=plan.worker_threads(workers))  # fmt: skip
    for key, result in results:
        if result.status != "ok":
            yield key, math.nan, result.seconds, result.reason
        else:
            yield key, result.val_accuracy, result.seconds, ""


def _train_members(
    plan: RunPlan,
    run_dir: Path,
    members: list[FamilyMember],
    base: Architecture,
    *,
    log: Callable[[str], None],
) -> dict[str, float]:
    """Proxy accuracy of members phi < ``scale.train_members``, resumable through ``members.jsonl``."""
    wanted = members[: plan.spec.scale.train_members]
    members_file = run_dir / "members.jsonl"
    done = {str(r["arch_hash"]): r for r in journal.read(members_file) if "arch_hash" in r}
    journal.compact(members_file, list(done.values()))
    keys = {m.name: architecture_hash(m.arch) for m in wanted}
    todo = {keys[m.name]: m for m in wanted if keys[m.name] not in done}
    if todo:
        log(f"training {len(todo)} family members on the proxy ({len(wanted) - len(todo)} already trained)")
    jobs = [(key, m.arch, proxy_size(plan, m.arch, base)) for key, m in todo.items()]
    sizes = {key: size for key, _, size in jobs}
    for key, accuracy, seconds, reason in train_jobs(plan, jobs, workers=plan.spec.search.workers):
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


def _write_table(out: OutputDir, rows: list[GridRow], best: GridRow) -> None:
    fields = [f.name for f in dataclasses.fields(GridRow)]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow(dataclasses.asdict(row))
    out.write("grid.csv", table.getvalue(), replace=True)
    lines = [
        f"chosen: alpha {best.alpha:g}, beta {best.beta:g}, gamma {best.gamma:g} "
        f"(accuracy {100 * best.accuracy:.2f}%, FLOPs x{best.flops_ratio:.3f} for nominal {best.nominal:.3f})",
        "",
        "| alpha | beta | gamma | nominal | resolution | FLOPs ratio | params | accuracy | seconds | same network as "
        "| skipped |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (-r.accuracy if not math.isnan(r.accuracy) else math.inf, r.flops)):
        accuracy = "" if math.isnan(r.accuracy) else f"{100 * r.accuracy:.2f}%"
        lines.append(f"| {r.alpha:g} | {r.beta:g} | {r.gamma:g} | {r.nominal:.3f} | {r.resolution} | "
                     f"{r.flops_ratio:.3f} | {r.params / 1e6:.2f}M | {accuracy} | {r.seconds:.1f} | {r.same_as} | "
                     f"{r.skipped} |")  # fmt: skip
    out.write("grid.md", "\n".join(lines) + "\n", replace=True)
