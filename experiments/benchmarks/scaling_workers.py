"""Trial throughput of 1 against 2 workers, for the local and the Ray executor.

Runs the same small search four times, each as its own ``nas search`` process: executor
``local`` with ``workers: 1`` and ``2``, and executor ``ray`` (a local Ray instance) with
``num_cpus: 1`` and ``2``. Every trial is single-threaded (``proxy.threads: 1``) and
trains the same network (a space with one choice per dimension around ``small-mbconv``)
on ``digits`` at 16 px, with no pruning: every run does the same work. Throughput is trials per minute
between the first trial's start and the last trial's end (from the study); the process's
whole wall time is printed beside it, and for Ray the start-up overhead (wall time
outside that span: starting Ray and its workers, shutting down).

Ray binds to the machine's interface address, so the Ray runs happen inside a private
network namespace that holds only loopback (``unshare --net``; needs root).

Usage: ``python experiments/benchmarks/scaling_workers.py [--trials 12] [--epochs 6]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import yaml
from optuna.storages.journal import JournalFileBackend

ROOT = Path(__file__).resolve().parents[2]


def spec(name: str, trials: int, epochs: int, search: dict[str, object]) -> dict[str, object]:
    return {
        "name": name,
        "seed": 0,
        # one choice per dimension: every trial trains the same network, so every run does the same work
        "space": {
            "base": str(ROOT / "experiments/archs/small-mbconv.json"),
            "kernel": [3],
            "expand": [6],
            "se": [0.25],
            "layers": [0],
            "width": [1.0],
        },
        "target": {"resolution": 224, "num_classes": 1000, "flops": 100e6},
        "proxy": {"dataset": "digits", "resolution": 16, "epochs": epochs, "batch_size": 32, "threads": 1},
        "search": {"trials": trials, "sampler": "random", "pruner": "none", **search},  # the same work every run
    }


def run(name: str, data: dict[str, object], work: Path, *, ray: bool) -> tuple[float, float, int]:
    """(process wall seconds, first-start-to-last-end seconds, finished trials) of one search."""
    path, out = work / f"{name}.yaml", work / name
    path.write_text(yaml.safe_dump(data))
    cmd = [sys.executable, "-m", "nas", "search", str(path), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    if ray:
        cmd = ["unshare", "--net", "bash", "-c", "ip link set lo up && exec " + " ".join(cmd)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if ray:
        subprocess.run(["unshare", "--net", "bash", "-c", f"{Path(sys.executable).with_name('ray')} stop --force"],
                       capture_output=True, env=env)  # fmt: skip
    journal = out / "study.journal"
    storage = (optuna.storages.JournalStorage(JournalFileBackend(str(journal))) if journal.exists()
               else f"sqlite:///{out / 'study.db'}")  # fmt: skip
    study = optuna.load_study(storage=storage, study_name=name)
    times = [(t.datetime_start, t.datetime_complete) for t in study.trials]
    spans = [(start, end) for start, end in times if start is not None and end is not None]
    span = (max(end for _, end in spans) - min(start for start, _ in spans)).total_seconds()
    return wall, span, len(spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--no-ray", action="store_true", help="only the local executor")
    args = parser.parse_args()
    ray = not args.no_ray and shutil.which("unshare") is not None and os.geteuid() == 0
    configs: list[tuple[str, dict[str, object], bool]] = [
        ("local-1", {"workers": 1}, False),
        ("local-2", {"workers": 2}, False),
    ]
    if ray:
        configs += [("ray-1", {"executor": "ray", "ray": {"num_cpus": 1}}, True),
                    ("ray-2", {"executor": "ray", "ray": {"num_cpus": 2}}, True)]  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="effnas-scaling-"))
    results: dict[str, tuple[float, float, int]] = {}
    try:
        for name, search, uses_ray in configs:
            results[name] = run(name, spec(name, args.trials, args.epochs, search), work, ray=uses_ray)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{args.trials} single-threaded trials per run (small-mbconv on digits, 16 px, {args.epochs} epochs, "
          "the same network in every trial), "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'run':<8} {'wall s':>8} {'trial span s':>13} {'trials/min':>11} {'vs 1 worker':>12}")
    for name, (wall, span, n) in results.items():
        rate = 60 * n / span
        single = results[name.split("-")[0] + "-1"]
        speedup = rate / (60 * single[2] / single[1])
        print(f"{name:<8} {wall:>8.1f} {span:>13.1f} {rate:>11.2f} {speedup:>11.2f}x")
    for name in ("ray-1", "ray-2"):
        if name in results:
            wall, span, _ = results[name]
            print(
                f"{name}: Ray start-up and shutdown overhead {wall - span:.1f} s of {wall:.1f} s wall "
                f"(local-1 outside its trials: {results['local-1'][0] - results['local-1'][1]:.1f} s)"
            )


if __name__ == "__main__":
    main()
