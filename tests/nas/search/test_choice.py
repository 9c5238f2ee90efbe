"""The run's final choice (``nas.search.choice.final_choice``): the best trial, by proxy or by
mean verified score, or the naive network when its verified mean is the best of all."""

from __future__ import annotations

import dataclasses
import json

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from nas.plan import RunPlan
from nas.search.choice import final_choice
from nas.search.verify import NAIVE, NAIVE_NUMBERS, VERIFY_FILE
from nas.spec import spec_from_dict
from search_spaces import architecture_hash, architecture_to_dict, count_flops

T = 100e6


@pytest.fixture
def plan() -> RunPlan:
    spec = {"name": "c", "target": {"resolution": 224, "num_classes": 10, "flops": T, "lower": 0.9},
            "verify": {"enabled": True, "top_k": 2, "seeds": 2}}  # fmt: skip
    return RunPlan.from_spec(spec_from_dict(spec))


def study_with_two_trials(plan: RunPlan) -> optuna.Study:
    """Trials 0 and 1: B0 with kernel 5 in stage 1 (trial 0) or stage 2 (trial 1), fitted to the budget."""
    study = optuna.create_study(directions=plan.objective.directions)
    for number, stage in enumerate((0, 1)):
        stages = list(plan.base.stages)
        stages[stage] = dataclasses.replace(stages[stage], kernel=5)
        arch = plan.fit(dataclasses.replace(plan.base, stages=tuple(stages))).arch
        flops = float(count_flops(arch, resolution=224, num_classes=10))
        score = 0.7 - number / 10
        attrs = {"architecture": architecture_to_dict(arch), "arch_hash": architecture_hash(arch), "flops": flops,
                 "cost": flops, "accuracy": score, "reward": score}  # fmt: skip
        trial = create_trial(state=TrialState.COMPLETE, values=[score], user_attrs=attrs, params={"k": 3},
                             distributions={"k": CategoricalDistribution([3, 5])})  # fmt: skip
        study.add_trial(trial)
    return study


def write_verified(run_dir, accuracies: dict[int, tuple[float, float]]) -> None:
    """``verify.jsonl`` with one ok run per (trial, seed): accuracy and reward alike."""
    records = []
    for trial, pair in accuracies.items():
        for seed, acc in enumerate(pair):
            records.append({"trial": trial, "seed": seed, "accuracy": acc, "reward": acc, "seconds": 1.0})
    lines = [json.dumps({**r, "status": "ok", "reason": ""}) for r in records]
    (run_dir / VERIFY_FILE).write_text("\n".join(lines) + "\n")


def test_without_verification_the_best_proxy_trial(plan, tmp_path):
    choice = final_choice(plan, study_with_two_trials(plan), tmp_path)
    assert choice.best is not None and choice.best.number == 0 and choice.network is choice.best
    assert choice.reason == "by proxy reward" and choice.verified is None and not choice.naive_wins


def test_the_best_verified_trial_beats_the_luckier_proxy_run(plan, tmp_path):
    write_verified(tmp_path, {0: (0.80, 0.82), 1: (0.84, 0.85), NAIVE: (0.79, 0.80)})
    choice = final_choice(plan, study_with_two_trials(plan), tmp_path)
    assert choice.best is not None and choice.best.number == 1 and choice.reason == "by mean verified reward"
    assert choice.network is choice.best and not choice.naive_wins and not choice.is_naive
    assert choice.verified is not None and choice.verified.mean == pytest.approx(0.845)
    assert choice.versus_naive is not None and choice.versus_naive.mean == pytest.approx(0.05)  # +5, +5 points
    assert choice.strongest == "width" and set(choice.naive) == {"width"} and choice.versus_naive.beats


def test_the_naive_network_is_the_answer_when_it_wins_verification(plan, tmp_path):
    write_verified(tmp_path, {0: (0.80, 0.82), 1: (0.78, 0.79), NAIVE: (0.85, 0.86)})
    choice = final_choice(plan, study_with_two_trials(plan), tmp_path)
    assert choice.naive_wins and choice.is_naive and choice.best is not None and choice.best.number == 0
    assert choice.network is not None and choice.network.number == NAIVE
    assert choice.network.user_attrs["architecture"] == architecture_to_dict(plan.naive().arch)
    assert choice.verified is not None and choice.verified.mean == pytest.approx(0.855)
    assert choice.versus_naive is not None and choice.versus_naive.mean == pytest.approx(-0.045)


def test_the_strongest_naive_rule_is_the_one_compared_and_returned(plan, tmp_path):
    # width and compound both verified: the compound network has the best mean of all, so it is the answer
    write_verified(
        tmp_path, {0: (0.80, 0.82), 1: (0.78, 0.79), NAIVE: (0.79, 0.80), NAIVE_NUMBERS["compound"]: (0.86, 0.87)}
    )
    choice = final_choice(plan, study_with_two_trials(plan), tmp_path)
    assert set(choice.naive) == {"width", "compound"} and choice.strongest == "compound" and choice.naive_wins
    assert choice.network is not None and choice.network.number == NAIVE_NUMBERS["compound"]
    assert choice.network.user_attrs["architecture"] == architecture_to_dict(plan.naive("compound").arch)
    # -6 and -5 points, but two seeds' t interval (t = 12.7) still spans 0: no loss is claimed either
    assert choice.versus_naive == choice.versus["compound"] and choice.versus_naive.mean == pytest.approx(-0.055)
    assert not choice.versus_naive.loses and not choice.versus_naive.beats
    assert choice.versus["width"].mean == pytest.approx(0.015)  # +1, +2 points: no interval excludes 0 at 2 seeds
    assert not choice.versus["width"].beats
