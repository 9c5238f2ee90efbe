"""Reports from a study alone: best.json, the Pareto files, trials.csv and report.md."""

from __future__ import annotations

import csv
import json

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from nas.plan import RunPlan
from nas.report import write_reports
from nas.search.choice import final_choice
from nas.search.results import pareto_trials
from nas.spec import spec_from_dict
from search_spaces import architecture_to_dict, load_architecture

ARCH = architecture_to_dict(load_architecture("efficientnet-b0"))
T = 400e6


def study_of(plan: RunPlan, rows: list[tuple[TrialState, float | None, float, float | None]]) -> optuna.Study:
    """A study of finished trials (state, accuracy, cost, reward) as a search would record them."""
    study = optuna.create_study(directions=plan.objective.directions)
    for state, accuracy, cost, reward in rows:
        attrs = {"accuracy": accuracy, "cost": cost, "flops": cost, "params": 5e6, "reward": reward,
                 "architecture": ARCH, "seconds": 1.0, "train_seconds": 0.5}  # fmt: skip
        values = None
        if state == TrialState.COMPLETE:
            values = [reward] if plan.objective.single else [accuracy, cost]
        study.add_trial(create_trial(state=state, values=values, params={"s1.kernel": 3},
                                     distributions={"s1.kernel": CategoricalDistribution([3, 5])},
                                     user_attrs=attrs))  # fmt: skip
    return study


def test_soft_reward_report(tmp_path):
    plan = RunPlan.from_spec(spec_from_dict({"name": "r", "target": {"flops": T}}))
    rows = [(TrialState.COMPLETE, 0.8, T, 0.80), (TrialState.PRUNED, 0.9, T, 0.95),  # pruned: never the best
            (TrialState.COMPLETE, 0.9, 2 * T, 0.86), (TrialState.COMPLETE, 0.85, T / 2, 0.86)]  # fmt: skip
    study = study_of(plan, rows)
    choice = write_reports(plan, study, tmp_path)
    assert choice.best is not None and choice.best.number == 3  # the reward tie goes to the cheaper network
    assert choice == final_choice(plan, study, tmp_path) and choice.reason == "by proxy reward"
    assert choice.network is choice.best and not choice.naive_wins and not choice.is_naive
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["metrics"]["trial"] == 3 and best["metrics"]["reward"] == 0.86
    with (tmp_path / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["state"] for r in table] == ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE"]
    assert table[1]["reason"] == "pruned" and table[0]["s1.kernel"] == "3"
    report = (tmp_path / "report.md").read_text()
    assert "- objective: `mnas` (soft)" in report and "budget 4e+08" in report
    top = [line.split("|")[1].strip() for line in report.splitlines() if line.startswith("| ") and "%" in line]
    assert top[:3] == ["3", "2", "0"]  # the top table: reward, then cost, then trial number
    assert (tmp_path / "report.png").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "pareto").iterdir()) == ["trial-0002.json", "trial-0003.json"]


def test_pareto_report_prefers_a_feasible_member(tmp_path):
    plan = RunPlan.from_spec(spec_from_dict({"name": "p", "objective": {"type": "pareto"}, "target": {"flops": T}}))
    rows = [(TrialState.COMPLETE, 0.9, 2 * T, None), (TrialState.COMPLETE, 0.8, T, None),
            (TrialState.COMPLETE, 0.7, 1.5 * T, None)]  # fmt: skip
    study = study_of(plan, rows)
    choice = write_reports(plan, study, tmp_path)
    assert choice.best is not None and choice.best.number == 1
    assert [t.number for t in pareto_trials(study, plan.objective)] == [1, 0]
    assert "accuracy up, cost down, cost <= budget" in (tmp_path / "report.md").read_text()
    # rewriting the reports replaces the Pareto files instead of adding to them
    write_reports(plan, study_of(plan, rows[1:]), tmp_path)
    assert sorted(p.name for p in (tmp_path / "pareto").iterdir()) == ["trial-0000.json"]
