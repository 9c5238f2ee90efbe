"""Parallel search: worker processes on a shared JournalStorage, a worker killed mid-trial,
and a second "machine" joining through a shared database."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from nas.cli import main
from nas.search.loop import OVER_COUNT, within_count
from nas.search.trial import TrialFailed

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def journal_trials(run_dir: Path) -> list[optuna.trial.FrozenTrial]:
    storage = JournalStorage(JournalFileBackend(str(run_dir / "study.journal")))
    return optuna.load_study(storage=storage, study_name="s").trials


def test_two_workers_share_a_journal_storage(write_spec, trials_csv, capfd, tmp_path):
    spec = write_spec(search={"trials": 4, "workers": 2}, proxy={"epochs": 2})
    out = tmp_path / "run"
    assert main(["search", str(spec), "--out", str(out)]) == 0, capfd.readouterr().err
    stdout = capfd.readouterr().out  # the workers' lines too
    assert "2 worker processes, 1 thread(s) each" in stdout
    assert (out / "study.journal").is_file() and not (out / "study.db").exists()
    table = trials_csv(out)
    assert len(table) == 4 and {r["state"] for r in table} == {"COMPLETE"}
    workers = {r["worker"] for r in table}
    assert len(workers) == 2 and os.getpid() not in {int(w.split(":")[1]) for w in workers}
    assert (out / "best.json").is_file() and "[4/4]" in stdout and "study.journal, trials.csv" in stdout
    # the workers sample with their own seeds: no duplicated start-up trials
    assert len({tuple(sorted((k, v) for k, v in r.items() if k.startswith("s"))) for r in table}) == 4
    # reports and resume find the journal again
    assert main(["report", str(out)]) == 0
    assert main(["search", "--resume", "--out", str(out)]) == 0 and "0 to run" in capfd.readouterr().out


def test_worker_killed_mid_trial_is_recorded_and_the_search_completes(write_spec, tmp_path):
    spec = write_spec(search={"trials": 5, "workers": 2},
                      proxy={"epochs": 3, "batch_size": 16, "resolution": 16})  # fmt: skip
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "nas", "search", str(spec), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = None
    deadline = time.time() + 120
    try:
        while victim is None and time.time() < deadline:
            time.sleep(0.2)
            if not (out / "study.journal").exists():
                continue
            try:
                running = [t for t in journal_trials(out) if t.state.name == "RUNNING" and "worker" in t.user_attrs]
            except Exception:
                continue
            if running:
                time.sleep(0.5)  # inside the trial
                victim = running[0].user_attrs["worker"]["pid"]
                os.kill(victim, signal.SIGKILL)
        assert victim is not None, "no trial was running in time"
        output, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert f"worker {victim} stopped (killed by SIGKILL); 1 running trial(s) marked failed" in output
    trials = journal_trials(out)
    states = [t.state.name for t in trials]
    assert len(trials) == 5 and "RUNNING" not in states and states.count("FAIL") == 1
    lost = next(t for t in trials if t.state.name == "FAIL")
    assert lost.user_attrs["fail_reason"] == (
        f"interrupted: worker process {victim} stopped (killed by SIGKILL) during the trial"
    )
    with (out / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 5 and sum(r["state"] == "COMPLETE" for r in table) == 4


def test_a_second_machine_joins_through_the_shared_database(write_spec, capsys, tmp_path):
    """``nas worker`` on a shared database URL (SQLite here stands in for PostgreSQL)."""
    db = tmp_path / "shared.db"
    spec = write_spec(search={"trials": 4, "storage": f"sqlite:///{db}"})
    out = tmp_path / "run"
    assert main(["search", str(spec), "--out", str(out), "--trials", "2"]) == 0  # the driver: 2 trials
    capsys.readouterr()
    assert main(["worker", str(spec), "--out", str(tmp_path / "elsewhere"), "--workers", "2"]) == 0
    assert "joining sqlite" in capsys.readouterr().out
    study = optuna.load_study(storage=f"sqlite:///{db}", study_name="s")
    # 4 trials trained; two workers may both start the last one, and the later is recorded untrained
    trained = [t for t in study.trials if t.user_attrs.get("fail_reason") != OVER_COUNT]
    assert len(trained) == 4 and all(t.state.name == "COMPLETE" for t in trained)
    assert all(t.state.name == "FAIL" and "train_seconds" not in t.user_attrs and t.number >= 4
               for t in study.trials if t not in trained)  # fmt: skip
    assert (tmp_path / "elsewhere").is_dir()
    # without a shared storage there is nothing to join
    plain = write_spec(name="p")
    assert main(["worker", str(plain)]) == 2
    assert "needs search.storage" in capsys.readouterr().err


def test_a_trial_started_after_the_count_is_reached_is_not_trained():
    """A shared worker's guard: with the count filled by earlier trials (another worker took
    the last slot between the check and the start), a trial fails untrained."""
    study = optuna.create_study()
    for value in (0.1, 0.2):
        study.add_trial(optuna.trial.create_trial(value=value))
    trained: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        trained.append(trial.number)
        return 0.3

    guarded = within_count(objective, total=3)
    study.optimize(guarded, n_trials=2, catch=(TrialFailed,))  # trial 2 fills the count; trial 3 is over it
    assert trained == [2]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]
    assert study.trials[3].user_attrs["fail_reason"] == OVER_COUNT
